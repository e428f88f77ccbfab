"""hostile: the harness of the hostile-peer suite (tests/hostile/README.md).

Starts real spar processes (learner, judge, actor) on ipc:// endpoints in a private temp
folder, speaks spar's protocol to them with code protoc generates from proto/spar.proto, and
gives the cases what they assert on: heartbeats, memory (VmRSS/VmHWM), iterations.jsonl and
the final checkpoint of an undisturbed run of the same seed and config. Every process a case
starts is stopped when the case ends, also when it fails (and killed if this script dies).
"""
import ctypes
import json
import os
import resource
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import traceback

import zmq

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_DIR = os.path.normpath(os.path.join(HERE, "..", "..", "proto"))
SKIP = 77
U32, U64 = 2**32 - 1, 2**64 - 1

pb = None  # spar_pb2, generated at start


class Fail(Exception):
    """A case's assertion failed; the message is the evidence."""


class Skip(Exception):
    """A case cannot run here (exit 77)."""


def check(cond, what):
    if not cond:
        raise Fail(what)


def load_messages(tmp):
    global pb
    out = os.path.join(tmp, "pb")
    os.makedirs(out, exist_ok=True)
    if not shutil.which("protoc"):
        raise Skip("protoc not installed (Debian: protobuf-compiler)")
    subprocess.run(["protoc", "--python_out=" + out, "-I" + PROTO_DIR, "spar.proto"], check=True)
    sys.path.insert(0, out)
    import spar_pb2  # noqa: E402  (generated just above)
    pb = spar_pb2
    return pb


# ---- raw protobuf encoding (for what the generated code refuses to write) ------------------

def varint(n):
    n &= U64
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field_varint(num, value):
    return varint(num << 3) + varint(value)


def field_bytes(num, data):
    return varint((num << 3) | 2) + varint(len(data)) + data


def field_double(num, value):
    return varint((num << 3) | 1) + struct.pack("<d", value)


def raw_envelope(body_field, body, sender=b"hostile", run_id=b"", version=1, seq=1):
    """An Envelope built by hand: any bytes as ids, any body bytes."""
    return (field_varint(1, version) + field_bytes(2, run_id) + field_bytes(3, sender) +
            field_varint(4, seq) + field_bytes(body_field, body))


BODY = {"hello": 10, "welcome": 11, "heartbeat": 12, "work_request": 13, "work_grant": 14,
        "rollout_group": 15, "rollout_ack": 16, "judge_request": 17, "judge_reply": 18,
        "weights_available": 19, "weights_fetch": 20, "weights_chunk": 21,
        "iteration_summary": 22, "shutdown": 23, "status_request": 24, "status": 25,
        "judge_pool": 26}


def env(body, msg, sender="hostile", run_id="", seq=1):
    """A packed Envelope carrying msg as its `body` field."""
    e = pb.Envelope(protocol_version=1, run_id=run_id, sender_id=sender, seq=seq)
    getattr(e, body).CopyFrom(msg)
    return e.SerializeToString()


def parse(data):
    e = pb.Envelope()
    e.ParseFromString(data)
    return e


# ---- processes ------------------------------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)


def _child_setup(nofile=None):
    def f():
        _libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: never outlive the test
        if nofile:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    return f


def mem_kib(pid):
    """(VmRSS, VmHWM) of a live process in KiB, or (None, None)."""
    rss = hwm = None
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
    except OSError:
        pass
    return rss, hwm


# In a sanitizer build (make test SANITIZE=1), ASan keeps freed memory in a 256 MiB quarantine,
# which the memory bounds would count: a small one keeps VmHWM about what the process holds.
CHILD_ENV = dict(os.environ)
CHILD_ENV["ASAN_OPTIONS"] = ":".join(o for o in (os.environ.get("ASAN_OPTIONS", ""), "quarantine_size_mb=8") if o)


class Proc:
    def __init__(self, name, argv, log, nofile=None):
        self.name, self.argv, self.log = name, argv, log
        self.logf = open(log, "ab")
        self.p = subprocess.Popen(argv, stdout=self.logf, stderr=subprocess.STDOUT,
                                  preexec_fn=_child_setup(nofile), env=CHILD_ENV)
        self.pid = self.p.pid
        self.peak_hwm = 0

    def alive(self):
        return self.p.poll() is None

    def mem(self):
        rss, hwm = mem_kib(self.pid)
        if hwm:
            self.peak_hwm = max(self.peak_hwm, hwm)
        return rss, hwm

    def wait(self, timeout):
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        if self.alive():
            self.mem()
            self.p.send_signal(signal.SIGTERM)
            if self.wait(5) is None:
                self.p.kill()
                self.p.wait()
        self.logf.close()

    def text(self):
        with open(self.log, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def status_desc(self):
        rc = self.p.poll()
        if rc is None:
            return "running"
        return "killed by signal %d" % -rc if rc < 0 else "exited %d" % rc


# ---- the harness ----------------------------------------------------------------------------

BASE_CONFIG = """run:
  name: hostile
  seed: 3
  iterations: {iterations}
task:
  prompts: {prompts}
game:
  family: cyclic
  n: {n}
  margin: 0.8
policy:
  init: random
rollout:
  samples_per_prompt: {k}
learner:
  prompts_per_lease: 2
  lease_timeout_ms: {lease_timeout_ms}
  shutdown_grace_ms: 300
judge:
  timeout_ms: {judge_timeout_ms}
actor:
  heartbeat_ms: 200
"""


class Harness:
    """One case's world: a temp folder, its processes, its sockets, its figures."""

    def __init__(self, spar, case):
        self.spar, self.case = spar, case
        self.tmp = tempfile.mkdtemp(prefix="hostile-%s-" % case)
        self.procs = []
        self.ctx = zmq.Context()
        self.socks = []
        self.frames_sent = 0
        self.bytes_sent = 0
        self.n_run = 0
        self.figures = {}

    # config and folders
    def config(self, name="cfg", iterations=3, prompts=8, n=3, k=16, lease_timeout_ms=5000,
               judge_timeout_ms=400, extra=""):
        d = os.path.join(self.tmp, name)
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, "config.yaml")
        with open(path, "w") as f:
            f.write(BASE_CONFIG.format(iterations=iterations, prompts=prompts, n=n, k=k,
                                       lease_timeout_ms=lease_timeout_ms,
                                       judge_timeout_ms=judge_timeout_ms) + extra)
        return path

    def world(self, cfg, tag=None):
        """Endpoints and run folder of one run, as --set arguments (a fresh set per call)."""
        self.n_run += 1
        tag = tag or "w%d" % self.n_run
        d = os.path.join(self.tmp, tag)
        os.makedirs(d, exist_ok=True)
        w = {"cfg": cfg, "dir": d, "run": os.path.join(d, "run"),
             "control": "ipc://%s/ctl" % d, "publish": "ipc://%s/pub" % d,
             "judge": "ipc://%s/judge" % d}
        w["sets"] = ["--set", "learner.control=" + w["control"], "--set",
                     "learner.publish=" + w["publish"], "--set", "run.dir=" + w["run"]]
        return w

    def start(self, w, role, name, sets=(), nofile=None):
        argv = [self.spar, role, "--config", w["cfg"], "--id", name] + w["sets"]
        if role in ("judge", "actor"):
            argv += ["--set", "judge.bind=" + w["judge"], "--set", "judge.endpoints=" + w["judge"]]
        for s in sets:
            argv += ["--set", s]
        p = Proc(name, argv, os.path.join(w["dir"], name + ".log"), nofile)
        self.procs.append(p)
        return p

    def wait_file(self, path, timeout=10):
        end = time.time() + timeout
        while time.time() < end:
            if os.path.exists(path):
                return True
            time.sleep(0.02)
        return False

    def start_servers(self, w, learner_sets=(), judge_sets=(), nofile=None, judge=True):
        """A judge and a learner, ready (both answer spar ping)."""
        j = self.start(w, "judge", "judge-0", judge_sets) if judge else None
        L = self.start(w, "learner", "learner", learner_sets, nofile=nofile)
        check(self.wait_file(w["control"][len("ipc://"):]), "the learner never bound its control endpoint")
        check(self.ping(w["control"]), "the learner does not answer spar ping after start")
        if judge:
            check(self.ping(w["judge"], judge=True), "the judge does not answer spar ping after start")
        return L, j

    def ping(self, endpoint, judge=False, timeout_ms=3000):
        argv = [self.spar, "ping", endpoint, "--timeout-ms", str(timeout_ms)] + (["--judge"] if judge else [])
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout_ms / 1000 + 10)
        return r.returncode == 0

    def wait_exit(self, p, timeout):
        rc = p.wait(timeout)
        return rc

    def finish_run(self, w, L, actors, timeout=60):
        """Waits for the learner to end the run; checks exit 0 and lost 0 on every line."""
        end = time.time() + timeout
        while time.time() < end and L.alive():
            for p in self.procs:
                p.mem()
            time.sleep(0.05)
        rc = L.wait(0.1)
        if rc is None:
            lines = self.lines(w)
            raise Fail("the run did not finish within %d s (%d iterations.jsonl lines); learner log tail:\n%s"
                       % (timeout, len(lines), tail(L.text())))
        check(rc == 0, "learner %s; log tail:\n%s" % (L.status_desc(), tail(L.text())))
        for a in actors:
            a.wait(10)
        lines = self.lines(w)
        for ln in lines:
            check(ln.get("lost") == 0, "iteration %s lost %s prompts" % (ln.get("iteration"), ln.get("lost")))
        return lines

    def lines(self, w):
        path = os.path.join(w["run"], "iterations.jsonl")
        out = []
        if os.path.exists(path):
            with open(path) as f:
                for line in f:
                    try:
                        out.append(json.loads(line))
                    except ValueError:
                        pass
        return out

    def last_checkpoint(self, w):
        d = os.path.join(w["run"], "checkpoints")
        names = sorted(n for n in os.listdir(d) if n.startswith("iter-") and not n.endswith(".state.safetensors")
                       and n.endswith(".safetensors"))
        check(names, "no checkpoint written in %s" % d)
        with open(os.path.join(d, names[-1]), "rb") as f:
            return names[-1], f.read()

    def baseline(self, cfg, actors=1, actor_sets=()):
        """The final checkpoint (name, bytes) of an undisturbed run of cfg."""
        w = self.world(cfg, "baseline")
        L, _ = self.start_servers(w)
        acts = [self.start(w, "actor", "actor-%d" % i, actor_sets) for i in range(actors)]
        self.finish_run(w, L, acts)
        ck = self.last_checkpoint(w)
        self.stop_all()
        self.figures.pop("peak_kib", None)  # figures are of the processes under attack
        return ck

    def same_as_baseline(self, w, base):
        name, data = self.last_checkpoint(w)
        check(name == base[0], "last checkpoint %s, the undisturbed run's is %s" % (name, base[0]))
        check(data == base[1], "final checkpoint %s differs from the undisturbed run's (%d vs %d bytes)"
              % (name, len(data), len(base[1])))

    # sockets
    def dealer(self, endpoint, routing_id=None, rcvhwm=None, sndhwm=None):
        s = self.ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        if routing_id is not None:
            s.setsockopt(zmq.ROUTING_ID, routing_id)
        if rcvhwm is not None:
            s.setsockopt(zmq.RCVHWM, rcvhwm)
        if sndhwm is not None:
            s.setsockopt(zmq.SNDHWM, sndhwm)
        s.connect(endpoint)
        self.socks.append(s)
        return s

    def sub(self, endpoint):
        s = self.ctx.socket(zmq.SUB)
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.SUBSCRIBE, b"")
        s.connect(endpoint)
        self.socks.append(s)
        return s

    def router(self, endpoint):
        s = self.ctx.socket(zmq.ROUTER)
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.SNDHWM, 100000)
        s.bind(endpoint)
        self.socks.append(s)
        return s

    def send(self, sock, frames, prefix=()):
        """Sends one message of frames (a list of bytes), counting the hostile frames."""
        frames = list(prefix) + list(frames)
        sock.send_multipart(frames, copy=False)
        self.frames_sent += len(frames) - len(prefix)
        self.bytes_sent += sum(len(f) for f in frames[len(prefix):])

    def recv(self, sock, timeout_ms=2000, want=None):
        """The next parsed Envelope (of body `want`, skipping others) or None."""
        end = time.time() + timeout_ms / 1000
        while True:
            left = int((end - time.time()) * 1000)
            if left <= 0 or not sock.poll(left):
                return None
            frames = sock.recv_multipart()
            try:
                e = parse(frames[-1])
            except Exception:
                continue
            if want is None or e.WhichOneof("body") == want:
                return e

    def heartbeat(self, endpoint, role=None, timeout_ms=2000):
        """Our own Heartbeat on a fresh connection: the reply's Heartbeat, or None."""
        s = self.dealer(endpoint)
        self.send(s, [env("heartbeat", pb.Heartbeat(role=role if role is not None else pb.ROLE_TOOL))])
        e = self.recv(s, timeout_ms, "heartbeat")
        s.close()
        self.socks.remove(s)
        return e.heartbeat if e else None

    def bad_count(self, endpoint):
        hb = self.heartbeat(endpoint)
        check(hb is not None, "%s does not answer a Heartbeat" % endpoint)
        return hb.bad_messages

    # actors of the tabular game: a well-formed group
    def group(self, prompt, iteration, version, k, n=3, lease_id=0, pref=None, sender="hostile"):
        g = pb.RolloutGroup(lease_id=lease_id, iteration=iteration, prompt_id=prompt, policy_version=version,
                            judge_version="hostile", actor_id=sender, judge_attempts=1, judge_latency_ms=1.0)
        for i in range(k):
            g.responses.add(tokens=[i % n], logprob=-1.0)
        if pref is None:  # the first response always wins: a made-up verdict, well formed
            pref = [0.5 if i == j else (1.0 if i < j else 0.0) for i in range(k) for j in range(k)]
        g.preference.extend(pref)
        return g

    def stop_all(self):
        for p in reversed(self.procs):
            p.stop()
            peaks = self.figures.setdefault("peak_kib", {})
            if p.peak_hwm:
                peaks[p.name] = max(peaks.get(p.name, 0), p.peak_hwm)
        self.procs = []

    def close(self):
        self.stop_all()
        self.ctx.destroy(0)  # every socket, monitors included
        if os.environ.get("SPAR_HOSTILE_KEEP"):
            print("kept", self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def tail(text, n=15):
    return "\n".join(text.splitlines()[-n:])


def main(cases, argv=None):
    """python3 FILE.py SPAR [--case NAME]... [--list]: runs the cases, prints figures, exits
    0 when all pass, 1 when one fails, 77 when every case was skipped."""
    argv = sys.argv[1:] if argv is None else argv
    if "--list" in argv:
        for name in cases:
            print(name)
        return 0
    if not argv:
        print("usage: %s SPAR [--case NAME]..." % sys.argv[0], file=sys.stderr)
        return 2
    spar = os.path.abspath(argv[0])
    chosen = [argv[i + 1] for i, a in enumerate(argv) if a == "--case"] or list(cases)
    for c in chosen:
        if c not in cases:
            print("unknown case %s (--list)" % c, file=sys.stderr)
            return 2
    boot = tempfile.mkdtemp(prefix="hostile-pb-")
    try:
        load_messages(boot)
    except Skip as e:
        print("SKIPPED: %s" % e)
        return SKIP
    results = {}
    for c in chosen:
        h = Harness(spar, c)
        t0 = time.time()
        try:
            cases[c](h)
            results[c] = "pass"
        except Skip as e:
            results[c] = "skip: %s" % e
        except Fail as e:
            results[c] = "FAIL: %s" % e
        except Exception:
            results[c] = "FAIL (error): %s" % traceback.format_exc()
        finally:
            h.close()
        fig = dict(h.figures)
        fig.update({"frames_sent": h.frames_sent, "bytes_sent": h.bytes_sent, "seconds": round(time.time() - t0, 2)})
        print("case %s: %s" % (c, results[c]))
        print("figures %s %s" % (c, json.dumps(fig, sort_keys=True)))
        sys.stdout.flush()
    shutil.rmtree(boot, ignore_errors=True)
    if any(r.startswith("FAIL") for r in results.values()):
        return 1
    if all(r.startswith("skip") for r in results.values()):
        return SKIP
    return 0
