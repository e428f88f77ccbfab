"""Reads a run folder without spar: iterations.jsonl, and records/groups.pb (each record a varint
length then a packed RolloutGroup, proto/spar.proto) decoded with a minimal protobuf wire reader
for the fields the compose test checks, so the test needs no protobuf package or generated code.
"""
import json

# RolloutGroup fields (proto/spar.proto) the checks read: number -> (name, wire type)
GROUP_FIELDS = {2: ("iteration", 0), 3: ("prompt_id", 0), 4: ("policy_version", 0), 10: ("actor_id", 2)}


def read_jsonl(path):
    """Every whole line of a JSON-lines file (a last line still being written is left out)."""
    out = []
    with open(path) as f:
        for line in f:
            if line.endswith("\n"):
                out.append(json.loads(line))
    return out


def _varint(b, i):
    x = shift = 0
    while True:
        if i >= len(b):
            raise ValueError("truncated varint at byte %d" % i)
        c = b[i]
        i += 1
        x |= (c & 0x7F) << shift
        shift += 7
        if c < 0x80:
            return x, i


def _message(b):
    """The GROUP_FIELDS of one packed message (defaults when absent, as protobuf has them)."""
    out = {"iteration": 0, "prompt_id": 0, "policy_version": 0, "actor_id": ""}
    i = 0
    while i < len(b):
        key, i = _varint(b, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(b, i)
        elif wt == 1:
            v, i = b[i:i + 8], i + 8
        elif wt == 5:
            v, i = b[i:i + 4], i + 4
        elif wt == 2:
            n, i = _varint(b, i)
            v, i = b[i:i + n], i + n
        else:
            raise ValueError("wire type %d in a record" % wt)
        if i > len(b):
            raise ValueError("field %d runs past its record" % num)
        if num in GROUP_FIELDS and GROUP_FIELDS[num][1] == wt:
            name = GROUP_FIELDS[num][0]
            out[name] = v.decode("utf-8") if wt == 2 else v
    return out


def read_groups(path):
    """Every record of records/groups.pb, in order; a torn or corrupt file raises ValueError."""
    b = open(path, "rb").read()
    i, out = 0, []
    while i < len(b):
        n, i = _varint(b, i)
        if i + n > len(b):
            raise ValueError("%s: record %d is torn (%d of %d bytes)" % (path, len(out), len(b) - i, n))
        out.append(_message(b[i:i + n]))
        i += n
    return out
