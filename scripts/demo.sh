#!/usr/bin/env bash
# Runs the demo: starts a nats-server on loopback (unless NATS_URL is set), then the demo binary.
set -euo pipefail
demo="$1"
if [ -n "${NATS_URL:-}" ]; then
  exec "$demo" --url "$NATS_URL"
fi
log=$(mktemp)
nats-server -a 127.0.0.1 -p -1 >"$log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 1 100); do
  port=$(sed -n 's/.*Listening for client connections on 127.0.0.1:\([0-9]*\).*/\1/p' "$log")
  [ -n "$port" ] && break
  sleep 0.05
done
[ -n "${port:-}" ] || { cat "$log"; echo "nats-server did not start" >&2; exit 1; }
echo "started nats-server (pid $server) on 127.0.0.1:$port"
"$demo" --url "nats://127.0.0.1:$port"
