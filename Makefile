# Build, test and demo targets. `make deps` installs what a fresh Debian
# machine lacks: the CZMQ headers for cgo (Debian packages, as root) and
# Locust in .venv (from PyPI). Go itself must already be installed.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build

GO ?= go
PYTHON ?= python3
LOCUST_VERSION := 2.47.0
VENV := .venv
FUZZTIME ?= 30s

# Older masters the main integration tests also run against: a 2.2x release
# from PyPI (heartbeat replies, no ramp-complete message) and Debian 12's
# python3-locust 2.12.1 (ack, but no heartbeat replies).
MATRIX_PYPI_VERSION := 2.24.1
MATRIX_VENV := .venv-locust-$(MATRIX_PYPI_VERSION)
MATRIX_DEBIAN_LOCUST := /usr/bin/locust
MATRIX_DEBIAN_VERSION := 2.12.1
MATRIX_TESTS := TestMasterCountsEveryRequest|TestMasterFailRatioWhenAllFail|TestWorkerLogsMasterCapabilities

# Version stored in the worker binaries (boomer.Version) by worker-binaries.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
VALIDATE_DIR := deploy/kubernetes/validate

.PHONY: deps matrix-deps bench-deps build vet test test-matrix test-deploy worker-binaries demo fuzz corpus soak bench bench-smoke

deps:
	@packages=(); \
	if ! pkg-config --exists libczmq 2>/dev/null; then \
		packages+=(libczmq-dev pkg-config); \
	fi; \
	if ! $(PYTHON) -c 'import ensurepip, venv' 2>/dev/null; then \
		packages+=(python3-venv); \
	fi; \
	if (( $${#packages[@]} > 0 )); then \
		if [[ "$$(id -u)" != 0 ]]; then \
			echo "deps: installing ($${packages[*]}) needs root; rerun as root or install them with apt-get" >&2; \
			exit 1; \
		fi; \
		echo "deps: installing $${packages[*]}"; \
		apt-get update -qq; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$${packages[@]}" >/dev/null; \
	fi
	@if ! $(VENV)/bin/locust --version 2>/dev/null | grep -q ' $(LOCUST_VERSION) '; then \
		echo "deps: installing locust==$(LOCUST_VERSION) into $(VENV)"; \
		[[ -x $(VENV)/bin/pip ]] || $(PYTHON) -m venv $(VENV); \
		$(VENV)/bin/pip install -q --disable-pip-version-check 'locust==$(LOCUST_VERSION)'; \
		$(VENV)/bin/locust --version | grep -q ' $(LOCUST_VERSION) ' || { \
			echo "deps: $(VENV)/bin/locust does not report version $(LOCUST_VERSION) after the install" >&2; \
			exit 1; \
		}; \
	fi

matrix-deps:
	@if ! $(MATRIX_VENV)/bin/locust --version 2>/dev/null | grep -q ' $(MATRIX_PYPI_VERSION) '; then \
		echo "deps: installing locust==$(MATRIX_PYPI_VERSION) into $(MATRIX_VENV)"; \
		[[ -x $(MATRIX_VENV)/bin/pip ]] || $(PYTHON) -m venv $(MATRIX_VENV); \
		$(MATRIX_VENV)/bin/pip install -q --disable-pip-version-check 'locust==$(MATRIX_PYPI_VERSION)'; \
	fi
	@if ! dpkg-query -W -f='$${Version}' python3-locust 2>/dev/null | grep -q '^$(MATRIX_DEBIAN_VERSION)'; then \
		if [[ "$$(id -u)" != 0 ]]; then \
			echo "deps: installing Debian's python3-locust needs root; rerun as root or install it with apt-get" >&2; \
			exit 1; \
		fi; \
		echo "deps: installing Debian's python3-locust $(MATRIX_DEBIAN_VERSION)"; \
		apt-get update -qq; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-locust >/dev/null; \
		dpkg-query -W -f='$${Version}' python3-locust | grep -q '^$(MATRIX_DEBIAN_VERSION)' || { \
			echo "deps: Debian's python3-locust is not version $(MATRIX_DEBIAN_VERSION)" >&2; \
			exit 1; \
		}; \
	fi

# Tools of `make bench`: nginx-light as the HTTP target and wrk as the
# reference load generator, from Debian. Installing them needs root.
bench-deps:
	@packages=(); \
	command -v nginx >/dev/null || packages+=(nginx-light); \
	command -v wrk >/dev/null || packages+=(wrk); \
	command -v taskset >/dev/null || packages+=(util-linux); \
	if (( $${#packages[@]} > 0 )); then \
		if [[ "$$(id -u)" != 0 ]]; then \
			echo "bench-deps: installing ($${packages[*]}) needs root; rerun as root or install them with apt-get" >&2; \
			exit 1; \
		fi; \
		echo "bench-deps: installing $${packages[*]}"; \
		apt-get update -qq; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$${packages[@]}" >/dev/null; \
	fi

build:
	$(GO) build ./...

vet:
	$(GO) vet ./...
	$(GO) vet -tags purego ./...
	cd $(VALIDATE_DIR) && $(GO) vet ./...

# The binaries of the two container images, with the Dockerfile's flags
# (scripts/build-worker.sh), into bin/.
worker-binaries:
	scripts/build-worker.sh default ./examples/http bin/worker $(VERSION)
	scripts/build-worker.sh static ./examples/http bin/worker-static $(VERSION)

# The whole suite runs twice: with the goczmq transport and with the pure-Go
# one (build tag purego).
test: deps matrix-deps bench-deps
	$(MAKE) --no-print-directory vet
	CGO_ENABLED=0 $(GO) build -tags purego ./examples/...
	BOOMER_REQUIRE_LOCUST=1 $(GO) test -race -count=1 -timeout 30m ./...
	BOOMER_REQUIRE_LOCUST=1 $(GO) test -race -count=1 -timeout 30m -tags purego ./...
	$(MAKE) --no-print-directory test-deploy
	$(MAKE) --no-print-directory test-matrix
	$(MAKE) --no-print-directory bench-smoke

# The Kubernetes manifests, decoded strictly against the API types, in their
# own Go module so that the library does not depend on Kubernetes.
test-deploy:
	cd $(VALIDATE_DIR) && $(GO) test -count=1 ./...

# The main integration tests against the older masters of the matrix.
test-matrix: matrix-deps
	LOCUST_BIN=$(CURDIR)/$(MATRIX_VENV)/bin/locust LOCUST_VERSION_UNDER_TEST=$(MATRIX_PYPI_VERSION) \
		BOOMER_REQUIRE_LOCUST=1 $(GO) test -race -count=1 -timeout 10m -run '$(MATRIX_TESTS)' .
	LOCUST_BIN=$(MATRIX_DEBIAN_LOCUST) LOCUST_VERSION_UNDER_TEST=$(MATRIX_DEBIAN_VERSION) \
		BOOMER_REQUIRE_LOCUST=1 $(GO) test -race -count=1 -timeout 10m -run '$(MATRIX_TESTS)' .

# Replaces the seed corpus entries of FuzzDecodeMessage that were captured
# from real masters: the integration tests save the distinct frames that each
# master of the matrix sends to in-process workers.
CORPUS_DIR := $(CURDIR)/testdata/fuzz/FuzzDecodeMessage
CORPUS_TESTS := TestSpawnRampStopAndSecondTest|TestReconnectKeepsWorkerRegistered|TestCustomMessages|TestWorkerLogsMasterCapabilities|TestStopTimeout|TestHostAndHooksPerTest|TestUnknownUserClass

corpus: deps matrix-deps
	rm -f $(CORPUS_DIR)/captured-*
	BOOMER_CAPTURE_CORPUS=$(CORPUS_DIR) BOOMER_REQUIRE_LOCUST=1 \
		$(GO) test -count=1 -timeout 10m -run '$(CORPUS_TESTS)' .
	LOCUST_BIN=$(CURDIR)/$(MATRIX_VENV)/bin/locust LOCUST_VERSION_UNDER_TEST=$(MATRIX_PYPI_VERSION) \
		BOOMER_CAPTURE_CORPUS=$(CORPUS_DIR) BOOMER_REQUIRE_LOCUST=1 \
		$(GO) test -count=1 -timeout 10m -run '$(MATRIX_TESTS)' .
	LOCUST_BIN=$(MATRIX_DEBIAN_LOCUST) LOCUST_VERSION_UNDER_TEST=$(MATRIX_DEBIAN_VERSION) \
		BOOMER_CAPTURE_CORPUS=$(CORPUS_DIR) BOOMER_REQUIRE_LOCUST=1 \
		$(GO) test -count=1 -timeout 10m -run '$(MATRIX_TESTS)' .
	$(GO) test -count=1 -run 'TestCapturedCorpus' -v . | grep -E 'Locust|ok|FAIL'

# A 10-minute run of 500 users with a stop and start every 45 s and one
# master restart; it prints the worker's goroutines, memory and request
# accounting, and writes them to SOAK_REPORT. Not part of `make test`.
SOAK_DURATION ?= 10m
SOAK_USERS ?= 500
SOAK_REPORT ?= soak-report.txt

soak: deps
	BOOMER_SOAK=1 BOOMER_SOAK_DURATION=$(SOAK_DURATION) BOOMER_SOAK_USERS=$(SOAK_USERS) \
		BOOMER_SOAK_REPORT=$(CURDIR)/$(SOAK_REPORT) BOOMER_REQUIRE_LOCUST=1 \
		$(GO) test -count=1 -timeout 40m -run '^TestSoak$$' .
	cat $(SOAK_REPORT)

demo: deps
	bash scripts/demo.sh

# Requests per CPU-second of wrk, a bare Go loop, examples/http under a
# Locust master (net/http, boomer.HTTPClient and boomer.FastHTTPClient) and
# Locust's FastHttpUser, against nginx on 127.0.0.1, then rounds in which the
# bare loop and the worker run at the same time. Settings: BENCH_FLAGS, see
# `go run ./bench/cmd/loadbench -h`. Not part of `make test`.
BENCH_FLAGS ?=
BENCH_REPORT ?= bench-results.md

bench: deps bench-deps
	$(GO) run ./bench/cmd/loadbench --out $(BENCH_REPORT) $(BENCH_FLAGS)

# One 2-second round of every generator. loadbench fails when a run fails or
# a generator sends no request; the smoke checks nothing about the figures.
bench-smoke: deps bench-deps
	@report="$$(mktemp "$${TMPDIR:-/tmp}/bench-smoke.XXXXXX.md")"; \
	trap 'rm -f "$$report"' EXIT; \
	$(GO) run ./bench/cmd/loadbench --rounds 1 --paired-rounds 1 --duration 2s --quiet-wait 0 --out "$$report" >/dev/null; \
	grep -q '^| generator | runs kept' "$$report" || { echo "bench-smoke: no table in $$report" >&2; exit 1; }; \
	echo "bench-smoke: every generator sent requests and the table was written"

# The fuzzers of the root package, one after the other, FUZZTIME each.
fuzz:
	@for target in FuzzDecodeMessage FuzzParseSpawn FuzzMessageOrder FuzzParseTimespan; do \
		echo "fuzz: $$target for $(FUZZTIME)"; \
		$(GO) test -run='^$$' -fuzz="^$$target\$$" -fuzztime=$(FUZZTIME) . || exit 1; \
	done
