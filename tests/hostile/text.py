#!/usr/bin/python3
"""hostile text: ids and strings that are not safe text, everywhere they can go.

Envelope sender ids that are not UTF-8, hold newlines, quotes, backslashes or a forged log line
or Prometheus sample; the same bytes as ZeroMQ routing ids (what the learner keys peers on);
hello hosts and shutdown reasons likewise. Afterwards /metrics (learner.http) must still be valid
Prometheus text format with no forged sample, status.json valid UTF-8 JSON, and the learner's log
every line in its own format (no forged line).
"""
import json
import os
import re
import socket
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile as H  # noqa: E402

FORGED = b"12:00:00.000 learner error: FORGED"
NASTY = [b"\xff\xfe\xfd", b"ok\nFORGED-LINE", b"a\r\n" + FORGED, b'x"} 1\nspar_iteration 999\n#',
         b"back\\slash\"quote", b"\x1b[31mred", b"nul\x00byte", b"\xc3\x28", b"\xed\xa0\x80", b"a" * 600]


def s_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


LINE = re.compile(r"^\d\d:\d\d:\d\d\.\d{3} \S+ (info|warn|error|debug): ")
SAMPLE = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*",?)*\})? '
                    r'[-+]?([0-9.eE+-]+|NaN|[+-]?Inf)( -?\d+)?$')


def check_prometheus(text):
    """Every line a comment, blank, or one sample `name{labels} value`; no forged sample."""
    for i, line in enumerate(text.split("\n")):
        if not line or line.startswith("#"):
            continue
        H.check(SAMPLE.match(line), "/metrics line %d is not a Prometheus sample: %r" % (i + 1, line[:200]))
        H.check(not line.startswith("spar_iteration 999"), "/metrics carries a forged sample: %r" % line)


def case_ids(h):
    port = s_port()
    cfg = h.config(iterations=3)
    base = h.baseline(cfg)
    w = h.world(cfg)
    L, _ = h.start_servers(w, learner_sets=["learner.http=127.0.0.1:%d" % port])
    for b in NASTY:
        s = h.dealer(w["control"])
        for body, msg in ((10, H.field_varint(1, 2) + H.field_bytes(2, b)), (12, H.field_varint(1, 2)),
                          (13, H.field_varint(2, 1)), (23, H.field_bytes(1, b))):
            h.send(s, [H.raw_envelope(body, msg, sender=b)])
        rid = b.replace(b"\x00", b"_")[:255] or b"x"
        if rid[0] == 0:
            rid = b"r" + rid
        r = h.dealer(w["control"], routing_id=rid)  # the same bytes as the connection's identity
        for body, msg in ((10, H.field_varint(1, 2) + H.field_bytes(2, b"host")), (12, H.field_varint(1, 2)),
                          (13, H.field_varint(2, 1))):
            h.send(r, [H.raw_envelope(body, msg, sender=b"plain")])
    time.sleep(1.3)  # status.json and the /metrics copy are rendered every second
    a = h.start(w, "actor", "actor-0", ["actor.delay_ms=20"])
    metrics = status = None
    t0 = time.time()
    while L.alive() and time.time() - t0 < 30:
        try:
            metrics = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=2).read()
            with open(os.path.join(w["run"], "status.json"), "rb") as f:
                status = f.read()
        except OSError:
            pass
        time.sleep(0.2)
        if metrics and status and len(h.lines(w)) >= 2:
            break
    H.check(metrics is not None, "no /metrics answer")
    try:
        mtext = metrics.decode("utf-8")
    except UnicodeDecodeError as e:
        raise H.Fail("/metrics is not UTF-8: %s" % e)
    check_prometheus(mtext)
    H.check(status is not None, "no status.json")
    try:
        json.loads(status.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise H.Fail("status.json is not UTF-8 JSON: %s" % e)
    h.finish_run(w, L, [a])
    raw = open(L.log, "rb").read()
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise H.Fail("the learner log is not UTF-8 (bytes of a peer id reached it): %s" % e)
    bad = [ln for ln in raw.decode("utf-8").split("\n") if ln and not LINE.match(ln)]
    H.check(not bad, "learner log lines not in the log format (forged or split by a peer's bytes): %r" % bad[:4])
    H.check(b"FORGED" not in raw.replace(b"FORGED-LINE", b"") or all(
        not ln.lstrip().startswith(FORGED) for ln in raw.split(b"\n")), "a forged log line")
    h.same_as_baseline(w, base)


CASES = {"ids": case_ids}

if __name__ == "__main__":
    sys.exit(H.main(CASES))
