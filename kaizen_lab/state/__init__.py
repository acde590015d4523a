"""Agent state and checkpoints: save a run as JSON, resume it later, fork it, keep the newest few."""

from .manager import StateManager
from .state import SCHEMA_VERSION, STATUSES, AgentState, Status, new_checkpoint_id
from .storage import (
    CheckpointCorruptError,
    CheckpointError,
    CheckpointInfo,
    CheckpointNotFoundError,
    CheckpointStorage,
    Compression,
    FilesystemStorage,
    SQLiteStorage,
)

__all__ = [
    "SCHEMA_VERSION",
    "STATUSES",
    "AgentState",
    "CheckpointCorruptError",
    "CheckpointError",
    "CheckpointInfo",
    "CheckpointNotFoundError",
    "CheckpointStorage",
    "Compression",
    "FilesystemStorage",
    "SQLiteStorage",
    "StateManager",
    "Status",
    "new_checkpoint_id",
]
