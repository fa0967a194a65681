# compclip: `make demo` runs the embedded flow, `make test` installs everything and runs the tests.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
SHARED ?= ../shared
OUT ?= out/demo
# glibc malloc tuned to keep freed memory: several times faster CPU training steps (BENCHMARKS.md).
export MALLOC_MMAP_THRESHOLD_ ?= 33554432
export MALLOC_TRIM_THRESHOLD_ ?= 4000000000
export MALLOC_TOP_PAD_ ?= 536870912

.PHONY: setup test unit lint format demo bench constraints clean

setup: $(VENV)/.installed $(VENV)/nltk_data/compclip-nltk.json

$(VENV)/.installed: pyproject.toml constraints.txt
	command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip==25.3
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $@

# Debian's WordNet when nltk.download cannot reach the internet (see compclip/nltkdata.py).
/usr/share/wordnet/index.noun:
	$$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq
	$$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y -qq --no-install-recommends wordnet-base wordnet-sense-index

$(VENV)/nltk_data/compclip-nltk.json: $(VENV)/.installed src/compclip/nltkdata.py | /usr/share/wordnet/index.noun
	$(BIN)/python -m compclip.nltkdata --target $(VENV)/nltk_data --shared $(SHARED)/nltk_data

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

format: setup
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

test: setup lint
	$(BIN)/pytest -q -p no:cacheprovider

unit: setup
	$(BIN)/pytest -q tests/unit

# The embedded default: Flickr8k PMI (real captions), then every stage of dvc.yaml on the world.
demo: setup
	$(BIN)/compclip pmi count $(SHARED)/data/flickr8k/Flickr8k.token.txt --out $(OUT)/pmi-flickr8k --min-count 5
	$(BIN)/compclip pmi summary --table $(OUT)/pmi-flickr8k dog frisbee beach snow
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc repro
	$(BIN)/compclip pmi summary --table data/pmi cube ring
	@echo; echo "Compositional repair on the world (base = pretrained; others fine-tuned from it):"
	@cat reports/compare/compare.md
	@echo; echo "Reports: reports/*/report.html; models: models/*; data: data/*"

# Speed benchmarks; the experiments in bench/ (world_seeds: ~7 min a seed; relation_*: on the
# demo's outputs) run by hand (README, "Development").
SPEED_BENCHMARKS := pmi_throughput world_render negatives_yield train_step step_phases evaluate_throughput

bench: setup
	for b in $(SPEED_BENCHMARKS); do $(BIN)/python bench/$$b.py || exit 1; done

constraints:
	rm -rf /tmp/compclip-constraints && $(PYTHON) -m venv /tmp/compclip-constraints
	/tmp/compclip-constraints/bin/pip install -q -e '.[dev]'
	{ sed -n '1,2p' constraints.txt; /tmp/compclip-constraints/bin/pip freeze --exclude-editable; } > constraints.new
	mv constraints.new constraints.txt

clean:
	rm -rf $(VENV) out data models reports .pytest_cache .ruff_cache
