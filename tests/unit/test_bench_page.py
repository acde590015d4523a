"""The benchmarks page's directive (docs/_ext/kaizen_benchmarks.py): a results file becomes a table with each ratio
beside its baseline, a run line with the load average, and plotly charts; a bad file is a build warning naming it."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "docs" / "_ext"))

import kaizen_benchmarks as kb


def results(**changes: Any) -> dict[str, Any]:
    """A small results file in the layout bench/common.py writes."""
    data: dict[str, Any] = {
        "schema": 1,
        "name": "demo",
        "title": "Demo",
        "command": "python bench/demo.py",
        "notes": "",
        "machine": {
            "date": "2026-11-26T01:00:00+00:00",
            "git_commit": "abc1234",
            "git_dirty": [],
            "cpu_count": 2,
            "cpu_model": "AMD EPYC",
            "python": "3.11.7",
            "load_average_at_start": [0.42, 0.5, 0.6],
            "load_average_at_end": [1.37, 0.9, 0.7],
        },
        "rows": [
            {
                "group": "import",
                "benchmark": "`import kaizen_lab`",
                "unit": "ms",
                "kaizen": 115.0,
                "baseline_name": "`import dspy`",
                "baseline": 515.0,
                "ratio": 115.0 / 515.0,
                "target": "kaizen < 150 ms",
                "met": True,
            },
            {
                "group": "fanout",
                "benchmark": "pattern, concurrency 20",
                "unit": "ms",
                "kaizen": 312.0,
                "baseline_name": "ideal",
                "baseline": 100.0,
                "ratio": 3.12,
                "target": "≤ 1.3x",
                "met": False,
            },
        ],
        "series": {
            "wall": {
                "title": "wall / ideal",
                "kind": "line",
                "x_title": "concurrency",
                "y_title": "x",
                "log_y": False,
                "traces": [{"name": "pattern", "x": [1, 5], "y": [1.16, 1.61], "dash": False}],
            }
        },
        "raw": {},
    }
    data.update(changes)
    return data


def write(folder: Path, name: str, data: Any) -> Path:
    path = folder / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def test_table_puts_each_ratio_beside_its_baseline(tmp_path: Path) -> None:
    loaded = kb.load_results(write(tmp_path, "demo.json", results()))
    table = kb.markdown_table(kb.select_rows(loaded, None)).splitlines()
    assert table[0] == "| benchmark | kaizen | baseline | kaizen / baseline | target | met? |"
    assert table[2] == "| `import kaizen_lab` | 115 ms | 515 ms (`import dspy`) | 0.22x | kaizen < 150 ms | yes |"
    assert table[3] == "| pattern, concurrency 20 | 312 ms | 100 ms (ideal) | 3.12x | ≤ 1.3x | **no** |"
    assert kb.markdown_table(kb.select_rows(loaded, ["fanout"])).count("\n") == 2  # header, rule, one row


def test_run_line_gives_date_commit_cores_and_load() -> None:
    line = kb.run_line(results())  # type: ignore[arg-type]
    assert "2026-11-26 01:00:00 UTC" in line
    assert "commit `abc1234`" in line and "2 cores (AMD EPYC)" in line
    assert "load average 0.42 at the start, 1.37 at the end" in line


def test_chart_is_a_plotly_div_without_plotly_js(tmp_path: Path) -> None:
    html = kb.chart_html(kb.load_results(write(tmp_path, "demo.json", results())), "wall")
    assert 'id="bench-demo-wall"' in html and "1.61" in html
    # drawn once the page is parsed: the theme loads plotly.min.js at the end of <body>, after this script
    assert html.index('addEventListener("DOMContentLoaded"') < html.index("Plotly.newPlot")
    assert "cdn.plot.ly" not in html and len(html) < 20_000  # plotly.js (~4 MB) is neither inlined nor fetched


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "not valid JSON"),
        (results(rows=[]), "'rows' is not a non-empty list"),
        (results(machine={"date": "x"}), "'machine' lacks git_commit"),
        (results(rows=[{**results()["rows"][0], "ratio": 9.0}]), "ratio 9.0 is not kaizen / baseline"),
        (results(rows=[{**results()["rows"][0], "kaizen": "fast"}]), "'kaizen' is 'fast'"),
    ],
)
def test_load_results_says_what_is_wrong(tmp_path: Path, content: Any, problem: str) -> None:
    with pytest.raises(kb.ResultsError, match=problem):
        kb.load_results(write(tmp_path, "bad.json", content))


def build(tmp_path: Path, page: str) -> tuple[str, str]:
    """A real Sphinx build of one MyST page with the extension; returns (html, warnings)."""
    from io import StringIO

    from sphinx.application import Sphinx

    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / "conf.py").write_text('extensions = ["myst_parser", "kaizen_benchmarks"]\n', encoding="utf-8")
    (src / "index.md").write_text(page, encoding="utf-8")
    warnings = StringIO()
    app = Sphinx(src, src, tmp_path / "out", tmp_path / "doctrees", "html", status=None, warning=warnings)
    app.build()
    return (tmp_path / "out" / "index.html").read_text(encoding="utf-8"), warnings.getvalue()


def test_directive_renders_table_run_line_and_chart(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    write(tmp_path / "src", "demo.json", results())
    html, warnings = build(tmp_path, "# Page\n\n```{benchmark-results} demo.json\n:chart: wall\n```\n")
    assert warnings == ""
    assert "<table" in html and re.search(r"<th[^>]*>(<p>)?kaizen / baseline", html)
    assert '<code class="docutils literal notranslate"><span class="pre">import</span>' in html  # markdown parsed
    assert "0.22x" in html and "load average 0.42 at the start" in html
    assert 'id="bench-demo-wall"' in html and "Plotly.newPlot" in html


def test_directive_warns_naming_a_bad_file(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    write(tmp_path / "src", "broken.json", "{not json")
    page = "# Page\n\n```{benchmark-results} broken.json\n```\n\n```{benchmark-results} missing.json\n```\n"
    html, warnings = build(tmp_path, page)
    assert "broken.json: not valid JSON" in warnings
    assert "missing.json: file not found" in warnings
    assert "<table" not in html


def test_directive_warns_on_an_unknown_series(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    write(tmp_path / "src", "demo.json", results())
    _, warnings = build(tmp_path, "# Page\n\n```{benchmark-results} demo.json\n:chart: nope\n```\n")
    assert "demo.json: no series nope (it has: wall)" in warnings
