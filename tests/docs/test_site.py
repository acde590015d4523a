"""The documentation site's guarantees that do not need a full build: guides are executable notebooks, the link
checker finds what it should, and plotly outputs turn into charts. ``make docs`` does the real build in CI."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
FENCE = re.compile(r"^(?:`{3,}|~{3,})\s*(\{(?:code-block|code|sourcecode)\}\s*)?([^\s`]*)", re.MULTILINE)
# Pages whose code is exercised elsewhere: the gallery's snippets by tests/browser/test_gallery.py in a real
# JupyterLab, the API pages are autodoc directives, benchmarks show commands.
NOT_GUIDES = {"widgets.md", "benchmarks.md", "index.md"}


def _load_check_links():
    spec = importlib.util.spec_from_file_location("check_links", DOCS / "check_links.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_links"] = module
    spec.loader.exec_module(module)
    return module


def _guides() -> list[Path]:
    return sorted(p for p in DOCS.glob("*.md") if p.name not in NOT_GUIDES)


@pytest.mark.parametrize("guide", _guides(), ids=lambda p: p.name)
def test_every_python_example_in_a_guide_is_an_executed_cell(guide: Path) -> None:
    text = guide.read_text(encoding="utf-8")
    languages = [m.group(2).lower() for m in FENCE.finditer(text)]
    plain = [lang for lang in languages if lang in {"python", "py", "python3", "ipython", "ipython3", "pycon"}]
    assert not plain, f"{guide.name}: use {{code-cell}} ipython3 instead of ```{plain[0]} (the build executes cells)"
    if "{code-cell}" in text:
        assert re.search(r"\A---\n(.*\n)*?file_format: mystnb\n", text), (
            f"{guide.name}: code cells run only in a MyST notebook; start the file with the mystnb front matter"
        )


def test_link_checker_reports_missing_pages_and_anchors(tmp_path: Path) -> None:
    check_links = _load_check_links()
    (tmp_path / "sub").mkdir()
    (tmp_path / "index.html").write_text(
        '<h1 id="top">x</h1><a href="sub/page.html#part">ok</a><a href="#top">self</a>'
        '<a href="missing.html">gone</a><a href="sub/page.html#nope">bad anchor</a>'
        '<a href="https://example.com/x">external</a><img src="img.png"><a href="../outside.html">out</a>'
    )
    (tmp_path.parent / "outside.html").write_text("exists, but is not part of the site")
    (tmp_path / "sub" / "page.html").write_text('<section id="part"><a href="../index.html#top">back</a></section>')
    problems, checked, external = check_links.broken_links(tmp_path)
    assert external == 1
    assert checked == 7
    assert len(problems) == 4
    assert any("outside.html" in p and "leaves the site" in p for p in problems)
    assert any("missing.html" in p and "no such file" in p for p in problems)
    assert any("has no id 'nope'" in p for p in problems)
    assert any("img.png" in p for p in problems)


def test_plotly_outputs_become_charts_drawn_by_the_page() -> None:
    from kaizen_lab_widgets.docs_render import figure_html

    figure = {"data": [{"type": "bar", "x": [1], "y": ["</script><!--<script>&"]}], "layout": {"title": "t"}}
    html = figure_html(figure)
    div_id = re.search(r'<div id="(plotly-[0-9a-f]+)"', html)
    assert div_id and f'Plotly.newPlot("{div_id.group(1)}"' in html
    script = html.split("<script>", 1)[1].rsplit("</script>", 1)[0]
    assert "<" not in script and ">" not in script  # figure text cannot close the script or open a comment
    assert "DOMContentLoaded" in script  # themes load plotly.js at the end of <body>
    assert figure_html(figure) == html  # the same figure, the same page: builds are reproducible


class _Renderer:
    """The parts of a MyST-NB element renderer that docs_render reads."""

    def __init__(self, outputs: list[dict], enabled: bool = True) -> None:
        client = type("Client", (), {"code_cell_outputs": lambda self, index: (1, outputs)})()
        config = type("Config", (), {"kaizen_docs_render": enabled})()
        app = type(
            "App", (), {"builder": type("B", (), {"get_relative_uri": lambda s, a, b: "../docs/widgets.html"})()}
        )
        env = type("Env", (), {"config": config, "docname": "notebooks/x", "app": app()})()
        self.renderer = type("R", (), {"nb_client": client, "sphinx_env": env})()


def test_a_widget_output_is_found_by_content_even_after_streams_were_merged() -> None:
    from kaizen_lab_widgets.docs_render import WIDGET_MIME, WidgetPlaceholderRenderer

    view = {"model_id": "abc", "version_major": 2}
    outputs = [
        {"output_type": "stream", "text": "a"},
        {"output_type": "display_data", "data": {"text/plain": "first"}},
        {"output_type": "stream", "text": "b"},
        {"output_type": "display_data", "data": {WIDGET_MIME: view, "text/plain": "<RAGExplorer: 8 results>"}},
    ]
    data = type("Data", (), {"mime_type": WIDGET_MIME, "content": view, "cell_index": 0, "output_index": 2})()
    [node] = WidgetPlaceholderRenderer.handle_mime(_Renderer(outputs), data, False)
    assert "&lt;RAGExplorer: 8 results&gt;" in node.astext() and "../docs/widgets.html" in node.astext()


def test_the_renderers_stay_out_of_projects_that_did_not_opt_in() -> None:
    from kaizen_lab_widgets.docs_render import PLOTLY_MIME, PlotlyMimeRenderer, WidgetPlaceholderRenderer

    data = type("Data", (), {"mime_type": PLOTLY_MIME, "content": {"data": []}})()
    assert PlotlyMimeRenderer.handle_mime(_Renderer([], enabled=False), data, False) is None
    assert PlotlyMimeRenderer.mime_priority_overrides == WidgetPlaceholderRenderer.mime_priority_overrides == []
    assert PlotlyMimeRenderer.handle_mime(_Renderer([]), data, False)


def test_the_plotly_renderer_is_registered_for_myst_nb() -> None:
    from importlib.metadata import entry_points

    names = {ep.name: ep.value for ep in entry_points(group="myst_nb.mime_renderers")}
    assert names.get("plotly") == "kaizen_lab_widgets.docs_render:PlotlyMimeRenderer"
    assert names.get("widget") == "kaizen_lab_widgets.docs_render:WidgetPlaceholderRenderer"


def test_a_widget_on_the_static_site_says_what_it_was_and_links_to_the_gallery() -> None:
    from kaizen_lab_widgets.docs_render import widget_html

    html = widget_html("<RAGExplorer: 8 results for 'x'>", "../docs/widgets.html")
    assert "&lt;RAGExplorer: 8 results for &#x27;x&#x27;&gt;" in html
    assert 'href="../docs/widgets.html"' in html
