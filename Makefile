# perflab — two commands: `make lab` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# CI pins; a GPU machine may set TORCH_SPEC= (empty) to keep the torch/triton it already has.
TORCH_SPEC ?= torch==2.13.0 triton==3.7.1
EXTRAS ?= lab,dev
PORT   ?= 8888
OUT    ?= workbook-out
WHEELS ?= wheelhouse
CHROMIUM ?= /usr/bin/chromium

.PHONY: lab test test-browser test-units workbook wheelhouse doctor clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(if $(strip $(TORCH_SPEC)),$(PY) -m pip install -q $(TORCH_SPEC))
	$(PY) -m pip install -q -e ".[$(EXTRAS)]"
	touch $@

## make lab: JupyterLab on your own copy of the workbook (my-notebooks/), on 127.0.0.1 only, with a token
lab: $(VENV)/.installed
	$(PY) -m perflab.serve --port $(PORT)

## make test: everything CI runs (unit + lab correctness tests, then every notebook on this tier)
test: $(VENV)/.installed
	$(PY) -m pytest -q --timeout=900 --ignore=tests/browser tests
	$(PY) -m pytest -q --doctest-modules perflab labs
	PERFLAB_HEADLESS=1 $(PY) -m pytest -q --timeout=900 --nbval-lax --nbval-cell-timeout=600 -p no:randomly notebooks
	$(MAKE) test-browser

## make test-browser: JupyterLab driven by Playwright in Debian's chromium (installed here if missing)
test-browser: $(VENV)/.installed
	@test -x $(CHROMIUM) || { apt-get update -qq && apt-get install -y -qq chromium fonts-noto-color-emoji; } \
	  || echo "could not install chromium (needs root and apt): the browser test will skip"
	@fc-list :lang=zh | grep -q . || apt-get install -y -qq fonts-noto-cjk \
	  || echo "could not install fonts-noto-cjk: the Chinese chapter titles will render as boxes"
	PERFLAB_CHROMIUM=$(CHROMIUM) $(PY) -m pytest -q --timeout=900 tests/browser

test-units: $(VENV)/.installed
	$(PY) -m pytest -q --ignore=tests/browser tests

## make workbook OUT=dir: execute every notebook headless on this machine's tier
workbook: $(VENV)/.installed
	$(PY) -m perflab.workbook --out $(OUT) --verbose

## make wheelhouse: wheels for an offline GPU machine (CPython 3.12, x86-64, its torch kept)
wheelhouse:
	$(PYTHON) -m pip download -q --only-binary=:all: --python-version 3.12 --implementation cp \
	  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
	  --platform any -d $(WHEELS) nbval nbclient nbformat ipykernel jupyter_client ipywidgets plotly tqdm pytest-timeout
	@echo "copy $(WHEELS)/ to the GPU machine, then: pip install --no-index --find-links $(WHEELS) -e . --no-deps"

doctor: $(VENV)/.installed
	$(VENV)/bin/perflab doctor

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache
