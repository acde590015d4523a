"""BaseAgent: a signature, a model, a strategy and (optionally) memory, composed — not mixed in."""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from .._sync import run_sync
from ..exceptions import AgentInterrupted, ConfigurationError
from ..llm._types import Completion, Message
from ..llm.client import LLM
from ..memory.buffer import BufferMemory
from ..prompting import build_messages
from ..signatures import Signature
from ..tools import ExecutionContext, Tool, ToolExecutor, ToolRegistry, ToolResult, ToolSpec, build_registry
from ..usage import UsageLedger, global_usage
from .config import AgentConfig
from .predict import Prediction, predict
from .result import AgentResult
from .strategies import SingleShotStrategy, Strategy

if TYPE_CHECKING:
    from ..control.protocol import ControlProtocol
    from ..control.transport import Transport
    from .live import LiveRun

__all__ = ["BaseAgent"]


class BaseAgent:
    """Run a signature against a model.

    ``config`` may be any dataclass, pydantic model, dict or object; the fields BaseAgent knows
    (llm_provider, model, temperature, max_tokens, timeout, retry_attempts, max_turns, provider_config, cache) are
    read from it by name, and keyword arguments override them. ``arun`` is the implementation; ``run`` works from
    scripts and from inside a running notebook event loop alike.
    """

    default_signature: ClassVar[type[Signature] | str | None] = None
    description: ClassVar[str] = ""

    def __init__(
        self,
        config: Any = None,
        signature: type[Signature] | Signature | str | None = None,
        strategy: Strategy | None = None,
        memory: BufferMemory | None = None,
        *,
        llm: LLM | None = None,
        agent_id: str | None = None,
        name: str | None = None,
        tools: str | list[ToolSpec] | ToolRegistry | None = None,
        context: ExecutionContext | None = None,
        control: ControlProtocol | Transport | None = None,
        workspace: str | Any | None = None,
        **overrides: Any,
    ) -> None:
        self.config = AgentConfig.from_any(config, **overrides)
        self.raw_config = config
        sig = signature if signature is not None else self.default_signature
        if sig is None:
            raise ConfigurationError(
                f"{type(self).__name__} needs a signature: pass signature=MySignature or 'question -> answer'."
            )
        self.signature = Signature.coerce(sig)
        self.strategy = strategy or SingleShotStrategy()
        self.llm = llm or self._make_llm()
        if memory is None and self.config.max_turns > 0:
            memory = BufferMemory(self.config.max_turns)
        self.memory = memory
        self.name = name or type(self).__name__
        self.agent_id = agent_id or f"{self.name}-{uuid.uuid4().hex[:8]}"
        self.usage = UsageLedger()
        self.guidelines: list[str] = []
        self.workspace = workspace
        self.tools = build_registry(tools, self._sandbox)
        self.context = context or ExecutionContext()
        self._control: ControlProtocol | None = None
        self._default_control: tuple[tuple[str, ...], ControlProtocol] | None = None
        if control is not None:
            self.control = control

    def _sandbox(self) -> Any:
        """The builtin tools' limits; the workspace folder is made only when a builtin tool is asked for."""
        from ..tools.sandbox import Sandbox

        if isinstance(self.workspace, Sandbox):
            return self.workspace
        if self.workspace is not None:
            return Sandbox(root=Path(self.workspace).expanduser())
        folder = re.sub(r"[^A-Za-z0-9_.-]+", "-", self.name).strip(".-") or "agent"
        return Sandbox.default(folder)  # by name, not id: files the agent wrote are still there after a restart

    @property
    def control(self) -> ControlProtocol:
        """Who answers approvals and questions (see :mod:`kaizen_lab.control.defaults` for the default).

        The default follows ``KAIZEN_APPROVAL_POLICY`` and ``CI`` as they are now, so ``%env`` in a notebook applies.
        """
        if self._control is not None:
            return self._control
        from ..control.defaults import default_control, default_key

        key = default_key()
        if self._default_control is None or self._default_control[0] != key:
            self._default_control = (key, default_control())
        return self._default_control[1]

    @control.setter
    def control(self, value: ControlProtocol | Transport) -> None:
        from ..control.protocol import ControlProtocol

        self._control = value if isinstance(value, ControlProtocol) else ControlProtocol(value)

    def _make_llm(self) -> LLM:
        c = self.config
        return LLM(
            c.llm_provider,
            c.model,
            temperature=c.temperature,
            max_tokens=c.max_tokens,
            timeout=c.timeout,
            retry_attempts=c.retry_attempts,
            cache=c.cache,
            provider_config=c.provider_config,
        )

    # -- running --------------------------------------------------------------------------------------------------
    async def arun(self, session_id: str | None = None, **inputs: Any) -> AgentResult:
        started = time.perf_counter()
        values = self.signature.validate_inputs(inputs)
        self.context.check_budget(0.0, "this run")  # a budget already spent stops the next run before it pays
        prediction = await self.strategy.execute(self, values, session_id=session_id)
        result = AgentResult(
            prediction.outputs,
            completions=prediction.completions,
            latency=time.perf_counter() - started,
            signature=self.signature.__name__,
            session_id=session_id,
            messages=prediction.messages,
        )
        result.cycles = prediction.cycles
        result.transcript = prediction.transcript
        if prediction.transcript is not None and prediction.transcript.auto_decided:
            steps = prediction.transcript.auto_decided
            who = ", ".join(sorted({s.decided_by for s in steps}))
            result.warnings.append(f"{len(steps)} tool call(s) were decided by {who}, not by a person.")
        result.params = self._params()
        result = self.postprocess(result)
        if self.memory is not None and session_id is not None:
            self.memory.save(session_id, values, dict(result))  # what the user saw, after postprocessing
        return result

    def run(self, session_id: str | None = None, **inputs: Any) -> AgentResult | LiveRun:
        """Run to completion and return the :class:`AgentResult`.

        In a notebook, a run that may have to wait for a person's click (tools that need approval, answered by
        approval cards) cannot block the cell — the click would never arrive. It starts as a task on the kernel's
        event loop instead and returns a :class:`LiveRun` at once: the cards and then the result appear in the
        cell's output, and ``live.result`` / ``await live`` give the AgentResult.
        """
        if self._needs_live_run():
            from .live import LiveRun

            return LiveRun.start(self, self.arun(session_id=session_id, **inputs))
        return run_sync(self.arun(session_id=session_id, **inputs))

    def _needs_live_run(self) -> bool:
        if not len(self.tools) or not self.control.interactive:
            return False
        if all(self.context.can_use_tool(t).permission.value != "ask" for t in self.tools):
            return False  # nothing will ask: no reason not to block
        from ..control.defaults import in_notebook_kernel
        from .live import on_kernel_loop

        return in_notebook_kernel() and on_kernel_loop()

    async def arun_batch(
        self,
        items: Iterable[dict[str, Any]],
        *,
        concurrency: int = 4,
        return_exceptions: bool = False,
        on_result: Callable[[int, AgentResult | BaseException], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> list[AgentResult | BaseException]:
        """Run many inputs with at most ``concurrency`` in flight; results keep the input order.

        Setting ``cancel`` stops starting new items: those get :class:`AgentInterrupted` (rows already done are
        kept), which is how a Cancel button ends a batch cleanly.
        """
        import asyncio

        gate = asyncio.Semaphore(max(1, concurrency))

        async def one(i: int, item: dict[str, Any]) -> AgentResult | BaseException:
            async with gate:
                try:
                    if cancel is not None and cancel.is_set():
                        raise AgentInterrupted("The batch was cancelled before this item started.")
                    outcome: AgentResult | BaseException = await self.arun(**item)
                except Exception as e:
                    if not return_exceptions:
                        raise
                    outcome = e
            if on_result is not None:
                on_result(i, outcome)
            return outcome

        tasks = [asyncio.ensure_future(one(i, item)) for i, item in enumerate(items)]
        try:
            return list(await asyncio.gather(*tasks))
        except BaseException:
            for task in tasks:  # one row failed: stop the others instead of letting them spend in the background
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    def run_batch(self, items: Iterable[dict[str, Any]], **kw: Any) -> list[AgentResult | BaseException]:
        return run_sync(self.arun_batch(items, **kw))

    async def predict(
        self, inputs: dict[str, Any], *, session_id: str | None = None, context: str | None = None
    ) -> Prediction:
        """One structured call with this agent's model, memory and accounting (strategies build on it)."""
        return await predict(
            self.llm,
            self.signature,
            inputs,
            history=self._history(session_id),
            retry_attempts=self.config.retry_attempts,
            guidelines=self.guidelines,
            context=context,
            on_completion=self._account,
        )

    def preview_messages(self, session_id: str | None = None, **inputs: Any) -> list[Message]:
        """The messages a run would send first, without calling the model (``--dry-run`` in notebooks)."""
        values = self.signature.validate_inputs(inputs)
        mode = self.llm.structured_mode()
        return build_messages(
            self.signature, values, mode=mode, history=self._history(session_id), guidelines=self.guidelines
        )

    def _params(self) -> dict[str, Any]:
        llm = self.llm
        return {
            "temperature": llm.temperature,
            "max_tokens": llm.max_tokens,
            "retry_attempts": self.config.retry_attempts,
        }

    def postprocess(self, result: AgentResult) -> AgentResult:
        """Hook for specialised agents to check or enrich a result."""
        return result

    # -- memory and accounting -----------------------------------------------------------------------------------
    def _history(self, session_id: str | None) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        if self.memory is None or session_id is None:
            return []
        return [(t.inputs, t.outputs) for t in self.memory.load(session_id)]

    def _account(self, completion: Completion) -> None:
        self.usage.record(completion, self.agent_id)
        global_usage().record(completion, self.agent_id)
        self.context.record_cost(completion.cost, f"a {completion.provider} call")  # raises when over budget

    # -- tools ----------------------------------------------------------------------------------------------------
    @property
    def executor(self) -> ToolExecutor:
        return ToolExecutor(self.tools, self.context, self.control)

    async def discover_tools(
        self, category: str | None = None, *, safe_only: bool = False, max_danger: Any = None
    ) -> list[Tool]:
        """This agent's tools, filtered by category ("file", "http", "system", "web", ...) and danger."""
        return self.tools.discover(category, safe_only=safe_only, max_danger=max_danger)

    async def execute_tool(self, name: str, params: dict[str, Any] | None = None) -> ToolResult:
        """Run one tool under this agent's permissions (asking for approval when they say so)."""
        return await self.executor.execute(name, params)

    async def execute_tool_chain(self, calls: Iterable[Any]) -> list[ToolResult]:
        """Run ``[{"tool": ..., "params": {...}}, ...]`` in order, stopping at the first denial or failure."""
        return await self.executor.execute_chain(calls)

    def get_history(self, session_id: str) -> list[dict[str, Any]]:
        """The remembered turns of a session, oldest first."""
        if self.memory is None:
            return []
        return [
            {"inputs": t.inputs, "outputs": t.outputs, "timestamp": t.timestamp} for t in self.memory.load(session_id)
        ]

    def clear_memory(self, session_id: str | None = None) -> None:
        if self.memory is not None:
            self.memory.clear(session_id)

    # -- description -------------------------------------------------------------------------------------------------
    def to_a2a_card(self) -> dict[str, Any]:
        """A Google A2A ``AgentCard``-shaped description, used for capability matching between agents."""
        sig = self.signature
        description = self.description or sig.instructions or f"Agent running {sig.__name__}"
        skill = {
            "id": f"{self.name}.{sig.__name__}".lower(),
            "name": sig.__name__,
            "description": sig.instructions or description,
            "tags": sorted({*sig.input_fields, *sig.output_fields}),
            "examples": [],
            "inputModes": ["application/json", "text/plain"],
            "outputModes": ["application/json"],
            "inputSchema": sig.input_model.model_json_schema(),
            "outputSchema": sig.output_json_schema(),
        }
        return {
            "name": self.name,
            "description": description,
            "url": f"local://{self.agent_id}",
            "version": "0.1.0",
            "provider": {"organization": "kaizen-lab"},
            "capabilities": {"streaming": False, "pushNotifications": False, "stateTransitionHistory": False},
            "defaultInputModes": ["application/json", "text/plain"],
            "defaultOutputModes": ["application/json"],
            "skills": [skill],
            "metadata": {"llm_provider": self.llm.provider_name, "model": self.llm.model},
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}(signature={self.signature.describe()!r}, llm={self.llm!r})"
