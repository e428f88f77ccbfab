#!/usr/bin/python3
"""A spar judge written in Python: the template for wrapping any model as a judge.

It speaks the judge protocol of proto/spar.proto over ZeroMQ, exactly as the C judge does:
bind a ROUTER socket; every frame from an actor is [routing id, Envelope]; answer a
JudgeRequest with a JudgeReply (the K x K matrix P[i][j] = P(y_i beats y_j): diagonal 1/2,
P + P^T = 1, entries in [0, 1]) and a Heartbeat with a Heartbeat. Replace `judge()` with
your model. The message code is generated from proto/spar.proto by protoc when the judge
starts (Debian: protobuf-compiler, python3-protobuf, python3-zmq).

This example judges the arith task by its rule, as `spar judge` with judge.kind rule does:
a correct sum beats a wrong number, a nearer number a farther one, a number beats junk.

    python3 examples/python_judge/judge.py --bind tcp://*:5557
"""
import argparse
import random
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile

import zmq

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_DIR = os.path.join(HERE, "..", "..", "proto")
PROTOCOL_VERSION = 1
EOT = 256


def load_messages():
    """Generates spar_pb2 from proto/spar.proto into a private folder and imports it."""
    out = tempfile.mkdtemp(prefix="spar-pb-")
    subprocess.run(["protoc", "--python_out=" + out, "-I" + PROTO_DIR, "spar.proto"], check=True)
    sys.path.insert(0, out)
    import spar_pb2  # noqa: E402  (generated just above)
    return spar_pb2


def response_text(response):
    """The response's bytes up to end-of-text (tokens are bytes 0..255 and EOT = 256)."""
    out = bytearray()
    for t in response.tokens:
        if t == EOT:
            break
        if t < 256:
            out.append(t)
    return out.decode("latin-1")


def arith_score(prompt, text):
    """2 for the right sum, 1 - |err| / (|answer| + |err|) for another number, 0 for junk."""
    m = re.fullmatch(r"(\d+)\+(\d+)=", prompt)
    if not m:
        return None
    answer = int(m.group(1)) + int(m.group(2))
    if not re.fullmatch(r"\d{1,12}", text):
        return 0.0
    err = abs(int(text) - answer)
    return 2.0 if err == 0 else 1.0 - err / (answer + err)


def rewards(prompt, responses):
    """One score per response (a reward model's answer), or raises ValueError."""
    scores = [arith_score(prompt, response_text(r)) for r in responses]
    if any(s is None for s in scores):
        raise ValueError("prompt %r is not an arith problem" % prompt[:40])
    return scores


def judge(prompt, responses):
    """The K x K preference matrix for one prompt, or raises ValueError. Put your model here."""
    scores = rewards(prompt, responses)
    return [[1.0 if a > b else 0.0 if a < b else 0.5 for b in scores] for a in scores]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bind", required=True, help="ZeroMQ endpoint to bind, e.g. tcp://*:5557")
    ap.add_argument("--id", default="python-judge.%d@%s" % (os.getpid(), socket.gethostname()),
                    help="sender id in every envelope (default BASE.PID@HOST, unique like spar's own)")
    ap.add_argument("--version", default="python-arith-1", help="judge version carried by every reply")
    ap.add_argument("--rewards", action="store_true",
                    help="answer with K rewards (as a reward model does) instead of the K x K matrix")
    ap.add_argument("--position-bias", type=float, default=0.0,
                    help="testing: favour the first-listed of two equal answers by this much (0 .. 0.5)")
    ap.add_argument("--malformed-every", type=int, default=0,
                    help="testing: make one reply in N, drawn at random, break P + P^T = 1 (0: never);"
                         " random, not every Nth, so that a retried request is not broken every time")
    args = ap.parse_args()
    pb = load_messages()
    breaker = random.Random(1)  # which replies --malformed-every breaks

    ctx = zmq.Context()
    sock = ctx.socket(zmq.ROUTER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.bind(args.bind)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    print("python judge %s serving on %s" % (args.version, args.bind), flush=True)

    seq = served = bad = 0
    while not stop:
        if not sock.poll(200):
            continue
        frames = sock.recv_multipart()
        if len(frames) != 2:
            bad += 1
            continue
        ident, payload = frames
        env = pb.Envelope()
        try:
            env.ParseFromString(payload)
        except Exception:  # a frame that is not an Envelope: count and drop, as the C side does
            bad += 1
            continue
        if env.protocol_version != PROTOCOL_VERSION:
            bad += 1
            continue
        seq += 1
        out = pb.Envelope(protocol_version=PROTOCOL_VERSION, run_id=env.run_id, sender_id=args.id, seq=seq)
        kind = env.WhichOneof("body")
        if kind == "judge_request":
            req = env.judge_request
            k = len(req.responses)
            rep = out.judge_reply
            rep.request_id = req.request_id
            rep.judge_version = args.version
            rep.k = k
            try:
                if args.rewards:
                    rep.rewards.extend(rewards(req.prompt, req.responses))
                    served += 1
                else:
                    P = judge(req.prompt, req.responses)
                    served += 1
                    for i in range(k):  # a judge that prefers whatever it reads first, on ties
                        for j in range(i + 1, k):
                            if P[i][j] == 0.5:
                                P[i][j], P[j][i] = 0.5 + args.position_bias, 0.5 - args.position_bias
                    if args.malformed_every and breaker.random() < 1.0 / args.malformed_every:
                        P[0][k - 1] = P[k - 1][0] = 0.9  # P + P^T = 1.8: the actor must refuse this
                    rep.preference.extend(v for row in P for v in row)
            except ValueError as e:
                rep.error = str(e)
        elif kind == "heartbeat":
            out.heartbeat.role = pb.ROLE_JUDGE
            out.heartbeat.bad_messages = bad
            out.heartbeat.requests_served = served
        else:
            bad += 1
            continue
        sock.send_multipart([ident, out.SerializeToString()])
    print("python judge stopping: %d requests served, %d bad messages" % (served, bad), flush=True)
    sock.close()
    ctx.term()


if __name__ == "__main__":
    main()
