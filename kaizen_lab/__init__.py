"""Kaizen Lab: signature-based LLM agents, Jupyter-native, offline by default.

    from kaizen_lab import SimpleQAAgent, QAConfig
    SimpleQAAgent(QAConfig()).ask("What is the capital of France?")

Importing this package loads no heavy library (litellm, llama.cpp, pandas, IPython, ...): each is imported
where it is first used.
"""

from .agents import (
    AgentConfig,
    AgentResult,
    BaseAgent,
    ChainOfThoughtAgent,
    ChainOfThoughtConfig,
    ChainOfThoughtSignature,
    LiveRun,
    MultiCycleStrategy,
    QAConfig,
    QASignature,
    ReActAgent,
    ReActConfig,
    ReActSignature,
    ReActStrategy,
    RunPending,
    SimpleQAAgent,
    SingleShotStrategy,
    Strategy,
    Transcript,
)
from .control import (
    ControlProtocol,
    ControlRequest,
    ControlResponse,
    HeadlessPolicy,
    MemoryTransport,
    Transport,
)
from .exceptions import (
    AgentInterrupted,
    AudioError,
    BudgetExceededError,
    ConfigurationError,
    DocumentError,
    HookVetoError,
    KaizenError,
    MemoryStoreError,
    ModelRequestsForbidden,
    OutputParseError,
    PatternError,
    ProviderError,
    SandboxError,
    ToolDeniedError,
)
from .hooks import BaseHook, HookContext, HookEvent, HookManager, HookResult
from .interrupts import InterruptManager, InterruptMode, InterruptSource
from .llm import (
    LLM,
    Completion,
    FunctionProvider,
    MockProvider,
    Provider,
    ResponseCache,
    Usage,
    allow_model_requests,
    default_provider,
    detect_providers,
    stream_to,
)
from .memory import BufferMemory
from .signatures import InputField, OutputField, Signature
from .structured import create_structured_output_config
from .tools import (
    DangerLevel,
    ExecutionContext,
    PermissionMode,
    PermissionRule,
    PermissionType,
    Tool,
    ToolRegistry,
    ToolResult,
    tool,
)
from .usage import UsageLedger, global_usage

__version__ = "0.1.0"


# Loaded when first named, so `import kaizen_lab` stays light (no hashlib/sqlite/asyncio at import).
_LAZY = {
    **dict.fromkeys(
        ["AuditHook", "CostTrackingHook", "LoggingHook", "MetricsHook", "PerformanceProfilerHook", "TracingHook"],
        "kaizen_lab.hooks",
    ),
    **dict.fromkeys(["AgentState", "FilesystemStorage", "SQLiteStorage", "StateManager"], "kaizen_lab.state"),
    # memory stores; their storages are kaizen_lab.memory.SQLiteStorage/PostgresStorage (SQLiteStorage above is
    # the checkpoint store)
    **dict.fromkeys(
        [
            "ErrorCorrection",
            "LongTermMemory",
            "MemoryEntry",
            "MemoryStore",
            "PatternRecognition",
            "PersistentBufferMemory",
            "PreferenceLearning",
            "SemanticMemory",
            "ShortTermMemory",
        ],
        "kaizen_lab.memory",
    ),
    **dict.fromkeys(
        [
            "DocumentExtractionAgent",
            "DocumentExtractionConfig",
            "LocalEmbedder",
            "RAGConfig",
            "RAGResearchAgent",
            "VectorStore",
            "extract_document",
        ],
        "kaizen_lab.rag",
    ),
    **dict.fromkeys(["CodeGenerationAgent", "CodeGenerationConfig"], "kaizen_lab.codegen"),
    **dict.fromkeys(["VisionAgent", "VisionAgentConfig"], "kaizen_lab.vision"),
    **dict.fromkeys(["TranscriptionAgent", "TranscriptionAgentConfig", "TranscriptionResult"], "kaizen_lab.audio"),
    **dict.fromkeys(
        [
            "CapabilityMatcher",
            "ConsensusPattern",
            "DebatePattern",
            "HandoffPattern",
            "PatternBudget",
            "PatternResult",
            "SequentialPattern",
            "SharedMemoryPool",
            "SupervisorAgent",
            "SupervisorWorkerPattern",
        ],
        "kaizen_lab.orchestration",
    ),
    **dict.fromkeys(
        [
            "AccumulationStrategy",
            "AlwaysTrigger",
            "ConditionTrigger",
            "IntentTrigger",
            "Journey",
            "JourneyConfig",
            "JourneyResponse",
            "Pathway",
            "ReturnToPrevious",
            "ReturnToSpecific",
            "Transition",
        ],
        "kaizen_lab.journey",
    ),
}


__all__ = [
    # signatures
    "InputField",
    "OutputField",
    "Signature",
    "create_structured_output_config",
    # agents
    "AgentConfig",
    "AgentResult",
    "BaseAgent",
    "ChainOfThoughtAgent",
    "ChainOfThoughtConfig",
    "ChainOfThoughtSignature",
    "MultiCycleStrategy",
    "LiveRun",
    "QAConfig",
    "QASignature",
    "ReActAgent",
    "ReActConfig",
    "ReActSignature",
    "ReActStrategy",
    "RunPending",
    "SimpleQAAgent",
    "SingleShotStrategy",
    "Strategy",
    "Transcript",
    # tools, permissions and approvals
    "DangerLevel",
    "ExecutionContext",
    "PermissionMode",
    "PermissionRule",
    "PermissionType",
    "Tool",
    "ToolRegistry",
    "ToolResult",
    "tool",
    "ControlProtocol",
    "ControlRequest",
    "ControlResponse",
    "HeadlessPolicy",
    "MemoryTransport",
    "Transport",
    # models
    "LLM",
    "Completion",
    "FunctionProvider",
    "MockProvider",
    "Provider",
    "ResponseCache",
    "Usage",
    "allow_model_requests",
    "default_provider",
    "detect_providers",
    "stream_to",
    # memory and accounting
    "BufferMemory",
    "UsageLedger",
    "global_usage",
    # lifecycle: hooks, interrupts, checkpoints
    "BaseHook",
    "HookContext",
    "HookEvent",
    "HookManager",
    "HookResult",
    "InterruptManager",
    "InterruptMode",
    "InterruptSource",
    # errors
    "AgentInterrupted",
    "AudioError",
    "DocumentError",
    "HookVetoError",
    "MemoryStoreError",
    "PatternError",
    "BudgetExceededError",
    "ConfigurationError",
    "KaizenError",
    "ModelRequestsForbidden",
    "OutputParseError",
    "ProviderError",
    "SandboxError",
    "ToolDeniedError",
    # loaded when first used (see _LAZY below)
    *_LAZY,
]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load_ipython_extension(ipython):
    """``%load_ext kaizen_lab``: hand over to the magics distribution, imported only now."""
    try:
        import kaizen_lab_magics
    except ImportError as e:
        raise ImportError('The notebook magics are not installed; run `pip install "kaizen-lab[jupyter]"`.') from e
    kaizen_lab_magics.load_ipython_extension(ipython)


def unload_ipython_extension(ipython):
    import kaizen_lab_magics

    kaizen_lab_magics.unload_ipython_extension(ipython)


def __dir__() -> list[str]:  # lazy names too: tab completion and autodoc list them
    return sorted(set(globals()) | set(__all__))
