"""Sequential: a pipeline of agents where each stage's outputs become the next stages' inputs, by field name and
type, checked when the pipeline is built — not halfway through a paid run."""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from .._sync import run_sync
from ..agents.base import BaseAgent
from ..exceptions import ConfigurationError
from .runtime import PatternBudget, PatternRun
from .supervisor import _unique_names
from .transcript import PatternResult

__all__ = ["SequentialPattern", "Stage"]

Stage = BaseAgent | tuple[BaseAgent, Mapping[str, str]]  # (agent, {its input: earlier output or input name})


class SequentialPattern:
    """``run(**inputs)``: stage 1 gets the inputs; every later stage gets, for each input field, the value of the
    same-named (or ``mapping``-renamed) output of the latest earlier stage that produced it — or of the pipeline's
    inputs. A missing field or an incompatible type is a ConfigurationError at construction time."""

    def __init__(self, stages: Sequence[Stage], *, retries: int = 1, budget: PatternBudget | None = None) -> None:
        if not stages:
            raise ConfigurationError("SequentialPattern needs at least one stage.")
        self.stages: list[tuple[BaseAgent, dict[str, str]]] = [
            (s, {}) if isinstance(s, BaseAgent) else (s[0], dict(s[1])) for s in stages
        ]
        _unique_names([agent for agent, _ in self.stages])
        self.retries = retries
        self.budget = budget
        self._check()

    @property
    def inputs(self) -> dict[str, Any]:
        """The pipeline's inputs: the first stage's."""
        first = self.stages[0][0].signature
        return {name: spec.annotation for name, spec in first.input_fields.items()}

    def _check(self) -> None:
        available: dict[str, tuple[Any, str]] = {k: (t, "the pipeline's inputs") for k, t in self.inputs.items()}
        for n, (agent, mapping) in enumerate(self.stages):
            sig = agent.signature
            unknown = set(mapping) - set(sig.input_fields)
            if unknown:
                raise ConfigurationError(
                    f"Stage {n + 1} ({agent.name}) maps {sorted(unknown)}, which it has no inputs for."
                )
            for field, spec in sig.input_fields.items():
                source = mapping.get(field, field)
                if source not in available:
                    if spec.required:
                        raise ConfigurationError(
                            f"Stage {n + 1} ({agent.name}) needs {field!r}, but no earlier stage outputs "
                            f"{source!r} (available: {sorted(available)}). Rename it with "
                            f"({agent.name}, {{'{field}': '<earlier output>'}})."
                        )
                    continue
                produced, where = available[source]
                if not _compatible(produced, spec.annotation):
                    raise ConfigurationError(
                        f"Stage {n + 1} ({agent.name}) takes {field!r} as {_name(spec.annotation)}, but {where} "
                        f"gives {source!r} as {_name(produced)}."
                    )
            for field, spec in sig.output_fields.items():
                available[field] = (spec.annotation, f"stage {n + 1} ({agent.name})")

    def run(self, **inputs: Any) -> PatternResult:
        return run_sync(self.arun(**inputs))

    async def arun(self, **inputs: Any) -> PatternResult:
        run = PatternRun("sequential", budget=self.budget, concurrency=1, retries=self.retries)
        values: dict[str, Any] = dict(self.stages[0][0].signature.validate_inputs(inputs))
        stages = []
        for n, (agent, mapping) in enumerate(self.stages, 1):
            fields = agent.signature.input_fields
            given = {
                f: _as_text(values[mapping.get(f, f)]) if spec.annotation is str else values[mapping.get(f, f)]
                for f, spec in fields.items()
                if mapping.get(f, f) in values
            }
            _, result = await run.ask(agent, given, round=n, role="stage")
            stages.append({"stage": n, "agent": agent.name, "inputs": given, "outputs": dict(result)})
            values.update(result)
        last = self.stages[-1][0].signature.output_fields
        return run.result({**{k: values[k] for k in last}, "stages": stages})


def _compatible(produced: Any, wanted: Any) -> bool:
    """Same type; ``Any`` on either side; a str input (anything reads as text: lists and dicts as JSON) unless
    the output may be None; an int where a float is wanted; a Union input that admits the produced type (or every
    member of a produced Union)."""
    unions = (typing.Union, types.UnionType)
    if typing.get_origin(produced) in unions:  # Optional[X] -> X would fail at run time on a None
        return all(_compatible(option, wanted) for option in typing.get_args(produced))
    if produced == wanted or wanted is Any or produced is Any:
        return True
    if wanted is str:
        return produced is not type(None)
    if produced is int and wanted is float:
        return True
    if typing.get_origin(wanted) in unions:
        return any(_compatible(produced, option) for option in typing.get_args(wanted))
    return False


def _as_text(value: Any) -> Any:
    """What a str input receives from a non-str output: JSON for structures, str() for the rest."""
    if isinstance(value, str) or value is None:
        return value
    if isinstance(value, list | dict | tuple):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def _name(tp: Any) -> str:
    plain = getattr(tp, "__name__", None)
    return plain if plain and not typing.get_args(tp) else str(tp).replace("typing.", "")
