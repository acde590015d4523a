"""One structured prediction: prompt → model → parse → validate, re-asking with the error when it is wrong."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ..exceptions import OutputParseError
from ..llm._types import Completion, LLMRequest, Message
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
    transcript: Any = None  # set by tool-using strategies (a Transcript of thought/action/observation steps)


async def predict(
    llm: LLM,
    sig: type[Signature],
    inputs: dict[str, Any],
    *,
    history: list[tuple[dict[str, Any], dict[str, Any]]] | None = None,
    retry_attempts: int = 3,
    guidelines: list[str] | None = None,
    context: str | None = None,
    complete: Callable[[LLMRequest], Awaitable[Completion]] | None = None,
) -> Prediction:
    """``complete`` makes the call (an agent passes its own, which runs hooks and accounting); default ``llm``."""
    call = complete or llm.acomplete
    mode = llm.structured_mode()
    messages = build_messages(sig, inputs, mode=mode, history=history, guidelines=guidelines, context=context)
    schema = sig.output_schema
    completions: list[Completion] = []
    problem, cut_off = "", False
    base = messages
    for _ in range(retry_attempts + 1):
        request = llm.request(list(messages), schema=schema, schema_name=sig.__name__)
        if problem and cut_off:
            request.repetition_penalty = 1.15
        completion = await call(request)
        completions.append(completion)
        try:
            return Prediction(validate_outputs(sig, completion.content), completions, messages)
        except ValueError as e:
            cut_off = completion.finish_reason == "length"
            problem = _cut_off_problem(llm) if cut_off else str(e)
        # A reply cut off at max_tokens is not shown back: it would only make the next prompt longer.
        shown = [] if cut_off else [{"role": "assistant", "content": completion.content}]
        messages = [*base, *shown, repair_message(problem, sig)]
    raise OutputParseError(
        f"{llm.provider_name}/{llm.model} did not produce valid {sig.__name__} outputs after "
        f"{len(completions)} attempt(s): {problem}. Raise retry_attempts, use a stronger model, or simplify the "
        "signature.",
        raw=completions[-1].content,
        expected_fields=list(sig.output_fields),
        attempts=len(completions),
        problem=problem,
    )


def _cut_off_problem(llm: LLM) -> str:
    limit = f"max_tokens={llm.max_tokens}" if llm.max_tokens else "the token limit"
    return f"the reply was cut off at {limit} before the JSON object was complete; keep every field short"
