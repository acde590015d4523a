"""One call surface over model providers: litellm for cloud/servers, llama.cpp in-process, offline fakes."""

from ._guard import allow_model_requests, model_requests_allowed
from ._types import Completion, LLMRequest, Message, ToolCall, Usage
from .base import Provider
from .cache import ResponseCache
from .client import LLM
from .providers import ProviderInfo, default_provider, detect_providers, get_provider, provider_names
from .streaming import stream_to
from .testing import FunctionProvider, MockProvider

__all__ = [
    "LLM",
    "Completion",
    "FunctionProvider",
    "LLMRequest",
    "Message",
    "MockProvider",
    "Provider",
    "ProviderInfo",
    "ResponseCache",
    "ToolCall",
    "Usage",
    "allow_model_requests",
    "default_provider",
    "detect_providers",
    "get_provider",
    "model_requests_allowed",
    "provider_names",
    "stream_to",
]
