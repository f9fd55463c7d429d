# The README's two commands: `make demo` (embedded model, no key) and `make test`.
# Each creates its own virtualenv in .venv on first use.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test lint unit e2e clean llama-server

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (agentinstruct needs Python 3.11)"; exit 2; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# llama-cpp-python compiles from source the first time (about 13 minutes on 2 cores); pip caches the wheel.
	$(PY) -m pip install --quiet -e '.[local,ray,dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m teams.cli run reading_comprehension --seeds examples/seeds --max-seeds 2 --config examples/demo.yaml --run-id demo-$$(date +%Y%m%d-%H%M%S); \
	  code=$$?; [ $$code -eq 0 ] || [ $$code -eq 3 ]   # 3: done, with some seeds failed (counted in run.json)
	$(PY) -m teams.cli runs list

lint: $(STAMP)
	$(VENV)/bin/ruff check agents teams retrieval taxonomies tests bench
	$(VENV)/bin/mypy

unit: $(STAMP)
	$(PY) -m pytest -q -m "not e2e"

e2e: $(STAMP)
	$(PY) -m pytest -q -m e2e

test: lint $(STAMP) llama-server
	@# the viewer's test opens it in headless Chromium (Debian's package); as root, install it when missing
	command -v chromium >/dev/null || [ "$$(id -u)" != 0 ] || { apt-get update -qq && apt-get install -y -qq chromium; }
	$(PY) -m pytest -q

# llama.cpp's server from the installed llama-cpp-python's sources, for the real-server tests (cached in .cache/)
llama-server: $(STAMP)
	.ci/build-llama-server $(PY)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
