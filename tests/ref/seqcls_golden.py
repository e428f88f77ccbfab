#!/usr/bin/python3
"""spar's sequence-classifier reward models (common/seqcls.h) against the independent PyTorch
reference (hf_ref.DecoderSeqCls: the family's trunk, score.weight, read at the last token that is
not pad_token_id).

Tiny random LlamaForSequenceClassification, Qwen2ForSequenceClassification (q/k/v biases, one KV
head), Qwen3ForSequenceClassification (q/k norms, head_dim 24 != hidden/heads) and
MistralForSequenceClassification folders are written here by the reference's own writer (F32;
one in BF16; num_labels given as id2label or as num_labels; pad_token_id set, and absent in one),
with sequences that share prefixes (spar packs them so, grouped or not), end in pad tokens, hold a pad inside,
are all pad, or are one token. `TEST_SEQCLS --golden DIR` (tests/test_seqcls.c) prints spar's
scores; each must be the reference's (float64, from the values the file holds) to
|spar - ref| / max(|ref|, 1) <= 1e-4. Exit 0 passed, 1 a failure, 77 torch missing.

usage: seqcls_golden.py TEST_SEQCLS [--keep DIR]
"""
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

try:
    import numpy as np  # noqa: F401 (hf_folder needs it)
    import torch
except ImportError as e:
    print(f"skipped: {e} (Debian's python3-torch and python3-numpy are needed)")
    sys.exit(77)

HERE = os.path.dirname(os.path.realpath(__file__))
sys.path.insert(0, HERE)
import hf_folder  # noqa: E402
import hf_ref  # noqa: E402
import tiny_tokenizer  # noqa: E402

TOL = 1e-4
PAD = tiny_tokenizer.eos_id()

CASES = [
    # (name, causal family, seqcls class, config overrides, dtype, labels as, pad)
    ("llama", "LlamaForCausalLM", "LlamaForSequenceClassification", {}, "F32", "id2label", PAD),
    ("qwen2", "Qwen2ForCausalLM", "Qwen2ForSequenceClassification", {"num_key_value_heads": 1}, "F32", "num_labels", PAD),
    ("qwen3", "Qwen3ForCausalLM", "Qwen3ForSequenceClassification", {"head_dim": 24}, "F32", "id2label", PAD),
    ("qwen3_bf16", "Qwen3ForCausalLM", "Qwen3ForSequenceClassification", {}, "BF16", "num_labels", PAD),
    ("mistral_nopad", "MistralForCausalLM", "MistralForSequenceClassification", {}, "F32", "num_labels", None),
]


def sequences(rng, vocab):
    """Sequences that exercise the packing and the pad rule."""
    prefix = [rng.randrange(vocab) for _ in range(9)]
    out = [prefix + [rng.randrange(vocab) for _ in range(n)] for n in (1, 4, 7)]
    out.append(prefix + [rng.randrange(vocab), PAD, PAD])          # trailing pads
    out.append(prefix[:5] + [PAD] + [rng.randrange(vocab) for _ in range(3)])  # a pad inside
    out.append([PAD, PAD, PAD])                                     # all pad
    out.append([rng.randrange(vocab)])                              # one token
    out.append([hf_ref.QUIET] + [rng.randrange(vocab) for _ in range(20)])
    return out


def run_case(binary, root, case, seed):
    name, family, cls, over, dtype, labels_as, pad = case
    cfg = hf_folder.config(family, **over)
    cfg["architectures"] = [cls]
    cfg.pop("tie_word_embeddings", None)
    if labels_as == "id2label":
        cfg.update(id2label={"0": "LABEL_0"}, label2id={"LABEL_0": 0})
    else:
        cfg["num_labels"] = 1
    if pad is not None:
        cfg["pad_token_id"] = pad
    folder = os.path.join(root, name)
    m = hf_ref.randomize(hf_ref.build(cfg), seed)
    stored = hf_folder.write(folder, cfg, hf_ref.state(m), dtype)
    hf_ref.load_state(m, {k: torch.from_numpy(v) for k, v in stored.items()})
    rng = random.Random(seed)
    seqs = sequences(rng, tiny_tokenizer.n_ids())
    # the first five share a prefix and are packed so; the rest alone (odd cases: ungrouped)
    golden = {"sequences": seqs}
    if seed % 2 == 0:
        golden["groups"] = [0] * 5 + list(range(1, len(seqs) - 4))
    with open(os.path.join(folder, "golden.json"), "w") as f:
        json.dump(golden, f)
    ref = [hf_ref.seqcls_score(m, s) for s in seqs]
    p = subprocess.run([binary, "--golden", folder], capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        print(f"FAIL {name}: exit {p.returncode}: {p.stderr.strip()}")
        return False
    if "ERROR: AddressSanitizer" in p.stderr or "runtime error:" in p.stderr:
        print(f"FAIL {name}: sanitizer report\n{p.stderr}")
        return False
    got = json.loads(p.stdout)
    worst = max(abs(g - r) / max(abs(r), 1.0) for g, r in zip(got, ref))
    spread = max(ref) - min(ref)
    ok = len(got) == len(ref) and worst <= TOL and spread > 1e-2  # distinct scores: the test can fail
    print(f"{'ok' if ok else 'FAIL'} {name}: {len(ref)} sequences, worst relative error {worst:.2e}, "
          f"score spread {spread:.3f}")
    return ok


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    binary = sys.argv[1]
    keep = sys.argv[sys.argv.index("--keep") + 1] if "--keep" in sys.argv else None
    root = keep or tempfile.mkdtemp(prefix="spar-seqcls-")
    os.makedirs(root, exist_ok=True)
    try:
        ok = all([run_case(binary, root, case, 100 + i) for i, case in enumerate(CASES)])
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    # the reference's pad rule itself, checked against a hand computation
    cfg = hf_folder.config("LlamaForCausalLM", pad_token_id=PAD, num_labels=1)
    cfg["architectures"] = ["LlamaForSequenceClassification"]
    m = hf_ref.randomize(hf_ref.build(cfg), 7)
    ids = [5, 6, PAD, 8, PAD, PAD]
    with torch.no_grad():
        h = m.hidden(torch.tensor([ids]))[0]
        want = float(m.score(h[3])[0])
    if abs(hf_ref.seqcls_score(m, ids) - want) > 1e-12:
        print("FAIL reference: the score is not read at the last non-pad token")
        ok = False
    print("seqcls golden:", "passed" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
