"""Benchmark 2: framework overhead of one structured call against a model that answers instantly.

The same signature everywhere: ``question -> answer: str, confidence: float``, with the same instructions and
field descriptions, and a fake model that replies ``{"answer": "Paris", "confidence": 0.9}``:

- kaizen_lab: ``BaseAgent(..., llm=LLM(FunctionProvider(...))).run(question=...)``;
  ``kaizen-mock`` is the same agent with ``llm_provider="mock"`` (schema-built reply);
- DSPy: ``dspy.Predict`` with ``dspy.utils.DummyLM`` (its ChatAdapter formats and parses the fields);
- pydantic-ai: ``Agent(TestModel(custom_output_args=...), output_type=QA).run_sync(...)``.

Each framework runs in its own fresh interpreter (a worker: ``python bench/overhead.py NAME``), so no framework's
imports or garbage slow another's calls. Each worker warms up and sizes its batches to about ``BATCH_SECONDS``; then
the parent asks the workers for ``BATCHES`` timed batches round-robin, so background load hits every framework
alike. Reported: the median microseconds per call. ``python bench/overhead.py kaizen --profile`` prints a cProfile
of the kaizen calls instead.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from common import ROOT, child_env, median

FRAMEWORKS = ["kaizen", "kaizen-mock", "dspy", "pydantic-ai"]
QUESTION = "What is the capital of France?"
INSTRUCTIONS = "Answer the question accurately and concisely, with a confidence score."
QUESTION_DESC = "The question to answer"
ANSWER_DESC = "Clear, accurate answer"
CONFIDENCE_DESC = "Confidence score 0.0-1.0"
REPLY = {"answer": "Paris", "confidence": 0.9}
WARMUP_CALLS = 200
BATCHES = 7
BATCH_SECONDS = 0.3


def kaizen_call(provider: str = "function") -> Callable[[], dict[str, Any]]:
    from kaizen_lab import LLM, BaseAgent, FunctionProvider, InputField, OutputField, Signature

    class QA(Signature):
        __doc__ = INSTRUCTIONS
        question: str = InputField(desc=QUESTION_DESC)
        answer: str = OutputField(desc=ANSWER_DESC)
        confidence: float = OutputField(desc=CONFIDENCE_DESC)

    if provider == "mock":
        agent = BaseAgent(signature=QA, llm_provider="mock")
    else:
        agent = BaseAgent(signature=QA, llm=LLM(FunctionProvider(lambda messages, request: REPLY)))
    return lambda: dict(agent.run(question=QUESTION))


def dspy_call() -> Callable[[], dict[str, Any]]:
    import dspy
    from dspy.utils import DummyLM

    class QA(dspy.Signature):
        __doc__ = INSTRUCTIONS
        question: str = dspy.InputField(desc=QUESTION_DESC)
        answer: str = dspy.OutputField(desc=ANSWER_DESC)
        confidence: float = dspy.OutputField(desc=CONFIDENCE_DESC)

    # The dict form answers every prompt whose last message contains the key, for as many calls as we make.
    dspy.configure(lm=DummyLM({QUESTION: REPLY}))
    predict = dspy.Predict(QA)

    def call() -> dict[str, Any]:
        prediction = predict(question=QUESTION)
        return {"answer": prediction.answer, "confidence": prediction.confidence}

    return call


def pydantic_ai_call() -> Callable[[], dict[str, Any]]:
    from pydantic import BaseModel, Field
    from pydantic_ai import Agent
    from pydantic_ai.models.test import TestModel

    class QA(BaseModel):
        answer: str = Field(description=ANSWER_DESC)
        confidence: float = Field(description=CONFIDENCE_DESC)

    agent = Agent(TestModel(custom_output_args=REPLY), output_type=QA, instructions=INSTRUCTIONS)
    return lambda: agent.run_sync(QUESTION).output.model_dump()


def make_call(framework: str) -> Callable[[], dict[str, Any]]:
    if framework == "kaizen":
        return kaizen_call()
    if framework == "kaizen-mock":
        return kaizen_call("mock")
    if framework == "dspy":
        return dspy_call()
    if framework == "pydantic-ai":
        return pydantic_ai_call()
    raise SystemExit(f"unknown framework {framework!r}; use one of {FRAMEWORKS}")


def batch_size(call: Callable[[], Any]) -> int:
    """Warm up, then choose a call count that takes about BATCH_SECONDS."""
    started = time.perf_counter()
    for _ in range(WARMUP_CALLS):
        call()
    per_call = (time.perf_counter() - started) / WARMUP_CALLS
    return max(20, min(20_000, int(BATCH_SECONDS / per_call)))


def time_batch(call: Callable[[], Any], n: int) -> float:
    """Microseconds per call over n calls."""
    started = time.perf_counter()
    for _ in range(n):
        call()
    return 1e6 * (time.perf_counter() - started) / n


def profile(call: Callable[[], Any], calls: int = 2000, top: int = 25) -> None:
    import cProfile
    import pstats

    for _ in range(WARMUP_CALLS):
        call()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(calls):
        call()
    profiler.disable()
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(top)


def main(framework: str, *flags: str) -> None:
    """Worker: check the reply, warm up, print the batch size; then time one batch per line read from stdin."""
    call = make_call(framework)
    reply = call()
    expected = {"answer": "mock answer", "confidence": 0.5} if framework == "kaizen-mock" else REPLY
    if reply != expected:
        raise SystemExit(f"{framework} returned {reply!r}, expected {expected!r}")
    if "--profile" in flags:
        profile(call)
        return
    n = batch_size(call)
    print(n, flush=True)
    for _ in sys.stdin:
        print(time_batch(call, n), flush=True)


def measure() -> dict[str, Any]:
    """One worker per framework, started one after the other; then BATCHES batches each, taken round-robin."""
    workers: dict[str, subprocess.Popen[str]] = {}
    sizes: dict[str, int] = {}
    samples: dict[str, list[float]] = {name: [] for name in FRAMEWORKS}
    try:
        for name in FRAMEWORKS:
            workers[name] = subprocess.Popen(
                [sys.executable, __file__, name],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env=child_env(),
                cwd=ROOT,
            )
            sizes[name] = int(_read(workers[name]))  # set up and warmed up before the next one starts
        for _ in range(BATCHES):
            for name, worker in workers.items():
                assert worker.stdin is not None
                worker.stdin.write("batch\n")
                worker.stdin.flush()
                samples[name].append(float(_read(worker)))
    finally:
        for worker in workers.values():
            if worker.stdin is not None:
                worker.stdin.close()
            worker.wait(timeout=60)
    return {
        name: {"median_us": median(s), "samples_us": s, "calls_per_batch": sizes[name]} for name, s in samples.items()
    }


def _read(worker: subprocess.Popen[str]) -> str:
    assert worker.stdout is not None
    line = worker.stdout.readline()
    if not line:
        raise RuntimeError(f"benchmark worker {worker.args} exited with {worker.wait()}")
    return line


if __name__ == "__main__":
    main(*sys.argv[1:])
