"""Each pattern once end to end on the embedded model (SmolLM2-135M): the plumbing is real — constrained outputs,
votes within range, a verdict — even if a 135M model's arguments are weak."""

from __future__ import annotations

import pytest

from kaizen_lab import BaseAgent
from kaizen_lab.llm.local import local_model_available
from kaizen_lab.orchestration import ConsensusPattern, DebatePattern, SupervisorAgent, SupervisorWorkerPattern

pytestmark = [
    pytest.mark.local_model,
    pytest.mark.skipif(not local_model_available(), reason="embedded model not installed (make install)"),
]


def local(name: str, **kw) -> BaseAgent:
    return BaseAgent(signature="question -> answer", llm_provider="local", max_tokens=96, name=name, **kw)


def test_debate_on_the_embedded_model():
    result = DebatePattern(local("pro"), local("con"), local("judge"), rounds=1).debate(
        "Cats make better pets than dogs"
    )
    assert result["verdict"] in {"for", "against"} and 0 <= result["confidence"] <= 1
    assert [c.role for c in result.transcript] == ["proponent", "opponent", "judge"]
    assert all(c.tokens > 0 and c.error is None for c in result.transcript)
    assert result.transcript[0].data["argument"].strip()


def test_consensus_votes_stay_within_the_options_on_the_embedded_model():
    result = ConsensusPattern([local("a"), local("b"), local("c")], max_rounds=2).decide("What colour is the sky?")
    assert 1 <= len(result["proposals"]) <= 3
    assert all(1 <= choice <= len(result["proposals"]) for ballot in result["votes"] for choice in ballot.values())
    assert result["rounds"] <= 2 and len(result["votes"]) == result["rounds"]
    if result["consensus"]:
        final = list(result["votes"][-1].values()) if result["votes"] else []
        assert result["decision"] in result["proposals"] and result["support"] >= 0.66
        assert not final or final.count(result["proposals"].index(result["decision"]) + 1) / 3 == result["support"]


def test_supervisor_worker_on_the_embedded_model():
    supervisor = SupervisorAgent(llm_provider="local", max_tokens=128, max_subtasks=2, name="lead")
    workers = [
        local("geographer", capabilities=["Capitals, countries and maps"]),
        local("mathematician", capabilities=["Arithmetic and equations"]),
    ]
    result = SupervisorWorkerPattern(supervisor, workers).execute_task("What is the capital of France, and 2+2?")
    assert 1 <= len(result["subtasks"]) <= 2 and all(s["ok"] for s in result["subtasks"])
    assert isinstance(result["answer"], str) and result["answer"].strip()
