"""Debate: a proponent and an opponent argue over N rounds; a judge gives the verdict with confidence and reasons."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from .._sync import run_sync
from ..agents.base import BaseAgent
from ..exceptions import ConfigurationError
from ..signatures import InputField, OutputField, Signature
from .runtime import PatternBudget, PatternRun
from .supervisor import _unique_names
from .transcript import PatternResult

__all__ = ["ArgueSignature", "DebatePattern", "JudgeSignature"]


class ArgueSignature(Signature):
    """Argue your side of the motion. Answer the other side's latest points; do not repeat yourself. Rate how
    convinced you are of your side now, from 0 (not at all) to 1 (certain)."""

    motion: str = InputField(desc="What is being debated")
    side: str = InputField(desc="'for' or 'against' the motion: the side you argue")
    debate_so_far: str = InputField(desc="The arguments made so far, oldest first")
    argument: str = OutputField(desc="Your argument for this round, at most a short paragraph")
    confidence: float = OutputField(desc="How convinced you are of your side now, 0 to 1")


class JudgeSignature(Signature):
    """Judge the debate on the strength of the arguments made, not on your own prior opinion."""

    motion: str = InputField(desc="What was debated")
    debate: str = InputField(desc="Every argument, by round and side")
    decision: Literal["for", "against"] = OutputField(desc="Which side argued better")
    confidence: float = OutputField(desc="How clear the decision is, 0 to 1")
    reasoning: str = OutputField(desc="Why, citing the decisive arguments")


class DebatePattern:
    """``debate(motion)``: per round the proponent argues for, then the opponent against (answering it); after
    ``rounds`` rounds the judge decides. Result: ``verdict`` ("for"/"against"), ``winner``, ``confidence``,
    ``reasoning``; the transcript holds every argument with its side and the debater's confidence."""

    def __init__(
        self,
        proponent: BaseAgent,
        opponent: BaseAgent,
        judge: BaseAgent,
        *,
        rounds: int = 3,
        retries: int = 1,
        budget: PatternBudget | None = None,
    ) -> None:
        if rounds < 1:
            raise ConfigurationError("A debate needs at least one round.")
        _unique_names([proponent, opponent, judge])
        self.proponent, self.opponent, self.judge = proponent, opponent, judge
        self.rounds = rounds
        self.retries = retries
        self.budget = budget

    def debate(self, motion: str) -> PatternResult:
        return run_sync(self.adebate(motion))

    async def adebate(self, motion: str) -> PatternResult:
        if not isinstance(motion, str) or not motion.strip():
            raise ConfigurationError("debate needs a non-empty motion.")
        run = PatternRun("debate", budget=self.budget, concurrency=1, retries=self.retries)
        sides = [(self.proponent, "for"), (self.opponent, "against")]
        arguing = {agent.name: agent.with_signature(ArgueSignature) for agent, _ in sides}
        said: list[str] = []
        for round_no in range(1, self.rounds + 1):
            for agent, side in sides:
                inputs = {"motion": motion, "side": side, "debate_so_far": "\n\n".join(said) or "(nothing yet)"}
                _, result = await run.ask(
                    arguing[agent.name], inputs, round=round_no, role=_ROLE[side], stance=_side(side)
                )
                said.append(f"Round {round_no}, {side} ({agent.name}): {result['argument']}")
        judging = self.judge.with_signature(JudgeSignature)
        _, verdict = await run.ask(
            judging,
            {"motion": motion, "debate": "\n\n".join(said)},
            round=self.rounds + 1,
            role="judge",
            stance=lambda r: str(r["decision"]),
        )
        winner = self.proponent if verdict["decision"] == "for" else self.opponent
        return run.result(
            {
                "motion": motion,
                "verdict": verdict["decision"],
                "winner": winner.name,
                "confidence": float(verdict["confidence"]),
                "reasoning": verdict["reasoning"],
            }
        )


_ROLE = {"for": "proponent", "against": "opponent"}


def _side(side: str) -> Callable[[Any], str]:
    return lambda _result: side
