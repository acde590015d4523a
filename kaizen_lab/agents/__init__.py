"""Agents: BaseAgent, strategies and the specialised agents."""

from .base import BaseAgent
from .config import AgentConfig
from .live import LiveRun, RunPending
from .result import AgentResult
from .specialized import (
    ChainOfThoughtAgent,
    ChainOfThoughtConfig,
    ChainOfThoughtSignature,
    QAConfig,
    QASignature,
    ReActAgent,
    ReActConfig,
    ReActSignature,
    ReActStrategy,
    SimpleQAAgent,
)
from .strategies import MultiCycleStrategy, SingleShotStrategy, Strategy
from .transcript import Step, Transcript

__all__ = [
    "AgentConfig",
    "AgentResult",
    "BaseAgent",
    "ChainOfThoughtAgent",
    "ChainOfThoughtConfig",
    "ChainOfThoughtSignature",
    "MultiCycleStrategy",
    "QAConfig",
    "LiveRun",
    "QASignature",
    "ReActAgent",
    "ReActConfig",
    "ReActSignature",
    "ReActStrategy",
    "RunPending",
    "SimpleQAAgent",
    "SingleShotStrategy",
    "Step",
    "Strategy",
    "Transcript",
]
