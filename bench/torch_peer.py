#!/usr/bin/python3
"""The PyTorch peer of `spar bench model`: the same figure of the same shape with Debian's
python3-torch (1.13, CPU) on the same machine, printed as one JSON line
{"figure", "shape", "threads", "tok_s", "peak_mb", ...}.

Shapes (random weights, N(0, 0.02) as Hugging Face initialises, norms 1; the speed is the shape's):
  smollm2-135m   Llama: 30 layers, d 576, 9 heads / 3 KV, MLP 1536, V 49152, tied, rope_theta 1e5
  qwen2.5-0.5b   Qwen2: 24 layers, d 896, 14 heads / 2 KV, MLP 4864, V 151936, q/k/v biases, tied,
                 rope_theta 1e6
  --tiny         2 layers, d 64, 4 / 2 heads, MLP 128, V 512, B 2 x T 32, 2 samples x 8 (a smoke test)
Figures:
  train    forward of B 8 x T 256, the summed log-softmax of every next token, backward of
           -logp/B, gradient clipping at 1 and an AdamW step; tokens/s = B*T / step time, the
           median of --steps steps after one warm-up step. The head's logits are made one sequence
           at a time and their backward run at once (the [B*T, V] block would be 1.2 GB for Qwen)
  logprob  the same forward and log-probs without grad; the median of --steps
  sample   16 sequences x 128 new tokens from a 16-token prompt with a KV cache, temperature 1
           multinomial (no EOS); tokens/s = new tokens / time, prefill included
peak_mb is ru_maxrss (the process' peak resident set) in MiB. The model modules are the golden
test's reference (tests/ref/hf_ref.py), in float32; attention is matmul + causal mask (torch 1.13 has
no scaled_dot_product_attention).

usage: torch_peer.py --shape smollm2-135m|qwen2.5-0.5b|tiny --figure train|logprob|sample
                     [--threads N] [--steps S] [--tiny] [--prompt-len P]
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time


def _threads_arg(argv):
    for i, a in enumerate(argv):
        if a == "--threads" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--threads="):
            return a.split("=", 1)[1]
    return "1"


# OpenBLAS (Debian's torch calls the system BLAS) and OpenMP read their thread counts when they
# load: set them to --threads before torch does, so both pools are the size asked for
os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = _threads_arg(sys.argv[1:])

import torch  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.realpath(__file__)), "..", "tests", "ref"))
import hf_ref  # noqa: E402

SHAPES = {
    "smollm2-135m": {"architectures": ["LlamaForCausalLM"], "hidden_size": 576, "intermediate_size": 1536,
                     "num_hidden_layers": 30, "num_attention_heads": 9, "num_key_value_heads": 3, "head_dim": 64,
                     "vocab_size": 49152, "tie_word_embeddings": True, "rope_theta": 100000.0, "rms_norm_eps": 1e-5,
                     "max_position_embeddings": 8192},
    "qwen2.5-0.5b": {"architectures": ["Qwen2ForCausalLM"], "hidden_size": 896, "intermediate_size": 4864,
                     "num_hidden_layers": 24, "num_attention_heads": 14, "num_key_value_heads": 2, "head_dim": 64,
                     "vocab_size": 151936, "tie_word_embeddings": True, "rope_theta": 1000000.0, "rms_norm_eps": 1e-6,
                     "max_position_embeddings": 32768},
    "tiny": {"architectures": ["LlamaForCausalLM"], "hidden_size": 64, "intermediate_size": 128,
             "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
             "vocab_size": 512, "tie_word_embeddings": True, "rope_theta": 10000.0, "rms_norm_eps": 1e-5,
             "max_position_embeddings": 256},
}
FULL = {"B": 8, "T": 256, "samples": 16, "new": 128}
TINY = {"B": 2, "T": 32, "samples": 2, "new": 8}


def model_of(cfg, seed=0):
    torch.manual_seed(seed)
    m = hf_ref.build(cfg, torch.float32)
    with torch.no_grad():
        for name, p in m.named_parameters():
            if name.endswith("norm.weight"):
                p.fill_(1.0)
            elif name.endswith(".bias"):
                p.zero_()
            else:
                p.normal_(0.0, 0.02)
    return m


def head_logprob(model, h, ids, backward_scale=None):
    """sum over positions t < T-1 of log p(ids[t+1]) from the final hidden states h [B, T, d], one
    sequence at a time so only one [T, V] block of logits lives at once (V is 152k for Qwen). With
    backward_scale, each block's backward(-logp * scale) runs at once, into h.grad."""
    total = 0.0
    for b in range(h.shape[0]):
        lp = torch.log_softmax(model.lm_head(h[b, :-1]), dim=-1).gather(-1, ids[b, 1:, None]).sum()
        if backward_scale is not None:
            (-lp * backward_scale).backward()
        total += float(lp)
    return total


def timed(fn, steps):
    fn()  # warm-up: allocations, thread pool, first-touch of the weights
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def figure_train(model, cfg, sz, steps):
    ids = torch.randint(0, cfg["vocab_size"], (sz["B"], sz["T"]))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, weight_decay=0.0)

    def step():
        opt.zero_grad(set_to_none=True)
        h = model.hidden(ids)
        hd = h.detach().requires_grad_()
        head_logprob(model, hd, ids, 1.0 / sz["B"])  # loss -sum(logp)/B, the head's part
        h.backward(hd.grad)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    t = timed(step, steps)
    return sz["B"] * sz["T"] / t, {"step_s": round(t, 4)}


def figure_logprob(model, cfg, sz, steps):
    ids = torch.randint(0, cfg["vocab_size"], (sz["B"], sz["T"]))

    def run():
        with torch.no_grad():
            head_logprob(model, model.hidden(ids), ids)

    t = timed(run, steps)
    return sz["B"] * sz["T"] / t, {"step_s": round(t, 4)}


@torch.no_grad()
def generate(model, prompt, new):
    """Temperature-1 multinomial sampling of new tokens after prompt [S, P], with a KV cache."""
    caches = [[] for _ in range(hf_ref.n_layers(model.cfg))]
    z = model(prompt, caches)[:, -1]
    out = []
    for _ in range(new):
        nxt = torch.multinomial(torch.softmax(z.float(), dim=-1), 1)
        out.append(nxt)
        z = model(nxt, caches)[:, -1]
    return torch.cat(out, dim=1)


def figure_sample(model, cfg, sz, prompt_len):
    prompt = torch.randint(0, cfg["vocab_size"], (sz["samples"], prompt_len))
    generate(model, prompt[:, :4], 2)  # warm-up
    t0 = time.perf_counter()
    out = generate(model, prompt, sz["new"])
    t = time.perf_counter() - t0
    return out.numel() / t, {"seconds": round(t, 3)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shape", default="smollm2-135m", choices=sorted(SHAPES))
    ap.add_argument("--figure", required=True, choices=("train", "logprob", "sample"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=3, help="timed steps after the warm-up (train, logprob)")
    ap.add_argument("--prompt-len", type=int, default=16)
    ap.add_argument("--tiny", action="store_true", help="the tiny shape and sizes: a quick check that it runs")
    a = ap.parse_args()
    if a.threads < 1 or a.steps < 1 or a.prompt_len < 1:
        ap.error("--threads, --steps and --prompt-len must be >= 1")
    torch.set_num_threads(a.threads)
    shape = "tiny" if a.tiny else a.shape
    cfg, sz = SHAPES[shape], TINY if a.tiny or shape == "tiny" else FULL
    torch.manual_seed(1)
    model = model_of(cfg)
    if a.figure == "train":
        tps, extra = figure_train(model, cfg, sz, a.steps)
    elif a.figure == "logprob":
        model.eval()
        tps, extra = figure_logprob(model, cfg, sz, a.steps)
    else:
        model.eval()
        tps, extra = figure_sample(model, cfg, sz, min(a.prompt_len, cfg["max_position_embeddings"] - sz["new"]))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(json.dumps({"figure": a.figure, "shape": shape, "threads": a.threads, "tok_s": round(tps, 1),
                      "peak_mb": int(peak), "torch": torch.__version__, **extra}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
