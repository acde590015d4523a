"""BaseAgent: a signature, a model, a strategy and (optionally) memory, composed — not mixed in."""

from __future__ import annotations

import contextlib
import functools
import re
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from .._sync import run_sync
from ..exceptions import AgentInterrupted, ConfigurationError, MemoryStoreError
from ..hooks.events import HookEvent
from ..hooks.manager import HookManager, current_trace, new_trace_id, veto_error
from ..interrupts import InterruptManager, InterruptMode
from ..llm._types import Completion, LLMRequest, Message
from ..llm.client import LLM
from ..memory.buffer import BufferMemory, ConversationMemory
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
    from ..state import AgentState
    from ..state.manager import StateManager
    from .live import LiveRun

__all__ = ["BaseAgent"]

# Per-call guidelines by agent id (a mapping, so a specialist called inside the block is not affected).
_extra_guidelines: ContextVar[dict[str, tuple[str, ...]]] = ContextVar("kaizen_extra_guidelines", default={})  # noqa: B039
# What the memory recalled for the current run, by agent id (read by every model call of that run).
_recalled: ContextVar[dict[str, list[Any]]] = ContextVar("kaizen_recalled", default={})  # noqa: B039


class BaseAgent:
    """Run a signature against a model.

    ``config`` may be any dataclass, pydantic model, dict or object; the fields BaseAgent knows
    (llm_provider, model, temperature, max_tokens, timeout, retry_attempts, max_turns, provider_config, cache) are
    read from it by name, and keyword arguments override them. ``arun`` is the implementation; ``run`` works from
    scripts and from inside a running notebook event loop alike.
    """

    default_signature: ClassVar[type[Signature] | str | None] = None
    description: str = ""  # what this agent is for (its A2A card); a class default, or description= per instance

    def __init__(
        self,
        config: Any = None,
        signature: type[Signature] | Signature | str | None = None,
        strategy: Strategy | None = None,
        memory: ConversationMemory | None = None,
        *,
        llm: LLM | None = None,
        agent_id: str | None = None,
        name: str | None = None,
        tools: str | list[ToolSpec] | ToolRegistry | None = None,
        context: ExecutionContext | None = None,
        control: ControlProtocol | Transport | None = None,
        workspace: str | Any | None = None,
        hooks: HookManager | None = None,
        checkpoints: StateManager | str | Path | None = None,
        description: str | None = None,
        capabilities: Iterable[str] | None = None,
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
        if description is not None:
            self.description = description  # per instance; the class attribute is the default
        self.capabilities = [c for c in (capabilities or ()) if c.strip()]
        self._given_id = agent_id
        self.agent_id = agent_id or f"{self.name}-{uuid.uuid4().hex[:8]}"
        self.usage = UsageLedger()
        self.guidelines: list[str] = []  # see also active_guidelines(): per-call additions (journeys' pathways)
        self.workspace = workspace
        self.tools = build_registry(tools, self._sandbox)
        self.context = context or ExecutionContext()
        self.hooks = hooks if hooks is not None else HookManager()
        self.interrupts = InterruptManager(self.hooks, self.agent_id)
        self.checkpoints = _state_manager(checkpoints, self.hooks)
        self.last_checkpoint_id: str | None = None
        self._control: ControlProtocol | None = None
        self._default_control: tuple[tuple[str, ...], ControlProtocol] | None = None
        if control is not None:
            self.control = control

    @property
    def _hook_manager(self) -> HookManager:
        """The Kaizen spelling of :attr:`hooks`."""
        return self.hooks

    @contextlib.contextmanager
    def guided(self, extra: Iterable[str]) -> Iterator[None]:
        """Add guidelines for the calls made inside the block only — per task (a contextvar), so two concurrent
        callers sharing this agent (two journeys) never see each other's."""
        current = _extra_guidelines.get()
        token = _extra_guidelines.set({**current, self.agent_id: (*current.get(self.agent_id, ()), *extra)})
        try:
            yield
        finally:
            _extra_guidelines.reset(token)

    @property
    def active_guidelines(self) -> list[str]:
        extra = _extra_guidelines.get().get(self.agent_id, ())
        return [*self.guidelines, *(g for g in extra if g not in self.guidelines)]

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
        values = self.signature.validate_inputs(inputs)
        return await self._lifecycle(
            values, session_id, lambda v: self.strategy.execute(self, v, session_id=session_id)
        )

    async def aresume(self, checkpoint_id: str | None = None) -> AgentResult:
        """Continue an interrupted run from its checkpoint (the latest of this agent_id when none is given) — in
        this kernel or a new one, with the same result as a run that was never interrupted."""
        if self.checkpoints is None:
            raise ConfigurationError("This agent keeps no checkpoints: create it with checkpoints='some/folder'.")
        resume = getattr(self.strategy, "resume", None)
        if resume is None:
            raise ConfigurationError(f"{type(self.strategy).__name__} cannot resume; only multi-step strategies can.")
        state: AgentState | None
        if checkpoint_id is not None:
            state = await self.checkpoints.load_checkpoint(checkpoint_id)
        else:
            state = await self.checkpoints.resume_from_latest(self.agent_id)
        if state is None:
            raise ConfigurationError(
                f"No checkpoint for agent_id {self.agent_id!r}; pass the checkpoint id from the interruption message."
            )
        if state.status == "completed":
            raise ConfigurationError(
                f"Checkpoint {state.checkpoint_id} is of a run that completed; there is nothing to resume. Pass the "
                "checkpoint id from the interruption message."
            )
        values = self.signature.validate_inputs(state.inputs)
        return await self._lifecycle(values, state.metadata.get("session_id"), lambda v: resume(self, state))

    def resume(self, checkpoint_id: str | None = None) -> AgentResult | LiveRun:
        """Like :meth:`run`: in a notebook, a resumed run that may wait for an approval returns a LiveRun."""
        if self._needs_live_run():
            from .live import LiveRun

            return LiveRun.start(self, self.aresume(checkpoint_id))
        return run_sync(self.aresume(checkpoint_id), self._on_ctrl_c)

    async def _lifecycle(
        self, values: dict[str, Any], session_id: str | None, execute: Callable[[dict[str, Any]], Awaitable[Prediction]]
    ) -> AgentResult:
        """One run, with its trace id, AGENT_LOOP hooks, interrupts and result building around ``execute``.

        The strategy runs as its own task, so an IMMEDIATE interrupt cancels exactly that — never the caller's
        code, even when the request arrives from another thread just as the run returns.
        """

        started = time.perf_counter()
        self.context.check_budget(0.0, "this run")  # a budget already spent stops the next run before it pays
        self.last_checkpoint_id = None
        trace = current_trace.set(current_trace.get() or new_trace_id())  # specialists share their caller's trace
        try:
            data = await self._fire(
                HookEvent.PRE_AGENT_LOOP, "This run", inputs=values, signature=self.signature.__name__
            )
            values = data.get("inputs", values)
            recalled = await self._recall(session_id, values)
            token = _recalled.set({**_recalled.get(), self.agent_id: recalled})
            try:
                prediction = await self._interruptible(execute(values))
            finally:
                _recalled.reset(token)
            result = self._result(prediction, values, session_id, started)
            result.memories = recalled
            if self.memory is not None and session_id is not None:
                await self._remember(session_id, values, result)  # what the user saw, after postprocessing
        except BaseException as e:
            if self.hooks.active(HookEvent.POST_AGENT_LOOP):
                await self.hooks.trigger(HookEvent.POST_AGENT_LOOP, self.agent_id, {"inputs": values, "error": e})
            raise
        else:
            if self.hooks.active(HookEvent.POST_AGENT_LOOP):
                data = {"inputs": values, "result": result}
                await self.hooks.trigger(HookEvent.POST_AGENT_LOOP, self.agent_id, data)
            return result
        finally:
            current_trace.reset(trace)

    async def _interruptible(self, work: Awaitable[Prediction]) -> Prediction:
        import asyncio

        loop = asyncio.get_running_loop()
        step = asyncio.ensure_future(work)
        token = self.interrupts.run_started(lambda: loop.call_soon_threadsafe(step.cancel))
        try:
            return await step
        except asyncio.CancelledError:
            reason = self.interrupts.reason
            if reason is None or reason.mode is not InterruptMode.IMMEDIATE or not step.cancelled():
                raise  # the caller cancelled us (not an interrupt): let it through
            where = self.last_checkpoint_id
            hint = f" Resume from checkpoint {where}: agent.resume({where!r})." if where else ""
            redo = " The step in progress did not finish and runs again on resume." if where else ""
            message = f"{self.name} was stopped mid-step: {reason.describe()}.{hint}{redo}"
            raise AgentInterrupted(message, checkpoint_id=where, reason=reason) from None
        finally:
            self.interrupts.run_ended(token)

    def stop_if_interrupted(self, done: int, partial: Any = None) -> None:
        """Strategies call this between steps: a requested interrupt ends the run here, after ``done`` steps."""
        reason = self.interrupts.reason
        if reason is not None:
            raise AgentInterrupted(
                f"{self.name} stopped after {done} step(s): {reason.describe()}.", partial=partial, reason=reason
            )

    async def _fire(self, event: HookEvent, what: str, **data: Any) -> dict[str, Any]:
        """Trigger a PRE event; a veto raises HookVetoError. Returns the (possibly modified) data."""
        if not self.hooks.active(event):
            return data
        dispatch = await self.hooks.trigger(event, self.agent_id, data)
        if dispatch.blocked:
            raise veto_error(dispatch, what)
        return dispatch.data

    def _result(
        self, prediction: Prediction, values: dict[str, Any], session_id: str | None, started: float
    ) -> AgentResult:
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
        return self.postprocess(result)

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
        return run_sync(self.arun(session_id=session_id, **inputs), self._on_ctrl_c)

    def _on_ctrl_c(self, presses: int) -> bool:
        """Ctrl+C (or ■ in Jupyter) during run(): the first asks for a graceful stop after the current step (with a
        checkpoint when they are on); the second stops mid-step; a third gives up waiting."""
        from ..interrupts import InterruptMode, InterruptSource

        if presses > 2:
            return False
        mode = InterruptMode.GRACEFUL if presses == 1 else InterruptMode.IMMEDIATE
        if presses == 1:
            print(
                f"⏹ Stopping {self.name} after the current step (press ■ / Ctrl+C again to stop now)…", file=sys.stderr
            )
        self.interrupts.request_interrupt(mode, InterruptSource.SIGNAL, "Ctrl+C" if presses == 1 else "Ctrl+C twice")
        return True

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
            history=await self._history(session_id),
            retry_attempts=self.config.retry_attempts,
            guidelines=self.active_guidelines,
            context=_with_memories(context, _recalled.get().get(self.agent_id, ())),
            complete=self._complete,
        )

    async def _complete(self, request: LLMRequest) -> Completion:
        """Every model call of this agent: budget check, LLM_CALL hooks (which may veto or change the request),
        the call, accounting."""
        llm = self.llm
        self.context.check_budget(0.0, "the next model call")  # spent is already over: do not pay again
        if self.hooks.active(HookEvent.PRE_LLM_CALL):
            where = f"A call to {llm.provider_name}/{llm.model}"
            data = await self._fire(
                HookEvent.PRE_LLM_CALL, where, request=request, provider=llm.provider_name, model=llm.model
            )
            request = data.get("request", request)
        completion = await llm.acomplete(request)
        self._account(completion)
        if self.hooks.active(HookEvent.POST_LLM_CALL):
            data = {"request": request, "completion": completion, "provider": llm.provider_name, "model": llm.model}
            await self.hooks.trigger(HookEvent.POST_LLM_CALL, self.agent_id, data)
        return completion

    def preview_messages(self, session_id: str | None = None, **inputs: Any) -> list[Message]:
        """The messages a run would send first, without calling the model (``--dry-run`` in notebooks)."""
        values = self.signature.validate_inputs(inputs)
        mode = self.llm.structured_mode()
        recall = getattr(self.memory, "recall", None)
        memories = (
            [] if recall is None else recall(values, session_id=session_id, agent_id=self.memory_owner, touch=False)
        )
        return build_messages(
            self.signature,
            values,
            mode=mode,
            history=self._turns(session_id),
            guidelines=self.active_guidelines,
            context=_with_memories(None, memories),
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
    @property
    def memory_owner(self) -> str:
        """Whose turns these are in a memory shared by several agents: the ``agent_id`` when one was given, else
        ``name/Signature`` — stable across kernel restarts, distinct between agents doing different jobs (a signature
        parsed from a string is named by its fields: every such class is called ``StringSignature``)."""
        if self._given_id:
            return self._given_id
        source = getattr(self.signature, "source", None)
        return f"{self.name}/{self.signature.describe() if source else self.signature.__name__}"

    def recalled_context(self) -> str | None:
        """What this run recalled from memory, as prompt text (strategies that build their own prompts use it)."""
        return _with_memories(None, _recalled.get().get(self.agent_id, ()))

    def _turns(self, session_id: str | None) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        if self.memory is None or session_id is None:
            return []
        return [(t.inputs, t.outputs) for t in self.memory.load(session_id, agent_id=self.memory_owner)]

    async def _recall(self, session_id: str | None, values: dict[str, Any]) -> list[Any]:
        """Entries of a searchable memory (LongTermMemory, SemanticMemory, ...) relevant to this run's inputs,
        through the MEMORY_LOAD hooks (which may withhold or filter them). A plain buffer recalls nothing."""
        recall = getattr(self.memory, "recall", None)
        if recall is None:
            return []
        hooks = self.hooks
        query: Any = values
        if hooks.active(HookEvent.PRE_MEMORY_LOAD):
            data = {"what": "recall", "session_id": session_id, "query": values}
            dispatch = await hooks.trigger(HookEvent.PRE_MEMORY_LOAD, self.agent_id, data)
            if dispatch.blocked:
                return []
            query = dispatch.data.get("query", values)  # a hook may narrow or rewrite what is searched for
        import asyncio

        owner = self.memory_owner
        memories = await asyncio.to_thread(recall, query, session_id=session_id, agent_id=owner)  # embeds: off-loop
        if hooks.active(HookEvent.POST_MEMORY_LOAD):
            data = {"what": "recall", "session_id": session_id, "memories": memories}
            memories = (await hooks.trigger(HookEvent.POST_MEMORY_LOAD, self.agent_id, data)).data.get(
                "memories", memories
            )
        return list(memories)

    async def _history(self, session_id: str | None) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """The remembered turns for the prompt, through the MEMORY_LOAD hooks (which may withhold them)."""
        if self.memory is None or session_id is None:
            return []
        hooks = self.hooks
        if hooks.active(HookEvent.PRE_MEMORY_LOAD):
            data = {"what": "history", "session_id": session_id}
            dispatch = await hooks.trigger(HookEvent.PRE_MEMORY_LOAD, self.agent_id, data)
            if dispatch.blocked:
                return []  # a hook keeps this session's memory out of the prompt
        turns = self._turns(session_id)
        if hooks.active(HookEvent.POST_MEMORY_LOAD):
            dispatch = await hooks.trigger(
                HookEvent.POST_MEMORY_LOAD, self.agent_id, {"what": "history", "session_id": session_id, "turns": turns}
            )
            turns = dispatch.data.get("turns", turns)  # a hook may filter or summarise them
        return turns

    async def _remember(self, session_id: str, inputs: dict[str, Any], result: AgentResult) -> None:
        """Store the turn. A memory that cannot take it (a full disk, an entry over its size limit) costs a
        warning on the result, never the answer the model was already paid for."""
        memory = self.memory
        assert memory is not None
        hooks = self.hooks
        data: dict[str, Any] = {"session_id": session_id, "inputs": inputs, "outputs": dict(result)}
        if hooks.active(HookEvent.PRE_MEMORY_SAVE):
            dispatch = await hooks.trigger(HookEvent.PRE_MEMORY_SAVE, self.agent_id, data)
            if dispatch.blocked:
                return  # e.g. a hook that keeps personal data out of memory
            data = dispatch.data  # ... or one that masks it first
        save = functools.partial(memory.save, session_id, data["inputs"], data["outputs"], agent_id=self.memory_owner)
        try:
            if hasattr(memory, "recall"):  # a store that may embed or write to a database: off the event loop
                import asyncio

                await asyncio.to_thread(save)
            else:
                save()
        except MemoryStoreError as e:
            result.warnings.append(f"This turn was not remembered: {e}")
            return
        if hooks.active(HookEvent.POST_MEMORY_SAVE):
            await hooks.trigger(HookEvent.POST_MEMORY_SAVE, self.agent_id, data)

    # -- other agents ---------------------------------------------------------------------------------------------
    async def invoke_specialist(self, specialist: BaseAgent, **inputs: Any) -> AgentResult:
        """Hand a sub-task to another agent: SPECIALIST_INVOKE hooks fire (and may veto), the call shares this
        run's trace, and interrupting this agent interrupts the specialist."""
        what = f"Invoking {specialist.name}"
        data = await self._fire(HookEvent.PRE_SPECIALIST_INVOKE, what, specialist=specialist.name, inputs=inputs)
        inputs = data.get("inputs", inputs)
        self.interrupts.add_child(specialist.interrupts)
        try:
            result = await specialist.arun(**inputs)
        finally:
            self.interrupts.remove_child(specialist.interrupts)
        if self.hooks.active(HookEvent.POST_SPECIALIST_INVOKE):
            data = {"specialist": specialist.name, "inputs": inputs, "result": result}
            await self.hooks.trigger(HookEvent.POST_SPECIALIST_INVOKE, self.agent_id, data)
        return result

    def _account(self, completion: Completion) -> None:
        self.usage.record(completion, self.agent_id)
        global_usage().record(completion, self.agent_id)
        self.context.record_cost(completion.cost, f"a {completion.provider} call")  # raises when over budget

    # -- tools ----------------------------------------------------------------------------------------------------
    @property
    def executor(self) -> ToolExecutor:
        return ToolExecutor(self.tools, self.context, self.control, hooks=self.hooks, agent_id=self.agent_id)

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
            {"inputs": t.inputs, "outputs": t.outputs, "timestamp": t.timestamp}
            for t in self.memory.load(session_id, agent_id=self.memory_owner)
        ]

    def clear_memory(self, session_id: str | None = None) -> None:
        if self.memory is not None:
            self.memory.clear(session_id, agent_id=self.memory_owner)

    def with_signature(self, signature: type[Signature] | str, *, name: str | None = None) -> BaseAgent:
        """The same agent — model, config, hooks, budget context, interrupts, description, capabilities — doing
        another job: how a multi-agent pattern asks a participant to propose, vote, argue or judge. Interrupting
        (or time-limiting) the participant interrupts its roles. It has no conversation memory and runs single-shot
        (a subclass's strategy and postprocess belong to its own signature)."""
        sibling = BaseAgent(
            self.config,
            signature=signature,
            llm=self.llm,
            name=name or self.name,
            agent_id=self.agent_id,
            tools=self.tools,
            context=self.context,
            control=self._control,
            hooks=self.hooks,
            description=self.description,
            capabilities=self.capabilities,
            max_turns=0,
        )
        sibling.usage = self.usage  # one ledger: the participant's usage is its roles' usage
        sibling.guidelines = self.guidelines
        sibling.interrupts = self.interrupts  # one stop button for the participant and all its roles
        return sibling

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
        skills = [skill] + [
            {"id": f"{self.name}.capability-{n}".lower(), "name": c, "description": c, "tags": [], "examples": []}
            for n, c in enumerate(self.capabilities, 1)
        ]
        return {
            "name": self.name,
            "description": description,
            "url": f"local://{self.agent_id}",
            "version": "0.1.0",
            "provider": {"organization": "kaizen-lab"},
            "capabilities": {"streaming": False, "pushNotifications": False, "stateTransitionHistory": False},
            "defaultInputModes": ["application/json", "text/plain"],
            "defaultOutputModes": ["application/json"],
            "skills": skills,
            "metadata": {
                "llm_provider": self.llm.provider_name,
                "model": self.llm.model,
                # where the description came from: capability matching ignores one that is only the signature's
                "description_source": "agent" if self.description else "signature",
            },
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}(signature={self.signature.describe()!r}, llm={self.llm!r})"


def _state_manager(spec: Any, hooks: HookManager) -> StateManager | None:
    """``checkpoints=`` may be a StateManager or a folder (checkpoints then go there as files)."""
    if spec is None:
        return None
    from ..state import FilesystemStorage, StateManager

    if isinstance(spec, StateManager):
        if spec.hooks is None:
            spec.hooks = hooks
        return spec
    return StateManager(FilesystemStorage(Path(spec).expanduser()), hooks=hooks)


def _with_memories(context: str | None, memories: Iterable[Any]) -> str | None:
    """The run's context with the recalled memories appended (the prompt's "Relevant context" section)."""
    memories = list(memories)
    if not memories:
        return context
    from ..memory.store import memory_context

    recalled = memory_context(memories)
    return f"{context}\n\n{recalled}" if context else recalled
