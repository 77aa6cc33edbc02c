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

.PHONY: setup system-deps run test bench clean-venv

setup: system-deps $(STAMP)

system-deps:
	@bash packaging/install-system-deps.sh

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "torch==$(TORCH_VERSION)"
	echo "torch==$(TORCH_VERSION)" > $(VENV)/constraints.txt
	$(BIN)/python -m pip install -q -c $(VENV)/constraints.txt -e ".[test]"
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

test: setup
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python bench/reconstruction.py
	$(BIN)/python bench/robustness.py

clean-venv:
	rm -rf $(VENV)
