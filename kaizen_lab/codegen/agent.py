"""CodeGenerationAgent: write code and tests for a task; optionally run the tests, and repair once on failure.

    agent = CodeGenerationAgent()
    r = agent.generate("a function is_prime(n)")                  # nothing runs: r["executed"] is False
    r = agent.generate("a function is_prime(n)", execute=True)    # asks for approval, then runs the tests
    r["passed"], r["output"], r["attempts"]

Running generated code is a HIGH-danger action. With ``execute=True`` each run is a ``run_generated_tests`` tool
call through the agent's :class:`~kaizen_lab.tools.ExecutionContext` and control protocol, exactly like a model's
tool call: a notebook shows the approval card, a headless run follows ``KAIZEN_APPROVAL_POLICY`` (the default
policy denies), and the decision lands in ``agent.context.audit``. A denied run executes nothing and the result
says so. What the run is confined by — and what it is not (no OS-level jail, network not blocked) — is in
:mod:`kaizen_lab.codegen.runner`.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._sync import run_sync
from ..agents.base import BaseAgent
from ..agents.result import AgentResult
from ..exceptions import ConfigurationError, KaizenError
from ..signatures import InputField, OutputField, Signature
from ..tools.base import DangerLevel, Tool
from .runner import MODULE_NAME, TEST_FILE, run_generated_tests

if TYPE_CHECKING:
    from ..agents.live import LiveRun
    from ..tools.executor import ToolExecutor

__all__ = [
    "RUN_TOOL",
    "CodeGenerationAgent",
    "CodeGenerationConfig",
    "CodeGenerationSignature",
    "CodeGenResult",
    "CodeRepairSignature",
    "strip_fences",
]

RUN_TOOL = "run_generated_tests"
_PYTHON = frozenset({"python", "python3", "py"})


class CodeGenerationSignature(Signature):
    """Write working code for the task, a short explanation, and tests for that code. Put plain source code in
    the code and tests fields, without Markdown fences. For Python: the code is saved as solution.py and the tests as
    test_solution.py, so the tests import from it (from solution import ...) and are pytest-style test_ functions
    with plain assert statements. For other languages use the language's usual test framework."""

    task: str = InputField(desc="What the code must do")
    language: str = InputField(desc="Programming language of the code and tests", default="python")
    context: str = InputField(desc="Extra requirements or context, if any", default="")
    code: str = OutputField(desc="The complete source code, no Markdown fences")
    explanation: str = OutputField(desc="A short explanation of how the code works", max_length=1500)
    tests: str = OutputField(desc="Test code for the code above, no Markdown fences")


class CodeRepairSignature(Signature):
    """The code or its tests failed when the tests were run. Read the failing output, find the bug (in the code or in
    a wrong test), and return corrected code and tests that pass. Plain source code, no Markdown fences. For Python
    the code is solution.py and the tests are test_solution.py (from solution import ...), pytest-style."""

    task: str = InputField(desc="What the code must do")
    language: str = InputField(desc="Programming language", default="python")
    code: str = InputField(desc="The code that was run")
    tests: str = InputField(desc="The tests that were run")
    failure_output: str = InputField(desc="What running the tests printed")
    code_fixed: str = OutputField(desc="The corrected complete source code, no Markdown fences")
    explanation: str = OutputField(desc="What was wrong and how it was fixed", max_length=1500)
    tests_fixed: str = OutputField(desc="The tests (corrected if they were wrong), no Markdown fences")


@dataclass
class CodeGenerationConfig:
    llm_provider: str | None = None
    model: str | None = None
    temperature: float = 0.0
    max_tokens: int | None = 2000
    timeout: float | None = 120.0
    retry_attempts: int = 3
    max_turns: int = 0
    provider_config: dict[str, Any] = field(default_factory=dict)
    cache: str | None = None
    execution_timeout: float = 30.0  # seconds per test run; the process group is killed after it
    max_output_chars: int = 20_000  # test output kept (and sent back to the model for a repair)
    repair: bool = True  # with execute=True: feed a failing run back to the model
    max_repairs: int = 1
    test_runner: str = "auto"  # "auto" (pytest for test_* functions, else a plain script), "pytest" or "python"


_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[^\n]*\n(.*?)^[ \t]*\1[ \t]*$", re.MULTILINE | re.DOTALL)


def strip_fences(text: str) -> str:
    """Source code without the Markdown fences models wrap it in: a fenced text gives its block(s), in order;
    prose around them is dropped. Text without fences comes back unchanged (bar surrounding blank lines)."""
    if not isinstance(text, str):
        return text
    blocks = [m.group(2) for m in _FENCE.finditer(text)]
    if blocks:
        return "\n".join(b.strip("\n") for b in blocks).strip("\n") + "\n"
    stripped = text.strip()
    if stripped.startswith("```"):  # an opening fence the model never closed (output cut at max_tokens)
        stripped = stripped.split("\n", 1)[1] if "\n" in stripped else ""
        stripped = stripped.rstrip("`").rstrip()
    return stripped.strip("\n") + "\n" if stripped.strip() else ""


class CodeGenResult(AgentResult):
    """An :class:`AgentResult` with ``code``, ``explanation``, ``tests``, ``language``, and what running them did:
    ``executed``, ``passed`` (None when not run), ``output``, ``returncode``, ``duration``, ``timed_out`` and
    ``attempts`` (one entry per run: code, tests, passed, output, ...). Shown in a notebook as highlighted code."""

    @classmethod
    def from_result(cls, result: AgentResult) -> CodeGenResult:
        new = cls.__new__(cls)
        dict.update(new, result)
        new.__dict__.update(result.__dict__)
        return new

    def _repr_html_(self) -> str:
        language = str(self.get("language") or "python")
        code = _highlight(str(self.get("code") or ""), language)
        tests = _highlight(str(self.get("tests") or ""), language)
        explanation = html.escape(str(self.get("explanation") or ""))
        if not self.get("executed"):
            badge = _badge("not executed", "#6b7280")
            run = ""
            if self.get("output"):  # e.g. the approval was denied
                run = _details("why", str(self["output"]))
        else:
            passed = bool(self.get("passed"))
            label = "passed" if passed else ("timed out" if self.get("timed_out") else "failed")
            badge = _badge(label, "#15803d" if passed else "#b91c1c")
            tries = self.get("attempts") or []
            if len(tries) > 1:
                badge += f" <small>after {len(tries)} attempts</small>"
            duration = self.get("duration")
            timing = f" ({duration:.2f} s)" if isinstance(duration, int | float) else ""
            run = _details(f"test output{timing}", str(self.get("output") or ""))
        warn = "".join(f"<div style='color:#b45309'>⚠ {html.escape(w)}</div>" for w in self.warnings)
        usage = self.usage
        meta = (
            f"{html.escape(self.provider)}/{html.escape(self.model)} · {usage.prompt_tokens}+"
            f"{usage.completion_tokens} tokens · ${self.cost:.6f} · {self.latency:.2f} s"
        )
        return (
            f"<div class='kaizen-result kaizen-codegen'><div>{badge}</div>"
            f"<div><b>code</b> <small>({html.escape(language)})</small>{code}</div>"
            f"<p>{explanation}</p>"
            f"<details><summary><b>tests</b></summary>{tests}</details>{run}{warn}"
            f"<div style='color:#6b7280;font-size:smaller'>{meta}</div></div>"
        )


def _badge(text: str, colour: str) -> str:
    return (
        f"<span style='background:{colour};color:white;border-radius:4px;padding:1px 6px;"
        f"font-size:smaller'>{html.escape(text)}</span>"
    )


def _details(summary: str, text: str) -> str:
    return (
        f"<details><summary>{html.escape(summary)}</summary>"
        f"<pre style='white-space:pre-wrap'>{html.escape(text)}</pre></details>"
    )


def _highlight(code: str, language: str) -> str:
    """Highlighted HTML (pygments, inline styles) or escaped plain text when pygments is missing."""
    try:
        from pygments import highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import get_lexer_by_name
        from pygments.util import ClassNotFound
    except ImportError:
        return f"<pre>{html.escape(code)}</pre>"
    try:
        lexer = get_lexer_by_name(language.lower())
    except ClassNotFound:
        return f"<pre>{html.escape(code)}</pre>"
    return highlight(code, lexer, HtmlFormatter(noclasses=True, nobackground=True))


class CodeGenerationAgent(BaseAgent):
    """``agent.generate("...")`` → ``r["code"]``, ``r["explanation"]``, ``r["tests"]``; ``execute=True`` also runs
    the tests (after approval) and gives ``r["passed"]``, ``r["output"]`` and ``r["attempts"]``."""

    default_signature = CodeGenerationSignature
    description = "Writes code with tests, and can run the tests and repair failing code."

    def __init__(self, config: Any = None, **kw: Any) -> None:
        super().__init__(config if config is not None else CodeGenerationConfig(), **kw)
        raw = self.raw_config
        self.execution_timeout = float(getattr(raw, "execution_timeout", 30.0))
        self.max_output_chars = int(getattr(raw, "max_output_chars", 20_000))
        self.repair = bool(getattr(raw, "repair", True))
        self.max_repairs = int(getattr(raw, "max_repairs", 1))
        self.test_runner = str(getattr(raw, "test_runner", "auto"))
        self._repairer: BaseAgent | None = None

    # -- public API -----------------------------------------------------------------------------------------------
    def generate(
        self,
        task: str,
        language: str = "python",
        *,
        execute: bool = False,
        repair: bool | None = None,
        max_repairs: int | None = None,
        context: str = "",
        session_id: str | None = None,
    ) -> CodeGenResult | LiveRun:
        """Generate code and tests; with ``execute=True`` run the tests (see :meth:`agenerate`).

        In a notebook, a run that must wait for an approval card starts as a :class:`LiveRun` (the card and then the
        result appear in the cell), as :meth:`BaseAgent.run` does.
        """
        coro = self.agenerate(
            task,
            language,
            execute=execute,
            repair=repair,
            max_repairs=max_repairs,
            context=context,
            session_id=session_id,
        )
        if execute and self._must_wait_for_a_click():
            from ..agents.live import LiveRun

            return LiveRun.start(self, coro)
        return run_sync(coro, self._on_ctrl_c)

    async def agenerate(
        self,
        task: str,
        language: str = "python",
        *,
        execute: bool = False,
        repair: bool | None = None,
        max_repairs: int | None = None,
        context: str = "",
        session_id: str | None = None,
    ) -> CodeGenResult:
        """Generated code never runs unless ``execute=True``. Then each run (the first, and one per repair) is a
        HIGH-danger ``run_generated_tests`` call that needs approval; a failing run goes back to the model with the
        code, tests and output for up to ``max_repairs`` repairs (``repair=False`` for none)."""
        repair = self.repair if repair is None else repair
        max_repairs = self.max_repairs if max_repairs is None else max_repairs
        if execute and language.strip().lower() not in _PYTHON:
            raise ConfigurationError(
                f"Only Python code can be executed, not {language!r}: call generate(..., execute=False) to get the "
                f"{language} code and tests without running them, or use language='python'."
            )
        if max_repairs < 0:
            raise ConfigurationError(f"max_repairs must be 0 or more, got {max_repairs!r}.")
        first = await self.arun(session_id=session_id, task=task, language=language, context=context)
        result = first if isinstance(first, CodeGenResult) else CodeGenResult.from_result(first)
        result.update(
            language=language, executed=False, passed=None, output="", returncode=None, duration=0.0, timed_out=False
        )
        result["attempts"] = []
        if not execute:
            result["output"] = "Not executed: the generated code was not run (pass execute=True to run its tests)."
            return result
        executor = self._run_executor()
        repairs = 0
        while True:
            ran = await self._execute(executor, result)
            if not ran or result["passed"] or not repair or repairs >= max_repairs:
                return result
            repairs += 1
            await self._repair(result, task, language)

    # -- internals ------------------------------------------------------------------------------------------------
    def run_tool(self) -> Tool:
        """The HIGH-danger tool each test run is (what approval cards, policies and permission rules see)."""
        timeout, limit, runner = self.execution_timeout, self.max_output_chars, self.test_runner

        def run_generated_tests_tool(code: str, tests: str) -> dict[str, Any]:
            """Run model-generated Python code against its generated tests in a temporary folder, in a subprocess
            with a time limit, a scrubbed environment and capped output. Not an OS-level sandbox.

            Args:
                code: The code, saved as solution.py.
                tests: The tests, saved as test_solution.py.
            """
            outcome = run_generated_tests(
                code,
                tests,
                timeout=timeout,
                max_output_chars=limit,
                runner=runner,  # type: ignore[arg-type]  # checked by run_generated_tests
            )
            return outcome.to_dict()

        return Tool.from_function(
            run_generated_tests_tool,
            name=RUN_TOOL,
            danger=DangerLevel.HIGH,
            category="system",
            preview=_preview,
        )

    def _run_executor(self) -> ToolExecutor:
        from ..tools.executor import ToolExecutor
        from ..tools.registry import ToolRegistry

        registry = ToolRegistry()
        registry.register(self.run_tool())
        return ToolExecutor(registry, self.context, self.control, hooks=self.hooks, agent_id=self.agent_id)

    def _must_wait_for_a_click(self) -> bool:
        """True in a notebook cell whose run would ask a person (the approval card cannot arrive while it blocks)."""
        if not self.control.interactive:
            return False
        if self.context.can_use_tool(RUN_TOOL, DangerLevel.HIGH).permission.value != "ask":
            return False
        from ..agents.live import on_kernel_loop
        from ..control.defaults import in_notebook_kernel

        return in_notebook_kernel() and on_kernel_loop()

    async def _execute(self, executor: ToolExecutor, result: CodeGenResult) -> bool:
        """One approved run of the current code and tests, recorded on ``result``; False when it was not run."""
        code, tests = str(result.get("code") or ""), str(result.get("tests") or "")
        call = await executor.execute(RUN_TOOL, {"code": code, "tests": tests})
        attempt: dict[str, Any] = {"code": code, "tests": tests}
        if not call.success:
            if call.approved and not call.planned:  # approved, but the runner itself broke (not the tests)
                raise KaizenError(f"The generated tests could not be run: {call.error}")
            why = call.observation()
            result.update(executed=False, passed=None, output=f"Not executed: {why}")
            result.warnings.append(f"The generated code was not run: {why}")
            attempt.update(executed=False, passed=None, output=result["output"])
            result["attempts"].append(attempt)
            return False
        outcome = call.result
        result.update(
            executed=True,
            passed=bool(outcome["passed"]),
            output=outcome["output"],
            returncode=outcome["returncode"],
            duration=outcome["duration"],
            timed_out=outcome["timed_out"],
        )
        attempt.update(executed=True, **{k: outcome[k] for k in ("passed", "output", "returncode", "timed_out")})
        result["attempts"].append(attempt)
        return True

    async def _repair(self, result: CodeGenResult, task: str, language: str) -> None:
        """Ask for corrected code and tests given the failing run; the result takes them (and the call's usage)."""
        if self._repairer is None:
            self._repairer = self.with_signature(CodeRepairSignature, name=f"{self.name}.repair")
        fixed = await self._repairer.arun(
            task=task,
            language=language,
            code=result["code"],
            tests=result["tests"],
            failure_output=result["output"],
        )
        result.update(
            code=strip_fences(fixed["code_fixed"]) or result["code"],  # an empty field keeps what was there
            tests=strip_fences(fixed["tests_fixed"]) or result["tests"],
            explanation=fixed["explanation"] or result["explanation"],
        )
        result.completions = [*result.completions, *fixed.completions]
        result.latency += fixed.latency
        result.warnings.extend(fixed.warnings)

    def postprocess(self, result: AgentResult) -> AgentResult:
        out = CodeGenResult.from_result(result)
        for key in ("code", "tests"):
            if isinstance(out.get(key), str):
                out[key] = strip_fences(out[key])
        return out


def _preview(args: dict[str, Any]) -> str:
    """What the approval card shows: the code and tests that would run."""
    return (
        f"# {MODULE_NAME}.py\n{args.get('code', '')}\n\n# {TEST_FILE} (run with a time limit, secrets scrubbed from "
        f"the environment; not an OS-level sandbox)\n{args.get('tests', '')}"
    )
