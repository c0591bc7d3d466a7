#!/usr/bin/env bash
# Builds the container image from the Containerfile with podman and proves
# the binary in it starts: --version, check-config, and migrate + say
# against a fresh database on 127.0.0.1:5432, run from the image's own root
# filesystem (podman image mount + chroot, as the image's user 10001).
# Runs as root.
#
# What works in this sandbox (podman 4.3, no systemd, cgroup v1), written
# down so nobody has to find it again:
#  - storage: a private store in a scratch dir (--root/--runroot), driver
#    vfs: overlay needs kernel support the sandbox may not give, and a
#    private store leaves the machine's podman storage alone;
#  - build: --isolation chroot (no RUN steps today, but no OCI runtime is
#    needed for any that are added);
#  - run: `podman run` fails here ("crun: setrlimit RLIMIT_NOFILE:
#    Operation not permitted"), so the image's root filesystem is mounted
#    with `podman image mount` and the binary run in it with chroot. Same
#    files, same user; only the namespaces differ.
#
# ITSM_IMAGE_BINARY=path puts another binary in (default: the debug binary
# `cargo test` built; CI does not afford a second, release, build).
set -euo pipefail
cd "$(dirname "$0")/../.."

binary="${ITSM_IMAGE_BINARY:-target/debug/itsm-bot}"
admin_url="${ITSM_IMAGE_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
base_url="${admin_url%/*}"
db="itsm_image_$$"
work="$(mktemp -d)"
image="localhost/itsm-bot:ci-$$"
podman_() {
    podman --root "$work/storage" --runroot "$work/run" --storage-driver vfs "$@"
}
mounted=""

say() { echo "test-image: $*"; }
fail() { echo "test-image: FAILED: $*" >&2; exit 1; }
cleanup() {
    if [ -n "$mounted" ]; then
        podman_ image unmount "$image" >/dev/null 2>&1 || true
    fi
    podman_ rmi -f "$image" >/dev/null 2>&1 || true
    psql "$admin_url" -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

command -v podman >/dev/null 2>&1 || fail "podman is not installed (apt-get install podman)"
if [ ! -x "$binary" ]; then
    say "$binary is missing; building it"
    cargo build --quiet --bin itsm-bot
fi

bash deploy/container/rootfs.sh "$binary" "$work/context"
say "podman build"
podman_ build --quiet --isolation chroot -f Containerfile -t "$image" "$work/context"

root="$(podman_ image mount "$image")"
mounted=yes
say "the image's root filesystem is at $root"
[ "$(podman_ image inspect "$image" --format '{{.Config.User}}')" = "10001:10001" ] || fail "the image does not run as 10001"

# The image's environment (ENV lines), plus the database for this run.
mapfile -t image_env < <(podman_ image inspect "$image" --format '{{range .Config.Env}}{{println .}}{{end}}' | sed '/^$/d')
# The image has no env(1): the host's sets the environment, then chroot
# enters the image and drops to its user.
chroot_bin="$(command -v chroot)"
in_image() {
    env -i "${image_env[@]}" DATABASE_URL="$base_url/$db" RUST_LOG=warn \
        "$chroot_bin" --userspec=10001:10001 "$root" /usr/bin/itsm-bot "$@"
}

say "--version"
in_image --version
say "check-config"
in_image check-config
say "migrate and say (the database is created by the image's binary)"
in_image migrate
reply="$(in_image say --user alice --channel ops -- '/incident Container printer jams P3')"
echo "$reply"
case "$reply" in INC-1*) ;; *) fail "say in the image did not open INC-1" ;; esac
say "ok"
