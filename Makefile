# Developer shortcuts; the README's two commands need nothing but Python.
VENV ?= .venv
PG ?= postgresql://postgres@127.0.0.1:5432/test

.PHONY: install test test-sqlite lint fix bench

install:
	python3 -m venv $(VENV) && $(VENV)/bin/pip install -q -e '.[test]'

test: install
	CRM_TEST_POSTGRES_URL=$${CRM_TEST_POSTGRES_URL:-$(PG)} $(VENV)/bin/pytest

test-sqlite: install
	$(VENV)/bin/pytest

lint:
	$(VENV)/bin/ruff check crm_platform tests benchmarks
	$(VENV)/bin/ruff format --check crm_platform tests benchmarks

fix:
	$(VENV)/bin/ruff check --fix crm_platform tests benchmarks
	$(VENV)/bin/ruff format crm_platform tests benchmarks

bench:
	$(VENV)/bin/python benchmarks/bench_list_page.py --db $${CRM_DATABASE_URL:-sqlite:///benchmarks/.data/bench.sqlite3}
