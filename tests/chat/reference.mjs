// The reference chat templates: @huggingface/jinja's Template on a model's chat template, with the
// variables transformers' apply_chat_template passes (messages, add_generation_prompt, bos_token,
// eos_token, tools and documents as null, plus a case's own "vars"), and tokenizers.js
// (@huggingface/tokenizers) encoding the text with no special tokens added. Both are pinned in
// tests/tokenizer/package-lock.json.
//
//   node reference.mjs MODEL_DIR [TEMPLATE_FILE] < CASES.jsonl
//       MODEL_DIR holds tokenizer.json and tokenizer_config.json (the template comes from there
//       unless TEMPLATE_FILE is given; BOS and EOS always do). Each stdin line is a case,
//       {"messages": [...], "add_generation_prompt": bool, "vars": {...}}; each output line is
//       {"text": ..., "ids": [...]} or {"error": ...} (the template raised, or refused to parse).
//
// tokenizers.js gets the correction tests/tokenizer/reference.mjs explains: its ByteLevel
// pre-tokenizer's built-in regex uses JavaScript's \s, which is rewritten to Unicode White_Space
// as Hugging Face's tokenizers (Oniguruma) has it.
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

// the packages live in tests/tokenizer/node_modules (scripts/npm_deps.sh installs them there)
const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "..", "tokenizer", "package.json"));
const { Template } = require("@huggingface/jinja");
const { Tokenizer } = require("@huggingface/tokenizers");

const ONIG_BYTE_LEVEL = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\p{White_Space}\p{L}\p{N}]+|\p{White_Space}+(?!\P{White_Space})|\p{White_Space}+/gu;

function fixByteLevel(pt) {
    if (!pt) return;
    if (Array.isArray(pt.tokenizers)) pt.tokenizers.forEach(fixByteLevel);
    if (pt.constructor.name.startsWith("ByteLevel") && pt.pattern instanceof RegExp) pt.pattern = ONIG_BYTE_LEVEL;
}

function token(cfg, key) {
    const v = cfg[key];
    if (v && typeof v === "object") return typeof v.content === "string" ? v.content : "";
    return typeof v === "string" ? v : "";
}

function templateOf(cfg) {
    const ct = cfg.chat_template;
    if (typeof ct === "string") return ct;
    if (Array.isArray(ct)) {
        const d = ct.find((t) => t.name === "default");
        if (d) return d.template;
    }
    throw new Error("no chat_template");
}

function main(argv) {
    const [dir, templateFile] = argv;
    if (!dir) {
        process.stderr.write("usage: node reference.mjs MODEL_DIR [TEMPLATE_FILE] < CASES.jsonl\n");
        return 2;
    }
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, "tokenizer_config.json"), "utf8"));
    const tok = new Tokenizer(JSON.parse(fs.readFileSync(path.join(dir, "tokenizer.json"), "utf8")), cfg);
    fixByteLevel(tok.pre_tokenizer);
    let template = null, parseError = null;
    try {
        template = new Template(templateFile ? fs.readFileSync(templateFile, "utf8") : templateOf(cfg));
    } catch (e) {
        parseError = String(e.message || e);
    }
    const out = [];
    const lines = fs.readFileSync(0, "utf8").split("\n").filter((l) => l.length > 0);
    for (const line of lines) {
        const c = JSON.parse(line);
        if (parseError) {
            out.push(JSON.stringify({ error: parseError }));
            continue;
        }
        let text;
        try {
            text = template.render({
                tools: null,
                documents: null,
                ...(c.vars || {}),
                messages: c.messages,
                add_generation_prompt: c.add_generation_prompt,
                bos_token: token(cfg, "bos_token"),
                eos_token: token(cfg, "eos_token"),
            });
        } catch (e) {
            out.push(JSON.stringify({ error: String(e.message || e) }));
            continue;
        }
        const ids = text.length ? tok.encode(text, { add_special_tokens: false }).ids : [];
        out.push(JSON.stringify({ text, ids }));
    }
    fs.writeSync(1, out.join("\n") + (out.length ? "\n" : ""));
    return 0;
}

process.exitCode = main(process.argv.slice(2));
