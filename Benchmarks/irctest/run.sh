#!/usr/bin/env bash
# IRC conformance: irctest (github.com/progval/irctest) against tincan and, when it is
# installed, ngircd, with ngircd's marker set. Prints passed/failed/skipped for each.
#
#   Benchmarks/irctest/run.sh PATH_TO_IRCTEST            # a checkout of progval/irctest
#   SERVERS="tincan" Benchmarks/irctest/run.sh ~/irctest  # tincan only
#   K='testMonitor' Benchmarks/irctest/run.sh ~/irctest   # a pytest -k selection
#
# irctest is not vendored: the checkout is copied to a temporary directory and
# tincan's controller (Benchmarks/irctest/tincan_controller.py) is written into
# the copy. Needs python3 with pytest, pytest-xdist, pytest-timeout, filelock, ecdsa and
# websockets (`pip install pytest pytest-xdist pytest-timeout filelock ecdsa websockets`);
# builds tincan in release mode unless TINCAN_BIN names a binary. A test that waits
# longer than TIMEOUT seconds (default 60) fails, so one hang does not stop the run.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
src="${1:?usage: $0 PATH_TO_IRCTEST}"
[[ -f "$src/irctest/basecontrollers.py" ]] || { echo "run.sh: $src is not an irctest checkout" >&2; exit 2; }
SERVERS="${SERVERS:-tincan ngircd}"
MARKERS="${MARKERS:-not implementation-specific and not deprecated and not strict}"
JOBS="${JOBS:-2}"
TIMEOUT="${TIMEOUT:-60}"
K="${K:-}"
OUT="${OUT:-/tmp/irctest-results}"
mkdir -p "$OUT"

work="$(mktemp -d /tmp/irctest-copy.XXXXXX)"
# Servers that a failed test left running carry this mark in their environment and are
# stopped when the run ends.
export TINCAN_IRCTEST_RUN="$$-$RANDOM"
stop_leftovers() {
  local pid
  for pid in $(grep -lsa "TINCAN_IRCTEST_RUN=$TINCAN_IRCTEST_RUN" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3); do
    if tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -q " chat serve "; then kill "$pid" 2>/dev/null || true; fi
  done
}
trap 'stop_leftovers; rm -rf "$work"' EXIT
cp -a "$src/." "$work/"
cp "$here/tincan_controller.py" "$work/irctest/controllers/tincan.py"

if [[ " $SERVERS " == *" tincan "* ]]; then
  if [[ -z "${TINCAN_BIN:-}" ]]; then
    (cd "$root" && swift build -c release --product tincan >/dev/null)
    TINCAN_BIN="$root/.build/release/tincan"
  fi
  export TINCAN_BIN
fi

summary=()
for server in $SERVERS; do
  if [[ "$server" == ngircd ]] && ! command -v ngircd >/dev/null; then
    echo "run.sh: ngircd is not installed; skipping it" >&2
    continue
  fi
  args=(-p no:cacheprovider -q -rfEs --timeout "$TIMEOUT" --controller "irctest.controllers.$server" -m "$MARKERS")
  [[ "$JOBS" -gt 1 ]] && args+=(-n "$JOBS")
  [[ -n "$K" ]] && args+=(-k "$K")
  log="$OUT/$server.log"
  echo "== $server: python3 -m pytest ${args[*]}" >&2
  (cd "$work" && python3 -m pytest "${args[@]}" >"$log" 2>&1) || true
  stop_leftovers
  line="$(grep -aE '(passed|failed|skipped).* in [0-9.]+s' "$log" | tail -1 | sed -E 's/^=+ //; s/ =+$//')"
  summary+=("$(printf '%-8s %s' "$server" "$line")")
done
echo
echo "irctest $(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo '?'), -m '$MARKERS'; logs in $OUT"
printf '%s\n' "${summary[@]}"
