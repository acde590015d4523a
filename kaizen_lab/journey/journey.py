"""Journey: a conversation across pathways, routed by triggers, with context that accumulates along the way.

::

    class Referral(Journey):
        __entry_pathway__ = "intake"
        __transitions__ = [
            Transition(IntentTrigger(patterns=["faq", "question about"], intents=["faq"]), to_pathway="faq")
        ]

        class IntakePath(Pathway):
            __agents__ = ["intake_agent"]
            __accumulate__ = ["symptoms"]
            __next__ = "booking"

        class BookingPath(Pathway):
            __agents__ = ["booking_agent"]

        class FAQPath(Pathway):
            __agents__ = ["faq_agent"]
            __return_behavior__ = ReturnToPrevious()

    journey = Referral(session_id="s1", agents={"intake_agent": ..., "booking_agent": ..., "faq_agent": ...})
    response = await journey.process_message("I have a headache")

Each message: PRE_MESSAGE_PROCESS → route (PATHWAY_TRANSITION) → PRE_PATHWAY_EXECUTE → the pathway's agents →
accumulate → POST_PATHWAY_EXECUTE → complete (return or next: PATHWAY_TRANSITION) → save → POST_MESSAGE_PROCESS.
A failed agent leaves the state as it was before the message.
"""

from __future__ import annotations

import copy
import time
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from .._sync import run_sync
from ..exceptions import ConfigurationError
from ..hooks import Dispatch, HookEvent, HookManager
from ..signatures import Signature
from .behaviors import ReturnBehavior, ReturnToPrevious, ReturnToSpecific
from .config import JourneyConfig
from .context import is_empty, merge_value
from .intent import IntentClassification, IntentClassifier
from .pathway import Pathway, build_inputs
from .response import JourneyResponse
from .state import JourneyState, JourneyStore, StackFrame
from .transitions import Transition, select_transition
from .triggers import Trigger, TriggerContext

if TYPE_CHECKING:
    import asyncio

    from ..agents.base import BaseAgent
    from ..agents.result import AgentResult
    from ..llm.client import LLM

__all__ = ["Journey"]


class Journey:
    """Base class of journeys: nest :class:`Pathway` classes, set ``__entry_pathway__`` and ``__transitions__``.

    The definition is checked when the journey is constructed: an unknown entry pathway, a transition, ``__next__``
    or ``ReturnToSpecific`` naming no pathway, or a pathway agent missing from ``agents=`` raise
    :class:`ConfigurationError`.
    """

    __entry_pathway__: ClassVar[str] = ""
    __transitions__: ClassVar[list[Transition]] = []
    __pathways__: ClassVar[dict[str, type[Pathway]]] = {}
    _duplicate_pathways: ClassVar[list[str]] = []

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        inherited: dict[str, type[Pathway]] = {}
        for base in reversed(cls.__mro__[1:]):
            inherited.update(getattr(base, "__pathways__", {}))
        own: dict[str, type[Pathway]] = {}
        duplicates: list[str] = []
        for value in cls.__dict__.values():
            if isinstance(value, type) and issubclass(value, Pathway) and value is not Pathway:
                name = value.__pathway_name__
                if name in own:
                    duplicates.append(f"{name!r} ({own[name].__name__} and {value.__name__})")
                own[name] = value
        cls.__pathways__ = {**inherited, **own}
        cls._duplicate_pathways = duplicates

    def __init__(
        self,
        session_id: str | None = None,
        config: JourneyConfig | None = None,
        agents: dict[str, BaseAgent] | None = None,
        *,
        hooks: HookManager | None = None,
    ) -> None:
        self.session_id = session_id or uuid.uuid4().hex[:12]
        self.config = config or JourneyConfig()
        self.agents: dict[str, BaseAgent] = dict(agents or {})
        self.hooks = hooks if hooks is not None else HookManager()
        self.pathways: dict[str, type[Pathway]] = dict(type(self).__pathways__)
        self.transitions: list[Transition] = list(type(self).__transitions__)
        self.entry_pathway = type(self).__entry_pathway__
        self._validate()
        self.journey_id = f"{type(self).__name__}:{self.session_id}"
        self.store = JourneyStore(self.config.storage_dir) if self.config.storage_dir is not None else None
        self._state = self._fresh_state()
        self._started = False
        self.restored = False
        self._llm: LLM | None = self.config.llm
        self._classifier = IntentClassifier(lambda: self.llm)
        self._locks: dict[int, asyncio.Lock] = {}

    # -- definition checks ----------------------------------------------------------------------------------------
    def _validate(self) -> None:
        name = type(self).__name__
        if self._duplicate_pathways:
            raise ConfigurationError(f"{name} defines two pathways with the same name: {self._duplicate_pathways}.")
        if not self.pathways:
            raise ConfigurationError(f"{name} has no pathways; nest classes like `class IntakePath(Pathway): ...`.")
        known = list(self.pathways)
        if not self.entry_pathway:
            raise ConfigurationError(f"{name} needs __entry_pathway__ = one of {known}.")
        if self.entry_pathway not in self.pathways:
            raise ConfigurationError(
                f"{name}.__entry_pathway__ = {self.entry_pathway!r} is not a pathway; its pathways are {known}."
            )
        for t in self.transitions:
            if not isinstance(t, Transition):
                raise ConfigurationError(
                    f"{name}.__transitions__ holds {t!r}; use Transition(trigger, to_pathway=...)."
                )
            if t.to_pathway not in self.pathways:
                raise ConfigurationError(
                    f"{name}: a transition goes to {t.to_pathway!r}, which is not a pathway; its pathways are {known}."
                )
            unknown = [s for s in t.from_pathway if s != "*" and s not in self.pathways]
            if unknown:
                raise ConfigurationError(
                    f"{name}: a transition starts from {unknown}, not pathways of {name}; its pathways are {known}."
                )
        for pname, pathway in self.pathways.items():
            self._validate_pathway(pname, pathway, known)

    def _validate_pathway(self, pname: str, pathway: type[Pathway], known: list[str]) -> None:
        where = f"{type(self).__name__}.{pathway.__name__} (pathway {pname!r})"
        if pathway.__next__ is not None and pathway.__next__ not in self.pathways:
            raise ConfigurationError(f"{where}: __next__ = {pathway.__next__!r} is not a pathway; pathways: {known}.")
        behavior = pathway.__return_behavior__
        if behavior is not None and not isinstance(behavior, ReturnBehavior):
            raise ConfigurationError(f"{where}: __return_behavior__ must be ReturnToPrevious() or ReturnToSpecific().")
        if isinstance(behavior, ReturnToSpecific) and behavior.target_pathway not in self.pathways:
            raise ConfigurationError(
                f"{where}: ReturnToSpecific({behavior.target_pathway!r}) names no pathway; pathways: {known}."
            )
        if pathway.__signature__ is not None:
            Signature.coerce(pathway.__signature__)  # raises ConfigurationError on a bad one
        done = pathway.__complete_when__
        if done is not None and not isinstance(done, Trigger):
            raise ConfigurationError(
                f"{where}: __complete_when__ must be a trigger, e.g. IntentTrigger(patterns=[...])."
            )
        names = pathway.__agents__
        if isinstance(names, str) or not names:
            raise ConfigurationError(f"{where}: __agents__ must be a non-empty list of agent names, got {names!r}.")
        outputs: set[str] = set()
        for agent_name in names:
            agent = self.agents.get(agent_name)
            if agent is None:
                raise ConfigurationError(
                    f"{where} runs the agent {agent_name!r}, which is not in agents= (given: {sorted(self.agents)}); "
                    f"pass agents={{{agent_name!r}: BaseAgent(...)}}."
                )
            if not hasattr(agent, "arun") or not hasattr(agent, "signature"):
                raise ConfigurationError(f"agents[{agent_name!r}] must be a BaseAgent, got {type(agent).__name__}.")
            outputs.update(agent.signature.output_fields)
        missing = [f for f in pathway.__accumulate__ if f not in outputs]
        if missing:
            raise ConfigurationError(
                f"{where}: __accumulate__ names {missing}, which none of its agents output "
                f"(their outputs: {sorted(outputs)})."
            )

    # -- state ------------------------------------------------------------------------------------------------------
    def _fresh_state(self) -> JourneyState:
        return JourneyState(self.session_id, type(self).__name__, self.entry_pathway)

    @property
    def current_pathway(self) -> str:
        """Where the next message goes (before any trigger moves it)."""
        return self._state.current_pathway

    @property
    def pathway_stack(self) -> list[str]:
        """The pathways detours will return to, oldest first."""
        return [f.pathway for f in self._state.stack]

    @property
    def accumulated_context(self) -> dict[str, Any]:
        return copy.deepcopy(self._state.context)

    @property
    def history(self) -> list[dict[str, Any]]:
        return copy.deepcopy(self._state.history)

    @property
    def message_count(self) -> int:
        return self._state.message_count

    @property
    def state(self) -> JourneyState:
        """A copy of the whole state (what is saved)."""
        return self._state.copy()

    @property
    def llm(self) -> LLM:
        """The model intent triggers fall back to, made on first use."""
        if self._llm is None:
            from ..llm.client import LLM

            self._llm = LLM(self.config.llm_provider, self.config.model)
        return self._llm

    # -- session ----------------------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Begin the session, or continue it from saved state (JOURNEY_SESSION_RESTORE). Called by the first
        message if you do not; calling it again does nothing."""
        if self._started:
            return
        saved = self.store.load(self.session_id) if self.store is not None else None
        self._started = True
        if saved is None:
            await self._fire(
                HookEvent.JOURNEY_SESSION_START,
                {"pathway": self.entry_pathway, "entry_pathway": self.entry_pathway},
            )
            return
        self._state = self._adopt(saved)
        self.restored = True
        await self._fire(
            HookEvent.JOURNEY_SESSION_RESTORE,
            {
                "pathway": self._state.current_pathway,
                "stack": self.pathway_stack,
                "accumulated_context": self.accumulated_context,
                "message_count": self._state.message_count,
            },
        )

    def _adopt(self, saved: JourneyState) -> JourneyState:
        if saved.journey != type(self).__name__:
            raise ConfigurationError(
                f"Session {self.session_id!r} in {self.config.storage_dir} was saved by {saved.journey}, not "
                f"{type(self).__name__}; use another session_id or storage_dir."
            )
        if saved.current_pathway not in self.pathways:  # the definition changed since: start over at the entry
            saved.current_pathway = self.entry_pathway
        saved.stack = [f for f in saved.stack if f.pathway in self.pathways]
        return saved

    def reset(self) -> None:
        """Forget this session (and its saved state); the next message starts it afresh."""
        if self.store is not None:
            self.store.delete(self.session_id)
        self._state = self._fresh_state()
        self._started = False
        self.restored = False

    # -- messages ---------------------------------------------------------------------------------------------------
    async def process_message(self, message: str) -> JourneyResponse:
        """Route ``message``, run the pathway that should answer it, accumulate, save, and say what happened.

        Messages of one journey are processed one at a time, in the order they arrive.
        """
        if not isinstance(message, str):
            raise ConfigurationError(
                f"process_message takes the user's message as a str, got {type(message).__name__}."
            )
        from ..hooks.manager import current_trace, new_trace_id

        await self.start()
        trace = current_trace.set(current_trace.get() or new_trace_id())  # one trace per message, agents included
        try:
            async with self._lock():
                return await self._process(message)
        finally:
            current_trace.reset(trace)

    def send(self, message: str) -> JourneyResponse:
        """:meth:`process_message` from sync code (works inside a notebook too)."""
        return run_sync(self.process_message(message))

    def _lock(self) -> asyncio.Lock:
        import asyncio  # here, not at the top: `import kaizen_lab` stays free of asyncio

        loop = asyncio.get_running_loop()
        lock = self._locks.get(id(loop))
        if lock is None:
            lock = self._locks[id(loop)] = asyncio.Lock()
        return lock

    async def _process(self, message: str) -> JourneyResponse:
        state = self._state.copy()  # work on a copy: a failure leaves the journey as it was
        start_pathway = state.current_pathway
        previous = state.last_pathway or start_pathway
        pre = await self._fire(
            HookEvent.PRE_MESSAGE_PROCESS,
            {"message": message, "pathway": start_pathway, "accumulated_context": copy.deepcopy(state.context)},
        )
        if pre.blocked:
            reason = pre.blocked_by.reason if pre.blocked_by else ""
            return self._response(message, start_pathway, None, state, previous, blocked=reason or "blocked")
        message = str(pre.data.get("message", message))

        routing = await select_transition(
            self.transitions,
            TriggerContext(
                message,
                copy.deepcopy(state.context),
                start_pathway,
                default_threshold=self.config.intent_confidence_threshold,
            ),
            self.classify,
        )
        if routing.transition is not None and routing.match is not None:
            t = routing.transition
            await self._move(state, t.to_pathway, "transition", routing.match.reason, priority=t.priority)
        name = state.current_pathway
        pathway = self.pathways[name]

        result, blocked = await self._execute(state, name, pathway, message)
        completed = False
        if result is not None:
            added = self._accumulate(state, pathway, result)
            completed = await pathway.completes(copy.deepcopy(state.context), dict(result), message)
            await self._fire(
                HookEvent.POST_PATHWAY_EXECUTE,
                {
                    "pathway": name,
                    "outputs": dict(result),
                    "accumulated": added,
                    "accumulated_context": copy.deepcopy(state.context),
                    "completed": completed,
                },
            )
            if completed:
                await self._complete(state, pathway)

        why = routing.match.reason if routing.match is not None else None
        response = self._response(
            message,
            name,
            result,
            state,
            previous,
            transition=why,
            completed=completed,
            intent=routing.classification,
            blocked=blocked,
        )
        state.last_pathway = name
        state.message_count += 1
        state.updated_at = time.time()
        state.history.append(_history_entry(state.message_count, response))
        del state.history[: max(0, len(state.history) - self.config.max_history)]
        self._state = state
        if self.store is not None:
            self.store.save(state)
        await self._fire(
            HookEvent.POST_MESSAGE_PROCESS,
            {
                "message": message,
                "pathway": name,
                "previous_pathway": previous,
                "pathway_changed": response.pathway_changed,
                "next_pathway": response.next_pathway,
                "accumulated_context": copy.deepcopy(state.context),
                "response": response,
            },
        )
        return response

    def _response(
        self,
        message: str,
        pathway: str,
        result: AgentResult | None,
        state: JourneyState,
        previous: str,
        *,
        transition: str | None = None,
        completed: bool = False,
        intent: IntentClassification | None = None,
        blocked: str | None = None,
    ) -> JourneyResponse:
        return JourneyResponse(
            message=message,
            pathway=pathway,
            result=result,
            accumulated_context=copy.deepcopy(state.context),
            pathway_changed=pathway != previous,
            previous_pathway=previous,
            next_pathway=state.current_pathway,
            transition=transition,
            completed=completed,
            intent=intent,
            blocked=blocked,
            session_id=self.session_id,
            stack=[f.pathway for f in state.stack],
        )

    async def classify(self, message: str, intents: Sequence[str]) -> IntentClassification:
        """What the intent fallback would decide: one of ``intents`` (or ``"none"``) and a confidence in [0, 1],
        from the journey's model."""
        return await self._classifier.classify(message, intents)

    # -- running a pathway ------------------------------------------------------------------------------------------
    async def _execute(
        self, state: JourneyState, name: str, pathway: type[Pathway], message: str
    ) -> tuple[AgentResult | None, str | None]:
        pre = await self._fire(
            HookEvent.PRE_PATHWAY_EXECUTE,
            {
                "pathway": name,
                "agents": list(pathway.__agents__),
                "message": message,
                "accumulated_context": copy.deepcopy(state.context),
            },
        )
        if pre.blocked:
            reason = pre.blocked_by.reason if pre.blocked_by else ""
            return None, reason or "blocked"
        message = str(pre.data.get("message", message))
        produced: dict[str, Any] = {}
        results: list[AgentResult] = []
        for agent_name in pathway.__agents__:
            agent = self.agents[agent_name]
            where = f"Pathway {name!r}, agent {agent_name!r}: {type(agent).__name__} "
            inputs = build_inputs(agent.signature, message, state.context, produced, where)
            result = await self._run_agent(agent, pathway, inputs)
            produced.update(result)
            results.append(result)
        return _combine(results, self.session_id), None

    async def _run_agent(self, agent: BaseAgent, pathway: type[Pathway], inputs: dict[str, Any]) -> AgentResult:
        with agent.guided(pathway.__guidelines__):  # per call: a shared agent's other callers are unaffected
            return await agent.arun(session_id=self.session_id, **inputs)

    def _accumulate(self, state: JourneyState, pathway: type[Pathway], outputs: dict[str, Any]) -> list[str]:
        added = []
        for field in pathway.__accumulate__:
            if field not in outputs or is_empty(outputs[field]):
                continue
            strategy = self.config.strategy(field)
            state.context[field] = merge_value(strategy, state.context.get(field), outputs[field], field)
            added.append(field)
        return added

    # -- moving between pathways ------------------------------------------------------------------------------------
    async def _move(self, state: JourneyState, target: str, reason: str, detail: str = "", priority: int = 0) -> None:
        source = state.current_pathway
        behavior = self.pathways[target].__return_behavior__
        if behavior is not None:  # a detour: remember where to come back to
            snapshot = None if behavior.preserve_context else copy.deepcopy(state.context)
            state.stack.append(StackFrame(source, snapshot))
            if isinstance(behavior, ReturnToPrevious):
                del state.stack[: max(0, len(state.stack) - behavior.max_depth)]
        else:
            state.stack.clear()
        state.current_pathway = target
        await self._fire_transition(state, source, target, reason, detail, priority)

    async def _complete(self, state: JourneyState, pathway: type[Pathway]) -> None:
        source = state.current_pathway
        behavior = pathway.__return_behavior__
        if behavior is None:
            if pathway.__next__ is not None and pathway.__next__ != source:
                await self._move(state, pathway.__next__, "next", f"{source} completed")
            return
        frame = state.stack.pop() if state.stack else None
        if frame is not None and frame.context is not None:
            state.context = frame.context  # preserve_context=False: forget what the detour accumulated
        if isinstance(behavior, ReturnToSpecific):
            target = behavior.target_pathway
        else:
            target = frame.pathway if frame is not None else self.entry_pathway
        if self.pathways[target].__return_behavior__ is None:
            state.stack.clear()
        state.current_pathway = target
        if target != source:
            await self._fire_transition(state, source, target, "return", f"{source} completed")

    async def _fire_transition(
        self, state: JourneyState, source: str, target: str, reason: str, detail: str, priority: int = 0
    ) -> None:
        await self._fire(
            HookEvent.PATHWAY_TRANSITION,
            {
                "from_pathway": source,
                "to_pathway": target,
                "reason": reason,  # "transition" (a trigger fired), "next" or "return" (a pathway completed)
                "trigger": detail,
                "priority": priority,
                "stack": [f.pathway for f in state.stack],
            },
        )

    async def _fire(self, event: HookEvent, data: dict[str, Any]) -> Dispatch:
        return await self.hooks.trigger(
            event, self.journey_id, {"session_id": self.session_id, "journey": type(self).__name__, **data}
        )

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} session={self.session_id!r}: {len(self.pathways)} pathways, "
            f"current {self.current_pathway!r}, {self.message_count} message(s)>"
        )


def _combine(results: list[AgentResult], session_id: str) -> AgentResult:
    if len(results) == 1:
        return results[0]
    from ..agents.result import AgentResult

    outputs: dict[str, Any] = {}
    for r in results:
        outputs.update(r)
    combined = AgentResult(
        outputs,
        completions=[c for r in results for c in r.completions],
        latency=sum(r.latency for r in results),
        signature="+".join(r.signature for r in results),
        session_id=session_id,
        messages=results[-1].messages,
    )
    combined.warnings = [w for r in results for w in r.warnings]
    return combined


def _history_entry(index: int, response: JourneyResponse) -> dict[str, Any]:
    return {
        "index": index,
        "message": response.message,
        "pathway": response.pathway,
        "previous_pathway": response.previous_pathway,
        "pathway_changed": response.pathway_changed,
        "transition": response.transition,
        "completed": response.completed,
        "next_pathway": response.next_pathway,
        "outputs": response.outputs,
        "accumulated_context": copy.deepcopy(response.accumulated_context),
        "blocked": response.blocked,
        "timestamp": time.time(),
    }
