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

.PHONY: setup test unit lint format demo compile bench constraints clean

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

LINTED := src tests bench pipelines components

lint: setup
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

format: setup
	$(BIN)/ruff format $(LINTED)
	$(BIN)/ruff check --fix $(LINTED)

test: setup lint
	$(BIN)/pytest -q -p no:cacheprovider

unit: setup
	$(BIN)/pytest -q tests/unit

# The embedded default: Flickr8k PMI (real captions), then the Kubeflow pipeline on the world through
# kfp's local runner, cached in $(OUT)/kfp (a second `make demo` reruns nothing), its outputs pushed
# to the DVC remote on a local S3 server (SeaweedFS, stopped at the end). A smaller world, e.g.:
#   make demo DEMO_PARAMS="--param world.n=3000 --param finetune.n=600 --param pmi.min_count=1 \
#     --param evalsets.max_reject_share=0.5 --param pretrain.epochs=1 --param train.optim.epochs=1"
# Its ending: the published version's gates and where the stages point, then the inspection service
# on loopback from the staging version (the published one when its gates failed), asked about the
# compositional item the tuned model passes where the base failed and one it fails (from the run's
# evaluation; `compclip inspect` stops the service when done).
DEMO_PARAMS ?=
REGISTRY := $(BIN)/compclip registry
demo: setup
	$(BIN)/compclip pmi count $(SHARED)/data/flickr8k/Flickr8k.token.txt --out $(OUT)/pmi-flickr8k --min-count 5
	$(BIN)/compclip pmi summary --table $(OUT)/pmi-flickr8k dog frisbee beach snow
	$(BIN)/python -m compclip.s3local stop --dir $(OUT)/s3
	$(BIN)/python -m compclip.s3local start --dir $(OUT)/s3 --bucket compclip > $(OUT)/s3.env
	source $(OUT)/s3.env; trap '$(BIN)/python -m compclip.s3local stop --dir $(OUT)/s3' EXIT; \
	  $(BIN)/compclip pipeline run --root $(OUT)/kfp --push $(DEMO_PARAMS); \
	  name=$$($(BIN)/python -c 'import yaml; print(yaml.safe_load(open("params.yaml"))["registry"]["name"])'); \
	  version=$$($(REGISTRY) list $$name --params params.yaml --json | $(BIN)/python -c 'import json, sys; print(json.load(sys.stdin)[-1]["version"])'); \
	  echo "== $$name $$version: its promotion gates"; $(REGISTRY) gates $$name $$version --params params.yaml || true; \
	  echo "== $$name: versions and stages"; $(REGISTRY) list --params params.yaml; \
	  model=$$($(REGISTRY) resolve $$name staging --params params.yaml) || { echo "staging points nowhere: serving $$version"; \
	    model=$$($(REGISTRY) show $$name $$version --params params.yaml --json | $(BIN)/python -c 'import json, sys; print(json.load(sys.stdin)["uri"])'); }; \
	  echo "== the inspection service on loopback, serving $$model"; \
	  $(BIN)/compclip inspect --model $$model --lineage $$(ls -t $(OUT)/kfp/*/lineage-record/lineage/lineage.json | head -1)

# The compiled Kubeflow pipeline (a build output, never edited by hand).
compile: setup
	$(BIN)/compclip pipeline compile --out $(OUT)/pipeline.yaml

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
