#!/usr/bin/python3
"""hostile framing: messages of the wrong shape to the learner, a judge and an actor.

Multi-frame messages (2, 3, 100 frames), an empty frame, truncated and garbage frames, a wrong
protocol version, frames over wire.max_frame_bytes (ZeroMQ closes that connection; the process
goes on serving the others), a 60 MiB frame of unknown protobuf fields and a frame of ~30
million empty Responses. Each case checks the target still answers a Heartbeat, counted what it
dropped, stayed within a stated memory bound, and (learner, actor) that the run then completes
with lost 0 and the undisturbed run's final checkpoint, byte for byte.
"""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile as H  # noqa: E402
import zmq  # noqa: E402

MIB = 1 << 20


def bad_frames():
    """(label, frames) of malformed messages; each is one message the receiver must drop."""
    hb = H.env("heartbeat", H.pb.Heartbeat(role=H.pb.ROLE_TOOL))
    grp = H.env("rollout_group", H.pb.RolloutGroup(prompt_id=1, iteration=1))
    return [
        ("2 frames", [hb, hb]),
        ("3 frames", [hb, b"", hb]),
        ("100 frames", [hb] * 100),
        ("empty frame", [b""]),
        ("truncated", [hb[:len(hb) // 2]]),
        ("truncated group", [grp[:-3]]),
        ("garbage", [os.urandom(4096)]),
        ("all 0xff", [b"\xff" * 64]),
        ("protocol version 2", [H.raw_envelope(12, b"", version=2)]),
        ("no body", [H.raw_envelope(99, b"")]),
    ]


def s_blast(h, sock, prefix=()):
    n = 0
    for _label, frames in bad_frames():
        h.send(sock, frames, prefix)
        n += 1
    return n


def case_learner_frames(h):
    cfg = h.config()
    base = h.baseline(cfg)
    w = h.world(cfg)
    L, _ = h.start_servers(w)
    before = h.bad_count(w["control"])
    s = h.dealer(w["control"])
    n = s_blast(h, s)
    time.sleep(0.3)
    H.check(L.alive(), "learner %s after malformed frames" % L.status_desc())
    H.check(h.ping(w["control"]), "the learner stopped answering spar ping after malformed frames")
    after = h.bad_count(w["control"])
    H.check(after - before >= n, "the learner counted %d of %d malformed messages" % (after - before, n))
    a = h.start(w, "actor", "actor-0")
    h.send(s, [H.env("heartbeat", H.pb.Heartbeat())] * 3)  # and again while the run goes on
    h.finish_run(w, L, [a])
    h.same_as_baseline(w, base)


def case_judge_frames(h):
    cfg = h.config()
    w = h.world(cfg)
    j = h.start(w, "judge", "judge-0")
    H.check(h.wait_file(w["judge"][6:]), "the judge never bound")
    H.check(h.ping(w["judge"], judge=True), "the judge does not answer spar ping")
    before = h.bad_count(w["judge"])
    s = h.dealer(w["judge"])
    n = s_blast(h, s)
    time.sleep(0.3)
    H.check(j.alive(), "judge %s after malformed frames" % j.status_desc())
    after = h.bad_count(w["judge"])
    H.check(after - before >= n, "the judge counted %d of %d malformed messages" % (after - before, n))
    s_judge_answers(h, w["judge"])


def s_judge_answers(h, ep, k=4):
    """A valid JudgeRequest gets a K x K reply."""
    s = h.dealer(ep)
    req = H.pb.JudgeRequest(request_id=7, prompt_id=0, prompt="game-0")
    for i in range(k):
        req.responses.add(tokens=[i % 3], logprob=-1.0)
    h.send(s, [H.env("judge_request", req)])
    e = h.recv(s, 3000, "judge_reply")
    H.check(e is not None, "the judge does not answer a valid JudgeRequest")
    H.check(e.judge_reply.request_id == 7 and len(e.judge_reply.preference) == k * k,
            "judge reply: request %d, %d entries" % (e.judge_reply.request_id, len(e.judge_reply.preference)))


class FakeJudge:
    """A ROUTER an actor connects to as a judge; answers JudgeRequests with `answer(env, frames)`
    and Heartbeats as a judge."""

    def __init__(self, h, ep, answer):
        self.h, self.sock, self.answer = h, h.router(ep), answer
        self.requests = 0

    def pump(self, seconds):
        end = time.time() + seconds
        while time.time() < end:
            if not self.sock.poll(20):
                continue
            frames = self.sock.recv_multipart()
            try:
                e = H.parse(frames[-1])
            except Exception:
                continue
            body = e.WhichOneof("body")
            if body == "heartbeat":
                self.h.send(self.sock, [H.env("heartbeat", H.pb.Heartbeat(role=H.pb.ROLE_JUDGE))], [frames[0]])
            elif body == "judge_request":
                self.requests += 1
                for msg in self.answer(e.judge_request, self.requests):
                    self.h.send(self.sock, msg, [frames[0]])


def s_reply(req, k=None, p=None):
    k = len(req.responses) if k is None else k
    if p is None:
        p = [0.5] * (k * k)
    return H.env("judge_reply", H.pb.JudgeReply(request_id=req.request_id, judge_version="fake", k=k, preference=p))


def s_actor_run(h, cfg, base, answer, actor_sets=(), seconds=60):
    """An actor whose first judge is a fake that answers with `answer`, its second the real
    one: the run completes, lost 0, byte-identical to the undisturbed run."""
    w = h.world(cfg)
    fake_ep = "ipc://%s/fake-judge" % w["dir"]
    fake = FakeJudge(h, fake_ep, answer)
    L, _ = h.start_servers(w)
    a = h.start(w, "actor", "actor-0", ["judge.endpoints=%s,%s" % (fake_ep, w["judge"])] + list(actor_sets))
    end = time.time() + seconds
    while L.alive() and time.time() < end:
        fake.pump(0.1)
        a.mem()
        L.mem()
    H.check(fake.requests > 0, "the actor never asked the fake judge")
    lines = h.finish_run(w, L, [a], timeout=5)
    H.check(a.wait(5) == 0, "actor %s; log tail:\n%s" % (a.status_desc(), H.tail(a.text())))
    h.same_as_baseline(w, base)
    fake.actor_log = a.text()
    return lines, fake


def actor_bad(fake):
    """The bad messages the actor reported when it stopped (its log's last line says)."""
    m = re.findall(r"actor stopping: \d+ groups sent, (\d+) bad messages", fake.actor_log)
    return int(m[-1]) if m else 0


def case_actor_frames(h):
    cfg = h.config()
    base = h.baseline(cfg)
    shapes = [lambda r: [[s_reply(r), s_reply(r)]], lambda r: [[s_reply(r), b"", s_reply(r)]],
              lambda r: [[s_reply(r)] * 100], lambda r: [[b""]], lambda r: [[s_reply(r)[:-5]]],
              lambda r: [[os.urandom(300)]], lambda r: [[H.raw_envelope(18, b"", version=9)]],
              lambda r: [[H.env("shutdown", H.pb.Shutdown(reason="from a judge"))]]]

    def answer(req, n):
        err = H.env("judge_reply", H.pb.JudgeReply(request_id=req.request_id, error="busy"))
        return shapes[(n - 1) % len(shapes)](req) + [[err]]
    lines, fake = s_actor_run(h, cfg, base, answer)
    H.check(actor_bad(fake) > 0, "the actor counted none of the malformed judge replies")
    h.figures["fake_judge_requests"] = fake.requests


def s_monitor_closed(sock):
    m = sock.get_monitor_socket(zmq.EVENT_DISCONNECTED | zmq.EVENT_CLOSED)
    return m


def s_oversized(h, ep, limit, alive, judge=False):
    """A frame of limit + 1 bytes: ZeroMQ closes the sender's connection; others are served."""
    s = h.dealer(ep)
    mon = s.get_monitor_socket(zmq.EVENT_DISCONNECTED)
    h.send(s, [H.env("heartbeat", H.pb.Heartbeat())])
    H.check(h.recv(s, 2000, "heartbeat") is not None, "no heartbeat before the oversized frame")
    h.send(s, [b"\x0a" + b"\x00" * limit])  # limit + 1 bytes
    closed = mon.poll(3000)
    H.check(closed, "%s did not close the connection that sent a frame over wire.max_frame_bytes" % ep)
    H.check(alive(), "the process died after an oversized frame")
    H.check(h.ping(ep, judge=judge), "%s does not answer other peers after an oversized frame" % ep)


def case_oversized(h):
    limit = 1 * MIB
    cfg = h.config(extra="wire:\n  max_frame_bytes: %d\n" % limit)
    base = h.baseline(cfg)
    w = h.world(cfg)
    L, j = h.start_servers(w)
    s_oversized(h, w["control"], limit, L.alive)
    s_oversized(h, w["judge"], limit, j.alive, judge=True)

    def answer(req, n):  # the actor's fake judge: first an oversized reply, then silence
        return [[b"\x0a" + b"\x00" * limit]] if n <= 3 else []
    h.stop_all()
    lines, _ = s_actor_run(h, cfg, base, answer)


def s_big_frame(h, ep, frame, bound_kib, proc, what, judge=False):
    rss0, _ = proc.mem()
    s = h.dealer(ep)
    h.send(s, [frame])
    end = time.time() + 3
    peak = 0
    while time.time() < end:
        rss, hwm = proc.mem()
        peak = max(peak, hwm or 0)
        time.sleep(0.02)
    H.check(proc.alive(), "%s %s after %s" % (proc.name, proc.status_desc(), what))
    H.check(h.ping(ep, judge=judge), "%s does not answer spar ping after %s" % (proc.name, what))
    H.check(peak <= bound_kib, "%s VmHWM %d KiB after %s, bound %d KiB" % (proc.name, peak, what, bound_kib))
    h.figures.setdefault("hwm_after_kib", {})["%s %s" % (proc.name, what)] = peak


UNKNOWN = H.field_bytes(1000, b"\x00" * (60 * MIB))  # 60 MiB of a field the schema lacks
# a RolloutGroup of 30 million 2-byte empty Responses (field 6, length 0)
TINY = H.raw_envelope(15, b"\x32\x00" * (30 * 1000 * 1000))
# 64 MiB default limit: the frame itself, plus what the decoder may allocate (2 x the limit + 16
# MiB, wire.c), plus the process's own start
BOUND_KIB = (60 + 144 + 100) * 1024


def case_giant_frames(h):
    cfg = h.config()
    base = h.baseline(cfg)
    w = h.world(cfg)
    L, j = h.start_servers(w)
    env_unknown = H.raw_envelope(12, b"") + UNKNOWN
    # unknown fields are legal protobuf (newer peers): memory is the check, not a count
    s_big_frame(h, w["control"], env_unknown, BOUND_KIB, L, "a 60 MiB frame of unknown fields")
    before = h.bad_count(w["control"])
    s_big_frame(h, w["control"], TINY, BOUND_KIB, L, "30M empty responses")
    H.check(h.bad_count(w["control"]) - before >= 1, "the learner did not count the frame of 30M empty responses")
    s_big_frame(h, w["judge"], env_unknown, BOUND_KIB, j, "a 60 MiB frame of unknown fields", judge=True)
    before = h.bad_count(w["judge"])
    s_big_frame(h, w["judge"], H.raw_envelope(17, b"\x22\x00" * (30 * 1000 * 1000)), BOUND_KIB, j,
                "30M empty responses", judge=True)
    H.check(h.bad_count(w["judge"]) - before >= 1, "the judge did not count the frame of 30M empty responses")
    a = h.start(w, "actor", "actor-0")
    h.finish_run(w, L, [a])
    h.same_as_baseline(w, base)


def case_actor_giant_replies(h):
    """The actor's fake judge answers with a 60 MiB reply of unknown fields and one of 30M
    empty repeated entries; the actor stays within the bound and the run completes."""
    cfg = h.config()
    base = h.baseline(cfg)
    big = [H.raw_envelope(18, H.field_varint(1, 1)) + UNKNOWN,
           H.raw_envelope(18, b"\x2a\x00" * (30 * 1000 * 1000))]

    def answer(req, n):
        return [[big[n - 1]]] if n <= 2 else []
    _lines, _ = s_actor_run(h, cfg, base, answer)
    peak = h.procs and 0
    for p in h.procs:
        if p.name == "actor-0":
            peak = p.peak_hwm
    H.check(peak <= BOUND_KIB, "actor VmHWM %d KiB, bound %d KiB" % (peak, BOUND_KIB))


CASES = {
    "learner_frames": case_learner_frames,
    "judge_frames": case_judge_frames,
    "actor_frames": case_actor_frames,
    "oversized": case_oversized,
    "giant_frames": case_giant_frames,
    "actor_giant_replies": case_actor_giant_replies,
}

if __name__ == "__main__":
    sys.exit(H.main(CASES))
