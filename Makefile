# compclip: `make demo` runs the embedded flow, `make test` installs everything and runs the tests.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3.11
VENV := .venv
PIP_VERSION := 25.3
BIN := $(VENV)/bin
SHARED ?= ../shared
OUT ?= out/demo
# glibc malloc tuned to keep freed memory: several times faster CPU training steps (BENCHMARKS.md).
export MALLOC_MMAP_THRESHOLD_ ?= 33554432
export MALLOC_TRIM_THRESHOLD_ ?= 4000000000
export MALLOC_TOP_PAD_ ?= 536870912

.PHONY: setup test unit lint format demo compile bench constraints clean images push image-tools base-image run-containers

setup: $(VENV)/.installed $(VENV)/nltk_data/compclip-nltk.json

$(VENV)/.installed: pyproject.toml constraints.txt constraints-cuda.txt
	command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip==$(PIP_VERSION)
	$(BIN)/pip install -q -c constraints.txt -c constraints-cuda.txt -e '.[dev]'
	touch $@

# Debian's WordNet when nltk.download cannot reach the internet (see compclip/nltkdata.py).
/usr/share/wordnet/index.noun:
	$$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq
	$$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y -qq --no-install-recommends wordnet-base wordnet-sense-index

$(VENV)/nltk_data/compclip-nltk.json: $(VENV)/.installed src/compclip/nltkdata.py | /usr/share/wordnet/index.noun
	$(BIN)/python -m compclip.nltkdata --target $(VENV)/nltk_data --shared $(SHARED)/nltk_data

LINTED := src tests bench

lint: setup
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

format: setup
	$(BIN)/ruff format $(LINTED)
	$(BIN)/ruff check --fix $(LINTED)

# The image test runs a real command inside the core image: make builds it (layer-cached), pytest uses it.
test: setup lint image-core
	$(BIN)/pytest -q -p no:cacheprovider

unit: setup
	$(BIN)/pytest -q tests/unit

# The embedded default: Flickr8k PMI (real captions), then the Kubeflow pipeline on the world through
# kfp's local runner, cached in $(OUT)/kfp (a second `make demo` reruns nothing), its outputs pushed
# to the DVC remote on a local S3 server (SeaweedFS, stopped at the end). A smaller world, e.g.:
#   make demo DEMO_PARAMS="--param world.n=3000 --param finetune.n=600 --param pmi.min_count=1 \
#     --param evalsets.max_reject_share=0.5 --param pretrain.optim.epochs=1 --param train.optim.epochs=1"
# Its ending: the published version's gates and where the stages point, then the inspection service
# on loopback from the staging version (the published one when its gates failed), asked about the
# compositional item the tuned model passes where the base failed and one it fails (from the run's
# evaluation; `compclip inspect` stops the service when done).
DEMO_PARAMS ?=
REGISTRY_CLI := $(BIN)/compclip registry
demo: setup
	$(BIN)/compclip pmi count $(SHARED)/data/flickr8k/Flickr8k.token.txt --out $(OUT)/pmi-flickr8k --min-count 5
	$(BIN)/compclip pmi summary --table $(OUT)/pmi-flickr8k dog frisbee beach snow
	$(BIN)/python -m compclip.s3local stop --dir $(OUT)/s3
	$(BIN)/python -m compclip.s3local start --dir $(OUT)/s3 --bucket compclip > $(OUT)/s3.env
	source $(OUT)/s3.env; trap '$(BIN)/python -m compclip.s3local stop --dir $(OUT)/s3' EXIT; \
	  name=$$($(BIN)/python -c 'import yaml; print(yaml.safe_load(open("params.yaml"))["registry"]["name"])'); \
	  $(REGISTRY_CLI) policy set $$name --params params.yaml --reason "make demo: the gates of params.yaml"; \
	  $(BIN)/compclip pipeline run --root $(OUT)/kfp --push $(DEMO_PARAMS); \
	  version=$$($(REGISTRY_CLI) list $$name --params params.yaml --json | $(BIN)/python -c 'import json, sys; print(json.load(sys.stdin)[-1]["version"])'); \
	  echo "== $$name $$version: its promotion gates"; $(REGISTRY_CLI) gates $$name $$version --params params.yaml || true; \
	  echo "== $$name: versions and stages"; $(REGISTRY_CLI) list --params params.yaml; \
	  model=$$($(REGISTRY_CLI) resolve $$name staging --params params.yaml) || { echo "staging points nowhere: serving $$version"; \
	    model=$$($(REGISTRY_CLI) show $$name $$version --params params.yaml --json | $(BIN)/python -c 'import json, sys; print(json.load(sys.stdin)["uri"])'); }; \
	  echo "== the inspection service on loopback, serving $$model"; \
	  $(BIN)/compclip inspect --model $$model --lineage $$(ls -t $(OUT)/kfp/*/lineage-record*/lineage/lineage.json | head -1)

# The small pipeline (README's DEMO_PARAMS, publishing nothing) run twice: every task a subprocess,
# then every task in its image of this checkout through podman (`compclip pipeline run --runner
# containers`); both timed and every output compared file by file (bench/containers_run.py,
# BENCHMARKS.md). Not part of `make test`: the train image is GBs and the runs take minutes.
# CONTAINER_PARAMS adds settings, e.g. CONTAINER_PARAMS="methods=[degla]" (one fine-tuning, not three).
SMALL_PARAMS := world.n=3000 finetune.n=600 pmi.min_count=1 evalsets.max_reject_share=0.5 \
	pretrain.optim.epochs=1 train.optim.epochs=1 "registry.root=''"
CONTAINER_PARAMS ?=
run-containers: image-core image-train | setup $(CONTAINERS_CONF)
	$(BIN)/python bench/containers_run.py --out $(OUT)/containers \
		$(addprefix --param ,$(SMALL_PARAMS) $(CONTAINER_PARAMS))

# The compiled Kubeflow pipeline (a build output, never edited by hand).
compile: setup
	$(BIN)/compclip pipeline compile --out $(OUT)/pipeline.yaml

# Speed benchmarks; the experiments in bench/ (world_seeds: ~7 min a seed; relation_*: on the
# demo's outputs) run by hand (README, "Development").
SPEED_BENCHMARKS := pmi_throughput world_render negatives_yield train_step step_phases evaluate_throughput

bench: setup
	for b in $(SPEED_BENCHMARKS); do $(BIN)/python bench/$$b.py || exit 1; done

# The CPU set (constraints.txt) and what only a GPU image adds (constraints-cuda.txt), from one resolution.
CUDA_ONLY := ^(triton|cuda-bindings|cuda-pathfinder|nvidia-cusolver|nvidia-nvtx)==
constraints:
	rm -rf /tmp/compclip-constraints && $(PYTHON) -m venv /tmp/compclip-constraints
	/tmp/compclip-constraints/bin/pip install -q -e '.[dev]'
	/tmp/compclip-constraints/bin/pip freeze --all --exclude-editable | grep -vE '^pip==' > /tmp/compclip-constraints/all.txt
	{ sed -n '1,4p' constraints.txt; grep -viE '$(CUDA_ONLY)' /tmp/compclip-constraints/all.txt; } > constraints.new
	{ sed -n '1,2p' constraints-cuda.txt; grep -iE '$(CUDA_ONLY)' /tmp/compclip-constraints/all.txt; } > constraints-cuda.new
	mv constraints.new constraints.txt && mv constraints-cuda.new constraints-cuda.txt

clean:
	rm -rf $(VENV) out data models reports .pytest_cache .ruff_cache

# Container images: docker/Dockerfile, one image per family, named by compclip.images. Built with
# podman from a base made of Debian packages (mmdebstrap; no registry is needed) and a wheelhouse
# that pip fills on the host; inside the build pip runs --no-index and the network is off.
# `make images ACCELERATOR=cuda` builds the torch families' CUDA variant; `make push REGISTRY=...`
# pushes them and records their digests in out/images/digests.json (`pipeline compile --digests`).
# Every image is tagged VERSION-DIGEST (compclip.images.content_tag: changes with the code) and
# labelled with its source and git revision.
FAMILIES := core train gen serve
TORCH_FAMILIES := train gen serve
ACCELERATOR ?= cpu
REGISTRY ?= localhost/compclip
IMAGES := out/images
CONTEXT := $(IMAGES)/context
WHEELHOUSE := out/wheelhouse
NLTK_SHARED := corpora/stopwords.zip taggers/averaged_perceptron_tagger_eng.zip
# The base made here; BASE_IMAGE=python:3.11-slim-bookworm (the Dockerfile's default) where a registry is reachable.
LOCAL_BASE := localhost/compclip/base-python3.11:bookworm
BASE_IMAGE ?= $(LOCAL_BASE)
DEBIAN_MIRROR ?= http://deb.debian.org/debian
export CONTAINERS_CONF := $(CURDIR)/$(IMAGES)/containers.conf
IMAGE_PY := PYTHONPATH=$(CURDIR)/src $(PYTHON) -m compclip.images
ROOT := $$( [ "$$(id -u)" = 0 ] || echo sudo )
ifndef TAG
TAG := $(shell $(IMAGE_PY) tag $(CURDIR))
endif
REVISION := $(shell git rev-parse HEAD 2>/dev/null || echo unknown)$(shell git status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo -dirty)
SOURCE ?= $(shell git remote get-url origin 2>/dev/null || echo unknown)
DIGESTS := $(IMAGES)/digests.json
# a family's variant: core has no torch, so its CPU image whatever ACCELERATOR says
accelerator = $(if $(filter core,$(1)),cpu,$(ACCELERATOR))
ref = $$($(IMAGE_PY) ref $(1) --registry $(REGISTRY) --tag $(TAG) --accelerator $(call accelerator,$(1)))

images: $(addprefix image-,$(FAMILIES))
.PHONY: $(addprefix image-,$(FAMILIES)) $(addprefix smoke-,$(FAMILIES)) images-torch smoke

# The torch families (long builds, GBs each): not part of `make test`, which builds only the core image.
images-torch: $(addprefix image-,$(TORCH_FAMILIES))

# Each family's smoke test inside its image (read-only root, no network, its own user):
# tests/images/smoke.py imports what the family's components import and runs their commands.
smoke: $(addprefix smoke-,$(FAMILIES))
$(addprefix smoke-,$(FAMILIES)): smoke-%: image-% | setup $(CONTAINERS_CONF)
	PYTHONPATH=$(CURDIR)/src $(BIN)/python tests/images/smoke.py --plan $* --accelerator $(call accelerator,$*) \
		> $(IMAGES)/smoke-$*-$(call accelerator,$*).txt
	podman run --rm --network none --read-only --tmpfs /tmp --env _KFP_RUNTIME=true \
		--volume $(CURDIR)/tests/images/smoke.py:/smoke.py:ro "$(call ref,$*)" python /smoke.py \
		$$(cat $(IMAGES)/smoke-$*-$(call accelerator,$*).txt)

# PUSH_FLAGS: podman push's own, e.g. --tls-verify=false for a registry served over plain HTTP.
PUSH_FLAGS ?=
push: images
	for family in $(FAMILIES); do \
		ref="$$($(IMAGE_PY) ref $$family --registry $(REGISTRY) --tag $(TAG) \
			--accelerator $$( [ $$family = core ] && echo cpu || echo $(ACCELERATOR) ))"; \
		podman push $(PUSH_FLAGS) --digestfile $(IMAGES)/pushed.digest "$$ref"; \
		$(IMAGE_PY) record $(DIGESTS) $$family --registry $(REGISTRY) --tag $(TAG) --digestfile $(IMAGES)/pushed.digest \
			--accelerator $$( [ $$family = core ] && echo cpu || echo $(ACCELERATOR) ); done

# The shared layer's list (docker/Dockerfile): core's own, or what every torch family installs.
shared = requirements-$(if $(filter core,$(1)),core-cpu,torch-$(ACCELERATOR)).txt

# Phony on purpose: podman's layer cache decides what is rebuilt (a warm build takes seconds).
.SECONDEXPANSION:
$(addprefix image-,$(FAMILIES)): image-%: $(CONTEXT)/requirements-%-$(ACCELERATOR).txt \
		$(CONTEXT)/$$(call shared,$$*) $(CONTEXT)/install-packages.sh $(CONTEXT)/compclip.stamp \
		$(addprefix $(CONTEXT)/nltk/,$(NLTK_SHARED)) $(CONTEXT)/nltk/wordnet.stamp \
		$(WHEELHOUSE)/pip-$(PIP_VERSION)-py3-none-any.whl $(if $(filter $(LOCAL_BASE),$(BASE_IMAGE)),base-image) \
		| image-tools $(CONTAINERS_CONF)
	podman build --network none --build-context wheels=$(WHEELHOUSE) -f docker/Dockerfile \
		--build-arg BASE_IMAGE=$(BASE_IMAGE) --build-arg PIP_VERSION=$(PIP_VERSION) \
		--build-arg SHARED=$(call shared,$*) \
		--build-arg FAMILY=$* --build-arg ACCELERATOR=$(call accelerator,$*) \
		--build-arg VERSION=$(TAG) --build-arg REVISION=$(REVISION) --build-arg SOURCE=$(SOURCE) \
		--tag "$(call ref,$*)" $(CONTEXT)

# core has no torch: its CPU list is its only one, whatever ACCELERATOR says.
$(CONTEXT)/requirements-core-cuda.txt: $(CONTEXT)/requirements-core-cpu.txt
	cp $< $@

# A family's exact requirements: pip resolves the family's extras under both constraints files, the
# lock keeps what this variant's set pins less what the family never imports (compclip.images), and
# the wheelhouse gets each as a wheel (sdists built here).
$(CONTEXT)/requirements-%.txt: pyproject.toml constraints.txt constraints-cuda.txt src/compclip/images.py
	mkdir -p $(@D) $(WHEELHOUSE)
	family=$$(echo $* | cut -d- -f1); accelerator=$$(echo $* | cut -d- -f2); \
	$(PYTHON) -m pip install -qq --dry-run --ignore-installed --report $(IMAGES)/$*.json \
		-c constraints.txt -c constraints-cuda.txt ".[$$($(IMAGE_PY) extras $$family)]"; \
	$(IMAGE_PY) lock --report $(IMAGES)/$*.json --family $$family --constraints constraints.txt \
		$$( [ $$accelerator = cuda ] && echo --constraints || echo --drop ) constraints-cuda.txt > $@.new
	$(PYTHON) -m pip wheel -qq --no-deps --find-links $(WHEELHOUSE) --wheel-dir $(WHEELHOUSE) -r $@.new
	mv $@.new $@

# What train, gen and serve all install (the lists are sorted): one layer the three images share.
$(CONTEXT)/requirements-torch-%.txt: $(addprefix $(CONTEXT)/requirements-,$(addsuffix -%.txt,$(TORCH_FAMILIES)))
	LC_ALL=C comm -12 $(word 1,$^) $(word 2,$^) | LC_ALL=C comm -12 - $(word 3,$^) > $@

$(CONTEXT)/install-packages.sh: docker/install-packages.sh
	mkdir -p $(@D) && cp $< $@

# The build runs pip from its wheel, so the image's venv holds no pip.
$(WHEELHOUSE)/pip-$(PIP_VERSION)-py3-none-any.whl:
	$(PYTHON) -m pip download -qq --no-deps --dest $(WHEELHOUSE) pip==$(PIP_VERSION)

# compclip's wheel (the library, its CLI, the Kubeflow components and pipelines: all of src/compclip),
# built from a fresh build/ (setuptools packs whatever an older build left there).
$(CONTEXT)/compclip.stamp: pyproject.toml README.md $(shell find src/compclip -type f -not -name '*.pyc')
	mkdir -p $(@D) && rm -f $(CONTEXT)/compclip-*.whl && rm -rf build
	$(PYTHON) -m pip wheel -qq --no-deps --wheel-dir $(CONTEXT) .
	touch $@

# The pinned NLTK files from ../shared (see compclip/nltkdata.py).
$(CONTEXT)/nltk/%.zip: $(SHARED)/nltk_data/%.zip
	mkdir -p $(@D) && cp $< $@

# WordNet from Debian's packages, unpacked inside the build (see compclip/nltkdata.py).
$(CONTEXT)/nltk/wordnet.stamp: | image-tools
	mkdir -p $(@D) && rm -f $(@D)/*.deb
	cd $(@D) && apt-get download wordnet-base wordnet-sense-index
	touch $@

base-image: $(IMAGES)/base.tar $(CONTAINERS_CONF) | image-tools
	if ! podman image exists $(BASE_IMAGE) || [ $< -nt $(IMAGES)/base.id ]; then \
		podman import --quiet --change 'CMD ["python3"]' $< $(BASE_IMAGE) > $(IMAGES)/base.id; fi

# A python:3.11-slim-like base from Debian bookworm: the Essential packages (no apt: nothing is
# installed at run time) and docker/base.packages; docs and locales left out.
$(IMAGES)/base.tar: docker/base.packages | image-tools
	mkdir -p $(@D)
	mmdebstrap --quiet --variant=essential --include=$$(grep -v '^#' $< | paste -sd, -) \
		--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
		--dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
		--dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
		--dpkgopt='path-exclude=/usr/share/locale/*' \
		bookworm $(IMAGES)/base.new.tar "deb $(DEBIAN_MIRROR) bookworm main" \
		"deb $(DEBIAN_MIRROR) bookworm-updates main" "deb $(DEBIAN_MIRROR)-security bookworm-security main"
	mv $(IMAGES)/base.new.tar $@

# podman on this kind of machine: runc (crun fails on its hybrid cgroups), cgroupfs, file events,
# and ulimits that fit under the hard limit.
$(CONTAINERS_CONF):
	mkdir -p $(@D)
	printf '%s\n' '[containers]' \
		"default_ulimits = [\"nofile=$$(ulimit -Hn):$$(ulimit -Hn)\", \"nproc=32768:32768\"]" \
		'[engine]' 'runtime = "runc"' 'cgroup_manager = "cgroupfs"' 'events_logger = "file"' > $@

image-tools:
	for tool in mmdebstrap podman buildah skopeo runc; do command -v $$tool >/dev/null || missing=1; done; \
	if [ -n "$${missing:-}" ]; then $(ROOT) apt-get update -qq && \
		$(ROOT) apt-get install -y -qq --no-install-recommends mmdebstrap podman buildah skopeo runc; fi
