#!/usr/bin/python3
"""hostile judges: peers that claim to be judges, and judges that lie.

A Hello with role JUDGE and a made-up endpoint (it must not reach the judge pool unless a judge
there answers a Heartbeat as a judge); a Hello reusing a real judge's id (must not replace its
endpoint); 70 dead judge endpoints registered before a real judge joins (the real one must be
used); a judge that answers with two frames; and a fake judge with made-up verdicts: valid ones
cannot be told from a real judge's (the run completes; its records carry the fake's version and
its checkpoint differs), invalid ones are detected (counted, asked again; the run is the
undisturbed one, byte for byte).
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile as H  # noqa: E402
from framing import FakeJudge, actor_bad, s_actor_run, s_reply  # noqa: E402


def s_pools(h, sub, seconds, into):
    """Collects the JudgePool endpoint lists published within `seconds`."""
    end = time.time() + seconds
    while time.time() < end:
        e = h.recv(sub, 50, "judge_pool")
        if e is not None:
            into.append(list(e.judge_pool.endpoints))


def case_made_up_endpoint(h):
    """Hellos of role JUDGE naming a made-up endpoint: one where nothing listens, one where a
    ROUTER listens that never answers a Heartbeat as a judge. Neither may receive a
    JudgeRequest; the run completes as undisturbed."""
    cfg = h.config()
    base = h.baseline(cfg)
    w = h.world(cfg)
    L, _ = h.start_servers(w)
    nobody = "ipc://%s/nobody" % w["dir"]
    mute_ep = "ipc://%s/mute" % w["dir"]
    mute = h.router(mute_ep)
    s = h.dealer(w["control"])
    for i, ep in enumerate((nobody, mute_ep)):
        h.send(s, [H.env("hello", H.pb.Hello(role=H.pb.ROLE_JUDGE, endpoint=ep), "judge-fake-%d" % i)])
        H.check(h.recv(s, 2000, "welcome") is not None, "no Welcome to the judge Hello")
    a = h.start(w, "actor", "actor-0")
    requests = heartbeats = 0
    t0 = time.time()
    while L.alive() and time.time() - t0 < 30:
        if mute.poll(50):
            frames = mute.recv_multipart()
            try:
                body = H.parse(frames[-1]).WhichOneof("body")
            except Exception:
                continue
            requests += body == "judge_request"
            heartbeats += body == "heartbeat"
    h.finish_run(w, L, [a], timeout=5)
    h.figures.update({"requests_at_mute_judge": requests, "heartbeats_at_mute_judge": heartbeats})
    H.check(requests == 0, "%d JudgeRequests went to a judge that never answered a Heartbeat" % requests)
    h.same_as_baseline(w, base)


def case_reused_id(h):
    cfg = h.config()
    base = h.baseline(cfg)
    w = h.world(cfg)
    L, j = h.start_servers(w)
    jid = None
    end = time.time() + 5
    while jid is None and time.time() < end:
        for line in L.text().splitlines():
            if "joins the judge pool at" in line:
                jid = line.split("judge ", 1)[1].split(" joins", 1)[0]
        time.sleep(0.05)
    H.check(jid, "the real judge never joined the judge pool")
    sub = h.sub(w["publish"])
    fake_ep = "ipc://%s/impostor" % w["dir"]
    s = h.dealer(w["control"])
    for role in (H.pb.ROLE_JUDGE, H.pb.ROLE_ACTOR):
        h.send(s, [H.env("hello", H.pb.Hello(role=role, endpoint=fake_ep), jid)])
        h.recv(s, 1000, "welcome")
        h.send(s, [H.env("heartbeat", H.pb.Heartbeat(role=role), jid)])
    pools = []
    s_pools(h, sub, 1.5, pools)
    a = h.start(w, "actor", "actor-0", ["judge.endpoints=ipc://%s/config-judge-nobody" % w["dir"]])
    t0 = time.time()
    while L.alive() and time.time() - t0 < 30:
        s_pools(h, sub, 0.2, pools)
    h.finish_run(w, L, [a], timeout=5)
    H.check(pools, "no judge pool published")
    H.check(all(w["judge"] in p for p in pools), "the real judge's endpoint left the pool: %s" % pools[:3])
    H.check(not any(fake_ep in p for p in pools), "the impostor's endpoint entered the pool")
    h.same_as_baseline(w, base)


def case_dead_judges(h):
    """70 Hellos of judges at dead endpoints (each from its own connection), then a real judge
    joins that the actor's config does not name: the actor must reach it and the run complete."""
    cfg = h.config()
    base = h.baseline(cfg)
    w = h.world(cfg)
    L, _ = h.start_servers(w, judge=False)
    for i in range(70):
        s = h.dealer(w["control"])
        h.send(s, [H.env("hello", H.pb.Hello(role=H.pb.ROLE_JUDGE, endpoint="ipc://%s/dead-%d" % (w["dir"], i)),
                         "dead-judge-%d" % i)])
        h.recv(s, 1000, "welcome")
    a = h.start(w, "actor", "actor-0", ["judge.endpoints=ipc://%s/dead-config" % w["dir"]])
    time.sleep(0.5)
    h.start(w, "judge", "judge-0")
    h.finish_run(w, L, [a], timeout=40)
    h.same_as_baseline(w, base)


def case_two_frames(h):
    """A judge whose every reply is two frames (a valid reply twice): the actor counts and drops
    them, asks the real judge, and the run completes."""
    cfg = h.config()
    base = h.baseline(cfg)

    def answer(req, n):
        return [[s_reply(req), s_reply(req)]]
    lines, fake = s_actor_run(h, cfg, base, answer)
    H.check(actor_bad(fake) > 0, "the two-frame replies were not counted")
    h.figures["fake_judge_requests"] = fake.requests


def case_invalid_verdicts(h):
    """Verdicts that break the rules: P + P^T != 1, entries outside [0, 1], NaN, the wrong K,
    rewards that are not finite. All detected; the real judge's verdicts make the run."""
    cfg = h.config()
    base = h.baseline(cfg)

    def answer(req, n):
        k = len(req.responses)
        bad = [[0.9] * (k * k), [2.0 if i == 0 else 0.5 for i in range(k * k)], [float("nan")] * (k * k)]
        variants = [s_reply(req, p=bad[0]), s_reply(req, p=bad[1]), s_reply(req, p=bad[2]),
                    s_reply(req, k=k - 1, p=[0.5] * ((k - 1) ** 2)),
                    H.env("judge_reply", H.pb.JudgeReply(request_id=req.request_id, k=k, rewards=[float("inf")] * k)),
                    H.env("judge_reply", H.pb.JudgeReply(request_id=req.request_id, k=k, rewards=[1.0] * (k + 1)))]
        err = H.env("judge_reply", H.pb.JudgeReply(request_id=req.request_id, error="busy"))
        return [[variants[(n - 1) % len(variants)]], [err]]
    lines, fake = s_actor_run(h, cfg, base, answer)
    H.check(fake.requests >= 6, "the fake judge was asked %d times" % fake.requests)
    failures = sum(ln.get("judge_failures", 0) for ln in lines)
    H.check(failures > 0 or actor_bad(fake) > 0, "no invalid verdict was counted")


def case_valid_made_up_verdicts(h):
    """A fake judge whose verdicts are well formed but made up (the first response always wins).
    What the system can detect: nothing, a judge is trusted on what it says. The run completes
    with lost 0, every recorded group carries the fake's judge version, and the policy differs
    from the real judge's run."""
    cfg = h.config()
    base = h.baseline(cfg)
    w = h.world(cfg)
    fake_ep = "ipc://%s/fake-judge" % w["dir"]

    def answer(req, n):
        k = len(req.responses)
        p = [0.5 if i == j else (1.0 if i < j else 0.0) for i in range(k) for j in range(k)]
        return [[H.env("judge_reply", H.pb.JudgeReply(request_id=req.request_id, judge_version="made-up", k=k,
                                                     preference=p))]]
    fake = FakeJudge(h, fake_ep, answer)
    L, _ = h.start_servers(w, judge=False)
    a = h.start(w, "actor", "actor-0", ["judge.endpoints=" + fake_ep])
    end = time.time() + 30
    while L.alive() and time.time() < end:
        fake.pump(0.1)
    h.finish_run(w, L, [a], timeout=5)
    with open(os.path.join(w["run"], "records", "groups.pb"), "rb") as f:
        rec = f.read()
    H.check(rec.count(b"made-up") >= 8 * 3, "the records do not carry the fake judge's version on every group")
    name, data = h.last_checkpoint(w)
    H.check(data != base[1], "made-up verdicts left the policy as the real judge's: were they used at all?")


CASES = {
    "made_up_endpoint": case_made_up_endpoint,
    "reused_id": case_reused_id,
    "dead_judges": case_dead_judges,
    "two_frames": case_two_frames,
    "invalid_verdicts": case_invalid_verdicts,
    "valid_made_up_verdicts": case_valid_made_up_verdicts,
}

if __name__ == "__main__":
    sys.exit(H.main(CASES))
