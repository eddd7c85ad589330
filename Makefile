# Two commands on a fresh machine:  `make demo` (the main job)  and  `make test` (the suite).
# Both create .venv and install everything first. GPU users: set TORCH to their CUDA build, e.g.
#   make demo TORCH="torch --index-url https://download.pytorch.org/whl/cu128"
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
DEMO ?= outputs/demo
BIN := $(VENV)/bin

.PHONY: setup demo test lint weights weights-embedded clean

setup: $(VENV)/.installed

$(VENV)/.installed: setup.py requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e '.[tools,test,ros,lint]'
	touch $@

demo: setup
	bash scripts/main_job.sh $(DEMO)

lint: setup  # what CI checks before the tests: ruff's lint and format rules (pyproject.toml)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: setup  # the real-ROS tests must run here, not skip: a missing rclpy fails them
	DERAIN_SEG_REQUIRE_ROS=1 $(BIN)/python -m pytest -q test

weights: setup  # retrain the default streets model from scratch (about 3.7 hours on 2 CPU cores; needs CamVid and the dash-cam videos: CAMVID=DIR REALDRIVE=DIR), see models/MODEL_CARD.md
	VENV=$(VENV) bash scripts/make_weights.sh

weights-embedded: setup  # retrain the procedural-scene model (about an hour on 2 CPU cores), see models/MODEL_CARD_embedded.md
	VENV=$(VENV) bash scripts/make_weights_embedded.sh

clean:
	rm -rf $(VENV) outputs
