"""TranscriptionAgent: an audio file → its text, timestamped segments and language, offline.

It is a plain class, not a BaseAgent: BaseAgent is a signature → prompt → LLM loop (providers, retries, output
parsing, memory), none of which a speech model has. It keeps the agents' conventions: a dataclass config, one verb
(``transcribe``), a dict result that renders itself in a notebook.
"""

from __future__ import annotations

import base64
import html
import mimetypes
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..exceptions import ConfigurationError
from .decode import SAMPLE_RATE, decode_audio
from .engines import load_engine
from .weights import ResolvedModel, resolve_model

__all__ = ["TranscriptionAgent", "TranscriptionAgentConfig", "TranscriptionResult"]

_ENGINES = ("openai-whisper", "faster-whisper")


@dataclass
class TranscriptionAgentConfig:
    """``engine``: openai-whisper (reference) or faster-whisper (CTranslate2, faster on CPU). ``model``: a Whisper
    size; "base" (multilingual, detects the language) and "tiny.en" ship offline. ``model_path``: a CTranslate2
    folder or an openai-whisper .pt, used first. ``language``: None detects it. ``chunk_seconds``: long audio is
    transcribed (and reports progress) in chunks of this length. ``allow_download``: fetch weights that are not on
    this machine (needs the internet). ``beam_size``: 1 is greedy decoding (several times faster with openai-whisper,
    less accurate). ``embed_audio_max_bytes``: larger files are linked, not embedded, in the notebook player."""

    engine: Literal["openai-whisper", "faster-whisper"] = "openai-whisper"
    model: str = "base"
    model_path: str | None = None
    language: str | None = None
    word_timestamps: bool = False
    chunk_seconds: float = 300.0
    beam_size: int = 5  # both engines decode alike (faster-whisper's default; openai-whisper's own is greedy)
    compute_type: str = "int8"  # faster-whisper only
    threads: int | None = None
    allow_download: bool = False
    embed_audio_max_bytes: int = 10_000_000


class TranscriptionResult(dict[str, Any]):
    """``r["transcription"]``, ``r["duration"]`` (s), ``r["language"]``, ``r["language_probability"]`` (None when
    forced), ``r["segments"]`` (``start``, ``end``, ``text``, optional ``words``), ``r["engine"]``, ``r["model"]``,
    ``r["real_time_factor"]`` (processing time / audio duration), ``r["processing_seconds"]``, ``r["audio_path"]``."""

    embed_audio_max_bytes: int = 10_000_000

    def __repr__(self) -> str:
        text = self.get("transcription", "")
        short = text if len(text) <= 80 else text[:77] + "..."
        return (
            f"TranscriptionResult({short!r}, duration={self.get('duration')}, language={self.get('language')!r}, "
            f"segments={len(self.get('segments', []))}, engine={self.get('engine')!r}, model={self.get('model')!r})"
        )

    def _repr_html_(self) -> str:
        """An audio player and the transcript as timestamped segments: clicking one plays the audio from there."""
        player = f"kz-audio-{uuid.uuid4().hex[:12]}"
        rows = "".join(
            f"<div style='margin:2px 0'><a href='#' style='font-family:monospace;text-decoration:none' "
            f"onclick=\"var a=document.getElementById('{player}');a.currentTime={seg['start']};a.play();"
            f'return false;">[{_clock(seg["start"])}–{_clock(seg["end"])}]</a> {html.escape(seg["text"])}</div>'
            for seg in self.get("segments", [])
        )
        probability = self.get("language_probability")
        language = html.escape(str(self.get("language"))) + (f" ({probability:.0%})" if probability else " (forced)")
        meta = (
            f"{html.escape(str(self.get('engine')))}/{html.escape(str(self.get('model')))} · {language} · "
            f"{self.get('duration', 0):.1f} s of audio in {self.get('processing_seconds', 0):.1f} s "
            f"(RTF {self.get('real_time_factor', 0):.2f})"
        )
        return (
            f"<div><audio id='{player}' controls preload='metadata' src='{self._audio_src()}' "
            f"style='width:100%'></audio><div style='color:#6b7280;font-size:smaller'>{meta}</div>{rows}</div>"
        )

    def _audio_src(self) -> str:
        """Short clips are embedded (the saved notebook keeps them); long ones are referenced by path."""
        path = Path(str(self.get("audio_path", "")))
        try:
            size = path.stat().st_size
        except OSError:
            return ""
        if size <= self.embed_audio_max_bytes:
            mime = mimetypes.guess_type(path.name)[0] or "audio/wav"
            if mime == "audio/x-wav":
                mime = "audio/wav"
            return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()}"
        return html.escape(os.path.relpath(path) if not path.is_absolute() else str(path), quote=True)


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


class TranscriptionAgent:
    """``TranscriptionAgent().transcribe(audio_path="meeting.mp3")`` → a TranscriptionResult.

    The weights are found (and converted for openai-whisper, once) on the first call, not at construction;
    ``progress(done_seconds, total_seconds)`` is called as chunks finish, e.g. to drive a notebook Progress bar.
    """

    description = "Transcribes speech in an audio file to timestamped text, offline (Whisper)."

    def __init__(self, config: TranscriptionAgentConfig | None = None, **overrides: Any) -> None:
        config = config if config is not None else TranscriptionAgentConfig()
        for key, value in overrides.items():
            if not hasattr(config, key):
                raise ConfigurationError(f"TranscriptionAgentConfig has no field {key!r}")
            setattr(config, key, value)
        if config.engine not in _ENGINES:
            raise ConfigurationError(f"engine must be one of {_ENGINES}, got {config.engine!r}")
        if config.beam_size < 1:
            raise ConfigurationError(f"beam_size must be at least 1, got {config.beam_size}")
        if config.chunk_seconds < 5:
            raise ConfigurationError(f"chunk_seconds must be at least 5, got {config.chunk_seconds}")
        self.config = config
        self.resolved: ResolvedModel | None = None

    def load(self) -> ResolvedModel:
        """Locate (and convert if needed) the weights and load the engine now instead of on the first call."""
        c = self.config
        if self.resolved is None:
            self.resolved = resolve_model(c.engine, c.model, c.model_path, c.allow_download)
        load_engine(self.resolved, c.threads, c.compute_type)
        return self.resolved

    def transcribe(
        self,
        audio_path: str | os.PathLike[str],
        *,
        language: str | None = None,
        progress: Callable[[float, float], None] | None = None,
    ) -> TranscriptionResult:
        """Transcribe ``audio_path``; ``language`` (e.g. "en") forces it instead of detecting it."""
        samples = decode_audio(audio_path)  # bad input fails before any model loads
        resolved = self.load()
        c = self.config
        engine = load_engine(resolved, c.threads, c.compute_type)
        started = time.perf_counter()
        out = engine.transcribe(
            samples, language=language or c.language, word_timestamps=c.word_timestamps,
            chunk_seconds=c.chunk_seconds, progress=progress or _ignore, beam_size=c.beam_size,
        )  # fmt: skip
        elapsed = time.perf_counter() - started
        duration = round(len(samples) / SAMPLE_RATE, 3)
        result = TranscriptionResult(
            transcription=" ".join(seg["text"] for seg in out.segments if seg["text"]),
            duration=duration,
            language=out.language,
            language_probability=out.language_probability,
            segments=out.segments,
            engine=c.engine,
            model=c.model_path or c.model,
            real_time_factor=round(elapsed / duration, 4) if duration else 0.0,
            processing_seconds=round(elapsed, 3),
            audio_path=str(audio_path),
        )
        result.embed_audio_max_bytes = c.embed_audio_max_bytes
        return result

    def __repr__(self) -> str:
        c = self.config
        return f"TranscriptionAgent(engine={c.engine!r}, model={c.model!r})"


def _ignore(done: float, total: float) -> None:
    return None
