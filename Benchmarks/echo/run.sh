#!/usr/bin/env bash
# Echo benchmark: tincan echo vs. a C epoll server vs. Python asyncio (TCP), an echo
# server written with the TinCan library vs. tincan echo (TCP), and tincan echo --udp
# vs. a plain C UDP server (UDP).
#
# 1. Round trips per second: for each connection count in CONNS, echo_load
#    keeps that many connections busy with closed-loop 64-byte request/response
#    round trips for DURATION seconds (after WARMUP seconds not counted), against
#    each server in turn (tincan, C, asyncio; interleaved per connection count,
#    ROUNDS times, median reported). The three servers are started once, each
#    on its own free port, and kept up across the connection counts.
# 2. Memory: each server is started fresh, echo_load opens IDLE idle
#    connections and holds them IDLE_HOLD seconds; VmRSS and VmHWM are read
#    from /proc/PID/status while they are held.
# 3. TinCan: Examples/uppercase-server (the TinCan API: an accept loop, a task per
#    connection, `for try await chunk in connection.chunks` and `send`) against
#    `tincan echo --upper` (NIO channel handlers), echo_load -U, for each count in
#    API_CONNS, interleaved ROUNDS times, median reported.
# 4. UDP: udp_load keeps UDP_FLOWS flows (one socket each) busy with closed-loop
#    64-byte datagrams against `tincan echo --udp` and udp_echo.c (one blocking
#    recvfrom and sendto per datagram), interleaved ROUNDS times, median reported. With FLOOR=1
#    also against nio-floor: the least a SwiftNIO DatagramChannel echo does (vector reads, one
#    flush per read, nothing else), built here (about a minute).
# Prints Markdown tables on stdout; progress goes to stderr.
#
# Run (from anywhere):
#   Benchmarks/echo/run.sh                       # full: ~3 x 4 x 6 s + memory
#   DURATION=1 WARMUP=0 CONNS="1 16" IDLE=1000 IDLE_HOLD=2 Benchmarks/echo/run.sh
# Environment (defaults): TINCAN (<repo>/.build/release/tincan), PYTHON (python3),
#   DURATION (5), WARMUP (1), CONNS ("1 16 256 1024"), ROUNDS (1),
#   IDLE (10000), IDLE_HOLD (5), BASELINE (unset: another tincan binary, e.g. the last commit's,
#   measured in the same run as a fourth server, with a tincan/baseline column),
#   API_CONNS ("16 256"), API_ECHO (<repo>/Examples/.build/release/uppercase-server, built when
#   missing), UDP_FLOWS ("16"), PARTS ("tcp memory api udp": which parts to run), FLOOR (unset).
# The load generator shares the machine with the server, so the numbers are
# comparative, not absolute.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=$root/Benchmarks/bin
# shellcheck source=../common.sh
source "$root/Benchmarks/common.sh"

TINCAN=${TINCAN:-$root/.build/release/tincan}
PYTHON=${PYTHON:-python3}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-1}
CONNS=${CONNS:-1 16 256 1024}
ROUNDS=${ROUNDS:-1}
IDLE=${IDLE:-10000}
IDLE_HOLD=${IDLE_HOLD:-5}
API_CONNS=${API_CONNS:-16 256}
API_ECHO=${API_ECHO:-$root/Examples/.build/release/uppercase-server}
UDP_FLOWS=${UDP_FLOWS:-16}
PARTS=${PARTS:-tcp memory api udp}
part() { [[ " $PARTS " == *" $1 "* ]]; }

ulimit -n 65536 2>/dev/null || {
    ulimit -n "$(ulimit -Hn)"
    log "note: open-file limit capped at $(ulimit -n) (hard limit)"
}
(( $(ulimit -n) > IDLE + 100 )) || die "open-file limit $(ulimit -n) is too low for IDLE=$IDLE"

[[ -x $TINCAN ]] || die "no tincan binary at $TINCAN (build it, or set TINCAN=...)"
python_bin=$("$PYTHON" -c 'import sys; print(sys.executable)') ||
    die "cannot run $PYTHON"

tmp=$(mktemp -d)
trap 'stop_all; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

log "building into $bin"
mkdir -p "$bin"
gcc -O2 -Wall -o "$bin/epoll_echo" "$here/epoll_echo.c"
gcc -O2 -Wall -o "$bin/echo_load" "$here/echo_load.c"
gcc -O2 -Wall -o "$bin/udp_echo" "$here/udp_echo.c"
gcc -O2 -Wall -o "$bin/udp_load" "$here/udp_load.c"
if part api && [[ ! -x $API_ECHO ]]; then
    log "building $API_ECHO"
    swift build -c release --package-path "$root/Examples" --product uppercase-server >&2
fi

servers=(tincan c asyncio)
declare -A label=([tincan]="tincan echo" [c]="C epoll" [asyncio]="Python asyncio" [baseline]="baseline tincan echo")
if [[ -n ${BASELINE:-} ]]; then
    [[ -x $BASELINE ]] || die "no baseline binary at $BASELINE"
    servers+=(baseline)
fi

# start_server NAME PORT PIDVAR: start server NAME on 127.0.0.1:PORT
start_server() {
    local name=$1 port=$2
    local -n _spid=$3
    case $name in
    tincan)  start_bg _spid "$TINCAN" echo --tcp "$port" --host 127.0.0.1 ;;
    baseline) start_bg _spid "$BASELINE" echo --tcp "$port" --host 127.0.0.1 ;;
    c)       start_bg _spid "$bin/epoll_echo" "$port" ;;
    asyncio) start_bg _spid "$python_bin" "$here/asyncio_echo.py" "$port" ;;
    esac
    wait_listening "$port" "$_spid"
}

# status_kib PID FIELD: a VmXXX field of /proc/PID/status, in KiB
status_kib() {
    awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"
}

mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

### 1. round trips per second #################################################

declare -A port pid rps
all_servers=("${servers[@]}")
part tcp || servers=()
for s in "${servers[@]}"; do
    port[$s]=$(free_port)
    start_server "$s" "${port[$s]}" "pid[$s]"
    log "$s echo server: pid ${pid[$s]}, port ${port[$s]}"
done

for c in $CONNS; do
    for s in "${servers[@]}"; do rps[$s,$c]=""; done
    for (( r = 1; r <= ROUNDS; r++ )); do
        for s in "${servers[@]}"; do
            line=$("$bin/echo_load" -p "${port[$s]}" -c "$c" -d "$DURATION" -w "$WARMUP") ||
                die "echo_load failed against $s with $c connections"
            log "$s: $line"
            rps[$s,$c]+=" $(field rps "$line")"
        done
    done
    for s in "${servers[@]}"; do
        # shellcheck disable=SC2086
        rps[$s,$c]=$(median ${rps[$s,$c]})
    done
done

for s in "${servers[@]}"; do stop "${pid[$s]}"; done

### 2. memory with idle connections ############################################

declare -A rss_before rss_held hwm_held held
servers=("${all_servers[@]}")
part memory || servers=()
memory_servers=("${servers[@]}")
for s in "${servers[@]}"; do
    p=$(free_port)
    start_server "$s" "$p" spid
    sleep 0.5
    rss_before[$s]=$(status_kib "$spid" VmRSS)
    start_bg lpid "$bin/echo_load" -p "$p" --idle "$IDLE" -d "$IDLE_HOLD" \
        > "$tmp/$s.out" 2> "$tmp/$s.err"
    # wait until every connection is open, let the server catch up, then sample
    for _ in $(seq 600); do
        grep -q 'idle connections open' "$tmp/$s.err" && break
        kill -0 "$lpid" 2>/dev/null || break
        sleep 0.1
    done
    grep -q 'idle connections open' "$tmp/$s.err" ||
        die "echo_load --idle against $s: $(cat "$tmp/$s.err")"
    sleep 1
    rss_held[$s]=$(status_kib "$spid" VmRSS)
    hwm_held[$s]=$(status_kib "$spid" VmHWM)
    wait "$lpid" || die "echo_load --idle against $s failed: $(cat "$tmp/$s.err")"
    line=$(cat "$tmp/$s.out")
    held[$s]=$(field open "$line")
    log "$s: $line; VmRSS ${rss_before[$s]} -> ${rss_held[$s]} KiB, VmHWM ${hwm_held[$s]} KiB"
    stop "$spid"
done

### 3. the TinCan API against tincan echo #######################################

declare -A api_rps
if part api; then
    api_port=$(free_port)
    # Its one stderr line per client reset (echo_load ends with resets) is not wanted here.
    start_bg api_pid "$API_ECHO" "$api_port" > /dev/null 2>&1
    wait_listening "$api_port" "$api_pid"
    upper_port=$(free_port)
    start_bg upper_pid "$TINCAN" echo --tcp "$upper_port" --host 127.0.0.1 --upper
    wait_listening "$upper_port" "$upper_pid"
    for c in $API_CONNS; do
        api_rps[api,$c]="" api_rps[upper,$c]=""
        for (( r = 1; r <= ROUNDS; r++ )); do
            for s in api upper; do
                p=$api_port; [[ $s == upper ]] && p=$upper_port
                line=$("$bin/echo_load" -U -p "$p" -c "$c" -d "$DURATION" -w "$WARMUP") ||
                    die "echo_load failed against $s with $c connections"
                log "$s: $line"
                api_rps[$s,$c]+=" $(field rps "$line")"
            done
        done
        # shellcheck disable=SC2086
        api_rps[api,$c]=$(median ${api_rps[api,$c]}) api_rps[upper,$c]=$(median ${api_rps[upper,$c]})
    done
    stop "$api_pid"
    stop "$upper_pid"
fi

### 4. UDP ######################################################################

declare -A udp_rps udp_lost udp_port
udp_servers=(tincan c)
if part udp; then
    udp_port[tincan]=$(free_port)
    start_bg udp_tincan_pid "$TINCAN" echo --udp "${udp_port[tincan]}" --host 127.0.0.1
    udp_port[c]=$(free_port)
    start_bg udp_c_pid "$bin/udp_echo" "${udp_port[c]}"
    if [[ -n ${FLOOR:-} ]]; then
        log "building nio-floor"
        swift build -c release --package-path "$here/nio-floor" >&2 || die "nio-floor did not build"
        udp_port[floor]=$(free_port)
        start_bg udp_floor_pid "$here/nio-floor/.build/release/NIOFloor" "${udp_port[floor]}"
        udp_servers+=(floor)
    fi
    sleep 1
    for f in $UDP_FLOWS; do
        for s in "${udp_servers[@]}"; do udp_rps[$s,$f]="" udp_lost[$s,$f]=0; done
        for (( r = 1; r <= ROUNDS; r++ )); do
            for s in "${udp_servers[@]}"; do
                p=${udp_port[$s]}
                line=$("$bin/udp_load" -p "$p" -c "$f" -d "$DURATION" -w "$WARMUP") ||
                    die "udp_load failed against $s with $f flows"
                log "udp $s: $line"
                udp_rps[$s,$f]+=" $(field rps "$line")"
                udp_lost[$s,$f]=$(( ${udp_lost[$s,$f]} + $(field lost "$line") ))
            done
        done
        for s in "${udp_servers[@]}"; do
            # shellcheck disable=SC2086
            udp_rps[$s,$f]=$(median ${udp_rps[$s,$f]})
        done
    done
    stop "$udp_tincan_pid"
    stop "$udp_c_pid"
    [[ -n ${FLOOR:-} ]] && stop "$udp_floor_pid"
fi

### report ######################################################################

if part tcp; then
echo
echo "Echo round trips per second (64-byte messages, ${DURATION}s after ${WARMUP}s warm-up, median of $ROUNDS)"
echo
echo "| connections | tincan rps | C epoll rps | asyncio rps | tincan/C | tincan/asyncio |"
echo "|---:|---:|---:|---:|---:|---:|"
for c in $CONNS; do
    t=${rps[tincan,$c]} e=${rps[c,$c]} a=${rps[asyncio,$c]}
    printf '| %s | %.0f | %.0f | %.0f | %s | %s |\n' "$c" "$t" "$e" "$a" \
        "$(ratio "$t" "$e")" "$(ratio "$t" "$a")"
done
if [[ -n ${BASELINE:-} ]]; then
    echo
    echo "| connections | tincan rps | baseline rps | tincan/baseline |"
    echo "|---:|---:|---:|---:|"
    for c in $CONNS; do
        printf '| %s | %.0f | %.0f | %s |\n' "$c" "${rps[tincan,$c]}" "${rps[baseline,$c]}" "$(ratio "${rps[tincan,$c]}" "${rps[baseline,$c]}")"
    done
fi
fi
if part memory; then
echo
echo "Server memory with $IDLE idle connections (held ${IDLE_HOLD}s; sampled 1s after the last connected)"
echo
echo "| server | connections still open | VmRSS idle, no connections (MiB) | VmRSS held (MiB) | VmHWM (MiB) | per connection (KiB) |"
echo "|---|---:|---:|---:|---:|---:|"
for s in "${memory_servers[@]}"; do
    per=$(awk -v a="${rss_held[$s]}" -v b="${rss_before[$s]}" -v n="$IDLE" \
        'BEGIN { printf "%.2f", (a - b) / n }')
    printf '| %s | %s | %s | %s | %s | %s |\n' "${label[$s]}" "${held[$s]}" \
        "$(mib "${rss_before[$s]}")" "$(mib "${rss_held[$s]}")" "$(mib "${hwm_held[$s]}")" "$per"
done
fi
if part api; then
    echo
    echo "An echo server on the TinCan API against tincan echo, both upper-casing (64-byte round trips per second, median of $ROUNDS)"
    echo
    echo "| connections | Examples/uppercase-server rps | tincan echo --upper rps | TinCan/tincan echo |"
    echo "|---:|---:|---:|---:|"
    for c in $API_CONNS; do
        printf '| %s | %.0f | %.0f | %s |\n' "$c" "${api_rps[api,$c]}" "${api_rps[upper,$c]}" "$(ratio "${api_rps[api,$c]}" "${api_rps[upper,$c]}")"
    done
fi
if part udp; then
    echo
    echo "UDP echo, 64-byte datagrams, closed loop per flow (round trips per second, median of $ROUNDS)"
    echo
    echo "| flows | tincan echo --udp rps | C recvfrom/sendto rps | tincan/C | lost (tincan, C) |"
    echo "|---:|---:|---:|---:|---:|"
    for f in $UDP_FLOWS; do
        printf '| %s | %.0f | %.0f | %s | %s, %s |\n' "$f" "${udp_rps[tincan,$f]}" "${udp_rps[c,$f]}" "$(ratio "${udp_rps[tincan,$f]}" "${udp_rps[c,$f]}")" "${udp_lost[tincan,$f]}" "${udp_lost[c,$f]}"
    done
    if [[ -n ${FLOOR:-} ]]; then
        echo
        echo "| flows | bare NIO (nio-floor) rps | floor/C | tincan/floor |"
        echo "|---:|---:|---:|---:|"
        for f in $UDP_FLOWS; do
            printf '| %s | %.0f | %s | %s |\n' "$f" "${udp_rps[floor,$f]}" "$(ratio "${udp_rps[floor,$f]}" "${udp_rps[c,$f]}")" "$(ratio "${udp_rps[tincan,$f]}" "${udp_rps[floor,$f]}")"
        done
    fi
fi
