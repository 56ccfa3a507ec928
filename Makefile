# Zhangban: `make run` to start it, `make test` to test it, `make bench` to measure it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test bench install dev clean minio web

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

# The browser apps (designer/web → /designer, api/web → /m): npm ci when the lock file changed, a Vite build when
# a source changed. Without npm the API still runs and those URLs say how to build them.
WEB_APPS := $(patsubst %/package.json,%,$(wildcard designer/web/package.json api/web/package.json))
web:
	@command -v npm >/dev/null || { echo "npm not found: skipping the browser apps ($(WEB_APPS))"; exit 0; }; \
	for app in $(WEB_APPS); do \
	  if [ ! -d $$app/node_modules ] || [ $$app/package-lock.json -nt $$app/node_modules/.package-lock.json ]; then \
	    (cd $$app && npm ci --no-audit --no-fund --loglevel=error) || exit 1; fi; \
	  if [ ! -f $$app/dist/index.html ] || [ -n "$$(find $$app/src $$app/index.html $$app/vite.config.js \
	       $$app/package-lock.json -newer $$app/dist/index.html -print -quit)" ]; then \
	    (cd $$app && npm run --silent build -- --logLevel warn) || exit 1; fi; \
	done

run: install web
	$(BIN)/zhangban migrate
	$(BIN)/zhangban seed-demo
	$(BIN)/zhangban serve --host $(HOST) --port $(PORT)

# The whole suite with the server in UTC, then the tests marked `dates` (tests/conftest.py: numbers, licences,
# statistics days, ID-number birth dates, working days, reminders) again in China's zone: a day or an hour meant for
# a person must not depend on the server's zone (docs/architecture.md, Time). `.ci/run` runs this.
test: dev web
	TZ=UTC $(BIN)/python -m pytest -n 2 --dist loadfile -q
	TZ=Asia/Shanghai $(BIN)/python -m pytest -n 2 --dist loadfile -q -m dates

bench: dev
	$(BIN)/python -m pytest tests/perf -q -s --timeout 0

# Build the pinned MinIO server into ~/.cache/zhangban/bin (the test harness also does this on demand).
minio: dev
	$(BIN)/python -c "from tests.servers import ensure_minio_binary; print(ensure_minio_binary())"

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
