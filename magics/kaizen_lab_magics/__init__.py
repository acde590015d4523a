"""IPython magics for Kaizen Lab; ``%load_ext kaizen_lab`` loads them.

%%agent -s "question -> answer, confidence: float" -o res
What is the capital of {country}?

%%kaizen qa
What is quantum computing?

%%signature Review
\"\"\"Classify a product review.\"\"\"
text: str = input("The review text")
sentiment: Literal["positive", "negative", "neutral"] = output("Sentiment")

%kaizen providers | use ollama/llama3.2 | usage | history 5 | cache on
"""

from __future__ import annotations

from typing import Any

__all__ = ["KaizenMagics", "load_ipython_extension", "unload_ipython_extension"]


def load_ipython_extension(ipython: Any) -> None:
    from .magics import KaizenMagics

    ipython.register_magics(KaizenMagics)


def unload_ipython_extension(ipython: Any) -> None:
    from .magics import KaizenMagics

    for kind in ("line", "cell"):
        for name in list(ipython.magics_manager.magics[kind]):
            owner = getattr(ipython.magics_manager.magics[kind][name], "__self__", None)
            if isinstance(owner, KaizenMagics):
                del ipython.magics_manager.magics[kind][name]


def __getattr__(name: str) -> Any:
    if name == "KaizenMagics":
        from .magics import KaizenMagics

        return KaizenMagics
    raise AttributeError(name)


def __dir__() -> list[str]:  # lazy names too: tab completion and autodoc list them
    return sorted(set(globals()) | set(__all__))
