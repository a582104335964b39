#!/usr/bin/env bash
# The chat page's speed in headless Chromium (Debian's chromium and chromium-driver, driven by
# selenium), against tincan chat serve on loopback with OTHERS other members in the lobby (plain
# IRC clients held by page_bench.py: OTHERS - 1 of them, plus the raw client that sends), and the
# same bursts drawn by the floor (floor.html: the page's WebSocket and login, and one <div> per
# PRIVMSG, nothing else), served by python3 -m http.server on another port and let in with
# --allow-origin. Every time is taken in the page (performance.now()); see page_bench.py.
#
# Each round runs two servers, each on a fresh copy of a database made beforehand:
#   empty:   accounts only. The page opens (navigation start to the lobby shown: the composer,
#            #lobby in the list, the member rows, a frame painted), then a raw client sends BURST
#            messages (default 1,000) to #lobby at once: first arrival to the last one drawn and a
#            frame painted. The page closes; the floor opens, takes the same burst, then
#            HISTORY - BURST more, then the burst again (with HISTORY rows already there).
#   history: HISTORY messages (default 10,000) already in the lobby's history. The page opens
#            (the same, and its latest history drawn), loads older history through
#            client.requestHistory('#lobby', 'BEFORE') until HISTORY are loaded (the time, the JS
#            heap after a full collection), is scrolled to the end and takes the burst.
# Figures are the median of ROUNDS of each measure on its own.
#
# The lobby turns quiet past --quiet-presence members (the server's default: 1,000): OTHERS=999
# with the viewer is the largest loud lobby, where the page draws every member. OTHERS=1000 makes it
# quiet (the page is told of its operators and itself only); QUIET_PRESENCE=2000 OTHERS=1000 keeps
# 1,001 loud.
#
# Run:  Benchmarks/page/run.sh                      # OTHERS=999 HISTORY=10000 BURST=1000 ROUNDS=3
#       TINCAN=.build/debug/tincan ROUNDS=1 Benchmarks/page/run.sh
#       OTHERS=1000 Benchmarks/page/run.sh          # a quiet lobby
#       QUIET_PRESENCE=2000 OTHERS=1000 Benchmarks/page/run.sh
# LIMIT (default 600) is the most seconds any one wait may take. The page measured is the one
# beside the binary (tincan_TinCanChat.resources, copied there by swift build), read when the
# server starts.
# Needs: swift build -c release; apt-get install chromium chromium-driver; pip install selenium (as scripts/test does).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=../common.sh
source "$root/Benchmarks/common.sh"

TINCAN=${TINCAN:-$root/.build/release/tincan}
ROUNDS=${ROUNDS:-3}
OTHERS=${OTHERS:-999}
HISTORY=${HISTORY:-10000}
BURST=${BURST:-1000}
QUIET_PRESENCE=${QUIET_PRESENCE:-}
LIMIT=${LIMIT:-600}

[[ -x $TINCAN ]] || die "no $TINCAN: run 'swift build -c release' first"
command -v chromium >/dev/null || die "chromium not found (apt-get install chromium)"
command -v chromedriver >/dev/null || [[ -x /usr/bin/chromedriver ]] ||
    die "chromedriver not found (apt-get install chromium-driver)"
python3 -c 'import selenium' 2>/dev/null || die "python3 cannot import selenium (pip install selenium)"
(( OTHERS >= 1 && BURST >= 1 && HISTORY > BURST )) || die "need OTHERS >= 1 and HISTORY > BURST >= 1"
ulimit -n "$(ulimit -Hn)"
(( OTHERS + 200 < $(ulimit -n) )) ||
    die "$OTHERS members need more open files than this process may have ($(ulimit -n))"

# Rows the lobby's member list should have: everyone while it is loud; the viewer alone once quiet.
quiet=${QUIET_PRESENCE:-1000}
members=$(( OTHERS + 1 ))
(( members > quiet )) && members=1
lobby_kind="loud: every member listed"
(( members == 1 )) && lobby_kind="quiet: past --quiet-presence $quiet, the page is told of itself only"

work=$(mktemp -d)
trap 'stop_all; rm -rf "$work"' EXIT
PASSWORD=benchmark-password
bench=(python3 "$here/page_bench.py")

# The accounts (one for the page, one for the floor), hashed by tincan itself.
for account in viewer floorviewer; do
    printf '%s\n' "$PASSWORD" | "$TINCAN" chat user add --db "$work/accounts.sqlite" "$account" >/dev/null
done

# Everything in the main file, so that a copy of it alone is the whole database.
checkpoint() {
    python3 -c 'import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
c.close()' "$1"
}

floor_port=$(free_port)
start_bg floor_pid python3 -m http.server --bind 127.0.0.1 "$floor_port" --directory "$here" >/dev/null 2>&1
wait_listening "$floor_port" "$floor_pid"

# serve DB: starts tincan on DB; sets server_pid, irc_port, http_port.
serve() {
    irc_port=$(free_port)
    http_port=$(free_port)
    [[ $http_port == "$irc_port" ]] && http_port=$(free_port)
    local quiet_flag=()
    [[ -n $QUIET_PRESENCE ]] && quiet_flag=(--quiet-presence "$QUIET_PRESENCE")
    start_bg server_pid "$TINCAN" chat serve --host 127.0.0.1 --port "$irc_port" --http-port "$http_port" \
        --name bench.tincan --db "$1" --allow-origin "http://127.0.0.1:$floor_port" --no-flood-limit \
        --max-clients 100000 --max-clients-per-address 100000 --ping-interval 600 "${quiet_flag[@]}" \
        2>>"$work/server.log"
    wait_listening "$irc_port" "$server_pid"
    wait_listening "$http_port" "$server_pid"
}

# The history: HISTORY lines from four plain clients, the last one last, all stored.
checkpoint "$work/accounts.sqlite"
cp "$work/accounts.sqlite" "$work/history.sqlite"
serve "$work/history.sqlite"
log "filling the lobby's history with $HISTORY messages"
"${bench[@]}" fill "$irc_port" "$HISTORY" "$work/history.sqlite"
stop "$server_pid"
checkpoint "$work/history.sqlite"

# one SCENARIO TEMPLATE: a server on a copy of TEMPLATE, the lobby filled, one measure run; its
# key=value line in $work/round/out. (Not in a subshell: stop_all must know what it started.)
one() {
    local scenario=$1 template=$2 dir="$work/round" holder_pid driver_pid status=0
    rm -rf "$dir"
    mkdir "$dir"
    cp "$template" "$dir/chat.sqlite"
    serve "$dir/chat.sqlite"
    start_bg holder_pid "${bench[@]}" hold "$irc_port" $(( OTHERS - 1 )) "$dir/ready"
    for _ in $(seq $(( LIMIT * 10 ))); do
        [[ -e $dir/ready ]] && break
        kill -0 "$holder_pid" 2>/dev/null || die "the $(( OTHERS - 1 )) members could not get in"
        sleep 0.1
    done
    [[ -e $dir/ready ]] || die "the $(( OTHERS - 1 )) members were not in after $LIMIT s"
    start_bg driver_pid "${bench[@]}" measure --scenario "$scenario" --irc-port "$irc_port" --http-port "$http_port" \
        --floor-url "http://127.0.0.1:$floor_port/floor.html" --members "$members" --history "$HISTORY" \
        --burst "$BURST" --limit "$LIMIT" --password "$PASSWORD" > "$dir/out"
    wait "$driver_pid" || status=$?
    forget "$driver_pid"
    stop "$holder_pid"
    stop "$server_pid"
    (( status == 0 )) || die "$scenario: the measurement failed (status $status)"
}

declare -A runs
for round in $(seq "$ROUNDS"); do
    for scenario in empty history; do
        template=$work/accounts.sqlite
        [[ $scenario == history ]] && template=$work/history.sqlite
        one "$scenario" "$template"
        line=$(cat "$work/round/out")
        runs[$scenario]+="$line;"
        log "round $round: $scenario: $line"
    done
done

# med SCENARIO KEY: the median of KEY over the rounds of SCENARIO
med() {
    local values=() line value
    IFS=';' read -r -a lines <<< "${runs[$1]}"
    for line in "${lines[@]}"; do
        [[ -n $line ]] || continue
        value=$(field "$2" "$line") && values+=("$value")
    done
    (( ${#values[@]} )) && median "${values[@]}" || echo ""
}
fmt() { [[ -n $1 ]] && awk -v v="$1" -v d="${2:-0}" 'BEGIN { printf "%.*f", d, v }' || echo "-"; }
row() { printf '| %s | %s | %s | %s |\n' "$1" "$(fmt "$2" "${4:-0}")" "$(fmt "$3" "${4:-0}")" "$(ratio "$2" "$3")"; }

e() { med empty "$1"; }
h() { med history "$1"; }
browser=$(chromium --version 2>/dev/null | head -1 | cut -d' ' -f1-2)
echo "The chat page in $browser (headless), the lobby of $(( OTHERS + 1 ))"
echo "($lobby_kind); the tincan page and the floor, median of $ROUNDS; ms unless said."
echo "Server and page: $TINCAN ($(date -u -r "$TINCAN" '+built %Y-%m-%d %H:%M UTC'))."
echo
echo "| measure | tincan page | floor | page / floor |"
echo "|---|---:|---:|---:|"
printf '| open to the lobby shown, %s messages of history | %s | | |\n' "$HISTORY" "$(fmt "$(h open_ms)")"
printf '| ... the login form there (page loaded) | %s | | |\n' "$(fmt "$(h open_form_ms)")"
printf '| ... login submitted to welcome (001) | %s | | |\n' "$(fmt "$(h open_login_ms)")"
printf '| ... welcome to the lobby painted | %s | | |\n' "$(fmt "$(h open_after_welcome_ms)")"
printf '| open to the lobby shown, no history (floor: to its end of NAMES) | %s | %s | |\n' \
    "$(fmt "$(e open_empty_ms)")" "$(fmt "$(e floor_open_ms)")"
row "burst of $BURST, empty conversation" "$(e burst_ms)" "$(e floor_burst_ms)"
row "... last arrival to painted" "$(e burst_tail_ms)" "$(e floor_burst_tail_ms)"
row "burst of $BURST after $HISTORY (page: history loaded; floor: rows)" "$(h full_ms)" "$(e floor_full_ms)"
row "... last arrival to painted" "$(h full_tail_ms)" "$(e floor_full_tail_ms)"
printf '| %s messages of history loaded and drawn (%s requests; script %s, layout %s in %s layouts) | %s | | |\n' \
    "$HISTORY" "$(fmt "$(h history_requests)")" "$(fmt "$(h history_script_ms)")" "$(fmt "$(h history_layout_ms)")" \
    "$(fmt "$(h history_layouts)")" "$(fmt "$(h history_ms)")"
row "JS heap after (MiB; floor: after its second burst)" "$(h heap_mib)" "$(e floor_heap_mib)" 1
row "elements in the document then" "$(h nodes)" "$(e floor_nodes)"
echo
echo "Where each burst's time went, from Chromium's Performance.getMetrics (whole browser, ms), and the"
echo "forced layouts; member rows drawn when the lobby was shown: $(fmt "$(h member_rows)")."
echo
echo "| burst | total | script | layout | style | layouts |"
echo "|---|---:|---:|---:|---:|---:|"
for spec in "page, empty:empty:burst" "page, after $HISTORY:history:full" \
    "floor, empty:empty:floor_burst" "floor, after $HISTORY:empty:floor_full"; do
    IFS=: read -r label scenario key <<< "$spec"
    printf '| %s | %s | %s | %s | %s | %s |\n' "$label" "$(fmt "$(med "$scenario" "${key}_ms")")" \
        "$(fmt "$(med "$scenario" "${key}_script_ms")")" "$(fmt "$(med "$scenario" "${key}_layout_ms")")" \
        "$(fmt "$(med "$scenario" "${key}_style_ms")")" "$(fmt "$(med "$scenario" "${key}_layouts")")"
done
