#!/usr/bin/python3
"""Time and memory of one self-play iteration on a chat model of a real model's shape.

Writes random models of the shape with `spar tiny-models --shape` (the same sizes and
vocabulary as the real model, so the same speed: weights do not change the cost), then runs
`spar run` on configs/chat-sppo.yaml with a reward model of the same shape as the judge (or the
generative judge with --judge generative), and prints per iteration the wall time and where it
went (iterations.jsonl's time_s), and the peak resident memory of each role (sampled from /proc
every 0.2 s) and of all of them together.

    bench/chat_iteration.py SPAR [--shape smollm2-135m|qwen2.5-0.5b] [--lora 8] [--prompts 8]
                                 [--k 4] [--max-new 128] [--iterations 2] [--threads 2]
                                 [--lr LR] [--batch-seqs N]

The learning rate defaults to the published recipes' scale for a real model (5e-7 for the whole
model as SPPO, 5e-5 with LoRA), not the tiny configs' 1e-4, at which a model of this size diverges.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)


def roles_rss():
    """kB resident per role of the running spar processes (learner, judge, actor)."""
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            args = open("/proc/%s/cmdline" % pid, "rb").read().split(b"\0")
            if not args or not args[0].endswith(b"spar") or len(args) < 2:
                continue
            role = args[1].decode()
            if role not in ("learner", "judge", "actor"):
                continue
            for line in open("/proc/%s/status" % pid):
                if line.startswith("VmRSS:"):
                    out.setdefault(role, []).append(int(line.split()[1]))
        except OSError:
            continue
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("spar")
    ap.add_argument("--shape", default="smollm2-135m")
    ap.add_argument("--lora", type=int, default=0)
    ap.add_argument("--judge", default="reward", choices=["reward", "generative"])
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--max-new", type=int, default=128)
    ap.add_argument("--iterations", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lr", type=float, help="learner.lr (default 5e-7, with --lora 5e-5)")
    ap.add_argument("--batch-seqs", type=int, help="learner.batch_seqs, sequences per AdamW step (default K)")
    ap.add_argument("--keep", help="models folder to reuse (made when missing)")
    a = ap.parse_args()
    lr = a.lr if a.lr is not None else (5e-5 if a.lora else 5e-7)
    batch_seqs = a.batch_seqs or a.k
    work = tempfile.mkdtemp(prefix="spar-chat-bench.")
    models = a.keep or os.path.join(work, "models")
    try:
        if not os.path.exists(os.path.join(models, "policy", "config.json")):
            t = time.time()
            subprocess.run([a.spar, "tiny-models", models, "--shape", a.shape], check=True, stdout=subprocess.DEVNULL)
            print("models of shape %s written in %.0f s" % (a.shape, time.time() - t), flush=True)
        sets = {
            "run.dir": os.path.join(work, "run"), "run.iterations": a.iterations,
            "task.file": os.path.join(SRC, "examples", "prompts", "chat.jsonl"), "task.prompts": a.prompts,
            "task.eval_prompts": 4, "rollout.samples_per_prompt": a.k, "rollout.max_new": a.max_new,
            "policy.checkpoint": os.path.join(models, "policy"), "policy.lora.rank": a.lora,
            "judge.kind": a.judge, "judge.checkpoint": os.path.join(models, "reward" if a.judge == "reward" else "judge"),
            "judge.timeout_ms": 600000, "learner.lease_timeout_ms": 3600000, "learner.prompts_per_lease": a.prompts,
            "actor.count": 1, "gpt.threads": a.threads, "learner.batch_seqs": batch_seqs,
            "learner.lr": lr,
        }
        cmd = [a.spar, "run", os.path.join(SRC, "configs", "chat-sppo.yaml")]
        for k, v in sets.items():
            cmd += ["--set", "%s=%s" % (k, v)]
        peak, peak_total = {}, 0
        t0 = time.time()
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        while p.poll() is None:
            rss = roles_rss()
            for role, v in rss.items():
                peak[role] = max(peak.get(role, 0), max(v))
            peak_total = max(peak_total, sum(sum(v) for v in rss.values()))
            time.sleep(0.2)
        out = p.stdout.read()
        if p.returncode != 0:
            print(out)
            print("spar run failed (%d); run folder %s" % (p.returncode, work))
            return 1
        lines = [json.loads(l) for l in open(os.path.join(work, "run", "iterations.jsonl"))]
        if len(lines) < a.iterations + 1:
            print(out)
            print("spar run wrote %d of %d iteration lines" % (len(lines) - 1, a.iterations))
            return 1
        print("shape %s, LoRA rank %d, judge %s of the same shape: %d prompts x K=%d, max_new %d, %d thread(s) per "
              "process, lr %g, %d sequences per step, total %.0f s" %
              (a.shape, a.lora, a.judge, a.prompts, a.k, a.max_new, a.threads, lr, batch_seqs, time.time() - t0))
        ts0 = lines[0]["time_s"]
        print("before iteration 1: the initial checkpoint %.1f s and evaluation %.1f s" % (ts0["checkpoint"], ts0["evaluation"]))
        for l in lines[1:]:
            ts = l["time_s"]
            print("iteration %d: %.1f s (collect %.1f: sampling %.1f, judging %.1f; frozen log-probs %.1f, training %.1f;"
                  " then, beside the next collect: checkpoint %.1f, evaluation %.1f); mean length %.0f tokens" %
                  (l["iteration"], l["wall_s"], ts["collect"], ts["sampling"],
                   ts["judging"], ts["frozen_logprobs"], ts["training"], ts["checkpoint"], ts["evaluation"],
                   l["length_mean"]))
        print("peak resident memory: " + ", ".join("%s %.2f GB" % (r, kb / 1e6) for r, kb in sorted(peak.items())) +
              ", all processes %.2f GB" % (peak_total / 1e6))
        return 0
    finally:
        shutil.rmtree(os.path.join(work, "run"), ignore_errors=True)
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
