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
    from ...state import AgentState
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
        run = _Run(agent, inputs, self, native=self.uses_native_tools(agent), session_id=session_id)
        await run.start()
        await run.checkpoint(0)  # so a stop in the very first cycle can be resumed too
        return await self._finish(run, await run.loop(first_cycle=1))

    async def resume(self, agent: BaseAgent, state: AgentState) -> Prediction:
        """Continue from a checkpoint: the messages, transcript and accounting of the cycles already done."""
        run = _Run.restore(agent, state, self)
        return await self._finish(run, await run.loop(first_cycle=state.step + 1))

    async def _finish(self, run: _Run, outputs: dict[str, Any] | None) -> Prediction:
        agent = run.agent
        if outputs is None:  # out of cycles: make the best answer from what was found
            await agent.control.report_progress(f"{self.max_cycles} cycles used; writing the final answer", 95.0)
            context = run.transcript.as_text() + "\nGive the final answer now."
            final = await agent.predict(run.inputs, session_id=run.session_id, context=context)
            run.completions += final.completions
            outputs = final.outputs
            run.transcript.append(
                Step(self.max_cycles + 1, "Out of cycles: answering from the transcript.", FINISH, outputs)
            )
        await agent.control.report_progress(f"Done: {len(run.transcript)} step(s)", 100.0)
        await run.checkpoint(len(run.transcript), status="completed")
        prediction = Prediction(outputs, run.completions, run.messages)
        prediction.transcript = run.transcript
        return prediction


class _Run:
    """One ReAct run's state — messages so far, completions, transcript — which a checkpoint saves and restores."""

    def __init__(
        self,
        agent: BaseAgent,
        inputs: dict[str, Any],
        strategy: ReActStrategy,
        *,
        native: bool,
        session_id: str | None = None,
    ) -> None:
        self.agent = agent
        self.act_first = strategy.act_first
        self.native = native
        self.session_id = session_id
        self.sig = agent.signature
        self.inputs = inputs
        self.max_cycles = strategy.max_cycles
        self.tools: list[Tool] = list(agent.tools)
        self.completions: list[Completion] = []
        self.transcript = Transcript()
        self.messages: list[Message] = []
        self.checkpoint_id: str | None = None

    async def start(self) -> None:
        system = native_system_prompt(self.sig) if self.native else self._json_system_prompt()
        if remembered := self.agent.recalled_context():
            system += f"\n\nRelevant context:\n{remembered}"
        self.messages = [{"role": "system", "content": system}]
        for past_inputs, past_outputs in await self.agent._history(self.session_id):  # earlier turns of this session
            self.messages.append({"role": "user", "content": format_inputs(self.sig, past_inputs)})
            self.messages.append({"role": "assistant", "content": json.dumps(past_outputs, default=str)})
        self.messages.append({"role": "user", "content": format_inputs(self.sig, self.inputs)})

    async def loop(self, first_cycle: int) -> dict[str, Any] | None:
        """Cycles until ``finish`` (its outputs) or ``max_cycles`` (None). Between cycles: checkpoint, then stop
        here if an interrupt was requested — the cycle in progress always completes (GRACEFUL)."""
        step = self._native_cycle if self.native else self._json_cycle
        for cycle in range(first_cycle, self.max_cycles + 1):
            if self.agent.interrupts.is_interrupted:
                await self._stop(cycle - 1)
            outputs = await step(cycle)
            if outputs is not None:
                return outputs
            await self.checkpoint(cycle)
        if self.agent.interrupts.is_interrupted:  # asked during the last cycle: stop before the final answer call
            await self._stop(self.max_cycles)
        return None

    async def _stop(self, done: int) -> None:
        from ...exceptions import AgentInterrupted

        reason = self.agent.interrupts.reason
        assert reason is not None
        await self.checkpoint(done, status="interrupted", force=True)
        resume = (
            f" Checkpoint {self.checkpoint_id} saved; continue with agent.resume({self.checkpoint_id!r})."
            if self.checkpoint_id
            else " No checkpoint was kept: create the agent with checkpoints='some/folder' to be able to resume."
        )
        raise AgentInterrupted(
            f"{self.agent.name} stopped after {done} of {self.max_cycles} cycles: {reason.describe()}.{resume}",
            partial=self.transcript,
            checkpoint_id=self.checkpoint_id,
            reason=reason,
        )

    # -- checkpoints ----------------------------------------------------------------------------------------------
    async def checkpoint(self, cycle: int, *, status: str = "running", force: bool = False) -> None:
        manager = self.agent.checkpoints
        if manager is None:
            return
        from ...state import AgentState

        context = self.agent.context
        state = AgentState(
            agent_id=self.agent.agent_id,
            step=cycle,
            status=status,  # type: ignore[arg-type]
            inputs=_jsonable(self.inputs),
            conversation=_jsonable(self.messages),
            budget_spent=context.spent,
            tool_usage=dict(context.tool_usage),
            completed_actions=[_jsonable(s.tool_result.__dict__) for s in self.transcript if s.tool_result],
            approval_history=[_jsonable(e.__dict__) for e in context.audit],
            strategy_state={
                "native": self.native,
                "transcript": [_step_dict(s) for s in self.transcript],
                "completions": [c.to_json() for c in self.completions],
            },
            metadata={"session_id": self.session_id, "strategy": "react", "agent": self.agent.name},
            parent_checkpoint_id=self.checkpoint_id,
        )
        saved = await manager.save_checkpoint(state, force=force or status != "running")
        if saved:
            self.checkpoint_id = saved
            self.agent.last_checkpoint_id = saved

    @classmethod
    def restore(cls, agent: BaseAgent, state: AgentState, strategy: ReActStrategy) -> _Run:
        saved = state.strategy_state
        run = cls(
            agent,
            dict(state.inputs),
            strategy,
            native=bool(saved.get("native")),
            session_id=state.metadata.get("session_id"),
        )
        run.messages = list(state.conversation)
        run.transcript = Transcript(_step_from(d) for d in saved.get("transcript", []))
        run.completions = [Completion.from_json(c) for c in saved.get("completions", [])]
        run.checkpoint_id = state.checkpoint_id
        agent.context.restore_usage(state.budget_spent, state.tool_usage)
        return run

    # -- one model call, one tool call ----------------------------------------------------------------------------
    async def _complete(self, **kw: Any) -> Completion:
        completion = await self.agent._complete(self.agent.llm.request(list(self.messages), **kw))
        self.completions.append(completion)
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
    def _json_system_prompt(self) -> str:
        prompt_mode = self.agent.llm.structured_mode() == "prompt"
        return json_system_prompt(self.sig, self.tools, step_schema(self.tools, self.sig) if prompt_mode else None)

    async def _json_cycle(self, cycle: int) -> dict[str, Any] | None:
        first = cycle == 1 and self.act_first and self.tools
        schema = step_schema(self.tools, self.sig, finish=not first)
        await self._progress(cycle, "thinking")
        completion = await self._complete(schema=schema, schema_name="react_step")
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
            return None
        step = await self._act(cycle, thought, action, args)
        self.messages.append({"role": "user", "content": f"Observation: {step.observation}"})
        return None

    # -- native tool calls ----------------------------------------------------------------------------------------
    async def _native_cycle(self, cycle: int) -> dict[str, Any] | None:
        tools = [t.openai_schema() for t in self.tools] + [finish_tool(self.sig)]
        await self._progress(cycle, "thinking")
        completion = await self._complete(tools=tools)
        thought = completion.content or ""
        if not completion.tool_calls:
            try:  # some models answer in text instead of calling finish
                outputs = validate_outputs(self.sig, thought)
            except ValueError:
                again = f"Call a tool, or call `{FINISH}` with the final answer as its arguments."
                self.messages += [{"role": "assistant", "content": thought}, {"role": "user", "content": again}]
                self.transcript.append(Step(cycle, thought, "(invalid)", {}, "no tool call and no final answer"))
                return None
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


def _jsonable(value: Any) -> Any:
    """A JSON-safe copy for checkpoints (tool results may hold paths, bytes, ...: kept as text)."""
    return json.loads(json.dumps(value, default=str))


def _step_dict(step: Step) -> dict[str, Any]:
    data = {k: v for k, v in step.__dict__.items() if k != "tool_result"}
    data["tool_result"] = step.tool_result.__dict__ if step.tool_result is not None else None
    return _jsonable(data)


def _step_from(data: dict[str, Any]) -> Step:
    from ...tools.base import ToolResult

    result = data.get("tool_result")
    return Step(
        cycle=data["cycle"],
        thought=data.get("thought", ""),
        action=data["action"],
        action_input=data.get("action_input", {}),
        observation=data.get("observation", ""),
        tool_result=ToolResult(**result) if result else None,
    )
