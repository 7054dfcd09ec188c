#!/usr/bin/env bash
# Runs a 20-second load test end to end on 127.0.0.1: a headless Locust
# master, the Go worker from examples/http, and the counting HTTP server from
# examples/target. Prints the master's final summary and compares the
# target's request count with the master's Aggregated "Request Count".
#
# Usage: bash scripts/demo.sh   (or `make demo`, which installs Locust first)
# Environment: LOCUST_BIN overrides the locust executable (default
# .venv/bin/locust). KEEP_DEMO_DIR=1 keeps the build and log directory.
#
# Exits with the master's exit code when that is non-zero, with 1 when the
# counts cannot be read or differ by more than the number of users, and
# with 0 otherwise.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

locust="${LOCUST_BIN:-$root/.venv/bin/locust}"
if [[ ! -x "$locust" ]]; then
    echo "demo: locust not found at $locust; run 'make deps' or set LOCUST_BIN" >&2
    exit 1
fi

users=20
spawn_rate=20
run_time=20s
# Seconds the master waits for the worker before it gives up with exit code 1.
expect_workers_max_wait=30
# Upper bound in seconds for the whole master run, a guard against a hang.
master_time_limit=180

work_dir="$(mktemp -d "${TMPDIR:-/tmp}/boomer-demo.XXXXXX")"
target_pid=""
master_pid=""
worker_pid=""

log() {
    echo "demo: $*"
}

# stop_process PID NAME sends SIGTERM, waits up to 10 s, then sends SIGKILL.
stop_process() {
    local pid="$1" name="$2"
    [[ -n "$pid" ]] || return 0
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        local i
        for ((i = 0; i < 100; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            log "$name (pid $pid) still running 10 s after SIGTERM; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local status=$?
    stop_process "$worker_pid" worker
    stop_process "$master_pid" "locust master"
    stop_process "$target_pid" target
    if [[ "${KEEP_DEMO_DIR:-}" == 1 ]]; then
        log "kept logs and CSV files in $work_dir"
    else
        rm -rf "$work_dir"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# print_tail FILE NAME prints the end of a log, for failure messages.
print_tail() {
    echo "---- last 40 lines of the $2 log ($1) ----" >&2
    tail -n 40 "$1" >&2 || true
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

log "building examples/target and examples/http into $work_dir"
go build -o "$work_dir/target" ./examples/target
go build -o "$work_dir/http" ./examples/http

log "starting the target"
"$work_dir/target" --addr 127.0.0.1:0 --count-file "$work_dir/count" >"$work_dir/target.log" 2>&1 &
target_pid=$!
target_url=""
for ((i = 0; i < 100; i++)); do
    target_url="$(sed -n 's/^listening on //p' "$work_dir/target.log")"
    [[ -n "$target_url" ]] && break
    if ! kill -0 "$target_pid" 2>/dev/null; then
        break
    fi
    sleep 0.1
done
if [[ -z "$target_url" ]]; then
    echo "demo: the target did not print its address within 10 s" >&2
    print_tail "$work_dir/target.log" target
    exit 1
fi
log "target listening on $target_url"

master_port="$(free_port)"
log "starting the locust master on 127.0.0.1:$master_port ($users users, $run_time)"
timeout --kill-after=10 "$master_time_limit" \
    "$locust" -f examples/locustfile.py --master --headless \
    --master-bind-host 127.0.0.1 --master-bind-port "$master_port" \
    -u "$users" -r "$spawn_rate" -t "$run_time" \
    --expect-workers 1 --expect-workers-max-wait "$expect_workers_max_wait" \
    --csv "$work_dir/demo" \
    </dev/null >"$work_dir/master.log" 2>&1 &
master_pid=$!

log "starting the worker"
"$work_dir/http" --master-host 127.0.0.1 --master-port "$master_port" --url "$target_url/" \
    </dev/null >"$work_dir/worker.log" 2>&1 &
worker_pid=$!

log "waiting for the master to finish"
master_status=0
wait "$master_pid" || master_status=$?
master_pid=""

stop_process "$worker_pid" worker
worker_pid=""
stop_process "$target_pid" target
target_pid=""

echo
echo "==== locust master summary ===="
if grep -q 'Shutting down (exit code' "$work_dir/master.log"; then
    sed -n '/Shutting down (exit code/,$p' "$work_dir/master.log"
else
    print_tail "$work_dir/master.log" "locust master"
fi
echo

if ((master_status != 0)); then
    echo "demo: the locust master exited with code $master_status" >&2
    if ((master_status == 124)); then
        echo "demo: it was still running after ${master_time_limit} s and was stopped" >&2
    fi
    print_tail "$work_dir/worker.log" worker
fi

target_count="$(cat "$work_dir/count" 2>/dev/null || true)"
locust_count="$(awk -F, '$2 == "Aggregated" { print $3 }' "$work_dir/demo_stats.csv" 2>/dev/null || true)"
if [[ ! "$target_count" =~ ^[0-9]+$ || ! "$locust_count" =~ ^[0-9]+$ ]]; then
    echo "demo: cannot compare counts: target count '${target_count}' from $work_dir/count," \
        "Locust Aggregated Request Count '${locust_count}' from $work_dir/demo_stats.csv" >&2
    print_tail "$work_dir/target.log" target
    if ((master_status != 0)); then
        exit "$master_status"
    fi
    exit 1
fi

difference=$((target_count - locust_count))
echo "target received $target_count requests; Locust Aggregated Request Count is $locust_count" \
    "(difference $difference)"

# A request still in flight 200 ms after the master's quit reaches the
# target but not the master: at most one per user. Any other difference is
# lost or double-counted data.
if ((difference < 0 || difference > users)); then
    echo "demo: the counts differ by $difference, more than the $users requests that can be in flight at quit" >&2
    exit 1
fi
exit "$master_status"
