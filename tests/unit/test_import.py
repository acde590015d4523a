"""`import kaizen_lab` and `%load_ext kaizen_lab` stay light: heavy libraries load only when first used."""

import subprocess
import sys

HEAVY = [
    "litellm",
    "chromadb",
    "torch",
    "whisper",
    "pymupdf",
    "fitz",
    "plotly",
    "pandas",
    "IPython",
    "ipywidgets",
    "xllamacpp",
    "asyncio",
]


def _loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint(','.join(sorted(m for m in sys.modules if '.' not in m)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    return set(out.strip().split(","))


def test_import_kaizen_lab_loads_no_heavy_library():
    loaded = _loaded_after("import kaizen_lab")
    assert not loaded & set(HEAVY), f"import kaizen_lab pulled in {sorted(loaded & set(HEAVY))}"


def test_building_an_agent_with_the_mock_provider_stays_light():
    loaded = _loaded_after("import kaizen_lab\nkaizen_lab.BaseAgent(signature='q -> a', llm_provider='mock')")
    assert not loaded & {"litellm", "xllamacpp", "pandas", "IPython"}


def test_load_ext_works_in_a_real_ipython_shell():
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.testing.globalipapp import start_ipython

    start_ipython()
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "kaizen_lab")
    assert "agent" in ip.magics_manager.magics["cell"] and "kaizen" in ip.magics_manager.magics["line"]
    ip.run_line_magic("unload_ext", "kaizen_lab")
    assert "agent" not in ip.magics_manager.magics["cell"]
