#!/usr/bin/python3
"""hostile floods: phantom peers, readers that never read, descriptor exhaustion.

- phantom work requests: each iteration a WorkRequest from a new made-up id that never answers;
  the iterations must not each wait learner.lease_timeout_ms (3 s here), and a connection that
  never said Hello gets hello_first and no prompts;
- phantom hellos: a new connection each iteration says Hello, takes a lease and goes quiet;
- 1100 made-up Hellos (one connection, and 300 connections), then real actors join: tracked in
  status.json and served (the run completes);
- 2000 WeightsFetch and 3000 StatusRequests never read: the learner's VmHWM stays within a bound;
- 400 connections to a learner limited to 256 descriptors (prlimit): the run completes and
  writes every checkpoint.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile as H  # noqa: E402
import zmq  # noqa: E402


def s_phantom_run(h, with_hello):
    cfg = h.config(iterations=4, lease_timeout_ms=3000)
    base = h.baseline(cfg)
    w = h.world(cfg)
    L, _ = h.start_servers(w)
    sub = h.sub(w["publish"])
    a = h.start(w, "actor", "actor-0")
    grants, hello_first, n = [], 0, 0
    t0 = time.time()
    while L.alive() and time.time() - t0 < 40:
        e = h.recv(sub, 100, "weights_available")
        if e is None:
            continue
        n += 1
        s = h.dealer(w["control"])
        sender = "phantom-%d" % n
        if with_hello:
            h.send(s, [H.env("hello", H.pb.Hello(role=H.pb.ROLE_ACTOR), sender)])
            h.recv(s, 1000, "welcome")
        h.send(s, [H.env("work_request", H.pb.WorkRequest(max_prompts=4), sender)])
        g = h.recv(s, 1000, "work_grant")
        if g is not None:
            grants.append(len(g.work_grant.prompt_ids))
            hello_first += g.work_grant.hello_first
    wall = time.time() - t0
    lines = h.finish_run(w, L, [a], timeout=5)
    h.figures.update({"phantoms": n, "prompts_granted_to_phantoms": sum(grants), "run_s": round(wall, 2)})
    if not with_hello:
        H.check(sum(grants) == 0, "a connection that never said Hello was leased %d prompts" % sum(grants))
        H.check(hello_first == len(grants), "%d of %d grants to it carry hello_first" % (hello_first, len(grants)))
    slow = [ln["iteration"] for ln in lines[1:] if ln.get("wall_s", 0) >= 2.5]
    H.check(not slow, "iterations %s each waited for a phantom's lease (wall_s >= 2.5 s of a 3 s timeout)" % slow)
    h.same_as_baseline(w, base)


def case_phantom_work_requests(h):
    s_phantom_run(h, False)


def case_phantom_hellos(h):
    s_phantom_run(h, True)


def case_hello_flood(h):
    cfg = h.config()
    base = h.baseline(cfg)
    w = h.world(cfg)
    L, _ = h.start_servers(w)
    s = h.dealer(w["control"], sndhwm=0)
    for i in range(1100):
        h.send(s, [H.env("hello", H.pb.Hello(role=H.pb.ROLE_ACTOR), "made-up-%d" % i)])
    conns = []
    for i in range(300):
        c = h.dealer(w["control"])
        h.send(c, [H.env("hello", H.pb.Hello(role=H.pb.ROLE_ACTOR), "made-up-conn-%d" % i)])
        conns.append(c)
    time.sleep(1.0)
    H.check(h.ping(w["control"]), "the learner does not answer spar ping after 1400 Hellos")
    acts = [h.start(w, "actor", "actor-%d" % i) for i in range(2)]
    seen = set()
    t0 = time.time()
    while L.alive() and time.time() - t0 < 40:
        try:
            with open(os.path.join(w["run"], "status.json")) as f:
                st = json.load(f)
            for p in st.get("peers", []):
                if p.get("id", "").startswith("actor-"):
                    seen.add(p["id"].split(".")[0])
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    h.finish_run(w, L, acts, timeout=5)
    H.check({"actor-0", "actor-1"} <= seen, "status.json tracked only %s of the real actors" % sorted(seen))
    H.check("peer actor-0" in L.text() and "peer actor-1" in L.text(), "the learner never logged the real actors")
    _, hwm = L.mem()
    h.same_as_baseline(w, base)


def case_fetch_unread(h):
    """2000 WeightsFetch of a 1.5 MB blob (4000 prompts x 48 actions), none read."""
    cfg = h.config(prompts=4000, n=48, k=4)
    w = h.world(cfg)
    L, _ = h.start_servers(w, judge=False)
    rss0, hwm0 = L.mem()
    s = h.dealer(w["control"], rcvhwm=1, sndhwm=0)
    s.setsockopt(zmq.RCVBUF, 4096)
    h.send(s, [H.env("hello", H.pb.Hello(role=H.pb.ROLE_ACTOR), "lazy")])
    for _ in range(2000):
        h.send(s, [H.env("weights_fetch", H.pb.WeightsFetch(version=0, chunk_index=0), "lazy")])
    peak = 0
    for _ in range(60):
        time.sleep(0.05)
        peak = max(peak, L.mem()[1] or 0)
    H.check(L.alive(), "learner %s" % L.status_desc())
    H.check(h.ping(w["control"]), "the learner does not answer spar ping with 2000 unread chunks")
    # the ROUTER queues at most 64 replies per peer (wire.h): 64 x 1.5 MB = 96 MiB over the start
    bound = hwm0 + 160 * 1024
    h.figures.update({"learner_hwm_start_kib": hwm0, "learner_hwm_kib": peak, "bound_kib": bound})
    H.check(peak <= bound, "learner VmHWM %d KiB (start %d) with unread chunks, bound %d" % (peak, hwm0, bound))


def case_status_unread(h):
    cfg = h.config()
    w = h.world(cfg)
    L, _ = h.start_servers(w, judge=False)
    rss0, hwm0 = L.mem()
    socks = [h.dealer(w["control"], rcvhwm=1, sndhwm=0) for _ in range(10)]
    for s in socks:
        for _ in range(300):
            h.send(s, [H.raw_envelope(24, H.field_varint(1, 1000))])
    peak = 0
    for _ in range(40):
        time.sleep(0.05)
        peak = max(peak, L.mem()[1] or 0)
    H.check(L.alive(), "learner %s" % L.status_desc())
    H.check(h.ping(w["control"]), "the learner does not answer spar ping")
    bound = hwm0 + 64 * 1024
    h.figures.update({"learner_hwm_start_kib": hwm0, "learner_hwm_kib": peak, "bound_kib": bound})
    H.check(peak <= bound, "learner VmHWM %d KiB (start %d) with 3000 unread Status replies, bound %d"
            % (peak, hwm0, bound))


def case_descriptors(h):
    cfg = h.config(iterations=4)
    sets = ["actor.delay_ms=60"]
    base = h.baseline(cfg, actor_sets=sets)
    w = h.world(cfg)
    L, _ = h.start_servers(w, nofile=256)
    a = h.start(w, "actor", "actor-0", sets)
    end = time.time() + 10
    while len(h.lines(w)) < 2 and time.time() < end:
        time.sleep(0.02)
    conns = []
    for i in range(400):
        c = h.dealer(w["control"])
        h.send(c, [H.env("hello", H.pb.Hello(role=H.pb.ROLE_ACTOR), "fd-%d" % i)])
        conns.append(c)
    h.figures["connections"] = len(conns)
    h.finish_run(w, L, [a], timeout=40)
    ck = sorted(n for n in os.listdir(os.path.join(w["run"], "checkpoints")) if n.endswith(".safetensors")
                and not n.endswith(".state.safetensors"))
    H.check(len(ck) == 5, "checkpoints written: %s" % ck)
    h.same_as_baseline(w, base)


CASES = {
    "phantom_work_requests": case_phantom_work_requests,
    "phantom_hellos": case_phantom_hellos,
    "hello_flood": case_hello_flood,
    "fetch_unread": case_fetch_unread,
    "status_unread": case_status_unread,
    "descriptors": case_descriptors,
}

if __name__ == "__main__":
    sys.exit(H.main(CASES))
