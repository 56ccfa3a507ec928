# Zhangban: `make run` to start it, `make test` to test it, `make bench` to measure it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test bench install dev clean minio

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when setup.cfg changes.
$(VENV)/.installed: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[embedded]'
	touch $@

$(VENV)/.installed-dev: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[embedded,dev]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
dev: $(VENV)/.installed-dev

run: install
	$(BIN)/zhangban seed-demo
	$(BIN)/zhangban serve --host $(HOST) --port $(PORT)

test: dev
	$(BIN)/python -m pytest -n 2 --dist loadfile -q

bench: dev
	$(BIN)/python -m pytest tests/perf -q -s --timeout 0

# Build the pinned MinIO server into ~/.cache/zhangban/bin (the test harness also does this on demand).
minio: dev
	$(BIN)/python -c "from tests.servers import ensure_minio_binary; print(ensure_minio_binary())"

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
