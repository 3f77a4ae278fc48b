# tweet-triage developer commands. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
TRIAGE := $(VENV)/bin/triage
STAMP := $(VENV)/.installed
TORCH := torch==2.13.0
PYTEST_ARGS ?=
# One test process per core; they share one local stack and one trained model (tests/shared.py).
PYTEST_WORKERS ?= auto

.PHONY: help setup hooks demo test test-unit lint format typecheck bench bench-model bench-quant bench-stream bench-stages bench-api bench-drift bench-recipes bench-review bench-places bench-rebuild dist dist-check deploy-check lock stack-up stack-down stack-status clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "} {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}'

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml constraints.txt | $(PY)
	$(PIP) install --quiet --upgrade "pip>=25"
	@# torch first: the CPU build on disk; any later resolution that admits a newer torch would pull CUDA.
	$(PIP) install --quiet $(TORCH)
	$(PIP) install --quiet -c constraints.txt -e '.[all,dev]'
	touch $(STAMP)

setup: $(STAMP) ## Create .venv, install the pinned dependencies and the local Cosmos DB server
	$(TRIAGE) stack install

demo: setup ## The whole pipeline on the local stack: train if needed, stream the dataset, summarise
	$(TRIAGE) demo

test: setup ## Run the whole test suite (starts its own local services on free ports), one process per core
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

test-unit: setup ## The fast suite: unit tests only, no services, no training (about a minute on 2 cores)
	$(PY) -m pytest tests/unit -q $(PYTEST_ARGS)

hooks: setup ## Install the git pre-commit hooks (ruff, ruff format, mypy from .venv; see .pre-commit-config.yaml)
	$(VENV)/bin/pre-commit install

lint: setup ## ruff (lint + format check) and mypy (strict)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy tests

format: setup ## Apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: bench-model bench-quant bench-stream bench-stages bench-api bench-drift ## Every benchmark

bench-model: setup ## Our predictor vs fp32 ONNX Runtime vs the transformers pipeline on the same 2,000 tweets (needs a trained model)
	$(TRIAGE) stack up
	$(PY) benchmarks/bench_model.py --model $${MODEL:-production}

bench-quant: setup ## The quantization study on this CPU for a registered model: every candidate side by side, the rule's choice
	$(TRIAGE) stack up
	$(TRIAGE) model quantization-study $${MODEL:-production} --quantization $${CANDIDATES:-all}

bench-stages: setup ## CPU per tweet of each stream stage (score, store, publish, monitor), for docs/capacity.md
	$(TRIAGE) stack up
	$(PY) benchmarks/bench_stages.py --model $${MODEL:-production}

bench-stream: setup ## Stream throughput and p50/p99 publish->stored latency vs the raw predictor (run after make demo)
	$(TRIAGE) stack up
	$(PY) benchmarks/bench_stream.py

bench-drift: setup ## Drift monitor: false alarms, detection delay after shifts, cost per tweet, memory (needs a trained model)
	$(TRIAGE) stack up
	$(PY) benchmarks/bench_drift.py --model $${MODEL:-production}

bench-recipes: setup ## Training recipes over 3 seeds: test ROC-AUC, PR-AUC, F2 at the operating point (about 7 min per recipe and seed)
	$(TRIAGE) stack up
	$(PY) benchmarks/bench_recipes.py --recipes $${RECIPES:-baseline,augment,distill} --seeds $${SEEDS:-1,2,3} --mlflow

bench-review: setup ## Review queue vs random labels: F1 and PR-AUC against labels used, labels saved, a plot (about 6 min)
	$(PY) benchmarks/bench_review.py --seeds $${SEEDS:-1,2,3,4,5}

bench-places: setup ## Place lookup: precision against 500 hand-labelled tweets, cost per tweet (seconds)
	$(PY) benchmarks/bench_places.py

bench-rebuild: setup ## Rebuild of the predictions container from 100,000 scored events: peak memory, chunks vs all at once
	$(TRIAGE) stack up
	$(PY) benchmarks/bench_rebuild.py --records $${RECORDS:-100000}

bench-api: setup ## Scoring API: requests/s, p50/p99, server CPU for batch 1 vs 16, batching off vs on (needs a production model)
	$(TRIAGE) stack up
	$(PY) benchmarks/bench_api.py --workers $${WORKERS:-1}

dist: setup ## Build the wheel and sdist into dist/
	rm -rf dist
	$(PY) -m build --outdir dist .

dist-check: dist ## Install the built wheel into a clean venv and run `triage --help`
	PYTHON=$(PYTHON) bash scripts/check_dist.sh dist

deploy-check: setup ## Offline checks of the deployment code: Azure ML, Bicep, Dockerfiles, compose, workflows
	$(TRIAGE) azure validate --out .triage/azureml
	$(TRIAGE) azure validate-infra
	for f in deploy/docker/*.Dockerfile; do $(VENV)/bin/hadolint "$$f" || exit 1; done
	TRIAGE_API__KEYS=check TRIAGE_DASHBOARD__API_KEY=check $(PY) -c 'import compose, pathlib, subprocess, sys; \
		sys.exit(subprocess.call([str(pathlib.Path(compose.__file__).with_name("docker-compose")), "config", "-q"]))'
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml

lock: | $(PY) ## Re-resolve constraints.txt from pyproject.toml (review the diff!)
	bash scripts/lock.sh $(PYTHON)

stack-up: setup ## Start the local services
	$(TRIAGE) stack up

stack-down: ## Stop the local services
	$(TRIAGE) stack down

stack-status: ## Show the local services
	$(TRIAGE) stack status

clean: ## Remove build output and caches (keeps .venv and .triage)
	rm -rf dist build .pytest_cache .mypy_cache .ruff_cache test-artifacts
