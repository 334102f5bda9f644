# Set-up is part of every target: a fresh clone needs only `make run` or `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: setup browser run test test-fast bench eval clean-index

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# the CPU wheel on disk; a looser torch requirement would pull several GB of CUDA packages
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

# Headless Chromium + chromedriver for the browser tests of the chat UI (Debian packages, needs root).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null; }

run: setup
	$(BIN)/python app.py $(ARGS)

test: setup browser
	$(BIN)/python -m pytest -q

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow"

bench: setup
	$(BIN)/python bench/run.py

eval: setup
	$(BIN)/rag eval --config eval/configs/default.toml

clean-index:
	rm -rf data/index data/cache
