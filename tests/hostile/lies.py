#!/usr/bin/python3
"""hostile lies: well-formed messages that lie about leases, versions and ids.

A peer that only listens on the PUB socket and submits valid groups (made-up verdicts) for
prompts it was never leased; a peer with a lease that answers prompts of another lease under
another lease's id; groups of versions from the future and the past from the lease holder. None
may be accepted (ACK_REJECTED or stale, never ACCEPTED), the lies are counted, and the final
checkpoint equals the undisturbed run's byte for byte, with lost 0.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile as H  # noqa: E402


def s_acks(h, s, timeout_ms=300):
    out = []
    while True:
        e = h.recv(s, timeout_ms, "rollout_ack")
        if e is None:
            return out
        out.append(e.rollout_ack)


def case_listen_only(h):
    """Never says Hello, never asks for work: reads WeightsAvailable on PUB and submits a
    well-formed group for every prompt of each iteration before the actor can."""
    cfg = h.config(iterations=3)
    base = h.baseline(cfg)
    w = h.world(cfg)
    L, _ = h.start_servers(w)
    sub = h.sub(w["publish"])
    s = h.dealer(w["control"])
    bad0 = h.bad_count(w["control"])
    a = None
    accepted, acks, sent = [], 0, 0
    end = time.time() + 40
    while L.alive() and time.time() < end:
        e = h.recv(sub, 100, "weights_available")
        if e is not None:
            v = e.weights_available.version
            for p in range(8):  # the group of iteration v+1 (synchronous: version v samples it)
                h.send(s, [H.env("rollout_group", h.group(p, v + 1, v, 16, lease_id=v + 1, sender="listener"),
                                 "listener")])
                sent += 1
        for ack in s_acks(h, s, 20):
            acks += 1
            if ack.status == H.pb.ACK_ACCEPTED:
                accepted.append((ack.iteration, ack.prompt_id))
        if a is None and sent >= 8:
            a = h.start(w, "actor", "actor-0")
    H.check(a is not None, "no WeightsAvailable seen on the PUB socket")
    h.finish_run(w, L, [a], timeout=5)
    h.figures["groups_sent"], h.figures["acks"] = sent, acks
    H.check(not accepted, "%d of %d unleased groups ACCEPTED (iteration, prompt): %s"
            % (len(accepted), sent, accepted[:8]))
    lines = h.lines(w)
    H.check(lines[-1]["bad_messages"] - 0 >= min(sent, 8),
            "bad_messages %d after %d unleased groups" % (lines[-1]["bad_messages"], sent))
    del bad0
    h.same_as_baseline(w, base)


def s_lease(h, s, sender, max_prompts=2):
    h.send(s, [H.env("hello", H.pb.Hello(role=H.pb.ROLE_ACTOR), sender)])
    wel = h.recv(s, 3000, "welcome")
    H.check(wel is not None, "no Welcome")
    end = time.time() + 10
    while time.time() < end:
        h.send(s, [H.env("work_request", H.pb.WorkRequest(max_prompts=max_prompts), sender, wel.welcome.run_id)])
        e = h.recv(s, 2000, "work_grant")
        if e and e.work_grant.prompt_ids:
            return e.work_grant, wel.welcome.run_id
        time.sleep(0.05)
    raise H.Fail("no lease granted within 10 s")


def case_other_lease(h):
    """A peer holding a lease answers the prompts it does not hold, under its own lease id and
    the ids next to it, and under the envelope id of another peer."""
    cfg = h.config(lease_timeout_ms=1500)
    base = h.baseline(cfg)
    w = h.world(cfg)
    L, _ = h.start_servers(w)
    s = h.dealer(w["control"])
    g, run_id = s_lease(h, s, "liar")
    mine = set(g.prompt_ids)
    accepted = []
    for p in range(8):
        if p in mine:
            continue
        for lid, sender in ((g.lease_id, "liar"), (g.lease_id + 1, "liar"), (g.lease_id - 1, "liar"),
                            (0, "liar"), (H.U64, "liar"), (g.lease_id + 1, "actor-0")):
            h.send(s, [H.env("rollout_group", h.group(p, g.iteration, g.policy_version, 16, lease_id=lid,
                                                      sender=sender), sender, run_id)])
            ack = h.recv(s, 1000, "rollout_ack")
            if ack is not None and ack.rollout_ack.status == H.pb.ACK_ACCEPTED:
                accepted.append("prompt %d lease %d as %s" % (p, lid, sender))
    H.check(not accepted, "groups for prompts of other leases ACCEPTED: %s" % "; ".join(accepted[:6]))
    a = h.start(w, "actor", "actor-0")
    h.finish_run(w, L, [a])
    h.same_as_baseline(w, base)


def case_versions(h):
    """The lease holder answers its own prompts with versions from the future and the past and
    iterations that are not the lease's: none accepted; the prompts are then answered by a real
    actor (the lease expires or is handed out again)."""
    cfg = h.config(lease_timeout_ms=1500)
    base = h.baseline(cfg)
    w = h.world(cfg)
    L, _ = h.start_servers(w)
    s = h.dealer(w["control"])
    g, run_id = s_lease(h, s, "timetraveller")
    it, v = g.iteration, g.policy_version
    accepted = []
    for p in g.prompt_ids:
        for iteration, version in ((it, v + 1), (it, v + 1000), (it, H.U64), (it + 1, v + 1), (it, v - 1 if v else 0),
                                   (it - 1, v), (it + 1, v)):
            if (iteration, version) == (it, v):
                continue
            h.send(s, [H.env("rollout_group", h.group(p, iteration, version, 16, lease_id=g.lease_id,
                                                      sender="timetraveller"), "timetraveller", run_id)])
            ack = h.recv(s, 1000, "rollout_ack")
            H.check(L.alive(), "learner %s" % L.status_desc())
            if ack is not None and ack.rollout_ack.status == H.pb.ACK_ACCEPTED:
                accepted.append("prompt %d iteration %d version %d" % (p, iteration, version))
    H.check(not accepted, "groups of other versions ACCEPTED: %s" % "; ".join(accepted))
    a = h.start(w, "actor", "actor-0")
    h.finish_run(w, L, [a])
    h.same_as_baseline(w, base)


def case_routing_id_spoof(h):
    """A connection that sets its ZeroMQ routing id to a live actor's: ZeroMQ refuses the
    duplicate, the actor keeps its connection and the run is undisturbed."""
    cfg = h.config()
    base = h.baseline(cfg, actor_sets=["actor.delay_ms=30"])
    w = h.world(cfg)
    L, _ = h.start_servers(w)
    a = h.start(w, "actor", "actor-0", ["actor.delay_ms=30"])
    rid = None
    end = time.time() + 10
    while rid is None and time.time() < end:
        for line in L.text().splitlines():
            if "peer actor-0" in line and "joined" in line:
                rid = line.split("peer ", 1)[1].split(" ", 1)[0]
        time.sleep(0.05)
    H.check(rid, "the learner never logged the actor joining")
    s = h.dealer(w["control"], routing_id=rid.encode())
    h.send(s, [H.env("shutdown", H.pb.Shutdown(reason="spoofed"), rid)])
    h.send(s, [H.env("hello", H.pb.Hello(role=H.pb.ROLE_ACTOR), rid)])
    h.finish_run(w, L, [a])
    H.check(" left (spoofed)" not in L.text(), "the spoofed Shutdown made the learner drop the actor")
    h.same_as_baseline(w, base)


CASES = {
    "listen_only": case_listen_only,
    "other_lease": case_other_lease,
    "versions": case_versions,
    "routing_id_spoof": case_routing_id_spoof,
}

if __name__ == "__main__":
    sys.exit(H.main(CASES))
