# Thin verbs; each one creates the environment first if it is missing or out of date.
#   make figures   run every notebook (profile cpu) -> figures/, notebooks/*.ipynb, figures/RESULTS.md
#   make test      the test suite (unit, claims, notebook smoke runs)
# Options: PROFILE=smoke|cpu|full  JOBS=N  NB="01 02"  GPU=1 (installs jax[cuda12]==0.5.3)
PYTHON ?= python3.11
VENV   ?= .venv
PROFILE ?= cpu
JOBS   ?= 1
NB     ?=
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.ntkpaper-installed

.PHONY: env figures smoke test lint sync data clean

env: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --no-deps -r requirements.lock
	$(PY) -m pip install --quiet --no-deps neural-tangents==0.6.5
	$(PY) -m pip install --quiet --no-deps -e .
	@if [ "$(GPU)" = "1" ]; then $(PY) -m pip install --quiet "jax[cuda12]==0.5.3"; fi
	$(PY) -c "import ntkpaper.nt as nt; print('environment ok:', nt.versions())"
	@touch $@

data: env
	$(PY) -m ntkpaper data

figures: data
	$(PY) -m ntkpaper run $(NB) --profile $(PROFILE) --jobs $(JOBS)

smoke: env
	$(PY) -m ntkpaper run $(NB) --profile smoke --jobs $(JOBS)

test: env
	$(PY) -m pytest

lint: env
	$(PY) -m ruff check ntkpaper tests notebooks/*.py benchmarks

sync: env
	$(VENV)/bin/jupytext --sync notebooks/*.py

clean:
	rm -rf build .pytest_cache .ruff_cache
