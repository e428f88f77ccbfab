#!/usr/bin/python3
"""The docker-compose deployment in a real Docker engine: builds the image from this checkout,
runs the README's attached `up` (it must return when the run ends), then a run that starts with
3 actors, is scaled to 5, gets a second judge, loses an actor and the first judge to
`docker kill` (the judge stays dead: the actors name it by its service name, which then stops
resolving, and the second judge serves alone), and is scaled down to 3 running actors.
Then chat self-play (docker/chat.yml: a prompt file, chat templates, a generative judge) runs
attached to its end. Checked from the run folder (copied out of the volume): iterations 0..N each once with lost 0, every (iteration, prompt) recorded once, every actor container contributed groups
(and every survivor after the kills), the second judge judged, and every checkpoint equals, byte
for byte, a one-machine `spar run` of the same config and seed (in the same image).

    test_compose.py [SOURCE_DIR]        exit 0 passed, 1 failed, 77 skipped (SPAR_SKIP_ENGINE=1,
                                        not root, no cgroups, no engine possible)
Env: SPAR_COMPOSE_CACHE (default /var/cache/spar-compose: base rootfs, engine data),
SPAR_COMPOSE ("docker-compose" or "docker compose"; default the first that works),
SPAR_COMPOSE_JUDGE_RESTART=1 (the killed judge is started again 2 s later; by default it stays
down and the second judge serves alone).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import yaml

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import engine  # noqa: E402  (tests/compose/engine.py)
import records  # noqa: E402  (tests/compose/records.py)

SKIP = 77
SRC = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", ".."))
COMPOSE_FILE = os.path.join(SRC, "docker", "docker-compose.yml")
SCALE_CONFIG = os.path.join(SRC, "tests", "compose", "scale.yaml")
BUILD_TAG = "spar-build:cache"  # docker/Dockerfile's build stage, kept as the next run's cache
T0 = time.time()
TIMES = {}


class Failed(Exception):
    pass


def log(msg):
    print("compose +%6.1f s: %s" % (time.time() - T0, msg), flush=True)


def check(cond, msg):
    if not cond:
        raise Failed(msg)


class Project:
    """One compose project (its own name, network and volume) on random loopback ports."""

    def __init__(self, eng, name, workdir, extra_files=()):
        self.eng, self.name, self.workdir = eng, name, workdir
        self.files = [COMPOSE_FILE] + list(extra_files)
        self.env = dict(eng.env, SPAR_HOST_IP="127.0.0.1", SPAR_CONTROL_PORT="", SPAR_PUBLISH_PORT="",
                        SPAR_HTTP_PORT="", SPAR_JUDGE_PORT="", SPAR_PROMETHEUS_PORT="")
        self.up_once = False

    def cmd(self, *args):
        out = list(self.eng.compose) + ["-p", self.name]
        for f in self.files:
            out += ["-f", f]
        return out + list(args)

    def run(self, *args, timeout=300, logname=None, check_rc=True):
        path = os.path.join(self.workdir, (logname or args[0]) + ".log")
        with open(path, "a") as out:
            r = subprocess.run(self.cmd(*args), env=self.env, stdout=out, stderr=subprocess.STDOUT,
                               timeout=timeout, cwd=SRC)
        if check_rc and r.returncode != 0:
            raise Failed("%s exited %d (log %s):\n%s" % (" ".join(self.cmd(*args)), r.returncode, path, tail(path)))
        return r.returncode

    def containers(self, service):
        """{container id: (name, running, exit code)} of a service, stopped ones too."""
        r = subprocess.run(self.cmd("ps", "-a", "-q", service), env=self.env, capture_output=True, text=True, cwd=SRC)
        ids = [i for i in r.stdout.split() if i]
        out = {}
        for cid in ids:
            st = self.eng.inspect(cid)
            out[st["Id"]] = (st["Name"].lstrip("/"), st["State"]["Running"], st["State"]["ExitCode"])
        return out

    def down(self):
        if self.up_once:
            self.run("down", "-v", "--remove-orphans", "-t", "5", timeout=120, check_rc=False)


def tail(path, n=40):
    try:
        return "".join(open(path, errors="replace").readlines()[-n:])
    except OSError:
        return ""


def http_status(port):
    import urllib.request
    with urllib.request.urlopen("http://127.0.0.1:%d/status" % port, timeout=2) as r:
        return json.loads(r.read())


def wait_for(what, pred, timeout, every=0.3):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = pred()
        except Exception as e:  # the learner not listening yet, a status being replaced
            last = e
        if last and not isinstance(last, Exception):
            return last
        time.sleep(every)
    raise Failed("timed out after %.0f s waiting for %s (last: %r)" % (timeout, what, last))


def readme_up(eng, workdir):
    """The README's attached command: it must end when the run ends, with the learner's code."""
    p = Project(eng, "sparreadme%d" % os.getpid(), workdir)
    p.up_once = True
    try:
        t = time.time()
        rc = p.run("up", "--build", "--exit-code-from", "learner", "--scale", "actor=2", timeout=240,
                   logname="readme-up", check_rc=False)
        TIMES["readme_up_s"] = time.time() - t
        check(rc == 0, "the README's `up --exit-code-from learner` exited %d:\n%s" % (rc, tail(os.path.join(workdir, "readme-up.log"))))
        (lid, (_, _, lrc)), = p.containers("learner").items()
        check(lrc == 0, "the learner exited %d" % lrc)
        out = os.path.join(workdir, "readme-run")
        eng.docker("cp", lid + ":/runs/cluster", out)
        st = json.load(open(os.path.join(out, "status.json")))
        check(st["state"] == "finished" and st["iteration"] == st["iterations"],
              "the README's run ended unfinished: %s" % st)
        log("README command: `up --build --exit-code-from learner --scale actor=2` returned 0 after %.1f s, "
            "run finished (%d iterations)" % (TIMES["readme_up_s"], st["iterations"]))
    finally:
        p.down()


def chat_up(eng, workdir):
    """Chat self-play in the cluster (docker/chat.yml): a prompt file, the policy's chat template,
    a generative judge, 2 actors; attached, it ends with the run, and its lines hold the held-out
    metrics."""
    p = Project(eng, "sparchat%d" % os.getpid(), workdir, [os.path.join(SRC, "docker", "chat.yml")])
    p.up_once = True
    try:
        t = time.time()
        rc = p.run("up", "--exit-code-from", "learner", "--scale", "actor=2", timeout=300, logname="chat-up",
                   check_rc=False)
        TIMES["chat_up_s"] = time.time() - t
        check(rc == 0, "the chat run exited %d:\n%s" % (rc, tail(os.path.join(workdir, "chat-up.log"))))
        (lid, _), = p.containers("learner").items()
        out = os.path.join(workdir, "chat-run")
        eng.docker("cp", lid + ":/runs/cluster", out)
        lines = [json.loads(l) for l in open(os.path.join(out, "iterations.jsonl"))]
        check([l["iteration"] for l in lines] == [0, 1, 2], "chat run iterations %s" % [l["iteration"] for l in lines])
        for l in lines[1:]:
            check(l["samples"] == 16 * 4 and l["lost"] == 0, "chat iteration %d: %s" % (l["iteration"], l))
            for key in ("win_rate_vs_init", "length_mean", "truncated", "position_bias", "judge_tie_rate"):
                check(isinstance(l.get(key), (int, float)), "chat iteration %d: %s is %r" % (l["iteration"], key, l.get(key)))
        log("chat run: `-f docker/chat.yml up --exit-code-from learner --scale actor=2` returned 0 after %.1f s; "
            "win rate vs the initial policy %.3f, mean length %.1f tokens" %
            (TIMES["chat_up_s"], lines[-1]["win_rate_vs_init"], lines[-1]["length_mean"]))
    finally:
        p.down()


def scale_run(eng, workdir):
    cfg = yaml.safe_load(open(SCALE_CONFIG))
    iterations, prompts = cfg["run"]["iterations"], cfg["task"]["prompts"]
    override = os.path.join(workdir, "scale-override.yml")
    with open(override, "w") as f:
        f.write("# the test's run config mounted where the services read theirs\nservices:\n")
        for s in ("learner", "judge", "actor"):
            f.write("  %s:\n    volumes:\n      - %s:/etc/spar/run.yaml:ro\n" % (s, SCALE_CONFIG))
    p = Project(eng, "sparscale%d" % os.getpid(), workdir, [override])

    # the reference: the same config and seed on one machine, in the same image, alongside
    refdir = os.path.join(workdir, "ref")
    os.makedirs(refdir)
    os.chmod(refdir, 0o777)
    ref = eng.docker("run", "-d", "--network", "none", "-v", SCALE_CONFIG + ":/etc/spar/run.yaml:ro",
                     "-v", refdir + ":/out", "spar:latest", "run", "--config", "/etc/spar/run.yaml",
                     "--set", "run.dir=/out/run", "--set", "actor.delay_ms=0").strip()
    eng.cleanup.append(lambda: eng.docker("rm", "-f", ref, check=False))

    p.up_once = True
    try:
        t = time.time()
        p.run("up", "-d", "--scale", "actor=3", logname="scale-up")
        port = int(subprocess.run(p.cmd("port", "learner", "9100"), env=p.env, capture_output=True, text=True,
                                  cwd=SRC).stdout.strip().rsplit(":", 1)[1])
        status = lambda: http_status(port)  # noqa: E731
        live = lambda st, role: [q for q in st["peers"] if q["role"] == role and q["state"] != "silent"]  # noqa: E731
        st = wait_for("3 actors at iteration 8", lambda: (lambda s: s if s["iteration"] >= 8 and len(live(s, "actor")) == 3 else None)(status()), 90)
        log("iteration %d with 3 actors (%.1f s after up)" % (st["iteration"], time.time() - t))

        p.run("up", "-d", "--no-recreate", "--scale", "actor=5", logname="scale-up")
        scaled_at = status()["iteration"]
        st = wait_for("5 live actors", lambda: (lambda s: s if len(live(s, "actor")) == 5 else None)(status()), 60)
        log("scaled to 5 actors at iteration %d; 5 live at iteration %d" % (scaled_at, st["iteration"]))

        p.run("run", "-d", "--no-deps", "judge", logname="judge-b")
        st = wait_for("a second judge in the pool", lambda: (lambda s: s if len(live(s, "judge")) == 2 else None)(status()), 60)
        log("second judge joined at iteration %d" % st["iteration"])

        actors = p.containers("actor")
        judges = p.containers("judge")
        first_judge = [c for c, (name, _, _) in judges.items() if "_run_" not in name and "-run-" not in name]
        check(len(actors) == 5 and len(first_judge) == 1, "containers: %s %s" % (actors, judges))
        victim = sorted(actors, key=lambda c: actors[c][0])[0]
        eng.docker("kill", victim)
        killed_actor_at = status()["iteration"]
        log("docker kill %s (actor) at iteration %d" % (actors[victim][0], killed_actor_at))
        wait_for("2 iterations after the actor's death", lambda: status()["iteration"] >= killed_actor_at + 2, 60)
        eng.docker("kill", first_judge[0])
        killed_judge_at = status()["iteration"]
        log("docker kill %s (judge) at iteration %d" % (judges[first_judge[0]][0], killed_judge_at))
        # the killed judge stays dead and the second judge serves alone (the actors name the
        # first in judge.endpoints by its service name, which stops resolving);
        # SPAR_COMPOSE_JUDGE_RESTART=1 brings it back as `restart: on-failure` would a crashed one
        if os.environ.get("SPAR_COMPOSE_JUDGE_RESTART", "0") == "1":
            time.sleep(2)
            eng.docker("start", first_judge[0])
        t_back = time.time()
        wait_for("2 iterations after the judge's death", lambda: status()["iteration"] > killed_judge_at + 1, 90)
        log("iteration %d reached %.1f s later" % (killed_judge_at + 2, time.time() - t_back))

        # scaled down mid-run: compose stops (SIGTERM) and removes one of the 4 live actors, which
        # says goodbye, so its lease is re-queued at once (compose counts the killed container as
        # one of the service's, so 4 leaves 3 running)
        p.run("up", "-d", "--no-recreate", "--scale", "actor=4", logname="scale-down")
        downed = [c for c in actors if c != victim and c not in p.containers("actor")]
        scaled_down_at = status()["iteration"]
        check(len(downed) == 1, "scaling down removed %d running actor containers, not 1" % len(downed))
        log("scaled down to 3 actors at iteration %d (%s removed)" % (scaled_down_at, actors[downed[0]][0]))
        wait_for("2 iterations after scaling down", lambda: status()["iteration"] >= scaled_down_at + 2, 60)

        (lid, _), = p.containers("learner").items()
        rc = eng.wait(lid, 150)
        TIMES["scale_run_s"] = time.time() - t
        check(rc == 0, "the learner exited %s" % rc)
        log("the learner exited 0, %.1f s after up" % TIMES["scale_run_s"])
        check(scaled_down_at + 5 < iterations, "the run was too short: scaled down at iteration %d of %d"
              % (scaled_down_at, iterations))

        run = os.path.join(workdir, "run")
        eng.docker("cp", lid + ":/runs/cluster", run)
        for cid, (name, running, code) in p.containers("actor").items():
            if cid != victim:
                wait_for("actor %s to stop" % name, lambda: not eng.inspect(cid)["State"]["Running"], 30)
                code = eng.inspect(cid)["State"]["ExitCode"]
                check(code == 0, "actor %s exited %d after the run" % (name, code))

        # the reference must be done too (it runs without delays, so long since)
        rrc = eng.wait(ref, 120)
        check(rrc == 0, "the reference spar run exited %s:\n%s" % (rrc, eng.docker("logs", "--tail", "30", ref, check=False)))

        # ---- the run folder ----
        lines = records.read_jsonl(os.path.join(run, "iterations.jsonl"))
        check([ln["iteration"] for ln in lines] == list(range(iterations + 1)),
              "iterations.jsonl holds iterations %s, not 0..%d" % ([ln["iteration"] for ln in lines], iterations))
        lost = [(ln["iteration"], ln["lost"]) for ln in lines if ln["lost"] != 0]
        check(not lost, "prompts lost (iteration, lost): %s" % lost)
        groups = records.read_groups(os.path.join(run, "records", "groups.pb"))
        seen = {}
        for g in groups:
            key = (g["iteration"], g["prompt_id"])
            check(key not in seen, "prompt %d of iteration %d recorded twice" % (key[1], key[0]))
            check(g["policy_version"] == g["iteration"] - 1, "group %s sampled by version %d" % (key, g["policy_version"]))
            seen[key] = g["actor_id"]
        missing = [(i, q) for i in range(1, iterations + 1) for q in range(prompts) if (i, q) not in seen]
        check(not missing, "%d (iteration, prompt) never recorded, e.g. %s" % (len(missing), missing[:5]))

        # every actor container contributed: ids are BASE.PID@HOSTNAME, the hostname the container's
        by_host = {}
        for g in groups:
            by_host.setdefault(g["actor_id"].rsplit("@", 1)[-1], []).append(g["iteration"])
        for cid, (name, _, _) in actors.items():
            its = by_host.get(cid[:12], [])
            check(its, "actor %s (%s) contributed no group; groups came from %s" % (name, cid[:12], sorted(by_host)))
            if cid != victim:
                check(max(its) > killed_judge_at, "actor %s contributed nothing after the kills (last iteration %d)"
                      % (name, max(its)))
            if cid != victim and cid not in downed:
                check(max(its) > scaled_down_at, "actor %s contributed nothing after the scale-down (last iteration %d)"
                      % (name, max(its)))
        check(len(by_host) == 5, "groups from %d hosts, 5 actors ran: %s" % (len(by_host), sorted(by_host)))
        log("groups per actor: %s" % {actors[c][0]: len(by_host[c[:12]]) for c in actors})

        st = json.load(open(os.path.join(run, "status.json")))
        check(st["state"] == "finished", "status.json: state %s" % st["state"])
        peers = {q["id"]: q for q in st["peers"]}
        for cid, (name, _, _) in actors.items():
            if cid != victim and cid not in downed:  # the scaled-down one said goodbye: left, not listed
                check(any(i.endswith("@" + cid[:12]) for i in peers), "status.json lists no peer for actor %s: %s"
                      % (name, sorted(peers)))
        second = [c for c in judges if c not in first_judge][0]
        jb = [q for i, q in peers.items() if i.endswith("@" + second[:12])]
        check(jb and jb[0]["groups"] > 0, "the second judge judged no group: %s" % jb)

        # the final checkpoint (and every one before it) is the one-machine run's, byte for byte
        for v in range(iterations + 1):
            name = "checkpoints/iter-%04d.safetensors" % v
            a, b = open(os.path.join(run, name), "rb").read(), open(os.path.join(refdir, "run", name), "rb").read()
            check(a == b, "%s differs from the one-machine run's (%d and %d bytes)" % (name, len(a), len(b)))
        log("checked: iterations 0..%d, lost 0, %d groups each (iteration, prompt) once, 5 actors contributed, "
            "4 survivors after the kills, 3 after the scale-down, the second judge judged %d, %d checkpoints equal the one-machine run's"
            % (iterations, len(groups), jb[0]["groups"], iterations + 1))
    except Failed:
        # every container of the project, one-off ones (the second judge) too
        ids = eng.docker("ps", "-a", "-q", "--filter", "label=com.docker.compose.project=" + p.name, check=False).split()
        for cid in ids:
            name = eng.inspect(cid)["Name"].lstrip("/")
            r = subprocess.run([engine.DOCKER, "logs", "--tail", "15", cid], env=eng.env, capture_output=True, text=True)
            print("---- %s (last lines) ----\n%s%s" % (name, r.stdout[-3000:], r.stderr[-3000:]), flush=True)
        raise
    finally:
        p.down()


def main():
    reason = engine.skip_reason()
    if reason:
        print("compose: skipped: " + reason)
        print("0 passed, 0 failed, 1 skipped")
        return SKIP
    # not /tmp/spar-*: other tools clean those; kept on failure for its logs
    workdir = tempfile.mkdtemp(prefix="compose-test.", dir="/var/tmp")
    eng = engine.Engine(workdir, log)
    rc = 1
    try:
        eng.start()
        TIMES["engine_s"] = time.time() - T0
        t = time.time()
        eng.base_images(os.path.join(SRC, "tests", "compose", "base_image.sh"))
        TIMES["base_image_s"] = time.time() - t
        t = time.time()
        p = Project(eng, "sparbuild%d" % os.getpid(), workdir)
        old = {tag: eng.image_id(tag) for tag in ("spar:latest", BUILD_TAG)}
        p.run("build", logname="build", timeout=1200)
        TIMES["image_build_s"] = time.time() - t
        log("image spar:latest built from %s in %.1f s" % (SRC, TIMES["image_build_s"]))
        # the build stage tagged (a cache hit), so its apt layer outlives the images it replaces,
        # which are dropped: the engine's data does not grow with every run
        eng.docker("build", "--network", "host", "--target", "build", "-t", BUILD_TAG, "-f",
                   os.path.join(SRC, "docker", "Dockerfile"), SRC, timeout=1200)
        for tag, iid in old.items():
            if iid and iid != eng.image_id(tag):
                eng.docker("rmi", iid, check=False)
        readme_up(eng, workdir)
        chat_up(eng, workdir)
        scale_run(eng, workdir)
        rc = 0
    except (Failed, RuntimeError) as e:
        log("FAILED: %s" % e)
    except subprocess.TimeoutExpired as e:
        log("FAILED: timed out: %s" % e)
    finally:
        if eng.pid and eng.image_id(BUILD_TAG):
            eng.docker("image", "prune", "-f", check=False)  # our own engine's: what no tag keeps
        eng.stop()
    TIMES["total_s"] = time.time() - T0
    log("times: " + ", ".join("%s %.1f" % kv for kv in TIMES.items()) +
        (" (logs in %s)" % workdir if rc else ""))
    if rc == 0:
        shutil.rmtree(workdir, ignore_errors=True)
    print("compose: %d passed, %d failed" % (rc == 0, rc != 0))
    return rc


if __name__ == "__main__":
    sys.exit(main())
