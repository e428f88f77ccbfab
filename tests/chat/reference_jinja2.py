#!/usr/bin/python3
"""The chat templates as transformers runs them: Python's jinja2 with the environment
apply_chat_template builds (an ImmutableSandboxedEnvironment with trim_blocks and lstrip_blocks,
the loopcontrols extension, tojson as json.dumps with ensure_ascii off, raise_exception and
strftime_now), and the same variables (messages, add_generation_prompt, bos_token, eos_token,
tools and documents as None, plus a case's "vars"). Written here from transformers' documented
behaviour; transformers itself is not needed.

usage: reference_jinja2.py MODEL_DIR [TEMPLATE_FILE] < CASES.jsonl   (the cases and output lines
as tests/chat/reference.mjs reads and writes them, without "ids"). Exit 77 without jinja2.
"""
import json
import os
import sys
from datetime import datetime

try:
    import jinja2
    from jinja2.ext import loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment
except ImportError:
    print("SKIP: no jinja2 (python3-jinja2)")
    sys.exit(77)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def strftime_now(fmt):
    return datetime.now().strftime(fmt)


def token(cfg, key):
    v = cfg.get(key)
    if isinstance(v, dict):
        v = v.get("content")
    return v if isinstance(v, str) else ""


def template_of(cfg):
    ct = cfg.get("chat_template")
    if isinstance(ct, str):
        return ct
    if isinstance(ct, list):
        for t in ct:
            if t.get("name") == "default":
                return t["template"]
    raise ValueError("no chat_template")


def main(argv):
    if not argv:
        sys.stderr.write(__doc__)
        return 2
    with open(os.path.join(argv[0], "tokenizer_config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    template, parse_error = None, None
    try:
        if len(argv) > 1:
            with open(argv[1], encoding="utf-8") as f:
                source = f.read()
        else:
            source = template_of(cfg)
        template = env.from_string(source)
    except Exception as e:  # noqa: BLE001 - any refusal is compared as an error
        parse_error = str(e)
    out = []
    for line in sys.stdin.buffer.read().decode("utf-8").split("\n"):
        if not line:
            continue
        c = json.loads(line)
        if parse_error is not None:
            out.append({"error": parse_error})
            continue
        variables = {"tools": None, "documents": None, **c.get("vars", {})}
        variables.update(messages=c["messages"], add_generation_prompt=c["add_generation_prompt"],
                         bos_token=token(cfg, "bos_token"), eos_token=token(cfg, "eos_token"))
        try:
            out.append({"text": template.render(**variables)})
        except Exception as e:  # noqa: BLE001
            out.append({"error": f"{type(e).__name__}: {e}"})
    sys.stdout.write("".join(json.dumps(o, ensure_ascii=False) + "\n" for o in out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
