"""ReActAgent: reason → act → observe, until the model finishes with the signature's outputs.

Two ways to act, chosen per model:
- **native tool calls** where the provider supports them (litellm's capability table): the tools go in
  ``tools=[...]`` and a ``finish`` tool whose arguments are the signature's outputs ends the run;
- **JSON actions** elsewhere — the embedded model, servers litellm does not know: each step is one JSON object
  ``{"thought", "action", "action_input"}`` whose schema (one branch per tool, plus ``finish``) constrains decoding,
  so the model can only name a real tool with well-typed arguments.
Every call goes through the agent's permissions and approvals; a refusal or failure is the next observation.
If ``max_cycles`` runs out, one last structured call turns the transcript into the final outputs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ..._secrets import redact_data
from ...llm._types import Completion, Message
from ...prompting import format_inputs
from ...signatures import InputField, OutputField, Signature, _type_name
from ...structured import extract_json, validate_outputs
from ..base import BaseAgent
from ..predict import Prediction
from ..strategies import Strategy
from ..transcript import Step, Transcript

if TYPE_CHECKING:
    from ...tools.base import Tool

__all__ = ["ReActAgent", "ReActConfig", "ReActSignature", "ReActStrategy"]

ToolCalling = Literal["auto", "native", "json"]
FINISH = "finish"


class ReActSignature(Signature):
    """Complete the task, using the tools when they help; finish with a concise answer."""

    task: str = InputField(desc="What to do or answer")
    answer: str = OutputField(desc="The final answer")


@dataclass
class ReActConfig:
    llm_provider: str | None = None
    model: str | None = None
    temperature: float = 0.0
    max_tokens: int | None = 400
    timeout: float | None = 120.0
    retry_attempts: int = 2
    max_cycles: int = 6
    tool_calling: ToolCalling = "auto"
    act_first: bool = False  # with JSON actions, the first step must call a tool (helps small local models)
    provider_config: dict[str, Any] = field(default_factory=dict)
    cache: str | None = None


class ReActStrategy(Strategy):
    def __init__(self, max_cycles: int = 6, tool_calling: ToolCalling = "auto", act_first: bool = False) -> None:
        if max_cycles < 1:
            raise ValueError("max_cycles must be at least 1.")
        if tool_calling not in ("auto", "native", "json"):
            raise ValueError("tool_calling must be 'auto', 'native' or 'json'.")
        self.max_cycles = max_cycles
        self.tool_calling = tool_calling
        self.act_first = act_first  # JSON actions: the first step must use a tool (small models answer too early)

    def uses_native_tools(self, agent: BaseAgent) -> bool:
        return self.tool_calling == "native" or (self.tool_calling == "auto" and agent.llm.supports_tools())

    async def execute(self, agent: BaseAgent, inputs: dict[str, Any], *, session_id: str | None) -> Prediction:
        run = _Run(agent, inputs, self.max_cycles, self.act_first)
        native = self.uses_native_tools(agent)
        outputs = await (run.native() if native else run.json_actions())
        if outputs is None:  # out of cycles: make the best answer from what was found
            await agent.control.report_progress(f"{self.max_cycles} cycles used; writing the final answer", 95.0)
            final = await agent.predict(
                inputs, session_id=session_id, context=run.transcript.as_text() + "\nGive the final answer now."
            )
            run.completions += final.completions
            outputs = final.outputs
            run.transcript.append(
                Step(self.max_cycles + 1, "Out of cycles: answering from the transcript.", FINISH, outputs)
            )
        await agent.control.report_progress(f"Done: {len(run.transcript)} step(s)", 100.0)
        prediction = Prediction(outputs, run.completions, run.messages)
        prediction.transcript = run.transcript
        return prediction


class _Run:
    """One ReAct run's state: messages so far, completions, transcript."""

    def __init__(self, agent: BaseAgent, inputs: dict[str, Any], max_cycles: int, act_first: bool = False) -> None:
        self.agent = agent
        self.act_first = act_first
        self.sig = agent.signature
        self.inputs = inputs
        self.max_cycles = max_cycles
        self.tools: list[Tool] = list(agent.tools)
        self.completions: list[Completion] = []
        self.transcript = Transcript()
        self.messages: list[Message] = []

    async def _complete(self, **kw: Any) -> Completion:
        self.agent.context.check_budget(0.0, "the next model call")  # spent is already over: do not pay again
        llm = self.agent.llm
        completion = await llm.acomplete(llm.request(list(self.messages), **kw))
        self.completions.append(completion)
        self.agent._account(completion)
        return completion

    async def _progress(self, cycle: int, what: str) -> None:
        pct = 100.0 * (cycle - 1) / self.max_cycles
        await self.agent.control.report_progress(f"Cycle {cycle}/{self.max_cycles}: {what}", pct)

    async def _act(self, cycle: int, thought: str, name: str, args: dict[str, Any]) -> Step:
        last = self.transcript[-1] if self.transcript else None
        earlier = last.tool_result if last is not None and last.action == name else None
        if last and earlier and earlier.params == redact_data(args) and earlier.decided_by != "timeout":
            # The same call twice in a row is a loop (small models do it): neither run nor ask again. Calls with
            # something in between run again, since the world may have changed (a write, then a fresh listing).
            note = f"(You just called {name} with these arguments in cycle {last.cycle}; do something else.) "
            step = Step(cycle, thought, name, earlier.params, note + earlier.observation(), earlier)
            self.transcript.append(step)
            return step
        await self._progress(cycle, f"calling {name}")
        result = await self.agent.execute_tool(name, args)
        result.step = cycle
        step = Step(cycle, thought, name, result.params, result.observation(), result)
        self.transcript.append(step)
        return step

    # -- JSON actions (any model that can follow a JSON schema or a prompt) --------------------------------------
    async def json_actions(self) -> dict[str, Any] | None:
        mode = self.agent.llm.structured_mode()
        schema = step_schema(self.tools, self.sig)
        acting = step_schema(self.tools, self.sig, finish=False) if self.act_first and self.tools else schema
        self.messages = [
            {
                "role": "system",
                "content": json_system_prompt(self.sig, self.tools, schema if mode == "prompt" else None),
            },
            {"role": "user", "content": format_inputs(self.sig, self.inputs)},
        ]
        for cycle in range(1, self.max_cycles + 1):
            await self._progress(cycle, "thinking")
            completion = await self._complete(schema=acting if cycle == 1 else schema, schema_name="react_step")
            self.messages.append({"role": "assistant", "content": completion.content})
            try:
                thought, action, args = parse_step(completion.content, {t.name for t in self.tools})
                if action == FINISH:
                    outputs = validate_outputs(self.sig, json.dumps(args))
                    self.transcript.append(Step(cycle, thought, FINISH, outputs))
                    return outputs
            except ValueError as e:
                problem = f"ERROR: {e}. Reply with one JSON object {{thought, action, action_input}}."
                self.transcript.append(Step(cycle, "", "(invalid)", {}, problem))
                self.messages.append({"role": "user", "content": problem})
                continue
            step = await self._act(cycle, thought, action, args)
            self.messages.append({"role": "user", "content": f"Observation: {step.observation}"})
        return None

    # -- native tool calls ----------------------------------------------------------------------------------------
    async def native(self) -> dict[str, Any] | None:
        tools = [t.openai_schema() for t in self.tools] + [finish_tool(self.sig)]
        self.messages = [
            {"role": "system", "content": native_system_prompt(self.sig)},
            {"role": "user", "content": format_inputs(self.sig, self.inputs)},
        ]
        for cycle in range(1, self.max_cycles + 1):
            await self._progress(cycle, "thinking")
            completion = await self._complete(tools=tools)
            thought = completion.content or ""
            if not completion.tool_calls:
                try:  # some models answer in text instead of calling finish
                    outputs = validate_outputs(self.sig, thought)
                except ValueError:
                    self.messages.append({"role": "assistant", "content": thought})
                    self.messages.append(
                        {
                            "role": "user",
                            "content": f"Call a tool, or call `{FINISH}` with the final answer as its arguments.",
                        }
                    )
                    self.transcript.append(Step(cycle, thought, "(invalid)", {}, "no tool call and no final answer"))
                    continue
                self.transcript.append(Step(cycle, thought, FINISH, outputs))
                return outputs
            self.messages.append(_assistant_tool_message(completion))
            for call in completion.tool_calls:
                if call.name == FINISH:
                    try:
                        outputs = validate_outputs(self.sig, json.dumps(call.arguments))
                    except ValueError as e:
                        self._tool_reply(call.id, f"ERROR: the final answer is not valid: {e}. Call {FINISH} again.")
                        continue
                    self.transcript.append(Step(cycle, thought, FINISH, outputs))
                    return outputs
                step = await self._act(cycle, thought, call.name, call.arguments)
                self._tool_reply(call.id, step.observation)
        return None

    def _tool_reply(self, call_id: str, content: str) -> None:
        self.messages.append({"role": "tool", "tool_call_id": call_id, "content": content})


# -- prompts and schemas ------------------------------------------------------------------------------------------
def step_schema(tools: list[Tool], sig: type[Signature], *, finish: bool = True) -> dict[str, Any]:
    """One branch per tool (its name as a constant, its parameters as the input) plus ``finish``."""

    def branch(name: str, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {
                "thought": {"type": "string", "maxLength": 400},
                "action": {"const": name},
                "action_input": params,
            },
            "required": ["thought", "action", "action_input"],
            "additionalProperties": False,
        }

    defs: dict[str, Any] = {}
    branches = [branch(t.name, _hoist(_closed(t.parameters), t.name, defs)) for t in tools]
    if finish or not branches:
        branches.append(branch(FINISH, _hoist(_closed(sig.output_schema), FINISH, defs)))
    return {"anyOf": branches, **({"$defs": defs} if defs else {})}


def _hoist(schema: dict[str, Any], prefix: str, defs: dict[str, Any]) -> dict[str, Any]:
    """Move a nested schema's ``$defs`` (enums, sub-models) to the root, renamed per tool, so ``#/$defs/...``
    references still resolve once the schema sits inside the step schema."""
    local = schema.pop("$defs", {})

    def rename(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                node = {**node, "$ref": f"#/$defs/{prefix}__{ref.removeprefix('#/$defs/')}"}
            return {k: rename(v) for k, v in node.items()}
        if isinstance(node, list):
            return [rename(v) for v in node]
        return node

    for name, sub in local.items():
        defs[f"{prefix}__{name}"] = rename(sub)
    return rename(schema)


def _closed(schema: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in schema.items() if k != "title"}
    out.setdefault("type", "object")
    out.setdefault("properties", {})
    out["additionalProperties"] = False
    return out


def finish_tool(sig: type[Signature]) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": FINISH,
            "description": "Give the final answer; call this once the task is done.",
            "parameters": _closed(sig.output_schema),
        },
    }


def _outputs_text(sig: type[Signature]) -> str:
    return "\n".join(
        f"- {name} ({_type_name(spec.annotation)}){': ' + spec.desc if spec.desc else ''}"
        for name, spec in sig.output_fields.items()
    )


def json_system_prompt(sig: type[Signature], tools: list[Tool], schema: dict[str, Any] | None) -> str:
    tool_lines = (
        "\n".join(f"- {t.signature_text()}: {t.description.splitlines()[0] if t.description else ''}" for t in tools)
        or "- (no tools)"
    )
    parts = [
        sig.instructions or "Complete the task.",
        "Work in steps. In each step think briefly, then either call one tool or finish.",
        f"Tools:\n{tool_lines}",
        f'Final outputs (the action_input of "{FINISH}"):\n{_outputs_text(sig)}',
        'Reply with one JSON object: {"thought": "...", "action": "<a tool name or finish>", "action_input": {...}}. '
        "After each tool call you get its observation; do not invent observations.",
    ]
    if schema is not None:
        parts.append("It must match this JSON schema: " + json.dumps(schema, separators=(",", ":")))
    return "\n\n".join(parts)


def native_system_prompt(sig: type[Signature]) -> str:
    return "\n\n".join(
        [
            sig.instructions or "Complete the task.",
            "Use the tools when they help. When you have the answer, call the `finish` tool with these arguments:\n"
            + _outputs_text(sig),
        ]
    )


def parse_step(text: str, tool_names: set[str]) -> tuple[str, str, dict[str, Any]]:
    """(thought, action, action_input) from a JSON step; ValueError says what is wrong."""
    data = extract_json(text)
    action = data.get("action")
    if not isinstance(action, str) or not action:
        raise ValueError('the step has no "action"')
    if action != FINISH and action not in tool_names:
        names = ", ".join(sorted(tool_names)) or "none"
        raise ValueError(f"{action!r} is not a tool; use one of: {names}, or {FINISH}")
    args = data.get("action_input") or {}
    if not isinstance(args, dict):
        raise ValueError('"action_input" must be a JSON object')
    return str(data.get("thought", "")), action, args


def _assistant_tool_message(completion: Completion) -> Message:
    return {
        "role": "assistant",
        "content": completion.content or None,
        "tool_calls": [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": json.dumps(c.arguments)}}
            for c in completion.tool_calls
        ],
    }


class ReActAgent(BaseAgent):
    """``ReActAgent(ReActConfig(), tools="all").run(task="...")`` → outputs, with ``result.transcript``."""

    default_signature = ReActSignature
    description = "Reasons step by step and uses tools (files, HTTP, shell, web) with approvals."

    def __init__(self, config: Any = None, signature: Any = None, *, tools: Any = "all", **kw: Any) -> None:
        cfg = config if config is not None else ReActConfig()
        max_cycles = int(kw.pop("max_cycles", getattr(cfg, "max_cycles", 6)))
        tool_calling = kw.pop("tool_calling", getattr(cfg, "tool_calling", "auto"))
        act_first = bool(kw.pop("act_first", getattr(cfg, "act_first", False)))
        strategy = ReActStrategy(max_cycles, tool_calling, act_first)
        super().__init__(cfg, signature, strategy=strategy, tools=tools, **kw)
