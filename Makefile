# swift-hemera: the two commands are `make demo` and `make test`.
SWIFT      ?= swift
DEB_PKGS   := libnats-dev libjansson-dev nats-server pkg-config openssl
VENV       := .venv-interop
PYTHON     ?= python3
TEST_FLAGS ?=

.PHONY: all deps build test test-tsan test-asan demo interop-venv fuzz-json bench clean

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

# A virtualenv with nats-py, the independent client the interop tests talk to.
interop-venv:
	@[ -x $(VENV)/bin/python ] && $(VENV)/bin/python -c 'import nats' 2>/dev/null || { \
	  $(PYTHON) -m venv $(VENV) && $(VENV)/bin/pip install --quiet nats-py; }

build: deps
	$(SWIFT) build

test: deps interop-venv
	HEMERA_INTEROP_PYTHON=$(CURDIR)/$(VENV)/bin/python $(SWIFT) test $(TEST_FLAGS)

test-tsan: deps interop-venv
	HEMERA_INTEROP_PYTHON=$(CURDIR)/$(VENV)/bin/python $(SWIFT) test --sanitize=thread --scratch-path .build-tsan $(TEST_FLAGS)

test-asan: deps interop-venv
	HEMERA_INTEROP_PYTHON=$(CURDIR)/$(VENV)/bin/python $(SWIFT) test --sanitize=address --scratch-path .build-asan $(TEST_FLAGS)

demo: deps
	$(SWIFT) build --product hemera-demo
	@scripts/demo.sh "$$($(SWIFT) build --show-bin-path)/hemera-demo"

clean:
	rm -rf .build .build-tsan .build-asan $(VENV)

# The benchmark suite (its own package in Benchmarks/, ordo-one/benchmark).
bench: deps
	cd Benchmarks && $(SWIFT) package --allow-writing-to-package-directory benchmark
