"""Agents: BaseAgent, strategies and the specialised agents."""

from .base import BaseAgent
from .config import AgentConfig
from .result import AgentResult
from .specialized import (
    ChainOfThoughtAgent,
    ChainOfThoughtConfig,
    ChainOfThoughtSignature,
    QAConfig,
    QASignature,
    SimpleQAAgent,
)
from .strategies import MultiCycleStrategy, SingleShotStrategy, Strategy

__all__ = [
    "AgentConfig",
    "AgentResult",
    "BaseAgent",
    "ChainOfThoughtAgent",
    "ChainOfThoughtConfig",
    "ChainOfThoughtSignature",
    "MultiCycleStrategy",
    "QAConfig",
    "QASignature",
    "SimpleQAAgent",
    "SingleShotStrategy",
    "Strategy",
]
