#!/usr/bin/env bash
# Builds the Debian package, installs it on this machine with dpkg, and runs
# the installed binary as the package's own user against a fresh database:
# check-config, migrate, serve until /readyz answers, then say. Checks the
# unit with systemd-analyze verify where systemd is installed, then removes
# and purges the package. Runs as root (dpkg, runuser), with PostgreSQL on
# 127.0.0.1:5432 (trust authentication for the user postgres), as .ci/run
# sets up.
#
# Which binary goes in: by default the debug binary `cargo test` already
# built (target/debug/itsm-bot; built here when missing). CI cannot afford a
# second, release, build of the whole dependency tree (.ci/run must stay
# well within 30 minutes on 2 cores), and what this script proves — the
# package's layout, conffiles, maintainer scripts, user, modes and unit —
# does not depend on the optimisation level. `cargo deb --profile dev`
# would package it too, but cargo-deb 3 warns that the dev profile "will be
# a hard error in the future"; `--no-build` with the binary staged where
# the release profile expects it ($CARGO_TARGET_DIR/release/itsm-bot, in a
# scratch target dir so the real target/release is never touched) works
# with any cargo-deb. Releases run plain `cargo deb` (a release build).
# ITSM_DEB_BINARY=path packages another binary (e.g. target/release/itsm-bot).
set -euo pipefail
cd "$(dirname "$0")/../.."

admin_url="${ITSM_PACKAGE_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
base_url="${admin_url%/*}"
binary="${ITSM_DEB_BINARY:-target/debug/itsm-bot}"
db="itsm_pkg_$$"
work="$(mktemp -d)"
serve_pid=""
bot_pid=""

say() { echo "test-package: $*"; }
fail() { echo "test-package: FAILED: $*" >&2; exit 1; }

cleanup() {
    # The bot itself, then runuser (which does not always pass the signal on).
    if [ -n "$bot_pid" ] && kill -0 "$bot_pid" 2>/dev/null; then
        kill -TERM "$bot_pid" 2>/dev/null || true
    fi
    if [ -n "$serve_pid" ] && kill -0 "$serve_pid" 2>/dev/null; then
        kill -TERM "$serve_pid" 2>/dev/null || true
        wait "$serve_pid" 2>/dev/null || true
    fi
    if dpkg -s itsm-bot >/dev/null 2>&1; then
        dpkg -P itsm-bot >/dev/null 2>&1 || true
    fi
    psql "$admin_url" -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

command -v cargo-deb >/dev/null 2>&1 || fail "cargo-deb is not installed (cargo install cargo-deb --locked)"
[ "$(id -u)" = 0 ] || fail "run as root (dpkg -i, runuser)"

if [ ! -x "$binary" ]; then
    say "$binary is missing; building it"
    cargo build --quiet --bin itsm-bot
fi

say "packaging $binary"
install -D -m 0755 "$binary" "$work/target/release/itsm-bot"
CARGO_TARGET_DIR="$work/target" cargo deb --no-build --fast --quiet -o "$work/itsm-bot.deb"
deb="$work/itsm-bot.deb"
dpkg-deb --info "$deb" | sed -n '/Package:/,/Depends:/p'

# A leftover from an earlier run would hide what a fresh install does.
if dpkg -s itsm-bot >/dev/null 2>&1; then
    dpkg -P itsm-bot >/dev/null
fi

say "dpkg -i"
dpkg -i "$deb"
[ -x /usr/bin/itsm-bot ] || fail "/usr/bin/itsm-bot is not installed"
getent passwd itsm-bot >/dev/null || fail "the itsm-bot user was not created"
[ "$(stat -c '%a %U:%G' /etc/itsm-bot/env)" = "640 root:itsm-bot" ] \
    || fail "/etc/itsm-bot/env is $(stat -c '%a %U:%G' /etc/itsm-bot/env), not 640 root:itsm-bot"
grep -qx /etc/itsm-bot/config.toml /var/lib/dpkg/info/itsm-bot.conffiles \
    || fail "/etc/itsm-bot/config.toml is not a conffile"
runuser -u itsm-bot -- test -r /etc/itsm-bot/env || fail "itsm-bot cannot read /etc/itsm-bot/env"
/usr/bin/itsm-bot --version

if command -v systemd-analyze >/dev/null 2>&1; then
    say "systemd-analyze verify"
    # The unit names /usr/bin/itsm-bot and the itsm-bot user, both installed
    # now. verify exits 0 on an unknown key or a bad value ("…, ignoring"),
    # which would silently drop a hardening line: any output is a failure.
    verdict="$(systemd-analyze verify /usr/lib/systemd/system/itsm-bot.service 2>&1)" \
        || fail "systemd-analyze verify: $verdict"
    [ -z "$verdict" ] || fail "systemd-analyze verify complained: $verdict"
else
    say "systemd-analyze is not installed; the unit is not verified"
fi

# As the unit runs it: the package's user, its config file, from /.
# A port nothing listens on (bash's /dev/tcp: no python or ss needed).
port=""
for _ in $(seq 1 50); do
    candidate=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then
        port="$candidate"
        break
    fi
done
[ -n "$port" ] || fail "found no free port"
bot_env=(env -i --chdir=/ PATH=/usr/bin:/bin
    ITSM_CONFIG=/etc/itsm-bot/config.toml
    DATABASE_URL="$base_url/$db"
    ITSM__HTTP__BIND="127.0.0.1:$port"
    RUST_LOG=info)
as_bot() {
    runuser -u itsm-bot -- "${bot_env[@]}" /usr/bin/itsm-bot "$@"
}

say "check-config"
as_bot check-config
say "migrate (creates $db)"
as_bot migrate
say "serve"
# Not through as_bot: a function run in the background is a subshell of
# its own, and $! must be runuser, the bot's parent.
runuser -u itsm-bot -- "${bot_env[@]}" /usr/bin/itsm-bot serve >"$work/serve.log" 2>&1 &
serve_pid=$!
ready=""
for _ in $(seq 1 300); do
    if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then
        ready=yes
        break
    fi
    kill -0 "$serve_pid" 2>/dev/null || break
    sleep 0.1
done
[ -n "$ready" ] || { cat "$work/serve.log" >&2; fail "serve did not answer /readyz"; }
bot_pid="$(pgrep -P "$serve_pid" -u itsm-bot -x itsm-bot)" || fail "no itsm-bot process runs as the user itsm-bot"
say "/readyz answered; serve runs as the user itsm-bot"
reply="$(as_bot say --user alice --channel ops -- '/incident Packaged printer jams P3')"
echo "$reply"
case "$reply" in INC-1*) ;; *) fail "say did not open INC-1" ;; esac
shown="$(as_bot say --user alice --channel ops -- '/incident INC-1 show')"
echo "$shown" | head -n 2
curl -fsS "http://127.0.0.1:$port/metrics" | grep -q '^itsm_open_tickets' || fail "/metrics has no itsm_open_tickets"
# To the bot itself, as systemd would: runuser, signalled, reports the
# signal as its own exit status whatever the bot did.
kill -TERM "$bot_pid"
wait "$serve_pid" || { cat "$work/serve.log" >&2; fail "serve did not stop cleanly on SIGTERM"; }
serve_pid=""
bot_pid=""

say "dpkg -r keeps the configuration, dpkg -P removes it"
dpkg -r itsm-bot >/dev/null
[ ! -e /usr/bin/itsm-bot ] || fail "/usr/bin/itsm-bot is still there after dpkg -r"
[ -e /etc/itsm-bot/config.toml ] || fail "dpkg -r removed the conffile"
dpkg -P itsm-bot >/dev/null
[ ! -e /etc/itsm-bot ] || fail "/etc/itsm-bot is still there after purge"
say "ok"
