"""Multi-agent patterns: supervisor-worker (semantic routing over A2A capability cards), consensus, debate,
sequential pipelines with typed hand-over, and handoff — each returning a PatternResult with a transcript.

    from kaizen_lab.orchestration import DebatePattern
    result = DebatePattern(pro, con, judge, rounds=3).debate("Remote work is better than office work")
    result["verdict"], result["confidence"], result.transcript.to_frame()
"""

from .capabilities import CapabilityMatcher, card_texts
from .consensus import ConsensusPattern
from .debate import DebatePattern
from .handoff import Handoff, HandoffPattern
from .pool import PoolAccess, SharedMemoryPool
from .runtime import PatternBudget, PatternRun, agent_inputs, main_text
from .sequential import SequentialPattern
from .supervisor import SupervisorAgent, SupervisorWorkerPattern
from .transcript import Contribution, PatternResult, PatternTranscript

__all__ = [
    "CapabilityMatcher",
    "ConsensusPattern",
    "Contribution",
    "DebatePattern",
    "Handoff",
    "HandoffPattern",
    "PatternBudget",
    "PatternResult",
    "PatternRun",
    "PatternTranscript",
    "PoolAccess",
    "SequentialPattern",
    "SharedMemoryPool",
    "SupervisorAgent",
    "SupervisorWorkerPattern",
    "agent_inputs",
    "card_texts",
    "main_text",
]
