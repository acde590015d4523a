"""Speech to text: TranscriptionAgent vs the raw engine it wraps, for both engines (openai-whisper, faster-whisper)
and two beam sizes, on the same clip and the same offline weights (multilingual base).

    python bench/transcription.py [--seconds 30] [--runs 3] [--beams 5,1]   # writes bench/results/transcription.json

An espeak-ng clip of a known text (≈ ``--seconds`` long) is decoded once. For each engine and beam size, one warm-up
of each side, then ``--runs`` rounds, the two sides interleaved:

- **kaizen**: ``TranscriptionAgent(engine=..., beam_size=b).transcribe(clip)``, timed by the agent itself
  (``processing_seconds``: language detection and decoding by the model, not the audio file's decoding);
- **raw**: the same loaded model (the agent's engine is shared per process), called the way its own README shows:
  ``WhisperModel.transcribe(samples, beam_size=b, best_of=b)`` with the segments consumed (faster-whisper), or
  ``whisper.transcribe(model, samples, fp16=False, beam_size=b, best_of=b)`` (openai-whisper, greedy when b = 1),
  on the same decoded samples, timed around that call. Both detect the language on the first 30 s.

Reported: the median real-time factor (processing time / audio time, lower is faster) of each side, the word error
rate (median and worst run: Whisper's temperature fallback samples, so a hard window can differ between runs), and
the one-time costs, measured in a fresh cache directory: assembling the CT2 folder from its two packaged halves
(faster-whisper) and converting it into an openai-whisper checkpoint; then model load time. Needs
``kaizen-lab[audio]``, openai-whisper, espeak-ng and ffmpeg.
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
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import finish, machine_info, rewrite, row, series, trace, write_results

PARAGRAPH = (
    "The meeting starts at nine in the morning. Please bring the quarterly report and your laptop. "
    "We will discuss the budget for next year, the hiring plan, and the new office in the city centre. "
)
ENGINES = ("openai-whisper", "faster-whisper")


def _clip(folder: Path, seconds: float) -> tuple[Path, str]:
    text = PARAGRAPH * max(1, round(seconds / 14))  # espeak-ng at 150 wpm says the paragraph in ~14 s
    wav, mp3 = folder / "clip.wav", folder / "clip.mp3"
    subprocess.run(["espeak-ng", "-s", "150", "-w", str(wav), text], check=True, capture_output=True)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(wav), str(mp3)], check=True, capture_output=True)
    return mp3, text


def _raw(engine: str, model: Any, samples: Any, beam: int) -> tuple[float, str]:
    """The engine called directly on the same model and samples: (seconds, text)."""
    started = time.perf_counter()
    if engine == "faster-whisper":
        stream, _ = model.transcribe(samples, beam_size=beam, best_of=beam)
        text = " ".join(seg.text.strip() for seg in stream)
    else:
        import whisper

        out = whisper.transcribe(
            model, samples, fp16=False, verbose=None, beam_size=beam if beam > 1 else None, best_of=beam
        )
        text = str(out["text"])
    return time.perf_counter() - started, text


def measure(seconds: float, runs: int, beams: list[int]) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="kaizen-bench-audio-"))
    os.environ["KAIZEN_CACHE_DIR"] = str(work / "cache")  # a fresh cache: the one-time costs are really paid
    from kaizen_lab.audio import TranscriptionAgent, decode_audio, resolve_model, word_error_rate
    from kaizen_lab.audio.engines import load_engine

    clip, text = _clip(work, seconds)
    samples = decode_audio(clip)
    duration = len(samples) / 16_000
    assemble = resolve_model("faster-whisper", "base")
    convert = resolve_model("openai-whisper", "base")
    assert convert.converted, "the fresh cache already held a converted checkpoint"
    print(f"one-time: CT2 halves assembled + sha256-checked in {assemble.seconds:.2f} s; "
          f"CT2 → openai-whisper checkpoint in {convert.seconds:.2f} s", flush=True)  # fmt: skip
    out: dict[str, Any] = {
        "clip_seconds": duration,
        "runs": runs,
        "model": "base (multilingual)",
        "assemble_s": assemble.seconds,
        "convert_s": convert.seconds,
        "load_s": {},
        "results": {},
    }
    for engine in ENGINES:
        for beam in beams:
            agent = TranscriptionAgent(engine=engine, beam_size=beam)
            started = time.perf_counter()
            loaded = load_engine(agent.load(), agent.config.threads, agent.config.compute_type)  # shared per process
            out["load_s"].setdefault(engine, time.perf_counter() - started)  # the first load of each engine
            model = loaded.model  # type: ignore[union-attr]
            agent.transcribe(clip)  # warm-up of each side
            _raw(engine, model, samples, beam)
            kz: list[float] = []
            raw: list[float] = []
            kz_wer: list[float] = []
            raw_wer: list[float] = []
            for i in range(runs):
                for side in ("kaizen", "raw") if i % 2 == 0 else ("raw", "kaizen"):
                    if side == "kaizen":
                        r = agent.transcribe(clip)
                        kz.append(r["processing_seconds"] / duration)
                        kz_wer.append(word_error_rate(text, r["transcription"]))
                    else:
                        s, said = _raw(engine, model, samples, beam)
                        raw.append(s / duration)
                        raw_wer.append(word_error_rate(text, said))
            out["results"][f"{engine} beam {beam}"] = {
                "engine": engine,
                "beam": beam,
                "rtf": statistics.median(kz),
                "rtf_samples": kz,
                "raw_rtf": statistics.median(raw),
                "raw_rtf_samples": raw,
                "wer": statistics.median(kz_wer),
                "wer_max": max(kz_wer),
                "raw_wer": statistics.median(raw_wer),
                "raw_wer_max": max(raw_wer),
            }
            print(f"{engine}, beam {beam}: median RTF {statistics.median(kz):.3f} (raw {statistics.median(raw):.3f})",
                  flush=True)  # fmt: skip
    return out


def rows(r: dict[str, Any]) -> list[dict[str, Any]]:
    """The agent vs the raw engine it wraps; then faster-whisper vs openai-whisper, both through the agent."""
    out = []
    res = r["results"]
    for key, x in res.items():
        out.append(
            row("transcription", f"`TranscriptionAgent`, {key}: real-time factor", "RTF", x["rtf"],
                f"raw {x['engine']}, same model and samples", x["raw_rtf"])
        )  # fmt: skip
    for key, x in res.items():
        if x["engine"] == "faster-whisper" and f"openai-whisper beam {x['beam']}" in res:
            base = res[f"openai-whisper beam {x['beam']}"]
            out.append(
                row("transcription", f"`TranscriptionAgent`, {key}: real-time factor", "RTF", x["rtf"],
                    f"`TranscriptionAgent`, openai-whisper beam {x['beam']}", base["rtf"])
            )  # fmt: skip
    return out


def charts(r: dict[str, Any]) -> dict[str, dict[str, Any]]:
    beams = sorted({x["beam"] for x in r["results"].values()})
    x = [f"beam {b}" for b in beams]
    traces = []
    for engine in ENGINES:
        at = [r["results"][f"{engine} beam {b}"] for b in beams]
        traces += [
            trace(f"{engine}, agent", x, [a["rtf"] for a in at]),
            trace(f"{engine}, raw", x, [a["raw_rtf"] for a in at]),
        ]
    return {
        "rtf": series(
            f"Real-time factor on a {r['clip_seconds']:.1f} s clip (lower is faster)",
            traces,
            x_title="beam size",
            y_title="processing time / audio time",
        )
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="approximate clip length")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per side, engine and beam (after a warm-up)")
    parser.add_argument("--beams", default="5,1", help="beam sizes, comma-separated (1: greedy)")
    parser.add_argument(
        "--rewrite", action="store_true", help="rows and charts of the results file again, from its raw"
    )
    args = parser.parse_args()
    if args.rewrite:
        rewrite("transcription", rows, charts)
        return
    machine = machine_info(["torch", "openai-whisper", "faster-whisper", "ctranslate2"])
    started = time.perf_counter()
    r = measure(args.seconds, args.runs, [int(b) for b in args.beams.split(",")])
    r["seconds"] = round(time.perf_counter() - started, 1)
    finish(machine)
    print(f"\nclip: {r['clip_seconds']:.1f} s of espeak-ng speech (mp3), model: multilingual base, CPU, "
          f"{os.cpu_count()} cores; load {', '.join(f'{e} {s:.2f} s' for e, s in r['load_s'].items())}\n")  # fmt: skip
    print("| engine, beam | RTF, agent | RTF, raw | agent / raw | WER agent, median (max) | WER raw, median (max) |")
    print("|---|---:|---:|---:|---|---|")
    for key, x in r["results"].items():
        print(f"| {key} | {x['rtf']:.3f} | {x['raw_rtf']:.3f} | {x['rtf'] / x['raw_rtf']:.2f}x | "
              f"{x['wer']:.3f} ({x['wer_max']:.3f}) | {x['raw_wer']:.3f} ({x['raw_wer_max']:.3f}) |")  # fmt: skip
    print(f"\none-time preparation: convert {r['convert_s']:.2f} s, assemble {r['assemble_s']:.2f} s; {r['seconds']} s")
    write_results(
        "transcription",
        title="Speech to text: TranscriptionAgent vs the raw engines",
        command=".venv/bin/python bench/transcription.py",
        machine=machine,
        rows=rows(r),
        series=charts(r),
        raw=r,
    )


if __name__ == "__main__":
    main()
