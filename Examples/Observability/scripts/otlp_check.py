"""A minimal OTLP/HTTP (JSON) receiver for the example: runs OTelExample against itself and checks
what arrived. Python standard library only.

    python3 scripts/otlp_check.py .build/debug/OTelExample

Exits 0 when one trace holds the act's client span, its server span and the nested act's client
and server spans (parents linked, one trace id), and the metrics include Hemera's.
"""
import http.server
import json
import os
import subprocess
import sys
import threading

received = {"traces": [], "metrics": []}


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        kind = "traces" if self.path.endswith("/v1/traces") else "metrics" if self.path.endswith("/v1/metrics") else None
        if kind:
            received[kind].append(json.loads(body))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(os.environ)
    env["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:%d" % server.server_address[1]
    env["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/json"
    result = subprocess.run([sys.argv[1]], env=env, timeout=120)
    server.shutdown()
    if result.returncode != 0:
        sys.exit("OTelExample exited %d" % result.returncode)

    spans = [
        span
        for batch in received["traces"]
        for resource in batch.get("resourceSpans", [])
        for scope in resource.get("scopeSpans", [])
        for span in scope.get("spans", [])
    ]
    by_id = {span["spanId"]: span for span in spans}
    # SPAN_KIND_SERVER = 2, SPAN_KIND_CLIENT = 3
    chains = 0
    for span in spans:
        if span["name"] != "prices/quote" or span.get("kind") not in (2, "SPAN_KIND_SERVER"):
            continue
        nested = by_id.get(span.get("parentSpanId"))
        handler = by_id.get(nested.get("parentSpanId")) if nested else None
        act = by_id.get(handler.get("parentSpanId")) if handler else None
        if nested and handler and act and nested["name"] == "prices/quote" and handler["name"] == "orders/total" \
                and act["name"] == "orders/total" and len({s["traceId"] for s in (span, nested, handler, act)}) == 1:
            chains += 1
    names = sorted({m["name"] for batch in received["metrics"] for r in batch.get("resourceMetrics", [])
                    for s in r.get("scopeMetrics", []) for m in s.get("metrics", [])})
    print("spans received: %d; complete act -> handler -> nested act -> handler chains: %d" % (len(spans), chains))
    print("hemera metrics received: %s" % ", ".join(n for n in names if n.startswith("hemera_")))
    if chains == 0:
        sys.exit("no complete trace arrived")
    if "hemera_service_requests_total" not in names or "hemera_client_act_duration_seconds" not in names:
        sys.exit("Hemera's metrics did not arrive")


if __name__ == "__main__":
    main()
