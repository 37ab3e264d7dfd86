#!/usr/bin/env bash
# Starts three local brokers in the background, as one cluster on loopback:
#   node N: clients on 127.0.0.1:(7070+N), peers on 127.0.0.1:(7170+N), data in run/nN, log run/nN.log
# With node numbers (start.sh 3) it starts only those: a broker killed earlier comes back with its
# folder (its previous log is kept as nN.log.1). Stop them with stop.sh. Nothing here needs root.
# Settings (environment):
#   SPOOL_CLUSTER_DIR        folder for data, logs and PID files (default: examples/cluster-3/run)
#   SPOOL_CLUSTER_PORT       client port of node 1; nodes 2 and 3 take the next two (default 7071)
#   SPOOL_CLUSTER_PEER_PORT  peer port of node 1; nodes 2 and 3 take the next two (default 7171)
#   SPOOLD                   the spoold binary (default: .build/debug/spoold, then spoold on PATH)
#   SPOOL_CLUSTER_WAIT       seconds to wait for each broker's listening line (default 30)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
run="${SPOOL_CLUSTER_DIR:-$here/run}"
client_base="${SPOOL_CLUSTER_PORT:-7071}"
peer_base="${SPOOL_CLUSTER_PEER_PORT:-7171}"
wait_seconds="${SPOOL_CLUSTER_WAIT:-30}"

spoold="${SPOOLD:-}"
if [ -z "$spoold" ]; then
    if [ -x "$root/.build/debug/spoold" ]; then
        spoold="$root/.build/debug/spoold"
    elif command -v spoold >/dev/null 2>&1; then
        spoold="$(command -v spoold)"
    else
        echo "start.sh: no spoold binary; build it with 'swift build --product spoold' or set SPOOLD=/path/to/spoold" >&2
        exit 1
    fi
fi

mkdir -p "$run"
peers="1=127.0.0.1:$peer_base,2=127.0.0.1:$((peer_base + 1)),3=127.0.0.1:$((peer_base + 2))"

# Running: the process exists and has not exited (a killed broker whose parent has not reaped
# it yet is a zombie, not running).
alive() {
    kill -0 "$1" 2>/dev/null || return 1
    ! grep -q ') Z ' "/proc/$1/stat" 2>/dev/null
}

nodes=("$@")
[ ${#nodes[@]} -gt 0 ] || nodes=(1 2 3)
for n in "${nodes[@]}"; do
    case "$n" in
        1|2|3) ;;
        *) echo "start.sh: nodes are 1, 2 and 3, not '$n'" >&2; exit 2 ;;
    esac
done

# A PID file whose process still runs means that node is up already.
for n in "${nodes[@]}"; do
    if [ -f "$run/n$n.pid" ] && alive "$(cat "$run/n$n.pid")"; then
        echo "start.sh: node $n is already running (pid $(cat "$run/n$n.pid")); stop it first with $here/stop.sh" >&2
        exit 1
    fi
done

started=()
give_up() {
    echo "start.sh: $1" >&2
    for pid in "${started[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    rm -f "$run"/n[123].pid
    exit 1
}

for n in "${nodes[@]}"; do
    # A restart keeps the previous run's log (the wait below reads the new one).
    [ -f "$run/n$n.log" ] && mv "$run/n$n.log" "$run/n$n.log.1"
    client="127.0.0.1:$((client_base + n - 1))"
    peer="127.0.0.1:$((peer_base + n - 1))"
    # A daemon keeps none of its starter's descriptors above 2: a parent that waits for one to
    # close (as some process runners do, to see this script end) would wait for the brokers' whole life.
    (
        for fd in /proc/$BASHPID/fd/*; do
            fd="${fd##*/}"
            if [ "$fd" -gt 2 ] 2>/dev/null; then eval "exec $fd>&-" 2>/dev/null || true; fi
        done
        exec nohup "$spoold" --node-id "$n" --listen "$client" --peer-listen "$peer" --peers "$peers" \
            --data-dir "$run/n$n" >"$run/n$n.log" 2>&1 </dev/null
    ) &
    echo $! >"$run/n$n.pid"
    started+=("$!")
done

# Each broker prints "spoold listening on ..." once it serves clients and peers.
for n in "${nodes[@]}"; do
    pid="$(cat "$run/n$n.pid")"
    deadline=$((SECONDS + wait_seconds))
    until grep -q "spoold listening on" "$run/n$n.log" 2>/dev/null; do
        if ! alive "$pid"; then
            tail -n 5 "$run/n$n.log" >&2 || true
            give_up "node $n exited at start (log: $run/n$n.log)"
        fi
        [ "$SECONDS" -lt "$deadline" ] || give_up "node $n did not start within $wait_seconds s (log: $run/n$n.log)"
        sleep 0.1
    done
done

if [ ${#nodes[@]} -eq 3 ]; then echo "Three brokers of one cluster are running:"; else echo "Started:"; fi
for n in "${nodes[@]}"; do
    echo "  node $n: clients 127.0.0.1:$((client_base + n - 1)), peers 127.0.0.1:$((peer_base + n - 1)), pid $(cat "$run/n$n.pid"), data $run/n$n, log $run/n$n.log"
done
echo "Connect to any of them, e.g.: telnet 127.0.0.1 $client_base   (then type METADATA)"
echo "Stop them with: $here/stop.sh"
