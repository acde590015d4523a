"""Consensus: every agent proposes, then all vote over rounds — seeing each other's votes and reasons — until one
proposal has the threshold share of the votes, or the rounds run out."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any, Literal, cast

from .._sync import run_sync
from ..agents.base import BaseAgent
from ..exceptions import ConfigurationError, PatternError
from ..signatures import InputField, OutputField, Signature
from .runtime import PatternBudget, PatternRun, main_text
from .supervisor import _unique_names
from .transcript import PatternResult

__all__ = ["ConsensusPattern", "ProposeSignature"]


class ProposeSignature(Signature):
    """Propose your answer to the question, briefly, with how sure you are (0 to 1)."""

    question: str = InputField(desc="The question the group must agree on")
    proposal: str = OutputField(desc="Your proposed answer, one or two sentences")
    confidence: float = OutputField(desc="How sure you are, 0 to 1")


class _Ballot(Signature):
    """Vote for the proposal you find best. You may change your vote when the others' reasons convince you."""

    question: str = InputField(desc="The question")
    proposals: str = InputField(desc="The numbered proposals")
    discussion: str = InputField(desc="Last round's votes with their reasons (empty in the first round)")
    choice: int = OutputField(desc="The number of the proposal you vote for")
    confidence: float = OutputField(desc="How sure you are, 0 to 1")
    reasoning: str = OutputField(desc="Why, in one sentence")


def vote_signature(options: int) -> type[Signature]:
    """A ballot for ``options`` proposals: ``choice`` is constrained to a valid option number."""
    choice = Literal[tuple(range(1, options + 1))]  # type: ignore[valid-type]
    namespace = {
        "__doc__": _Ballot.__doc__,
        "__module__": __name__,
        "__annotations__": {"choice": choice},
        "choice": OutputField(desc="The number of the proposal you vote for"),
    }
    meta: Any = type(_Ballot)
    return cast(type[Signature], meta("VoteSignature", (_Ballot,), namespace))


class ConsensusPattern:
    """``decide(question)``: proposals, then voting rounds until a proposal reaches ``threshold`` of the votes.

    A proposal wins with ``threshold`` of all agents' votes (an agent that could not vote counts as not
    supporting it) and strictly more votes than any other. Identical proposals merge; when all are identical there
    is nothing to vote on.

    Result: ``decision`` (the winning proposal, or None), ``consensus`` (bool), ``support`` (its share),
    ``rounds``, ``proposals`` and ``votes`` (per round, who voted for which option); the transcript records
    every proposal and vote with its reasoning, so who changed their mind is visible.
    """

    def __init__(
        self,
        agents: Sequence[BaseAgent],
        *,
        threshold: float = 0.66,
        max_rounds: int = 3,
        concurrency: int = 4,
        retries: int = 1,
        budget: PatternBudget | None = None,
    ) -> None:
        if len(agents) < 2:
            raise ConfigurationError("Consensus needs at least two agents.")
        if not 0 < threshold <= 1 or max_rounds < 1:
            raise ConfigurationError("threshold must be in (0, 1] and max_rounds at least 1.")
        _unique_names(agents)
        self.agents = list(agents)
        self.threshold = threshold
        self.max_rounds = max_rounds
        self.concurrency = concurrency
        self.retries = retries
        self.budget = budget

    def decide(self, question: str) -> PatternResult:
        return run_sync(self.adecide(question))

    async def adecide(self, question: str) -> PatternResult:
        if not isinstance(question, str) or not question.strip():
            raise ConfigurationError("decide needs a non-empty question.")
        run = PatternRun("consensus", budget=self.budget, concurrency=self.concurrency, retries=self.retries)
        proposing = [a.with_signature(ProposeSignature) for a in self.agents]
        proposed = await run.gather(
            [run.try_ask(a, {"question": question}, round=0, role="proposer", stance=_proposal) for a in proposing]
        )
        proposals = list(dict.fromkeys(main_text(p[1]).strip() for p in proposed if p))  # identical ones merge
        proposed_by = {
            text: [who.name for who, r in filter(None, proposed) if main_text(r).strip() == text] for text in proposals
        }
        if not proposals:
            raise PatternError("No agent could make a proposal.", attempts=run.warnings)
        if len(proposals) == 1:  # everyone proposed the same thing: nothing to vote on
            return run.result(
                {
                    "question": question,
                    "decision": proposals[0],
                    "consensus": True,
                    "support": round(len(proposed_by[proposals[0]]) / len(self.agents), 4),
                    "threshold": self.threshold,
                    "rounds": 0,
                    "proposals": proposals,
                    "proposed_by": proposed_by,
                    "votes": [],
                    "support_by_round": [],
                }
            )
        numbered = "\n".join(f"{n}. {p}" for n, p in enumerate(proposals, 1))
        voting = [a.with_signature(vote_signature(len(proposals))) for a in self.agents]
        votes: list[dict[str, int]] = []
        support_by_round: list[float] = []
        discussion = ""
        support, winner = 0.0, None
        for round_no in range(1, self.max_rounds + 1):
            inputs = {"question": question, "proposals": numbered, "discussion": discussion}
            cast_ = await run.gather(
                [run.try_ask(a, inputs, round=round_no, role="voter", stance=_option) for a in voting]
            )
            ballots = [b for b in cast_ if b is not None]
            if not ballots:
                raise PatternError(f"Nobody could vote in round {round_no}.", attempts=run.warnings)
            votes.append({who.name: int(result["choice"]) for who, result in ballots})
            ranked = Counter(votes[-1].values()).most_common(2)
            top, count = ranked[0]
            tied = len(ranked) > 1 and ranked[1][1] == count
            support = count / len(self.agents)  # of everyone, not of those who managed to vote
            support_by_round.append(round(support, 4))
            discussion = "\n".join(
                f"{who.name} voted {int(result['choice'])}: {result['reasoning']}" for who, result in ballots
            )
            if support >= self.threshold and not tied:
                winner = proposals[top - 1]
                break
        return run.result(
            {
                "question": question,
                "decision": winner,
                "consensus": winner is not None,
                "support": round(support, 4),
                "threshold": self.threshold,
                "rounds": len(votes),
                "proposals": proposals,
                "proposed_by": proposed_by,
                "votes": votes,
                "support_by_round": support_by_round,
            }
        )


def _proposal(result: Any) -> str:
    return "proposal"


def _option(result: Any) -> str:
    return f"option {int(cast(dict[str, Any], result)['choice'])}"
