"""Real speech, real models: espeak-ng says a known text, both Whisper engines transcribe it from the offline weights.

WER bound: espeak-ng's robotic voice is hard for Whisper base; on this clip faster-whisper measured 0.125 ("meetings",
"9" for "nine") and openai-whisper 0.125-0.25 (it also hears "Saturday" for "at nine"). 0.35 leaves room for that
variance across versions and CPUs while still failing on wrong weights or a broken conversion (WER near 1.0).
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
import sys
import wave
from pathlib import Path

import pytest

pytest.importorskip("whisper", reason="openai-whisper is not installed (make install installs it with --no-deps)")
pytest.importorskip("faster_whisper", reason='faster-whisper is not installed (pip install "kaizen-lab[audio]")')

from kaizen_lab.audio import TranscriptionAgent, resolve_model, word_error_rate
from kaizen_lab.exceptions import AudioError, ConfigurationError

pytestmark = [
    pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is missing: apt-get install espeak-ng"),
    pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is missing: apt-get install ffmpeg"),
]

TEXT = (
    "The meeting starts at nine in the morning. Please bring the quarterly report and your laptop. "
    "We will discuss the budget for next year."
)
MAX_WER = 0.35
ENGINES = ["openai-whisper", "faster-whisper"]


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("speech")
    wav, mp3 = folder / "speech.wav", folder / "speech.mp3"
    subprocess.run(["espeak-ng", "-s", "150", "-w", str(wav), TEXT], check=True, capture_output=True)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(wav), str(mp3)], check=True, capture_output=True)
    return {"wav": wav, "mp3": mp3}


def _check_segments(result: dict) -> None:
    segments = result["segments"]
    assert segments, "no segments"
    for seg in segments:
        assert 0.0 <= seg["start"] <= seg["end"] <= result["duration"]
        assert seg["text"]
    starts = [seg["start"] for seg in segments]
    assert starts == sorted(starts)
    assert all(a["end"] <= b["start"] + 1e-3 for a, b in itertools.pairwise(segments))


@pytest.mark.parametrize("engine", ENGINES)
def test_mp3_is_transcribed_with_detected_language_and_progress(engine: str, clips: dict[str, Path]) -> None:
    calls: list[tuple[float, float]] = []
    result = TranscriptionAgent(engine=engine).transcribe(
        audio_path=clips["mp3"], progress=lambda done, total: calls.append((done, total))
    )
    assert word_error_rate(TEXT, result["transcription"]) <= MAX_WER, result["transcription"]
    assert result["duration"] == pytest.approx(8.9, abs=0.5)  # espeak-ng at 150 wpm; mp3 adds a few ms of padding
    assert result["language"] == "en"
    assert result["language_probability"] > 0.5
    assert result["engine"] == engine and result["model"] == "base"
    assert 0 < result["real_time_factor"] < 10
    _check_segments(result)
    done = [d for d, _ in calls]
    assert done == sorted(done) and len(set(done)) == len(done), calls  # strictly increasing
    assert done[0] == 0.0 and done[-1] == pytest.approx(result["duration"], abs=0.01)
    assert all(t == pytest.approx(result["duration"], abs=0.01) for _, t in calls)


@pytest.mark.parametrize("engine", ENGINES)
def test_forced_language_and_chunked_audio(engine: str, clips: dict[str, Path]) -> None:
    calls: list[float] = []
    # 8.9 s of speech → two chunks for openai-whisper; greedy decoding keeps this test fast
    agent = TranscriptionAgent(engine=engine, chunk_seconds=5, beam_size=1)
    result = agent.transcribe(clips["wav"], language="en", progress=lambda done, total: calls.append(done))
    assert result["language"] == "en" and result["language_probability"] is None  # forced, not detected
    assert word_error_rate(TEXT, result["transcription"]) <= MAX_WER, result["transcription"]
    _check_segments(result)
    assert len(calls) >= 3 and calls == sorted(calls)  # start, at least one chunk/segment, end


def test_conversion_is_done_once_then_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAIZEN_CACHE_DIR", str(tmp_path))
    first = resolve_model("openai-whisper", "base")
    assert first.source == "packaged" and first.converted
    pt = Path(first.location)
    assert pt.is_file() and pt.is_relative_to(tmp_path)
    stamp = pt.stat().st_mtime_ns
    second = resolve_model("openai-whisper", "base")
    assert second.location == first.location and not second.converted
    assert pt.stat().st_mtime_ns == stamp
    assert not [p for p in pt.parent.iterdir() if p.name.startswith(".")]  # no temporary file left behind
    ct2 = resolve_model("faster-whisper", "base")  # the two halves, concatenated once into the same cache
    assert (Path(ct2.location) / "model.bin").stat().st_size == 145_217_532


def test_player_html_embeds_audio_and_clickable_segments(clips: dict[str, Path]) -> None:
    result = TranscriptionAgent(engine="faster-whisper").transcribe(clips["mp3"], language="en")
    page = result._repr_html_()
    assert "<audio" in page and "data:audio/mpeg;base64," in page
    assert page.count(".currentTime=") == len(result["segments"])
    assert "http" not in page  # nothing fetched from the network
    result.embed_audio_max_bytes = 10
    assert str(clips["mp3"]) in result._repr_html_()  # too big to embed: referenced by path


# ---------------------------------------------------------------------------------------------- bad input


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.mp3"
    with pytest.raises(FileNotFoundError, match=r"nowhere\.mp3"):
        TranscriptionAgent().transcribe(missing)


def test_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(AudioError, match="empty"):
        TranscriptionAgent().transcribe(empty)


def test_text_file_is_not_audio(tmp_path: Path) -> None:
    notes = tmp_path / "notes.mp3"
    notes.write_text("these are meeting notes, not a recording\n" * 20)
    with pytest.raises(AudioError, match="not readable audio") as info:
        TranscriptionAgent().transcribe(notes)
    assert info.value.path == str(notes)


def test_corrupt_audio(tmp_path: Path, clips: dict[str, Path]) -> None:
    broken = tmp_path / "broken.mp3"
    broken.write_bytes(b"\xff\xfb\x90\x00" + bytes(range(256)) * 8)  # an MP3 frame header, then garbage
    with pytest.raises(AudioError):
        TranscriptionAgent().transcribe(broken)
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(clips["wav"].read_bytes()[:30])  # cut inside the RIFF header
    with pytest.raises(AudioError):
        TranscriptionAgent().transcribe(truncated)


def test_zero_length_recording(tmp_path: Path) -> None:
    silent = tmp_path / "zero.wav"
    with wave.open(str(silent), "wb") as w:  # a valid WAV header with no frames
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16_000)
    with pytest.raises(AudioError, match="no audio samples"):
        TranscriptionAgent().transcribe(silent)


def test_missing_ffmpeg_is_named(tmp_path: Path, clips: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    import kaizen_lab.audio.decode as decode

    monkeypatch.setattr(decode.shutil, "which", lambda name: None)
    monkeypatch.setitem(sys.modules, "av", None)  # and no PyAV either
    with pytest.raises(ConfigurationError, match="ffmpeg") as info:
        TranscriptionAgent().transcribe(clips["mp3"])
    assert "apt-get install ffmpeg" in str(info.value)


def test_pyav_decodes_when_ffmpeg_is_missing(clips: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    import kaizen_lab.audio.decode as decode

    with_ffmpeg = decode.decode_audio(clips["mp3"])
    monkeypatch.setattr(decode.shutil, "which", lambda name: None)
    without = decode.decode_audio(clips["mp3"])
    assert abs(len(without) - len(with_ffmpeg)) < 16_000 * 0.1
