#!/bin/sh
# Tries the README's two front-door commands on a bare Debian 12: builds a minbase bookworm root
# with debootstrap (from the apt mirror this machine uses), copies the committed tree into it
# (git archive HEAD), mounts proc, sys, dev, dev/pts, dev/shm and /run, and as root in a chroot
# runs `./spar.sh demo` then `./spar.sh test`. Reports each one's pass/fail and wall time, the
# ctest counts and the demo's last line; unmounts everything at the end, also on failure.
#
# usage: scripts/bare_debian.sh [--root DIR] [--fresh | --reuse] [--only demo|test]
#   --root DIR  where the root lives (default /tmp/debian12-bare; not /tmp/spar-*, which other
#               tools sweep); DIR.minbase.tar keeps it as debootstrap made it, so the next run
#               starts from a bare root again without running debootstrap
#   --fresh     debootstrap anew (also drops DIR.minbase.tar)
#   --reuse     use DIR as the last run left it (packages already installed: quicker, not bare)
#   --only X    run only one of the two commands
# Logs: DIR.logs/{debootstrap,demo,test}.log. Exit 0 when both commands passed.
set -eu
ROOT=/tmp/debian12-bare
MODE=bare
ONLY=""
while [ $# -gt 0 ]; do
    case "$1" in
    --root) ROOT="${2:?--root needs a folder}"; shift 2 ;;
    --fresh) MODE=fresh; shift ;;
    --reuse) MODE=reuse; shift ;;
    --only) ONLY="${2:?--only needs demo or test}"; shift 2 ;;
    -h | --help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bare_debian: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$ONLY" in "" | demo | test) ;; *) echo "bare_debian: --only takes demo or test" >&2; exit 2 ;; esac
[ "$(id -u)" -eq 0 ] || { echo "bare_debian: needs root (debootstrap, mount, chroot)" >&2; exit 2; }
case "$ROOT" in /*) ;; *) ROOT="$(pwd)/$ROOT" ;; esac
ROOT="${ROOT%/}"
[ "$ROOT" != "" ] && [ "$ROOT" != "/" ] || { echo "bare_debian: refusing root folder '$ROOT'" >&2; exit 2; }
REPO="$(cd "$(dirname "$0")/.." && pwd)"
TAR="$ROOT.minbase.tar"
LOGS="$ROOT.logs"
mkdir -p "$LOGS"

say() { echo "bare_debian: $*"; }

# The mirror of this machine's bookworm entry (deb822 .sources or a one-line list).
s_mirror() {
    m=""
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        m=$(awk '/^URIs:/ {u=$2} /^Suites:/ && / bookworm( |$)/ {print u; exit}' "$f")
        [ -n "$m" ] && break
    done
    if [ -z "$m" ]; then
        m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
            awk '$1 == "deb" && $3 == "bookworm" {print $2; exit}')
    fi
    echo "${m:-http://deb.debian.org/debian}"
}

# Mounts under ROOT (the innermost last), listed in /proc/self/mounts.
s_mounts() {
    awk -v r="$ROOT" '$2 == r || index($2, r "/") == 1 {print $2}' /proc/self/mounts | sort -r
}

# Ends what a run left inside the root (processes whose root is ROOT: started by this script),
# then unmounts everything under it.
s_cleanup() {
    for p in /proc/[0-9]*; do
        [ "$(readlink "$p/root" 2>/dev/null)" = "$ROOT" ] || continue
        pid=${p#/proc/}
        say "ending process $pid left in the root"
        kill -9 "$pid" 2>/dev/null || true
    done
    for i in 1 2 3; do
        mounts=$(s_mounts)
        [ -z "$mounts" ] && return 0
        for m in $mounts; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
    done
    [ -z "$(s_mounts)" ] || { say "could not unmount: $(s_mounts | tr '\n' ' ')"; return 1; }
}
trap 's_cleanup' EXIT
trap 'exit 130' INT TERM HUP

[ -z "$(s_mounts)" ] || { say "unmounting what an earlier run left under $ROOT"; s_cleanup; }

# 1. The root
if ! command -v debootstrap >/dev/null 2>&1; then
    say "installing Debian's debootstrap"
    apt-get install -y --no-install-recommends debootstrap >/dev/null 2>&1 ||
        { apt-get update -qq && apt-get install -y --no-install-recommends debootstrap >/dev/null; }
fi
[ "$MODE" = fresh ] && rm -f "$TAR"
if [ "$MODE" = reuse ] && [ -x "$ROOT/bin/sh" ]; then
    say "reusing $ROOT as the last run left it"
elif [ -f "$TAR" ]; then
    say "restoring the bare root from $TAR"
    rm -rf "$ROOT" && mkdir -p "$ROOT" && tar -xf "$TAR" -C "$ROOT"
else
    MIRROR=$(s_mirror)
    say "debootstrap --variant=minbase bookworm $ROOT $MIRROR (log: $LOGS/debootstrap.log)"
    rm -rf "$ROOT"
    t0=$(date +%s)
    if ! debootstrap --variant=minbase bookworm "$ROOT" "$MIRROR" >"$LOGS/debootstrap.log" 2>&1; then
        tail -n 20 "$LOGS/debootstrap.log"
        say "debootstrap failed"
        exit 1
    fi
    say "debootstrap took $(($(date +%s) - t0)) s"
    tar -cf "$TAR" -C "$ROOT" .
fi

# 2. The committed tree (not build folders, not uncommitted work)
if [ -n "$(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
    say "note: $REPO has uncommitted changes; the root gets HEAD ($(git -C "$REPO" rev-parse --short HEAD))"
fi
COMMIT=$(git -C "$REPO" rev-parse --short HEAD)
rm -rf "$ROOT/root/spar"
mkdir -p "$ROOT/root/spar"
git -C "$REPO" archive --format=tar "$COMMIT" | tar -xf - -C "$ROOT/root/spar"

# 3. What the build and the tests need mounted. The root is bound onto itself so that / is a
# mount point in the chroot, as on a machine: `ip -n NS` makes / a slave mount, which fails on
# a plain folder; ip netns keeps its namespaces under /run/netns.
mount --bind "$ROOT" "$ROOT"
mount -t proc proc "$ROOT/proc"
mount -t sysfs sys "$ROOT/sys"
# /dev read-only: its device nodes still work, and a `rm -rf` of the root while it is mounted
# cannot delete the machine's own /dev
mount --bind /dev "$ROOT/dev"
mount -o remount,bind,ro "$ROOT/dev"
mount --bind /dev/pts "$ROOT/dev/pts"
mount -t tmpfs -o mode=1777 shm "$ROOT/dev/shm"
mount -t tmpfs -o mode=755 run "$ROOT/run"

# The network's own TLS trust: where this machine reaches the npm registry through a proxy that
# signs with a local CA (certificates the machine added under /usr/local/share/ca-certificates),
# a machine of that network trusts it too, so the root gets the same extra CAs for node (npm).
# Debian's own CAs are not copied: the root installs them itself.
EXTRA_CA=""
if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
    cat /usr/local/share/ca-certificates/*.crt >"$ROOT/etc/ssl-network-ca.crt"
    EXTRA_CA="NODE_EXTRA_CA_CERTS=/etc/ssl-network-ca.crt"
fi

# 4. The two commands, as root, with a clean environment (no engine for the docker system test)
s_run() {
    log="$LOGS/$1.log"
    t0=$(date +%s)
    if env -i HOME=/root TERM=dumb LANG=C.UTF-8 SPAR_SKIP_ENGINE=1 $EXTRA_CA \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        chroot "$ROOT" /bin/sh -c "cd /root/spar && ./spar.sh $1" >"$log" 2>&1; then
        rc=0
    else
        rc=$?
    fi
    secs=$(($(date +%s) - t0))
    if [ "$rc" -eq 0 ]; then res=pass; else res="FAIL (exit $rc)"; fi
    echo "$1: $res in $secs s (log: $log)" >>"$LOGS/summary"
    return "$rc"
}
: >"$LOGS/summary"
ok=0
for cmd in demo test; do
    [ -z "$ONLY" ] || [ "$ONLY" = "$cmd" ] || continue
    say "chroot $ROOT: ./spar.sh $cmd (log: $LOGS/$cmd.log)"
    s_run "$cmd" || ok=1
done

# 5. The report
echo
echo "== bare Debian 12 (minbase bookworm, $MODE root $ROOT), commit $COMMIT"
cat "$LOGS/summary"
if [ -f "$LOGS/demo.log" ] && { [ -z "$ONLY" ] || [ "$ONLY" = demo ]; }; then
    echo "demo's last line: $(grep -v '^[[:space:]]*$' "$LOGS/demo.log" | tail -n 1)"
    grep '^spar run: complete' "$LOGS/demo.log" | tail -n 1 | sed 's/^/demo: /' || true
fi
if [ -f "$LOGS/test.log" ] && { [ -z "$ONLY" ] || [ "$ONLY" = test ]; }; then
    line=$(grep -E '^[0-9]+% tests passed' "$LOGS/test.log" | tail -n 1 || true)
    if [ -n "$line" ]; then
        total=$(echo "$line" | sed 's/.*out of \([0-9]*\).*/\1/')
        failed=$(echo "$line" | sed 's/.* \([0-9]*\) tests failed.*/\1/')
        skipped=$(grep -c '(Skipped)' "$LOGS/test.log" || true)
        echo "ctest: $line"
        echo "ctest counts: $((total - failed - skipped)) passed, $failed failed, $skipped skipped (of $total)"
        grep -E '\((Failed|Timeout|Not Run|Skipped|SEGFAULT|Subprocess aborted|Child aborted|Exception)\)' "$LOGS/test.log" | sed 's/^/  /' || true
    else
        echo "ctest: no summary line (the build or the set-up failed; see $LOGS/test.log)"
        tail -n 15 "$LOGS/test.log" | sed 's/^/  /'
    fi
fi
exit "$ok"
