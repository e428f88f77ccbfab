#!/usr/bin/python3
"""hostile counts: every integer a peer sends, at its boundaries.

StatusRequest.iterations at 2^31, 2^32-1 and 2^64-1 on the wire (it crashed the learner);
JudgeRequests of K = 10^6, 6000 and 4096 (the limit) to a judge; WeightsFetch chunk_index and
version at 0, max and max+1; rollout groups with prompt_id, iteration, lease_id,
policy_version, judge_attempts and judge_latency_ms (1e300, NaN, negative) out of range, from
a connection that holds a lease for that prompt; and, playing the learner for an actor, weight
announcements and chunks with n_chunks, total_bytes, chunk_index and offset at their limits and
grants with prompt ids and K at theirs.
"""
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile as H  # noqa: E402

STATUS_MAX_BYTES = 1 << 20  # a status reply this small run fits in well under 1 MiB


def case_status_iterations(h):
    cfg = h.config()
    w = h.world(cfg)
    L, _ = h.start_servers(w)
    s = h.dealer(w["control"])
    for n in (0, 1, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**63, H.U64):
        h.send(s, [H.raw_envelope(24, H.field_varint(1, n))])  # StatusRequest{iterations = n}
        e = h.recv(s, 3000, "status")
        H.check(L.alive(), "learner %s after StatusRequest.iterations = %d" % (L.status_desc(), n))
        H.check(e is not None, "no Status reply to StatusRequest.iterations = %d" % n)
        size = len(e.SerializeToString())
        H.check(size <= STATUS_MAX_BYTES, "Status reply of %d bytes to iterations = %d" % (size, n))
        H.check(len(e.status.iterations) <= len(h.lines(w)),
                "Status carries %d iteration lines, the run has %d" % (len(e.status.iterations), len(h.lines(w))))
    H.check(h.ping(w["control"]), "the learner no longer answers spar ping")


def s_judge_request(k, rid):
    # built by hand: 10^6 generated Response objects would take the test seconds
    resp = H.field_bytes(4, H.field_varint(1, 1) + H.field_double(3, -1.0))  # tokens [1], logprob -1
    return H.raw_envelope(17, H.field_varint(1, rid) + H.field_varint(2, 0) + H.field_bytes(3, b"game-0") +
                          resp * k)


def case_judge_k(h):
    cfg = h.config()
    w = h.world(cfg)
    j = h.start(w, "judge", "judge-0")
    H.check(h.wait_file(w["judge"][6:]) and h.ping(w["judge"], judge=True), "judge not up")
    s = h.dealer(w["judge"])
    limit = 64 << 20
    for k, rid in ((10**6, 1), (6000, 2), (4096, 3), (2, 4)):
        h.send(s, [s_judge_request(k, rid)])
        e = h.recv(s, 8000, "judge_reply")
        j.mem()
        H.check(j.alive(), "judge %s after a JudgeRequest with K = %d" % (j.status_desc(), k))
        H.check(h.ping(w["judge"], judge=True), "the judge does not answer spar ping after K = %d" % k)
        if e is not None:
            size = len(e.SerializeToString())
            H.check(size <= limit, "judge reply of %d bytes to K = %d (over wire.max_frame_bytes)" % (size, k))
            r = e.judge_reply
            H.check(r.error or len(r.preference) == r.k * r.k, "judge reply to K = %d neither error nor K x K" % k)
            h.figures.setdefault("reply_bytes", {})[str(k)] = size
        if k == 2:
            H.check(e is not None and len(e.judge_reply.preference) == 4, "no reply to a valid K = 2 request")
    _, hwm = j.mem()
    bound = 400 * 1024  # K = 4096: a 128 MiB matrix must not be built for a 64 MiB frame limit
    H.check(hwm <= bound, "judge VmHWM %d KiB, bound %d KiB" % (hwm, bound))


def case_fetch_bounds(h):
    cfg = h.config()
    w = h.world(cfg)
    L, _ = h.start_servers(w)
    s = h.dealer(w["control"])
    h.send(s, [H.env("hello", H.pb.Hello(role=H.pb.ROLE_ACTOR))])
    wel = h.recv(s, 2000, "welcome")
    H.check(wel is not None, "no Welcome")
    for version in (0, wel.welcome.current_version, 1, 2**63, H.U64):
        for idx in (0, 1, 2**31, H.U32):
            h.send(s, [H.env("weights_fetch", H.pb.WeightsFetch(version=version, chunk_index=idx))])
            e = h.recv(s, 2000, "weights_chunk")
            H.check(L.alive(), "learner %s after WeightsFetch(%d, %d)" % (L.status_desc(), version, idx))
            H.check(e is not None, "no WeightsChunk for WeightsFetch(version %d, chunk %d)" % (version, idx))
            c = e.weights_chunk
            if not c.error:
                H.check(c.chunk_index < c.n_chunks and c.offset + len(c.data) <= c.total_bytes,
                        "chunk %d of %d at %d+%d of %d" % (c.chunk_index, c.n_chunks, c.offset, len(c.data),
                                                          c.total_bytes))
    H.check(h.ping(w["control"]), "the learner no longer answers spar ping")


def s_lease(h, s, sender):
    """Hello, then work requests until a grant with prompts comes: (grant)."""
    h.send(s, [H.env("hello", H.pb.Hello(role=H.pb.ROLE_ACTOR), sender)])
    wel = h.recv(s, 3000, "welcome")
    H.check(wel is not None, "no Welcome")
    end = time.time() + 10
    while time.time() < end:
        h.send(s, [H.env("work_request", H.pb.WorkRequest(max_prompts=2), sender, wel.welcome.run_id)])
        e = h.recv(s, 2000, "work_grant")
        if e and e.work_grant.prompt_ids:
            return e.work_grant, wel.welcome.run_id
        time.sleep(0.05)
    raise H.Fail("no lease granted within 10 s")


def case_group_bounds(h):
    """Out-of-range groups from a connection holding a lease for the prompt: none accepted; the
    lease then expires and a real actor answers: identical run."""
    cfg = h.config(lease_timeout_ms=1500)
    base = h.baseline(cfg)
    w = h.world(cfg)
    L, _ = h.start_servers(w)
    s = h.dealer(w["control"])
    g, run_id = s_lease(h, s, "bounds")
    p, it, v, k = g.prompt_ids[0], g.iteration, g.policy_version, g.samples_per_prompt
    variants = []
    for prompt in (8, 2**31, H.U32):
        variants.append(("prompt_id %d" % prompt, dict(prompt=prompt)))
    for iteration in (0, it + 1, 2**63, H.U64):
        variants.append(("iteration %d" % iteration, dict(iteration=iteration)))
    for version in (v + 1, 2**63, H.U64):
        variants.append(("policy_version %d" % version, dict(version=version)))
    for att, fail in ((H.U32, 0), (H.U32, H.U32), (1, 2)):
        variants.append(("judge_attempts %d failures %d" % (att, fail), dict(attempts=att, failures=fail)))
    for lat in (1e300, float("nan"), -1.0, float("-inf"), float("inf")):
        variants.append(("judge_latency_ms %r" % lat, dict(latency=lat)))
    variants.append(("K - 1 responses", dict(k=k - 1)))
    variants.append(("K + 1 responses", dict(k=k + 1)))
    variants.append(("token 3 of a 3-action game", dict(token=3)))
    variants.append(("token 2^32-1", dict(token=H.U32)))
    variants.append(("NaN preference", dict(pref_nan=True)))
    variants.append(("logprob +1", dict(logprob=1.0)))
    accepted = []
    for label, o in variants:
        kk = o.get("k", k)
        grp = h.group(o.get("prompt", p), o.get("iteration", it), o.get("version", v), kk, lease_id=g.lease_id,
                      sender="bounds")
        if "attempts" in o:
            grp.judge_attempts, grp.judge_failures = o["attempts"], o["failures"]
        if "latency" in o:
            grp.judge_latency_ms = o["latency"]
        if "token" in o:
            grp.responses[0].tokens[0] = o["token"]
        if "logprob" in o:
            grp.responses[0].logprob = o["logprob"]
        if o.get("pref_nan"):
            grp.preference[1] = float("nan")
        h.send(s, [H.env("rollout_group", grp, "bounds", run_id)])
        ack = h.recv(s, 300, "rollout_ack")  # a dropped frame gets none; that is a refusal too
        H.check(L.alive(), "learner %s after a group with %s" % (L.status_desc(), label))
        if ack is not None and ack.rollout_ack.status == H.pb.ACK_ACCEPTED:
            accepted.append(label)
    H.check(not accepted, "groups accepted with: %s" % ", ".join(accepted))
    a = h.start(w, "actor", "actor-0")
    h.finish_run(w, L, [a])
    h.same_as_baseline(w, base)


class FakeLearner:
    """A ROUTER at learner.control and a PUB at learner.publish an actor connects to."""

    def __init__(self, h, w):
        self.h = h
        self.ctl = h.router(w["control"])
        self.pub = h.ctx.socket(H.zmq.PUB)
        self.pub.setsockopt(H.zmq.LINGER, 0)
        self.pub.bind(w["publish"])
        h.socks.append(self.pub)
        self.actor = None
        self.seen = {}

    def pump(self, seconds, on=None):
        end = time.time() + seconds
        while time.time() < end:
            if not self.ctl.poll(20):
                continue
            frames = self.ctl.recv_multipart()
            try:
                e = H.parse(frames[-1])
            except Exception:
                continue
            body = e.WhichOneof("body")
            self.seen[body] = self.seen.get(body, 0) + 1
            self.actor = frames[0]
            if body == "hello":
                self.h.send(self.ctl, [H.env("welcome", H.pb.Welcome(run_id="fake", current_version=0,
                                                                     heartbeat_ms=100, seed=1, prompts=8))],
                            [frames[0]])
            elif on:
                on(e, frames[0])

    def publish(self, body, msg):
        self.h.send(self.pub, [H.env(body, msg, "learner", "fake")])

    def tell(self, body, msg):
        self.h.send(self.ctl, [H.env(body, msg, "learner", "fake")], [self.actor])


def case_actor_counts(h):
    """Playing the learner: announcements, chunks and grants at their limits. The actor must
    stay up, keep heartbeating and stay within 200 MiB (it must not allocate what a count
    claims)."""
    cfg = h.config()
    w = h.world(cfg)
    fake = FakeLearner(h, w)
    a = h.start(w, "actor", "actor-0", ["actor.heartbeat_ms=100"])
    fake.pump(2)
    H.check(fake.seen.get("hello"), "the actor never said Hello")
    d = b"\x11" * 32
    for total, n in ((8 << 30, H.U32), ((8 << 30) + 1, 1), (1, H.U32), (0, 0), (H.U64, H.U32)):
        fake.publish("weights_available", H.pb.WeightsAvailable(version=5, total_bytes=total, n_chunks=n, digest=d))
        fake.pump(0.3)
        H.check(a.alive(), "actor %s after WeightsAvailable(total %d, chunks %d)" % (a.status_desc(), total, n))
    for idx, n, total, off, data in ((0, 1, 10, 0, b"x" * 10), (H.U32, H.U32, 8 << 30, H.U64, b"x"),
                                     (5, 3, 10, 0, b"x"), (0, 1, 10, 9, b"x" * 10), (0, 1, 10, H.U64 - 4, b"x" * 8)):
        fake.tell("weights_chunk", H.pb.WeightsChunk(version=5, chunk_index=idx, n_chunks=n, total_bytes=total,
                                                     offset=off, data=data, chunk_digest=d, digest=d))
        fake.pump(0.2)
        H.check(a.alive(), "actor %s after WeightsChunk(index %d of %d, total %d, offset %d)"
                % (a.status_desc(), idx, n, total, off))
    for ids, k in (([H.U32], 16), ([0], H.U32), ([0] * 4097, 16), ([8, 9], 4096), (list(range(2)), 0)):
        fake.tell("work_grant", H.pb.WorkGrant(lease_id=H.U64, iteration=H.U64, policy_version=0, prompt_ids=ids,
                                               samples_per_prompt=k, retry_ms=H.U32))
        fake.pump(0.3)
        H.check(a.alive(), "actor %s after WorkGrant(%d prompts up to %d, K %d)"
                % (a.status_desc(), len(ids), max(ids), k))
    hb0 = fake.seen.get("heartbeat", 0)
    fake.pump(1.0)
    H.check(fake.seen.get("heartbeat", 0) > hb0, "the actor stopped heartbeating")
    _, hwm = a.mem()
    H.check(a.alive(), "actor %s" % a.status_desc())
    H.check(hwm <= 200 * 1024, "actor VmHWM %d KiB, bound 200 MiB" % hwm)


CASES = {
    "status_iterations": case_status_iterations,
    "judge_k": case_judge_k,
    "fetch_bounds": case_fetch_bounds,
    "group_bounds": case_group_bounds,
    "actor_counts": case_actor_counts,
}

if __name__ == "__main__":
    sys.exit(H.main(CASES))
