#!/usr/bin/env bash
# Assembles the build context of the Containerfile at the repository root:
# a root filesystem holding the host-built itsm-bot, the shared libraries it
# links (as ldd resolves them on this host), the dynamic loader, the CA
# roots, and an unprivileged user. No base image is pulled: the image is
# FROM scratch with this tree, so it runs wherever the host's glibc does.
#
#   deploy/container/rootfs.sh [BINARY] [CONTEXT_DIR]
#     BINARY       default target/release/itsm-bot (CI passes target/debug/itsm-bot)
#     CONTEXT_DIR  default target/container-context (emptied first)
#
# Then: podman build -f Containerfile -t itsm-bot CONTEXT_DIR
set -euo pipefail
cd "$(dirname "$0")/../.."

binary="${1:-target/release/itsm-bot}"
context="${2:-target/container-context}"
[ -x "$binary" ] || { echo "rootfs.sh: $binary is not an executable; build it first (cargo build --release)" >&2; exit 1; }

rm -rf "$context"
root="$context/rootfs"
mkdir -p "$root/usr/bin" "$root/etc/ssl/certs" "$root/tmp"
chmod 1777 "$root/tmp"

# Debug information is of no use in the image and is most of a debug
# build's size.
if command -v objcopy >/dev/null 2>&1; then
    objcopy --strip-debug "$binary" "$root/usr/bin/itsm-bot"
else
    cp "$binary" "$root/usr/bin/itsm-bot"
fi
chmod 0755 "$root/usr/bin/itsm-bot"

# Every library ldd resolves (`name => /path`), and the loader (a bare
# absolute path), copied to the same path, symlinks resolved.
ldd "$binary" | awk '
    $2 == "=>" && $3 ~ /^\// { print $3 }
    $1 ~ /^\// { print $1 }
' | sort -u | while read -r lib; do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
done

# CA roots for the Slack and Discord APIs and webhooks (rustls reads this
# file; SSL_CERT_FILE in the Containerfile names it too).
cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"

# The user the image runs as: no shell, no home, no privileges.
cat >"$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/nonexistent:/usr/sbin/nologin
itsm-bot:x:10001:10001:itsm-bot:/nonexistent:/usr/sbin/nologin
PASSWD
cat >"$root/etc/group" <<'GROUP'
root:x:0:
itsm-bot:x:10001:
GROUP
# Name resolution from /etc/hosts, then DNS (glibc has both built in).
echo "hosts: files dns" >"$root/etc/nsswitch.conf"

echo "rootfs.sh: context in $context ($(du -sh "$root" | cut -f1))"
