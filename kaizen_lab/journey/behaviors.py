"""Return behaviours: where a detour pathway (an FAQ, a help desk) sends the user once it has answered."""

from __future__ import annotations

from dataclasses import dataclass

from ..exceptions import ConfigurationError

__all__ = ["ReturnBehavior", "ReturnToPrevious", "ReturnToSpecific"]


@dataclass(frozen=True)
class ReturnBehavior:
    """Base class. A pathway with a return behaviour is a *detour*: entering it remembers where the user was.

    ``preserve_context=False`` drops what the detour accumulated when it returns (the context goes back to what it
    was when the detour began).
    """

    preserve_context: bool = True


@dataclass(frozen=True)
class ReturnToPrevious(ReturnBehavior):
    """After the detour completes, go back to the pathway the user came from.

    ``max_depth`` bounds how many nested detours are remembered; entering a detour deeper than that forgets the
    oldest origin.
    """

    max_depth: int = 5

    def __post_init__(self) -> None:
        if self.max_depth < 1:
            raise ConfigurationError(f"ReturnToPrevious(max_depth={self.max_depth}): max_depth must be at least 1.")


@dataclass(frozen=True, init=False)
class ReturnToSpecific(ReturnBehavior):
    """After the detour completes, go to ``target_pathway`` (``ReturnToSpecific("booking")``)."""

    target_pathway: str = ""

    def __init__(self, target_pathway: str, preserve_context: bool = True) -> None:
        if not isinstance(target_pathway, str) or not target_pathway:
            raise ConfigurationError("ReturnToSpecific needs the name of the pathway to go to, e.g. 'booking'.")
        object.__setattr__(self, "preserve_context", preserve_context)
        object.__setattr__(self, "target_pathway", target_pathway)

    @property
    def target(self) -> str:
        return self.target_pathway
