#!/usr/bin/python3
"""How sensitive the golden test is: each mutation makes the reference wrong in one published
detail spar could get wrong, then runs the golden cases it concerns; every mutation must make
checks fail (spar, being right, now disagrees with the reference). Not a ctest entry: a tool to
run after changing the test's tolerances, weights or cases.

usage: mutation_check.py SPAR_BIN      (exit 1 when a mutation goes unnoticed)
"""
import contextlib
import io
import math
import os
import shutil
import sys
import tempfile

import torch

HERE = os.path.dirname(os.path.realpath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import hf_ref  # noqa: E402
import test_hf_golden as golden  # noqa: E402

ORIG = {k: getattr(hf_ref, k) for k in ("rope", "inv_freq", "gelu_new", "RMSNorm", "causal_attention",
                                        "grouped_attention")}


def no_scaling(cfg):
    return ORIG["inv_freq"](dict(cfg, rope_scaling=None))


def no_smoothing(cfg):
    """llama3 without its blended middle band: long wavelengths divided, the rest kept."""
    rs, f = cfg.get("rope_scaling"), ORIG["inv_freq"](dict(cfg, rope_scaling=None))
    if not rs:
        return f
    wl = 2 * math.pi / f
    return torch.where(wl > rs["original_max_position_embeddings"] / rs["low_freq_factor"], f / rs["factor"], f)


def interleaved(x, pos, freqs):
    """GPT-J's rotation of adjacent pairs instead of rotate_half's halves."""
    ang = pos.to(torch.float64)[:, None] * freqs[None, :]
    cos, sin = ang.cos().repeat_interleave(2, -1).to(x.dtype), ang.sin().repeat_interleave(2, -1).to(x.dtype)
    rot = torch.stack((-x[..., 1::2], x[..., ::2]), -1).flatten(-2)
    return x * cos + rot * sin


def gelu_erf(x):
    return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))


class EpsOutside(torch.nn.Module):
    def __init__(self, n, eps):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(n))
        self.eps = eps

    def forward(self, x):
        return self.weight * x / (x.pow(2).mean(-1, keepdim=True).sqrt() + self.eps)


def scale_by_d(q, k, v, past_len, scale=None):
    return ORIG["causal_attention"](q, k, v, past_len, 1.0 / q.shape[-1])


def kv_tiled(q, k, v, past_len):
    """KV head h % KV for query head h (repeat instead of repeat_interleave)."""
    rep = q.shape[1] // k.shape[1]
    return ORIG["causal_attention"](q, k.repeat(1, rep, 1, 1), v.repeat(1, rep, 1, 1), past_len)


MUTATIONS = [
    ("rope_scaling ignored", "inv_freq", no_scaling, ["llama3_rope_tied_bf16_sharded", "llama3_rope_type_key_f32"]),
    ("llama3 without its middle band", "inv_freq", no_smoothing,
     ["llama3_rope_tied_bf16_sharded", "llama3_rope_type_key_f32"]),
    ("interleaved RoPE", "rope", interleaved, ["llama_untied_f32", "qwen3_qknorm_hd24_tied_bf16"]),
    ("KV heads tiled, not repeated", "grouped_attention", kv_tiled, ["llama_untied_f32", "qwen3_qknorm_hd24_tied_bf16"]),
    ("gelu erf, not tanh", "gelu_new", gelu_erf, ["gpt2_f32"]),
    ("RMSNorm eps outside the sqrt", "RMSNorm", EpsOutside, ["llama_untied_f32", "qwen3_qknorm_hd24_tied_bf16"]),
    ("scores / d, not / sqrt(d)", "causal_attention", scale_by_d, ["gpt2_f32", "llama_hf_defaults_f32"]),
]


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    golden.SPAR = os.path.abspath(sys.argv[1])
    cases = {c[0]: c for c in golden.CASES}
    unnoticed = 0
    for what, attr, fn, names in MUTATIONS:
        setattr(hf_ref, attr, fn)
        try:
            for n in names:
                golden.R = golden.Report()
                tmp = tempfile.mkdtemp(prefix="spar-mutation-")
                with contextlib.redirect_stdout(io.StringIO()):
                    golden.run_case(cases[n], tmp)
                shutil.rmtree(tmp, ignore_errors=True)
                worst = max(golden.R.worst.values(), default=0.0)
                print(f"{what:32s} {n:32s} {len(golden.R.failures):3d} checks fail, worst relative error {worst:.3g}")
                unnoticed += not golden.R.failures
        finally:
            setattr(hf_ref, attr, ORIG[attr])
    print("every mutation noticed" if not unnoticed else f"{unnoticed} mutation runs went unnoticed")
    return 1 if unnoticed else 0


if __name__ == "__main__":
    sys.exit(main())
