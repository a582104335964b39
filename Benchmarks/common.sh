# Helpers shared by Benchmarks/*/run.sh; source it, do not run it.
# Servers started with start_bg are stopped by stop_all, which the scripts
# call from their EXIT trap.

bg_pids=()

log() { printf '%s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# A TCP port on 127.0.0.1 that nothing uses, below the ephemeral range so that
# client sockets of earlier runs cannot be holding it.
free_port() {
    local lo _hi port
    read -r lo _hi < /proc/sys/net/ipv4/ip_local_port_range
    (( lo > 20000 )) || lo=30000
    for _ in $(seq 100); do
        port=$(( 20000 + RANDOM % (lo - 20000) ))
        if [[ -z $(ss -Htan "( sport = :$port )") ]]; then
            echo "$port"
            return 0
        fi
    done
    die "no free port found"
}

# start_bg VAR CMD...: run CMD in the background, remember its pid in VAR and
# for stop_all.
start_bg() {
    local -n _pid=$1
    shift
    "$@" &
    _pid=$!
    bg_pids+=("$_pid")
}

# wait_listening PORT PID: wait until something listens on 127.0.0.1:PORT,
# failing if PID exits first or 10 s pass.
wait_listening() {
    local port=$1 pid=$2
    for _ in $(seq 200); do
        [[ -n $(ss -Hltn "( sport = :$port )") ]] && return 0
        kill -0 "$pid" 2>/dev/null || die "pid $pid exited before listening on port $port"
        sleep 0.05
    done
    die "nothing listening on port $port after 10 s"
}

# stop PID: SIGTERM, then SIGKILL if it is still there after 5 s; reap it.
stop() {
    local pid=$1
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    forget "$pid"
}

# forget PID: stop_all need not stop PID (it has been reaped)
forget() {
    local rest=() p
    for p in "${bg_pids[@]}"; do [[ $p == "$1" ]] || rest+=("$p"); done
    bg_pids=("${rest[@]}")
}

stop_all() {
    local pid
    for pid in "${bg_pids[@]}"; do stop "$pid"; done
}

# median of the numbers given as arguments
median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) exit 1
        if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# ratio A B: A/B to two decimals, or "n/a"
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0 && a != "") printf "%.2f", a / b; else print "n/a" }'
}

# field KEY LINE: the value of KEY=value in a line of key=value pairs
field() {
    local key=$1 line=$2 kv
    for kv in $line; do
        [[ $kv == "$key="* ]] && { echo "${kv#*=}"; return 0; }
    done
    return 1
}
