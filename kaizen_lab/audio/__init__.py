"""Speech to text with Whisper, offline: ``TranscriptionAgent(TranscriptionAgentConfig()).transcribe(audio_path=...)``.

Nothing heavy loads at import: torch, whisper, ctranslate2 and numpy load on the first transcription.
"""

from .agent import TranscriptionAgent, TranscriptionAgentConfig, TranscriptionResult
from .decode import decode_audio
from .weights import ResolvedModel, resolve_model
from .wer import word_error_rate

__all__ = [
    "ResolvedModel",
    "TranscriptionAgent",
    "TranscriptionAgentConfig",
    "TranscriptionResult",
    "decode_audio",
    "resolve_model",
    "word_error_rate",
]
