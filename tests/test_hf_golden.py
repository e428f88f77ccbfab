#!/usr/bin/python3
"""spar's Hugging Face models against an independent PyTorch reference (tests/ref/).

Tiny random models of each family spar reads (Llama untied/tied, with attention and MLP biases,
with HF's defaults for absent keys, with llama3 rope_scaling under both "rope_type" and "type";
Mistral; Qwen2 with q/k/v biases, KV heads 1; Qwen3 with q/k norms and head_dim 24 and 32 !=
hidden/heads; GPT-2 with and without the 'transformer.' prefix and old mask buffers; odd shapes)
are written as Hugging Face folders (F32, BF16, F16; one sharded over two files) with a tiny
byte-level BPE tokenizer. For each:
  - `spar logits` must give the reference's logits. Relative error per sequence:
    max|spar - ref| / max|ref| over the sequence's [T, V] logits, <= 1e-4 (the reference computes
    in float64 from the values the file holds; sequences of 1 id, 6 with the quiet token, the
    whole context);
  - `spar score` (prompt_ids/response_ids) must give sum log p(response | prompt) with the prompt
    masked, |spar - ref| / max(|ref|, 1) <= 1e-4, and the response's token count; text lines must
    be tokenized as the tokenizer says (response + EOS), non-ASCII text included;
  - `spar sample` at temperature 1 must report each completion's log-prob under the reference (its
    KV-cache path against a full forward), and at temperature 0 the reference's greedy completion;
  - `spar convert` to f32 and bf16 must write a folder the reference reader loads unchanged (same
    tensor names, shapes, all of the asked dtype, the tied head absent, a config of the same
    meaning (hf_ref.semantics), the same tokenizer.json and EOS ids), values exact (bf16: the
    round-to-nearest-even of the source, ties and subnormals included), and spar must give the
    reference's logits of what it wrote;
  - more ids than the context are refused.
Broken folders (unknown architecture, rope_scaling other than llama3, a sliding window that binds,
missing or misshapen tensors, F64, truncated or lying files, a tokenizer larger than the
vocabulary, unsupported activations) must be refused, exit non-zero, with a message that names the
problem (the key or the tensor). Any sanitizer report fails. Also: the reference's own KV cache
against its full forward, and bench/torch_peer.py --tiny. Prints each family's worst relative
error. Exit 0 all passed, 1 a failure, 77 torch missing.

usage: test_hf_golden.py SPAR_BIN [--keep DIR]
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

try:
    import numpy as np
    import torch
except ImportError as e:
    print(f"skipped: {e} (Debian's python3-torch and python3-numpy are needed)")
    sys.exit(77)

HERE = os.path.dirname(os.path.realpath(__file__))
sys.path.insert(0, os.path.join(HERE, "ref"))
import hf_folder  # noqa: E402
import hf_ref  # noqa: E402
import safetensors_io  # noqa: E402
import tiny_tokenizer  # noqa: E402

TOL = 1e-4
TIMEOUT = 300  # per spar run: tiny models, but ASan builds are slow

LLAMA, MISTRAL, QWEN2, QWEN3, GPT2 = ("LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM",
                                      "Qwen3ForCausalLM", "GPT2LMHeadModel")
LLAMA3_ROPE = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
               "original_max_position_embeddings": 64}

LLAMA3_ROPE_B = {"type": "llama3", "factor": 4.0, "low_freq_factor": 1.5, "high_freq_factor": 6.0,
                 "original_max_position_embeddings": 96}


def plain_gpt2(name):
    """GPT-2's names as the original checkpoints have them (no 'transformer.' prefix)."""
    return name[len("transformer."):] if name.startswith("transformer.") else name


def gpt2_buffers(cfg):
    """The causal-mask buffers old GPT-2 checkpoints carry (Hugging Face skips them)."""
    n = cfg["n_positions"]
    out = {}
    for i in range(cfg["n_layer"]):
        out[f"h.{i}.attn.bias"] = torch.tril(torch.ones(n, n, dtype=torch.float64)).view(1, 1, n, n)
        out[f"h.{i}.attn.masked_bias"] = torch.tensor(-1e4, dtype=torch.float64)
    return out


def inv_freq_buffers(cfg):
    return {f"model.layers.{i}.self_attn.rotary_emb.inv_freq": hf_ref.inv_freq(cfg)
            for i in range(cfg["num_hidden_layers"])}


# Values at the edges of the dtypes, put in the embedding so `spar convert` must round them
# exactly (bf16: to nearest, ties to even) and the reader must decode them (F16 subnormals).
EDGE = {"F32": [1 + 2 ** -8, 1 + 3 * 2 ** -8, -(1 + 2 ** -8), 1 + 2 ** -8 + 2 ** -20, 2 ** -130, -(2 ** -133), 0.0, -0.0],
        "F16": [2 ** -24, 3 * 2 ** -24, -(2 ** -20), 65504.0, 1 + 2 ** -10, 0.0, -0.0, 6.1e-5]}

# name, family (for the report), architecture, config overrides, dtype, shards, extras:
#   text/sample: also check text scoring / sampling; edge: put EDGE values in; rename: names as
#   written; buffers: extra tensors to write; drop: config keys left out; gen: generation_config;
#   pairs: tokenizer merges as pairs
CASES = [
    ("llama_untied_f32", "llama", LLAMA, dict(num_hidden_layers=3), "F32", 1,
     {"text": True, "sample": True, "edge": True}),
    ("llama3_rope_tied_bf16_sharded", "llama3", LLAMA,
     dict(tie_word_embeddings=True, num_attention_heads=8, num_key_value_heads=2, head_dim=8,
          rope_scaling=LLAMA3_ROPE, max_position_embeddings=128), "BF16", 2, {"sample": True}),
    ("llama3_rope_type_key_f32", "llama3", LLAMA,
     dict(rope_theta=500000.0, max_position_embeddings=160, rope_scaling=LLAMA3_ROPE_B), "F32", 1, {}),
    ("llama_attention_mlp_bias_f32", "llama", LLAMA, dict(attention_bias=True, mlp_bias=True), "F32", 1, {}),
    ("llama_hf_defaults_f32", "llama", LLAMA, dict(num_attention_heads=4), "F32", 1,
     {"drop": ("tie_word_embeddings", "num_key_value_heads", "head_dim", "rope_theta", "rms_norm_eps"),
      "buffers": inv_freq_buffers, "gen": {"eos_token_id": [tiny_tokenizer.eos_id(), 7], "bos_token_id": 0},
      "pairs": True, "text": True}),
    ("llama_head_dim8_rope_default_f32", "llama", LLAMA, dict(head_dim=8, rope_scaling={"rope_type": "default"}),
     "F32", 1, {}),
    ("llama_odd_shapes_f32", "llama", LLAMA,
     dict(hidden_size=72, intermediate_size=97, num_attention_heads=6, num_key_value_heads=3, head_dim=12,
          vocab_size=275, max_position_embeddings=130), "F32", 1, {}),
    ("mistral_untied_f16", "mistral", MISTRAL, dict(num_hidden_layers=3), "F16", 1, {"sample": True, "edge": True}),
    ("mistral_window_at_max_head_dim8_f32", "mistral", MISTRAL, dict(sliding_window=64, head_dim=8), "F32", 1, {}),
    ("qwen2_biases_tied_f32", "qwen2", QWEN2,
     dict(tie_word_embeddings=True, num_key_value_heads=1, rope_theta=1000000.0), "F32", 1, {"sample": True}),
    ("qwen2_biases_untied_bf16", "qwen2", QWEN2, dict(num_hidden_layers=3), "BF16", 1, {}),
    ("qwen3_qknorm_hd24_tied_bf16", "qwen3", QWEN3,
     dict(tie_word_embeddings=True, head_dim=24, rope_theta=1000000.0), "BF16", 1, {"sample": True}),
    ("qwen3_qknorm_hd32_untied_f32", "qwen3", QWEN3, dict(head_dim=32, num_hidden_layers=3), "F32", 1, {}),
    ("gpt2_f32", "gpt2", GPT2, dict(n_positions=64, n_ctx=64), "F32", 1, {"text": True, "sample": True}),
    ("gpt2_plain_names_buffers_bf16", "gpt2", GPT2, dict(n_layer=3, n_positions=24, n_ctx=24), "BF16", 1,
     {"rename": plain_gpt2, "buffers": gpt2_buffers}),
    ("gpt2_odd_shapes_f16", "gpt2", GPT2, dict(n_embd=60, n_head=5, vocab_size=269, n_positions=40, n_ctx=40), "F16", 1, {}),
]

TEXTS = [("the cat in the hat", " sat there"), ("Hi there, 42 times!", " in the inner ear."),
         ("it's  the\n\nend 123", " naïve café — 3½ ünïcödé\t"), ("x", "")]


class Report:
    def __init__(self):
        self.failures, self.worst, self.checks = [], {}, 0

    def check(self, ok, what):
        self.checks += 1
        if not ok:
            self.failures.append(what)
            print(f"FAIL {what}", flush=True)
        return ok

    def err(self, family, what, rel):
        self.worst[family] = max(self.worst.get(family, 0.0), rel)
        return self.check(rel <= TOL, f"{what}: relative error {rel:.3g} > {TOL}")


R = Report()


def spar(*args, stdin=None):
    r = subprocess.run([SPAR, *args], input=stdin, capture_output=True, text=True, timeout=TIMEOUT)
    # under ASan/UBSan a report is a failure even where a refusal (non-zero exit) was expected
    R.check("Sanitizer" not in r.stderr and "runtime error:" not in r.stderr,
            f"spar {' '.join(args)}: sanitizer report: {r.stderr[:2000]}")
    return r.returncode, r.stdout, r.stderr


def sequences(ctx, vocab, seed):
    """Id sequences for the logits check: one token, a few (with the quiet token), the whole context."""
    g = np.random.default_rng(seed)
    q = hf_ref.QUIET
    return [[int(g.integers(vocab))], [q] + g.integers(0, vocab, 3).tolist() + [q, q],
            g.integers(0, vocab, ctx).tolist()]


def check_logits(name, family, folder, model, ctx, seed):
    seqs = sequences(ctx, model.cfg["vocab_size"], seed)
    rc, out, errs = spar("logits", folder, stdin="".join(json.dumps({"ids": s}) + "\n" for s in seqs))
    if not R.check(rc == 0, f"{name}: spar logits exit {rc}: {errs.strip()}"):
        return
    lines = out.splitlines()
    if not R.check(len(lines) == len(seqs), f"{name}: {len(lines)} logits lines for {len(seqs)} inputs"):
        return
    for s, line in zip(seqs, lines):
        got = torch.tensor(json.loads(line)["logits"], dtype=torch.float64)
        ref = hf_ref.logits(model, s)
        if R.check(got.shape == ref.shape, f"{name}: logits shape {tuple(got.shape)}, want {tuple(ref.shape)}"):
            rel = ((got - ref).abs().max() / ref.abs().max()).item()
            R.err(family, f"{name}: logits of {len(s)} ids", rel)


def check_score(name, family, folder, model, ctx, seed, text):
    g = np.random.default_rng(seed + 1)
    ids = lambda n: g.integers(0, model.cfg["vocab_size"], n).tolist()  # noqa: E731
    pairs = [(ids(1), ids(1)), (ids(4), ids(10)), (ids(3), ids(ctx - 3)), (ids(5), [])]
    lines = [{"prompt_ids": p, "response_ids": r} for p, r in pairs]
    want = [(hf_ref.response_logprob(model, p, r), len(r)) for p, r in pairs]
    if text:
        eos = tiny_tokenizer.eos_id()
        for p, r in TEXTS:
            pi, ri = tiny_tokenizer.encode(p), tiny_tokenizer.encode(r) + [eos]
            lines.append({"prompt": p, "response": r})
            want.append((hf_ref.response_logprob(model, pi, ri), len(ri)))
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        f.write("".join(json.dumps(x) + "\n" for x in lines))
    try:
        rc, out, errs = spar("score", folder, f.name)
    finally:
        os.unlink(f.name)
    if not R.check(rc == 0, f"{name}: spar score exit {rc}: {errs.strip()}"):
        return
    got = [json.loads(x) for x in out.splitlines()]
    if not R.check(len(got) == len(want), f"{name}: {len(got)} score lines for {len(want)}"):
        return
    for i, (gl, (lp, n)) in enumerate(zip(got, want)):
        kind = "text" if "prompt" in lines[i] else "ids"
        R.check(gl["line"] == i + 1 and gl["tokens"] == n,
                f"{name}: score line {i + 1} ({kind}) says line {gl['line']} tokens {gl['tokens']}, want {i + 1} {n}")
        R.err(family, f"{name}: score line {i + 1} ({kind}) logprob {gl['logprob']} vs {lp:.9g}",
              abs(gl["logprob"] - lp) / max(abs(lp), 1.0))


def check_sample(name, family, folder, model, ctx):
    prompt = "the hat in"
    pids = tiny_tokenizer.encode(prompt)
    max_new = min(20, ctx - len(pids))
    rc, out, errs = spar("sample", folder, "--prompt", prompt, "-n", "3", "--max-new", str(max_new), "--seed", "7")
    if not R.check(rc == 0, f"{name}: spar sample exit {rc}: {errs.strip()}"):
        return
    for line in out.splitlines():
        s = json.loads(line)
        ids = s["ids"]
        R.check(0 < len(ids) <= max_new, f"{name}: sample of {len(ids)} ids (max-new {max_new})")
        lp = hf_ref.response_logprob(model, pids, ids)
        R.err(family, f"{name}: sample {s['sample']} logprob {s['logprob']} vs {lp:.9g}",
              abs(s["logprob"] - lp) / max(abs(lp), 1.0))
    rc, out, errs = spar("sample", folder, "--prompt", prompt, "--max-new", str(max_new), "--temperature", "0")
    if not R.check(rc == 0, f"{name}: spar sample --temperature 0 exit {rc}: {errs.strip()}"):
        return
    got = json.loads(out.splitlines()[0])["ids"]
    seq, greedy = list(pids), []
    for _ in range(max_new):
        nxt = int(hf_ref.logits(model, seq)[-1].argmax())
        greedy.append(nxt)
        seq.append(nxt)
        if nxt == tiny_tokenizer.eos_id():
            break
    R.check(got == greedy, f"{name}: greedy completion {got}, reference {greedy}")


def norm_names(cfg, names):
    """The names that make the model (ignored buffers out), GPT-2's optional 'transformer.' prefix
    taken off, to compare layouts."""
    names = {n for n in names if not hf_ref.ignored(n)}
    return {plain_gpt2(n) for n in names} if hf_ref.architecture(cfg) == GPT2 else names


def load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def eos_set(folder):
    """The EOS ids a folder declares: generation_config.json's, else config.json's."""
    g = load_json(os.path.join(folder, "generation_config.json"))
    e = g.get("eos_token_id", load_json(os.path.join(folder, "config.json")).get("eos_token_id"))
    return set(e if isinstance(e, list) else [e])


def check_convert(name, family, folder, cfg, model, ctx, seed, tmp):
    src = {k: v for k, v in safetensors_io.read_folder(folder).items() if not hf_ref.ignored(k)}
    for dt in ("f32", "bf16"):
        out = os.path.join(tmp, f"{name}-convert-{dt}")
        rc, so, errs = spar("convert", folder, out, "--dtype", dt)
        if not R.check(rc == 0, f"{name}: spar convert --dtype {dt} exit {rc}: {errs.strip()}"):
            continue
        missing = [f for f in ("config.json", "generation_config.json", "tokenizer.json")
                   if not os.path.exists(os.path.join(out, f))]
        if not R.check(not missing, f"{name}: convert {dt} wrote no {missing}"):
            continue
        R.check(load_json(os.path.join(out, "tokenizer.json")) == load_json(os.path.join(folder, "tokenizer.json")),
                f"{name}: convert {dt} changed tokenizer.json")
        R.check(eos_set(out) == eos_set(folder), f"{name}: convert {dt} EOS ids {eos_set(out)}, source {eos_set(folder)}")
        try:
            ocfg, layout, omodel = hf_folder.read(out)
        except Exception as e:  # the reference reader refuses what spar wrote
            R.check(False, f"{name}: convert {dt}: the reference reader refuses it: {e}")
            continue
        a, b = hf_ref.semantics(ocfg), hf_ref.semantics(cfg)
        R.check(a == b, f"{name}: convert {dt} config differs: " +
                ", ".join(f"{k} {a.get(k)!r} (source {b.get(k)!r})" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)))
        R.check(norm_names(cfg, layout) == norm_names(cfg, src),
                f"{name}: convert {dt} names differ: extra {sorted(norm_names(cfg, layout) - norm_names(cfg, src))}, "
                f"missing {sorted(norm_names(cfg, src) - norm_names(cfg, layout))}")
        R.check(("lm_head.weight" in layout) == (not hf_ref.tied(cfg)), f"{name}: convert {dt} lm_head.weight presence")
        want_dt = "F32" if dt == "f32" else "BF16"
        bad = sorted(k for k, (d, _) in layout.items() if d != want_dt)
        R.check(not bad, f"{name}: convert {dt} tensors not {want_dt}: {bad[:4]}")
        osd = hf_ref.state(omodel)
        for k, (_, _, a) in src.items():
            key = "transformer." + plain_gpt2(k) if hf_ref.architecture(cfg) == GPT2 and k != "lm_head.weight" else k
            w = a.astype(np.float32)
            if dt == "bf16":
                w = (safetensors_io.bf16_bits(w).astype(np.uint32) << 16).view(np.float32)
            got = osd[key].numpy()
            if not R.check(np.array_equal(got, w.astype(np.float64)),
                           f"{name}: convert {dt} {k} values differ at {np.argwhere(got != w)[:3].tolist()}: "
                           f"{got[got != w][:3].tolist()} want {w[got != w][:3].tolist()}"):
                break
        check_logits(f"{name}/convert-{dt}", family, out, omodel, ctx, seed + 5)


def run_case(case, tmp):
    name, family, arch, over, dtype, shards, extra = case
    cfg = hf_folder.config(arch, **over)
    for k in extra.get("drop", ()):
        cfg.pop(k)
    folder = os.path.join(tmp, name)
    seed = sum(map(ord, name))
    model = hf_folder.random_model(cfg, seed)
    tensors = hf_ref.state(model)
    if extra.get("edge"):
        emb = "model.embed_tokens.weight" if arch != GPT2 else "transformer.wte.weight"
        vals = torch.tensor(EDGE[dtype], dtype=torch.float64)
        tensors[emb][5, :len(vals)] = vals
    if extra.get("rename"):
        tensors = {extra["rename"](k): v for k, v in tensors.items()}
    if extra.get("buffers"):
        tensors.update(extra["buffers"](cfg))
    stored = hf_folder.write(folder, cfg, tensors, dtype, shards, merges_as_pairs=extra.get("pairs", False),
                             gen=extra.get("gen"))
    hf_ref.load_state(model, {k: torch.from_numpy(v) for k, v in stored.items()})
    ctx = hf_ref.n_positions(cfg)
    check_logits(name, family, folder, model, ctx, seed)
    check_score(name, family, folder, model, ctx, seed, extra.get("text", False))
    if extra.get("sample"):
        check_sample(name, family, folder, model, ctx)
    check_convert(name, family, folder, cfg, model, ctx, seed, tmp)
    check_too_long(name, folder, ctx)


def check_too_long(name, folder, ctx):
    """More ids than the context: refused with the context named, not read past the positions."""
    rc, _, errs = spar("logits", folder, stdin=json.dumps({"ids": [1] * (ctx + 1)}) + "\n")
    R.check(rc != 0 and str(ctx) in errs, f"{name}: logits of {ctx + 1} ids: exit {rc}, {errs.strip()!r}")
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        f.write(json.dumps({"prompt_ids": [1, 2], "response_ids": [3] * (ctx - 1)}) + "\n")
    try:
        rc, _, errs = spar("score", folder, f.name)
    finally:
        os.unlink(f.name)
    R.check(rc != 0 and ":1:" in errs and str(ctx) in errs,
            f"{name}: score of {ctx + 1} tokens: exit {rc}, {errs.strip()!r}")


# ---- refusals ---------------------------------------------------------------------------------------

def broken(tmp, name, arch=LLAMA, over=None, drop=(), shapes=None, dtype_of=None, truncate=0):
    """A folder of arch with one defect: config keys over, tensors dropped, tensors written with
    another shape, tensors of another dtype, the file cut short by truncate bytes."""
    model = hf_folder.random_model(hf_folder.config(arch), 3)
    tensors = {k: v.numpy() for k, v in hf_ref.state(model).items() if k not in drop}
    for k, shape in (shapes or {}).items():
        tensors[k] = np.random.default_rng(0).normal(size=shape)
    folder = os.path.join(tmp, "broken-" + name)
    hf_folder.write(folder, hf_folder.config(arch, **(over or {})), {}, "F32")
    path = os.path.join(folder, "model.safetensors")
    safetensors_io.write(path, tensors, "F32", dtypes=dtype_of)
    if truncate:
        with open(path, "r+b") as f:
            f.truncate(os.path.getsize(path) - truncate)
    return folder


def expect_refusal(name, folder, *needles):
    rc, out, errs = spar("logits", folder, stdin=json.dumps({"ids": [1, 2, 3]}) + "\n")
    msg = errs.strip()
    R.check(rc != 0, f"refusal {name}: spar logits exit 0 (stdout {out[:80]!r}), want a refusal")
    R.check(any(n in msg for n in needles), f"refusal {name}: message {msg!r} names none of {needles}")
    print(f"refused {name}: exit {rc}: {msg}", flush=True)


def run_refusals(tmp):
    expect_refusal("unknown architecture", broken(tmp, "arch", over={"architectures": ["FalconForCausalLM"]}),
                   "FalconForCausalLM")
    for kind in ("linear", "yarn", "dynamic"):
        expect_refusal(f"rope_scaling {kind}",
                       broken(tmp, "rope-" + kind, over={"rope_scaling": {"rope_type": kind, "factor": 4.0,
                                                                         "original_max_position_embeddings": 32}}),
                       "rope_scaling")
    expect_refusal("Mistral sliding_window below max positions",
                   broken(tmp, "window", MISTRAL, over={"sliding_window": 16}), "sliding_window")
    expect_refusal("Qwen2 use_sliding_window with a window below max positions",
                   broken(tmp, "qwen2-window", QWEN2, over={"use_sliding_window": True, "sliding_window": 16,
                                                          "max_window_layers": 0}), "sliding_window")
    t = "model.layers.1.mlp.up_proj.weight"
    expect_refusal("missing tensor", broken(tmp, "missing", drop=(t,)), t)
    expect_refusal("missing untied head", broken(tmp, "nohead", drop=("lm_head.weight",)), "lm_head.weight")
    t = "model.layers.1.self_attn.q_norm.weight"
    expect_refusal("missing Qwen3 q_norm", broken(tmp, "noqnorm", QWEN3, drop=(t,)), t)
    t = "model.layers.0.self_attn.k_proj.bias"
    expect_refusal("missing Qwen2 bias", broken(tmp, "nobias", QWEN2, drop=(t,)), t)
    t = "transformer.h.1.mlp.c_fc.bias"
    expect_refusal("missing GPT-2 tensor", broken(tmp, "gpt2-missing", GPT2, drop=(t,)), t, t[len("transformer."):])
    t = "model.layers.0.self_attn.k_proj.weight"
    expect_refusal("wrong shape", broken(tmp, "shape", shapes={t: (16, 64)}), t)
    t = "transformer.h.0.attn.c_attn.weight"
    expect_refusal("GPT-2 Conv1D stored (out, in)", broken(tmp, "gpt2-shape", GPT2, shapes={t: (192, 64)}),
                   t, t[len("transformer."):])
    t = "model.embed_tokens.weight"
    expect_refusal("unsupported dtype F64", broken(tmp, "dtype", dtype_of={t: "F64"}), "F64", t)
    expect_refusal("truncated safetensors", broken(tmp, "truncated", truncate=100), "model.safetensors")
    expect_refusal("tokenizer larger than vocab_size", _small_vocab_folder(tmp), "vocab")
    expect_refusal("hidden_act gelu", broken(tmp, "act", over={"hidden_act": "gelu"}), "hidden_act")
    expect_refusal("GPT-2 scale_attn_by_inverse_layer_idx",
                   broken(tmp, "gpt2-inv", GPT2, over={"scale_attn_by_inverse_layer_idx": True}),
                   "scale_attn_by_inverse_layer_idx")
    expect_refusal("GPT-2 n_inner", broken(tmp, "gpt2-inner", GPT2, over={"n_inner": 100}), "n_inner")
    expect_refusal("GPT-2 activation relu", broken(tmp, "gpt2-act", GPT2, over={"activation_function": "relu"}),
                   "activation_function")


def _sharded(tmp, name):
    folder = os.path.join(tmp, "broken-" + name)
    hf_folder.write_model(folder, hf_folder.config(LLAMA), 6, "F32", shards=2)
    return folder, os.path.join(folder, "model.safetensors.index.json")


def run_file_refusals(tmp):
    """Files that lie: a shard missing, an index that puts a tensor in the wrong shard, a header
    length past the end, a tensor whose bytes do not match its shape."""
    folder, index = _sharded(tmp, "shard-missing")
    shard = "model-00002-of-00002.safetensors"
    os.unlink(os.path.join(folder, shard))
    expect_refusal("a shard missing", folder, shard)
    folder, index = _sharded(tmp, "index-lies")
    ix = load_json(index)
    t = "model.embed_tokens.weight"
    ix["weight_map"][t] = shard
    with open(index, "w") as f:
        json.dump(ix, f)
    expect_refusal("the index puts a tensor in the wrong shard", folder, t)
    folder = broken(tmp, "header-length")
    path = os.path.join(folder, "model.safetensors")
    with open(path, "r+b") as f:
        f.write(struct.pack("<Q", 1 << 40))
    expect_refusal("header length past the end", folder, "header")
    folder = broken(tmp, "byte-size")
    with open(path := os.path.join(folder, "model.safetensors"), "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    header[t]["data_offsets"][1] -= 4
    js = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(js)) + js + data[8 + n:])
    expect_refusal("a tensor's bytes do not match its shape", folder, t)


def _small_vocab_folder(tmp):
    """vocab_size below the tokenizer's id count."""
    v = tiny_tokenizer.n_ids() - 8
    cfg = hf_folder.config(LLAMA, vocab_size=v, bos_token_id=0, eos_token_id=1)
    folder = os.path.join(tmp, "broken-vocab")
    hf_folder.write_model(folder, cfg, 4)
    return folder


def check_reference_cache():
    """The reference's KV-cache path (the bench peer's sampling) gives its full forward's logits."""
    for arch, over in ((QWEN3, dict(head_dim=24)), (QWEN2, {}), (GPT2, {})):
        cfg = hf_folder.config(arch, **over)
        m = hf_folder.random_model(cfg, 5)
        ids = torch.tensor([[3, 9, 27, 81, 243, 5, 15, 45], [1, 2, 3, 4, 5, 6, 7, 8]])
        with torch.no_grad():
            full = m(ids)
            caches = [[] for _ in range(hf_ref.n_layers(cfg))]
            parts = [m(ids[:, :3], caches)] + [m(ids[:, t:t + 1], caches) for t in range(3, ids.shape[1])]
        diff = (torch.cat(parts, dim=1) - full).abs().max().item()
        R.check(diff < 1e-9, f"reference {arch}: KV-cache logits differ from the full forward by {diff:.3g}")


def check_peer():
    """bench/torch_peer.py runs (its tiny shape) and prints the line `spar bench model` reads."""
    peer = os.path.join(HERE, "..", "bench", "torch_peer.py")
    for fig in ("train", "logprob", "sample"):
        r = subprocess.run([sys.executable, peer, "--tiny", "--figure", fig, "--threads", "1"],
                           capture_output=True, text=True, timeout=TIMEOUT)
        line = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""
        try:
            j = json.loads(line)
        except ValueError:
            j = {}
        R.check(r.returncode == 0 and j.get("figure") == fig and j.get("tok_s", 0) > 0 and j.get("peak_mb", 0) > 0,
                f"torch_peer --tiny --figure {fig}: exit {r.returncode}, {line!r} {r.stderr.strip()[-300:]}")


def main():
    global SPAR
    args = sys.argv[1:]
    keep = None
    if "--keep" in args:
        keep = args[args.index("--keep") + 1]
        del args[args.index("--keep"):args.index("--keep") + 2]
    if len(args) != 1:
        print(__doc__)
        return 2
    SPAR = os.path.abspath(args[0])
    t0 = time.time()
    tmp = keep or tempfile.mkdtemp(prefix="spar-hf-golden-")
    os.makedirs(tmp, exist_ok=True)
    try:
        for case in CASES:
            c0 = time.time()
            run_case(case, tmp)
            print(f"case {case[0]}: {time.time() - c0:.1f} s", flush=True)
        run_refusals(tmp)
        run_file_refusals(tmp)
        check_reference_cache()
        check_peer()
    finally:
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
    print("worst relative error per family (tolerance %g):" % TOL)
    for fam, e in sorted(R.worst.items()):
        print(f"  {fam:8s} {e:.3g}")
    print(f"{R.checks} checks, {len(R.failures)} failed, {time.time() - t0:.1f} s")
    return 1 if R.failures else 0


if __name__ == "__main__":
    sys.exit(main())
