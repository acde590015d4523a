"""Turn a signature, its inputs and the conversation so far into chat messages.

Everything the signature declares reaches the model: the instructions, each field's description and type, and the
output format. Memory turns become real user/assistant messages.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from .llm._types import Message, StructuredMode
from .signatures import FieldSpec, Signature, _type_name

__all__ = ["build_messages", "format_inputs", "repair_message"]


def _field_lines(specs: dict[str, FieldSpec]) -> str:
    lines = []
    for name, spec in specs.items():
        desc = f": {spec.desc}" if spec.desc else ""
        lines.append(f"- {name} ({_type_name(spec.annotation)}){desc}")
    return "\n".join(lines)


def system_prompt(sig: type[Signature], mode: StructuredMode, guidelines: list[str] | None = None) -> str:
    return _system_prompt(sig, mode, tuple(guidelines or ()))


@functools.lru_cache(maxsize=256)
def _system_prompt(sig: type[Signature], mode: StructuredMode, guidelines: tuple[str, ...]) -> str:
    """Built once per signature, mode and guidelines: it is the same on every call."""
    parts = [sig.instructions or f"Given the inputs, produce the outputs of {sig.__name__}."]
    if guidelines:
        parts.append("Guidelines:\n" + "\n".join(f"- {g}" for g in guidelines))
    if sig.input_fields:
        parts.append("Inputs:\n" + _field_lines(sig.input_fields))
    parts.append("Outputs:\n" + _field_lines(sig.output_fields))
    keys = ", ".join(f'"{k}"' for k in sig.output_fields)
    fmt = f"Reply with one JSON object with the keys {keys}."
    if mode == "prompt":
        schema = json.dumps(sig.output_schema, separators=(",", ":"))
        fmt += f" It must match this JSON schema: {schema}. Reply with the JSON only, no prose."
    parts.append(fmt)
    return "\n\n".join(parts)


def format_inputs(sig: type[Signature], inputs: dict[str, Any]) -> str:
    """``name: value`` lines; optional inputs left empty are omitted rather than sent as noise."""
    lines = []
    for name, spec in sig.input_fields.items():
        value = inputs.get(name)
        if not spec.required and value in ("", None, [], {}):
            continue
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        lines.append(f"{name}: {text}")
    return "\n".join(lines)


def build_messages(
    sig: type[Signature],
    inputs: dict[str, Any],
    *,
    mode: StructuredMode,
    history: list[tuple[dict[str, Any], dict[str, Any]]] | None = None,
    guidelines: list[str] | None = None,
    context: str | None = None,
) -> list[Message]:
    """System prompt, then earlier turns (as user/assistant pairs), then this turn's inputs."""
    system = system_prompt(sig, mode, guidelines)
    if context:
        system += f"\n\nRelevant context:\n{context}"
    messages: list[Message] = [{"role": "system", "content": system}]
    for past_inputs, past_outputs in history or []:
        messages.append({"role": "user", "content": format_inputs(sig, past_inputs)})
        messages.append({"role": "assistant", "content": json.dumps(past_outputs, default=str)})
    messages.append({"role": "user", "content": format_inputs(sig, inputs)})
    return messages


def repair_message(problem: str, sig: type[Signature]) -> Message:
    """The re-ask after an invalid reply: what was wrong and what is expected."""
    keys = ", ".join(sig.output_fields)
    return {
        "role": "user",
        "content": f"Your reply was not valid: {problem}. Reply again with only one JSON object with the keys "
        f"{keys}, matching the types described.",
    }
