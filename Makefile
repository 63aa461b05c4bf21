# Every target sets itself up on a fresh machine that has only python3 and make.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-fast typecheck bench clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	.ci/install-browser
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/capture-harness load --report-dir out/load -t 20s

test: $(STAMP)
	@.ci/install-browser --check
	$(PY) -m pytest

test-fast: $(STAMP)
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

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .capture-harness out
