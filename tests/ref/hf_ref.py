"""Reference causal LMs in PyTorch (1.13), written from the published equations of Hugging Face's
modeling_llama / modeling_mistral / modeling_qwen2 / modeling_qwen3 / modeling_gpt2, independent of
spar's C code. Module attribute names follow the Hugging Face layout, so a module's state_dict()
names are the tensor names of a Hugging Face checkpoint (the tied head left out on writing).

The same modules serve the golden test (float64, no grad) and the PyTorch peer of `spar bench
model` (float32, with grad or a KV cache): attention is matmul + causal mask, as torch 1.13 has no
scaled_dot_product_attention.

Families (config["architectures"][0]):
  LlamaForCausalLM, MistralForCausalLM  RMSNorm, RoPE (rotate_half), GQA, SwiGLU
  Qwen2ForCausalLM                      the same with biases on q/k/v (not o)
  Qwen3ForCausalLM                      no biases; RMSNorm over head_dim on q and k before RoPE;
                                        head_dim from the config (need not be hidden/heads)
  GPT2LMHeadModel                       LayerNorm, learned positions, Conv1D (in, out) weights,
                                        gelu_new, tied head
  Llama/Mistral/Qwen2/Qwen3ForSequenceClassification
                                        the family's trunk, no lm_head; score (num_labels, hidden),
                                        no bias, read at the last token that is not pad_token_id
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

DECODERS = ("LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM")
GPT2 = "GPT2LMHeadModel"


# A sequence classifier's trunk is its family's causal LM's: architecture() names that family.
SEQCLS = {"LlamaForSequenceClassification": "LlamaForCausalLM",
          "MistralForSequenceClassification": "MistralForCausalLM",
          "Qwen2ForSequenceClassification": "Qwen2ForCausalLM",
          "Qwen3ForSequenceClassification": "Qwen3ForCausalLM"}


def architecture(cfg):
    a = cfg["architectures"][0]
    return SEQCLS.get(a, a)


def is_seqcls(cfg):
    return cfg["architectures"][0] in SEQCLS


def num_labels(cfg):
    """As transformers' PretrainedConfig derives it: id2label's size, else num_labels, else 2."""
    if cfg.get("id2label"):
        return len(cfg["id2label"])
    return cfg.get("num_labels", 2)


def tied(cfg):
    """Whether the head is the embedding: the config's key, else the family's default (HF's
    PretrainedConfig defaults to True, which GPT-2 keeps; Llama, Mistral, Qwen2 and Qwen3 default
    to False)."""
    if "tie_word_embeddings" in cfg:
        return bool(cfg["tie_word_embeddings"])
    return architecture(cfg) == GPT2


# ---- decoder family (Llama, Mistral, Qwen2, Qwen3) ----------------------------------------------

class RMSNorm(nn.Module):
    """y = w * x / sqrt(mean(x^2) + eps), over the last dimension."""

    def __init__(self, n, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.eps = eps

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


def head_dim(cfg):
    hd = cfg.get("head_dim")
    return int(hd) if hd else cfg["hidden_size"] // cfg["num_attention_heads"]


def eps(cfg):
    """rms_norm_eps, 1e-6 when absent (the default of all four decoder configs)."""
    return float(cfg.get("rms_norm_eps", 1e-6))


def kv_heads(cfg):
    """num_key_value_heads, defaulting to num_attention_heads (no GQA) as HF's configs do."""
    return cfg.get("num_key_value_heads") or cfg["num_attention_heads"]


def inv_freq(cfg):
    """theta^(-2i/d) for i < d/2, d = head_dim, with the llama3 rope_scaling when configured:
    wavelengths 2*pi/f longer than original_max/low_freq_factor are divided by factor, those
    shorter than original_max/high_freq_factor kept, and those between blended by
    s = (original_max/wavelength - low) / (high - low): (1-s) f/factor + s f. float64."""
    d = head_dim(cfg)
    theta = float(cfg.get("rope_theta", 10000.0))
    f = 1.0 / theta ** (torch.arange(0, d, 2, dtype=torch.float64) / d)
    rs = cfg.get("rope_scaling")
    if not rs:
        return f
    kind = rs.get("rope_type", rs.get("type"))
    if kind == "default":
        return f
    if kind != "llama3":
        raise ValueError(f"reference: rope_scaling type {kind} not modelled")
    factor, low, high = float(rs["factor"]), float(rs["low_freq_factor"]), float(rs["high_freq_factor"])
    old = float(rs["original_max_position_embeddings"])
    wavelen = 2 * math.pi / f
    scaled = torch.where(wavelen > old / low, f / factor, f)
    s = (old / wavelen - low) / (high - low)
    smoothed = (1 - s) * scaled / factor + s * scaled
    medium = (wavelen >= old / high) & (wavelen <= old / low)
    return torch.where(medium, smoothed, scaled)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def rope(x, pos, freqs):
    """x [B, H, T, d] at positions pos [T]: x cos + rotate_half(x) sin, angles pos*f repeated
    over both halves."""
    ang = pos.to(torch.float64)[:, None] * freqs[None, :]
    ang = torch.cat((ang, ang), dim=-1)
    cos, sin = ang.cos().to(x.dtype), ang.sin().to(x.dtype)
    return x * cos + rotate_half(x) * sin


def causal_attention(q, k, v, past_len, scale=None):
    """softmax(q k^T * scale + causal mask) v, scale 1/sqrt(d) unless given; q [B, H, T, d], k and
    v [B, H, S, d] with S = past_len + T (query i sits at position past_len + i)."""
    T, S = q.shape[2], k.shape[2]
    # q scaled rather than the T x S scores, and the mask filled in place: no score-sized copies
    att = torch.matmul(q * (1 / math.sqrt(q.shape[-1]) if scale is None else scale), k.transpose(-1, -2))
    if T > 1:
        i = torch.arange(T)[:, None] + past_len
        j = torch.arange(S)[None, :]
        att.masked_fill_(j > i, float("-inf"))
    return torch.matmul(torch.softmax(att, dim=-1), v)


def grouped_attention(q, k, v, past_len):
    """Attention with repeat_kv's semantics (query head h reads KV head h // (H / KV)) without
    repeating K and V: the queries of a KV head's group are stacked as rows, [B, KV, rep*T, d]."""
    B, H, T, d = q.shape
    kv = k.shape[1]
    rep = H // kv
    if rep == 1:
        return causal_attention(q, k, v, past_len)
    qg = (q * (1 / math.sqrt(d))).reshape(B, kv, rep * T, d)
    att = torch.matmul(qg, k.transpose(-1, -2))
    if T > 1:
        i = torch.arange(T).repeat(rep)[:, None] + past_len  # row r is query r % T
        j = torch.arange(k.shape[2])[None, :]
        att.masked_fill_(j > i, float("-inf"))
    return torch.matmul(torch.softmax(att, dim=-1), v).reshape(B, H, T, d)


def cache_append(cache, k, v):
    """k, v [B, KV, T, d] appended to a layer's cache ([] at first, then [K, V, length] in
    buffers that grow by doubling, so a step copies only its own T positions). Returns the keys
    and values of every position so far and how many came before. No cache: k, v, 0."""
    if cache is None:
        return k, v, 0
    T = k.shape[2]
    if not cache:
        cap = max(256, T)
        cache[:] = [k.new_empty(*k.shape[:2], cap, k.shape[3]), v.new_empty(*v.shape[:2], cap, v.shape[3]), 0]
    kb, vb, n = cache
    if n + T > kb.shape[2]:
        cap = 2 * (n + T)
        nk, nv = kb.new_empty(*kb.shape[:2], cap, kb.shape[3]), vb.new_empty(*vb.shape[:2], cap, vb.shape[3])
        nk[:, :, :n], nv[:, :, :n] = kb[:, :, :n], vb[:, :, :n]
        kb, vb = nk, nv
    kb[:, :, n:n + T], vb[:, :, n:n + T] = k, v
    cache[:] = [kb, vb, n + T]
    return kb[:, :, :n + T], vb[:, :, :n + T], n


class DecoderAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, self.nh, self.nkv, self.hd = cfg["hidden_size"], cfg["num_attention_heads"], kv_heads(cfg), head_dim(cfg)
        arch = architecture(cfg)
        # Qwen2: q/k/v always biased, o never; Llama and Qwen3: all four when attention_bias
        any_bias = arch in ("LlamaForCausalLM", "Qwen3ForCausalLM") and bool(cfg.get("attention_bias"))
        qkv_bias = arch == "Qwen2ForCausalLM" or any_bias
        self.q_proj = nn.Linear(d, self.nh * self.hd, bias=qkv_bias)
        self.k_proj = nn.Linear(d, self.nkv * self.hd, bias=qkv_bias)
        self.v_proj = nn.Linear(d, self.nkv * self.hd, bias=qkv_bias)
        self.o_proj = nn.Linear(self.nh * self.hd, d, bias=any_bias)
        if arch == "Qwen3ForCausalLM":
            self.q_norm = RMSNorm(self.hd, eps(cfg))
            self.k_norm = RMSNorm(self.hd, eps(cfg))
        else:
            self.q_norm = self.k_norm = None

    def forward(self, x, pos, freqs, cache):
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.nh, self.hd)
        k = self.k_proj(x).view(B, T, self.nkv, self.hd)
        v = self.v_proj(x).view(B, T, self.nkv, self.hd)
        if self.q_norm is not None:  # Qwen3: per head, before RoPE
            q, k = self.q_norm(q), self.k_norm(k)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        q, k = rope(q, pos, freqs), rope(k, pos, freqs)
        k, v, past_len = cache_append(cache, k, v)
        y = grouped_attention(q, k, v, past_len)
        return self.o_proj(y.transpose(1, 2).reshape(B, T, self.nh * self.hd))


class SwiGLU(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, m = cfg["hidden_size"], cfg["intermediate_size"]
        b = architecture(cfg) == "LlamaForCausalLM" and bool(cfg.get("mlp_bias"))
        self.gate_proj = nn.Linear(d, m, bias=b)
        self.up_proj = nn.Linear(d, m, bias=b)
        self.down_proj = nn.Linear(m, d, bias=b)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.input_layernorm = RMSNorm(cfg["hidden_size"], eps(cfg))
        self.self_attn = DecoderAttention(cfg)
        self.post_attention_layernorm = RMSNorm(cfg["hidden_size"], eps(cfg))
        self.mlp = SwiGLU(cfg)

    def forward(self, h, pos, freqs, cache):
        h = h + self.self_attn(self.input_layernorm(h), pos, freqs, cache)
        return h + self.mlp(self.post_attention_layernorm(h))


class DecoderBody(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg["vocab_size"], cfg["hidden_size"])
        self.layers = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg["num_hidden_layers"]))
        self.norm = RMSNorm(cfg["hidden_size"], eps(cfg))


class DecoderLM(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.model = DecoderBody(cfg)
        self.lm_head = nn.Linear(cfg["hidden_size"], cfg["vocab_size"], bias=False)
        if tied(cfg):
            self.lm_head.weight = self.model.embed_tokens.weight
        self.register_buffer("freqs", inv_freq(cfg), persistent=False)

    def hidden(self, ids, caches=None):
        """The final normed hidden states [B, T, d] of ids [B, T]; with caches (one list per
        layer, [] at first) the positions go on after what they hold, and they are extended."""
        past = caches[0][2] if caches and caches[0] else 0
        pos = torch.arange(past, past + ids.shape[1])
        h = self.model.embed_tokens(ids)
        for i, layer in enumerate(self.model.layers):
            h = layer(h, pos, self.freqs, caches[i] if caches is not None else None)
        return self.model.norm(h)

    def forward(self, ids, caches=None):
        return self.lm_head(self.hidden(ids, caches))


class DecoderSeqCls(nn.Module):
    """*ForSequenceClassification: score = Linear(hidden, num_labels, bias=False) on the final
    normed hidden states, read per sequence at the last position whose token is not
    pad_token_id (transformers: argmax of position * (ids != pad), so 0 when every token is pad;
    the last position when the config has no pad_token_id)."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.model = DecoderBody(cfg)
        self.score = nn.Linear(cfg["hidden_size"], num_labels(cfg), bias=False)
        self.register_buffer("freqs", inv_freq(cfg), persistent=False)

    hidden = DecoderLM.hidden

    def forward(self, ids):
        """[B, num_labels] scores of ids [B, T]."""
        logits = self.score(self.hidden(ids))
        pad = self.cfg.get("pad_token_id")
        T = ids.shape[1]
        if pad is None:
            last = torch.full((ids.shape[0],), T - 1, dtype=torch.long)
        else:
            last = (torch.arange(T) * (ids != pad).long()).argmax(-1)
        return logits[torch.arange(ids.shape[0]), last]


@torch.no_grad()
def seqcls_score(model, ids):
    """The score (label 0) of one sequence of ids (a list)."""
    return float(model(torch.tensor([ids]))[0, 0])


# ---- GPT-2 ----------------------------------------------------------------------------------------

class Conv1D(nn.Module):
    """GPT-2's linear layer: y = x W + b with W stored (in, out)."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_in, n_out))
        self.bias = nn.Parameter(torch.zeros(n_out))

    def forward(self, x):
        return torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight).view(*x.shape[:-1], -1)


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))


class GPT2Attention(nn.Module):
    def __init__(self, cfg, layer):
        super().__init__()
        c = cfg["n_embd"]
        self.nh = cfg["n_head"]
        # scores times 1/sqrt(head dim) when scale_attn_weights (default), and 1/(layer + 1) more
        # when scale_attn_by_inverse_layer_idx
        self.scale = (1 / math.sqrt(c // self.nh) if cfg.get("scale_attn_weights", True) else 1.0) / \
            (layer + 1 if cfg.get("scale_attn_by_inverse_layer_idx", False) else 1)
        self.c_attn = Conv1D(c, 3 * c)
        self.c_proj = Conv1D(c, c)

    def forward(self, x, cache):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.nh, C // self.nh).transpose(1, 2) for t in (q, k, v))
        k, v, past_len = cache_append(cache, k, v)
        y = causal_attention(q, k, v, past_len, self.scale)
        return self.c_proj(y.transpose(1, 2).reshape(B, T, C))


class GPT2MLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        c = cfg["n_embd"]
        inner = cfg.get("n_inner") or 4 * c
        self.c_fc = Conv1D(c, inner)
        self.c_proj = Conv1D(inner, c)

    def forward(self, x):
        return self.c_proj(gelu_new(self.c_fc(x)))


class GPT2Block(nn.Module):
    def __init__(self, cfg, layer):
        super().__init__()
        c, eps = cfg["n_embd"], cfg.get("layer_norm_epsilon", 1e-5)
        self.ln_1 = nn.LayerNorm(c, eps=eps)
        self.attn = GPT2Attention(cfg, layer)
        self.ln_2 = nn.LayerNorm(c, eps=eps)
        self.mlp = GPT2MLP(cfg)

    def forward(self, h, cache):
        h = h + self.attn(self.ln_1(h), cache)
        return h + self.mlp(self.ln_2(h))


class GPT2Body(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        c = cfg["n_embd"]
        self.wte = nn.Embedding(cfg["vocab_size"], c)
        self.wpe = nn.Embedding(cfg["n_positions"], c)
        self.h = nn.ModuleList(GPT2Block(cfg, i) for i in range(cfg["n_layer"]))
        self.ln_f = nn.LayerNorm(c, eps=cfg.get("layer_norm_epsilon", 1e-5))


class GPT2LM(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.transformer = GPT2Body(cfg)
        self.lm_head = nn.Linear(cfg["n_embd"], cfg["vocab_size"], bias=False)
        if tied(cfg):
            self.lm_head.weight = self.transformer.wte.weight

    def hidden(self, ids, caches=None):
        past = caches[0][2] if caches and caches[0] else 0
        pos = torch.arange(past, past + ids.shape[1])
        h = self.transformer.wte(ids) + self.transformer.wpe(pos)[None]
        for i, block in enumerate(self.transformer.h):
            h = block(h, caches[i] if caches is not None else None)
        return self.transformer.ln_f(h)

    def forward(self, ids, caches=None):
        return self.lm_head(self.hidden(ids, caches))


# ---- building, naming, weights -------------------------------------------------------------------

def build(cfg, dtype=torch.float64):
    arch = architecture(cfg)
    if arch == GPT2:
        m = GPT2LM(cfg)
    elif is_seqcls(cfg):
        m = DecoderSeqCls(cfg)
    elif arch in DECODERS:
        m = DecoderLM(cfg)
    else:
        raise ValueError(f"reference: unknown architecture {arch}")
    return m.to(dtype)


def semantics(cfg):
    """What of a config decides the computation, HF's defaults filled in: two configs with equal
    semantics give the same model from the same tensors."""
    arch = architecture(cfg)
    if arch == GPT2:
        keys = {"n_embd": None, "n_head": None, "n_layer": None, "n_positions": None, "vocab_size": None,
                "layer_norm_epsilon": 1e-5, "activation_function": "gelu_new", "scale_attn_weights": True,
                "scale_attn_by_inverse_layer_idx": False}
        out = {k: cfg.get(k, d) for k, d in keys.items()}
        out["n_inner"] = cfg.get("n_inner") or 4 * cfg["n_embd"]
    else:
        keys = {"hidden_size": None, "intermediate_size": None, "num_hidden_layers": None, "num_attention_heads": None,
                "max_position_embeddings": None, "vocab_size": None, "hidden_act": "silu"}
        out = {k: cfg.get(k, d) for k, d in keys.items()}
        out.update(num_key_value_heads=kv_heads(cfg), head_dim=head_dim(cfg), rms_norm_eps=eps(cfg),
                   inv_freq=[round(float(f), 12) for f in inv_freq(cfg)])
        if arch in ("LlamaForCausalLM", "Qwen3ForCausalLM"):
            out["attention_bias"] = bool(cfg.get("attention_bias", False))
        if arch == "LlamaForCausalLM":
            out["mlp_bias"] = bool(cfg.get("mlp_bias", False))
        sw = cfg.get("sliding_window")
        active = sw is not None and (arch == "MistralForCausalLM" or cfg.get("use_sliding_window", False))
        out["window"] = sw if active and sw < cfg["max_position_embeddings"] else None
    out.update(architecture=arch, tied=tied(cfg))
    return out


def n_layers(cfg):
    return cfg["n_layer"] if architecture(cfg) == GPT2 else cfg["num_hidden_layers"]


def n_positions(cfg):
    return cfg["n_positions"] if architecture(cfg) == GPT2 else cfg["max_position_embeddings"]


def checkpoint_names(model):
    """The Hugging Face tensor names of model and their shapes: its state_dict less the tied head."""
    sd = model.state_dict()
    if tied(model.cfg):
        sd.pop("lm_head.weight", None)  # a sequence classifier has no head to pop
    return {k: tuple(v.shape) for k, v in sd.items()}


# A token whose embedding is 1000 times smaller than the others: at the first norm its mean
# square (~1e-6) is below rms_norm_eps, so where eps goes (inside the sqrt) decides its output.
QUIET = 7


def randomize(model, seed):
    """Weights that make every part matter: norm gains 1 +- 0.2, biases +-0.2, projections of
    unit-ish gain (q/k and the head x2 so attention and softmax are peaked, the MLP's input x2.5 so
    its non-linearity is used well past the linear part), embeddings of scale 1 (QUIET's 1e-3),
    positions 0.3. Deterministic in seed."""
    g = torch.Generator().manual_seed(seed)
    conv = {n + ".weight" for n, mod in model.named_modules() if isinstance(mod, Conv1D)}
    with torch.no_grad():
        for name, p in model.named_parameters():
            leaf = name.rsplit(".", 1)[-1]
            if "norm" in name or ".ln_" in name or name.startswith("transformer.ln_f"):
                val = 1 + 0.2 * torch.randn(p.shape, generator=g, dtype=torch.float64) if leaf == "weight" else \
                    0.2 * torch.randn(p.shape, generator=g, dtype=torch.float64)
            elif leaf == "bias":
                val = 0.2 * torch.randn(p.shape, generator=g, dtype=torch.float64)
            elif "wpe" in name:
                val = 0.3 * torch.randn(p.shape, generator=g, dtype=torch.float64)
            elif "embed_tokens" in name or "wte" in name:
                val = torch.randn(p.shape, generator=g, dtype=torch.float64)
                if "embed_tokens" in name:
                    val[QUIET] *= 1e-3
            else:
                fan_in = p.shape[0] if name in conv else p.shape[1]
                gain = 2.0 if any(s in name for s in ("q_proj", "k_proj", "c_attn", "lm_head")) else \
                    2.5 if any(s in name for s in ("gate_proj", "up_proj", "mlp.c_fc")) else 1.0
                val = gain / math.sqrt(fan_in) * torch.randn(p.shape, generator=g, dtype=torch.float64)
            p.copy_(val.to(p.dtype))
    return model


def state(model):
    """name -> tensor as a checkpoint holds it (tied head left out)."""
    sd = model.state_dict()
    if tied(model.cfg):
        sd.pop("lm_head.weight", None)  # a sequence classifier has no head to pop
    return dict(sd)


# buffers older checkpoints carry and Hugging Face skips on loading: GPT-2's causal mask and
# masked_bias, Llama's rotary inv_freq
IGNORED = ("attn.bias", "attn.masked_bias", "rotary_emb.inv_freq")


def ignored(name):
    return any(name == s or name.endswith("." + s) for s in IGNORED)


def load_state(model, tensors):
    """Sets model's weights from a checkpoint's tensors (GPT-2 names with or without the
    'transformer.' prefix; the IGNORED buffers skipped). Raises KeyError on a missing or unexpected
    name, ValueError on a shape."""
    want = checkpoint_names(model)
    got = {}
    for k, v in tensors.items():
        if ignored(k) and k not in want:
            continue
        if architecture(model.cfg) == GPT2 and not k.startswith("transformer.") and k != "lm_head.weight":
            k = "transformer." + k
        got[k] = v
    missing, extra = sorted(set(want) - set(got)), sorted(set(got) - set(want))
    if missing or extra:
        raise KeyError(f"missing {missing}, unexpected {extra}")
    params = model.state_dict(keep_vars=True)
    with torch.no_grad():
        for k, shape in want.items():
            if tuple(got[k].shape) != shape:
                raise ValueError(f"{k}: shape {tuple(got[k].shape)}, want {shape}")
            params[k].copy_(got[k].to(params[k].dtype))
    return model


@torch.no_grad()
def logits(model, ids):
    """[T, V] logits of one sequence of ids (a list)."""
    return model(torch.tensor([ids]))[0]


@torch.no_grad()
def response_logprob(model, prompt, response):
    """sum over the response's tokens of log p(token | everything before it)."""
    seq = list(prompt) + list(response)
    lp = torch.log_softmax(logits(model, seq), dim=-1)
    pl = len(prompt)
    return float(sum(lp[t, seq[t + 1]] for t in range(pl - 1, len(seq) - 1)))
