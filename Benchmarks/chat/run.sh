#!/usr/bin/env bash
# IRC fan-out benchmark over loopback: N clients in one channel, S senders, MESSAGES messages in
# all; time until every client has every message. tincan chat serve against ngircd (Debian's),
# both with flood control off, the same load generator (loadgen.c), interleaved in each round.
#
# Per server and load: how long the N clients took to connect at once (as after a restart),
# register and be in the lobby, and a registered watcher's PING round trip meanwhile (p50, max);
# deliveries per second (median of ROUNDS), p50/p99 latency from send to arrival, server CPU per
# delivery while the messages flow, and RSS above the idle server divided by N: with every client
# in, at the peak while the messages flow, and at the peak of the whole run (which also has every
# client leaving at once). A storm that takes more than STORM_LIMIT seconds (default 120) is
# reported as such, and that load's messages are skipped. STORM=0 connects the clients one after
# the other instead of all at once: ngircd listens with a backlog of 10, and in a storm of a
# thousand some of its clients wait minutes on TCP's retransmissions.
#
# Run:  Benchmarks/chat/run.sh                   # N = 50 200 1000, S = 1 10, 2000 messages, 3 rounds
#       CLIENTS="1000" SENDERS="10" ROUNDS=1 Benchmarks/chat/run.sh
#       STORM=0 Benchmarks/chat/run.sh             # fan-out against ngircd: clients one after the other
#       CLIENTS="1000 5000 19000" SENDERS=10 ROUNDS=1 Benchmarks/chat/run.sh   # the lobby at scale
# A process may hold 20,000 open files on the machine this was written on (ulimit -Hn): 19,000
# clients is one server's ceiling there.
#       BASELINE=/path/to/older/tincan Benchmarks/chat/run.sh   # also that binary, in the same rounds
#       SERVERS="tincan baseline" BASELINE=... Benchmarks/chat/run.sh   # without ngircd
#       SERVERS="tincan history ngircd" CLIENTS=1000 SENDERS=10 STORM=0 Benchmarks/chat/run.sh
# `tincan` runs without a store (--db none: no accounts, no history); `history` runs with a SQLite
# file, every client logged in to its own account by SASL and every message kept.
# Needs: swift build -c release; apt-get install ngircd gcc.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=../common.sh
source "$root/Benchmarks/common.sh"

TINCAN=${TINCAN:-$root/.build/release/tincan}
CLIENTS=${CLIENTS:-"50 200 1000"}
SENDERS=${SENDERS:-"1 10"}
MESSAGES=${MESSAGES:-2000}
ROUNDS=${ROUNDS:-3}
export STORM_LIMIT=${STORM_LIMIT:-120}
export STORM=${STORM:-1}
BASELINE=${BASELINE:-}
servers=(tincan ngircd)
if [[ -n $BASELINE ]]; then
    [[ -x $BASELINE ]] || die "no baseline binary at $BASELINE"
    servers=(tincan baseline ngircd)
fi
# SERVERS="tincan baseline" leaves ngircd out (a before-and-after comparison of tincan alone).
if [[ -n ${SERVERS:-} ]]; then read -r -a servers <<< "$SERVERS"; fi

[[ -x $TINCAN ]] || die "no $TINCAN: run 'swift build -c release' first"
NGIRCD=$(command -v ngircd || echo /usr/sbin/ngircd)
[[ -x $NGIRCD ]] || die "ngircd not found (apt-get install ngircd)"
command -v gcc >/dev/null || die "gcc not found"
ulimit -n "$(ulimit -Hn)"
for n in $CLIENTS; do
    (( n + 100 < $(ulimit -n) )) || die "$n clients need more open files than this process may have ($(ulimit -n))"
done

work=$(mktemp -d)
trap 'stop_all; rm -rf "$work"' EXIT
gcc -O2 -Wall -pthread -o "$work/loadgen" "$here/loadgen.c"

# ngircd with flood control off (MaxPenaltyTime = 0) and no limits that a benchmark would hit.
ngircd_conf() {
    cat > "$work/ngircd.conf" <<CONF
[Global]
Name = bench.ngircd
Info = benchmark
Listen = 127.0.0.1
Ports = $1
MotdPhrase = benchmark
[Limits]
MaxConnections = 0
MaxConnectionsIP = 0
MaxJoins = 0
MaxNickLength = 30
MaxPenaltyTime = 0
PingTimeout = 600
PongTimeout = 600
[Options]
DNS = no
Ident = no
PAM = no
CONF
}

BENCH_PASSWORD=benchmark-password
# A fresh database with accounts b0..b(N-1), all with BENCH_PASSWORD: one hashed by
# `tincan chat user add`, the row copied (the benchmark is about messages, not hashing).
make_accounts() {
    rm -f "$work"/history.sqlite*
    printf '%s\n' "$BENCH_PASSWORD" | "$TINCAN" chat user add --db "$work/history.sqlite" b0 >/dev/null
    python3 - "$work/history.sqlite" "$1" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
hash_, created = db.execute("SELECT passwordHash, created FROM account WHERE folded = 'b0'").fetchone()
db.executemany("INSERT INTO account (folded, name, passwordHash, created) VALUES (?, ?, ?, ?)",
               [(f"b{i}", f"b{i}", hash_, created) for i in range(1, int(sys.argv[2]))])
db.commit()
PY
}

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
kib() { awk -v key="$2:" '$1 == key { print $2 }' "/proc/$1/status"; }

# Waits until PID has used no CPU for 300 ms (at most 10 s): the clients' disconnects handled.
wait_quiet() {
    local last now
    last=$(cpu_ticks "$1")
    for _ in $(seq 33); do
        sleep 0.3
        now=$(cpu_ticks "$1")
        [[ $now == "$last" ]] && return 0
        last=$now
    done
}

# run_one SERVER N S: starts SERVER, measures one load, stops it; prints
# "rate p50 p99 cpu_us registered_kib messages_kib whole_kib" (KiB per client above the idle server).
run_one() {
    local server=$1 n=$2 s=$3 port pid out
    port=$(free_port)
    case $server in
        tincan|baseline)
            local binary=$TINCAN
            [[ $server == baseline ]] && binary=$BASELINE
            start_bg pid "$binary" chat serve --host 127.0.0.1 --port "$port" --name bench.tincan --db none \
                --no-flood-limit --max-clients 100000 --max-clients-per-address 100000 --ping-interval 600 2>/dev/null ;;
        history)
            make_accounts "$n"
            start_bg pid "$TINCAN" chat serve --host 127.0.0.1 --port "$port" --name bench.tincan --db "$work/history.sqlite" \
                --no-flood-limit --max-clients 100000 --max-clients-per-address 100000 --ping-interval 600 2>/dev/null ;;
        ngircd) ngircd_conf "$port"; start_bg pid "$NGIRCD" -n -f "$work/ngircd.conf" >/dev/null 2>&1 ;;
    esac
    wait_listening "$port" "$pid"
    local idle whole
    idle=$(kib "$pid" VmRSS)
    # The load generator reads the server's CPU time and memory itself, over the messages alone.
    local status=0 login=""
    [[ $server == history ]] && login=$BENCH_PASSWORD
    out=$(LOGIN=$login "$work/loadgen" "$port" "$n" "$s" "$MESSAGES" "$pid") || status=$?
    (( status == 0 || status == 3 )) || die "$server N=$n S=$s: loadgen failed"
    # The whole run's peak also has the storm of QUITs when every client leaves at once.
    wait_quiet "$pid"
    whole=$(kib "$pid" VmHWM)
    kill "$pid"; wait "$pid" 2>/dev/null || true
    awk -v out="$out" -v hz="$(getconf CLK_TCK)" -v whole="$whole" -v idle="$idle" -v n="$n" 'BEGIN {
        split(out, f, " "); for (i in f) { split(f[i], kv, "="); v[kv[1]] = kv[2] }
        if (v["storm_seconds"] < 0) {
            printf "0 - - - - - %.1f %s - -\n", (whole - idle) / n, v["storm_seconds"]
        } else {
            printf "%s %s %s %.2f %.1f %.1f %.1f %s %s %s\n", v["per_second"], v["p50_us"], v["p99_us"], v["cpu_ticks"] / hz * 1e6 / v["deliveries"],
                (v["setup_kib"] - idle) / n, (v["peak_kib"] - idle) / n, (whole - idle) / n,
                v["storm_seconds"], v["watcher_p50_us"], v["watcher_max_us"]
        }
    }'
}

declare -A results
for round in $(seq "$ROUNDS"); do
    for n in $CLIENTS; do
        for s in $SENDERS; do
            for server in "${servers[@]}"; do
                line=$(run_one "$server" "$n" "$s")
                results[$server/$n/$s]+="$line;"
                log "round $round: $server N=$n S=$s: $line"
            done
        done
    done
done

how="connecting at once"
[[ $STORM == 0 ]] && how="connecting one after the other"
echo "IRC over loopback: N clients $how into one channel, then $MESSAGES messages to it;"
echo "the round with the median delivery rate of $ROUNDS"
echo
echo "| N | server | all in (s) | watcher PING p50 ms | max ms |"
echo "|---:|---|---:|---:|---:|"
for n in $CLIENTS; do
    for s in $SENDERS; do
        for server in "${servers[@]}"; do
            echo "${results[$server/$n/$s]}" | tr ';' '\n' | grep . | sort -n | awk -v n="$n" -v server="$server" -v limit="$STORM_LIMIT" '
                { rows[NR] = $0 } END { split(rows[int((NR + 1) / 2)], f, " ");
                if (f[8] < 0) printf "| %s | %s | over %s | | |\n", n, server, limit;
                else printf "| %s | %s | %.2f | %.1f | %.1f |\n", n, server, f[8], f[9] / 1000, f[10] / 1000 }'
        done
        break  # the storm does not depend on the senders
    done
done
echo
echo "KiB per client above the idle server: once all are in; at the peak up to the last delivery; at"
echo "the peak of the whole run, which also has every client leaving at once."
echo
echo "| N | senders | server | deliveries/s | p50 ms | p99 ms | CPU µs/delivery | KiB/client in | peak | whole run |"
echo "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|"
for n in $CLIENTS; do
    for s in $SENDERS; do
        for server in "${servers[@]}"; do
            # The round with the median rate, whole.
            echo "${results[$server/$n/$s]}" | tr ';' '\n' | grep . | sort -n | awk -v n="$n" -v s="$s" -v server="$server" '
                { rows[NR] = $0 } END { split(rows[int((NR + 1) / 2)], f, " ");
                printf "| %s | %s | %s | %.0f | %.1f | %.1f | %s | %s | %s | %s |\n", n, s, server, f[1], f[2] / 1000, f[3] / 1000, f[4], f[5], f[6], f[7] }'
        done
    done
done
echo
median_rate() { echo "${results[$1]:-}" | tr ';' '\n' | { grep . || true; } | sort -n | awk '{ r[NR] = $1 } END { print r[int((NR + 1) / 2)] }'; }
if [[ -n $BASELINE ]]; then
    echo "| N | senders | tincan / ngircd deliveries/s | baseline / ngircd | tincan / baseline |"
    echo "|---:|---:|---:|---:|---:|"
else
    echo "| N | senders | tincan / ngircd deliveries/s |"
    echo "|---:|---:|---:|"
fi
for n in $CLIENTS; do
    for s in $SENDERS; do
        t=$(median_rate "tincan/$n/$s")
        g=$(median_rate "ngircd/$n/$s")
        if [[ -n $BASELINE ]]; then
            b=$(median_rate "baseline/$n/$s")
            echo "| $n | $s | $(ratio "$t" "$g") | $(ratio "$b" "$g") | $(ratio "$t" "$b") |"
        else
            echo "| $n | $s | $(ratio "$t" "$g") |"
        fi
    done
done
if [[ " ${servers[*]} " == *" history "* ]]; then
    echo
    echo "With history: every client logged in, every message kept in SQLite (after delivery)."
    echo
    echo "| N | senders | history / ngircd deliveries/s | history / tincan without a store |"
    echo "|---:|---:|---:|---:|"
    for n in $CLIENTS; do
        for s in $SENDERS; do
            h=$(median_rate "history/$n/$s")
            echo "| $n | $s | $(ratio "$h" "$(median_rate "ngircd/$n/$s")") | $(ratio "$h" "$(median_rate "tincan/$n/$s")") |"
        done
    done
fi
