"""A Docker engine for the compose test: the one already running, or one this test starts and
stops (dockerd on a private socket, without touching the firewall: --iptables=false
--ip-masq=false, no default bridge), its images kept in $SPAR_COMPOSE_CACHE/docker so later
runs build warm. Installs Debian's docker.io, docker-compose and debootstrap when missing; one
test at a time per cache (a lock file), so two runs never share an engine's data folder.
"""
import fcntl
import json
import os
import shutil
import signal
import subprocess
import time

CACHE = os.environ.get("SPAR_COMPOSE_CACHE", "/var/cache/spar-compose")
DOCKER = "/usr/bin/docker"  # Debian's client: another `docker` may come first on PATH
PACKAGES = {"/usr/bin/docker": "docker.io", "/usr/sbin/dockerd": "docker.io",
            "/usr/bin/docker-compose": "docker-compose", "/usr/sbin/debootstrap": "debootstrap"}


def skip_reason():
    """Why this machine cannot run the test (None: it can)."""
    if os.environ.get("SPAR_SKIP_ENGINE") == "1":
        return "SPAR_SKIP_ENGINE=1"
    if not os.path.isdir("/sys/fs/cgroup") or not os.listdir("/sys/fs/cgroup"):
        return "no /sys/fs/cgroup: containers cannot run here"
    if _engine_answers(dict(os.environ)):
        return None
    if os.geteuid() != 0:
        return "not root and no Docker engine answers: cannot start dockerd"
    if subprocess.run(["unshare", "--net", "--mount", "--pid", "--fork", "true"], capture_output=True).returncode != 0:
        return "cannot make namespaces (unshare --net --mount --pid failed): containers cannot run here"
    return None


def _engine_answers(env):
    if not os.path.exists(DOCKER):
        return False
    try:
        return subprocess.run([DOCKER, "info"], env=env, capture_output=True, timeout=20).returncode == 0
    except subprocess.TimeoutExpired:
        return False


class Engine:
    def __init__(self, workdir, log):
        self.workdir, self.log = workdir, log
        self.env = dict(os.environ)
        self.env["PATH"] = "/usr/bin:/usr/sbin:/bin:/sbin:" + os.environ.get("PATH", "")
        self.compose = None
        self.pid = None  # dockerd's, when this test started it
        self.lock = None
        self.cleanup = []

    def _install(self):
        missing = sorted({pkg for path, pkg in PACKAGES.items() if not os.path.exists(path)})
        if not missing:
            return
        self.log("installing %s (apt-get)" % " ".join(missing))
        env = dict(self.env, DEBIAN_FRONTEND="noninteractive")
        cmd = ["apt-get", "install", "-y", "--no-install-recommends"] + missing
        if subprocess.run(cmd, env=env, capture_output=True).returncode != 0:
            subprocess.run(["apt-get", "update"], env=env, capture_output=True)
            r = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if r.returncode != 0:
                raise RuntimeError("apt-get install %s failed:\n%s" % (" ".join(missing), r.stdout[-3000:] + r.stderr[-3000:]))

    def _pick_compose(self):
        choice = os.environ.get("SPAR_COMPOSE")
        candidates = [choice.split()] if choice else [["/usr/bin/docker-compose"], [DOCKER, "compose"]]
        for c in candidates:
            r = subprocess.run(c + ["version"], env=self.env, capture_output=True, text=True)
            if r.returncode == 0:
                self.log("compose: %s (%s)" % (" ".join(c), r.stdout.splitlines()[0] if r.stdout else "?"))
                return c
        raise RuntimeError("no compose client works: tried %s" % candidates)

    def start(self):
        if os.geteuid() == 0:
            self._install()
        os.makedirs(CACHE, exist_ok=True)
        self.lock = open(os.path.join(CACHE, "lock"), "w")
        try:
            fcntl.flock(self.lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.log("waiting for another compose test using %s" % CACHE)
            fcntl.flock(self.lock, fcntl.LOCK_EX)
        if _engine_answers(self.env):
            self.log("using the running Docker engine")
        else:
            self._start_dockerd()
        self.compose = self._pick_compose()
        v = self.docker("version", "--format", "{{.Server.Version}}").strip()
        self.log("engine %s" % v)

    def _start_dockerd(self):
        sock = os.path.join(self.workdir, "docker.sock")
        logpath = os.path.join(self.workdir, "dockerd.log")
        cmd = ["dockerd", "--iptables=false", "--ip-masq=false", "--bridge=none",
               "--data-root", os.path.join(CACHE, "docker"), "--exec-root", os.path.join(self.workdir, "exec"),
               "--pidfile", os.path.join(self.workdir, "dockerd.pid"), "-H", "unix://" + sock]
        self.log("starting " + " ".join(cmd))
        with open(logpath, "w") as out:
            proc = subprocess.Popen(cmd, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.pid = proc.pid
        self._proc = proc
        self.env["DOCKER_HOST"] = "unix://" + sock
        deadline = time.time() + 60
        while time.time() < deadline:
            if proc.poll() is not None:
                raise RuntimeError("dockerd exited %d:\n%s" % (proc.returncode, open(logpath).read()[-3000:]))
            if os.path.exists(sock) and _engine_answers(self.env):
                return
            time.sleep(0.5)
        raise RuntimeError("dockerd did not answer within 60 s:\n%s" % open(logpath).read()[-3000:])

    def stop(self):
        for f in reversed(self.cleanup):
            try:
                f()
            except Exception as e:  # cleanup goes on
                self.log("cleanup: %s" % e)
        self.cleanup = []
        if self.pid:
            self.log("stopping dockerd (pid %d)" % self.pid)
            os.kill(self.pid, signal.SIGTERM)
            try:
                self._proc.wait(60)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self._proc.wait(10)
            self.pid = None
            # dockerd leaves its namespace mounts (exec/netns/default) behind
            execroot = os.path.join(self.workdir, "exec")
            mounts = [ln.split()[1] for ln in open("/proc/self/mounts")]
            for m in sorted((m for m in mounts if m.startswith(execroot + "/")), reverse=True):
                subprocess.run(["umount", "-l", m], capture_output=True)
            shutil.rmtree(execroot, ignore_errors=True)
        if self.lock:
            self.lock.close()
            self.lock = None

    def docker(self, *args, check=True, timeout=600):
        r = subprocess.run([DOCKER] + list(args), env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise RuntimeError("docker %s exited %d: %s" % (" ".join(args), r.returncode, r.stderr.strip()))
        return r.stdout

    def image_id(self, tag):
        """The id of a tagged image, or None."""
        r = subprocess.run([DOCKER, "image", "inspect", "--format", "{{.Id}}", tag], env=self.env,
                           capture_output=True, text=True)
        return r.stdout.strip() if r.returncode == 0 else None

    def inspect(self, cid):
        return json.loads(self.docker("inspect", cid))[0]

    def wait(self, cid, timeout):
        """The container's exit code once it stops, or None after `timeout` seconds."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            st = self.inspect(cid)["State"]
            if not st["Running"] and not st.get("Restarting"):
                return st["ExitCode"]
            time.sleep(0.5)
        return None

    def base_images(self, script):
        r = subprocess.run(["sh", script], env=dict(self.env, DOCKER=DOCKER, SPAR_COMPOSE_CACHE=CACHE),
                           capture_output=True, text=True)
        for line in r.stdout.splitlines():
            self.log(line)
        if r.returncode != 0:
            raise RuntimeError("base_image.sh exited %d:\n%s" % (r.returncode, r.stderr[-3000:]))
