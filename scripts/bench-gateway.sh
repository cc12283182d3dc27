#!/usr/bin/env bash
# `make bench-gateway`: GET /products/1 through the HTTP gateway (wrk, 64 connections) against the
# same act made directly over NATS (`hemera bench --no-responder`, 64 calls in flight), in one run,
# on one private nats-server, release builds. Alternates the two for BENCH_ROUNDS rounds of
# BENCH_SECONDS each and prints every round and the medians as a Markdown table.
# Stops everything it started, by PID.
set -euo pipefail
bin="$1"
rounds="${BENCH_ROUNDS:-3}"
seconds="${BENCH_SECONDS:-10}"
connections="${BENCH_CONNECTIONS:-64}"
pids=()
log_dir=$(mktemp -d)
cleanup() {
  local status=$?
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$log_dir"
  exit "$status"
}
trap cleanup EXIT

wait_for_line() { # file, sed expression printing the wanted value
  local value=""
  for _ in $(seq 1 600); do
    value=$(sed -n "$2" "$1")
    [ -n "$value" ] && { echo "$value"; return 0; }
    sleep 0.05
  done
  cat "$1" >&2
  return 1
}

nats-server -a 127.0.0.1 -p -1 >"$log_dir/nats.log" 2>&1 &
pids+=($!)
port=$(wait_for_line "$log_dir/nats.log" 's/.*Listening for client connections on 127.0.0.1:\([0-9]*\).*/\1/p')
url="nats://127.0.0.1:$port"
"$bin/hemera-demo" serve products --server "$url" >"$log_dir/products.log" 2>&1 &
pids+=($!)
wait_for_line "$log_dir/products.log" 's/^\(serving products\).*/\1/p' >/dev/null
"$bin/hemera-demo" serve gateway --server "$url" --port 0 >"$log_dir/gateway.log" 2>&1 &
pids+=($!)
http_port=$(wait_for_line "$log_dir/gateway.log" 's/^serving gateway on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p')
target="http://127.0.0.1:$http_port/products/1"
echo "nats-server $url, products service, gateway $target; $rounds rounds of ${seconds}s, $connections at once"
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

# Warm-up of both paths.
wrk -t2 -c"$connections" -d2s "$target" >/dev/null
"$bin/hemera" bench --no-responder --server "$url" --pattern 'topic:products,cmd:get,id:1' --payload 0 \
  --in-flight "$connections" --count 20000 --json >/dev/null

results="$log_dir/results.txt"
for round in $(seq 1 "$rounds"); do
  wrk -t2 -c"$connections" -d"${seconds}s" --latency "$target" >"$log_dir/wrk.txt"
  python3 - "$log_dir/wrk.txt" "$round" >>"$results" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
rps = float(re.search(r"Requests/sec:\s*([\d.]+)", text).group(1))
value, unit = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s)\s*$", text, re.M).groups()
p99 = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
errors = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", text)
sock = re.search(r"Socket errors:.*", text)
print(f"http {sys.argv[2]} {rps:.0f} {p99:.3f} {errors.group(1) if errors else 0} {'1' if sock else '0'}")
EOF
  # About as many direct calls as the HTTP round made, so both run for a similar time.
  count=$(tail -1 "$results" | awk -v s="$seconds" '{ c = int($3 * s); if (c < 20000) c = 20000; print c }')
  "$bin/hemera" bench --no-responder --server "$url" --pattern 'topic:products,cmd:get,id:1' --payload 0 \
    --in-flight "$connections" --count "$count" --json >"$log_dir/direct.json"
  python3 - "$log_dir/direct.json" "$round" >>"$results" <<'EOF'
import json, sys
result = json.load(open(sys.argv[1]))
print(f"direct {sys.argv[2]} {result['throughputPerSecond']:.0f} {result['latencyMs']['p99']:.3f} {result['errors']} 0")
EOF
done

python3 - "$results" <<'EOF'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
print()
print("| round | path | requests/s | p99 ms | errors (non-2xx) |")
print("|---|---|---:|---:|---:|")
for kind, round_, rps, p99, errors, _ in rows:
    name = "HTTP gateway (wrk)" if kind == "http" else "direct act (hemera bench)"
    print(f"| {round_} | {name} | {rps} | {p99} | {errors} |")
def median(kind, index):
    return statistics.median(float(r[index]) for r in rows if r[0] == kind)
http_rps, direct_rps = median("http", 2), median("direct", 2)
http_p99, direct_p99 = median("http", 3), median("direct", 3)
print()
print("| median | requests/s | p99 ms |")
print("|---|---:|---:|")
print(f"| HTTP gateway | {http_rps:.0f} | {http_p99:.3f} |")
print(f"| direct act | {direct_rps:.0f} | {direct_p99:.3f} |")
print(f"| HTTP / direct | {http_rps / direct_rps:.2f}x | {http_p99 / direct_p99:.2f}x |")
EOF
