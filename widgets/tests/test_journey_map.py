"""JourneyMap: nodes, edges, the current pathway, escaping, and redrawing after each message (through the hooks)."""

# ruff: noqa: RUF012 - journeys and pathways are declared with list class attributes (the Kaizen style)

from __future__ import annotations

import re
from typing import Any

from kaizen_lab_widgets.journey_map import JourneyMap, journey_graph

from kaizen_lab import LLM, BaseAgent, FunctionProvider
from kaizen_lab.hooks import HookEvent
from kaizen_lab.journey import (
    IntentTrigger,
    Journey,
    JourneyConfig,
    Pathway,
    ReturnToPrevious,
    ReturnToSpecific,
    Transition,
)


def agent(outputs: dict[str, Any], signature: str) -> BaseAgent:
    return BaseAgent(signature=signature, llm=LLM(FunctionProvider(lambda messages, request: outputs)))


class Clinic(Journey):
    __entry_pathway__ = "intake"
    __transitions__ = [
        Transition(IntentTrigger(patterns=["faq"], use_llm_fallback=False), "*", "faq", priority=10),
        Transition(IntentTrigger(patterns=["<b>help</b>"], use_llm_fallback=False), "booking", "help"),
    ]

    class IntakePath(Pathway):
        __agents__ = ["intake_agent"]
        __accumulate__ = ["name"]
        __next__ = "booking"

    class BookingPath(Pathway):
        __agents__ = ["booking_agent"]

    class FAQPath(Pathway):
        __agents__ = ["faq_agent"]
        __return_behavior__ = ReturnToPrevious()

    class HelpPath(Pathway):
        __agents__ = ["faq_agent"]
        __return_behavior__ = ReturnToSpecific("intake")


def clinic(name: str = "<script>alert(1)</script> & Co", **kw: Any) -> Clinic:
    return Clinic(
        session_id="map",
        agents={
            "intake_agent": agent({"reply": "hi", "name": name}, "message -> reply, name"),
            "booking_agent": agent({"reply": "booked"}, "message -> reply"),
            "faq_agent": agent({"answer": "9-5"}, "message -> answer"),
        },
        **kw,
    )


def nodes_in(svg: str) -> dict[str, str]:
    """pathway name → the node's class attribute."""
    return dict((m.group(2), m.group(1)) for m in re.finditer(r"<g class='(kz-node[^']*)' data-pathway='([^']*)'", svg))


def edges_in(svg: str) -> set[tuple[str, str, str]]:
    return {
        (m.group(2), m.group(3), m.group(1))
        for m in re.finditer(r"<g class='kz-edge kz-(\w+)' data-source='([^']*)' data-target='([^']*)'", svg)
    }


def test_graph_has_every_pathway_and_transition():
    nodes, edges = journey_graph(clinic())
    assert [n.name for n in nodes] == ["intake", "booking", "faq", "help"]  # the entry, then along __next__
    assert nodes[0].entry and nodes[2].returns == "previous" and nodes[3].returns == "intake"
    assert {(e.source, e.target, e.kind) for e in edges} == {
        ("intake", "booking", "next"),
        ("help", "intake", "return"),
        ("intake", "faq", "transition"),  # "*" → faq: from every other pathway
        ("booking", "faq", "transition"),
        ("help", "faq", "transition"),
        ("booking", "help", "transition"),
        ("faq", "intake", "return"),  # the ReturnToPrevious detour goes back where it came from
        ("faq", "booking", "return"),
        ("faq", "help", "return"),
    }
    faq_edge = next(e for e in edges if e.target == "faq")
    assert faq_edge.label == "faq (p10)"


def test_svg_draws_nodes_edges_and_highlights_the_current_pathway(comms):
    m = JourneyMap(clinic())
    svg = m.graph.value
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert nodes_in(svg) == {"intake": "kz-node kz-current", "booking": "kz-node", "faq": "kz-node", "help": "kz-node"}
    assert edges_in(svg) == {(e.source, e.target, e.kind) for e in journey_graph(m.journey)[1]}
    assert svg.count("marker-end='url(#kz-arrow-") == 9
    assert "data-current='true'" in svg and svg.count("data-current='true'") == 1
    assert "nothing accumulated yet" in m.context.value and "current: <b class='kz-current-name'>intake</b>" in (
        m.context.value
    )
    assert repr(m) == "<JourneyMap Clinic session='map': 4 pathways, 9 edges, current 'intake'>"
    bundle = m._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle and bundle["text/plain"] == repr(m)


async def test_refreshes_after_each_message_and_escapes_every_text(comms):
    journey = clinic()
    m = JourneyMap(journey)
    assert journey.hooks.handlers(HookEvent.POST_MESSAGE_PROCESS) == ["JourneyMap.refresh"]
    widget_comm = comms[m.graph.model_id]
    before = len(widget_comm.updates())

    await journey.process_message("hello")  # intake accumulates the name, completes, hands over to booking
    assert m.refreshes == 3  # when made, on session start, and after the message
    assert nodes_in(m.graph.value)["booking"] == "kz-node kz-current"
    assert nodes_in(m.graph.value)["intake"] == "kz-node"
    assert any("value" in u for u in widget_comm.updates()[before:]), "the new drawing was sent to the frontend"

    table = m.context.value
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in table and "<script>" not in table
    svg = m.graph.value
    assert "&lt;b&gt;help&lt;/b&gt;" in svg and "<b>help</b>" not in svg  # the trigger label, escaped

    await journey.process_message("a faq please")  # booking → faq detour, answered, back to booking
    assert m.refreshes == 4
    assert nodes_in(m.graph.value)["booking"] == "kz-node kz-current"  # the FAQ answered and returned
    assert "current: <b class='kz-current-name'>booking</b>" in m.context.value


async def test_stacked_pathways_are_marked_and_detach_stops_following(comms):
    class Sticky(Clinic):
        class FAQPath(Pathway):
            __agents__ = ["faq_agent"]
            __return_behavior__ = ReturnToPrevious()

            @classmethod
            def is_complete(cls, context: dict[str, Any], outputs: dict[str, Any]) -> bool:
                return False

    journey = Sticky(
        session_id="s",
        agents={
            "intake_agent": agent({"reply": "hi", "name": ""}, "message -> reply, name"),
            "booking_agent": agent({"reply": "booked"}, "message -> reply"),
            "faq_agent": agent({"answer": "9-5"}, "message -> answer"),
        },
    )
    m = JourneyMap(journey)
    await journey.process_message("faq")
    classes = nodes_in(m.graph.value)
    assert classes["faq"] == "kz-node kz-current" and classes["intake"] == "kz-node kz-stacked"
    assert "returns to: intake" in m.context.value

    m.detach()
    assert journey.hooks.handlers(HookEvent.POST_MESSAGE_PROCESS) == []
    count = m.refreshes
    await journey.process_message("more")
    assert m.refreshes == count
    m.follow()
    m.follow()  # once only
    assert journey.hooks.handlers(HookEvent.POST_MESSAGE_PROCESS) == ["JourneyMap.refresh"]


async def test_a_restored_session_is_drawn_where_it_was(comms, tmp_path):
    config = JourneyConfig(storage_dir=tmp_path)
    first = clinic(name="Ann", config=config)
    await first.process_message("hello")
    again = clinic(name="Ann", config=config)
    m = JourneyMap(again)
    await again.start()
    assert nodes_in(m.graph.value)["booking"] == "kz-node kz-current"
    assert "<td style='text-align:left'>Ann</td>" in m.context.value
    snapshot = m.to_html()
    assert snapshot.startswith("<div class='kz-journey'") and m.svg() in snapshot and m.context_html() in snapshot
