# entpage — every target a new contributor needs. `make help` lists them.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_ENTERPRISES ?= 2000

.DEFAULT_GOAL := help
.PHONY: help install run demo serve worker migrate seed test test-pg lint typecheck check ci bench bench-page bench-notices bench-push clean

help: ## list the targets
	@awk 'BEGIN{FS=":.*## "} /^[a-z-]+:.*## /{printf "  make %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	@echo "==> creating $(VENV) with $(PYTHON) and installing entpage (editable) + dev tools"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP) ## create the virtualenv and install everything

run: $(STAMP) ## the product on the embedded default with demo data (SQLite + in-process Redis + fakes)
	@echo "==> migrating the embedded SQLite database"
	$(BIN)/entpage migrate
	@echo "==> seeding $(DEMO_ENTERPRISES) demo enterprises (skipped when already seeded)"
	@$(BIN)/entpage seed --enterprises $(DEMO_ENTERPRISES) 2>&1 | grep -v "already has enterprises" || true
	@echo "==> serving: API http://127.0.0.1:8000  kiosk /kiosk  console /console  docs /openapi.json"
	$(BIN)/entpage serve --with-fakes

demo: run ## alias of run

serve: $(STAMP) ## serve the API with the current environment
	$(BIN)/entpage serve

worker: $(STAMP) ## run a delivery worker with the current environment
	$(BIN)/entpage worker

migrate: $(STAMP) ## apply migrations to ENTPAGE_DATABASE_URL
	$(BIN)/entpage migrate

test: $(STAMP) ## the whole test suite (real PostgreSQL/Redis when ENTPAGE_TEST_* are set, else embedded)
	$(BIN)/pytest

test-pg: $(STAMP) ## the whole suite against the local PostgreSQL and Redis
	ENTPAGE_TEST_DATABASE_URL=$${ENTPAGE_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test} \
	ENTPAGE_TEST_REDIS_URL=$${ENTPAGE_TEST_REDIS_URL:-redis://127.0.0.1:6379/9} $(BIN)/pytest

lint: $(STAMP) ## ruff
	$(BIN)/ruff check .

typecheck: $(STAMP) ## mypy --strict
	$(BIN)/mypy

check: lint typecheck test ## lint, types, tests

ci: ## what CI runs (.ci/run)
	bash .ci/run

bench: bench-page bench-notices bench-push ## every benchmark (PostgreSQL; see BENCHMARKS.md)

bench-page: $(STAMP) ## GET /page throughput and latency vs a plain Starlette endpoint
	$(BIN)/python bench/page.py

bench-notices: $(STAMP) ## audience preview and publish-to-all
	$(BIN)/python bench/notices.py

bench-push: $(STAMP) ## end-to-end push throughput vs firebase-admin send_each
	$(BIN)/python bench/push.py

clean: ## remove the virtualenv, caches and the embedded database
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache test-artifacts
