"""Code generation: code, explanation and tests from a task; optionally run the tests (with approval) and repair.

``CodeGenerationAgent().generate("a function fizzbuzz(n)", execute=True)`` writes the code and tests, asks for
approval, runs the tests in a subprocess and repairs once if they fail.
"""

from __future__ import annotations

from .agent import (
    RUN_TOOL,
    CodeGenerationAgent,
    CodeGenerationConfig,
    CodeGenerationSignature,
    CodeGenResult,
    CodeRepairSignature,
    strip_fences,
)
from .runner import RunOutcome, run_generated_tests

__all__ = [
    "RUN_TOOL",
    "CodeGenResult",
    "CodeGenerationAgent",
    "CodeGenerationConfig",
    "CodeGenerationSignature",
    "CodeRepairSignature",
    "RunOutcome",
    "run_generated_tests",
    "strip_fences",
]
