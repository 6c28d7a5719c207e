# `make test` works on a fresh clone: it builds .venv from the pinned requirements first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE_STAMP := tests/js/node_modules/.installed

.PHONY: setup test lint bench clean flash deploy

$(STAMP): requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-build-isolation --no-deps -e .
	touch $@

# lora-packet, the independent LoRaWAN implementation the tests check our frames against,
# pinned by tests/js/package-lock.json.
$(NODE_STAMP): tests/js/package.json tests/js/package-lock.json
	npm ci --prefix tests/js --no-audit --no-fund --loglevel=error
	touch $@

setup: $(STAMP) $(NODE_STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint $(NODE_STAMP)
	$(BIN)/pytest -n 2

bench: $(STAMP) $(NODE_STAMP)
	$(BIN)/python -m bench

# make flash BOARD=heltec_v3 PORT=/dev/ttyUSB0 [FIRMWARE=file.bin]
flash: $(STAMP)
	$(BIN)/akker flash --board $(BOARD) --port $(PORT) $(if $(FIRMWARE),--firmware $(FIRMWARE))

# make deploy BOARD=heltec_v3 PORT=/dev/ttyUSB0 CONFIG=nodes/north-3/config.json
deploy: $(STAMP)
	$(BIN)/akker deploy --board $(BOARD) --port $(PORT) --config $(CONFIG)

clean:
	rm -rf $(VENV) tests/js/node_modules .pytest_cache .ruff_cache .hypothesis
