# swift-hemera: the two commands are `make demo` and `make test`.
SWIFT      ?= swift
DEB_PKGS   := libnats-dev libjansson-dev nats-server pkg-config openssl
VENV       := .venv-interop
PYTHON     ?= python3
TEST_FLAGS ?=

.PHONY: all deps build test test-tsan test-asan demo interop-venv fuzz-json fuzz soak chaos bench bench-thresholds-check bench-thresholds-update bench-gateway clean example-observability

all: build

# Installs the Debian packages the build and tests need, only when one is missing.
deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing missing Debian packages:$$missing"; \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $(DEB_PKGS); \
	fi

# A virtualenv with nats-py, the independent client the interop tests talk to; jsonschema, the
# validator that checks the services API replies and the derived request schemas; and
# openapi-spec-validator, which checks the gateway's OpenAPI 3.1 document.
interop-venv:
	@[ -x $(VENV)/bin/python ] && $(VENV)/bin/python -c 'import nats, jsonschema, openapi_spec_validator' 2>/dev/null || { \
	  $(PYTHON) -m venv $(VENV) && $(VENV)/bin/pip install --quiet nats-py jsonschema openapi-spec-validator; }

build: deps
	$(SWIFT) build

# The suite runs twice: debug, then release (-c release, with -enable-testing for @testable
# imports), since users build with optimization and some bugs show only there (issue 11).
# HEMERA_TEST_BUILD tells the tests which pass they are in; none is skipped in either.
RELEASE_TEST_FLAGS := -c release -Xswiftc -enable-testing
test: deps interop-venv
	HEMERA_TEST_BUILD=debug HEMERA_INTEROP_PYTHON=$(CURDIR)/$(VENV)/bin/python $(SWIFT) test $(TEST_FLAGS)
	HEMERA_TEST_BUILD=release HEMERA_INTEROP_PYTHON=$(CURDIR)/$(VENV)/bin/python $(SWIFT) test $(RELEASE_TEST_FLAGS) $(TEST_FLAGS)

# Thread leaks of cnats' library threads are suppressed (Tests/tsan-suppressions.txt); no race is.
# HEMERA_TEST_TIME_SCALE widens the tests' upper bounds on elapsed time for the sanitizers' slowdown.
SAN_TIME_SCALE ?= 4
test-tsan: deps interop-venv
	HEMERA_TEST_TIME_SCALE=$(SAN_TIME_SCALE) HEMERA_TEST_MEMORY_SCALE=3 TSAN_OPTIONS=suppressions=$(CURDIR)/Tests/tsan-suppressions.txt \
	HEMERA_INTEROP_PYTHON=$(CURDIR)/$(VENV)/bin/python $(SWIFT) test --sanitize=thread --scratch-path .build-tsan $(TEST_FLAGS)

# LeakSanitizer runs too, with suppressions for Foundation's Process/Pipe, XCTest and the Swift
# runtime only (Tests/lsan-suppressions.txt says why for each); subprocesses inherit them.
# Debug, then once in release (optimized code under the sanitizer).
test-asan: deps interop-venv
	HEMERA_TEST_BUILD=debug HEMERA_TEST_TIME_SCALE=$(SAN_TIME_SCALE) LSAN_OPTIONS=suppressions=$(CURDIR)/Tests/lsan-suppressions.txt:print_suppressions=0 \
	HEMERA_INTEROP_PYTHON=$(CURDIR)/$(VENV)/bin/python $(SWIFT) test --sanitize=address --scratch-path .build-asan $(TEST_FLAGS)
	HEMERA_TEST_BUILD=release HEMERA_TEST_TIME_SCALE=$(SAN_TIME_SCALE) LSAN_OPTIONS=suppressions=$(CURDIR)/Tests/lsan-suppressions.txt:print_suppressions=0 \
	HEMERA_INTEROP_PYTHON=$(CURDIR)/$(VENV)/bin/python $(SWIFT) test --sanitize=address --scratch-path .build-asan $(RELEASE_TEST_FLAGS) $(TEST_FLAGS)

# Exporting metrics and spans (Examples/Observability, a package of its own so `make test` never
# builds the exporters; swift-otel takes minutes: 22 min here under load). Runs the Prometheus
# program (checks its metrics text) and the OpenTelemetry program against a small OTLP/HTTP JSON
# receiver (checks one trace links act, handler, nested act and its handler, and the metrics).
example-observability: deps
	cd Examples/Observability && $(SWIFT) build
	cd Examples/Observability && $(SWIFT) run PrometheusExample > ../../.build/example-prometheus.txt
	grep -q 'hemera_service_requests_total{service="orders",action="orders_total",outcome="validation_error"} 2' .build/example-prometheus.txt
	grep -E '^hemera_(service_requests_total|client_act_duration_seconds_count)' .build/example-prometheus.txt
	cd Examples/Observability && $(PYTHON) scripts/otlp_check.py "$$($(SWIFT) build --show-bin-path)/OTelExample"

demo: deps
	$(SWIFT) build --product hemera-demo
	@scripts/demo.sh "$$($(SWIFT) build --show-bin-path)/hemera-demo"

clean:
	rm -rf .build .build-tsan .build-asan $(VENV)

# The benchmark suite (its own package in Benchmarks/, ordo-one/benchmark): BENCH_RUNS runs, each
# pinned to one CPU (taskset -c 0) and unpinned; every target starts its own nats-server. Prints one
# table and writes docs/benchmarks/results.{md,json} and chart.svg (scripts/bench.py).
BENCH_RUNS ?= 3
BENCH_THRESHOLDS ?= 0
bench: deps
	BENCH_RUNS=$(BENCH_RUNS) BENCH_THRESHOLDS=$(BENCH_THRESHOLDS) SWIFT=$(SWIFT) $(PYTHON) scripts/bench.py

# GET /products/1 through the HTTP gateway (wrk, Debian's, installed here when missing) against the
# same act made directly (`hemera bench`), in one run, release builds: GATEWAY_BENCH_ROUNDS rounds of
# GATEWAY_BENCH_SECONDS each, alternating; prints each round and the medians (docs/performance.md).
GATEWAY_BENCH_ROUNDS ?= 3
GATEWAY_BENCH_SECONDS ?= 10
bench-gateway: deps
	@command -v wrk >/dev/null || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y wrk; }
	$(SWIFT) build -c release --product hemera-demo
	$(SWIFT) build -c release --product hemera
	BENCH_ROUNDS=$(GATEWAY_BENCH_ROUNDS) BENCH_SECONDS=$(GATEWAY_BENCH_SECONDS) scripts/bench-gateway.sh "$$($(SWIFT) build -c release --show-bin-path)"

# Allocation thresholds (Benchmarks/Thresholds/<Swift version>/, as swift-nio): check, or update
# after an intended change.
SWIFT_VERSION_DIR ?= $(shell $(SWIFT) --version 2>/dev/null | sed -n 's/.*Swift version \([0-9]*\.[0-9]*\).*/\1/p' | head -1)
bench-thresholds-check: deps
	cd Benchmarks && $(SWIFT) package --allow-writing-to-package-directory benchmark thresholds check \
	  --target NATSRequest --target HemeraAct --target JSONBenchmarks --path Thresholds/$(SWIFT_VERSION_DIR)/
bench-thresholds-update: deps
	cd Benchmarks && $(SWIFT) package --allow-writing-to-package-directory benchmark thresholds update \
	  --target NATSRequest --target HemeraAct --target JSONBenchmarks --path Thresholds/$(SWIFT_VERSION_DIR)/
	$(PYTHON) scripts/bench.py keep-allocations-only Benchmarks/Thresholds/$(SWIFT_VERSION_DIR)

# libFuzzer over the JSON layer: HemeraJSON's sources and Fuzz/JSONFuzz compiled as one module,
# optimized as in a release build (-O), with -sanitize=fuzzer,address (outside SwiftPM, so
# `swift build` is unaffected); jansson (Sources/CJansson) is linked only as the fuzzer's
# independent oracle. New inputs go to .build-fuzz/corpus-json; the committed seeds in
# Fuzz/corpus/json are only read.
FUZZ_SECONDS ?= 60
FUZZ_DIR     := .build-fuzz
FUZZ_FLAGS   ?=
fuzz-json:
	@mkdir -p $(FUZZ_DIR)/corpus-json fuzz-artifacts
	$(SWIFT)c -O -g -parse-as-library -sanitize=fuzzer,address -module-name HemeraJSON -package-name swift_hemera \
	  -swift-version 6 -enable-upcoming-feature ExistentialAny -enable-upcoming-feature MemberImportVisibility \
	  -enable-upcoming-feature InternalImportsByDefault \
	  -Xcc -fmodule-map-file=Sources/CJansson/module.modulemap -I Sources/CJansson \
	  Sources/HemeraJSON/*.swift Fuzz/JSONFuzz/main.swift -ljansson -o $(FUZZ_DIR)/json-fuzz
	$(FUZZ_DIR)/json-fuzz -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -timeout=10 \
	  -artifact_prefix=fuzz-artifacts/ -print_final_stats=1 $(FUZZ_FLAGS) \
	  $(FUZZ_DIR)/corpus-json Fuzz/corpus/json

# libFuzzer over Hemera's whole inbound path (parse, match, validate, deadline, handler, reply):
# swift-log, swift-metrics' CoreMetrics, swift-distributed-tracing's modules, HemeraJSON, HemeraLocks and HemeraNATS as static libraries, then Sources/Hemera and
# Fuzz/InboundFuzz compiled as one module, all with -sanitize=fuzzer,address. Ten minutes by
# default (FUZZ_INBOUND_SECONDS=…); new inputs go to .build-fuzz/corpus-inbound, seeds in Fuzz/corpus/inbound.
FUZZ_INBOUND_SECONDS ?= 600
FUZZ_SAN  := -sanitize=fuzzer,address -parse-as-library -O -g

fuzz:
	@[ -d .build/checkouts/swift-log ] || $(SWIFT) package resolve
	@mkdir -p $(FUZZ_DIR)/inbound $(FUZZ_DIR)/corpus-inbound fuzz-artifacts
	cd $(FUZZ_DIR)/inbound && $(SWIFT)c $(FUZZ_SAN) -module-name Logging -package-name swift_log -emit-module -emit-library -static \
	  $(addprefix $(CURDIR)/,$(wildcard .build/checkouts/swift-log/Sources/Logging/*.swift .build/checkouts/swift-log/Sources/Logging/*/*.swift))
	cd $(FUZZ_DIR)/inbound && $(SWIFT)c $(FUZZ_SAN) -module-name CoreMetrics -package-name swift_metrics -emit-module -emit-library -static \
	  $(addprefix $(CURDIR)/,$(wildcard .build/checkouts/swift-metrics/Sources/CoreMetrics/*.swift))
	cd $(FUZZ_DIR)/inbound && $(SWIFT)c $(FUZZ_SAN) -module-name Instrumentation -package-name swift_distributed_tracing -emit-module -emit-library -static \
	  $(addprefix $(CURDIR)/,$(wildcard .build/checkouts/swift-distributed-tracing/Sources/Instrumentation/*.swift))
	cd $(FUZZ_DIR)/inbound && $(SWIFT)c $(FUZZ_SAN) -module-name ServiceContextModule -package-name swift_distributed_tracing -I . -emit-module -emit-library -static \
	  $(addprefix $(CURDIR)/,$(wildcard .build/checkouts/swift-distributed-tracing/Sources/ServiceContextModule/*.swift))
	cd $(FUZZ_DIR)/inbound && $(SWIFT)c $(FUZZ_SAN) -module-name Tracing -package-name swift_distributed_tracing -I . -emit-module -emit-library -static \
	  $(addprefix $(CURDIR)/,$(wildcard .build/checkouts/swift-distributed-tracing/Sources/Tracing/*.swift))
	cd $(FUZZ_DIR)/inbound && $(SWIFT)c $(FUZZ_SAN) -module-name HemeraJSON -package-name swift_hemera -emit-module -emit-library -static \
	  -Xcc -fmodule-map-file=$(CURDIR)/Sources/CJansson/module.modulemap -I $(CURDIR)/Sources/CJansson \
	  $(CURDIR)/Sources/HemeraJSON/*.swift
	cd $(FUZZ_DIR)/inbound && $(SWIFT)c $(FUZZ_SAN) -module-name HemeraLocks -package-name swift_hemera -emit-module -emit-library -static \
	  $(CURDIR)/Sources/HemeraLocks/*.swift
	cd $(FUZZ_DIR)/inbound && $(SWIFT)c $(FUZZ_SAN) -module-name HemeraNATS -package-name swift_hemera -I . -emit-module -emit-library -static \
	  -Xcc -fmodule-map-file=$(CURDIR)/CNats/module.modulemap -I $(CURDIR)/CNats \
	  $(CURDIR)/Sources/HemeraNATS/*.swift
	cd $(FUZZ_DIR)/inbound && $(SWIFT)c $(FUZZ_SAN) -module-name Hemera -package-name swift_hemera -I . -L . \
	  -Xcc -fmodule-map-file=$(CURDIR)/CNats/module.modulemap -I $(CURDIR)/CNats \
	  -Xcc -fmodule-map-file=$(CURDIR)/Sources/CJansson/module.modulemap -I $(CURDIR)/Sources/CJansson \
	  $(wildcard $(CURDIR)/Sources/Hemera/*.swift) $(CURDIR)/Fuzz/InboundFuzz/main.swift \
	  -lHemeraNATS -lHemeraLocks -lHemeraJSON -lLogging -lTracing -lServiceContextModule -lInstrumentation -lCoreMetrics \
	  -ljansson -lnats -o inbound-fuzz
	LSAN_OPTIONS=suppressions=$(CURDIR)/Fuzz/lsan-fuzz.supp $(FUZZ_DIR)/inbound/inbound-fuzz -max_total_time=$(FUZZ_INBOUND_SECONDS) -max_len=8192 -timeout=10 \
	  -rss_limit_mb=4096 -artifact_prefix=fuzz-artifacts/ -print_final_stats=1 $(FUZZ_FLAGS) \
	  $(FUZZ_DIR)/corpus-inbound Fuzz/corpus/inbound

# Five minutes (SOAK_SECONDS) of steady acts in one process: prints RSS, open fds and threads at
# start, after warm-up, every 30 s and at the end; fails if they grow after warm-up.
SOAK_SECONDS ?= 300
SOAK_WRITE_MODE ?= sendAsap
soak: deps
	HEMERA_SOAK_SECONDS=$(SOAK_SECONDS) HEMERA_SOAK_WRITE_MODE=$(SOAK_WRITE_MODE) $(SWIFT) test --filter SoakTests

# Fault scenarios against RELEASE builds (Tests/HemeraReliabilityTests/ChaosTests.swift): a server
# restart, killing the service's node of a 3-node cluster, and 50,000 requests to a 2 s handler,
# each with a service process (HemeraLifecycleExample). Prints per scenario (lines `CHAOS …`): the
# success ratio, the time to recover, and the service's peak and final RSS.
chaos: deps
	HEMERA_CHAOS=1 $(SWIFT) test -c release -Xswiftc -enable-testing --filter ChaosTests 2>&1 | tee .build/chaos.log | grep -E "CHAOS|✘|✔ Suite Chaos|error:"; \
	  ! grep -q "✘" .build/chaos.log
