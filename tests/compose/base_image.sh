#!/bin/sh
# Makes the Debian 12 base images docker/Dockerfile starts from (debian:12 and debian:12-slim)
# when no registry can be reached: a minbase debootstrap of bookworm from this machine's apt
# mirror, imported into the engine. The rootfs tarball is kept in $SPAR_COMPOSE_CACHE (default
# /var/cache/spar-compose) so later runs only import it; an engine that has the images already
# is left as it is.
#   base_image.sh            (DOCKER names the client, default /usr/bin/docker)
set -eu
DOCKER=${DOCKER:-/usr/bin/docker}
CACHE=${SPAR_COMPOSE_CACHE:-/var/cache/spar-compose}
TARBALL=$CACHE/debian-12-minbase.tar

if "$DOCKER" image inspect debian:12 >/dev/null 2>&1 && "$DOCKER" image inspect debian:12-slim >/dev/null 2>&1; then
    echo "base_image: debian:12 and debian:12-slim are in the engine"
    exit 0
fi

# the mirror apt uses here: the first deb.* URI of the Debian sources, else Debian's own
s_mirror() {
    m=$(sed -n 's/^URIs: *\(http[^ ]*debian\)\/* *$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
    [ -n "$m" ] || m=$(sed -n 's/^deb \(http[^ ]*debian\)\/* bookworm .*/\1/p' /etc/apt/sources.list 2>/dev/null | head -n 1)
    echo "${m:-http://deb.debian.org/debian}"
}

if [ ! -s "$TARBALL" ]; then
    command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y debootstrap >/dev/null
    mkdir -p "$CACHE"
    root=$(mktemp -d "$CACHE/rootfs.XXXXXX")
    trap 'rm -rf "$root" "$TARBALL.part"' EXIT
    mirror=$(s_mirror)
    echo "base_image: debootstrap bookworm from $mirror (once; cached in $TARBALL)"
    debootstrap --variant=minbase bookworm "$root" "$mirror" >"$CACHE/debootstrap.log" 2>&1 || {
        tail -n 20 "$CACHE/debootstrap.log" >&2
        exit 1
    }
    # apt inside the image uses the same mirror and suites as this machine (security included)
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
        cp /etc/apt/sources.list.d/debian.sources "$root/etc/apt/sources.list.d/debian.sources"
        rm -f "$root/etc/apt/sources.list"
    fi
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/tmp/* "$root"/var/log/*.log
    tar -C "$root" --numeric-owner -cf "$TARBALL.part" .
    mv "$TARBALL.part" "$TARBALL"
    rm -rf "$root"
    trap - EXIT
fi
"$DOCKER" import "$TARBALL" debian:12 >/dev/null
"$DOCKER" tag debian:12 debian:12-slim
echo "base_image: imported debian:12 and debian:12-slim from $TARBALL"
