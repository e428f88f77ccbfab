#!/usr/bin/python3
"""A real Prometheus server (Debian's `prometheus`) scrapes a running learner's /metrics.

Starts `spar run` with learner.http on a free loopback port, starts prometheus with a scrape
job for it (1 s interval) in a private folder, and asks Prometheus' query API what it stored:
the target is up, the iteration and the accepted groups advance, every live actor has a
version. Also checks /status is the JSON document status.json holds, and that a second learner
cannot take the same port (clear error, exit 1).

usage: test_prometheus.py SPAR_BIN
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def get(url, timeout=2.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def query(prom, expr):
    """The instant vector of expr as [(labels, value)], [] when empty or not reachable yet."""
    url = f"http://127.0.0.1:{prom}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        doc = json.loads(get(url))
    except OSError:
        return []
    if doc.get("status") != "success":
        return []
    return [(r["metric"], float(r["value"][1])) for r in doc["data"]["result"]]


def wait_for(what, fn, timeout):
    end = time.time() + timeout
    while time.time() < end:
        v = fn()
        if v:
            return v
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def main():
    spar = sys.argv[1]
    prometheus = shutil.which("prometheus")
    if not prometheus:
        print("FAIL: the prometheus binary is missing (Debian package prometheus; make test installs it)")
        return 1
    tmp = tempfile.mkdtemp(prefix="spar-prom-")
    procs = []
    try:
        http = free_port()
        cfg = os.path.join(tmp, "cfg.yaml")
        with open(cfg, "w") as f:
            f.write("run:\n  name: prom\n  iterations: 40\nrollout:\n  samples_per_prompt: 16\n"
                    f"learner:\n  lease_timeout_ms: 500\n  http: 127.0.0.1:{http}\n"
                    "actor:\n  count: 2\n  delay_ms: 40\n")
        run_log = open(os.path.join(tmp, "run.log"), "w")
        run = subprocess.Popen([spar, "run", cfg, "--set", f"run.dir={tmp}/run"], cwd=tmp,
                               stdout=run_log, stderr=subprocess.STDOUT)
        procs.append(run)
        metrics = wait_for("the learner's /metrics",
                           lambda: _try(lambda: get(f"http://127.0.0.1:{http}/metrics")), 30)
        assert "# TYPE spar_iteration gauge" in metrics, metrics[:500]

        prom = free_port()
        with open(os.path.join(tmp, "prometheus.yml"), "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                    "scrape_configs:\n  - job_name: spar\n    static_configs:\n"
                    f"      - targets: ['127.0.0.1:{http}']\n")
        prom_log = open(os.path.join(tmp, "prometheus.log"), "w")
        procs.append(subprocess.Popen(
            [prometheus, f"--config.file={tmp}/prometheus.yml", f"--storage.tsdb.path={tmp}/tsdb",
             f"--web.listen-address=127.0.0.1:{prom}"], cwd=tmp, stdout=prom_log, stderr=subprocess.STDOUT))

        up = wait_for("Prometheus to scrape the learner", lambda: [v for _, v in query(prom, 'up{job="spar"}') if v == 1], 60)
        assert up == [1.0]
        first = wait_for("spar_iteration in Prometheus", lambda: query(prom, "spar_iteration"), 30)[0][1]
        later = wait_for("the iteration to advance", lambda: [v for _, v in query(prom, "spar_iteration") if v > first], 60)
        groups = query(prom, "spar_groups_total")
        assert groups and groups[0][1] > 0, groups
        versions = query(prom, 'spar_peer_version{role="actor"}')
        assert len(versions) >= 2, versions
        info = query(prom, "spar_info")
        assert info and info[0][0].get("algorithm") == "sppo", info
        print(f"prometheus scraped the learner: iteration {first:.0f} -> {later[0]:.0f}, "
              f"groups {groups[0][1]:.0f}, {len(versions)} actor versions")

        status = json.loads(get(f"http://127.0.0.1:{http}/status"))
        assert status["prompts"] == 16 and status["run_dir"].endswith("/run"), status
        assert len([p for p in status["peers"] if p["role"] == "actor"]) >= 2, status
        with open(os.path.join(tmp, "run", "status.json")) as f:
            assert json.load(f)["run_id"] == status["run_id"]

        # the port is taken: a second learner says so and stops
        busy = subprocess.run([spar, "learner", "--config", cfg, "--set", f"run.dir={tmp}/other",
                               "--set", f"learner.control=ipc://{tmp}/c2", "--set", f"learner.publish=ipc://{tmp}/p2"],
                              capture_output=True, text=True, timeout=30)
        assert busy.returncode == 1 and "learner.http" in busy.stderr, (busy.returncode, busy.stderr[-500:])

        rc = run.wait(timeout=120)
        assert rc == 0, f"spar run exited {rc}"
        print("PASS")
        return 0
    except AssertionError as e:
        print("FAIL:", e)
        for name in ("run.log", "prometheus.log", "run/logs/learner.log"):
            p = os.path.join(tmp, name)
            if os.path.exists(p):
                print(f"--- {name}\n" + open(p).read()[-3000:])
        return 1
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def _try(fn):
    try:
        return fn()
    except OSError:
        return None


if __name__ == "__main__":
    sys.exit(main())
