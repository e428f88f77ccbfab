"""Hugging Face model folders written and read for the reference: config.json (the keys the
families' real configs carry), generation_config.json, model.safetensors or a sharded index, and
the tiny tokenizer. The reader rebuilds the reference model from a folder, so a folder spar
writes (spar convert) is checked by the same code that checks spar's reading."""
import json
import os

import numpy as np
import torch

import hf_ref
import safetensors_io
import tiny_tokenizer

# One tiny configuration per family; tests override keys. vocab_size exceeds the tokenizer's
# ids (padded, as real models are).
VOCAB = 272


def config(arch, **kw):
    tok = {"bos_token_id": tiny_tokenizer.eos_id(), "eos_token_id": tiny_tokenizer.eos_id()}
    if arch == hf_ref.GPT2:
        c = {"architectures": [arch], "model_type": "gpt2", "n_embd": 64, "n_head": 4, "n_layer": 2,
             "n_positions": 32, "n_ctx": 32, "n_inner": None, "vocab_size": VOCAB, "activation_function": "gelu_new",
             "layer_norm_epsilon": 1e-5, "resid_pdrop": 0.1, "embd_pdrop": 0.1, "attn_pdrop": 0.1,
             "scale_attn_weights": True, "use_cache": True, "torch_dtype": "float32", **tok}
    else:
        model_type = {"LlamaForCausalLM": "llama", "MistralForCausalLM": "mistral", "Qwen2ForCausalLM": "qwen2",
                      "Qwen3ForCausalLM": "qwen3"}[arch]
        c = {"architectures": [arch], "model_type": model_type, "hidden_size": 64, "intermediate_size": 96,
             "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
             "hidden_act": "silu", "max_position_embeddings": 64, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
             "rope_scaling": None, "tie_word_embeddings": False, "vocab_size": VOCAB, "attention_dropout": 0.0,
             "initializer_range": 0.02, "use_cache": True, "torch_dtype": "float32", **tok}
        if arch == "LlamaForCausalLM":
            c.update(attention_bias=False, mlp_bias=False, pretraining_tp=1)
        if arch == "MistralForCausalLM":
            c.update(sliding_window=None)
        if arch in ("Qwen2ForCausalLM", "Qwen3ForCausalLM"):
            # as Qwen's releases carry them: a window that is switched off
            c.update(use_sliding_window=False, sliding_window=4096, max_window_layers=c["num_hidden_layers"])
        if arch == "Qwen3ForCausalLM":
            c.update(attention_bias=False)
    c.update(kw)
    return c


def random_model(cfg, seed):
    return hf_ref.randomize(hf_ref.build(cfg), seed)


def write(folder, cfg, tensors, dtype="F32", shards=1, tokenizer=True, merges_as_pairs=False, gen=None):
    """Writes a folder of cfg and {name: float64 tensor}; returns {name: stored float64 ndarray}
    (the values after rounding to dtype)."""
    os.makedirs(folder, exist_ok=True)
    cfg = dict(cfg, torch_dtype={"F32": "float32", "F16": "float16", "BF16": "bfloat16"}[dtype])
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    g = gen if gen is not None else {"bos_token_id": cfg.get("bos_token_id"), "eos_token_id": cfg.get("eos_token_id"),
                                     "transformers_version": "4.46.0"}
    with open(os.path.join(folder, "generation_config.json"), "w") as f:
        json.dump(g, f, indent=2)
    arrays = {k: v.detach().cpu().numpy() if torch.is_tensor(v) else np.asarray(v) for k, v in tensors.items()}
    if shards > 1:
        stored = safetensors_io.write_sharded(folder, arrays, shards, dtype)
    else:
        stored = safetensors_io.write(os.path.join(folder, "model.safetensors"), arrays, dtype)
    if tokenizer:
        with open(os.path.join(folder, "tokenizer.json"), "w", encoding="utf-8") as f:
            f.write(tiny_tokenizer.tokenizer_json(merges_as_pairs))
        with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
            f.write(tiny_tokenizer.tokenizer_config_json())
    return stored


def write_model(folder, cfg, seed, dtype="F32", shards=1, **kw):
    """A random reference model written to folder; returns the model holding the stored values."""
    m = random_model(cfg, seed)
    stored = write(folder, cfg, hf_ref.state(m), dtype, shards, **kw)
    return hf_ref.load_state(m, {k: torch.from_numpy(v) for k, v in stored.items()})


def read(folder):
    """(config, {name: (dtype, shape)}, reference model) of a folder. Raises on any tensor the
    config does not call for, a missing one or a wrong shape."""
    with open(os.path.join(folder, "config.json")) as f:
        cfg = json.load(f)
    raw = safetensors_io.read_folder(folder)
    m = hf_ref.build(cfg)
    hf_ref.load_state(m, {k: torch.from_numpy(np.ascontiguousarray(a)) for k, (_, _, a) in raw.items()})
    return cfg, {k: (dt, shape) for k, (dt, shape, _) in raw.items()}, m
