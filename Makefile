# AlexNet, layer by layer / AlexNet, từng tầng một
# `make book` builds the book, `make test` runs every test; both set up what they need.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ASSIGNMENTS := input conv1 norm1 pool1 conv2 norm2 pool2 conv3 conv4 conv5 pool3 fc6 fc7 fc8 forward_gpu bw_conv bw_pool_norm bw_fc bw_train
JB_FLAGS := -W -n --keep-going

.PHONY: help venv system-deps grade-deps mathjax assignments wheel book test test-fast bench bench-grade grade items export-lms clean

help: ## List every target
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 16

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade 'pip>=24'
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

venv: $(STAMP) ## Create .venv and install the pinned dependencies (pyproject.toml)

system-deps: ## Install Debian packages (chromium, chromium-driver, bubblewrap) if missing
	@bash tools/system_deps.sh

grade-deps: ## Install only what grading needs (bubblewrap) if missing
	@bash tools/system_deps.sh grade

mathjax: ## Install MathJax from the npm registry (served locally by the book)
	@test -f node_modules/mathjax/package.json || npm ci --no-audit --no-fund --loglevel=error

assignments: venv grade-deps ## Generate the student notebooks into release/; fails unless every solution scores full marks through the grader
	$(BIN)/python -m tools.release $(ASSIGNMENTS)

wheel: venv ## Build the students' wheel of alexnet_ref into book/downloads/ (linked from the set-up page)
	$(BIN)/python -m tools.student_wheel

book: venv mathjax wheel ## Build the bilingual book offline into _build/html (the student notebooks without the grading check)
	$(BIN)/python -m tools.release --no-check $(ASSIGNMENTS)
	$(BIN)/jupyter-book build . $(JB_FLAGS)

test: JB_FLAGS := --all -W -n --keep-going
test: venv system-deps assignments book ## Check every solution through the grader, build the book strictly, run the whole test suite
	$(BIN)/python -m pytest

test-fast: venv ## Run the tests that need no browser, book build or notebook execution
	$(BIN)/python -m pytest -m "not slow"

bench: venv ## Benchmark alexnet_ref against a torch.nn.Sequential baseline (prints a table, writes JSON)
	$(BIN)/python -m tools.bench

bench-grade: venv grade-deps ## Benchmark the grader against stock nbgrader autograde (N=8 for a quick run)
	$(BIN)/python -m tools.bench_grade $(if $(N),--n $(N)) $(if $(SCHEDULER),--scheduler $(SCHEDULER))

grade: venv grade-deps ## Autograde every submission of assignment A (or A="conv1 pool1"; SCHEDULER=tcp://host:port for Dask)
	@test -n "$(A)" || { echo "usage: make grade A=<assignment id> [SCHEDULER=tcp://host:port]" >&2; exit 2; }
	$(BIN)/python -m course_grader grade $(A) $(if $(SCHEDULER),--scheduler $(SCHEDULER))

items: venv ## Write the item analysis of assignment A again (reports/<A>-items.html; make grade writes it too)
	@test -n "$(A)" || { echo "usage: make items A=<assignment id>" >&2; exit 2; }
	$(BIN)/python -m course_grader items $(A)

export-lms: venv ## Export the gradebook as Canvas and Moodle grade import CSVs (canvas.csv, moodle.csv)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/nbgrader export --exporter course_grader.lms.CanvasExportPlugin --to canvas.csv
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/nbgrader export --exporter course_grader.lms.MoodleExportPlugin --to moodle.csv

clean: ## Remove build output (keeps .venv, node_modules, submissions and gradebook)
	rm -rf _build release/ book/exercises/ book/downloads/
