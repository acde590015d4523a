"""Render notebook outputs in a MyST-NB documentation build.

Registered through the ``myst_nb.mime_renderers`` entry points in this package's pyproject.toml, and opt-in: MyST-NB
loads every installed plugin for every project, so both renderers stay out of the way unless the Sphinx project sets
``kaizen_docs_render = True`` (and sets ``nb_mime_priority_overrides`` to put plotly first; see docs/conf.py).

- Plotly figures are stored as ``application/vnd.plotly.v1+json`` only (no plotly.js in the notebook), which MyST-NB
  does not know: each becomes a div drawn by the page's own plotly.min.js, the same interactive chart JupyterLab
  shows, offline.
- Live widgets need a kernel. Rather than a blank space (or scripts fetched from a CDN), a static site shows what
  the widget was (its text form) and links to the widgets gallery, where a screenshot from a real JupyterLab shows
  what it looks like.
"""

from __future__ import annotations

import hashlib
import html
import json
from typing import Any, ClassVar

PLOTLY_MIME = "application/vnd.plotly.v1+json"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
GALLERY_DOC = "docs/widgets"


def figure_html(figure: dict[str, Any]) -> str:
    """A div plus the script that draws ``figure`` (data, layout) with an already loaded ``window.Plotly``."""
    spec = json.dumps(
        {"data": figure.get("data", []), "layout": figure.get("layout", {}), "config": {"responsive": True}},
        sort_keys=True,
    )
    # No figure text can end the script or open a comment inside it; the same figure gets the same id on every build.
    spec = spec.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
    div_id = "plotly-" + hashlib.sha1(spec.encode()).hexdigest()[:12]
    return (
        f'<div id="{div_id}" class="kaizen-plotly" style="width:100%;min-height:360px"></div>\n'
        # Themes load scripts at the end of <body>: draw once the page (and plotly.js) has loaded.
        f'<script>document.addEventListener("DOMContentLoaded",function(){{var s={spec};'
        f'Plotly.newPlot("{div_id}",s.data,s.layout,s.config);}});</script>'
    )


def widget_html(description: str, gallery_url: str | None) -> str:
    """A placeholder for a live widget: what it was, and where its screenshot is."""
    link = f' — <a href="{html.escape(gallery_url)}">see the widgets gallery</a>' if gallery_url else ""
    return (
        '<div class="kaizen-widget-placeholder" style="border:1px dashed #999;border-radius:4px;padding:.5em .8em">'
        f"<code>{html.escape(description)}</code><br><small>An interactive widget: it runs in JupyterLab{link}."
        "</small></div>"
    )


def _text_form(renderer: Any, data: Any) -> str:
    """The output's ``text/plain`` alternative (our widgets' reprs say what they show), else a generic name.
    Found by content: MyST-NB's output index counts outputs after merging streams, the notebook's list does not."""
    try:
        _, outputs = renderer.renderer.nb_client.code_cell_outputs(data.cell_index)
        bundle = next(o["data"] for o in outputs if o.get("data", {}).get(WIDGET_MIME) == data.content)
    except (AttributeError, KeyError, TypeError, StopIteration):  # no notebook at hand
        return "widget"
    text = bundle.get("text/plain", "")
    return ("".join(text) if isinstance(text, list) else str(text)) or "widget"


def _enabled(renderer: Any) -> bool:
    try:
        return bool(renderer.renderer.sphinx_env.config.kaizen_docs_render)
    except AttributeError:  # plain docutils, or a Sphinx project that did not opt in
        return False


def _gallery_url(renderer: Any) -> str | None:
    try:
        env = renderer.renderer.sphinx_env
        return str(env.app.builder.get_relative_uri(env.docname, GALLERY_DOC))
    except Exception:  # outside Sphinx (plain docutils): no gallery to link to
        return None


class PlotlyMimeRenderer:
    """MyST-NB ``MimeRenderPlugin``: plotly figures first on HTML builders, drawn client side."""

    mime_priority_overrides: ClassVar[list[tuple[str, str, int | None]]] = []  # the project opts in (docs/conf.py)

    @staticmethod
    def handle_mime(renderer: Any, data: Any, inline: bool) -> list[Any] | None:
        if inline or data.mime_type != PLOTLY_MIME or not _enabled(renderer):
            return None
        from docutils import nodes

        return [nodes.raw(text=figure_html(data.content), format="html", classes=["output", "plotly"])]


class WidgetPlaceholderRenderer:
    """MyST-NB ``MimeRenderPlugin``: a live widget's view becomes its description and a link to the gallery."""

    mime_priority_overrides: ClassVar[list[tuple[str, str, int | None]]] = []

    @staticmethod
    def handle_mime(renderer: Any, data: Any, inline: bool) -> list[Any] | None:
        if inline or data.mime_type != WIDGET_MIME or not _enabled(renderer):
            return None
        from docutils import nodes

        placeholder = widget_html(_text_form(renderer, data), _gallery_url(renderer))
        return [nodes.raw(text=placeholder, format="html", classes=["output", "widget"])]
