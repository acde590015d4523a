"""One structured prediction: prompt → model → parse → validate, re-asking with the error when it is wrong."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..exceptions import OutputParseError
from ..llm._types import Completion, Message
from ..llm.client import LLM
from ..prompting import build_messages, repair_message
from ..signatures import Signature
from ..structured import validate_outputs

__all__ = ["Prediction", "predict"]


@dataclass
class Prediction:
    outputs: dict[str, Any]
    completions: list[Completion]
    messages: list[Message]
    cycles: list[dict[str, Any]] | None = None  # set by multi-cycle strategies


async def predict(
    llm: LLM,
    sig: type[Signature],
    inputs: dict[str, Any],
    *,
    history: list[tuple[dict[str, Any], dict[str, Any]]] | None = None,
    retry_attempts: int = 3,
    guidelines: list[str] | None = None,
    context: str | None = None,
    on_completion: Callable[[Completion], None] | None = None,
) -> Prediction:
    mode = llm.structured_mode()
    messages = build_messages(sig, inputs, mode=mode, history=history, guidelines=guidelines, context=context)
    schema = sig.output_json_schema()
    completions: list[Completion] = []
    problem = ""
    for _ in range(retry_attempts + 1):
        completion = await llm.acomplete(list(messages), schema=schema, schema_name=sig.__name__)
        completions.append(completion)
        if on_completion is not None:
            on_completion(completion)
        try:
            return Prediction(validate_outputs(sig, completion.content), completions, messages)
        except ValueError as e:
            problem = str(e)
            if completion.finish_reason == "length":
                problem += " (the reply was cut off at max_tokens; raise max_tokens)"
        messages = [
            *messages,
            {"role": "assistant", "content": completion.content},
            repair_message(problem, sig),
        ]
    raise OutputParseError(
        f"{llm.provider_name}/{llm.model} did not produce valid {sig.__name__} outputs after "
        f"{len(completions)} attempt(s): {problem}. Raise retry_attempts, use a stronger model, or simplify the "
        "signature.",
        raw=completions[-1].content,
        expected_fields=list(sig.output_fields),
        attempts=len(completions),
    )
