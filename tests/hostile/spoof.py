#!/usr/bin/python3
"""hostile spoof: Shutdowns and heartbeats whose envelope sender_id names another peer.

A Shutdown naming a working actor must not make the learner drop it or re-queue its lease; a
Shutdown naming a judge must not take the judge out of the pool; a Shutdown from a connection
applies to that connection only. The run completes with lost 0, no lease re-issued because of
the spoof, and the undisturbed run's final checkpoint.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile as H  # noqa: E402


def s_peer_id(L, prefix, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        for line in L.text().splitlines():
            if ("peer %s" % prefix) in line and " joined" in line:
                return line.split("peer ", 1)[1].split(" ", 1)[0]
        time.sleep(0.05)
    raise H.Fail("the learner never logged a peer %s* joining" % prefix)


def case_shutdown_as_actor(h):
    cfg = h.config(iterations=4)
    sets = ["actor.delay_ms=40"]
    base = h.baseline(cfg, actor_sets=sets)
    w = h.world(cfg)
    L, _ = h.start_servers(w)
    a = h.start(w, "actor", "actor-0", sets)
    aid = s_peer_id(L, "actor-0")
    s = h.dealer(w["control"])
    # wait until the actor holds a lease (a group is in flight), then speak for it
    end = time.time() + 10
    while time.time() < end and "fetching weights" not in a.text():
        time.sleep(0.02)
    time.sleep(0.15)
    for _ in range(3):
        h.send(s, [H.env("shutdown", H.pb.Shutdown(reason="spoofed goodbye"), aid)])
        time.sleep(0.1)
    h.finish_run(w, L, [a])
    log = L.text()
    H.check("left (spoofed goodbye)" not in log,
            "the learner dropped %s on a Shutdown from another connection: %s" %
            (aid, [ln for ln in log.splitlines() if "spoofed" in ln][:2]))
    reissued = sum(ln.get("leases_reissued", 0) for ln in h.lines(w))
    H.check(reissued == 0, "%d prompts re-issued after the spoofed Shutdown" % reissued)
    h.same_as_baseline(w, base)


def case_shutdown_as_judge(h):
    cfg = h.config()
    base = h.baseline(cfg)
    w = h.world(cfg)
    L, j = h.start_servers(w)
    end = time.time() + 5
    jid = None
    while jid is None and time.time() < end:
        for line in L.text().splitlines():
            if "joins the judge pool at" in line:
                jid = line.split("judge ", 1)[1].split(" joins", 1)[0]
        time.sleep(0.05)
    H.check(jid, "the judge never joined the pool")
    sub = h.sub(w["publish"])
    s = h.dealer(w["control"])
    h.send(s, [H.env("shutdown", H.pb.Shutdown(reason="spoofed judge goodbye"), jid)])
    time.sleep(0.3)
    # an actor that knows no judge but the pool's: it must still get the real one
    a = h.start(w, "actor", "actor-0", ["judge.endpoints=ipc://%s/none" % w["dir"]])
    pools = []
    t0 = time.time()
    while L.alive() and time.time() - t0 < 30:
        e = h.recv(sub, 100, "judge_pool")
        if e is not None:
            pools.append(list(e.judge_pool.endpoints))
    h.finish_run(w, L, [a], timeout=5)
    H.check("left (spoofed judge goodbye)" not in L.text(), "the learner took the judge out on a spoofed Shutdown")
    H.check(pools and all(w["judge"] in p for p in pools), "the judge's endpoint missing from pools: %s" % pools[:3])
    h.same_as_baseline(w, base)


def case_shutdown_own(h):
    """A connection's own Shutdown ends its own lease at once (the prompts go to the actor)."""
    cfg = h.config(lease_timeout_ms=20000)
    base = h.baseline(cfg)
    w = h.world(cfg)
    L, _ = h.start_servers(w)
    s = h.dealer(w["control"])
    h.send(s, [H.env("hello", H.pb.Hello(role=H.pb.ROLE_ACTOR), "leaver")])
    wel = h.recv(s, 2000, "welcome")
    H.check(wel is not None, "no Welcome")
    h.send(s, [H.env("work_request", H.pb.WorkRequest(max_prompts=2), "leaver", wel.welcome.run_id)])
    g = h.recv(s, 2000, "work_grant")
    H.check(g is not None and g.work_grant.prompt_ids, "no lease")
    h.send(s, [H.env("shutdown", H.pb.Shutdown(reason="leaving"), "leaver", wel.welcome.run_id)])
    t0 = time.time()
    a = h.start(w, "actor", "actor-0")
    h.finish_run(w, L, [a], timeout=15)
    H.check(time.time() - t0 < 10, "the run waited for the left peer's lease (20 s timeout)")
    h.same_as_baseline(w, base)


def case_status_names_right_peer(h):
    """After spoofed heartbeats naming the actor with another version, status.json still shows
    the actor's own version and state."""
    cfg = h.config(iterations=3)
    w = h.world(cfg)
    L, _ = h.start_servers(w)
    a = h.start(w, "actor", "actor-0", ["actor.delay_ms=30"])
    aid = s_peer_id(L, "actor-0")
    s = h.dealer(w["control"])
    for _ in range(20):
        h.send(s, [H.env("heartbeat", H.pb.Heartbeat(role=H.pb.ROLE_ACTOR, policy_version=H.U64), aid)])
        time.sleep(0.02)
    time.sleep(1.2)  # status.json is rewritten every second
    with open(os.path.join(w["run"], "status.json")) as f:
        st = json.load(f)
    h.finish_run(w, L, [a])
    peers = st.get("peers", [])
    mine = [p for p in peers if p.get("id") == aid]
    H.check(mine, "status.json lists no peer %s: %s" % (aid, [p.get("id") for p in peers]))
    H.check(all(p.get("version") not in (H.U64, -1) for p in mine),
            "status.json shows the spoofed version 2^64-1 for %s" % aid)


CASES = {
    "shutdown_as_actor": case_shutdown_as_actor,
    "shutdown_as_judge": case_shutdown_as_judge,
    "shutdown_own": case_shutdown_own,
    "status_names_right_peer": case_status_names_right_peer,
}

if __name__ == "__main__":
    sys.exit(H.main(CASES))
