// tokenizer_ref — tokenizers.js's encoding speed, the baseline bench/tokenizer.c prints beside
// spar's: the same tokenizer (tests/tokenizer/reference.mjs loads it), the same corpus, the same
// passes. Loading is not timed. Pass 1 starts with an empty BPE cache (tokenizers.js keeps one, as
// spar does); the later passes find the corpus's words cached. Time is the process's CPU time
// (user + system, node's helper threads included), as bench/tokenizer.c takes spar's.
//
//   node bench/tokenizer_ref.mjs MODEL CORPUS PASSES
//
// prints one JSON line: {"model", "bytes", "cold_s", "warm_s"} (warm_s: the fastest of passes 2..,
// as bench/tokenizer.c takes spar's).
import { load, readCorpus } from "../tests/tokenizer/reference.mjs";

const [model, corpus, passesArg] = process.argv.slice(2);
if (!model || !corpus) {
    process.stderr.write("usage: node bench/tokenizer_ref.mjs MODEL CORPUS [PASSES]\n");
    process.exit(2);
}
const passes = Math.max(2, Number(passesArg ?? 3));
const texts = readCorpus(corpus);
const bytes = texts.reduce((n, t) => n + Buffer.byteLength(t, "utf8"), 0);
const t = load(model);

let sink = 0; // the ids are used, so no pass is optimised away
const times = [];
for (let p = 0; p < passes; p++) {
    const start = process.cpuUsage();
    for (const text of texts) sink += t.encode(text).ids.length;
    const used = process.cpuUsage(start);
    times.push((used.user + used.system) / 1e6);
}
const warm = Math.min(...times.slice(1));
process.stdout.write(JSON.stringify({ model, bytes, cold_s: times[0], warm_s: warm, tokens: sink / passes }) + "\n");
