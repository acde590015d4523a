"""Sphinx configuration for the Kaizen Lab site (``make docs``).

Sphinx + MyST-NB, because it is the notebook-first stack that builds fully offline from Python packages alone:
MyST-NB renders the demo notebooks with their stored outputs (nbval keeps those honest) and executes the guides'
``{code-cell}`` blocks at build time, so no snippet rots; autodoc writes the API reference from the docstrings; and
``-W`` turns every broken cross-reference, failed cell or unknown output into an error. (Jupyter Book 2 / mystmd
fetches its site theme from the network at build time; mkdocs-jupyter would need a second docstring toolchain.)

The source directory is the repository root, so the links between guides, notebooks and screenshots that work on
GitHub (``../notebooks/rag.ipynb``) are the same links the site checks.
"""

from __future__ import annotations

import os
import shutil
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))
# The guides must run in this environment's kernel: a "python3" kernelspec in the user's or the system's Jupyter
# folders (another Python, without kaizen_lab) would otherwise win. JUPYTER_PATH is searched before both.
os.environ["JUPYTER_PATH"] = os.pathsep.join(
    p for p in (str(Path(sys.prefix) / "share" / "jupyter"), os.environ.get("JUPYTER_PATH")) if p
)

project = "Kaizen Lab"
author = "Kaizen Lab"
copyright = "2026, Kaizen Lab"
release = version = metadata.version("kaizen-lab")

root_doc = "docs/index"
include_patterns = ["docs/**", "notebooks/*.ipynb"]
exclude_patterns = ["build", ".venv*", "**/.ipynb_checkpoints", "docs/_ext"]

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx_copybutton",
    "kaizen_benchmarks",  # docs/_ext: the benchmarks page's tables and charts from bench/results/*.json
]

# MyST: GitHub-style heading anchors so ``tools.md#permissions-and-budgets`` resolves (and is checked).
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# Notebooks keep the outputs they were executed with (nbval and `make binder-check` execute them); the guides are
# executed on every build, on the embedded model, and any error fails the build.
nb_execution_mode = "force"
nb_execution_excludepatterns = ["notebooks/*"]
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_execution_timeout = 300
nb_execution_in_temp = True  # files a guide writes (databases, workspaces) land in a throwaway folder
nb_merge_streams = True
# Live widgets need a kernel: kaizen_lab_widgets.docs_render shows a placeholder linking to the gallery instead, so
# no widget manager is fetched from a CDN.
nb_ipywidgets_js: dict[str, dict[str, str]] = {}

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"members": True, "undoc-members": True, "show-inheritance": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False

# Plotly charts and live widgets in the notebooks' outputs: kaizen_lab_widgets.docs_render draws the charts and
# replaces each widget by a placeholder that links to the gallery (opt-in, since MyST-NB loads it for every project).
kaizen_docs_render = True
nb_mime_priority_overrides = [(builder, "application/vnd.plotly.v1+json", 5) for builder in ("html", "dirhtml")]

html_theme = "furo"
html_title = "Kaizen Lab"


def _copy_plotly_js(app: Sphinx) -> None:
    """plotly.js from the plotly package, into the site (offline; before pages are written, so they can link it)."""
    if app.builder.format != "html":
        return
    import plotly

    static = Path(app.outdir) / "_static"
    static.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(Path(plotly.__file__).parent / "package_data" / "plotly.min.js", static / "plotly.min.js")


def _plotly_where_drawn(app: Sphinx, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    """Load the 4.8 MB plotly.js only on pages that draw a chart."""
    if doctree is not None and any("Plotly.newPlot" in node.astext() for node in doctree.findall(nodes.raw)):
        app.add_js_file("plotly.min.js")


def _front_page(app: Sphinx, exception: Exception | None) -> None:
    """The site's root opens the documentation's front page."""
    if exception is not None or app.builder.format != "html":
        return
    front = "docs/index.html"
    (Path(app.outdir) / "index.html").write_text(
        f'<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="0; url={front}">'
        f'<title>Kaizen Lab</title><a href="{front}">Kaizen Lab documentation</a>\n',
        encoding="utf-8",
    )


def _verbatim_docstrings(app: Sphinx, what: str, name: str, obj: Any, options: Any, lines: list[str]) -> None:
    """A Signature's docstring is its instruction to the model and a magic's is its usage text, not
    reStructuredText: show both as written."""
    from kaizen_lab import Signature

    if what == "class" and isinstance(obj, type) and issubclass(obj, Signature) and lines:
        lines[:] = ["Instructions to the model::", "", *(f"    {line}" for line in lines), ""]
    elif what == "method" and hasattr(obj, "parser") and lines:  # a magic: its docstring is argparse's usage text
        lines[:] = ["Usage (as ``%name?`` shows it)::", "", *(f"    {line}" for line in lines), ""]


def setup(app: Sphinx) -> None:
    app.add_config_value("kaizen_docs_render", False, "env")
    app.connect("builder-inited", _copy_plotly_js)
    app.connect("html-page-context", _plotly_where_drawn)
    app.connect("build-finished", _front_page)
    app.connect("autodoc-process-docstring", _verbatim_docstrings)
