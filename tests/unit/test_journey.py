"""Journeys (layer 5) on scripted models: routing, detours and returns, accumulation, persistence, hooks, checks.

The agents answer from their inputs (``FunctionProvider``), so every test is about the engine's logic. One test at
the end runs the real embedded model for the intent fallback.
"""

# ruff: noqa: RUF012 - journeys and pathways are declared with list class attributes (the Kaizen style)

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from typing import Any

import pytest

from kaizen_lab import LLM, BaseAgent, ConfigurationError, FunctionProvider, InputField, OutputField, Signature
from kaizen_lab.hooks import HookEvent, HookManager, HookResult
from kaizen_lab.journey import (
    NO_INTENT,
    AccumulationStrategy,
    AlwaysTrigger,
    ConditionTrigger,
    IntentClassifier,
    IntentTrigger,
    Journey,
    JourneyConfig,
    JourneyStore,
    Pathway,
    ReturnToPrevious,
    ReturnToSpecific,
    Transition,
)
from kaizen_lab.journey.context import merge_value
from kaizen_lab.journey.pathway import build_inputs, message_slot, pathway_name
from kaizen_lab.llm.local import local_model_available

# -- scripted agents --------------------------------------------------------------------------------------------------


def inputs_of(messages: list[dict[str, Any]]) -> dict[str, str]:
    """The ``name: value`` lines of the last user message (how the engine formats a signature's inputs)."""
    text = next(m["content"] for m in reversed(messages) if m["role"] == "user")
    return dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)


def scripted(fn) -> LLM:
    return LLM(FunctionProvider(lambda messages, request: fn(inputs_of(messages))))


class IntakeSignature(Signature):
    """Collect the patient's symptoms and name."""

    message: str = InputField(desc="Patient message")
    reply: str = OutputField(desc="What to say")
    symptoms: list[str] = OutputField(desc="Symptoms mentioned")
    name: str = OutputField(desc="The patient's name, if given")


class BookingSignature(Signature):
    """Book a doctor for the patient."""

    message: str = InputField(desc="Patient message")
    symptoms: str = InputField(desc="Known symptoms", default="")
    name: str = InputField(desc="Patient name", default="")
    reply: str = OutputField(desc="What to say")
    doctor: str = OutputField(desc="The doctor booked")


class FAQSignature(Signature):
    """Answer a question about the clinic."""

    message: str = InputField(desc="The question")
    answer: str = OutputField(desc="The answer")


SYMPTOMS = ("headache", "fever", "cough")


def intake(inp: dict[str, str]) -> dict[str, Any]:
    msg = inp["message"]
    name = re.search(r"name is (\w+)", msg)
    return {
        "reply": "Thanks.",
        "symptoms": [s for s in SYMPTOMS if s in msg.lower()],
        "name": name.group(1) if name else "",
    }


def booking(inp: dict[str, str]) -> dict[str, Any]:
    doctor = "Dr Neuro" if "headache" in inp.get("symptoms", "") else "Dr General"
    return {"reply": f"Booked {inp.get('name', '?')} with {doctor}.", "doctor": doctor}


def faq(inp: dict[str, str]) -> dict[str, Any]:
    return {"answer": f"About: {inp['message']}"}


def agents() -> dict[str, BaseAgent]:
    return {
        "intake_agent": BaseAgent(signature=IntakeSignature, llm=scripted(intake), name="intake"),
        "booking_agent": BaseAgent(signature=BookingSignature, llm=scripted(booking), name="booking"),
        "faq_agent": BaseAgent(signature=FAQSignature, llm=scripted(faq), name="faq"),
    }


FAQ_TRIGGER = IntentTrigger(patterns=["faq", "question about"], intents=["faq"], use_llm_fallback=False)


class Referral(Journey):
    __entry_pathway__ = "intake"
    __transitions__ = [
        Transition(trigger=FAQ_TRIGGER, from_pathway="*", to_pathway="faq", priority=10),
        Transition(IntentTrigger(patterns=["start over"], use_llm_fallback=False), "booking", "intake", priority=5),
    ]

    class IntakePath(Pathway):
        __signature__ = IntakeSignature
        __agents__ = ["intake_agent"]
        __accumulate__ = ["symptoms", "name"]
        __next__ = "booking"
        __guidelines__ = ["Be concise"]

    class BookingPath(Pathway):
        __signature__ = BookingSignature
        __agents__ = ["booking_agent"]
        __accumulate__ = ["doctor"]

    class FAQPath(Pathway):
        __signature__ = FAQSignature
        __agents__ = ["faq_agent"]
        __return_behavior__ = ReturnToPrevious(preserve_context=True, max_depth=3)


def referral(**kw: Any) -> Referral:
    config = kw.pop("config", None) or JourneyConfig(accumulation={"symptoms": "union", "name": "replace"})
    return Referral(
        session_id=kw.pop("session_id", "s1"), config=config, agents=kw.pop("agents", None) or agents(), **kw
    )


def last_call(agent: BaseAgent):
    return agent.llm.provider.calls[-1]  # type: ignore[attr-defined]


# -- the definition ---------------------------------------------------------------------------------------------------


def test_importing_journeys_stays_light():
    probe = "import kaizen_lab.journey, sys; print(sorted(m for m in sys.modules if '.' not in m))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert not {"asyncio", "xllamacpp", "litellm", "pandas", "IPython", "ipywidgets"} & set(ast.literal_eval(loaded))


def test_pathway_names_come_from_the_nested_classes():
    assert list(Referral.__pathways__) == ["intake", "booking", "faq"]
    assert pathway_name("FAQPath") == "faq"
    assert pathway_name("DoctorBookingPathway") == "doctor_booking"
    assert pathway_name("Summary") == "summary"

    class Named(Pathway):
        __pathway_name__ = "custom"

    assert Named.__pathway_name__ == "custom"


# -- routing ----------------------------------------------------------------------------------------------------------


async def test_first_message_goes_to_the_entry_pathway():
    journey = referral()
    r = await journey.process_message("I have a headache")
    assert r.pathway == "intake" and r.previous_pathway == "intake" and not r.pathway_changed
    assert r.transition is None and r.intent is None
    assert r.result is not None and r.result["symptoms"] == ["headache"]
    assert r.accumulated_context == {"symptoms": ["headache"]}  # the empty name is not accumulated
    assert not r.completed and r.next_pathway == "intake" == journey.current_pathway  # no name yet
    assert journey.message_count == 1


async def test_faq_detour_returns_to_the_previous_pathway_with_context_preserved():
    journey = referral()
    await journey.process_message("I have a headache")
    r = await journey.process_message("I have a question about parking")
    assert (r.pathway, r.previous_pathway, r.pathway_changed) == ("faq", "intake", True)
    assert r.transition == "pattern 'question about'"
    assert r.result is not None and r.result["answer"] == "About: I have a question about parking"
    assert r.completed and r.next_pathway == "intake" and r.stack == []  # answered once, then back
    assert r.accumulated_context == {"symptoms": ["headache"]}

    r = await journey.process_message("My name is Ann, I also have a fever")
    assert (r.pathway, r.previous_pathway, r.pathway_changed) == ("intake", "faq", True)
    assert r.accumulated_context == {"symptoms": ["headache", "fever"], "name": "Ann"}
    assert r.completed and r.next_pathway == "booking"  # everything intake accumulates is known

    r = await journey.process_message("When can I come?")
    assert r.pathway == "booking" and r.result is not None
    assert r.result["reply"] == "Booked Ann with Dr Neuro."
    sent = inputs_of(last_call(journey.agents["booking_agent"]).messages)
    assert sent["symptoms"] == "headache, fever" and sent["name"] == "Ann"  # from the accumulated context
    assert journey.accumulated_context["doctor"] == "Dr Neuro"


async def test_the_stack_holds_the_origin_while_a_detour_is_open():
    class SlowFAQ(Referral):
        class FAQPath(Pathway):
            __agents__ = ["faq_agent"]
            __return_behavior__ = ReturnToPrevious()

            @classmethod
            def is_complete(cls, context: dict[str, Any], outputs: dict[str, Any]) -> bool:
                return "thanks" in outputs["answer"].lower()

    journey = SlowFAQ(session_id="s", agents=agents())
    r = await journey.process_message("faq: opening hours?")
    assert r.pathway == "faq" and not r.completed and r.stack == ["intake"] == journey.pathway_stack
    r = await journey.process_message("another faq, thanks")
    assert r.pathway == "faq" and not r.pathway_changed and r.transition is None  # already there
    assert r.completed and r.next_pathway == "intake" and journey.pathway_stack == []


async def test_complete_when_lets_the_pathway_answer_then_move_on():
    class Explicit(Referral):
        class IntakePath(Referral.IntakePath):
            __complete_when__ = IntentTrigger(patterns=["that's all"], use_llm_fallback=False)

    journey = Explicit(session_id="s", config=JourneyConfig(accumulation={"symptoms": "union"}), agents=agents())
    r = await journey.process_message("My name is Ann, I have a fever")  # everything known, but not "that's all"
    assert not r.completed and journey.current_pathway == "intake"
    r = await journey.process_message("a cough too, that's all")
    assert r.pathway == "intake" and r.completed and r.next_pathway == "booking"
    assert r.accumulated_context["symptoms"] == ["fever", "cough"]  # intake itself handled the last message


async def test_detour_without_preserve_context_forgets_what_it_accumulated():
    class TopicSignature(Signature):
        """Answer and name the topic."""

        message: str = InputField()
        answer: str = OutputField()
        topic: str = OutputField()

    class Forgetful(Referral):
        class FAQPath(Pathway):
            __agents__ = ["faq_agent"]
            __accumulate__ = ["topic"]
            __return_behavior__ = ReturnToPrevious(preserve_context=False)

    team = agents()
    team["faq_agent"] = BaseAgent(signature=TopicSignature, llm=scripted(lambda i: {"answer": "a", "topic": "parking"}))
    journey = Forgetful(session_id="s", agents=team)
    await journey.process_message("I have a cough")
    r = await journey.process_message("faq please")
    assert r.outputs["topic"] == "parking"
    assert journey.accumulated_context == {"symptoms": ["cough"]}  # back at intake, the detour's topic is gone


async def test_return_to_specific_goes_to_the_named_pathway():
    class HelpSignature(Signature):
        """Help."""

        message: str = InputField()
        answer: str = OutputField()

    class WithHelp(Referral):
        __transitions__ = [
            *Referral.__transitions__,
            Transition(IntentTrigger(patterns=["help"], use_llm_fallback=False), to_pathway="help", priority=1),
        ]

        class HelpPath(Pathway):
            __agents__ = ["help_agent"]
            __return_behavior__ = ReturnToSpecific("booking")

    team = {**agents(), "help_agent": BaseAgent(signature=HelpSignature, llm=scripted(lambda i: {"answer": "ok"}))}
    journey = WithHelp(session_id="s", agents=team)
    assert ReturnToSpecific("booking").target == "booking"
    await journey.process_message("I have a cough")
    r = await journey.process_message("help me")
    assert (r.pathway, r.next_pathway) == ("help", "booking")
    assert journey.current_pathway == "booking" and journey.pathway_stack == []


async def test_nested_detours_unwind_in_order_and_max_depth_bounds_the_stack():
    class Q(Signature):
        """Answer."""

        message: str = InputField()
        answer: str = OutputField()

    class Nested(Referral):
        __transitions__ = [
            Transition(IntentTrigger(patterns=["faq"], use_llm_fallback=False), to_pathway="faq", priority=10),
            Transition(IntentTrigger(patterns=["help"], use_llm_fallback=False), to_pathway="help", priority=10),
        ]

        class FAQPath(Pathway):
            __agents__ = ["faq_agent"]
            __return_behavior__ = ReturnToPrevious(max_depth=2)

            @classmethod
            def is_complete(cls, context: dict[str, Any], outputs: dict[str, Any]) -> bool:
                return "done" in outputs["answer"]

        class HelpPath(FAQPath):
            __pathway_name__ = "help"

    echo = scripted(lambda i: {"answer": i["message"]})
    journey = Nested(session_id="s", agents={**agents(), "faq_agent": BaseAgent(signature=Q, llm=echo)})
    for text in ("faq", "help", "faq", "help"):
        await journey.process_message(text)
    assert journey.current_pathway == "help" and journey.pathway_stack == ["help", "faq"]  # bounded to 2
    r = await journey.process_message("help done")
    assert r.next_pathway == "faq" and journey.pathway_stack == ["help"]


async def test_highest_priority_wins_and_ties_go_to_the_first_declared():
    def make(priorities: tuple[int, int]) -> Journey:
        class Prio(Referral):
            __transitions__ = [
                Transition(IntentTrigger(patterns=["urgent"], use_llm_fallback=False), "*", "booking", priorities[0]),
                Transition(IntentTrigger(patterns=["faq"], use_llm_fallback=False), "*", "faq", priorities[1]),
            ]

        return Prio(session_id="p", agents=agents())

    assert (await make((1, 10)).process_message("urgent faq")).pathway == "faq"
    assert (await make((10, 1)).process_message("urgent faq")).pathway == "booking"
    assert (await make((5, 5)).process_message("urgent faq")).pathway == "booking"


async def test_condition_and_always_triggers():
    seen: list[tuple[dict[str, Any], str]] = []

    def known_name(context: dict[str, Any], message: str) -> bool:
        seen.append((context, message))
        return "name" in context

    async def says_bye(context: dict[str, Any], message: str) -> bool:
        return message == "bye"

    class Conditional(Referral):
        __transitions__ = [
            Transition(ConditionTrigger(known_name), "intake", "booking"),
            Transition(ConditionTrigger(says_bye, description="goodbye"), "booking", "faq", priority=2),
            Transition(AlwaysTrigger(), "booking", "intake"),
        ]

    journey = Conditional(session_id="c", agents=agents())
    r = await journey.process_message("hello")
    assert r.pathway == "intake" and seen[-1] == ({}, "hello")
    await journey.process_message("my name is Bo")  # no symptoms yet: intake is not complete, and stays
    assert journey.current_pathway == "intake"
    r = await journey.process_message("anything")
    assert r.pathway == "booking" and r.transition == "condition known_name"
    r = await journey.process_message("bye")  # both booking transitions fire: the higher priority wins
    assert r.pathway == "faq" and r.transition == "goodbye" and r.next_pathway == "booking"  # a detour
    r = await journey.process_message("whatever")
    assert r.pathway == "intake" and r.transition == "always"


async def test_patterns_match_whole_words_in_any_case_and_regexes_as_given():
    ctx = __import__("kaizen_lab.journey", fromlist=["TriggerContext"]).TriggerContext
    t = IntentTrigger(patterns=["faq", re.compile(r"\bq\d+")], use_llm_fallback=False)
    assert await t.match(ctx("Quick FAQ?"))
    assert await t.match(ctx("see q42"))
    assert await t.match(ctx("faqs")) is None  # a whole word, not a substring
    assert t.describe().startswith("faq")


# -- the model fallback of intent triggers ----------------------------------------------------------------------------


def classifier_llm(intent: str, confidence: float) -> tuple[LLM, FunctionProvider]:
    provider = FunctionProvider(lambda messages, request: {"intent": intent, "confidence": confidence})
    return LLM(provider), provider


class Fallback(Referral):
    __transitions__ = [
        Transition(IntentTrigger(patterns=["faq"], intents=["faq"]), to_pathway="faq", priority=10),
        Transition(IntentTrigger(intents=["book"], confidence_threshold=0.4), to_pathway="booking", priority=5),
        Transition(IntentTrigger(patterns=["skip ahead"], use_llm_fallback=False), to_pathway="booking"),
    ]


async def fallback_run(intent: str, confidence: float, message: str, **config: Any):
    llm, provider = classifier_llm(intent, confidence)
    journey = Fallback(session_id="f", config=JourneyConfig(llm=llm, **config), agents=agents())
    return await journey.process_message(message), provider


async def test_a_pattern_match_never_calls_the_model():
    r, provider = await fallback_run("book", 1.0, "a FAQ please")
    assert r.pathway == "faq" and provider.calls == [] and r.intent is None


async def test_without_a_pattern_the_model_classifies_once_over_all_fallback_intents():
    r, provider = await fallback_run("faq", 0.9, "how much is a visit?")
    assert r.pathway == "faq" and r.transition == "intent 'faq' (0.90)"
    assert r.intent is not None and (r.intent.intent, r.intent.confidence) == ("faq", 0.9)
    assert len(provider.calls) == 1
    prompt = provider.calls[0].messages[-1]["content"]
    assert "intents: faq, book" in prompt and "how much is a visit?" in prompt
    schema = json.dumps(provider.calls[0].schema)
    assert '"faq"' in schema and '"book"' in schema and f'"{NO_INTENT}"' in schema  # the grammar allows only these


async def test_below_the_threshold_means_no_match():
    r, _ = await fallback_run("faq", 0.69, "how much is a visit?")  # journey default 0.7
    assert r.pathway == "intake" and r.transition is None and r.intent is not None
    r, _ = await fallback_run("faq", 0.5, "how much is a visit?", intent_confidence_threshold=0.5)
    assert r.pathway == "faq"
    r, _ = await fallback_run("book", 0.45, "see a doctor")  # this trigger's own threshold is 0.4
    assert r.pathway == "booking"
    r, _ = await fallback_run(NO_INTENT, 1.0, "hello")
    assert r.pathway == "intake"


async def test_the_model_is_asked_only_when_it_could_beat_a_deterministic_match():
    # 'skip ahead' (priority 0) matches, but two intent triggers rank above it: the model decides if they fire
    r, provider = await fallback_run("faq", 0.95, "skip ahead please")
    assert len(provider.calls) == 1 and r.pathway == "faq"
    r, provider = await fallback_run("faq", 0.1, "skip ahead please")
    assert len(provider.calls) == 1 and r.pathway == "booking" and r.transition == "pattern 'skip ahead'"

    class Deterministic(Fallback):
        __transitions__ = [*Fallback.__transitions__[:2], Transition(AlwaysTrigger(), to_pathway="booking", priority=9)]

    llm, provider = classifier_llm("faq", 0.5)
    r = await Deterministic(config=JourneyConfig(llm=llm), agents=agents()).process_message("hello")
    assert r.transition == "always" and len(provider.calls) == 1
    assert inputs_of(provider.calls[0].messages)["intents"] == "faq"  # faq (10) ranks above always (9); book (5) not


async def test_journey_classify_shows_what_the_fallback_would_decide():
    llm, provider = classifier_llm("book", 0.8)
    journey = Fallback(session_id="f", config=JourneyConfig(llm=llm), agents=agents())
    result = await journey.classify("see a doctor", ["faq", "book"])
    assert (result.intent, result.confidence, result.provider) == ("book", 0.8, "function")
    assert journey.message_count == 0 and len(provider.calls) == 1


async def test_confidence_is_read_as_a_probability():
    llm, _ = classifier_llm("faq", 85)
    result = await IntentClassifier(lambda: llm).classify("q", ["faq"])
    assert result.confidence == pytest.approx(0.85) and result.matched
    llm, _ = classifier_llm("faq", -3)
    assert (await IntentClassifier(lambda: llm).classify("q", ["faq"])).confidence == 0.0


def test_the_fallback_model_is_made_only_when_needed(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("KAIZEN_DEFAULT_PROVIDER", "mock")
    journey = referral()
    assert journey._llm is None
    assert journey.llm.provider_name == "mock"
    assert JourneyConfig(llm_provider="mock").llm_provider == "mock"


# -- accumulation -----------------------------------------------------------------------------------------------------

S = AccumulationStrategy


@pytest.mark.parametrize(
    ("strategy", "old", "new", "expected"),
    [
        (S.REPLACE, "a", "b", "b"),
        (S.APPEND, ["a"], ["a", "b"], ["a", "a", "b"]),
        (S.APPEND, None, "a", ["a"]),
        (S.UNION, ["a", "b"], ["b", "c"], ["a", "b", "c"]),
        (S.UNION, None, ["x", "x"], ["x"]),
        (S.UNION, [{"k": 1}], [{"k": 1}, {"k": 2}], [{"k": 1}, {"k": 2}]),
        (S.SUM, 2, 3.5, 5.5),
        (S.MAX, 2, 7, 7),
        (S.MAX, 9, 7, 9),
        (S.MIN, 2, 7, 2),
        (S.MERGE_DICT, {"a": 1, "n": {"x": 1}}, {"b": 2, "n": {"y": 2}}, {"a": 1, "b": 2, "n": {"x": 1, "y": 2}}),
        (S.REPLACE, "kept", "", "kept"),  # empty values never overwrite
        (S.APPEND, ["kept"], [], ["kept"]),
        (S.SUM, 4, 0, 4),
    ],
)
def test_accumulation_strategies(strategy, old, new, expected):
    assert merge_value(strategy, old, new, "f") == expected


@pytest.mark.parametrize(
    ("strategy", "old", "new"),
    [(S.SUM, "a", 1), (S.MAX, 1, "2"), (S.MIN, True, 1), (S.MERGE_DICT, {"a": 1}, ["x"]), (S.MERGE_DICT, None, "x")],
)
def test_accumulation_type_mismatches_say_what_to_change(strategy, old, new):
    with pytest.raises(ConfigurationError, match="'f'"):
        merge_value(strategy, old, new, "f")


def test_unknown_strategy_names_are_rejected():
    assert JourneyConfig(accumulation={"x": "APPEND"}).strategy("x") is S.APPEND
    assert JourneyConfig().strategy("anything") is S.REPLACE
    with pytest.raises(ConfigurationError, match="Unknown accumulation strategy 'concat' for 'x'"):
        JourneyConfig(accumulation={"x": "concat"})


async def test_every_strategy_through_the_journey():
    class Stats(Signature):
        """Report."""

        message: str = InputField()
        label: str = OutputField()
        events: list[str] = OutputField()
        tags: list[str] = OutputField()
        total: int = OutputField()
        high: float = OutputField()
        low: float = OutputField()
        meta: dict = OutputField()

    def report(inp: dict[str, str]) -> dict[str, Any]:
        n = int(inp["message"])
        return {
            "label": f"m{n}",
            "events": [f"e{n}"],
            "tags": ["common", f"t{n}"],
            "total": n,
            "high": float(n),
            "low": float(n),
            "meta": {"last": n, f"k{n}": True},
        }

    class Counting(Journey):
        __entry_pathway__ = "only"

        class OnlyPath(Pathway):
            __agents__ = ["stats"]
            __accumulate__ = ["label", "events", "tags", "total", "high", "low", "meta"]

    config = JourneyConfig(
        accumulation={
            "events": "append",
            "tags": S.UNION,
            "total": "sum",
            "high": "max",
            "low": "min",
            "meta": "merge_dict",
        }
    )
    journey = Counting(config=config, agents={"stats": BaseAgent(signature=Stats, llm=scripted(report))})
    for n in (3, 1, 5):
        await journey.process_message(str(n))
    assert journey.accumulated_context == {
        "label": "m5",
        "events": ["e3", "e1", "e5"],
        "tags": ["common", "t3", "t1", "t5"],
        "total": 9,
        "high": 5.0,
        "low": 1.0,
        "meta": {"last": 5, "k3": True, "k1": True, "k5": True},
    }


# -- inputs -----------------------------------------------------------------------------------------------------------


def test_inputs_come_from_the_message_then_this_turns_outputs_then_the_context():
    two = Signature.parse("text, symptoms, extra: list[str] -> answer")
    assert message_slot(two) == "text"  # no `message` field: the first str input
    got = build_inputs(two, "hi", {"symptoms": ["a", "b"]}, {})
    assert got == {"text": "hi", "symptoms": "a, b", "extra": []}
    got = build_inputs(two, "hi", {"symptoms": "old"}, {"symptoms": "fresh"})
    assert got["symptoms"] == "fresh"
    with pytest.raises(ConfigurationError, match="needs the input 'count'"):
        build_inputs(Signature.parse("message, count: int -> answer"), "hi", {}, {})


async def test_a_pathway_runs_its_agents_in_order_with_guidelines():
    class Draft(Signature):
        """Draft."""

        message: str = InputField()
        draft: str = OutputField()

    class Polish(Signature):
        """Polish."""

        draft: str = InputField()
        final: str = OutputField()

    class Pipeline(Journey):
        __entry_pathway__ = "write"

        class WritePath(Pathway):
            __agents__ = ["drafter", "polisher"]
            __accumulate__ = ["final"]
            __guidelines__ = ["Be concise"]

    drafter = BaseAgent(signature=Draft, llm=scripted(lambda i: {"draft": i["message"].upper()}))
    polisher = BaseAgent(signature=Polish, llm=scripted(lambda i: {"final": i["draft"] + "!"}))
    journey = Pipeline(agents={"drafter": drafter, "polisher": polisher})
    r = await journey.process_message("hello")
    assert dict(r.outputs) == {"draft": "HELLO", "final": "HELLO!"}
    assert r.result is not None and r.result.attempts == 2  # one combined result, both calls counted
    assert "Be concise" in last_call(drafter).messages[0]["content"]
    assert drafter.guidelines == []  # the pathway's guidelines apply only while it runs
    # `draft` is polisher's first str input, but an earlier agent of the pathway produced it: that wins
    assert inputs_of(last_call(polisher).messages)["draft"] == "HELLO"


async def test_a_failing_agent_leaves_the_journey_as_it_was():
    team = agents()
    team["faq_agent"] = BaseAgent(signature=FAQSignature, llm=LLM(FunctionProvider([RuntimeError("down")])))
    team["faq_agent"].config.retry_attempts = 0
    journey = referral(agents=team)
    await journey.process_message("I have a cough")
    before = journey.state
    with pytest.raises(Exception, match="down"):
        await journey.process_message("faq: hours?")
    after = journey.state
    assert (after.current_pathway, after.context, after.message_count) == ("intake", before.context, 1)


def test_send_works_from_sync_code():
    journey = referral()
    r = journey.send("I have a fever")
    assert r.pathway == "intake" and journey.accumulated_context == {"symptoms": ["fever"]}
    assert "Referral session='s1'" in repr(journey) and "intake" in repr(r)
    assert r.to_row()["context"] == '{"symptoms": ["fever"]}'


# -- persistence ------------------------------------------------------------------------------------------------------


def recorder(hooks: HookManager) -> list[tuple[HookEvent, dict[str, Any]]]:
    events: list[tuple[HookEvent, dict[str, Any]]] = []
    for event in JOURNEY_EVENTS:
        hooks.register(event, lambda ctx: events.append((ctx.event_type, dict(ctx.data))))
    return events


JOURNEY_EVENTS = [
    HookEvent.JOURNEY_SESSION_START,
    HookEvent.JOURNEY_SESSION_RESTORE,
    HookEvent.PRE_MESSAGE_PROCESS,
    HookEvent.POST_MESSAGE_PROCESS,
    HookEvent.PRE_PATHWAY_EXECUTE,
    HookEvent.POST_PATHWAY_EXECUTE,
    HookEvent.PATHWAY_TRANSITION,
]


async def test_state_is_saved_after_each_message_and_restored_by_a_new_journey(tmp_path):
    config = JourneyConfig(storage_dir=tmp_path, accumulation={"symptoms": "union"})
    first = referral(config=config)
    await first.process_message("I have a headache")
    await first.process_message("faq: parking?")
    saved = json.loads(JourneyStore(tmp_path).path("s1").read_text())
    assert saved["version"] == 1 and saved["current_pathway"] == "intake" and saved["message_count"] == 2
    assert [p.name for p in tmp_path.iterdir()] == [JourneyStore(tmp_path).path("s1").name]  # no temp files left

    hooks = HookManager()
    events = recorder(hooks)
    second = referral(config=config, hooks=hooks)
    await second.start()
    assert second.restored and [e for e, _ in events] == [HookEvent.JOURNEY_SESSION_RESTORE]
    data = events[0][1]
    assert data["session_id"] == "s1" and data["pathway"] == "intake" and data["message_count"] == 2
    assert data["accumulated_context"] == {"symptoms": ["headache"]}
    assert second.state.history == first.state.history
    r = await second.process_message("my name is Ann")
    assert r.previous_pathway == "faq" and r.pathway_changed  # the last pathway survived the restart too
    assert r.next_pathway == "booking" and second.message_count == 3

    other = referral(config=config, session_id="someone else", hooks=hooks)
    await other.start()
    assert events[-1][0] is HookEvent.JOURNEY_SESSION_START and not other.restored

    second.reset()
    assert not JourneyStore(tmp_path).exists("s1") and second.current_pathway == "intake"


def test_session_ids_map_to_distinct_safe_file_names(tmp_path):
    store = JourneyStore(tmp_path)
    a, b = store.path("../../etc/passwd"), store.path("..-..-etc-passwd")
    assert a.parent == tmp_path and a != b and "/" not in a.name


async def test_a_corrupt_or_foreign_state_file_is_reported(tmp_path):
    config = JourneyConfig(storage_dir=tmp_path)
    JourneyStore(tmp_path).path("s1").write_text("{not json")
    with pytest.raises(ConfigurationError, match="delete the file"):
        await referral(config=config).start()

    class Other(Referral):
        pass

    await Other(session_id="s2", config=config, agents=agents()).process_message("hi")
    with pytest.raises(ConfigurationError, match="saved by Other"):
        await referral(config=config, session_id="s2").start()


async def test_history_is_bounded():
    journey = referral(config=JourneyConfig(max_history=2))
    for text in ("a", "b", "c"):
        await journey.process_message(text)
    assert [h["message"] for h in journey.history] == ["b", "c"] and journey.message_count == 3


# -- hooks ------------------------------------------------------------------------------------------------------------


async def test_every_journey_hook_event_fires_with_its_data(tmp_path):
    hooks = HookManager()
    events = recorder(hooks)
    journey = referral(hooks=hooks, config=JourneyConfig(storage_dir=tmp_path))
    await journey.process_message("I have a headache")
    await journey.process_message("faq: parking?")
    await journey.process_message("my name is Ann")
    await referral(hooks=hooks, config=JourneyConfig(storage_dir=tmp_path)).start()
    assert {e for e, _ in events} == set(JOURNEY_EVENTS)
    assert events[0][0] is HookEvent.JOURNEY_SESSION_START
    transitions = [
        (d["from_pathway"], d["to_pathway"], d["reason"]) for e, d in events if e is HookEvent.PATHWAY_TRANSITION
    ]
    assert transitions == [("intake", "faq", "transition"), ("faq", "intake", "return"), ("intake", "booking", "next")]
    post = [d for e, d in events if e is HookEvent.POST_MESSAGE_PROCESS]
    assert [d["pathway"] for d in post] == ["intake", "faq", "intake"]
    assert post[-1]["next_pathway"] == "booking" and post[-1]["response"].completed
    executed = [d for e, d in events if e is HookEvent.POST_PATHWAY_EXECUTE]
    assert executed[0]["accumulated"] == ["symptoms"] and executed[1]["completed"]
    assert all(d["session_id"] == "s1" and d["journey"] == "Referral" for _, d in events)


async def test_pre_hooks_can_rewrite_or_block():
    hooks = HookManager()
    hooks.register(
        HookEvent.PRE_MESSAGE_PROCESS, lambda ctx: HookResult(data={"message": ctx.data["message"] + " fever"})
    )
    journey = referral(hooks=hooks)
    r = await journey.process_message("I have a cough and")
    assert r.message == "I have a cough and fever" and r.accumulated_context == {"symptoms": ["fever", "cough"]}

    hooks.register(
        HookEvent.PRE_MESSAGE_PROCESS,
        lambda ctx: HookResult.block("off topic") if "spam" in ctx.data["message"] else None,
    )
    r = await journey.process_message("spam")
    assert r.blocked == "off topic" and r.result is None and journey.message_count == 1

    hooks.register(
        HookEvent.PRE_PATHWAY_EXECUTE, lambda ctx: HookResult.block("closed") if ctx.data["pathway"] == "faq" else None
    )
    r = await journey.process_message("faq: hours?")
    assert r.pathway == "faq" and r.blocked == "closed" and r.result is None and not r.completed
    assert journey.current_pathway == "faq"  # routed, but not run


# -- bad definitions --------------------------------------------------------------------------------------------------


def bad(**attrs: Any) -> type[Journey]:
    namespace: dict[str, Any] = {
        "__entry_pathway__": "intake",
        "IntakePath": type("IntakePath", (Pathway,), {"__agents__": ["intake_agent"], "__accumulate__": ["name"]}),
    }
    namespace.update(attrs)
    return type("Bad", (Journey,), namespace)


@pytest.mark.parametrize(
    ("attrs", "message"),
    [
        ({"__entry_pathway__": "start"}, "__entry_pathway__ = 'start' is not a pathway"),
        ({"__entry_pathway__": ""}, "needs __entry_pathway__"),
        ({"__transitions__": [Transition(AlwaysTrigger(), to_pathway="nowhere")]}, "goes to 'nowhere'"),
        ({"__transitions__": [Transition(AlwaysTrigger(), "limbo", "intake")]}, "starts from \\['limbo'\\]"),
        ({"__transitions__": ["faq"]}, "use Transition"),
        (
            {"IntakePath": type("IntakePath", (Pathway,), {"__agents__": ["ghost"]})},
            "agent 'ghost', which is not in agents=",
        ),
        ({"IntakePath": type("IntakePath", (Pathway,), {"__agents__": "intake_agent"})}, "non-empty list"),
        ({"IntakePath": type("IntakePath", (Pathway,), {"__agents__": []})}, "non-empty list"),
        (
            {"IntakePath": type("IntakePath", (Pathway,), {"__agents__": ["intake_agent"], "__next__": "void"})},
            "__next__ = 'void' is not a pathway",
        ),
        (
            {
                "IntakePath": type(
                    "IntakePath",
                    (Pathway,),
                    {"__agents__": ["intake_agent"], "__return_behavior__": ReturnToSpecific("x")},
                )
            },
            "ReturnToSpecific\\('x'\\) names no pathway",
        ),
        (
            {"IntakePath": type("IntakePath", (Pathway,), {"__agents__": ["intake_agent"], "__accumulate__": ["age"]})},
            "__accumulate__ names \\['age'\\]",
        ),
        (
            {"Other": type("IntakePathway", (Pathway,), {"__agents__": ["intake_agent"]})},
            "two pathways with the same name",
        ),
    ],
)
def test_bad_definitions_raise_when_the_journey_is_constructed(attrs, message):
    journey_class = bad(**attrs)  # defining it is fine
    with pytest.raises(ConfigurationError, match=message):
        journey_class(agents=agents())


def test_bad_parts_raise_at_once():
    with pytest.raises(ConfigurationError, match="no pathways"):
        type("Empty", (Journey,), {"__entry_pathway__": "x"})()
    with pytest.raises(ConfigurationError, match=r"patterns=\[\.\.\.\] or intents"):
        IntentTrigger()
    with pytest.raises(ConfigurationError, match="lists"):
        IntentTrigger(patterns="faq")
    with pytest.raises(ConfigurationError, match="between 0 and 1"):
        IntentTrigger(intents=["x"], confidence_threshold=1.5)
    with pytest.raises(ConfigurationError, match="to_pathway"):
        Transition(AlwaysTrigger())
    with pytest.raises(ConfigurationError, match="trigger"):
        Transition("faq", to_pathway="faq")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="max_depth"):
        ReturnToPrevious(max_depth=0)
    with pytest.raises(ConfigurationError, match="between 0 and 1"):
        JourneyConfig(intent_confidence_threshold=2)
    with pytest.raises(ConfigurationError, match="as a str"):
        referral().send(42)  # type: ignore[arg-type]


# -- the real embedded model ------------------------------------------------------------------------------------------


@pytest.mark.local_model
@pytest.mark.skipif(not local_model_available(), reason="embedded model not installed (make install)")
async def test_intent_fallback_on_the_embedded_model():
    """What a 135M model can honestly do: name one of the offered intents (the grammar allows nothing else) with a
    confidence in [0, 1]; the journey routes on it exactly when the threshold allows. Not whether it is right."""
    intents = ["faq", "booking"]

    def routed(threshold: float) -> type[Journey]:
        class Routed(Referral):
            __transitions__ = [
                Transition(IntentTrigger(["faq"], ["faq"], confidence_threshold=threshold), to_pathway="faq"),
                Transition(IntentTrigger(intents=["booking"], confidence_threshold=threshold), to_pathway="booking"),
            ]

        return Routed

    llm = LLM("local")
    question = "How much does a first visit at the clinic cost?"
    r = await routed(0.0)(session_id="m1", config=JourneyConfig(llm=llm), agents=agents()).process_message(question)
    seen = r.intent
    assert seen is not None and seen.provider == "local"
    assert seen.intent in [*intents, NO_INTENT]
    assert 0.0 <= seen.confidence <= 1.0
    expected = {"faq": "faq", "booking": "booking"}.get(seen.intent, "intake")  # threshold 0: any named intent routes
    assert r.pathway == expected

    if seen.intent != NO_INTENT and seen.confidence < 1.0:  # the same answer again (temperature 0), just too unsure
        unsure = routed(min(1.0, seen.confidence + 0.01))
        r = await unsure(session_id="m2", config=JourneyConfig(llm=llm), agents=agents()).process_message(question)
        assert r.intent == seen and r.pathway == "intake" and r.transition is None
