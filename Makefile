# Every target sets itself up on a fresh machine that has only python3 and make.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test bench clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/capture-harness generate --kind mixed --count 200000 --seed 1 --out out/corpus.jsonl
	$(VENV)/bin/capture-harness generate --invalid --count 64 --seed 1 --out out/invalid.jsonl
	$(VENV)/bin/capture-harness validate out/corpus.jsonl

test: $(STAMP)
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) benchmarks/bench_generate.py
	$(PY) benchmarks/bench_validate.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
