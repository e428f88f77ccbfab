"""A tiny byte-level BPE tokenizer.json (the Hugging Face `tokenizers` serialisation): the 256
byte tokens under GPT-2's byte-to-unicode map, in that map's order (so byte b's id is not b), a
few merges, and one special token for EOS. Plus an encoder of it written from the BPE rules
(GPT-2 pre-split, lowest-rank merge first), to know what ids a text should get."""
import json
import re
import unicodedata


def bytes_to_unicode():
    """GPT-2's reversible byte -> printable character map: printable Latin-1 bytes map to
    themselves, the other 68 to chr(256 + k) in byte order."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\xa1"), ord("\xac") + 1)) + \
        list(range(ord("\xae"), ord("\xff") + 1))
    bs, cs, k = keep[:], keep[:], 0
    for b in range(256):
        if b not in keep:
            bs.append(b)
            cs.append(256 + k)
            k += 1
    return {b: chr(c) for b, c in zip(bs, cs)}, bs


MERGES = [("\u0120", "t"), ("h", "e"), ("\u0120t", "he"), ("i", "n"), ("e", "r"), ("\u0120", "a")]
EOS = "<|endoftext|>"


def vocab():
    """token -> id: the bytes (in map order), the merges' results, then EOS."""
    m, order = bytes_to_unicode()
    v = {m[b]: i for i, b in enumerate(order)}
    for a, b in MERGES:
        v[a + b] = len(v)
    v[EOS] = len(v)
    return v


def n_ids():
    return len(vocab())


def eos_id():
    return vocab()[EOS]


def tokenizer_json(merges_as_pairs=False):
    v = vocab()
    merges = [[a, b] for a, b in MERGES] if merges_as_pairs else [f"{a} {b}" for a, b in MERGES]
    bpe = {k: i for k, i in v.items() if k != EOS}
    doc = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [{"id": v[EOS], "content": EOS, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": True}],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                  "vocab": bpe, "merges": merges},
    }
    return json.dumps(doc, ensure_ascii=False, indent=1)


def tokenizer_config_json():
    return json.dumps({"eos_token": EOS, "bos_token": EOS, "model_max_length": 1024,
                       "tokenizer_class": "GPT2Tokenizer", "add_bos_token": False})


def _split(text):
    """GPT-2's pre-split ('s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+)
    with Python's re, which has no \\p{..}: the classes are spelled out from the characters of
    text by their Unicode category."""
    chars = sorted(set(text))
    letters = "".join(re.escape(c) for c in chars if unicodedata.category(c).startswith("L"))
    digits = "".join(re.escape(c) for c in chars if unicodedata.category(c).startswith("N"))
    L, N = f"[{letters}]" if letters else "(?!)", f"[{digits}]" if digits else "(?!)"
    other = f"[^\\s{letters}{digits}]"
    pat = rf"'s|'t|'re|'ve|'m|'ll|'d| ?{L}+| ?{N}+| ?{other}+|\s+(?!\S)|\s+"
    return re.findall(pat, text)


def _bpe(word):
    rank = {p: i for i, p in enumerate(MERGES)}
    parts = list(word)
    while len(parts) > 1:
        pairs = [(rank.get((parts[i], parts[i + 1]), 1 << 30), i) for i in range(len(parts) - 1)]
        best, _ = min(pairs)
        if best == 1 << 30:
            break
        a, b = MERGES[best]
        out, i = [], 0
        while i < len(parts):
            if i + 1 < len(parts) and parts[i] == a and parts[i + 1] == b:
                out.append(a + b)
                i += 2
            else:
                out.append(parts[i])
                i += 1
        parts = out
    return parts


def encode(text):
    """The ids of text (no special tokens in it)."""
    m, _ = bytes_to_unicode()
    v = vocab()
    ids = []
    for piece in _split(text):
        ids += [v[t] for t in _bpe("".join(m[b] for b in piece.encode()))]
    return ids
