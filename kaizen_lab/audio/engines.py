"""The two Whisper engines behind one call: samples in, timestamped segments + language out.

openai-whisper (PyTorch) is the reference implementation; faster-whisper (CTranslate2, int8) is ~1.5x faster on a
CPU. Loaded models are shared per process: a second agent on the same weights costs nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ..exceptions import ConfigurationError
from .decode import SAMPLE_RATE
from .weights import ResolvedModel

__all__ = ["Engine", "EngineOutput", "load_engine", "split_points"]

Progress = Callable[[float, float], None]
_INSTALL_HINT = 'install the audio extras with `pip install "kaizen-lab[audio]"`'


@dataclass
class EngineOutput:
    segments: list[dict[str, Any]]
    language: str
    language_probability: float | None  # None when the language was forced, not detected


class Engine(Protocol):
    def transcribe(
        self,
        samples: Any,
        *,
        language: str | None,
        word_timestamps: bool,
        chunk_seconds: float,
        progress: Progress,
        beam_size: int = 5,
    ) -> EngineOutput: ...


def split_points(samples: Any, chunk_seconds: float, sample_rate: int = SAMPLE_RATE, search: float = 5.0) -> list[int]:
    """Sample indexes where long audio is cut into chunks of at most ``chunk_seconds``: at the quietest 100 ms in
    the last ``search`` seconds (at most a quarter of a chunk) before each limit, so a cut rarely falls inside a
    word and no chunk is shorter than three quarters of the limit. Ends with ``len(samples)``."""
    import numpy as np

    size, limit = len(samples), max(int(chunk_seconds * sample_rate), 1)
    window = max(sample_rate // 10, 1)
    look = min(int(search * sample_rate), limit // 4)
    cuts, start = [], 0
    while size - start > limit:
        lo, hi = start + limit - look, start + limit
        region = np.abs(np.asarray(samples[lo:hi], dtype=np.float32))
        if len(region) >= window:
            energy = np.convolve(region, np.ones(window, dtype=np.float32), mode="valid")
            start = lo + int(np.argmin(energy)) + window // 2
        else:
            start = hi
        cuts.append(start)
    return [*cuts, size]


class _Monotone:
    """Reports progress only forwards: engines may revisit a window, the user's bar must never go back."""

    def __init__(self, progress: Progress, total: float) -> None:
        self.progress, self.total, self.done = progress, total, -1.0

    def __call__(self, done: float) -> None:
        done = min(max(done, 0.0), self.total)
        if done > self.done:
            self.done = done
            self.progress(round(done, 3), round(self.total, 3))


class OpenAIWhisperEngine:
    """openai-whisper on the CPU (fp32): the language is detected once on the first 30 s, then long audio is
    transcribed chunk by chunk (cut at silences), each chunk prompted with the end of the text before it."""

    def __init__(self, resolved: ResolvedModel, threads: int | None = None) -> None:
        try:
            import torch
            import whisper
            from whisper.model import ModelDimensions, Whisper
        except ImportError as e:
            raise ConfigurationError(f"The openai-whisper engine is not installed; {_INSTALL_HINT}.") from e
        if threads:
            torch.set_num_threads(threads)
        self.whisper = whisper
        if resolved.location.endswith(".pt"):
            checkpoint = torch.load(resolved.location, map_location="cpu", weights_only=True)
            model = Whisper(ModelDimensions(**checkpoint["dims"]))
            model.load_state_dict(checkpoint["model_state_dict"])
            heads = checkpoint.get("alignment_heads")
            if heads:  # word timestamps align on these heads (else whisper uses the last half of all heads)
                mask = torch.zeros(model.dims.n_text_layer, model.dims.n_text_head, dtype=torch.bool)
                for layer, head in heads:
                    mask[layer, head] = True
                model.register_buffer("alignment_heads", mask.to_sparse(), persistent=False)
            self.model = model.eval()
        else:  # a name: whisper's own cache, or a download the caller allowed
            self.model = whisper.load_model(resolved.location, device="cpu")

    def transcribe(
        self,
        samples: Any,
        *,
        language: str | None,
        word_timestamps: bool,
        chunk_seconds: float,
        progress: Progress,
        beam_size: int = 5,
    ) -> EngineOutput:
        whisper = self.whisper
        total = len(samples) / SAMPLE_RATE
        report = _Monotone(progress, total)
        report(0.0)
        probability: float | None = None
        if language is None:
            if self.model.is_multilingual:
                clip = whisper.pad_or_trim(samples[: whisper.audio.N_SAMPLES])
                mel = whisper.log_mel_spectrogram(clip, self.model.dims.n_mels).to(self.model.device)
                _, probs = self.model.detect_language(mel)
                language = max(probs, key=probs.get)
                probability = float(probs[language])
            else:
                language, probability = "en", 1.0
        segments: list[dict[str, Any]] = []
        start, prompt = 0, None
        for end in split_points(samples, chunk_seconds):
            out = whisper.transcribe(
                self.model, samples[start:end], language=language, fp16=False, verbose=None,
                word_timestamps=word_timestamps, initial_prompt=prompt, condition_on_previous_text=True,
                beam_size=beam_size if beam_size > 1 else None, best_of=beam_size,
            )  # fmt: skip
            offset = start / SAMPLE_RATE
            for seg in out["segments"]:
                segments.append(_segment(seg["start"] + offset, seg["end"] + offset, seg["text"], seg.get("words"),
                                         offset, total))  # fmt: skip
            prompt = out["text"][-200:] or None
            start = end
            report(end / SAMPLE_RATE)
        return EngineOutput(segments, language, probability)


class FasterWhisperEngine:
    """faster-whisper (CTranslate2) on the CPU; segments stream out, so progress moves segment by segment."""

    def __init__(self, resolved: ResolvedModel, threads: int | None = None, compute_type: str = "int8") -> None:
        try:
            from faster_whisper import WhisperModel
        except ImportError as e:
            raise ConfigurationError(f"The faster-whisper engine is not installed; {_INSTALL_HINT}.") from e
        self.model = WhisperModel(
            resolved.location, device="cpu", compute_type=compute_type, cpu_threads=threads or 0,
            local_files_only=resolved.source != "download",
        )  # fmt: skip

    def transcribe(
        self,
        samples: Any,
        *,
        language: str | None,
        word_timestamps: bool,
        chunk_seconds: float,
        progress: Progress,
        beam_size: int = 5,
    ) -> EngineOutput:
        total = len(samples) / SAMPLE_RATE
        report = _Monotone(progress, total)
        report(0.0)
        stream, info = self.model.transcribe(
            samples, language=language, word_timestamps=word_timestamps, beam_size=beam_size, best_of=beam_size
        )
        segments = []
        for seg in stream:
            words = [{"start": w.start, "end": w.end, "word": w.word} for w in seg.words or []] or None
            segments.append(_segment(seg.start, seg.end, seg.text, words, 0.0, total))
            report(seg.end)
        report(total)
        return EngineOutput(segments, info.language, None if language else float(info.language_probability))


def _segment(start: float, end: float, text: str, words: Any, offset: float, total: float) -> dict[str, Any]:
    """One segment, its times clipped into the audio (Whisper's last timestamp may overshoot the end a little)."""
    seg: dict[str, Any] = {
        "start": round(min(max(start, 0.0), total), 3),
        "end": round(min(max(end, start), total), 3),
        "text": text.strip(),
    }
    if words:
        seg["words"] = [
            {"start": round(min(w["start"] + offset, total), 3), "end": round(min(w["end"] + offset, total), 3),
             "word": w["word"].strip()}
            for w in words
        ]  # fmt: skip
    return seg


_engines: dict[tuple[Any, ...], Engine] = {}
_engines_lock = threading.Lock()


def load_engine(resolved: ResolvedModel, threads: int | None = None, compute_type: str = "int8") -> Engine:
    """The loaded engine for these weights, shared by every agent in the process."""
    key = (resolved.engine, resolved.location, threads, compute_type)
    with _engines_lock:
        if key not in _engines:
            if resolved.engine == "faster-whisper":
                _engines[key] = FasterWhisperEngine(resolved, threads, compute_type)
            else:
                _engines[key] = OpenAIWhisperEngine(resolved, threads)
        return _engines[key]
