#!/usr/bin/env bash
# `make demo`: starts a nats-server on a free loopback port (unless NATS_URL is set), starts each
# demo service as its own `hemera-demo serve` process (as the seed runs each in its own
# container), runs the client tour against them, and stops everything it started, by PID.
set -euo pipefail
demo="$1"
pids=()
log_dir=$(mktemp -d)
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$log_dir"
}
trap cleanup EXIT

url="${NATS_URL:-}"
if [ -z "$url" ]; then
  nats-server -a 127.0.0.1 -p -1 >"$log_dir/nats-server.log" 2>&1 &
  pids+=($!)
  port=""
  for _ in $(seq 1 200); do
    port=$(sed -n 's/.*Listening for client connections on 127.0.0.1:\([0-9]*\).*/\1/p' "$log_dir/nats-server.log")
    [ -n "$port" ] && break
    sleep 0.05
  done
  [ -n "$port" ] || { cat "$log_dir/nats-server.log"; echo "nats-server did not start" >&2; exit 1; }
  url="nats://127.0.0.1:$port"
  echo "== started nats-server (pid ${pids[0]}) on $url"
else
  echo "== using NATS_URL=$url"
fi

for service in math users products cart; do
  "$demo" serve "$service" --server "$url" >"$log_dir/$service.log" 2>&1 &
  pids+=($!)
  echo "== started service $service (pid $!)"
done

"$demo" tour --server "$url" --wait-for math,users,products,cart
status=$?
echo "== tour finished with status $status; stopping services"
exit $status
