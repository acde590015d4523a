"""Speech to text: faster-whisper vs openai-whisper on the same clip, same offline weights (multilingual base).

    python bench/transcription.py [--seconds 30] [--runs 3]

An espeak-ng clip of a known text (≈ ``--seconds`` long) is transcribed by both engines through TranscriptionAgent,
after one warm-up run each; the table gives the median real-time factor (processing time / audio time, lower is
faster), the word error rate (median and worst run: Whisper's temperature fallback samples, so a hard window can
differ between runs), and faster-whisper / openai-whisper ratios. The one-time costs are measured in a fresh
cache directory: assembling the CT2 folder from its two packaged halves (faster-whisper) and converting it into an
openai-whisper checkpoint; then model load time. Needs ``kaizen-lab[audio]``, openai-whisper, espeak-ng and ffmpeg.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PARAGRAPH = (
    "The meeting starts at nine in the morning. Please bring the quarterly report and your laptop. "
    "We will discuss the budget for next year, the hiring plan, and the new office in the city centre. "
)


def _clip(folder: Path, seconds: float) -> tuple[Path, str]:
    text = PARAGRAPH * max(1, round(seconds / 14))  # espeak-ng at 150 wpm says the paragraph in ~14 s
    wav, mp3 = folder / "clip.wav", folder / "clip.mp3"
    subprocess.run(["espeak-ng", "-s", "150", "-w", str(wav), text], check=True, capture_output=True)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(wav), str(mp3)], check=True, capture_output=True)
    return mp3, text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="approximate clip length")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per engine (after one warm-up)")
    parser.add_argument("--beam", type=int, default=5, help="beam size of both engines (1: greedy)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="kaizen-bench-audio-"))
    os.environ["KAIZEN_CACHE_DIR"] = str(work / "cache")  # a fresh cache: the one-time costs are really paid
    from kaizen_lab.audio import TranscriptionAgent, resolve_model, word_error_rate

    clip, text = _clip(work, args.seconds)
    assemble = resolve_model("faster-whisper", "base")
    convert = resolve_model("openai-whisper", "base")
    assert convert.converted, "the fresh cache already held a converted checkpoint"
    print(f"one-time: CT2 halves assembled + sha256-checked in {assemble.seconds:.2f} s; "
          f"CT2 → openai-whisper checkpoint in {convert.seconds:.2f} s", flush=True)  # fmt: skip

    rows: dict[str, dict[str, float]] = {}
    for engine in ("openai-whisper", "faster-whisper"):
        agent = TranscriptionAgent(engine=engine, beam_size=args.beam)
        started = time.perf_counter()
        agent.load()
        load = time.perf_counter() - started
        agent.transcribe(clip)  # warm-up
        results = [agent.transcribe(clip) for _ in range(args.runs)]
        rtf = statistics.median(r["real_time_factor"] for r in results)
        rows[engine] = {
            "load": load,
            "rtf": rtf,
            "wer": statistics.median(word_error_rate(text, r["transcription"]) for r in results),
            "wer_max": max(word_error_rate(text, r["transcription"]) for r in results),
            "duration": results[-1]["duration"],
        }
        print(f"{engine}: load {load:.2f} s, median RTF {rtf:.3f} over {args.runs} runs", flush=True)

    o, f = rows["openai-whisper"], rows["faster-whisper"]
    print(f"\nclip: {o['duration']:.1f} s of espeak-ng speech (mp3), model: multilingual base, beam {args.beam}, CPU, "
          f"{os.cpu_count()} cores\n")  # fmt: skip
    print("| metric | openai-whisper | faster-whisper | faster / openai |")
    print("|---|---|---|---|")
    print(f"| real-time factor (median) | {o['rtf']:.3f} | {f['rtf']:.3f} | {f['rtf'] / o['rtf']:.2f}x |")
    print(f"| model load (s) | {o['load']:.2f} | {f['load']:.2f} | {f['load'] / o['load']:.2f}x |")
    wer = [f"{r['wer']:.3f} ({r['wer_max']:.3f})" for r in (o, f)]
    print(f"| word error rate, median (max) | {wer[0]} | {wer[1]} | |")
    print(f"| one-time preparation (s) | {convert.seconds:.2f} (convert) | {assemble.seconds:.2f} (assemble) | |")


if __name__ == "__main__":
    main()
