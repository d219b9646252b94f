# The LLaMA corpus builder and trainer. `make demo` and `make test` need nothing done by hand.
SHELL := /bin/bash
PY := .venv/bin/python
DATA ?= data
SOURCE ?=
INPUT ?=
BEAM_ARGS ?=
COMPARE ?=
MODEL ?= tiny
RUN ?= $(MODEL)
STEPS ?=
CKPT_EVERY ?=
SEQ_LEN ?= 2048
VOCAB ?=
TOTAL_TOKENS ?=
NEGATIVES ?=
LANGUAGES ?=
TASKS ?=
LIMIT ?=
HF ?=

.PHONY: setup lock demo demo-cluster test sample corpus tokenizer tokens train eval report bench lm classifier clean-data

# TORCH=gpu installs requirements/gpu.lock (torch's CUDA build) instead of requirements/cpu.lock.
setup:
	@bash scripts/setup.sh

# Resolves pyproject.toml into requirements/*.lock (UPGRADE=1 or UPGRADE=<package> to move versions).
lock:
	@bash scripts/lock.sh

test: setup
	$(PY) -m pytest

demo: setup
	$(PY) -m scripts.demo --data '$(DATA)'

demo-cluster: setup
	$(PY) -m scripts.demo_cluster $(if $(COMPARE),--compare '$(COMPARE)')

sample: setup
	$(PY) -m samples.build --output '$(DATA)/raw'

corpus: setup
	@test -n "$(SOURCE)" || { echo "usage: make corpus SOURCE=<name> [INPUT=glob] [DATA=data] [BEAM_ARGS=...]"; \
	  $(PY) -m sources.run --help | tail -1; exit 2; }
	$(PY) -m sources.run --source $(SOURCE) $(if $(INPUT),--input '$(INPUT)') --output '$(DATA)' \
	  $(if $(filter commoncrawl,$(SOURCE)),--lm-dir '$(DATA)/models' --classifier-model '$(DATA)/models/wiki_classifier.bin') \
	  $(BEAM_ARGS)

tokenizer: setup
	$(PY) -m tokenizer.train --data '$(DATA)' $(if $(VOCAB),--vocab-size $(VOCAB)) $(BEAM_ARGS)

tokens: setup
	$(PY) -m tokens.run --data '$(DATA)' --seq-len $(SEQ_LEN) $(if $(TOTAL_TOKENS),--total-tokens $(TOTAL_TOKENS)) $(BEAM_ARGS)

train: setup
	$(PY) -m training.train --model $(MODEL) --run-name $(RUN) --data '$(DATA)' \
	  $(if $(STEPS),--steps $(STEPS)) $(if $(CKPT_EVERY),--ckpt-every $(CKPT_EVERY))

# The paper's zero/few-shot benchmarks on runs/$(RUN)'s newest checkpoint (TASKS=all for every one;
# HF=<dir>: a transformers LLaMA folder instead, results still in runs/$(RUN)/eval/).
eval: setup
	$(PY) -m training.evaluation --run-name $(RUN) --data '$(DATA)' $(if $(TASKS),--tasks $(TASKS)) \
	  $(if $(LIMIT),--limit $(LIMIT)) $(if $(HF),--hf '$(HF)')

report: setup
	$(PY) -m scripts.report --data '$(DATA)'

bench: setup
	$(PY) -m benchmarks.run

# LANGUAGES=en,de,...: a model per language (default: the languages the CommonCrawl job keeps).
lm: setup
	$(PY) -m sources.commoncrawl.lm --data '$(DATA)' $(if $(LANGUAGES),--languages '$(LANGUAGES)') $(BEAM_ARGS)

# NEGATIVES=<WET files or folder>: random pages of another segment than the one the job filters (the paper's
# "randomly sampled pages"; default: the crawl itself).
classifier: setup
	$(PY) -m sources.commoncrawl.classifier --data '$(DATA)' $(if $(NEGATIVES),--negatives '$(NEGATIVES)') $(BEAM_ARGS)

clean-data:
	rm -rf '$(DATA)/clean' '$(DATA)/rejected' '$(DATA)/errors' '$(DATA)/tokens' '$(DATA)/tokenizer'
