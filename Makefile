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

.PHONY: deps build vet test demo fuzz

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

build:
	$(GO) build ./...

vet:
	$(GO) vet ./...

test: deps
	$(GO) vet ./...
	BOOMER_REQUIRE_LOCUST=1 $(GO) test -race -count=1 -timeout 30m ./...

demo: deps
	bash scripts/demo.sh

# FuzzDecodeMessage lives in the root package.
fuzz:
	$(GO) test -run='^$$' -fuzz=FuzzDecodeMessage -fuzztime=$(FUZZTIME) .
