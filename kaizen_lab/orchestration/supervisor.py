"""Supervisor-worker: decompose a task, route each subtask to the best worker by capability, collect, synthesise."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .._sync import run_sync
from ..agents.base import BaseAgent
from ..exceptions import ConfigurationError, PatternError
from ..signatures import InputField, OutputField, Signature
from .capabilities import CapabilityMatcher
from .runtime import PatternBudget, PatternRun, agent_inputs, main_text
from .transcript import PatternResult

if TYPE_CHECKING:
    from .pool import SharedMemoryPool

__all__ = ["DecomposeSignature", "SupervisorAgent", "SupervisorWorkerPattern", "SynthesizeSignature"]


class DecomposeSignature(Signature):
    """Break the task into independent subtasks, each one a complete instruction a specialist can do alone. Use
    as few subtasks as the task needs (one is fine for a simple task)."""

    task: str = InputField(desc="The task to break down")
    subtasks: list[str] = OutputField(desc="Self-contained subtasks, in the order their results should be read")


class SynthesizeSignature(Signature):
    """Combine the specialists' findings into one answer to the task. Say which parts failed, if any."""

    task: str = InputField(desc="The original task")
    findings: str = InputField(desc="Each subtask with the specialist who did it and what they found")
    answer: str = OutputField(desc="The answer to the original task")


class SupervisorAgent(BaseAgent):
    """Plans and routes: decomposes tasks, picks the worker whose capability card is closest in meaning to each
    subtask, and synthesises what the workers found."""

    default_signature = DecomposeSignature
    description = "Breaks tasks into subtasks, routes each to the best specialist, and combines their findings."

    def __init__(
        self, config: Any = None, *, matcher: CapabilityMatcher | None = None, max_subtasks: int = 6, **kw: Any
    ) -> None:
        super().__init__(config, **kw)
        if max_subtasks < 1:
            raise ConfigurationError("max_subtasks must be at least 1")
        self.matcher = matcher or CapabilityMatcher()
        self.max_subtasks = max_subtasks

    def select_worker_for_task(
        self, task: str, available_workers: Sequence[BaseAgent], return_score: bool = False
    ) -> Any:
        """The worker whose capabilities best match ``task`` (``{"worker": w, "score": s}`` with return_score)."""
        worker, score = self.matcher.rank(task, available_workers)[0]
        return {"worker": worker, "score": score} if return_score else worker

    def subtasks_of(self, result: dict[str, Any], task: str) -> list[str]:
        """The decomposition, cleaned: non-empty, no repeats, at most ``max_subtasks``; the task itself when the
        model gave none."""
        raw = result.get("subtasks") or []
        cleaned = list(dict.fromkeys(s.strip() for s in raw if isinstance(s, str) and s.strip()))
        return cleaned[: self.max_subtasks] or [task]

    def synthesizer(self) -> BaseAgent:
        return self.with_signature(SynthesizeSignature)


class SupervisorWorkerPattern:
    """``execute_task(task)``: the supervisor decomposes; each subtask goes to the best-matching worker (its
    runner-up takes over when it keeps failing); workers run concurrently (at most ``concurrency`` at once); the
    ``coordinator`` (or the supervisor) synthesises. Findings are posted to ``shared_pool`` when one is given."""

    def __init__(
        self,
        supervisor: SupervisorAgent,
        workers: Sequence[BaseAgent],
        coordinator: BaseAgent | None = None,
        shared_pool: SharedMemoryPool | None = None,
        *,
        concurrency: int = 4,
        retries: int = 1,
        budget: PatternBudget | None = None,
    ) -> None:
        if not workers:
            raise ConfigurationError("SupervisorWorkerPattern needs at least one worker.")
        _unique_names([supervisor, *workers])
        for agent in [*workers, *([coordinator] if coordinator else [])]:
            agent_inputs(agent, "check", task="", findings="", context="")  # one free input: fails here, not mid-run
        if coordinator is not None:
            _unique_names([supervisor, *workers, coordinator])
        self.supervisor = supervisor
        self.workers = list(workers)
        self.coordinator = coordinator
        self.shared_pool = shared_pool
        self.concurrency = concurrency
        self.retries = retries
        self.budget = budget

    def execute_task(self, task: str, subtasks: Sequence[str] | None = None) -> PatternResult:
        """Run the pattern; pass ``subtasks`` when you already know the split (the supervisor then only routes
        and synthesises)."""
        return run_sync(self.aexecute_task(task, subtasks))

    async def aexecute_task(self, task: str, subtasks: Sequence[str] | None = None) -> PatternResult:
        if not isinstance(task, str) or not task.strip():
            raise ConfigurationError("execute_task needs a non-empty task string.")
        run = PatternRun("supervisor-worker", budget=self.budget, concurrency=self.concurrency, retries=self.retries)
        if isinstance(subtasks, str):
            raise ConfigurationError("subtasks must be a list of strings, not one string.")
        if subtasks is None:
            _, plan = await run.ask(self.supervisor, {"task": task}, round=0, role="supervisor", task=task)
            plan_items = self.supervisor.subtasks_of(plan, task)
        else:
            plan_items = self.supervisor.subtasks_of({"subtasks": list(subtasks)}, task)
            if len([s for s in subtasks if str(s).strip()]) > len(plan_items):
                run.warnings.append(
                    f"Only the first {len(plan_items)} of the {len(subtasks)} given subtasks ran (max_subtasks)."
                )
        subtasks = plan_items
        self.supervisor.matcher.prepare(subtasks)  # one embedding batch for the whole plan
        routes = [self.supervisor.matcher.rank(sub, self.workers) for sub in subtasks]
        done = await run.gather([self._work(run, sub, ranked) for sub, ranked in zip(subtasks, routes, strict=True)])
        findings = "\n\n".join(
            f"Subtask {n}: {d['task']}\nSpecialist: {d['worker'] or 'none'}\nFound: {d['result']}"
            for n, d in enumerate(done, 1)
        )
        synthesizer = self.coordinator or self.supervisor.synthesizer()
        role = "coordinator" if self.coordinator else "supervisor"
        inputs = agent_inputs(synthesizer, f"Task: {task}\n\n{findings}", task=task, findings=findings)
        _, final = await run.ask(synthesizer, inputs, round=2, role=role, task=task)
        return run.result({"task": task, "answer": main_text(final), "subtasks": done})

    async def _work(self, run: PatternRun, subtask: str, ranked: list[tuple[BaseAgent, float]]) -> dict[str, Any]:
        (worker, score), others = ranked[0], ranked[1:]
        extra = {} if self.shared_pool is None else {"context": self.shared_pool.context_for(worker)}
        try:
            who, result = await run.ask(
                worker,
                agent_inputs(worker, subtask, **extra),
                round=1,
                role="worker",
                task=subtask,
                score=score,
                replacements=others,
                prepare=lambda w: agent_inputs(w, subtask, **extra),
            )
        except PatternError as e:
            run.warnings.append(f"Subtask {subtask!r} failed with every worker: {e.attempts[-1]}")
            return {"task": subtask, "worker": None, "score": score, "result": "(failed)", "ok": False}
        text = main_text(result)
        if self.shared_pool is not None:
            self.shared_pool.write(who, {"task": subtask, "finding": text}, tags=("finding",))
        chosen = next(s for w, s in ranked if w is who)
        return {"task": subtask, "worker": who.name, "score": chosen, "result": text, "ok": True}


def _unique_names(agents: Sequence[BaseAgent]) -> None:
    names = [a.name for a in agents]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ConfigurationError(
            f"Agents in a pattern need distinct names (the transcript tells them apart by name); {repeated} appear "
            "more than once. Pass name='...' to each agent."
        )
