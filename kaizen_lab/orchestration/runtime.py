"""How a pattern calls its agents: bounded concurrency, retries, replacement of a failing agent, one budget for
the whole pattern, and every call recorded in the transcript."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from .._secrets import redact
from ..exceptions import AgentInterrupted, BudgetExceededError, ConfigurationError, HookVetoError, PatternError
from .transcript import Contribution, PatternResult, PatternTranscript

if TYPE_CHECKING:
    from ..agents.base import BaseAgent
    from ..agents.result import AgentResult

__all__ = ["PatternBudget", "PatternRun", "agent_inputs", "main_text"]

T = TypeVar("T")

# Output fields read as "what the agent said", in this order of preference.
_TEXT_FIELDS = ("answer", "result", "summary", "argument", "proposal", "response", "text", "output", "reasoning")
# Errors that stop the pattern at once: retrying or replacing the agent cannot help.
_FATAL = (AgentInterrupted, BudgetExceededError, ConfigurationError, HookVetoError, asyncio.CancelledError)


class _Spend:
    """What a failed attempt cost (it may have paid for calls before failing)."""

    def __init__(self, tokens: int, cost: float) -> None:
        self.tokens, self.cost = tokens, cost


class PatternBudget:
    """One budget for a whole pattern (all its agents): checked when a call is about to start, charged with what
    it cost (failed attempts included). Calls already running when it runs out finish, so a fan-out can overspend
    by at most ``concurrency`` calls. It adds up over every run of the pattern it is given to: a fresh
    PatternBudget per run gives each run its own limit."""

    def __init__(self, max_cost: float | None = None, max_tokens: int | None = None) -> None:
        if (max_cost is not None and max_cost < 0) or (max_tokens is not None and max_tokens < 0):
            raise ConfigurationError("A pattern budget cannot be negative.")
        self.max_cost = max_cost
        self.max_tokens = max_tokens
        self.cost = 0.0
        self.tokens = 0

    def check(self, what: str) -> None:
        if self.max_cost is not None and self.cost >= self.max_cost:
            raise BudgetExceededError(
                f"The pattern's budget of ${self.max_cost:.4f} is spent (${self.cost:.4f}); {what} was not started. "
                "Raise budget=PatternBudget(max_cost=...) or use fewer rounds/workers.",
                limit=self.max_cost,
                spent=self.cost,
            )
        if self.max_tokens is not None and self.tokens >= self.max_tokens:
            raise BudgetExceededError(
                f"The pattern's budget of {self.max_tokens:,} tokens is spent ({self.tokens:,}); {what} was not "
                "started. Raise budget=PatternBudget(max_tokens=...) or use fewer rounds/workers.",
                limit=self.max_tokens,
                spent=self.tokens,
            )

    def charge(self, cost: float, tokens: int) -> None:
        self.cost += cost
        self.tokens += tokens

    def __repr__(self) -> str:
        return (
            f"PatternBudget(max_cost={self.max_cost}, max_tokens={self.max_tokens}, "
            f"spent=${self.cost:.4f} and {self.tokens:,} tokens)"
        )


def agent_inputs(agent: BaseAgent, text: str, **known: Any) -> dict[str, Any]:
    """The inputs for ``agent``: ``known`` values its signature asks for by name, and ``text`` in the first
    required input still missing — so a pattern can hand any single-input agent a task."""
    fields = agent.signature.input_fields
    inputs = {k: v for k, v in known.items() if k in fields}
    missing = [k for k, spec in fields.items() if spec.required and k not in inputs]
    if len(missing) > 1:
        raise ConfigurationError(
            f"{agent.name} needs inputs {missing}, but a pattern gives an agent one text (plus {sorted(known)}); "
            f"give {agent.name} a signature with one required input, or defaults for the others."
        )
    if missing:
        inputs[missing[0]] = text
    elif text and not inputs:
        inputs[next(iter(fields))] = text
    return inputs


def main_text(result: dict[str, Any]) -> str:
    """What an agent said, as one text: its answer-like output, else its first text output."""
    for name in _TEXT_FIELDS:
        if result.get(name) is not None:
            return str(result[name])
    for value in result.values():
        if isinstance(value, str):
            return value
    return str(dict(result))


class PatternRun:
    """One execution of a pattern: the clock, the transcript, the warnings, the budget, the concurrency."""

    def __init__(
        self, name: str, *, budget: PatternBudget | None = None, concurrency: int = 4, retries: int = 1
    ) -> None:
        if concurrency < 1 or retries < 0:
            raise ConfigurationError("concurrency must be at least 1 and retries at least 0.")
        self.name = name
        self.budget = budget or PatternBudget()
        self.retries = retries
        self.transcript = PatternTranscript()
        self.warnings: list[str] = []
        self._semaphore = asyncio.Semaphore(concurrency)
        self._t0 = time.perf_counter()

    def now(self) -> float:
        return time.perf_counter() - self._t0

    async def ask(
        self,
        agent: BaseAgent,
        inputs: dict[str, Any],
        *,
        round: int,
        role: str,
        task: str | None = None,
        score: float | None = None,
        stance: Callable[[AgentResult], str | None] | None = None,
        replacements: Sequence[tuple[BaseAgent, float | None]] = (),
        prepare: Callable[[BaseAgent], dict[str, Any]] | None = None,
        session_id: str | None = None,
    ) -> tuple[BaseAgent, AgentResult]:
        """Run ``agent`` (retrying ``retries`` times), then each replacement in turn, until one succeeds; every
        attempt is a contribution. Interrupts and an exhausted budget stop the pattern at once."""
        candidates = [(agent, score), *replacements]
        errors: list[str] = []
        for n, (who, who_score) in enumerate(candidates):
            who_inputs = inputs if n == 0 or prepare is None else prepare(who)
            for attempt in range(1, self.retries + 2):
                async with self._semaphore:  # checked once a slot is ours: at most `concurrency` calls overspend
                    self.budget.check(f"{who.name}'s {role} call")
                    started = self.now()
                    paid = len(who.usage.records)
                    try:
                        result = await who.arun(session_id=session_id, **who_inputs)
                    except _FATAL:
                        raise
                    except Exception as e:  # a failing agent is retried or replaced, and the result says so
                        error = redact(f"{type(e).__name__}: {e}")
                        errors.append(f"{who.name} (attempt {attempt}): {error}")
                        spent = who.usage.records[paid:]  # a failed run may still have paid for calls
                        cost = sum(r.cost for r in spent)
                        tokens = sum(r.prompt_tokens + r.completion_tokens for r in spent)
                        self.budget.charge(cost, tokens)
                        failed = _Spend(tokens, cost)
                        self._record(who, failed, round, role, task, who_score, stance, started, attempt, error)
                        continue
                self._record(who, result, round, role, task, who_score, stance, started, attempt, None)
                if n or attempt > 1:
                    how = f"replaced by {who.name}" if n else f"succeeded on attempt {attempt}"
                    self.warnings.append(f"{agent.name} failed as {role}{f' on {task!r}' if task else ''}; {how}.")
                return who, result
        raise PatternError(
            f"No agent could do the {role} step{f' {task!r}' if task else ''} of {self.name}: " + "; ".join(errors),
            attempts=errors,
        )

    async def try_ask(
        self, agent: BaseAgent, inputs: dict[str, Any], **kw: Any
    ) -> tuple[BaseAgent, AgentResult] | None:
        """Like :meth:`ask`, but an agent that cannot take part this time (every attempt failed) is left out with
        a warning instead of failing the pattern."""
        try:
            return await self.ask(agent, inputs, **kw)
        except PatternError as e:
            self.warnings.append(f"{agent.name} was left out of round {kw.get('round')}: {e.attempts[-1]}")
            return None

    def _record(
        self,
        agent: BaseAgent,
        result: AgentResult | _Spend,
        round: int,
        role: str,
        task: str | None,
        score: float | None,
        stance: Callable[[AgentResult], str | None] | None,
        started: float,
        attempt: int,
        error: str | None,
    ) -> None:
        message, confidence, said = "", None, None
        if isinstance(result, _Spend):
            tokens, cost = result.tokens, result.cost
        else:
            tokens, cost = result.usage.total_tokens, result.cost
            self.budget.charge(cost, tokens)
            message = main_text(result)
            value = result.get("confidence")
            confidence = float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
            said = stance(result) if stance is not None else None
        self.transcript.append(
            Contribution(
                round=round,
                speaker=agent.name,
                role=role,
                message=message,
                stance=said,
                confidence=confidence,
                tokens=tokens,
                cost=cost,
                started=started,
                ended=self.now(),
                task=task,
                score=score,
                attempt=attempt,
                error=error,
                data={} if isinstance(result, _Spend) else dict(result),
            )
        )

    async def gather(self, jobs: Sequence[Awaitable[T]]) -> list[T]:
        """Run jobs concurrently (each ``ask`` holds a slot of the semaphore only while its agent runs). When one
        fails — an interrupt, the budget, a step nobody could do — the others are cancelled before the error
        propagates: nothing keeps running, or paying, after the pattern has stopped."""
        tasks = [asyncio.ensure_future(job) for job in jobs]
        try:
            return list(await asyncio.gather(*tasks))
        except BaseException:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    def result(self, outputs: dict[str, Any]) -> PatternResult:
        result = PatternResult(self.name, outputs, self.transcript, self.now())
        result.warnings.extend(self.warnings)
        return result
