# Two entry points: `make run` (Picket on embedded defaults) and `make test` (the whole suite).
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test install install-test kafka

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install -q -e .

install-test: $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'

kafka:
	bash deploy/kafka/kafka.sh fetch >/dev/null

run: install
	$(BIN)/picket run

test: install-test kafka
	$(BIN)/python -m pytest tests
