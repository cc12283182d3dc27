#!/usr/bin/env bash
# `make demo`: starts a nats-server on a free loopback port (unless NATS_URL is set), starts each
# demo service as its own `hemera-demo serve` process (as the seed runs each in its own
# container) and the HTTP gateway on a free loopback port, runs the client tour against them (the
# direct acts, then the same API through HTTP with a real client), and stops everything it
# started, by PID: the services and the gateway with SIGTERM (each closes gracefully and exits 0),
# then the nats-server.
set -euo pipefail
demo="$1"
service_pids=()
services=()
server_pid=""
log_dir=$(mktemp -d)
cleanup() {
  local status=$?
  for pid in "${service_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for i in "${!service_pids[@]}"; do
    local code=0
    wait "${service_pids[$i]}" 2>/dev/null || code=$?
    echo "== service ${services[$i]} (pid ${service_pids[$i]}) exited with status $code"
    if [ "$code" -ne 0 ] || [ "$status" -ne 0 ]; then sed "s/^/   ${services[$i]}: /" "$log_dir/${services[$i]}.log"; fi
  done
  if [ -n "$server_pid" ]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    echo "== stopped nats-server (pid $server_pid)"
  fi
  rm -rf "$log_dir"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

url="${NATS_URL:-}"
if [ -z "$url" ]; then
  nats-server -a 127.0.0.1 -p -1 >"$log_dir/nats-server.log" 2>&1 &
  server_pid=$!
  port=""
  for _ in $(seq 1 200); do
    port=$(sed -n 's/.*Listening for client connections on 127.0.0.1:\([0-9]*\).*/\1/p' "$log_dir/nats-server.log")
    [ -n "$port" ] && break
    sleep 0.05
  done
  [ -n "$port" ] || { cat "$log_dir/nats-server.log"; echo "nats-server did not start" >&2; exit 1; }
  url="nats://127.0.0.1:$port"
  echo "== started nats-server (pid $server_pid) on $url"
else
  echo "== using NATS_URL=$url"
fi

for service in math users products cart; do
  "$demo" serve "$service" --server "$url" >"$log_dir/$service.log" 2>&1 &
  service_pids+=($!)
  services+=("$service")
  echo "== started service $service (pid $!): $demo serve $service --server $url"
done

"$demo" serve gateway --server "$url" --port 0 >"$log_dir/gateway.log" 2>&1 &
service_pids+=($!)
services+=("gateway")
gateway_port=""
for _ in $(seq 1 600); do
  gateway_port=$(sed -n 's/^serving gateway on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$log_dir/gateway.log")
  [ -n "$gateway_port" ] && break
  kill -0 "${service_pids[-1]}" 2>/dev/null || break
  sleep 0.05
done
[ -n "$gateway_port" ] || { cat "$log_dir/gateway.log"; echo "the gateway did not start" >&2; exit 1; }
gateway_url="http://127.0.0.1:$gateway_port"
echo "== started gateway (pid ${service_pids[-1]}) on $gateway_url: $demo serve gateway --server $url --port 0"

status=0
"$demo" tour --server "$url" --wait-for math,users,products,cart --wait-timeout 30 --gateway "$gateway_url" || status=$?
echo "== tour finished with status $status; stopping what this script started"
exit $status
