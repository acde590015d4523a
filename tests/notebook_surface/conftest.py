from __future__ import annotations

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.testing.globalipapp import start_ipython


@pytest.fixture
def ip():
    """A real IPython shell with the extension loaded, and a clean namespace per test."""
    start_ipython()  # idempotent: the first call creates the test shell
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "kaizen_lab")
    shell.display_formatter.active_types = list(shell.display_formatter.format_types)  # as a notebook asks
    saved = dict(shell.user_ns)
    yield shell
    shell.run_line_magic("unload_ext", "kaizen_lab")
    shell.user_ns.clear()
    shell.user_ns.update(saved)
