# licodec: `make demo` installs and codes a Kodak image; `make test` runs the test suite.
# torch is installed first and pinned: an unpinned torch may pull a multi-GB CUDA build.
PYTHON     ?= python3
VENV       ?= .venv
TEST_VENV  ?= .venv-test
TORCH      ?= 2.13.0
TEST_TORCH ?= torch==$(TORCH)
# The torch step reads PyTorch's CPU wheel index: for Linux, PyPI's torch is the CUDA build (16
# nvidia packages and triton, several GB) that a CPU codec never uses; the CPU index has the same
# version without them, for Linux and macOS. Where it cannot be reached, pip's own indexes and
# links still serve (after its retries). TORCH_INDEX= (empty) installs torch from pip's index alone.
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
TORCH_PIP   = $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
# compressai (checked against in the tests) goes in without its dependencies: they include
# torchvision, which pins a torch that PyPI serves as a CUDA build (3 GB of nvidia libraries).
# Its models need only these (licodec/compressai_compat.py stands in for torchvision).
COMPRESSAI      ?= compressai==1.2.8
COMPRESSAI_DEPS ?= einops pandas scipy torch-geometric requests
SHARED     ?= ../shared
# Kodak image 23, shipped in the repository (Kodak released the set for unrestricted use).
IMAGE      ?= data/kodim23.png
QUALITY    ?= 4
OUT        ?= demo-out
MANDIR     ?= $(HOME)/.local/share/man/man1
BINDIR     ?= $(HOME)/.local/bin

.PHONY: install demo test sweep eval eval-wikipedia eval-effort bench bench-train check-determinism remeasure-student readme man clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q torch==$(TORCH) $(TORCH_PIP)
	$(VENV)/bin/pip install -q -e .
	touch $@

# The package in .venv; `licodec` on PATH through a link in BINDIR (an existing licodec there
# that is not this one is left alone); the man pages (licodec(1), one per subcommand) in MANDIR,
# where man(1) looks for the commands in BINDIR.
install: $(VENV)/.installed
	mkdir -p $(MANDIR) $(BINDIR)
	cp man/*.1 $(MANDIR)/
	@if [ -e $(BINDIR)/licodec ] && [ "$$(readlink $(BINDIR)/licodec)" != "$(abspath $(VENV))/bin/licodec" ]; then \
		echo "licodec: $(BINDIR)/licodec exists and is another licodec: left as it is"; \
	else ln -sfn $(abspath $(VENV))/bin/licodec $(BINDIR)/licodec; fi
	@case ":$$PATH:" in *":$(BINDIR):"*) ;; *) echo "licodec: $(BINDIR) is not on PATH: add it, e.g." \
		"echo 'export PATH=\"$(BINDIR):\$$PATH\"' >> ~/.bashrc, then open a new shell";; esac

demo: install
	mkdir -p $(OUT)
	$(VENV)/bin/licodec encode $(IMAGE) -o $(OUT)/demo.lic -q $(QUALITY) --force
	$(VENV)/bin/licodec decode $(OUT)/demo.lic -o $(OUT)/demo.png --force
	$(VENV)/bin/licodec info $(OUT)/demo.lic
	$(VENV)/bin/licodec compare $(IMAGE) $(OUT)/demo.png

$(TEST_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(TEST_VENV)
	$(TEST_VENV)/bin/pip install -q $(TEST_TORCH) $(TORCH_PIP)
	$(TEST_VENV)/bin/pip install -q -e '.[test,eval]' $(COMPRESSAI_DEPS)
	$(TEST_VENV)/bin/pip install -q --no-deps $(COMPRESSAI)
	touch $@

# One pytest worker per usable core (TEST_WORKERS=0 runs in one process), a test file per
# worker at a time, so a module's fixtures (the wheel, the shipped models) are built once.
TEST_WORKERS ?= auto
test: $(TEST_VENV)/.installed
	LICODEC_SHARED=$(SHARED) $(TEST_VENV)/bin/python -m pytest -q -rs -n $(TEST_WORKERS) --dist loadfile

# The full round-trip sweep: every Kodak image at q = 1, 4, 8 with both shipped models
# (SWEEP_MODELS="--model student" re-sweeps one model and keeps the other's rows).
SWEEP_MODELS ?= --model student --model teacher
sweep: install
	$(VENV)/bin/python -m licodec.checks.roundtrip $(SHARED)/data/kodak -o results/roundtrip $(SWEEP_MODELS)

# RD on Kodak (real files) for the shipped models and the baselines, against the published
# anchors; resumable (results/kodak/cache). Then README's results section is regenerated.
eval: $(TEST_VENV)/.installed
	rm -f results/kodak/COMMAND
	$(TEST_VENV)/bin/licodec eval $(SHARED)/data/kodak --anchors $(SHARED)/anchors/kodak -j 2 -o results/kodak
	$(MAKE) readme

# RD on the wikipedia photos (larger, recent photos; no published anchors): the student against
# the baselines users would reach for, BD-rates against AVIF.
eval-wikipedia: $(TEST_VENV)/.installed
	rm -f results/wikipedia/COMMAND
	$(TEST_VENV)/bin/licodec eval $(SHARED)/data/wikipedia-photos --model student --baselines jpeg,webp,avif,jxl \
		--reference avif -j 2 -o results/wikipedia

# Encoder effort on Kodak: the student at efforts 0 (this machine's single pass) to 3 against
# VTM, then results/effort/kodak/effort.md (saving per effort, encode seconds); resumable.
EFFORTS ?= 0,1,2,3
eval-effort: $(TEST_VENV)/.installed
	$(TEST_VENV)/bin/licodec eval $(SHARED)/data/kodak --model student --effort $(EFFORTS) --baselines '' \
		--anchors $(SHARED)/anchors/kodak --anchor vtm -o results/effort/kodak
	$(TEST_VENV)/bin/python -m licodec.evaluation.effort_table results/effort/kodak
	$(MAKE) readme

# Speed, size and memory: ours, the FEDS paper sizes, CompressAI's architectures, the baselines;
# then the student on a 12-megapixel upscale of the same image. Cold starts (and their memory)
# run the user's install (.venv, CPU torch), not the test venv's larger torch build.
bench: $(TEST_VENV)/.installed $(VENV)/.installed
	rm -f results/bench/COMMAND
	$(TEST_VENV)/bin/licodec bench --image $(IMAGE) --cli-python $(VENV)/bin/python -o results/bench
	$(TEST_VENV)/bin/licodec bench --image $(IMAGE) --model student --sizes 4000x3000 --threads 2 --repeats 1 \
		--baselines '' --compressai '' --cli-python $(VENV)/bin/python -o results/bench-12mp
	$(MAKE) readme

# Training speed: crops/s and TFLOP/s of the real training step, float32 against bfloat16, eager
# against compiled, 1 process × 2 threads against 2 × 1 (the teacher eager only: compiling it
# costs minutes per case, and compiling gained nothing for the student on this CPU).
bench-train: install
	$(VENV)/bin/python -m licodec.evaluation.train_bench --data $(SHARED)/data/train --arch student \
		--profile -o results/training-speed
	$(VENV)/bin/python -m licodec.evaluation.train_bench --data $(SHARED)/data/train --arch teacher --mode eager \
		-o results/training-speed --append

# Every Kodak image × q 1..8 encoded under one set of kernels (threads, oneDNN, layout, float64,
# CUDA where present) and decoded under another: the decoder's parameters must be the encoder's.
# EFFORT=E checks files of encoder effort E instead (3 images × q 1..8: refinement takes seconds per file).
EFFORT ?= 0
check-determinism: $(TEST_VENV)/.installed
ifeq ($(EFFORT),0)
	$(TEST_VENV)/bin/python -m licodec.checks.determinism $(SHARED)/data/kodak --model student \
		-o results/determinism/kodak-student.json
else
	$(TEST_VENV)/bin/python -m licodec.checks.determinism $(SHARED)/data/kodak --model student --effort $(EFFORT) \
		--images 3 -o results/determinism/kodak-student-effort$(EFFORT).json
endif

# After a new student ships: the measurements of it that fit a session (20 minutes on 2 Xeon cores):
# RD on Kodak and the wikipedia photos (g_a/g_s in float32 like the reused rows, even where AMX would
# pick bfloat16), its rows of the sweep, the determinism check. The encoder-effort results take hours;
# README marks them as the earlier file's until `make eval-effort` runs again.
remeasure-student:
	LICODEC_PRECISION=float32 $(MAKE) eval
	LICODEC_PRECISION=float32 $(MAKE) eval-wikipedia
	$(MAKE) sweep SWEEP_MODELS="--model student"
	$(MAKE) check-determinism
	$(MAKE) readme

# The subcommands' man pages, from their click definitions (tests check they are current).
man: $(TEST_VENV)/.installed
	$(TEST_VENV)/bin/python -m licodec.manpages man/

readme: $(TEST_VENV)/.installed
	$(TEST_VENV)/bin/python -m licodec.evaluation.readme README.md results

clean:
	rm -rf $(VENV) $(TEST_VENV) $(OUT) .pytest_cache
