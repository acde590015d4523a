"""Audio files → 16 kHz mono float32 samples, the only input both Whisper engines take.

ffmpeg (the command) decodes every format, exactly as openai-whisper itself would; where it is missing, PyAV (which
faster-whisper installs, with its own ffmpeg libraries) does. Bad input fails here, with the path, before a model
is loaded.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from ..exceptions import AudioError, ConfigurationError

__all__ = ["SAMPLE_RATE", "FFMPEG_HINT", "decode_audio"]

SAMPLE_RATE = 16_000
FFMPEG_HINT = (
    "decoding audio needs ffmpeg: install it with `apt-get install ffmpeg` (Debian/Ubuntu), `brew install ffmpeg` "
    '(macOS) or `conda install ffmpeg`, or install PyAV with `pip install "kaizen-lab[audio]"`'
)


def decode_audio(path: str | os.PathLike[str]) -> Any:
    """The file's audio as a float32 numpy array at 16 kHz mono, samples in [-1, 1].

    Raises FileNotFoundError (with the path) for a missing file, AudioError for an empty, non-audio or damaged one,
    and ConfigurationError naming ffmpeg when no decoder is installed.
    """
    file = Path(path)
    if not file.exists():
        raise FileNotFoundError(f"No such audio file: {file}")
    if not file.is_file():
        raise AudioError(f"{file} is not a file", path=file)
    if file.stat().st_size == 0:
        raise AudioError(f"{file} is empty (0 bytes)", path=file)
    ffmpeg = shutil.which("ffmpeg")
    samples = _with_ffmpeg(ffmpeg, file) if ffmpeg else _with_pyav(file)
    if samples.size == 0:
        raise AudioError(f"{file} holds no audio samples (zero-length recording)", path=file)
    return samples


def _with_ffmpeg(ffmpeg: str, file: Path) -> Any:
    import numpy as np

    cmd = [ffmpeg, "-nostdin", "-v", "error", "-i", str(file), "-vn", "-f", "s16le", "-ac", "1", "-acodec",
           "pcm_s16le", "-ar", str(SAMPLE_RATE), "-"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, check=False)
    if done.returncode != 0:
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise AudioError(f"{file} is not readable audio (damaged, or not an audio file): {_last(reason)}", path=file)
    return np.frombuffer(done.stdout, np.int16).astype(np.float32) / 32768.0


def _with_pyav(file: Path) -> Any:
    try:
        import av
        from faster_whisper.audio import decode_audio as fw_decode
    except ImportError as e:
        raise ConfigurationError(f"Cannot decode {file}: {FFMPEG_HINT}.") from e
    try:
        return fw_decode(str(file), sampling_rate=SAMPLE_RATE)
    except (av.error.FFmpegError, ValueError, IndexError) as e:  # no audio stream → IndexError / ValueError
        raise AudioError(f"{file} is not readable audio (damaged, or not an audio file): {e}", path=file) from e


def _last(lines: list[str]) -> str:
    return lines[-1] if lines else "no audio stream"
