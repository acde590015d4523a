from .chain_of_thought import ChainOfThoughtAgent, ChainOfThoughtConfig, ChainOfThoughtSignature
from .react import ReActAgent, ReActConfig, ReActSignature, ReActStrategy
from .simple_qa import QAConfig, QASignature, SimpleQAAgent

__all__ = [
    "ChainOfThoughtAgent",
    "ChainOfThoughtConfig",
    "ChainOfThoughtSignature",
    "QAConfig",
    "QASignature",
    "ReActAgent",
    "ReActConfig",
    "ReActSignature",
    "ReActStrategy",
    "SimpleQAAgent",
]
