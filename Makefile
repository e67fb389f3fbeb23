# Suanwang: the two quick-start commands (`make demo`, `make test`) install what they need
# into .venv/ by themselves and are safe to run twice.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SHARED ?= ../shared/data

.PHONY: demo showcase test services services-down bench-control bench-api lint typecheck imports pytest world energy-tables cities lock bench bench-network bench-scheduler bench-market clean help

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

DEMO_DIR ?= $(VENV)/demo
DEMO_PORT ?= 8040

demo: $(STAMP) ## the platform: API, runtime, a provider agent per site and a task stream on http://127.0.0.1:8040 (Ctrl-C stops; run again to resume)
	$(BIN)/suanwang up --demo --data-dir $(DEMO_DIR) --port $(DEMO_PORT)

showcase: $(STAMP) ## batch tour: the built-in world, a site's energy, 500 tasks scheduled and traded, 300 run by the control plane
	$(BIN)/suanwang world summary
	$(BIN)/suanwang energy site cn-zhongwei --hours 6
	$(BIN)/suanwang tasks generate --n 500 --seed 1 --out $(VENV)/demo-tasks.jsonl
	$(BIN)/suanwang schedule $(VENV)/demo-tasks.jsonl --mode balanced
	$(BIN)/suanwang market quote $(VENV)/demo-tasks.jsonl --top 2
	$(BIN)/suanwang market simulate --tasks 500 --seed 1 --ledger $(VENV)/demo-ledger.jsonl
	$(BIN)/suanwang ledger verify $(VENV)/demo-ledger.jsonl
	rm -rf $(VENV)/demo-control && mkdir -p $(VENV)/demo-control
	cp examples/control.toml $(VENV)/demo-control/control.toml
	$(BIN)/suanwang control submit --generate 300 --seed 1 --data-dir $(VENV)/demo-control
	$(BIN)/suanwang control run --until-idle --log-level warning --data-dir $(VENV)/demo-control
	$(BIN)/suanwang control tasks --limit 10 --data-dir $(VENV)/demo-control
	$(BIN)/suanwang ledger verify --data-dir $(VENV)/demo-control

test: services lint typecheck imports pytest ## the whole test suite: services, ruff, mypy, import contracts, pytest

services: ## start the local PostgreSQL and one-node Slurm the integration tests use (as root; else they skip)
	@if [ "$(SKIP_SERVICES)" = "1" ]; then echo "services: skipped (SKIP_SERVICES=1)"; else bash scripts/services-up.sh; fi

services-down: ## stop the test PostgreSQL and Slurm
	bash scripts/slurm-down.sh || true
	bash scripts/postgres-down.sh || true

lint: $(STAMP)
	$(BIN)/ruff check src tests scripts bench
	$(BIN)/ruff format --check src tests scripts bench

typecheck: $(STAMP)
	$(BIN)/mypy

imports: $(STAMP)
	$(BIN)/lint-imports

pytest: $(STAMP)
	$(BIN)/pytest -q

world: $(STAMP) ## regenerate the packaged world data from scripts/world_facts and $(SHARED)
	$(BIN)/python scripts/build_world.py --shared $(SHARED)

energy-tables: $(STAMP) ## regenerate the shipped energy tables from $(SHARED) (permissive sources only)
	$(BIN)/python scripts/build_energy_tables.py --shared $(SHARED)

bench: $(STAMP) ## run the benchmarks (JSON results in bench/results/)
	$(BIN)/python bench/bench_world.py
	$(BIN)/python bench/bench_energy.py
	$(BIN)/python bench/bench_network.py
	$(BIN)/python bench/bench_scheduler.py
	$(BIN)/python bench/bench_market.py
	$(BIN)/python bench/bench_control.py

bench-scheduler: $(STAMP) ## benchmark the scheduler and its baselines (add ARGS=--full for 100k tasks)
	$(BIN)/python bench/bench_scheduler.py $(ARGS)

cities: $(STAMP) ## rebuild the shipped city table from Natural Earth in ../shared/data
	$(BIN)/python scripts/build_cities.py --shared $(SHARED)

bench-control: $(STAMP) ## benchmark the control plane: submissions, the tick with 10k pending, steady ticks
	$(BIN)/python bench/bench_control.py $(ARGS)

bench-api: $(STAMP) ## benchmark the HTTP API: submissions/s and p50/p99 latency on SQLite and PostgreSQL (ARGS=--quick)
	$(BIN)/python bench/bench_api.py $(ARGS)

bench-market: $(STAMP) ## benchmark clearing, quotes, the market run and ledger verification (ARGS=--full)
	$(BIN)/python bench/bench_market.py $(ARGS)

bench-network: $(STAMP) ## benchmark the network engine against networkx (a few minutes)
	$(BIN)/python bench/bench_network.py

lock: ## re-resolve the dependency pins in constraints.txt
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet -e '.[dev]'
	.lock-venv/bin/pip freeze --exclude-editable | grep -v '^suanwang' > constraints.txt
	rm -rf .lock-venv

clean: ## remove the virtual environment and caches
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
