#!/usr/bin/env bash
# Bulk TCP stream benchmark over loopback: tincan vs. socat, ncat and OpenBSD nc.
#
# For each tool, interleaved, ROUNDS times: the receiver listens on a free
# 127.0.0.1 port with stdout to /dev/null (stdin from /dev/null), the sender
# sends a SIZE-byte random file from stdin, and the time from starting the
# sender until both have exited is taken. Before timing, each tool must carry a
# 1 MiB sample intact (checked with cmp). Prints a Markdown table of median
# seconds and MiB/s per tool and the throughput ratio of tincan to the fastest
# peer. Progress goes to stderr.
#
#   tincan  tincan listen 127.0.0.1 PORT           tincan connect 127.0.0.1 PORT
#   socat   socat -u TCP-LISTEN:PORT,reuseaddr,bind=127.0.0.1 STDOUT
#                                                  socat -u STDIN TCP:127.0.0.1:PORT
#   ncat    ncat -l 127.0.0.1 PORT --recv-only     ncat --send-only 127.0.0.1 PORT
#   nc      nc.openbsd -l 127.0.0.1 PORT           nc.openbsd -N 127.0.0.1 PORT
#
# Run (from anywhere):
#   Benchmarks/bulk/run.sh                         # full: 2 GiB, 3 rounds
#   SIZE=64M ROUNDS=1 Benchmarks/bulk/run.sh       # quick
# Environment (defaults): TINCAN (<repo>/.build/release/tincan), SIZE (2G;
#   K/M/G suffixes are powers of 1024), ROUNDS (3), TOOLS ("tincan socat ncat
#   nc"), TIMEOUT (600 s per transfer), DATA_DIR (<repo>/Benchmarks/bin, where
#   the random file is cached as bulk-BYTES.bin).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=../common.sh
source "$root/Benchmarks/common.sh"

TINCAN=${TINCAN:-$root/.build/release/tincan}
SIZE=${SIZE:-2G}
ROUNDS=${ROUNDS:-3}
TOOLS=${TOOLS:-tincan socat ncat nc}
TIMEOUT=${TIMEOUT:-600}
DATA_DIR=${DATA_DIR:-$root/Benchmarks/bin}

size=$(numfmt --from=iec "${SIZE%iB}") || die "bad SIZE '$SIZE' (e.g. 2G, 256M, 1048576)"
(( size >= 1048576 )) || die "SIZE must be at least 1M"

# tool_cmd recv|send TOOL PORT: set the array cmd to that command line
tool_cmd() {
    local port=$3
    case $1-$2 in
    recv-tincan) cmd=("$TINCAN" listen 127.0.0.1 "$port") ;;
    send-tincan) cmd=("$TINCAN" connect 127.0.0.1 "$port") ;;
    recv-socat)  cmd=(socat -u "TCP-LISTEN:$port,reuseaddr,bind=127.0.0.1" STDOUT) ;;
    send-socat)  cmd=(socat -u STDIN "TCP:127.0.0.1:$port") ;;
    recv-ncat)   cmd=(ncat -l 127.0.0.1 "$port" --recv-only) ;;
    send-ncat)   cmd=(ncat --send-only 127.0.0.1 "$port") ;;
    recv-nc)     cmd=(nc.openbsd -l 127.0.0.1 "$port") ;;
    send-nc)     cmd=(nc.openbsd -N 127.0.0.1 "$port") ;;
    *) die "unknown tool '$2'" ;;
    esac
}

declare -A binary=([tincan]=$TINCAN [socat]=socat [ncat]=ncat [nc]=nc.openbsd)
for t in $TOOLS; do
    [[ -v binary[$t] ]] || die "unknown tool '$t' (known: ${!binary[*]})"
    command -v "${binary[$t]}" > /dev/null || die "$t: ${binary[$t]} not found"
done

tmp=$(mktemp -d)
trap 'stop_all; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# the random input, made once and cached
mkdir -p "$DATA_DIR"
data=$DATA_DIR/bulk-$size.bin
if [[ ! -f $data || $(stat -c %s "$data") != "$size" ]]; then
    log "creating $data ($size random bytes)"
    head -c "$size" /dev/urandom > "$data.tmp"
    mv "$data.tmp" "$data"
fi
cat "$data" > /dev/null # into the page cache
head -c 1048576 "$data" > "$tmp/sample"

# transfer TOOL INPUT OUTPUT: one transfer; sets elapsed to the seconds from
# starting the sender until both sender and receiver had exited
elapsed=
transfer() {
    local tool=$1 input=$2 output=$3 port rpid t0 t1 src=0 rrc=0 cmd
    port=$(free_port)
    tool_cmd recv "$tool" "$port"
    start_bg rpid timeout --foreground "$TIMEOUT" "${cmd[@]}" < /dev/null > "$output"
    wait_listening "$port" "$rpid"
    tool_cmd send "$tool" "$port"
    t0=$EPOCHREALTIME
    timeout --foreground "$TIMEOUT" "${cmd[@]}" < "$input" > /dev/null || src=$?
    wait "$rpid" || rrc=$?
    t1=$EPOCHREALTIME
    forget "$rpid"
    (( src == 0 && rrc == 0 )) ||
        die "$tool: sender exited $src, receiver exited $rrc (124: timed out after $TIMEOUT s)"
    elapsed=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
}

for t in $TOOLS; do
    transfer "$t" "$tmp/sample" "$tmp/sample.out"
    cmp -s "$tmp/sample" "$tmp/sample.out" || die "$t: the 1 MiB sample arrived damaged"
done
log "sanity check passed: $TOOLS"

declare -A secs
for (( r = 1; r <= ROUNDS; r++ )); do
    for t in $TOOLS; do
        transfer "$t" "$data" /dev/null
        log "round $r: $t $elapsed s"
        secs[$t]+=" $elapsed"
    done
done

mib=$(awk -v n="$size" 'BEGIN { printf "%.0f", n / 1048576 }')
declare -A med rate
best="" # the peer with the shortest median time
for t in $TOOLS; do
    # shellcheck disable=SC2086
    med[$t]=$(median ${secs[$t]})
    rate[$t]=$(awk -v n="$size" -v s="${med[$t]}" 'BEGIN { printf "%.0f", n / 1048576 / s }')
    [[ $t == tincan ]] && continue
    if [[ -z $best ]] || awk -v a="${med[$t]}" -v b="${med[$best]}" 'BEGIN { exit !(a < b) }'; then
        best=$t
    fi
done

echo
echo "Bulk loopback transfer of $mib MiB (median of $ROUNDS)"
echo
echo "| tool | median seconds | MiB/s | all rounds (s) |"
echo "|---|---:|---:|---|"
for t in $TOOLS; do
    printf '| %s | %.3f | %s | %s |\n' "$t" "${med[$t]}" "${rate[$t]}" "${secs[$t]# }"
done
if [[ -v med[tincan] && -n $best ]]; then
    echo
    echo "tincan / best peer ($best) throughput: $(ratio "${med[$best]}" "${med[tincan]}")" \
        "(>1: tincan is faster)"
fi
