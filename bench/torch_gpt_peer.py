#!/usr/bin/python3
"""The PyTorch peer of `spar bench model` for the byte-level GPT configs (tiny, small).

The same model as spar's gpt policy, written in torch (Debian's python3-torch, CPU): pre-LayerNorm
blocks, GELU (tanh) MLP, learned positions, head tied to the embedding, vocabulary 257. The same
work as spar's bench: training = forward + summed log-probs of every next token + backward + AdamW
on B x T tokens; logprob = the forward and the log-probs only; sample = 16 sequences x 64 new
tokens after an 8-token prompt, with a KV cache, temperature 1. Prints one JSON line per figure:
{"config", "figure", "tok_s", "peak_mb"}.
"""
import argparse
import json
import math
import resource
import time

import torch
import torch.nn.functional as F

CONFIGS = {  # as cli/bench_model.c: n_layer, n_head, d_model, ctx, B, T
    "tiny": (4, 4, 128, 128, 16, 128),
    "small": (6, 6, 384, 256, 16, 256),
}
VOCAB = 257


class Block(torch.nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.h = h
        self.ln1 = torch.nn.LayerNorm(d)
        self.qkv = torch.nn.Linear(d, 3 * d)
        self.proj = torch.nn.Linear(d, d)
        self.ln2 = torch.nn.LayerNorm(d)
        self.fc = torch.nn.Linear(d, 4 * d)
        self.out = torch.nn.Linear(4 * d, d)

    def attend(self, x, cache):
        B, T, d = x.shape
        q, k, v = self.qkv(x).split(d, dim=2)
        q, k, v = (t.view(B, T, self.h, d // self.h).transpose(1, 2) for t in (q, k, v))
        if cache is not None:
            if "k" in cache:
                k = torch.cat([cache["k"], k], dim=2)
                v = torch.cat([cache["v"], v], dim=2)
            cache["k"], cache["v"] = k, v
        S = k.shape[2]
        att = (q @ k.transpose(-2, -1)) / math.sqrt(d // self.h)
        if T > 1:  # causal within the new positions; the cached ones are all earlier
            mask = torch.ones(T, S, dtype=torch.bool).tril(S - T)
            att = att.masked_fill(~mask, float("-inf"))
        y = att.softmax(-1) @ v
        return self.proj(y.transpose(1, 2).reshape(B, T, d))

    def forward(self, x, cache=None):
        x = x + self.attend(self.ln1(x), cache)
        return x + self.out(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class GPT(torch.nn.Module):
    def __init__(self, n_layer, n_head, d, ctx):
        super().__init__()
        self.wte = torch.nn.Embedding(VOCAB, d)
        self.wpe = torch.nn.Embedding(ctx, d)
        self.blocks = torch.nn.ModuleList([Block(d, n_head) for _ in range(n_layer)])
        self.ln_f = torch.nn.LayerNorm(d)

    def forward(self, idx, start=0, caches=None):
        T = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(start, start + T))
        for i, b in enumerate(self.blocks):
            x = b(x, caches[i] if caches is not None else None)
        return self.ln_f(x) @ self.wte.weight.t()


def seq_logprob(model, tok):
    logits = model(tok[:, :-1])
    return logits.log_softmax(-1).gather(-1, tok[:, 1:, None]).sum()


def timed(step, min_s, max_steps):
    step()  # warm-up: the first step touches every buffer
    n, t0 = 0, time.perf_counter()
    while True:
        step()
        n += 1
        t = time.perf_counter() - t0
        if t >= min_s or n >= max_steps:
            return n, t


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", choices=sorted(CONFIGS), required=True)
    ap.add_argument("--figure", choices=["train", "logprob", "sample"], action="append")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    L, H, d, ctx, B, T = CONFIGS[a.config]
    model = GPT(L, H, d, ctx)
    tok = (torch.arange(B * T) * 37 + 11).remainder(256).view(B, T)
    for fig in a.figure or ["train", "logprob", "sample"]:
        if fig == "train":
            opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.0)

            def step():
                opt.zero_grad(set_to_none=False)
                (-seq_logprob(model, tok) / B).backward()
                opt.step()

            n, t = timed(step, 3.0, 50)
            tps = B * T * n / t
        elif fig == "logprob":
            def step():
                with torch.no_grad():
                    seq_logprob(model, tok)

            n, t = timed(step, 2.0, 100)
            tps = B * T * n / t
        else:
            samples, new, plen = 16, 64, 8
            prompt = torch.tensor([[51, 55, 43, 52, 53, 61, 32, 32]] * samples)
            with torch.no_grad():
                t0 = time.perf_counter()
                caches = [{} for _ in model.blocks]
                logits = model(prompt, 0, caches)[:, -1]
                for i in range(new):
                    nxt = torch.multinomial(logits.softmax(-1), 1)
                    if i + 1 < new:
                        logits = model(nxt, plen + i, caches)[:, -1]
                tps = samples * new / (time.perf_counter() - t0)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps({"config": a.config, "figure": fig, "tok_s": round(tps, 1), "peak_mb": round(peak)}), flush=True)


if __name__ == "__main__":
    main()
