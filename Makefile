# Every target sets itself up on a fresh machine that has only python3 and make.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
JS_STAMP := tests/js/node_modules/.installed
JS_HINT := the JS SDK tests (tests/test_posthog_js_browser.py) will be skipped: install node and npm \
	(apt-get install nodejs npm), then run make $(JS_STAMP)

.PHONY: run test test-fast typecheck bench soak clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	.ci/install-browser
	touch $(STAMP)

# posthog-js and posthog-node from npm, as pinned by tests/js/package-lock.json; without npm (or when npm ci
# fails) a hint, not a failure: those tests then skip, saying the same.
$(JS_STAMP): tests/js/package.json tests/js/package-lock.json
	@if ! command -v npm >/dev/null 2>&1; then echo "note: no npm here; $(JS_HINT)" >&2; \
	elif npm ci --prefix tests/js --no-audit --no-fund --ignore-scripts; then touch $@; \
	else echo "note: npm ci failed; $(JS_HINT)" >&2; fi

run: $(STAMP)
	$(VENV)/bin/capture-harness load --report-dir out/load -t 20s

test: $(STAMP) $(JS_STAMP)
	@.ci/install-browser --check
	$(PY) -m pytest

test-fast: $(STAMP) $(JS_STAMP)
	$(PY) -m pytest -m "not e2e"

typecheck: $(STAMP)
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) benchmarks/bench_generate.py
	$(PY) benchmarks/bench_validate.py
	$(PY) benchmarks/bench_fairness.py
	$(PY) benchmarks/bench_first_request.py
	$(PY) benchmarks/bench_server.py
	$(PY) benchmarks/bench_locust.py
	$(PY) benchmarks/bench_locust_v1.py
	$(PY) benchmarks/bench_v1_server.py
	$(PY) benchmarks/bench_distributed.py
	$(PY) benchmarks/bench_ledger.py

soak: $(STAMP)
	$(PY) benchmarks/bench_soak.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .capture-harness out tests/js/node_modules
