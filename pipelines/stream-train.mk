# Streaming IVF training (LanceStream as Unix tools), then the quantizers:
#   sample -> chunked coresets (in parallel under make -j) -> merge ->
#   vkmeans -> refine passes -> vloss report, .npy export, plots;
#   PQ: a sample of 256 x 2^NBITS rows -> vpq on residuals against the IVF
#   centroids; SQ: a sample of 65,536 rows -> vsqbounds.
#
#   make -f pipelines/stream-train.mk DATA=data.vt K=1024 OUT=out/ivf \
#        [SAMPLE_RATE=256] [STREAM_RATE=64] [CORESET_RATE=16] \
#        [REFINE_PASSES=1] [SEED=1] [METRIC=l2] [J=1] [BIN=build/bin] \
#        [PQ_M=16] [NBITS=8] [SQ_MODE=dim] [all|ivf|pq|sq|plots|clean]
#
# DATA is any file vcat reads (.vt, .npy, .fvecs, .fbin, ...).  The sample
# holds m = min(n, K x SAMPLE_RATE) rows; it is cut into chunks of
# K x STREAM_RATE rows, and each chunk becomes a coreset of its share of
# K x CORESET_RATE weighted points.  Chunks are separate targets, so
# `make -j N` runs N of them at once (memory: N chunks); J is the threads
# each program uses.  The result is the same bytes for any -j and J.
# `all` (the default) leaves the three models OUT/ivf.vt, OUT/pq.vt and
# OUT/sq.vt with their .npy exports (docs/INTEROP.md), OUT/report.txt and
# the logs; `ivf`, `pq` and `sq` make one model (pq needs ivf); `plots`
# adds OUT/sizes.png and OUT/loss.png.  PQ_M must divide the dimension.
# METRIC=cosine normalises the sample's rows and trains cosine models;
# METRIC=dot trains inner-product models (spherical k-means: unit-norm IVF
# centroids, a row in the partition of the largest <x, c>).  The metric is
# recorded in each model, and every later step uses it.
# BIN defaults to build/bin beside this makefile, wherever make runs (or,
# installed by `cmake --install`, to the prefix's bin).
#
# Each output also depends on the parameters that made it: OUT/.params/NAME
# holds them and is rewritten only when they change, so a rerun into the
# same OUT with another K, SEED, PQ_M, ... rebuilds exactly the outputs that
# depend on what changed, and never serves a stale model.  J and make's -j
# change no byte, so they rebuild nothing.  `make clean OUT=...` needs only
# OUT.  A failing step prints its own error (and keeps its log in OUT).

SHELL := bash
.SHELLFLAGS := -o pipefail -ec
.DELETE_ON_ERROR:

HERE := $(dir $(abspath $(lastword $(MAKEFILE_LIST))))
# the build tree's programs, else (installed under PREFIX/share/vtrain/
# pipelines) PREFIX/bin
BIN ?= $(or $(wildcard $(HERE)../build/bin),$(abspath $(HERE)../../../bin))
OUT ?= out/stream-train
SAMPLE_RATE ?= 256
STREAM_RATE ?= 64
CORESET_RATE ?= 16
REFINE_PASSES ?= 1
SEED ?= 1
J ?= 1
PQ_M ?= 16
NBITS ?= 8
SQ_MODE ?= dim
METRIC ?= l2
PLOT ?= $(HERE)plot.sh

# Every goal but clean needs DATA and K, and reads the data's row count.
ifneq ($(filter-out clean,$(or $(MAKECMDGOALS),all)),)
ifeq ($(strip $(DATA)),)
$(error DATA= is required: the vectors to train on)
endif
ifeq ($(strip $(K)),)
$(error K= is required: the number of IVF centroids)
endif
ifeq ($(filter l2 cosine dot,$(METRIC)),)
$(error METRIC=$(METRIC): expected l2, cosine or dot)
endif

# Sizes, from the data's row count (read once, when make starts).
N := $(shell $(BIN)/vcat --count '$(DATA)')
ifeq ($(strip $(N)),)
$(error cannot count the rows of $(DATA))
endif
M := $(shell n=$(N) m=$$(( $(K) * $(SAMPLE_RATE) )); echo $$(( n < m ? n : m )))
C := $(shell echo $$(( $(K) * $(STREAM_RATE) )))
NCHUNK := $(shell echo $$(( ($(M) + $(C) - 1) / $(C) )))
CHUNKS := $(shell seq 0 $$(( $(NCHUNK) - 1 )))
CORESETS := $(foreach i,$(CHUNKS),$(OUT)/coreset-$(i).vt)
LAST := $(OUT)/ivf-$(REFINE_PASSES).vt

# stamp NAME,VALUE: the path of OUT/.params/NAME, rewritten (made newer than
# its dependants) only when VALUE differs from what it holds.
stamp = $(shell mkdir -p '$(OUT)/.params' && f='$(OUT)/.params/$(1)' && v='$(2)' && \
	{ [ -f "$$f" ] && [ "$$(cat "$$f")" = "$$v" ] || printf '%s\n' "$$v" >"$$f"; } && echo "$$f")
DATA_ID := $(abspath $(DATA)) n=$(N)
P_SAMPLE := $(call stamp,sample,$(DATA_ID) k=$(K) sample_rate=$(SAMPLE_RATE) seed=$(SEED) metric=$(METRIC))
P_CORESET := $(call stamp,coreset,k=$(K) stream_rate=$(STREAM_RATE) coreset_rate=$(CORESET_RATE) seed=$(SEED))
P_KMEANS := $(call stamp,kmeans,k=$(K) seed=$(SEED) metric=$(METRIC))
P_REFINE := $(call stamp,refine,metric=$(METRIC))
P_IVF := $(call stamp,ivf,refine_passes=$(REFINE_PASSES))
P_PQSAMPLE := $(call stamp,pq-sample,$(DATA_ID) nbits=$(NBITS) seed=$(SEED) metric=$(METRIC))
P_PQ := $(call stamp,pq,m=$(PQ_M) nbits=$(NBITS) seed=$(SEED) metric=$(METRIC))
P_SQSAMPLE := $(call stamp,sq-sample,$(DATA_ID) seed=$(SEED) metric=$(METRIC))
P_SQ := $(call stamp,sq,mode=$(SQ_MODE) metric=$(METRIC))
P_REPORT := $(call stamp,report,$(DATA) $(N) $(M) $(K) $(STREAM_RATE) $(CORESET_RATE) $(REFINE_PASSES) $(SEED) $(METRIC))
endif

.PHONY: all ivf pq sq plots clean
all: ivf pq sq
ivf: $(OUT)/ivf.vt $(OUT)/ivf.npy $(OUT)/report.txt
pq: $(OUT)/pq.vt $(OUT)/pq.npy
sq: $(OUT)/sq.vt $(OUT)/sq.npy

$(OUT):
	mkdir -p $@

$(OUT)/sample.vt: $(DATA) $(P_SAMPLE) | $(OUT)
	$(BIN)/vsample -q -k $(K) --sample-rate $(SAMPLE_RATE) --seed $(SEED) --total $(N) \
		--metric=$(METRIC) -o $@ '$(DATA)'

# Chunk i: rows [i C, (i+1) C) of the sample; the coreset budget is shared by
# all chunks (vcoreset reads the sample size from vsample's metadata).
$(OUT)/coreset-%.vt: $(OUT)/sample.vt $(P_CORESET)
	$(BIN)/vcat --rows $$(( $* * $(C) )):$$(( ($* + 1) * $(C) )) $< | \
	$(BIN)/vcoreset -q -k $(K) --stream-rate $(STREAM_RATE) --coreset-rate $(CORESET_RATE) \
		--first-chunk $* --seed $(SEED) -j $(J) -o $@

$(OUT)/coreset.vt: $(CORESETS)
	$(BIN)/vmerge -o $@ $^

$(OUT)/ivf-0.vt: $(OUT)/coreset.vt $(P_KMEANS)
	$(BIN)/vkmeans -v -k $(K) --seed $(SEED) --metric=$(METRIC) -j $(J) -o $@ $< \
		2>$(OUT)/vkmeans.log || { grep -v '^vkmeans: iter ' $(OUT)/vkmeans.log >&2; exit 1; }

# Refine pass p: one Lloyd pass of the sample against pass p-1's centroids.
define refine_rule
$(OUT)/ivf-$(1).vt: $(OUT)/ivf-$(shell echo $$(( $(1) - 1 ))).vt $(OUT)/sample.vt $(P_REFINE)
	$(BIN)/vrefine -c $$< --metric=$(METRIC) -j $(J) -o $$@ $(OUT)/sample.vt \
		2>$(OUT)/refine-$(1).log || { cat $(OUT)/refine-$(1).log >&2; exit 1; }
endef
$(foreach p,$(shell seq 1 $(REFINE_PASSES)),$(eval $(call refine_rule,$(p))))

# The model, and refine.log: the logs of this model's passes, in order.
$(OUT)/ivf.vt: $(LAST) $(P_IVF)
	cat /dev/null $(foreach p,$(shell seq 1 $(REFINE_PASSES)),$(OUT)/refine-$(p).log) >$(OUT)/refine.log
	cp $< $@

$(OUT)/%.npy: $(OUT)/%.vt
	$(BIN)/vcat --to npy -o $@ $<

# PQ: its own fixed sample (vsample --for pq), residuals against the model.
$(OUT)/pq-sample.vt: $(DATA) $(P_PQSAMPLE) | $(OUT)
	$(BIN)/vsample -q --for pq --nbits $(NBITS) --seed $(SEED) --total $(N) \
		--metric=$(METRIC) -o $@ '$(DATA)'

$(OUT)/pq.vt: $(OUT)/ivf.vt $(OUT)/pq-sample.vt $(P_PQ)
	$(BIN)/vpq -v -c $(OUT)/ivf.vt --metric=$(METRIC) -m $(PQ_M) --nbits $(NBITS) --seed $(SEED) -j $(J) \
		-o $@ $(OUT)/pq-sample.vt 2>$(OUT)/vpq.log || { cat $(OUT)/vpq.log >&2; exit 1; }

# SQ: bounds over a fixed sample of 65,536 rows, as Lance takes them.
$(OUT)/sq-sample.vt: $(DATA) $(P_SQSAMPLE) | $(OUT)
	$(BIN)/vsample -q --for sq --seed $(SEED) --total $(N) --metric=$(METRIC) -o $@ '$(DATA)'

$(OUT)/sq.vt: $(OUT)/sq-sample.vt $(P_SQ)
	$(BIN)/vsqbounds -q --mode $(SQ_MODE) --metric=$(METRIC) -o $@ $<

$(OUT)/report.txt: $(OUT)/ivf.vt $(OUT)/sample.vt $(P_REPORT)
	{ echo "data=$(DATA) n=$(N) m=$(M) k=$(K) chunks=$(NCHUNK) chunk_rows=$(C)" \
	       "coreset_rate=$(CORESET_RATE) refine_passes=$(REFINE_PASSES) seed=$(SEED)"; \
	  $(BIN)/vloss -c $< --metric=$(METRIC) -j $(J) $(OUT)/sample.vt; } >$@
	cat $@

plots: $(OUT)/ivf.vt $(OUT)/report.txt
	BIN=$(BIN) $(PLOT) $(OUT)

clean:
	rm -rf '$(OUT)'
