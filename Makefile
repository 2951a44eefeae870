# Thin verbs; each one creates the environment first if it is missing or out of date.
#   make figures   run every notebook (profile cpu) -> figures/cpu/, notebooks/*.ipynb, RESULTS.md
#   make test      ruff, then the test suite (unit, claims, notebook smoke runs)
#   make lab       JupyterLab on the project environment (notebooks/*.py open as notebooks)
#   make docs      the API reference from the docstrings -> build/docs/index.html (pdoc)
# Options: PROFILE=smoke|cpu|full  JOBS=N  NB="01 02"  PLAN=1 (print the run's sizes and estimates)
#          JAX=latest   a second environment (.venv-latest) with the newest jax on the index
#          GPU=1        add the CUDA build of the environment's jax (CUDA=13 by default, or 12)
#          PYTHON=...   a Python 3.12 (default: found by tools/find_python.sh)
# found on first use only (and once): `make clean` needs no Python
PYTHON ?= $(eval PYTHON := $(shell tools/find_python.sh))$(PYTHON)
JAX    ?= lock
ifeq ($(JAX),latest)
VENV   ?= .venv-latest
# the newest jax may be newer than the range ntkpaper.nt has been tested on: that is the point
export NTKPAPER_UNSUPPORTED_JAX = 1
else
VENV   ?= .venv
endif
PROFILE ?= cpu
JOBS   ?= 1
NB     ?=
CUDA   ?= 13
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.ntkpaper-installed
GPU_STAMP = $(VENV)/.ntkpaper-gpu-cuda$(CUDA)
WHEELHOUSE ?= build/wheelhouse

.PHONY: env figures smoke test lint sync data lab docs wheelhouse clean

env: $(STAMP) $(if $(filter 1,$(GPU)),$(GPU_STAMP))
	@$(PY) -c "import ntkpaper.nt as nt; print('environment ok:', nt.versions())"

$(STAMP): requirements.lock pyproject.toml
	@test -n "$(PYTHON)" || exit 1  # tools/find_python.sh said what to install
	@test -x $(PY) || $(PYTHON) -c "import sys; sys.exit(sys.version_info[:2] != (3, 12))" \
	  || { echo "error: PYTHON=$(PYTHON) is not Python 3.12; see tools/find_python.sh"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -c "import sys; assert sys.version_info[:2] == (3, 12), \
	  f'$(VENV) has Python {sys.version.split()[0]}; ntkpaper needs 3.12: rm -r $(VENV)'"
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --no-deps -r requirements.lock
	$(PY) -m pip install --quiet --no-deps neural-tangents==0.6.5
	$(PY) -m pip install --quiet --no-deps -e .
ifeq ($(JAX),latest)
	$(PY) -m pip install --quiet --upgrade jax jaxlib
endif
	@touch $@

# The CUDA plugin of the jax the environment has (works on an existing environment too); the
# plugin of the other CUDA major version is removed, so that jax finds one.
OTHER_CUDA = $(if $(filter 12,$(CUDA)),13,12)
$(GPU_STAMP): $(STAMP)
	$(PY) -m pip uninstall --quiet --yes jax-cuda$(OTHER_CUDA)-plugin jax-cuda$(OTHER_CUDA)-pjrt
	$(PY) -m pip install --quiet "jax[cuda$(CUDA)]==$$($(PY) -c 'import jax; print(jax.__version__)')"
	@rm -f $(VENV)/.ntkpaper-gpu-cuda$(OTHER_CUDA)
	@touch $@

data: env
	$(PY) -m ntkpaper data

figures: $(if $(filter 1,$(PLAN)),env,data)
	$(PY) -m ntkpaper run $(NB) --profile $(PROFILE) --jobs $(JOBS) $(if $(filter 1,$(PLAN)),--plan)

smoke: env
	$(PY) -m ntkpaper run $(NB) --profile smoke --jobs $(JOBS)

test: env
	$(PY) -m ruff check ntkpaper tests notebooks/*.py benchmarks tools
	$(PY) -m pytest

lint: env
	$(PY) -m ruff check ntkpaper tests notebooks/*.py benchmarks tools

# The API reference (pdoc, reStructuredText roles become links); tests/test_docs.py checks that
# every cross-reference resolves. Not committed: build/ is ignored.
docs: env
	rm -rf build/docs
	$(PY) -m pdoc --docformat restructuredtext --no-show-source -o build/docs ntkpaper '!ntkpaper.__main__'
	@echo "API reference: build/docs/index.html"

sync: env
	$(VENV)/bin/jupytext --sync notebooks/[0-9][0-9]_*.py

# Runs started from JupyterLab write to build/scratch/, never over the committed figures.
lab: env
	JUPYTER_PATH=$(abspath $(VENV))/share/jupyter$(if $(JUPYTER_PATH),:$(JUPYTER_PATH)) \
	$(VENV)/bin/jupyter lab --ServerApp.root_dir=. --LabApp.default_url=/lab/tree/notebooks \
	  $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

# Wheels for a GPU machine that has Python 3.12 and jax preinstalled but no package index
# (see README, "On a GPU"): everything the lock needs beyond HAVE, a list of what is there
# (default tools/gpu_have.txt); WITHOUT="gensim" leaves packages out to make room for data.
wheelhouse:
	@test -n "$(PYTHON)" || exit 1
	$(PYTHON) tools/wheelhouse.py --out $(WHEELHOUSE) $(if $(HAVE),--have $(HAVE)) \
	  $(foreach w,$(WITHOUT),--without $(w))

clean:
	rm -rf build .pytest_cache .ruff_cache
