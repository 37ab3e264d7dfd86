#!/usr/bin/env bash
# Stops the brokers start.sh started: SIGTERM to each (a graceful shutdown: queued writes commit,
# databases are checkpointed and closed), then waits for them to exit. Their data folders and logs
# stay. Settings (environment): SPOOL_CLUSTER_DIR as for start.sh; SPOOL_CLUSTER_WAIT seconds to
# wait for each broker (default 30; one still running then gets SIGKILL).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
run="${SPOOL_CLUSTER_DIR:-$here/run}"
wait_seconds="${SPOOL_CLUSTER_WAIT:-30}"

# True when $1 runs and is a spoold (a PID file can outlive its process, and PIDs are reused).
# A zombie (exited, not yet reaped) is not running.
is_spoold() {
    kill -0 "$1" 2>/dev/null || return 1
    [ -r "/proc/$1/stat" ] || return 0
    [ "$(cut -d ' ' -f 3 "/proc/$1/stat" 2>/dev/null)" != "Z" ] && [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "spoold" ]
}

signalled=()
for n in 1 2 3; do
    file="$run/n$n.pid"
    [ -f "$file" ] || continue
    pid="$(cat "$file")"
    if is_spoold "$pid"; then
        kill -TERM "$pid"
        signalled+=("$n:$pid")
    else
        echo "node $n (pid $pid) is not running"
        rm -f "$file"
    fi
done

status=0
for entry in "${signalled[@]}"; do
    n="${entry%%:*}"
    pid="${entry#*:}"
    deadline=$((SECONDS + wait_seconds))
    while is_spoold "$pid" && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
    if is_spoold "$pid"; then
        echo "node $n (pid $pid) did not stop within $wait_seconds s; sending SIGKILL" >&2
        kill -KILL "$pid" 2>/dev/null || true
        status=1
    else
        echo "node $n (pid $pid) stopped"
    fi
    rm -f "$run/n$n.pid"
done
[ "${#signalled[@]}" -gt 0 ] || echo "no broker of $run is running"
exit "$status"
