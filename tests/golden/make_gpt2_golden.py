#!/usr/bin/python3
"""Makes the GPT golden test's data with an implementation independent of spar's C code:
a tiny GPT-2 in numpy (float64), written as Hugging Face writes GPT-2 checkpoints
(model.safetensors with only {"format": "pt"} metadata, plus config.json), and the logits it
gives for a fixed input. tests/test_gpt_golden.c loads that checkpoint with spar and must give
the same logits. Run from the repository root: /usr/bin/python3 tests/golden/make_gpt2_golden.py
(Debian's python3-numpy)."""
import json, math, os, struct
import numpy as np

L, NH, C, T, V = 2, 2, 16, 16, 257
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gpt2-tiny")
rng = np.random.default_rng(2026)

def normal(*shape, sd=0.2):
    return rng.normal(0.0, sd, size=shape)

w = {"wte.weight": normal(V, C), "wpe.weight": normal(T, C)}
for i in range(L):
    w[f"h.{i}.ln_1.weight"] = 1 + normal(C, sd=0.1)
    w[f"h.{i}.ln_1.bias"] = normal(C, sd=0.1)
    w[f"h.{i}.attn.c_attn.weight"] = normal(C, 3 * C)
    w[f"h.{i}.attn.c_attn.bias"] = normal(3 * C, sd=0.1)
    w[f"h.{i}.attn.c_proj.weight"] = normal(C, C)
    w[f"h.{i}.attn.c_proj.bias"] = normal(C, sd=0.1)
    w[f"h.{i}.ln_2.weight"] = 1 + normal(C, sd=0.1)
    w[f"h.{i}.ln_2.bias"] = normal(C, sd=0.1)
    w[f"h.{i}.mlp.c_fc.weight"] = normal(C, 4 * C)
    w[f"h.{i}.mlp.c_fc.bias"] = normal(4 * C, sd=0.1)
    w[f"h.{i}.mlp.c_proj.weight"] = normal(4 * C, C)
    w[f"h.{i}.mlp.c_proj.bias"] = normal(C, sd=0.1)
w["ln_f.weight"] = 1 + normal(C, sd=0.1)
w["ln_f.bias"] = normal(C, sd=0.1)
w = {k: v.astype(np.float32) for k, v in w.items()}  # what the file holds; compute from it

# safetensors, as the format specifies
header, offset, blobs = {"__metadata__": {"format": "pt"}}, 0, []
for k, v in w.items():
    b = v.tobytes()
    header[k] = {"dtype": "F32", "shape": list(v.shape), "data_offsets": [offset, offset + len(b)]}
    offset += len(b)
    blobs.append(b)
h = json.dumps(header, separators=(",", ":")).encode()
h += b" " * ((8 - len(h) % 8) % 8)
os.makedirs(OUT, exist_ok=True)
with open(os.path.join(OUT, "model.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
with open(os.path.join(OUT, "config.json"), "w") as f:
    json.dump({"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": V, "n_positions": T,
               "n_embd": C, "n_layer": L, "n_head": NH, "activation_function": "gelu_new",
               "layer_norm_epsilon": 1e-5, "tie_word_embeddings": True}, f, indent=2)

# the forward pass, GPT-2's definition, in float64
W = {k: v.astype(np.float64) for k, v in w.items()}
tokens = list(b"spar: 12+30=42") + [256]

def ln(x, g, b):
    m = x.mean(-1, keepdims=True)
    v = ((x - m) ** 2).mean(-1, keepdims=True)
    return (x - m) / np.sqrt(v + 1e-5) * g + b

def gelu_new(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))

n = len(tokens)
x = W["wte.weight"][tokens] + W["wpe.weight"][:n]
hs = C // NH
mask = np.triu(np.full((n, n), -np.inf), 1)
for i in range(L):
    a = ln(x, W[f"h.{i}.ln_1.weight"], W[f"h.{i}.ln_1.bias"])
    qkv = a @ W[f"h.{i}.attn.c_attn.weight"] + W[f"h.{i}.attn.c_attn.bias"]
    q, k, v = np.split(qkv, 3, axis=-1)
    heads = []
    for hh in range(NH):
        sl = slice(hh * hs, (hh + 1) * hs)
        s = q[:, sl] @ k[:, sl].T / math.sqrt(hs) + mask
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        heads.append(s @ v[:, sl])
    x = x + np.concatenate(heads, -1) @ W[f"h.{i}.attn.c_proj.weight"] + W[f"h.{i}.attn.c_proj.bias"]
    m = ln(x, W[f"h.{i}.ln_2.weight"], W[f"h.{i}.ln_2.bias"])
    x = x + gelu_new(m @ W[f"h.{i}.mlp.c_fc.weight"] + W[f"h.{i}.mlp.c_fc.bias"]) @ W[f"h.{i}.mlp.c_proj.weight"] \
        + W[f"h.{i}.mlp.c_proj.bias"]
logits = ln(x, W["ln_f.weight"], W["ln_f.bias"]) @ W["wte.weight"].T
with open(os.path.join(OUT, "logits.txt"), "w") as f:
    f.write(" ".join(str(t) for t in tokens) + "\n")
    for row in logits:
        f.write(" ".join("%.9g" % z for z in row) + "\n")
print("wrote", OUT, "logits", logits.shape, "range %.3f..%.3f" % (logits.min(), logits.max()))
