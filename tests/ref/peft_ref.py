"""spar's LoRA adapters against PEFT's published format, read and written here from its
specification (no peft import): a LoRA folder is adapter_config.json ({"peft_type": "LORA",
"task_type": "CAUSAL_LM", "r", "lora_alpha", "target_modules", "lora_dropout", "bias": "none",
"fan_in_fan_out": false, "use_rslora": false, "base_model_name_or_path", "inference_mode", ...})
and adapter_model.safetensors with, per adapted nn.Linear W (out, in) of layer i,
  base_model.model.model.layers.{i}.self_attn.{q,k,v,o}_proj.lora_A.weight   (r, in)
  base_model.model.model.layers.{i}.mlp.{gate,up,down}_proj.lora_A.weight    (r, in)
and the same names with lora_B (out, r); the adapted layer computes
  y = W x + b + (lora_alpha / r) * B (A x)
(no dropout at inference), i.e. the merged weight is W + (lora_alpha / r) B A.

For a Llama (GQA) and a Qwen2 (q/k/v biases, tied head) base:
  1. an adapter folder written here in PEFT's layout: `spar logits BASE --adapter DIR` must give
     the logits of the reference model with the weights merged in float64 (relative error per
     sequence <= 1e-4);
  2. `spar convert BASE OUT --adapter DIR` writes the adapters in spar's writer: OUT must be
     PEFT's layout (the config keys and values above, exactly the expected tensor names and
     shapes, F32), its values the ones read, bit for bit;
  3. `spar merge --base BASE --adapter OUT --out M`: M's weights are the float64 merge to float
     rounding, and its logits (spar logits M) the reference's.
Usage: peft_ref.py SPAR_BINARY. Exit 0 pass, 1 fail, 77 when torch or numpy is missing."""
import json
import math
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import torch
except ImportError as e:
    print(f"skipped: {e} (Debian's python3-torch and python3-numpy are needed)")
    sys.exit(77)

HERE = os.path.dirname(os.path.realpath(__file__))
sys.path.insert(0, HERE)
import hf_folder  # noqa: E402
import hf_ref  # noqa: E402
import safetensors_io  # noqa: E402

TOL = 1e-4
TIMEOUT = 300
ATTN, MLP = ("q_proj", "k_proj", "v_proj", "o_proj"), ("gate_proj", "up_proj", "down_proj")
SPAR = None
FAILURES = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        FAILURES.append(what)
    return ok


def spar(*args, stdin=None):
    r = subprocess.run([SPAR, *args], input=stdin, capture_output=True, text=True, timeout=TIMEOUT)
    check("Sanitizer" not in r.stderr and "runtime error:" not in r.stderr,
          f"spar {' '.join(args[:1])}: no sanitizer report")
    return r.returncode, r.stdout, r.stderr


def module_of(t):
    return "self_attn" if t in ATTN else "mlp"


def lin_shape(cfg, t):
    """(out, in) of nn.Linear t."""
    d, hd, f = cfg["hidden_size"], cfg["head_dim"], cfg["intermediate_size"]
    q, kv = cfg["num_attention_heads"] * hd, cfg["num_key_value_heads"] * hd
    return {"q_proj": (q, d), "k_proj": (kv, d), "v_proj": (kv, d), "o_proj": (d, q), "gate_proj": (f, d),
            "up_proj": (f, d), "down_proj": (d, f)}[t]


def adapter_names(cfg, targets):
    out = {}
    for i in range(cfg["num_hidden_layers"]):
        for t in targets:
            o, n = lin_shape(cfg, t)
            pre = f"base_model.model.model.layers.{i}.{module_of(t)}.{t}"
            out[pre + ".lora_A.weight"] = (o, n, "A")
            out[pre + ".lora_B.weight"] = (o, n, "B")
    return out


def write_adapter(folder, cfg, base_dir, r, alpha, targets, seed):
    """A PEFT LoRA folder: A kaiming-uniform (a = sqrt(5): U(-1/sqrt(in), 1/sqrt(in))) as PEFT
    initialises it, and B random (PEFT starts it at 0, which would hide it). Returns the arrays."""
    os.makedirs(folder, exist_ok=True)
    g = np.random.default_rng(seed)
    tensors = {}
    for name, (o, n, which) in adapter_names(cfg, targets).items():
        bound = 1 / math.sqrt(n)
        tensors[name] = (g.uniform(-bound, bound, (r, n)) if which == "A" else 0.3 * g.standard_normal((o, r))).astype(
            np.float32)
    safetensors_io.write(os.path.join(folder, "adapter_model.safetensors"), tensors, "F32", metadata={"format": "pt"})
    conf = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "base_model_name_or_path": base_dir, "r": r,
            "lora_alpha": alpha, "lora_dropout": 0.05, "target_modules": list(targets), "bias": "none",
            "fan_in_fan_out": False, "inference_mode": True, "use_rslora": False, "init_lora_weights": True,
            "modules_to_save": None, "layers_to_transform": None, "layers_pattern": None, "rank_pattern": {},
            "alpha_pattern": {}, "revision": None, "use_dora": False}
    with open(os.path.join(folder, "adapter_config.json"), "w") as f:
        json.dump(conf, f, indent=2)
    return tensors


def read_adapter(folder):
    """(config, {name: (dtype, shape, float64 array)}) of a PEFT folder."""
    with open(os.path.join(folder, "adapter_config.json")) as f:
        conf = json.load(f)
    tensors, _ = safetensors_io.read(os.path.join(folder, "adapter_model.safetensors"))
    return conf, tensors


def merged_model(cfg, base_state, conf, tensors):
    """The reference model with W + (lora_alpha / r) B A, in float64, from the adapter's own files."""
    s = conf["lora_alpha"] / conf["r"]
    state = {k: v.clone() for k, v in base_state.items()}
    for i in range(cfg["num_hidden_layers"]):
        for t in conf["target_modules"]:
            pre = f"base_model.model.model.layers.{i}.{module_of(t)}.{t}"
            A = torch.from_numpy(np.asarray(tensors[pre + ".lora_A.weight"][2], dtype=np.float64))
            B = torch.from_numpy(np.asarray(tensors[pre + ".lora_B.weight"][2], dtype=np.float64))
            w = f"model.layers.{i}.{module_of(t)}.{t}.weight"
            state[w] = state[w].to(torch.float64) + s * (B @ A)
    m = hf_ref.build(cfg)
    return hf_ref.load_state(m, state), state


def sequences(cfg, seed):
    g = np.random.default_rng(seed)
    V, ctx = cfg["vocab_size"], cfg["max_position_embeddings"]
    return [[int(g.integers(V))], g.integers(0, V, 7).tolist(), g.integers(0, V, ctx).tolist()]


def check_logits(name, args, model, seqs):
    rc, out, errs = spar("logits", *args, stdin="".join(json.dumps({"ids": s}) + "\n" for s in seqs))
    if not check(rc == 0, f"{name}: spar logits exit {rc} {errs.strip()[:300]}"):
        return
    lines = out.splitlines()
    if not check(len(lines) == len(seqs), f"{name}: {len(lines)} logits lines for {len(seqs)}"):
        return
    worst = 0.0
    for s, line in zip(seqs, lines):
        got = torch.tensor(json.loads(line)["logits"], dtype=torch.float64)
        ref = hf_ref.logits(model, s)
        worst = max(worst, ((got - ref).abs().max() / ref.abs().max()).item())
    check(worst <= TOL, f"{name}: logits relative error {worst:.2e} <= {TOL:g}")


def run_case(name, arch, over, r, alpha, targets, tmp):
    cfg = hf_folder.config(arch, **over)
    base = os.path.join(tmp, name, "base")
    seed = sum(map(ord, name))
    model = hf_folder.write_model(base, cfg, seed)
    base_state = {k: v.detach().clone() for k, v in hf_ref.state(model).items()}
    seqs = sequences(cfg, seed)

    # 1. PEFT's folder, read by spar
    ad = os.path.join(tmp, name, "adapter")
    written = write_adapter(ad, cfg, base, r, alpha, targets, seed + 1)
    conf, tensors = read_adapter(ad)
    ref, merged_state = merged_model(cfg, base_state, conf, tensors)
    check_logits(f"{name}: spar logits --adapter (PEFT folder written here)", [base, "--adapter", ad], ref, seqs)
    # the adapters change the model: the base's logits differ
    diff = (hf_ref.logits(ref, seqs[1]) - hf_ref.logits(model, seqs[1])).abs().max().item()
    check(diff > 1e-2, f"{name}: the adapters move the logits ({diff:.3g})")

    # 2. spar's writer: PEFT's layout, the same values
    out = os.path.join(tmp, name, "spar_adapter")
    rc, _, errs = spar("convert", base, out, "--adapter", ad)
    if not check(rc == 0, f"{name}: spar convert --adapter exit {rc} {errs.strip()[:300]}"):
        return
    sconf, stensors = read_adapter(out)
    want = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": r, "lora_alpha": alpha, "lora_dropout": 0.0,
            "bias": "none", "fan_in_fan_out": False, "inference_mode": True, "use_rslora": False,
            "base_model_name_or_path": base}
    for k, v in want.items():
        check(sconf.get(k) == v, f"{name}: spar's adapter_config.json {k} = {sconf.get(k)!r}, want {v!r}")
    check(sorted(sconf.get("target_modules", [])) == sorted(targets),
          f"{name}: target_modules {sconf.get('target_modules')}")
    names = adapter_names(cfg, targets)
    check(set(stensors) == set(names), f"{name}: spar's tensor names are PEFT's ({len(stensors)} of {len(names)})")
    ok = True
    for k, (o, n, which) in names.items():
        dt, shape, a = stensors.get(k, ("?", (), None))
        ok &= dt == "F32" and tuple(shape) == ((r, n) if which == "A" else (o, r)) and a is not None and \
            np.array_equal(a.astype(np.float32), written[k])
    check(ok, f"{name}: spar's tensors F32, of PEFT's shapes, the values read bit for bit")

    # 3. spar merge
    mdir = os.path.join(tmp, name, "merged")
    rc, _, errs = spar("merge", "--base", base, "--adapter", out, "--out", mdir)
    if not check(rc == 0, f"{name}: spar merge exit {rc} {errs.strip()[:300]}"):
        return
    _, _, mmodel = hf_folder.read(mdir)
    mstate = hf_ref.state(mmodel)
    worst = 0.0
    for k, v in hf_ref.state(ref).items():
        worst = max(worst, ((mstate[k].to(torch.float64) - v).abs().max() / max(v.abs().max().item(), 1e-30)).item())
    check(worst <= 1e-6, f"{name}: merged weights = W + (alpha / r) B A (relative error {worst:.2e})")
    check_logits(f"{name}: spar logits of the merged folder", [mdir], ref, seqs)


def main():
    global SPAR
    if len(sys.argv) != 2:
        print("usage: peft_ref.py SPAR_BINARY")
        return 2
    SPAR = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        run_case("llama", "LlamaForCausalLM", {}, 4, 12, ["q_proj", "v_proj", "o_proj", "down_proj"], tmp)
        run_case("qwen2", "Qwen2ForCausalLM", {"tie_word_embeddings": True}, 3, 5,
                 list(ATTN + MLP), tmp)
    print(f"{len(FAILURES)} failure(s)")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
