"""Pure helpers of kaizen_lab.audio: WER, chunk cuts, the CTranslate2 reader, resolution errors, config checks."""

from __future__ import annotations

import itertools
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from kaizen_lab.audio import TranscriptionAgent, TranscriptionAgentConfig, TranscriptionResult, resolve_model
from kaizen_lab.audio.agent import _clock
from kaizen_lab.audio.wer import normalize_words, word_error_rate
from kaizen_lab.exceptions import AudioError, ConfigurationError, KaizenError


def test_wer_counts_substitutions_deletions_insertions() -> None:
    ref = "the cat sat on the mat"
    assert word_error_rate(ref, "The cat sat on the mat.") == 0.0
    assert word_error_rate(ref, "the cat sat on a mat") == pytest.approx(1 / 6)  # one substitution
    assert word_error_rate(ref, "the cat on the mat") == pytest.approx(1 / 6)  # one deletion
    assert word_error_rate(ref, "the big cat sat on the mat") == pytest.approx(1 / 6)  # one insertion
    assert word_error_rate(ref, "") == 1.0
    assert word_error_rate("", "") == 0.0 and word_error_rate("", "hello") == 1.0
    assert word_error_rate("a b", "c d e f") == 2.0  # insertions can push it above 1
    assert normalize_words("Don't stop, OK?") == ["don't", "stop", "ok"]


def test_split_points_cut_in_silence_and_bound_chunks() -> None:
    np = pytest.importorskip("numpy")
    rate = 16_000
    audio = np.ones(rate * 20, dtype=np.float32) * 0.5
    audio[int(rate * 4.1) : int(rate * 4.3)] = 0.0  # a 200 ms pause near the first 5 s limit
    from kaizen_lab.audio.engines import split_points

    cuts = split_points(audio, 5.0)
    assert 4.1 * rate <= cuts[0] <= 4.3 * rate
    assert cuts[-1] == len(audio)
    bounds = [0, *cuts]
    assert all(0.75 * 5 * rate <= b - a <= 5 * rate for a, b in itertools.pairwise(bounds[:-1]))
    assert split_points(audio[: rate * 3], 5.0) == [rate * 3]  # short audio: one chunk


def _ct2_bytes(tensors: dict[str, tuple[list[int], int, bytes]], aliases: dict[str, str]) -> bytes:
    def text(s: str) -> bytes:
        raw = s.encode() + b"\0"
        return struct.pack("<H", len(raw)) + raw

    out = struct.pack("<I", 6) + text("WhisperSpec") + struct.pack("<I", 3) + struct.pack("<I", len(tensors))
    for name, (shape, dtype, data) in tensors.items():
        out += text(name) + struct.pack("<B", len(shape)) + b"".join(struct.pack("<I", d) for d in shape)
        out += struct.pack("<B", dtype) + struct.pack("<I", len(data)) + data
    out += struct.pack("<I", len(aliases)) + b"".join(text(a) + text(t) for a, t in aliases.items())
    return out


def test_read_ct2_parses_tensors_and_aliases(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    from kaizen_lab.audio.weights import read_ct2

    weight = np.arange(6, dtype=np.float16).reshape(2, 3)
    model = tmp_path / "model.bin"
    model.write_bytes(
        _ct2_bytes(
            {"a/weight": ([2, 3], 4, weight.tobytes()), "a/num_heads": ([], 2, struct.pack("<h", 8))},
            {"b/weight": "a/weight"},
        )
    )
    t = read_ct2(model)
    assert t["a/weight"].dtype == np.float16 and (t["a/weight"] == weight).all()
    assert int(t["a/num_heads"]) == 8
    assert (t["b/weight"] == weight).all()
    old = tmp_path / "old.bin"
    old.write_bytes(struct.pack("<I", 1) + b"\0" * 16)
    with pytest.raises(ConfigurationError, match="version 1"):
        read_ct2(old)


def test_resolution_errors_are_actionable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAIZEN_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # no whisper cache
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match="nothing-here"):
        resolve_model("openai-whisper", model_path=tmp_path / "nothing-here")
    pt = tmp_path / "model.pt"
    pt.write_bytes(b"x")
    with pytest.raises(ConfigurationError, match="CTranslate2 folder"):
        resolve_model("faster-whisper", model_path=pt)
    assert resolve_model("openai-whisper", model_path=pt).source == "path"
    with pytest.raises(ConfigurationError, match="allow_download=True"):
        resolve_model("openai-whisper", "large-v3")
    assert resolve_model("openai-whisper", "large-v3", allow_download=True).source == "download"


def test_config_is_checked() -> None:
    with pytest.raises(ConfigurationError, match="engine"):
        TranscriptionAgent(TranscriptionAgentConfig(engine="vosk"))  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="no field"):
        TranscriptionAgent(temperature=0.2)
    with pytest.raises(ConfigurationError, match="chunk_seconds"):
        TranscriptionAgent(chunk_seconds=1)
    agent = TranscriptionAgent(engine="faster-whisper", model="tiny.en")
    assert agent.config.engine == "faster-whisper" and agent.resolved is None  # nothing loaded yet


def test_audio_error_is_a_value_error() -> None:
    error = AudioError("bad", path=Path("/x.mp3"))
    assert isinstance(error, KaizenError) and isinstance(error, ValueError) and error.path == "/x.mp3"


def test_result_html_without_the_file() -> None:
    result = TranscriptionResult(
        transcription="hello <world>",
        duration=3661.0,
        language="en",
        language_probability=None,
        segments=[{"start": 3600.5, "end": 3661.0, "text": "hello <world>"}],
        engine="faster-whisper",
        model="base",
        real_time_factor=0.1,
        processing_seconds=366.1,
        audio_path="/missing.wav",
    )
    page = result._repr_html_()
    assert "hello &lt;world&gt;" in page and "a.currentTime=3600.5" in page and "1:00:00" in page
    assert "(forced)" in page and "<audio" in page
    assert "hello <world>" in repr(result)
    assert _clock(75.9) == "01:15"


def test_importing_audio_loads_nothing_heavy() -> None:
    code = (
        "import sys, kaizen_lab.audio; "
        "print(sorted(m for m in ('torch', 'whisper', 'ctranslate2', 'numpy', 'faster_whisper') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
