#!/usr/bin/python3
"""Checks docker/ without a Docker engine: every service's command line is a valid spar
invocation (run with --check against the mounted config), the ports and endpoints agree across
services, health checks ping the ports their service binds, actors can be scaled, and the
Dockerfile copies what exists and ships the spar binary.

    test_docker_compose.py SPAR_BIN SOURCE_DIR
"""
import os
import re
import subprocess
import sys

import yaml


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def sets(command):
    """The --set key=value pairs of a command, as a dict."""
    out = {}
    for i, a in enumerate(command):
        if a == "--set":
            k, v = command[i + 1].split("=", 1)
            out[k] = v
    return out


def port_of(endpoint):
    m = re.fullmatch(r"tcp://([^:]+):(\d+)", endpoint)
    if not m:
        fail("not a tcp endpoint: " + endpoint)
    return m.group(1), int(m.group(2))


def main():
    spar, src = sys.argv[1], sys.argv[2]
    ddir = os.path.join(src, "docker")
    compose = yaml.safe_load(open(os.path.join(ddir, "docker-compose.yml")))
    services = compose["services"]
    for role in ("learner", "judge", "actor"):
        if role not in services:
            fail("no %s service" % role)

    # every spar service's command is a valid spar invocation of its role, with the mounted config
    for name, svc in services.items():
        if svc.get("image") != "spar:latest":
            continue
        mounts = {}
        for v in svc.get("volumes", []):
            parts = v.split(":")
            if parts[0].startswith("."):
                mounts[parts[1]] = os.path.normpath(os.path.join(ddir, parts[0]))
        command = [mounts.get(a, a) for a in svc["command"]]
        if command[0] != name:
            fail("service %s runs spar %s" % (name, command[0]))
        r = subprocess.run([spar] + command + ["--check"], capture_output=True, text=True)
        if r.returncode != 0 or "config valid" not in r.stdout:
            fail("service %s: spar %s --check: %s%s" % (name, " ".join(command), r.stdout, r.stderr))
        if svc.get("restart") != "on-failure":
            fail("service %s does not restart on failure" % name)

    # endpoints agree: actors reach the learner's and judge's binds by service name
    L, J, A = (sets(services[s]["command"]) for s in ("learner", "judge", "actor"))
    binds = {"learner.control": port_of(L["learner.control"])[1], "learner.publish": port_of(L["learner.publish"])[1]}
    for key, port in binds.items():
        host, p = port_of(A[key])
        if host != "learner" or p != port:
            fail("actor %s is %s, the learner binds port %d" % (key, A[key], port))
    judge_port = port_of(J["judge.bind"])[1]
    # the judge joins the learner's judge pool: it reaches the learner's control port, and
    # advertises its own port
    host, p = port_of(J["learner.control"])
    if host != "learner" or p != binds["learner.control"]:
        fail("the judge registers at %s, the learner binds port %d" % (J["learner.control"], binds["learner.control"]))
    if port_of(J["judge.advertise"].replace("{ip}", "10.0.0.2").replace("{host}", "judge"))[1] != judge_port:
        fail("the judge advertises %s, it binds port %d" % (J["judge.advertise"], judge_port))
    for ep in A["judge.endpoints"].split(","):
        host, p = port_of(ep)
        if host != "judge" or p != judge_port:
            fail("actor judge endpoint %s, the judge binds port %d" % (ep, judge_port))

    # Prometheus scrapes the port the learner serves its metrics on
    http_port = port_of("tcp://" + L["learner.http"])[1]
    prom = services.get("prometheus")
    if prom:
        pconf = yaml.safe_load(open(os.path.join(ddir, "prometheus.yml")))
        targets = [t for job in pconf["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]]
        if targets != ["learner:%d" % http_port]:
            fail("prometheus scrapes %s, the learner serves metrics on port %d" % (targets, http_port))

    # published ports and health checks match the binds
    for name, ports in (("learner", set(binds.values()) | {http_port}), ("judge", {judge_port})):
        svc = services[name]
        published = set()
        for spec in svc.get("ports", []):
            # HOST_IP:HOST_PORT:PORT, each host part ${VAR-default}: by default the same port
            host = re.sub(r"\$\{\w+:?-([^}]*)\}", r"\1", spec).split(":")
            if len(host) != 3 or host[1] != host[2]:
                fail("service %s publishes %s: by default not on its own port (%s)" % (name, spec, ":".join(host)))
            published.add(int(host[2]))
        if published != ports:
            fail("service %s publishes %s, binds %s" % (name, sorted(published), sorted(ports)))
        test = svc["healthcheck"]["test"]
        if test[:3] != ["CMD", "spar", "ping"] or port_of(test[3])[1] not in ports:
            fail("service %s health check %s does not ping its port" % (name, test))
    # actors scale: no fixed name, no published ports
    if "container_name" in services["actor"] or services["actor"].get("ports"):
        fail("the actor service cannot be scaled (container_name or ports set)")
    r = subprocess.run([spar, "ping", "--help"], capture_output=True, text=True)
    if r.returncode != 0:
        fail("spar ping --help failed")

    # the Dockerfile copies what exists, builds portably and ships the binary
    text = open(os.path.join(ddir, "Dockerfile")).read()
    for m in re.finditer(r"^COPY (?!--from)(\S+) ", text, re.M):
        if not os.path.exists(os.path.join(src, m.group(1))):
            fail("Dockerfile copies %s, which does not exist" % m.group(1))
    copied = set(re.findall(r"^COPY (?!--from)(\S+) ", text, re.M))
    cmake = open(os.path.join(src, "CMakeLists.txt")).read()
    for sub in re.findall(r"^add_subdirectory\((\w+)\)", cmake, re.M):  # the unconditional ones
        if sub not in copied:
            fail("CMakeLists.txt builds %s/, which the Dockerfile does not copy" % sub)
    for need in ("FROM debian:12 AS build", "FROM debian:12-slim", "-DSPAR_NATIVE=OFF",
                 "COPY --from=build /src/build/spar /usr/local/bin/spar", 'ENTRYPOINT ["spar"]'):
        if need not in text:
            fail("Dockerfile lacks: " + need)
    build = compose["services"]["learner"].get("build", {})
    if build.get("dockerfile") != "docker/Dockerfile" or os.path.normpath(os.path.join(ddir, build.get("context", ""))) != os.path.normpath(src):
        fail("the learner service does not build docker/Dockerfile from the repository root")
    print("docker-compose: %d services, every command valid, endpoints and ports agree" % len(services))


if __name__ == "__main__":
    main()
