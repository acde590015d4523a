"""CodeGenerationAgent on the embedded model: structure only (a 135M model writes poor code)."""

from __future__ import annotations

import pytest

from kaizen_lab.codegen import CodeGenerationAgent, CodeGenerationConfig, CodeGenResult
from kaizen_lab.llm.local import local_model_available

pytestmark = [
    pytest.mark.local_model,
    pytest.mark.skipif(not local_model_available(), reason="embedded model not installed (make install)"),
]


def test_generates_code_explanation_and_tests_without_running_them(no_provider_env):
    agent = CodeGenerationAgent(CodeGenerationConfig(max_tokens=400))
    r = agent.generate("Write a Python function add(a, b) that returns a + b.")
    assert isinstance(r, CodeGenResult)
    assert r.provider == "local"
    for key in ("code", "explanation", "tests"):
        assert isinstance(r[key], str)
    assert r["code"].strip()
    assert "```" not in r["code"] and "```" not in r["tests"]
    assert r["executed"] is False and r["passed"] is None and r["attempts"] == []
    assert "<div" in r._repr_html_()
