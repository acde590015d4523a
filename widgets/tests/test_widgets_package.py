"""`import kaizen_lab_widgets` stays light: ipywidgets yes (it is the widgets package), plotly and pandas no."""

from __future__ import annotations

import subprocess
import sys


def test_import_loads_no_plotly_or_pandas():
    probe = "import sys, kaizen_lab_widgets\nprint(','.join(sorted(m for m in sys.modules if '.' not in m)))"
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded = set(run.stdout.strip().split(","))
    assert not loaded & {"plotly", "pandas"}, sorted(loaded & {"plotly", "pandas"})


def test_public_names():
    import kaizen_lab_widgets

    assert set(kaizen_lab_widgets.__all__) == {
        "ApprovalCard",
        "JourneyMap",
        "MemoryExplorer",
        "PageImage",
        "Progress",
        "RAGExplorer",
        "QuestionCard",
        "SignatureBuilder",
        "WidgetTransport",
        "export_pattern",
        "pattern_figure",
        "pattern_html",
        "render_page",
        "supervisor_timeline",
        "usage_figure",
        "usage_table",
    }
