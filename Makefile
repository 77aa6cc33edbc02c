# LevelSet Studio: `make run` starts the app, `make test` runs every test.
# Both set everything up on a fresh Debian-like machine (system packages, .venv).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# torch is installed first and pinned so that no other package can swap it for a
# several-GB CUDA build. For a GPU, install a CUDA build of the same version first
# (see README, "GPU").
TORCH_VERSION ?= 2.13.0
TIME_BUDGET ?= 60

.PHONY: setup system-deps run test test-fast lint typecheck-tree bench clean-venv

setup: system-deps $(STAMP)

system-deps:
	@bash packaging/install-system-deps.sh

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "torch==$(TORCH_VERSION)"
	echo "torch==$(TORCH_VERSION)" > $(VENV)/constraints.txt
	$(BIN)/python -m pip install -q -c $(VENV)/constraints.txt -e ".[test,lint,cluster]"
	# torchattacks' declared dependencies pull a torchvision that breaks torch: --no-deps.
	$(BIN)/python -m pip install -q --no-deps "torchattacks==3.5.1"
	touch $(STAMP)

run: setup
	@if [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ]; then \
		$(BIN)/levelset gui; \
	else \
		echo "No display: reconstructing the bundled sample headless."; \
		mkdir -p out && $(BIN)/levelset reconstruct resources/sample_scan.ply -o out/sample_mesh.ply --time-budget $(TIME_BUDGET) && \
		$(BIN)/levelset evaluate out/sample_mesh.ply --scan resources/sample_scan.ply; \
	fi

# The whole suite, as CI runs it: the linters first, then every test.
test: setup lint
	$(BIN)/python -m pytest -q

# Everything not marked slow: a quick check while working (under 2 minutes).
test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow"

# ruff (lint + format), mypy on the core package, and the import contracts of pyproject.toml.
lint: setup typecheck-tree
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# mypy cannot follow the editable install's import hook: it reads the package through
# links named as installed (build/typecheck/levelset_studio/{core,app,resources}).
typecheck-tree:
	@mkdir -p build/typecheck/levelset_studio
	@for d in core app resources; do ln -sfn ../../../$$d build/typecheck/levelset_studio/$$d; done

bench: setup
	$(BIN)/python bench/reconstruction.py
	$(BIN)/python bench/robustness.py

clean-venv:
	rm -rf $(VENV)
