from .chain_of_thought import ChainOfThoughtAgent, ChainOfThoughtConfig, ChainOfThoughtSignature
from .simple_qa import QAConfig, QASignature, SimpleQAAgent

__all__ = [
    "ChainOfThoughtAgent",
    "ChainOfThoughtConfig",
    "ChainOfThoughtSignature",
    "QAConfig",
    "QASignature",
    "SimpleQAAgent",
]
