"""``benchmark-results``: render a ``bench/results/<name>.json`` file as a table, a run line and plotly charts.

The numbers on docs/benchmarks.md come from the files the benchmarks write (``bench/common.py`` documents the
format), not from typing them in, so a table cannot drift from the run it claims to show, and every ratio is printed
beside the baseline it was computed from, with the date, commit, cores and load average of that run::

    ```{benchmark-results} bench/results/memory.json
    :group: memory
    :chart: add, search
    ```

The path is relative to the source directory (the repository root). ``:group:`` keeps the rows of those groups
(default: all); ``:chart:`` draws the named series (``all`` for every one; default: none); ``:no-table:`` leaves
out the table and its run line (for charts placed further down the page). Charts are plotly figures emitted as raw
HTML without plotly.js, which docs/conf.py loads once per page from the plotly package (offline). A missing or
invalid file, an unknown series or a group with no rows is a warning naming the file and what is wrong (the build
runs with ``-W``, so it fails); the directive then renders nothing.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any, Literal, TypedDict, cast

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)


class Row(TypedDict):
    group: str
    benchmark: str
    unit: str
    kaizen: float | None
    baseline_name: str
    baseline: float | None
    ratio: float | None
    target: str | None
    met: bool | None


class Trace(TypedDict, total=False):
    name: str
    x: list[Any]
    y: list[float]
    dash: bool


class Series(TypedDict):
    title: str
    kind: Literal["bar", "line", "box"]
    x_title: str
    y_title: str
    log_y: bool
    traces: list[Trace]


class Results(TypedDict):
    name: str
    title: str
    command: str
    notes: str
    machine: dict[str, Any]
    rows: list[Row]
    series: dict[str, Series]


class ResultsError(ValueError):
    """What is wrong with a results file, in words fit for a build warning."""


# -- reading ------------------------------------------------------------------------------------------------------
_NUMBER = (int, float)
_ROW_TYPES: dict[str, tuple[type, ...]] = {
    "group": (str,),
    "benchmark": (str,),
    "unit": (str,),
    "kaizen": (*_NUMBER, type(None)),
    "baseline_name": (str,),
    "baseline": (*_NUMBER, type(None)),
    "ratio": (*_NUMBER, type(None)),
    "target": (str, type(None)),
    "met": (bool, type(None)),
}
_MACHINE_KEYS = ("date", "git_commit", "cpu_count", "load_average_at_start", "load_average_at_end")


def load_results(path: Path) -> Results:
    """Read and check one results file; :class:`ResultsError` says what is wrong."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultsError("file not found (run the benchmark that writes it)") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ResultsError(f"cannot be read: {e}") from None
    except json.JSONDecodeError as e:
        raise ResultsError(f"not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise ResultsError("the top level is not a JSON object")
    for key in ("name", "machine", "rows"):
        if key not in data:
            raise ResultsError(f"no {key!r} key")
    machine = data["machine"]
    if not isinstance(machine, dict):
        raise ResultsError("'machine' is not an object")
    missing = [k for k in _MACHINE_KEYS if k not in machine]
    if missing:
        raise ResultsError(f"'machine' lacks {', '.join(missing)}")
    if not isinstance(data["rows"], list) or not data["rows"]:
        raise ResultsError("'rows' is not a non-empty list")
    for i, row in enumerate(data["rows"]):
        _check_row(i, row)
    series = data.get("series") or {}
    if not isinstance(series, dict):
        raise ResultsError("'series' is not an object")
    for name, s in series.items():
        _check_series(name, s)
    data.setdefault("title", data["name"])
    data.setdefault("command", "")
    data.setdefault("notes", "")
    data["series"] = series
    return cast(Results, data)


def _check_row(i: int, row: Any) -> None:
    if not isinstance(row, dict):
        raise ResultsError(f"row {i} is not an object")
    for key, types in _ROW_TYPES.items():
        if key not in row:
            raise ResultsError(f"row {i} has no {key!r}")
        value = row[key]
        if not isinstance(value, types) or (key in ("kaizen", "baseline", "ratio") and isinstance(value, bool)):
            raise ResultsError(f"row {i} ({row.get('benchmark', '?')}): {key!r} is {value!r}")
    kaizen, baseline, ratio = row["kaizen"], row["baseline"], row["ratio"]
    if kaizen is not None and baseline and ratio is not None and not math.isclose(ratio, kaizen / baseline):
        raise ResultsError(f"row {i} ({row['benchmark']}): ratio {ratio} is not kaizen / baseline")


def _check_series(name: str, s: Any) -> None:
    if not isinstance(s, dict) or s.get("kind") not in ("bar", "line", "box"):
        raise ResultsError(f"series {name!r}: not an object with kind bar, line or box")
    traces = s.get("traces")
    if not isinstance(traces, list) or not traces:
        raise ResultsError(f"series {name!r}: no traces")
    for t in traces:
        if not isinstance(t, dict) or not isinstance(t.get("name"), str) or not isinstance(t.get("y"), list):
            raise ResultsError(f"series {name!r}: a trace lacks a name or a y list")
        if s["kind"] != "box" and len(t.get("x") or []) != len(t["y"]):
            raise ResultsError(f"series {name!r}, trace {t['name']!r}: x and y differ in length")


# -- rendering ----------------------------------------------------------------------------------------------------
def number(x: float) -> str:
    """A measurement with as many digits as its size warrants."""
    size = abs(x)
    if size >= 1000:
        return f"{x:,.0f}"
    if size >= 100:
        return f"{x:.0f}"
    if size >= 10:
        return f"{x:.1f}"
    if size >= 1 or size == 0:
        return f"{x:.2f}"
    return f"{x:.2g}" if size >= 0.01 else f"{x:.1e}"


def ratio(x: float) -> str:
    return f"{x:.0f}x" if x >= 100 else f"{x:.1f}x" if x >= 10 else f"{x:.2f}x"


def value(x: float | None, unit: str) -> str:
    if x is None:
        return "—"
    if unit == "x":
        return ratio(x)
    return f"{number(x)} {unit}".strip()


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def select_rows(results: Results, groups: list[str] | None) -> list[Row]:
    return [r for r in results["rows"] if groups is None or r["group"] in groups]


def markdown_table(rows: list[Row]) -> str:
    """benchmark | kaizen | baseline | kaizen / baseline | target | met?, the baseline's value before its name."""
    lines = [
        "| benchmark | kaizen | baseline | kaizen / baseline | target | met? |",
        "|---|---:|---|---:|---|---|",
    ]
    for r in rows:
        base = value(r["baseline"], r["unit"])
        base = f"{base} ({r['baseline_name']})" if r["baseline_name"] else base
        met = "—" if r["met"] is None else "yes" if r["met"] else "**no**"
        cells = [
            r["benchmark"],
            value(r["kaizen"], r["unit"]),
            base,
            "—" if r["ratio"] is None else ratio(r["ratio"]),
            r["target"] or "—",
            met,
        ]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines)


def run_line(results: Results) -> str:
    """When, where and under what load the numbers were measured."""
    m = results["machine"]
    date = str(m["date"]).replace("T", " ").replace("+00:00", " UTC")
    commit = f"commit `{m['git_commit']}`"
    dirty = m.get("git_dirty") or []
    if dirty:
        commit += f" (uncommitted changes in {', '.join(dirty)})"
    cpu = f"{m['cpu_count']} cores" + (f" ({m['cpu_model']})" if m.get("cpu_model") else "")
    python = f", Python {m['python']}" if m.get("python") else ""
    start, end = m["load_average_at_start"], m["load_average_at_end"]
    load = f"1-minute load average {_load(start)} at the start, {_load(end)} at the end"
    text = f"**Run:** {date}, {commit}, {cpu}{python}; {load}."
    if results["command"]:
        text += f" Command: `{results['command']}`."
    if results["notes"]:
        text += " " + results["notes"]
    return text


def _load(value: Any) -> str:
    if isinstance(value, list) and value and isinstance(value[0], _NUMBER):
        return f"{value[0]:.2f}"
    return "not recorded"


_SCRIPT = re.compile(r"(<script[^>]*>)(.*?)(</script>)", re.DOTALL)


def chart_html(results: Results, name: str) -> str:
    """One series as a plotly div and its ``Plotly.newPlot`` call; plotly.js itself is not included."""
    import plotly.graph_objects as go
    import plotly.io as pio

    s = results["series"][name]
    fig = go.Figure()
    for t in s["traces"]:
        if s["kind"] == "box":
            fig.add_trace(go.Box(y=t["y"], name=t["name"], boxpoints="all", jitter=0.4, pointpos=0))
        elif s["kind"] == "line":
            line = {"dash": "dash"} if t.get("dash") else None
            fig.add_trace(go.Scatter(x=t["x"], y=t["y"], name=t["name"], mode="lines+markers", line=line))
        else:
            fig.add_trace(go.Bar(x=t["x"], y=t["y"], name=t["name"]))
    fig.update_layout(
        title=s["title"].replace("`", ""),
        template="plotly_white",
        height=420,
        margin={"l": 60, "r": 20, "t": 60, "b": 60},
        barmode="group",
        showlegend=s["kind"] != "box",
        xaxis_title=s.get("x_title") or None,
        yaxis_title=s.get("y_title") or None,
        yaxis_type="log" if s.get("log_y") else None,
    )
    if s["kind"] == "bar":
        fig.update_xaxes(type="category")  # concurrency 1, 5, 10, 20 are groups, not positions on a number line
    elif s["kind"] == "line" and all(isinstance(x, _NUMBER) for t in s["traces"] for x in t["x"]):
        fig.update_xaxes(tickvals=sorted({x for t in s["traces"] for x in t["x"]}))
    div_id = re.sub(r"[^A-Za-z0-9_-]+", "-", f"bench-{results['name']}-{name}")
    html = pio.to_html(
        fig, include_plotlyjs=False, full_html=False, div_id=div_id, config={"displaylogo": False, "responsive": True}
    )
    # The theme loads plotly.min.js at the end of <body>, after this inline script: draw once the page is parsed.
    html = _SCRIPT.sub(r'\1document.addEventListener("DOMContentLoaded", function () {\2});\3', html)
    return f'<div class="kaizen-benchmark-chart">{html}</div>'


def _names(argument: str | None) -> list[str] | None:
    if argument is None:
        return None
    return [n.strip() for n in argument.split(",") if n.strip()]


class BenchmarkResults(SphinxDirective):
    """```{benchmark-results} bench/results/<name>.json``` with ``:group:``, ``:chart:`` and ``:no-table:``."""

    required_arguments = 1
    has_content = False
    option_spec = {  # noqa: RUF012 (docutils reads it from the class)
        "group": directives.unchanged_required,
        "chart": directives.unchanged_required,
        "no-table": directives.flag,
    }

    def run(self) -> list[nodes.Node]:
        argument = self.arguments[0]
        path = Path(self.env.srcdir) / argument.lstrip("/")
        self.env.note_dependency(str(path))
        try:
            results = load_results(path)
            groups = _names(self.options.get("group"))
            rows = select_rows(results, groups)
            if not rows:
                raise ResultsError(f"no rows in group(s) {', '.join(groups or [])}")
            charts = _names(self.options.get("chart")) or []
            if charts == ["all"]:
                charts = list(results["series"])
            unknown = [c for c in charts if c not in results["series"]]
            if unknown:
                known = ", ".join(results["series"]) or "none"
                raise ResultsError(f"no series {', '.join(unknown)} (it has: {known})")
        except ResultsError as e:
            logger.warning("%s: %s", argument, e, location=self.get_location(), type="kaizen-benchmarks")
            return []
        out: list[nodes.Node] = []
        if "no-table" not in self.options:
            out += self.parse_text_to_nodes(run_line(results) + "\n\n" + markdown_table(rows))
        for name in charts:
            out.append(nodes.raw("", chart_html(results, name), format="html"))
        return out


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("benchmark-results", BenchmarkResults)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
