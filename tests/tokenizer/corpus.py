#!/usr/bin/python3
"""The tokenizer corpus: varied lines that spar's tokenizer and the reference (reference.mjs) both
encode, written as JSON lines (one JSON string per line, so a text may hold newlines and tabs).

Deterministic: the same seed gives the same corpus with the same Python (the checks write it once
and give spar and the reference that one file, so another Python's corpus is as good). Every text is valid UTF-8 (no lone surrogates: they have
no UTF-8 form). The kinds of text are the ones where tokenizers differ: the regexes' letter, number
and white-space classes, contractions in any case, NFC (composed and decomposed accents), byte
fallback (CJK, emoji, rare scripts), long words (past the BPE cache), and added tokens embedded in
text (whole, cut short, or glued to words).

usage: corpus.py [--lines N] [--seed S] [--bytes B]   (B: more lines until the texts hold at least
B bytes, for a benchmark; fresh lines, not repeats, which the BPE cache would make cheap)
"""
import argparse
import json
import random
import sys

PROSE = [
    "The quick brown fox jumps over the lazy dog.",
    "It was the best of times, it was the worst of times, it was the age of wisdom.",
    "Self-play preference optimisation ranks the policy's own samples against each other.",
    "She said: \"Don't worry, we'll be there by 5 o'clock — promise!\"",
    "Der schnelle braune Fuchs springt über den faulen Hund; Größe, Straße, Übermaß.",
    "Le cœur a ses raisons que la raison ne connaît point. Où est l'hôpital ?",
    "¿Dónde está la biblioteca? ¡Qué día tan bonito! El niño comió piña.",
    "Съешь же ещё этих мягких французских булок да выпей чаю.",
    "Ξεσκεπάζω την ψυχοφθόρα βδελυγμία. Η γλώσσα μου έδωσαν ελληνική.",
    "الخط العربي فن جميل، وهو يكتب من اليمين إلى اليسار.",
    "עברית נכתבת מימין לשמאל, וגם המספרים 123 נשארים משמאל לימין.",
    "हिन्दी भारत की एक प्रमुख भाषा है। नमस्ते दुनिया!",
    "我能吞下玻璃而不伤身体。中文没有空格，标点符号是全角的。",
    "私はガラスを食べられます。それは私を傷つけません。カタカナとひらがな。",
    "나는 유리를 먹을 수 있어요. 그래도 아프지 않아요. 한국어 문장입니다.",
    "ฉันกินกระจกได้ แต่มันไม่ทำให้ฉันเจ็บ ภาษาไทยไม่มีช่องว่างระหว่างคำ",
    "Tôi có thể ăn thủy tinh mà không hại gì. Tiếng Việt có nhiều dấu.",
    "Pijamalı hasta yağız şoföre çabucak güvendi. İstanbul, ılık, ĞÜŞİÖÇ.",
    "Zażółć gęślą jaźń. Příliš žluťoučký kůň úpěl ďábelské ódy.",
    "Árvíztűrő tükörfúrógép. Þú getur etið gler án þess að meiða þig.",
    "Mi povas manĝi vitron, ĝi ne damaĝas min. Ĉiuĵaŭde ŝi iras.",
    "ᚠᛇᚻ᛫ᛒᛦᚦ᛫ᚠᚱᚩᚠᚢᚱ᛫ᚠᛁᚱᚪ᛫ᚷᛖᚻᚹᛦᛚᚳᚢᛗ",
    "Ἐν ἀρχῇ ἦν ὁ λόγος, καὶ ὁ λόγος ἦν πρὸς τὸν θεόν.",
    "ሰማይ አይታረስ ንጉሥ አይከሰስ። ᐊᓕᒍᖅ ᓂᕆᔭᕌᖓᒃᑯ ᓱᕋᙱᑦᑐᓐᓇᖅᑐᖓ",
    "Ⅻ ⅷ ½ ¾ ² ³ ⁴ ₅ ① ⑳ 〇 一二三 ٠١٢٣٤٥٦٧٨٩ ０１２３ ۴۵۶",
]

WORDS = ("the of and to in is was for on that with as by at from it he she they we you "
         "model token policy reward judge rollout sample learner actor batch gradient "
         "naïve café résumé façade jalapeño über straße Ελλάδα Москва 東京 서울 "
         "don't can't won't shouldn't y'all o'clock rock'n'roll").split()

CONTRACTIONS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'VE", "'M", "'LL", "'D",
                "'Re", "'vE", "’s", "’t", "''s", "'", "'x"]

CODE = [
    "def f(x):\n    return x * 2  # doubles\n",
    "for (int i = 0; i < n; i++) {\n\tsum += a[i];\n}\n",
    "if __name__ == \"__main__\":\n    main()\n",
    "const re = /^[a-z_]\\w*$/u; // an identifier\nconsole.log(`${a}+${b}=${a + b}`);",
    "{\"id\": 42, \"tags\": [\"a\", \"b\"], \"ok\": true, \"ratio\": 0.125, \"none\": null}",
    "SELECT name, COUNT(*) FROM users WHERE age >= 18 GROUP BY name ORDER BY 2 DESC;",
    "#include <stdio.h>\nint main(void) { printf(\"%d\\n\", 1 << 4); return 0; }",
    "$ git log --oneline | head -n 3 && echo \"done\" >> /tmp/log.txt 2>&1",
    "<div class=\"row\"><a href=\"https://example.org/a?b=c&d=e#f\">link</a></div>",
    "x = [i**2 for i in range(10) if i % 3 != 0]\t\t# squares\r\n",
    "fn main() -> Result<(), Box<dyn Error>> { let v: Vec<u8> = vec![0xff; 16]; Ok(()) }",
    "    \t  indented with mixed tabs and spaces\n\n\n    and blank lines\n",
    "a==b!=c<=d>=e&&f||g::h->i=>j...k??l?.m",
    "\\begin{equation} E = mc^2 \\quad \\sum_{i=1}^{n} x_i \\end{equation}",
]

SPECIAL = ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>",
           "<|reserved_special_token_0|>", "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|fim_prefix|>",
           "<think>", "</think>", "<tool_call>", "<s>", "</s>", "<unk>"]
# almost special: cut short, misspelt, spaced, doubled; never an added token, still split right
NEAR_SPECIAL = ["<|begin_of_text", "<|im_start", "|im_end|>", "<|endoftext", "< s>", "<s >", "<<s>>", "<|IM_START|>",
                "<|endoftext|", "<|im_sep|>", "<\\s>", "<s/>", "</ s>", "<S>", "<|>", "<||>"]

WHITESPACE = [" ", "  ", "   ", "    ", "        ", "\t", "\t\t", " \t ", "\n", "\n\n", "\r\n", "\r", " \n ",
              "\u00a0", "\u3000", "\u2003", "\u2009", "\u202f", "\u0085", "\u2028", "\u2029", "\u000b", "\u000c",
              "\u200b", "\ufeff", "\u180e", "\u1680", "\u205f", " \ufeff", " \u0085", "\u0085 ", " \u180e"]

# accented letters composed and decomposed (NFC composes the second form, reorders marks)
ACCENTS = ["é", "e\u0301", "ñ", "n\u0303", "Å", "A\u030a", "\u212b", "ộ", "o\u0323\u0302", "o\u0302\u0323",
           "ǖ", "u\u0308\u0304", "ḉ", "c\u0327\u0301", "가", "\u1100\u1161", "\u1112\u1161\u11ab", "ﬁ", "ẛ̣",
           "e\u0301\u0301", "\u0301", "a\u20dd", "q\u0307\u0323", "Ω", "\u2126", "\u0958", "\u0915\u093c",
           "が", "か\u3099", "\u00c7", "C\u0327", "i\u0307", "ϓ", "\u03d2\u0301"]

EMOJI = ["😀", "👍", "👍🏽", "👍🏿", "👨‍👩‍👧‍👦", "👩🏽‍💻", "🏳️‍🌈", "🏴‍☠️", "🇩🇪", "🇯🇵🇺🇸", "1️⃣", "#️⃣", "❤️", "❤", "☺️",
         "🧑‍🤝‍🧑", "🫠", "🦀", "🐍", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "𝟘𝟙𝟚", "𓀀", "🀄", "🂡", "\U0001f9d1\u200d\U0001f384"]

CJK = ["漢字", "汉字", "日本語", "ひらがな", "カタカナ", "ﾊﾝｶｸ", "한국어", "𠀀𠀁𠀂", "𪚥", "〈〉《》「」", "，。！？",
       "中华人民共和国", "東京都渋谷区", "二〇二四年"]

ODD = ["\ufffd", "\ufffd\ufffd", "\uffff", "\ufffe", "\U0010ffff", "\U000e0001", "\ue000", "\U000f0000",
       "\x00", "\x01", "\x1b[31mred\x1b[0m", "\x7f", "\x80", "\x9b", "\u00ad", "Ã©tÃ©", "â€™", "Ð¿Ñ€Ð¸Ð²ÐµÑ‚",
       "\\xff\\xfe", "%E2%82%AC", "&amp;&#x20AC;&euro;", "\u202e\u202dreversed", "\u200d", "\u200c", "\ufe0f",
       "\U000e0041", "\u0600\u0601", "\u2060", "\ud7ff", "\ue000\uf8ff"]


def number(r):
    k = r.randrange(9)
    if k == 0:
        return str(r.randrange(10 ** r.randrange(1, 25)))
    if k == 1:
        return f"{r.uniform(-1e6, 1e6):.{r.randrange(0, 8)}f}"
    if k == 2:
        return f"{r.randrange(1, 10**9):,}"
    if k == 3:
        return f"{r.randrange(1900, 2100)}-{r.randrange(1, 13):02d}-{r.randrange(1, 29):02d}T{r.randrange(24):02d}:{r.randrange(60):02d}Z"
    if k == 4:
        return f"+{r.randrange(1, 99)} ({r.randrange(100, 999)}) {r.randrange(100, 999)}-{r.randrange(1000, 9999)}"
    if k == 5:
        return f"{r.random():.3e}"
    if k == 6:
        return "0x" + "".join(r.choice("0123456789abcdefABCDEF") for _ in range(r.randrange(1, 17)))
    if k == 7:
        return "".join(r.choice("0123456789") for _ in range(r.randrange(30, 90)))
    return "".join(r.choice("٠١٢٣٤٥٦٧٨٩０１２３４５６７８９①½²") for _ in range(r.randrange(1, 8)))


def word(r):
    w = r.choice(WORDS)
    k = r.randrange(10)
    if k == 0:
        w = w.upper()
    elif k == 1:
        w = w.capitalize()
    elif k == 2:
        w += r.choice(CONTRACTIONS)
    return w


def random_unicode(r):
    """Code points from assorted blocks (never a surrogate)."""
    blocks = [(0x20, 0x7e), (0xa0, 0x24f), (0x300, 0x36f), (0x370, 0x52f), (0x590, 0x6ff), (0x900, 0x97f),
              (0xe00, 0xe7f), (0x1100, 0x11ff), (0x1e00, 0x1fff), (0x2000, 0x206f), (0x2100, 0x27ff),
              (0x3000, 0x30ff), (0x4e00, 0x9fff), (0xac00, 0xd7a3), (0xe000, 0xe0ff), (0xfb00, 0xfffd),
              (0x10000, 0x1014f), (0x1d400, 0x1d7ff), (0x1f300, 0x1faff), (0x20000, 0x2a6df), (0xe0000, 0xe007f)]
    out = []
    for _ in range(r.randrange(1, 30)):
        a, b = r.choice(blocks)
        out.append(chr(r.randint(a, b)))
    return "".join(out)


def line(r):
    k = r.randrange(16)
    if k == 0:
        return r.choice(PROSE)
    if k == 1:  # prose sentences joined by varied white space
        return r.choice(WHITESPACE).join(r.choice(PROSE) for _ in range(r.randrange(1, 4)))
    if k == 2:
        return r.choice(CODE)
    if k == 3:  # words and contractions
        return " ".join(word(r) for _ in range(r.randrange(1, 20)))
    if k == 4:
        return " ".join(number(r) for _ in range(r.randrange(1, 6)))
    if k == 5:  # white-space runs around words, leading and trailing
        return "".join(r.choice(WHITESPACE) * r.randrange(1, 4) + (word(r) if r.random() < 0.7 else "")
                       for _ in range(r.randrange(1, 8)))
    if k == 6:  # accents in words
        return " ".join("".join(r.choice(ACCENTS) if r.random() < 0.4 else r.choice("aeiounrst")
                                for _ in range(r.randrange(1, 8))) for _ in range(r.randrange(1, 6)))
    if k == 7:
        return "".join(r.choice(EMOJI) + (r.choice(WHITESPACE[:3]) if r.random() < 0.5 else "")
                       for _ in range(r.randrange(1, 8)))
    if k == 8:
        return "".join(r.choice(CJK) + (r.choice("，。 、") if r.random() < 0.5 else "") for _ in range(r.randrange(1, 6)))
    if k == 9:
        return "".join(r.choice(ODD) + (word(r) if r.random() < 0.5 else "") for _ in range(r.randrange(1, 5)))
    if k == 10:  # special tokens embedded in text, glued to words or spaced
        parts = []
        for _ in range(r.randrange(1, 7)):
            parts.append(r.choice(SPECIAL) if r.random() < 0.6 else r.choice(NEAR_SPECIAL))
            if r.random() < 0.7:
                parts.append(r.choice(["", " ", "\n", "  "]) + word(r) + r.choice(["", " ", "\n"]))
        return "".join(parts)
    if k == 11:  # a chat transcript
        return "".join(f"<|im_start|>{role}\n{r.choice(PROSE)}<|im_end|>\n" for role in r.sample(["system", "user", "assistant"], 2))
    if k == 12:  # long words: repeated characters and blobs (past the 256-byte word cache)
        c = r.choice(["a", "ab", "!", "=", " ", "0", "é", "😀", "字", "\t", "-_", "'s"])
        return c * r.randrange(2, 400 // len(c.encode()))
    if k == 13:
        return "".join(r.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") for _ in range(r.randrange(20, 600)))
    if k == 14:
        return random_unicode(r)
    return " ".join(r.choice([word(r), number(r), r.choice(EMOJI), r.choice(CJK), r.choice(ACCENTS), r.choice(SPECIAL)])
                    for _ in range(r.randrange(2, 15)))


# Lines every corpus starts with: the edge cases, whatever the seed
FIXED = ["", " ", "  ", "\t", "\n", "\r\n", "a", " a", "a ", "  a  ", "'s", "'S", "I'm", "I'M", "HE'LL", "it'd",
         "<s>", "</s>", "<s> hello", "hello <s>", "<s><s>", "<|begin_of_text|>", "<|im_start|>user\nhi<|im_end|>",
         "<|endoftext|>", "a<|endoftext|>b", "1234567890", "12345 678", "é", "e\u0301", "\u212b", "👨‍👩‍👧‍👦",
         "\ufeff", "\u0085", "\u00a0a", "\x00", " \ufeffa", "x \u0085y", "a\u0085\u0085 b", " \u180eb"]


def corpus(lines, seed, min_bytes=0):
    r = random.Random(seed)
    out = list(FIXED)
    size = sum(len(t.encode()) for t in out)
    while len(out) < lines or size < min_bytes:
        out.append(line(r))
        size += len(out[-1].encode())
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--bytes", type=int, default=0)
    a = ap.parse_args()
    for t in corpus(a.lines, a.seed, a.bytes):
        sys.stdout.write(json.dumps(t, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
