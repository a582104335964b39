#!/usr/bin/env bash
# TFTP download benchmark over loopback: a SIZE-byte file (default 64 MiB), every pair interleaved
# in each of ROUNDS rounds, median MiB/s per pair, and the ratios the TFTP issue sets goals for.
#
#   hpa+curl/B       in.tftpd (tftp-hpa) serving, curl --tftp-blksize B downloading    (B = 512, 1428)
#   tincan+curl/B    tincan tftp serve,   curl --tftp-blksize B
#   hpa+tincan/B     in.tftpd,            tincan tftp get --blksize B
#   tincan+tincan/w16  tincan tftp serve, tincan tftp get --blksize 1428 --windowsize 16
#   floor+curl/B     with FLOOR=1: Benchmarks/tftp/nio-floor, the least a SwiftNIO DatagramChannel
#                    handler can do per lock-step block (no state machine, no timers, the file in
#                    memory), with curl: the ceiling for any lock-step server on NIO
#
# Each download goes to a file and is compared with the original before its time counts.
# Ratios: tincan server vs in.tftpd (curl client, same options; goal >= 1.0), tincan client vs curl
# (in.tftpd server; goal >= 1.0), tincan pair with windowsize 16 vs in.tftpd + curl at 1428 (goal >= 5).
#
# Run:  Benchmarks/tftp/run.sh            # 64 MiB, 5 rounds
#       SIZE=16M ROUNDS=1 Benchmarks/tftp/run.sh
#       FLOOR=1 Benchmarks/tftp/run.sh  # also builds and runs nio-floor (about a minute more)
#       BASELINE=/path/to/older/tincan Benchmarks/tftp/run.sh  # also that binary's pair (w16) and
#                                        server (curl, 1428), interleaved in the same rounds
# Environment: TINCAN (<repo>/.build/release/tincan), SIZE (64M), ROUNDS (5), DATA_DIR
#   (<repo>/Benchmarks/bin), FLOOR (unset).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=../common.sh
source "$root/Benchmarks/common.sh"

TINCAN=${TINCAN:-$root/.build/release/tincan}
SIZE=${SIZE:-64M}
ROUNDS=${ROUNDS:-5}
DATA_DIR=${DATA_DIR:-$root/Benchmarks/bin}

[[ -x $TINCAN ]] || die "no $TINCAN: run 'swift build -c release' first"
TFTPD=$(command -v in.tftpd || echo /usr/sbin/in.tftpd)
[[ -x $TFTPD ]] || die "in.tftpd not found (apt-get install tftpd-hpa)"
command -v curl >/dev/null || die "curl not found"

size=$(numfmt --from=iec "${SIZE%iB}") || die "bad SIZE '$SIZE'"
mkdir -p "$DATA_DIR"
work=$(mktemp -d)
chmod 777 "$work"
trap 'stop_all; rm -rf "$work"' EXIT
mkdir -p "$work/root" "$work/out"
chmod 777 "$work/root" "$work/out"
file="$DATA_DIR/tftp-$size.bin"
[[ -f $file ]] || head -c "$size" /dev/urandom > "$file"
cp "$file" "$work/root/file.bin"
chmod 644 "$work/root/file.bin"

udp_port() {
    local port
    for _ in $(seq 100); do
        port=$(( 20000 + RANDOM % 10000 ))
        [[ -z $(ss -Huan "( sport = :$port )") ]] && { echo "$port"; return 0; }
    done
    die "no free UDP port"
}

hpa_port=$(udp_port)
user_args=()
[[ $(id -u) == 0 ]] && user_args=(-u nobody)
start_bg hpa_pid "$TFTPD" -L -a "127.0.0.1:$hpa_port" -s "$work/root" "${user_args[@]}"
tincan_port=$(udp_port)
start_bg tincan_pid "$TINCAN" tftp serve --root "$work/root" --host 127.0.0.1 --port "$tincan_port" 2>/dev/null
pairs=(hpa+curl/512 tincan+curl/512 hpa+tincan/512 hpa+curl/1428 tincan+curl/1428 hpa+tincan/1428 tincan+tincan/w16)
if [[ -n ${FLOOR:-} ]]; then
    log "building nio-floor"
    swift build -c release --package-path "$here/nio-floor" >&2 || die "nio-floor did not build"
    floor_port=$(udp_port)
    start_bg floor_pid "$here/nio-floor/.build/release/NIOFloor" "$work/root/file.bin" "$floor_port"
    pairs+=(floor+curl/512 floor+curl/1428)
fi
if [[ -n ${BASELINE:-} ]]; then
    [[ -x $BASELINE ]] || die "no baseline binary at $BASELINE"
    baseline_port=$(udp_port)
    start_bg baseline_pid "$BASELINE" tftp serve --root "$work/root" --host 127.0.0.1 --port "$baseline_port" 2>/dev/null
    pairs+=(baseline+curl/1428 baseline+baseline/w16)
fi
sleep 0.5

run_pair() {
    local pair=$1 out=$work/out/got
    rm -f "$out"
    case $pair in
        hpa+curl/*) curl -s --tftp-blksize "${pair#*/}" -o "$out" "tftp://127.0.0.1:$hpa_port/file.bin" ;;
        tincan+curl/*) curl -s --tftp-blksize "${pair#*/}" -o "$out" "tftp://127.0.0.1:$tincan_port/file.bin" ;;
        floor+curl/*) curl -s --tftp-blksize "${pair#*/}" -o "$out" "tftp://127.0.0.1:$floor_port/file.bin" ;;
        hpa+tincan/*) "$TINCAN" tftp get --blksize "${pair#*/}" "127.0.0.1:$hpa_port" file.bin "$out" ;;
        tincan+tincan/w16) "$TINCAN" tftp get --blksize 1428 --windowsize 16 "127.0.0.1:$tincan_port" file.bin "$out" ;;
        baseline+curl/*) curl -s --tftp-blksize "${pair#*/}" -o "$out" "tftp://127.0.0.1:$baseline_port/file.bin" ;;
        baseline+baseline/w16) "$BASELINE" tftp get --blksize 1428 --windowsize 16 "127.0.0.1:$baseline_port" file.bin "$out" ;;
    esac
}

declare -A times
for round in $(seq "$ROUNDS"); do
    for pair in "${pairs[@]}"; do
        start=$(date +%s.%N)
        run_pair "$pair" || die "$pair failed"
        end=$(date +%s.%N)
        cmp -s "$work/out/got" "$file" || die "$pair: the download differs from the original"
        secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }')
        times[$pair]+="$secs "
        log "round $round: $pair ${secs}s"
    done
done

mib=$(awk -v s="$size" 'BEGIN { printf "%.0f", s / 1048576 }')
declare -A rate
echo "TFTP download of $mib MiB over loopback (median of $ROUNDS rounds, interleaved)"
echo
echo "| pair (server+client/blksize) | median s | MiB/s | all rounds (s) |"
echo "|---|---:|---:|---|"
for pair in "${pairs[@]}"; do
    # shellcheck disable=SC2086
    med=$(median ${times[$pair]})
    rate[$pair]=$(awk -v s="$size" -v t="$med" 'BEGIN { printf "%.1f", s / 1048576 / t }')
    echo "| $pair | $med | ${rate[$pair]} | ${times[$pair]}|"
done
echo
echo "| ratio | value | goal |"
echo "|---|---:|---:|"
echo "| tincan server / in.tftpd (curl, blksize 512) | $(ratio "${rate[tincan+curl/512]}" "${rate[hpa+curl/512]}") | 1.0 |"
echo "| tincan server / in.tftpd (curl, blksize 1428) | $(ratio "${rate[tincan+curl/1428]}" "${rate[hpa+curl/1428]}") | 1.0 |"
echo "| tincan client / curl (in.tftpd, blksize 512) | $(ratio "${rate[hpa+tincan/512]}" "${rate[hpa+curl/512]}") | 1.0 |"
echo "| tincan client / curl (in.tftpd, blksize 1428) | $(ratio "${rate[hpa+tincan/1428]}" "${rate[hpa+curl/1428]}") | 1.0 |"
echo "| tincan pair, windowsize 16 / in.tftpd + curl (1428) | $(ratio "${rate[tincan+tincan/w16]}" "${rate[hpa+curl/1428]}") | 5.0 |"
if [[ -n ${FLOOR:-} ]]; then
    echo "| NIO floor / in.tftpd (curl, blksize 512) | $(ratio "${rate[floor+curl/512]}" "${rate[hpa+curl/512]}") | (ceiling) |"
    echo "| NIO floor / in.tftpd (curl, blksize 1428) | $(ratio "${rate[floor+curl/1428]}" "${rate[hpa+curl/1428]}") | (ceiling) |"
    echo "| tincan server / NIO floor (curl, blksize 512) | $(ratio "${rate[tincan+curl/512]}" "${rate[floor+curl/512]}") | |"
    echo "| tincan server / NIO floor (curl, blksize 1428) | $(ratio "${rate[tincan+curl/1428]}" "${rate[floor+curl/1428]}") | |"
fi
if [[ -n ${BASELINE:-} ]]; then
    echo "| tincan server / baseline server (curl, blksize 1428) | $(ratio "${rate[tincan+curl/1428]}" "${rate[baseline+curl/1428]}") | |"
    echo "| tincan pair / baseline pair (windowsize 16) | $(ratio "${rate[tincan+tincan/w16]}" "${rate[baseline+baseline/w16]}") | |"
fi
