"""VisionAgent: ask a vision model about images, with the answer held to a signature like any other agent.

    agent = VisionAgent(VisionAgentConfig(llm_provider="ollama", model="llava"))
    r = agent.analyze(image="receipt.jpg", question="What is the total amount?")
    r["answer"], r.images[0].sent_size

Images travel as OpenAI-style multi-part user messages; litellm translates them for Anthropic (``image`` blocks),
Gemini (``inline_data`` parts) and Ollama (the message's ``images`` list). A model that cannot see is never used
silently: with no vision-capable provider configured, ``analyze`` raises a ConfigurationError saying what to do.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from .._sync import run_sync
from ..agents.base import BaseAgent
from ..agents.result import AgentResult
from ..exceptions import ConfigurationError
from ..llm._types import Completion, LLMRequest, Message
from ..llm.base import Provider
from ..llm.client import LLM
from ..prompting import format_inputs
from ..signatures import InputField, OutputField, Signature
from .images import DEFAULT_MAX_BYTES, DEFAULT_MAX_SIDE, PreparedImage, prepare_image

__all__ = [
    "ImageQuestion",
    "VisionAgent",
    "VisionAgentConfig",
    "VisionResult",
    "vision_support",
]

# A default vision model per provider (the providers' own defaults may be text-only).
VISION_DEFAULTS: dict[str, str] = {
    "openai": "gpt-4o-mini",
    "azure": "gpt-4o-mini",
    "anthropic": "claude-sonnet-4-5",
    "google": "gemini-2.0-flash",
    "gemini": "gemini-2.0-flash",
    "ollama": "llava",
}
# Providers whose APIs fetch http(s) image URLs themselves; for the others we download and inline the image.
_URL_PROVIDERS = {"openai", "azure"}
# Model families known to take images, for models litellm's capability map does not list (Ollama tags, new ids).
_VISION_NAMES = re.compile(
    r"llava|bakllava|vision|moondream|minicpm-v|qwen[0-9.]*-?vl|gemma3|llama4|pixtral|mistral-small3\.[12]|"
    r"gpt-4o|gpt-4\.1|gpt-4-turbo|gpt-5|\bo[134]\b|claude-3|claude-(opus|sonnet|haiku)-4|claude-[a-z]+-4|gemini",
    re.IGNORECASE,
)
_NO_VISION_HELP = (
    "Run a local vision model with Ollama (`ollama pull llava`, then VisionAgentConfig(llm_provider='ollama', "
    "model='llava')), or set an API key for a cloud vision model: OPENAI_API_KEY (gpt-4o-mini), "
    "ANTHROPIC_API_KEY (claude-sonnet-4-5) or GEMINI_API_KEY (gemini-2.0-flash)."
)

# The images of the analyze() call in progress, by agent id (a contextvar: concurrent calls never mix them).
_attached: ContextVar[dict[str, tuple[list[PreparedImage], str | None, str]]] = ContextVar(
    "kaizen_vision_images",
    default={},  # noqa: B039 - never mutated: each call sets a new dict
)


class ImageQuestion(Signature):
    """Look carefully at the attached image(s) and answer the question about them. Read any text in the images
    exactly as written; say so when the image does not show the answer."""

    question: str = InputField(desc="The question about the attached image(s)")
    answer: str = OutputField(desc="The answer, based only on what the image(s) show")


@dataclass
class VisionAgentConfig:
    llm_provider: str | None = None  # None: the first configured vision-capable provider
    model: str | None = None  # None: the provider's default vision model (VISION_DEFAULTS)
    temperature: float = 0.0
    max_tokens: int | None = 800
    timeout: float | None = 120.0
    retry_attempts: int = 2
    max_turns: int = 0
    provider_config: dict[str, Any] = field(default_factory=dict, repr=False)
    cache: str | None = None
    max_image_side: int = DEFAULT_MAX_SIDE  # longest side in pixels after downscaling
    max_image_bytes: int = DEFAULT_MAX_BYTES  # per encoded image
    max_images: int = 10
    detail: str | None = None  # OpenAI's image detail: "low" | "high" | "auto"
    assume_vision: bool = False  # trust that a model litellm does not know takes images (your own vLLM server)


def vision_support(provider: Provider, model: str) -> bool | None:
    """True if ``model`` takes images, False if it is known not to, None if nobody here knows.

    litellm's ``supports_vision`` is asked first; then the name is matched against known vision families (litellm's
    map lacks Ollama tags such as ``llava`` and some recent ids)."""
    name = provider.name
    if name == "local":
        return False  # the embedded llama.cpp model is text-only
    if name in ("mock", "function"):
        return True  # test doubles, only ever used when asked for
    litellm_model = getattr(provider, "litellm_model", None)
    if litellm_model is None:
        return None
    from ..llm._litellm import get_litellm

    litellm = get_litellm()
    full = litellm_model(model)
    try:
        if litellm.supports_vision(model=full):
            return True
    except Exception:  # an id litellm cannot parse: fall through to the name
        pass
    if _VISION_NAMES.search(model):
        return True
    try:
        info = litellm.get_model_info(full)
    except Exception:
        return None  # not in litellm's map
    return False if info.get("supports_vision") is False else None


class _NoVisionProvider(Provider):
    """Stands in when no vision model is configured, so the agent can be built and shown; any call says why."""

    name = "none"
    default_model = "no-vision-model"

    def __init__(self, message: str) -> None:
        self.message = message

    async def acomplete(self, request: LLMRequest, model: str) -> Completion:
        raise ConfigurationError(self.message)


def _ollama_vision_model(api_base: str = "http://127.0.0.1:11434", timeout: float = 0.5) -> str | None:
    """The first pulled Ollama model whose name says it sees (llava, llama3.2-vision, gemma3, ...), if any."""
    import json
    import urllib.request

    try:
        with urllib.request.urlopen(f"{api_base.rstrip('/')}/api/tags", timeout=timeout) as reply:
            models = json.loads(reply.read()).get("models", [])
    except Exception:
        return None
    names = [m.get("name") or m.get("model") or "" for m in models]
    return next((n for n in names if _VISION_NAMES.search(n)), None)


def _auto_provider() -> tuple[str | None, str | None, str]:
    """(provider, model, why) — the first configured provider with a vision model, in the detection order."""
    import os

    from ..llm.providers import detect_providers

    forced = os.environ.get("KAIZEN_DEFAULT_PROVIDER")
    if forced:
        if forced in VISION_DEFAULTS:
            return forced, VISION_DEFAULTS[forced], f"KAIZEN_DEFAULT_PROVIDER={forced}"
        return None, None, f"KAIZEN_DEFAULT_PROVIDER={forced!r} has no vision model"
    reasons = []
    for info in detect_providers():
        if info.name in ("local", "mock"):
            continue
        if not info.available:
            reasons.append(info.reason)
            continue
        if info.name == "ollama":
            pulled = _ollama_vision_model()
            if pulled is None:
                reasons.append("Ollama is running but has no vision model pulled")
                continue
            return "ollama", pulled, info.reason
        if info.name in VISION_DEFAULTS:
            return info.name, VISION_DEFAULTS[info.name], info.reason
        reasons.append(f"{info.name} is configured but has no known vision model")
    return None, None, "; ".join(reasons) or "no provider is configured"


class VisionResult(AgentResult):
    """An AgentResult that also carries the images as sent (``r.images``: sizes before/after, mime, thumbnail)."""

    images: list[PreparedImage]

    @classmethod
    def wrap(cls, result: AgentResult, images: list[PreparedImage]) -> VisionResult:
        new = cls.__new__(cls)
        dict.update(new, result)
        new.__dict__.update(result.__dict__)
        new.images = list(images)
        return new

    def __repr__(self) -> str:
        return f"VisionResult({dict.__repr__(self)}, images={len(self.images)}, provider={self.provider!r})"

    def _repr_html_(self) -> str:
        figures = "".join(
            "<figure style='display:inline-block;margin:0 8px 4px 0;text-align:center'>"
            + (
                f"<img src='{img.thumbnail}' style='max-width:160px;max-height:160px;border:1px solid #e5e7eb'/>"
                if img.thumbnail
                else f"<a href='{html.escape(img.url)}'>{html.escape(img.source)}</a>"
            )
            + f"<figcaption style='color:#6b7280;font-size:smaller'>{html.escape(img.describe())}</figcaption>"
            "</figure>"
            for img in self.images
        )
        return f"<div class='kaizen-vision'><div>{figures}</div>{super()._repr_html_()}</div>"


class VisionAgent(BaseAgent):
    """``agent.analyze(image=..., question=...)`` → ``r["answer"]`` (or the outputs of your signature).

    ``image`` may be a path, ``bytes``, a PIL image, a ``data:`` URL or an http(s) URL; ``images=[...]`` sends
    several. Each is downscaled to ``max_image_side`` px and ``max_image_bytes``; ``r.images`` reports what was sent.
    """

    default_signature = ImageQuestion
    description = "Answers questions about images (receipts, charts, screenshots, photos) with a vision model."

    def __init__(self, config: Any = None, signature: Any = None, **kw: Any) -> None:
        self.vision_problem: str | None = None
        raw = config if config is not None else VisionAgentConfig()
        super().__init__(raw, signature=signature, **kw)
        self.max_image_side = int(getattr(self.raw_config, "max_image_side", DEFAULT_MAX_SIDE))
        self.max_image_bytes = int(getattr(self.raw_config, "max_image_bytes", DEFAULT_MAX_BYTES))
        self.max_images = int(getattr(self.raw_config, "max_images", 10))
        self.detail = getattr(self.raw_config, "detail", None)
        if self.vision_problem is None:  # an LLM given as llm=, or one we built: check it can see
            self.vision_problem = self._check_vision(self.llm)

    def _make_llm(self) -> LLM:
        from ..llm.providers import split_model

        c = self.config
        provider, model = c.llm_provider, c.model
        if provider is None:
            provider, model = split_model(model)
        if provider is None:
            provider, default_model, why = _auto_provider()
            if provider is None:
                self.vision_problem = f"VisionAgent needs a model that can see images, and none is configured ({why}). "
                self.vision_problem += f"The embedded local model is text-only. {_NO_VISION_HELP}"
                return LLM(_NoVisionProvider(self.vision_problem))
            model = model or default_model
        if provider == "local":
            self.vision_problem = f"The embedded local model is text-only and cannot see images. {_NO_VISION_HELP}"
            return LLM(_NoVisionProvider(self.vision_problem))
        return LLM(
            provider,
            model or VISION_DEFAULTS.get(provider),
            temperature=c.temperature,
            max_tokens=c.max_tokens,
            timeout=c.timeout,
            retry_attempts=c.retry_attempts,
            cache=c.cache,
            provider_config=c.provider_config,
        )

    def _check_vision(self, llm: LLM) -> str | None:
        if isinstance(llm.provider, _NoVisionProvider):
            return llm.provider.message
        support = vision_support(llm.provider, llm.model)
        where = f"{llm.provider_name}/{llm.model}"
        if support is True or (support is None and getattr(self.raw_config, "assume_vision", False)):
            return None
        if support is False:
            return f"{where} is a text-only model and cannot see images; use a vision model. {_NO_VISION_HELP}"
        return (
            f"litellm does not know whether {where} takes images, so VisionAgent will not risk a text-only model "
            "answering blind. If it is a vision model (e.g. on your own vLLM/llama.cpp server), set "
            f"VisionAgentConfig(assume_vision=True); otherwise use a known vision model. {_NO_VISION_HELP}"
        )

    # -- running --------------------------------------------------------------------------------------------------
    def prepare_images(self, images: Iterable[Any]) -> list[PreparedImage]:
        """Load, downscale and encode images as analyze() would (useful to check sizes before paying)."""
        pass_urls = self.llm.provider_name in _URL_PROVIDERS
        return [
            prepare_image(
                img,
                max_side=self.max_image_side,
                max_bytes=self.max_image_bytes,
                pass_urls=pass_urls,
                fetch=_fetch_url,
            )
            for img in images
        ]

    async def aanalyze(
        self,
        image: Any = None,
        question: str | None = None,
        *,
        images: Iterable[Any] | None = None,
        session_id: str | None = None,
        **inputs: Any,
    ) -> VisionResult:
        if "prompt" in inputs:
            raise ConfigurationError(
                "VisionAgent.analyze takes question=, not prompt=: agent.analyze(image=..., question='What is the "
                "total amount?')."
            )
        if "image_path" in inputs or "image_data" in inputs:
            key = "image_path" if "image_path" in inputs else "image_data"
            raise ConfigurationError(f"VisionAgent.analyze takes image= (a path, bytes, PIL image or URL), not {key}=.")
        if self.vision_problem:
            raise ConfigurationError(self.vision_problem)
        given = ([] if image is None else [image]) + list(images or [])
        if not given:
            raise ConfigurationError(
                "Pass the image: agent.analyze(image='receipt.jpg', question=...) — a path, bytes, a PIL image or a "
                "URL — or images=[...] for several."
            )
        if len(given) > self.max_images:
            raise ConfigurationError(f"{len(given)} images given; at most max_images={self.max_images} per call.")
        if question is not None:
            if "question" not in self.signature.input_fields:
                raise ConfigurationError(
                    f"{self.signature.__name__} has no 'question' input; its inputs are "
                    f"{list(self.signature.input_fields)}."
                )
            inputs["question"] = question
        values = self.signature.validate_inputs(inputs)  # a missing question fails before the images are read
        import asyncio

        prepared = await asyncio.to_thread(self.prepare_images, given)  # PIL work off the event loop
        text = format_inputs(self.signature, values)
        token = _attached.set({**_attached.get(), self.agent_id: (prepared, self.detail, text)})
        try:
            result = await self.arun(session_id=session_id, **values)
        finally:
            _attached.reset(token)
        assert isinstance(result, VisionResult)
        return result

    def analyze(
        self,
        image: Any = None,
        question: str | None = None,
        *,
        images: Iterable[Any] | None = None,
        session_id: str | None = None,
        **inputs: Any,
    ) -> VisionResult:
        """Ask about ``image`` (or ``images``); returns the signature's outputs with ``r.images`` as sent."""
        return run_sync(self.aanalyze(image, question, images=images, session_id=session_id, **inputs), self._on_ctrl_c)

    async def arun(self, session_id: str | None = None, **inputs: Any) -> AgentResult:
        if self.vision_problem:
            raise ConfigurationError(self.vision_problem)
        return await super().arun(session_id=session_id, **inputs)

    async def _complete(self, request: LLMRequest) -> Completion:
        attached = _attached.get().get(self.agent_id)
        if attached:
            request = _with_images(request, *attached)
        return await super()._complete(request)

    def postprocess(self, result: AgentResult) -> AgentResult:
        attached = _attached.get().get(self.agent_id)
        return VisionResult.wrap(result, attached[0] if attached else [])


def _with_images(request: LLMRequest, images: list[PreparedImage], detail: str | None, text: str) -> LLMRequest:
    """The request with the images added to this turn's user message, as OpenAI-style content parts."""
    messages: list[Message] = list(request.messages)
    users = [i for i, m in enumerate(messages) if m.get("role") == "user" and isinstance(m.get("content"), str)]
    exact = [i for i in users if messages[i]["content"] == text]
    rest = [i for i in users if not messages[i]["content"].startswith("Your reply was not valid")]
    candidates = exact or rest or users
    if not candidates:
        return request
    pick = candidates[-1]
    names = ", ".join(img.source for img in images)
    note = f"\n\n[{len(images)} image{'s' if len(images) > 1 else ''} attached: {names}]"
    parts = [{"type": "text", "text": messages[pick]["content"] + note}, *(img.part(detail) for img in images)]
    messages[pick] = {**messages[pick], "content": parts}
    request.messages = messages
    return request


_MAX_FETCH_BYTES = 50 * 1024 * 1024


def _fetch_url(url: str, timeout: float = 30.0) -> bytes:
    """Download an image for a provider that only takes inline images (Ollama, Docker, ...)."""
    import urllib.error
    import urllib.request

    from ..llm._guard import is_loopback, model_requests_allowed

    if not model_requests_allowed() and not is_loopback(url):
        raise ConfigurationError(
            f"Downloading {url} is switched off here (tests, or allow_model_requests(False)); pass the image's bytes."
        )
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:  # http(s) only: the caller checked
            data: bytes = reply.read(_MAX_FETCH_BYTES + 1)
    except urllib.error.URLError as e:
        raise ConfigurationError(f"Could not download the image at {url}: {e}.") from None
    if len(data) > _MAX_FETCH_BYTES:
        raise ConfigurationError(f"The image at {url} is over {_MAX_FETCH_BYTES // 1024 // 1024} MB; download it.")
    return data
