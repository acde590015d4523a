"""CodeGenerationAgent with scripted model replies; generated tests really run in a subprocess."""

from __future__ import annotations

import os
import time

import pytest

from kaizen_lab import ConfigurationError, HeadlessPolicy
from kaizen_lab.codegen import (
    RUN_TOOL,
    CodeGenerationAgent,
    CodeGenerationConfig,
    CodeGenResult,
    run_generated_tests,
    strip_fences,
)
from kaizen_lab.llm import LLM
from kaizen_lab.llm.testing import FunctionProvider
from kaizen_lab.tools import ExecutionContext, PermissionMode

GOOD_CODE = "def add(a, b):\n    return a + b\n"
BUGGY_CODE = "def add(a, b):\n    return a - b\n"
TESTS = "from solution import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"


def reply(code: str = GOOD_CODE, tests: str = TESTS, explanation: str = "Adds two numbers.") -> dict[str, str]:
    return {"code": code, "explanation": explanation, "tests": tests}


def fix(code: str = GOOD_CODE, tests: str = TESTS) -> dict[str, str]:
    return {"code_fixed": code, "explanation": "Subtraction was wrong; it adds now.", "tests_fixed": tests}


def agent(replies, *, approve: bool = True, **config) -> tuple[CodeGenerationAgent, FunctionProvider]:
    provider = FunctionProvider(replies)
    control = HeadlessPolicy("high" if approve else "safe")
    return CodeGenerationAgent(CodeGenerationConfig(**config), llm=LLM(provider), control=control), provider


# -- generation -------------------------------------------------------------------------------------------------


def test_generate_gives_code_explanation_and_tests_and_runs_nothing():
    a, provider = agent([reply()])
    r = a.generate("add two numbers")
    assert isinstance(r, CodeGenResult)
    assert r["code"] == GOOD_CODE and r["tests"] == TESTS and r["explanation"] == "Adds two numbers."
    assert r["language"] == "python"
    assert r["executed"] is False and r["passed"] is None and r["attempts"] == []
    assert "Not executed" in r["output"]
    assert r.provider == "function" and len(provider.calls) == 1
    assert a.context.audit == []  # no tool call was even asked for


def test_fences_are_stripped_from_code_and_tests():
    fenced = reply(code=f"```python\n{GOOD_CODE}```", tests=f"Here are the tests:\n```py\n{TESTS}```\nDone.")
    r = agent([fenced])[0].generate("add two numbers")
    assert r["code"] == GOOD_CODE
    assert r["tests"] == TESTS


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("x = 1\n", "x = 1\n"),
        ("```\nx = 1\n```", "x = 1\n"),
        ("```python\nx = 1", "x = 1\n"),  # never closed: output cut short
        ("```js\na()\n```\ntext\n```js\nb()\n```", "a()\nb()\n"),
        ("", ""),
    ],
)
def test_strip_fences(raw, clean):
    assert strip_fences(raw) == clean


def test_other_languages_generate_but_cannot_execute():
    a, provider = agent([reply(code="function add(a, b) { return a + b; }", tests="test('add', () => {});")])
    r = a.generate("add two numbers", language="javascript")
    assert r["language"] == "javascript" and "function add" in r["code"] and r["executed"] is False
    with pytest.raises(ConfigurationError, match="Only Python"):
        a.generate("add two numbers", language="javascript", execute=True)
    assert len(provider.calls) == 1  # refused before any model call


def test_html_shows_highlighted_code_tests_and_escapes_everything():
    a, _ = agent([reply(code="def f():\n    return '<script>alert(1)</script>'\n")])
    page = a.generate("f")._repr_html_()
    assert "<script>" not in page and "&lt;" in page
    assert "not executed" in page and "tests" in page


# -- execution --------------------------------------------------------------------------------------------------


def test_execute_correct_code_passes():
    a, provider = agent([reply()])
    r = a.generate("add two numbers", execute=True)
    assert r["executed"] is True and r["passed"] is True and r["returncode"] == 0 and r["timed_out"] is False
    assert "1 passed" in r["output"] and r["duration"] > 0
    assert [t["passed"] for t in r["attempts"]] == [True]
    assert len(provider.calls) == 1  # nothing to repair
    (entry,) = a.context.audit
    assert entry.tool == RUN_TOOL and entry.danger == "HIGH" and entry.outcome == "executed"
    page = r._repr_html_()
    assert "passed" in page and "<details>" in page


def test_buggy_code_is_repaired_with_the_failing_output():
    a, provider = agent([reply(code=BUGGY_CODE), fix()])
    r = a.generate("add two numbers", execute=True)
    first, second = r["attempts"]
    assert first["code"] == BUGGY_CODE and first["passed"] is False and "assert -1 == 5" in first["output"]
    assert second["code"] == GOOD_CODE and second["passed"] is True
    assert r["passed"] is True and r["code"] == GOOD_CODE
    repair_prompt = "\n".join(str(m["content"]) for m in provider.calls[1].messages)
    assert "assert -1 == 5" in repair_prompt and BUGGY_CODE.strip() in repair_prompt
    assert r.attempts == 2  # both model calls are on the result (usage, cost)
    assert "after 2 attempts" in r._repr_html_()


def test_repair_can_be_switched_off():
    a, provider = agent([reply(code=BUGGY_CODE)])
    r = a.generate("add two numbers", execute=True, repair=False)
    assert r["passed"] is False and len(r["attempts"]) == 1 and len(provider.calls) == 1
    assert "failed" in r._repr_html_()


def test_only_max_repairs_rounds():
    a, provider = agent([reply(code=BUGGY_CODE), fix(code=BUGGY_CODE)])
    r = a.generate("add two numbers", execute=True)
    assert r["passed"] is False and [t["passed"] for t in r["attempts"]] == [False, False]
    assert len(provider.calls) == 2


def test_an_infinite_loop_is_killed_at_the_timeout():
    loop = "def test_forever():\n    while True:\n        pass\n"
    a, _ = agent([reply(tests=loop)], execution_timeout=2, repair=False)
    started = time.monotonic()
    r = a.generate("loop", execute=True)
    assert time.monotonic() - started < 30
    assert r["timed_out"] is True and r["passed"] is False and r["returncode"] is None
    assert "stopped after 2 s" in r["output"]


def test_output_is_capped():
    flood = "def test_flood():\n    print('x' * 200_000)\n    assert False\n"
    a, _ = agent([reply(tests=flood)], max_output_chars=1000, repair=False)
    r = a.generate("flood", execute=True)
    assert r["passed"] is False
    assert len(r["output"]) < 1400 and "more characters cut" in r["output"]


def test_secrets_are_scrubbed_and_home_is_the_temp_folder(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-parent-secret")
    probe = (
        "import os\n\n\ndef test_env():\n"
        "    assert 'OPENAI_API_KEY' not in os.environ\n"
        "    assert os.environ['HOME'] == os.getcwd()\n"
    )
    a, _ = agent([reply(tests=probe)], repair=False)
    r = a.generate("nothing", execute=True)
    assert r["passed"] is True, r["output"]
    assert os.environ["OPENAI_API_KEY"] == "sk-parent-secret"  # the parent keeps it


def test_a_plain_script_runs_with_python():
    outcome = run_generated_tests(GOOD_CODE, "from solution import add\nassert add(1, 1) == 2\nprint('ok')\n")
    assert outcome.runner == "python" and outcome.passed and outcome.output == "ok"
    bad = run_generated_tests(GOOD_CODE, "from solution import add\nassert add(1, 1) == 3\n")
    assert not bad.passed and "AssertionError" in bad.output


def test_without_pytest_a_harness_calls_the_test_functions(monkeypatch):
    monkeypatch.setattr("kaizen_lab.codegen.runner._pytest_available", lambda: False)
    outcome = run_generated_tests(BUGGY_CODE, TESTS + "\n\ndef test_ok():\n    pass\n")
    assert outcome.runner == "harness" and not outcome.passed
    assert "FAILED test_add" in outcome.output and "PASSED test_ok" in outcome.output


# -- approvals --------------------------------------------------------------------------------------------------


def test_a_denied_approval_runs_nothing(tmp_path):
    marker = tmp_path / "ran"
    code = f"open({str(marker)!r}, 'w').write('x')\n"
    a, provider = agent([reply(code=code, tests="import solution\n")], approve=False)
    r = a.generate("write a file", execute=True)
    assert not marker.exists()
    assert r["executed"] is False and r["passed"] is None and "DENIED" in r["output"]
    assert any("not run" in w for w in r.warnings)
    assert len(provider.calls) == 1  # no repair of code that never ran
    (entry,) = a.context.audit
    assert entry.tool == RUN_TOOL and entry.outcome == "denied" and entry.decided_by == "policy:deny"


def test_permission_rules_apply_to_the_run():
    provider = FunctionProvider([reply()])
    context = ExecutionContext(allowed_tools=[RUN_TOOL])
    a = CodeGenerationAgent(llm=LLM(provider), control=HeadlessPolicy(), context=context)  # the policy denies...
    assert a.generate("add", execute=True)["passed"] is True  # ...but allowed_tools lets it run without asking

    planned = CodeGenerationAgent(llm=LLM(FunctionProvider([reply()])), context=ExecutionContext(PermissionMode.PLAN))
    r = planned.generate("add", execute=True)
    assert r["executed"] is False and "PLANNED" in r["output"]


def test_approval_policy_from_the_environment(monkeypatch):
    monkeypatch.setenv("KAIZEN_APPROVAL_POLICY", "approve:all")
    a = CodeGenerationAgent(llm=LLM(FunctionProvider([reply()])))
    assert a.generate("add", execute=True)["passed"] is True
    monkeypatch.setenv("KAIZEN_APPROVAL_POLICY", "deny")
    a = CodeGenerationAgent(llm=LLM(FunctionProvider([reply()])))
    assert a.generate("add", execute=True)["executed"] is False


async def test_agenerate_in_a_running_loop():
    a, _ = agent([reply()])
    r = await a.agenerate("add", execute=True)
    assert r["passed"] is True
