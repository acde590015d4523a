"""JourneyMap: a journey's pathways and transitions as a graph, the current pathway highlighted, the context beside it.

The drawing is an inline SVG inside an ``ipywidgets.HTML`` (no JavaScript build step). The map follows the journey
through its hooks: it redraws after every processed message and when a session starts or is restored. Every text
that reaches the HTML — pathway and agent names, trigger labels, context values — is escaped.
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kaizen_lab.hooks import HookContext, HookEvent
from kaizen_lab.journey import Journey, ReturnToPrevious, ReturnToSpecific

if TYPE_CHECKING:
    import ipywidgets

__all__ = ["Edge", "JourneyMap", "Node", "journey_graph"]

_REFRESH_EVENTS = (HookEvent.POST_MESSAGE_PROCESS, HookEvent.JOURNEY_SESSION_START, HookEvent.JOURNEY_SESSION_RESTORE)
_WIDTH, _HEIGHT = 560, 320
_NODE_W, _NODE_H = 128, 46
_COLORS = {"next": "#374151", "transition": "#2563eb", "return": "#059669"}
_DASH = {"next": "", "transition": "6 4", "return": "2 4"}


@dataclass(frozen=True)
class Node:
    name: str
    agents: tuple[str, ...]
    entry: bool = False
    returns: str | None = None  # "previous" or the ReturnToSpecific target, for detours


@dataclass
class Edge:
    source: str
    target: str
    kind: str  # "next", "transition" or "return"
    labels: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return "; ".join(self.labels)


def journey_graph(journey: Journey) -> tuple[list[Node], list[Edge]]:
    """Nodes in a readable order (the entry, then along ``__next__``, then the rest) and merged edges.

    A transition from ``"*"`` becomes an edge from every other pathway; transitions between the same two pathways
    share one edge with all their labels. A ``ReturnToPrevious`` detour gets a "back" edge to every pathway it can
    be entered from.
    """
    order = [journey.entry_pathway]
    while (following := journey.pathways[order[-1]].__next__) and following not in order:
        order.append(following)
    order += [p for p in journey.pathways if p not in order]
    nodes = []
    for name in order:
        pathway = journey.pathways[name]
        behavior = pathway.__return_behavior__
        returns = (
            behavior.target_pathway
            if isinstance(behavior, ReturnToSpecific)
            else "previous"
            if isinstance(behavior, ReturnToPrevious)
            else None
        )
        nodes.append(Node(name, tuple(pathway.__agents__), name == journey.entry_pathway, returns))
    edges: dict[tuple[str, str, str], Edge] = {}

    def add(source: str, target: str, kind: str, label: str) -> None:
        edge = edges.setdefault((source, target, kind), Edge(source, target, kind))
        if label and label not in edge.labels:
            edge.labels.append(label)

    for name in order:
        pathway = journey.pathways[name]
        if pathway.__next__ and pathway.__next__ != name:
            add(name, pathway.__next__, "next", "next")
        behavior = pathway.__return_behavior__
        if isinstance(behavior, ReturnToSpecific) and behavior.target_pathway != name:
            add(name, behavior.target_pathway, "return", "return")
    for t in journey.transitions:
        sources = [p for p in order if t.applies_to(p)]
        label = t.trigger.describe() + (f" (p{t.priority})" if t.priority else "")
        for source in sources:
            add(source, t.to_pathway, "transition", label)
    for name in order:  # a ReturnToPrevious detour goes back to wherever it can be entered from
        if isinstance(journey.pathways[name].__return_behavior__, ReturnToPrevious):
            for source, target, kind in list(edges):
                if target == name and kind != "return" and source != name:
                    add(name, source, "return", "back")
    return nodes, list(edges.values())


class JourneyMap:
    """``JourneyMap(journey)``: display it in a cell; it redraws itself as the journey processes messages.

    ``refresh()`` redraws by hand; ``detach()`` stops following the journey; ``to_html()`` is a static snapshot (for
    ``IPython.display.HTML`` or a report).
    """

    def __init__(self, journey: Journey, *, follow: bool = True) -> None:
        import ipywidgets as w

        self.journey = journey
        self.graph: ipywidgets.HTML = w.HTML(layout=w.Layout(flex="1 1 auto", min_width="320px"))
        self.context: ipywidgets.HTML = w.HTML(layout=w.Layout(flex="0 1 auto", min_width="200px"))
        self.root: ipywidgets.HBox = w.HBox([self.graph, self.context], layout=w.Layout(align_items="flex-start"))
        self.refreshes = 0
        self._following = False
        if follow:
            self.follow()
        self.refresh()

    # -- following the journey ---------------------------------------------------------------------------------------
    def follow(self) -> JourneyMap:
        """Redraw after every processed message and on session start/restore (hooks on ``journey.hooks``)."""
        if not self._following:
            for event in _REFRESH_EVENTS:
                self.journey.hooks.register(event, self._on_event, priority=-100, name="JourneyMap.refresh")
            self._following = True
        return self

    def detach(self) -> None:
        for event in _REFRESH_EVENTS:
            self.journey.hooks.unregister(self._on_event, event)
        self._following = False

    def _on_event(self, context: HookContext) -> None:
        self.refresh()

    def refresh(self) -> None:
        self.graph.value = self.svg()
        self.context.value = self.context_html()
        self.refreshes += 1

    # -- drawing -----------------------------------------------------------------------------------------------------
    def svg(self) -> str:
        nodes, edges = journey_graph(self.journey)
        places = _layout([n.name for n in nodes])
        current = self.journey.current_pathway
        stacked = set(self.journey.pathway_stack)
        parts = [
            f"<svg class='kz-journey-map' xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {_WIDTH} {_HEIGHT}' "
            f"width='100%' style='max-width:{_WIDTH}px;font-family:sans-serif' role='img' "
            f"aria-label='{_e(type(self.journey).__name__)} pathways'>",
            "<defs>",
            *(
                f"<marker id='kz-arrow-{kind}' viewBox='0 0 10 10' refX='9' refY='5' markerWidth='7' "
                f"markerHeight='7' orient='auto-start-reverse'><path d='M0,0 L10,5 L0,10 z' fill='{color}'/></marker>"
                for kind, color in _COLORS.items()
            ),
            "</defs>",
        ]
        parts += [_edge_svg(edge, places) for edge in edges]
        parts += [_node_svg(node, places[node.name], node.name == current, node.name in stacked) for node in nodes]
        parts.append(_legend())
        parts.append("</svg>")
        return "".join(parts)

    def context_html(self) -> str:
        journey = self.journey
        context = journey.accumulated_context
        rows = "".join(
            f"<tr><th style='text-align:left;vertical-align:top;padding-right:8px'>{_e(key)}</th>"
            f"<td style='text-align:left'>{_e(_short(value))}</td></tr>"
            for key, value in context.items()
        )
        body = (
            f"<table class='kz-context'>{rows}</table>"
            if rows
            else "<div class='kz-context' style='color:#6b7280'><i>nothing accumulated yet</i></div>"
        )
        stack = " → ".join(journey.pathway_stack)
        facts = [
            f"current: <b class='kz-current-name'>{_e(journey.current_pathway)}</b>",
            f"messages: {journey.message_count}",
        ]
        if stack:
            facts.append(f"returns to: {_e(stack)}")
        return (
            "<div style='font-size:13px;padding:4px 8px;font-family:sans-serif'>"
            "<div style='font-weight:bold'>Accumulated context</div>"
            f"{body}<div style='color:#6b7280;margin-top:6px'>{' · '.join(facts)}</div></div>"
        )

    def to_html(self) -> str:
        return (
            "<div class='kz-journey' style='display:flex;gap:12px;align-items:flex-start;flex-wrap:wrap'>"
            f"<div style='flex:1 1 320px'>{self.svg()}</div>{self.context_html()}</div>"
        )

    # -- display -----------------------------------------------------------------------------------------------------
    def display(self) -> JourneyMap:
        from IPython.display import display

        display(self)
        return self

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        data = dict(self.root._repr_mimebundle_(**kwargs) or {})
        data["text/plain"] = repr(self)
        return data

    def __repr__(self) -> str:
        nodes, edges = journey_graph(self.journey)
        return (
            f"<JourneyMap {type(self.journey).__name__} session={self.journey.session_id!r}: {len(nodes)} pathways, "
            f"{len(edges)} edges, current {self.journey.current_pathway!r}>"
        )


# -- geometry and SVG pieces -----------------------------------------------------------------------------------------


def _layout(names: list[str]) -> dict[str, tuple[float, float]]:
    """Centres on an ellipse, the first name on the left, then clockwise."""
    cx, cy = _WIDTH / 2, (_HEIGHT - 24) / 2
    if len(names) == 1:
        return {names[0]: (cx, cy)}
    rx, ry = cx - _NODE_W / 2 - 12, cy - _NODE_H / 2 - 14
    step = 2 * math.pi / len(names)
    return {
        name: (round(cx + rx * math.cos(math.pi + i * step), 1), round(cy + ry * math.sin(math.pi + i * step), 1))
        for i, name in enumerate(names)
    }


def _clip(center: tuple[float, float], toward: tuple[float, float]) -> tuple[float, float]:
    """Where the line from a node's centre toward a point leaves the node's box."""
    dx, dy = toward[0] - center[0], toward[1] - center[1]
    if dx == 0 and dy == 0:
        return center
    t = min(
        (_NODE_W / 2 + 3) / abs(dx) if dx else math.inf,
        (_NODE_H / 2 + 3) / abs(dy) if dy else math.inf,
    )
    return center[0] + dx * t, center[1] + dy * t


def _edge_svg(edge: Edge, places: dict[str, tuple[float, float]]) -> str:
    (x1, y1), (x2, y2) = places[edge.source], places[edge.target]
    length = math.hypot(x2 - x1, y2 - y1) or 1.0
    bend = 30.0  # always to the same side of the direction, so A→B and B→A do not overlap
    control = ((x1 + x2) / 2 + bend * (y2 - y1) / length, (y1 + y2) / 2 - bend * (x2 - x1) / length)
    start, end = _clip((x1, y1), control), _clip((x2, y2), control)
    mid = (0.25 * start[0] + 0.5 * control[0] + 0.25 * end[0], 0.25 * start[1] + 0.5 * control[1] + 0.25 * end[1])
    normal = ((y2 - y1) / length, -(x2 - x1) / length)  # the side the edge bends to: its label goes there too
    mid = (mid[0] + 6 * normal[0], mid[1] + 6 * normal[1] + 3)
    anchor = "start" if normal[0] > 0.3 else "end" if normal[0] < -0.3 else "middle"
    color, dash = _COLORS[edge.kind], _DASH[edge.kind]
    label = edge.label if len(edge.label) <= 30 else edge.label[:29] + "…"
    dash_attr = f" stroke-dasharray='{dash}'" if dash else ""
    return (
        f"<g class='kz-edge kz-{edge.kind}' data-source='{_e(edge.source)}' data-target='{_e(edge.target)}'>"
        f"<title>{_e(edge.source)} → {_e(edge.target)}: {_e(edge.label)}</title>"
        f"<path d='M{start[0]:.1f},{start[1]:.1f} Q{control[0]:.1f},{control[1]:.1f} {end[0]:.1f},{end[1]:.1f}' "
        f"fill='none' stroke='{color}' stroke-width='1.6'{dash_attr} marker-end='url(#kz-arrow-{edge.kind})'/>"
        f"<text x='{mid[0]:.1f}' y='{mid[1]:.1f}' font-size='10' fill='{color}' text-anchor='{anchor}' "
        f"stroke='white' stroke-width='3' paint-order='stroke'>{_e(label)}</text></g>"
    )


def _node_svg(node: Node, place: tuple[float, float], current: bool, stacked: bool) -> str:
    x, y = place[0] - _NODE_W / 2, place[1] - _NODE_H / 2
    fill, ink, stroke, width = ("#2563eb", "white", "#1e3a8a", 3) if current else ("#f3f4f6", "#111827", "#9ca3af", 1)
    if stacked and not current:
        stroke, width = "#d97706", 2
    classes = "kz-node" + (" kz-current" if current else "") + (" kz-stacked" if stacked else "")
    name = ("▶ " if node.entry else "") + ("↩ " if node.returns else "") + node.name
    agents = ", ".join(node.agents)
    agents = agents if len(agents) <= 22 else agents[:21] + "…"
    returns = f" · returns to {node.returns}" if node.returns else ""
    return (
        f"<g class='{classes}' data-pathway='{_e(node.name)}' data-current='{str(current).lower()}'>"
        f"<title>{_e(node.name)}: agents {_e(', '.join(node.agents))}{_e(returns)}</title>"
        f"<rect x='{x:.1f}' y='{y:.1f}' width='{_NODE_W}' height='{_NODE_H}' rx='10' fill='{fill}' "
        f"stroke='{stroke}' stroke-width='{width}'/>"
        f"<text x='{place[0]:.1f}' y='{place[1] - 3:.1f}' font-size='13' font-weight='bold' fill='{ink}' "
        f"text-anchor='middle'>{_e(name)}</text>"
        f"<text x='{place[0]:.1f}' y='{place[1] + 13:.1f}' font-size='10' fill='{ink}' text-anchor='middle' "
        f"opacity='0.8'>{_e(agents)}</text></g>"
    )


def _legend() -> str:
    y = _HEIGHT - 8
    items = [("next", "next when complete"), ("transition", "trigger"), ("return", "return")]
    out = []
    for i, (kind, text) in enumerate(items):
        x = 10 + i * 150
        dash = f" stroke-dasharray='{_DASH[kind]}'" if _DASH[kind] else ""
        out.append(
            f"<line x1='{x}' y1='{y - 4}' x2='{x + 26}' y2='{y - 4}' stroke='{_COLORS[kind]}' "
            f"stroke-width='1.6'{dash}/>"
            f"<text x='{x + 32}' y='{y}' font-size='10' fill='#6b7280'>{text}</text>"
        )
    return "<g class='kz-legend'>" + "".join(out) + "</g>"


def _short(value: Any, limit: int = 80) -> str:
    if isinstance(value, list):
        text = ", ".join(v if isinstance(v, str) else json.dumps(v, default=str) for v in value)
    elif isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)
