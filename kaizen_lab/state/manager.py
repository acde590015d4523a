"""StateManager: when to checkpoint, how many to keep, and resuming or forking a run from one.

Each save writes a new snapshot: saving the same :class:`AgentState` again after more steps adds a checkpoint whose
parent is the previous one (so history is a chain, and forks make it a tree) instead of overwriting it. Storage I/O
runs in ``asyncio.to_thread``, so a notebook's event loop never waits on a disk; the state is copied (and checked
to be JSON) on the caller's thread first, so the run may go on changing it meanwhile.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

from ..exceptions import ConfigurationError
from ..hooks import HookEvent, HookManager
from .state import AgentState, new_checkpoint_id
from .storage import CheckpointInfo, CheckpointStorage

__all__ = ["StateManager"]

log = logging.getLogger("kaizen_lab.state")


class StateManager:
    """Checkpoint every ``checkpoint_frequency`` steps, keep the newest ``retention_count`` per agent (None: all).

    With ``hooks``, PRE_CHECKPOINT_SAVE may veto a save (``HookResult.block(reason)``) and POST_CHECKPOINT_SAVE
    reports ``{"checkpoint_id", "step", "status", "size_bytes"}``.
    """

    def __init__(
        self,
        storage: CheckpointStorage,
        checkpoint_frequency: int = 1,
        retention_count: int | None = 10,
        hooks: HookManager | None = None,
    ) -> None:
        if (
            isinstance(checkpoint_frequency, bool)
            or not isinstance(checkpoint_frequency, int)
            or checkpoint_frequency < 1
        ):
            raise ConfigurationError(f"checkpoint_frequency must be an int >= 1, got {checkpoint_frequency!r}")
        if retention_count is not None and (not isinstance(retention_count, int) or retention_count < 1):
            raise ConfigurationError(f"retention_count must be an int >= 1 or None (keep all), got {retention_count!r}")
        self.storage = storage
        self.checkpoint_frequency = checkpoint_frequency
        self.retention_count = retention_count
        self.hooks = hooks

    def should_save(self, state: AgentState, *, force: bool = False) -> bool:
        """Every ``checkpoint_frequency`` steps; always when forced or the run has ended (status not running)."""
        return force or state.status != "running" or state.step % self.checkpoint_frequency == 0

    async def save_checkpoint(self, state: AgentState, *, force: bool = False) -> str:
        """Write a snapshot of ``state``; returns its id, or "" when skipped (frequency) or vetoed by a hook.

        On success ``state.checkpoint_id`` / ``parent_checkpoint_id`` / ``created_at`` describe the new checkpoint.
        """
        if not self.should_save(state, force=force):
            return ""
        snapshot = _snapshot(state)
        if await self._vetoed(snapshot):
            return ""
        info = await _off_loop(self.storage.save, snapshot)
        state.checkpoint_id = snapshot.checkpoint_id
        state.parent_checkpoint_id = snapshot.parent_checkpoint_id
        state.created_at = snapshot.created_at
        state._persisted = True
        if self.retention_count is not None:
            await _off_loop(self._prune, state.agent_id, self.retention_count, info.checkpoint_id)
        if self.hooks is not None:
            data = _event_data(info.checkpoint_id, info.step, info.status, size_bytes=info.size_bytes)
            await self.hooks.trigger(HookEvent.POST_CHECKPOINT_SAVE, state.agent_id, data)
        return info.checkpoint_id

    async def load_checkpoint(self, checkpoint_id: str) -> AgentState:
        """The stored snapshot; saving it again (after changes) adds a child checkpoint rather than overwriting."""
        return await _off_loop(self.storage.load, checkpoint_id)

    async def resume_from_latest(self, agent_id: str) -> AgentState | None:
        """The agent's newest checkpoint, or None when it has none."""
        return await _off_loop(self.storage.latest, agent_id)

    async def fork_from_checkpoint(self, checkpoint_id: str, new_agent_id: str | None = None) -> AgentState:
        """A copy of a checkpoint with a new id whose parent is ``checkpoint_id``; not stored until you save it."""
        source = await self.load_checkpoint(checkpoint_id)
        return dataclasses.replace(
            source,
            agent_id=new_agent_id or source.agent_id,
            checkpoint_id=new_checkpoint_id(),
            parent_checkpoint_id=checkpoint_id,
            created_at=time.time(),
        )

    async def list_checkpoints(self, agent_id: str) -> list[CheckpointInfo]:
        """Newest first."""
        return await _off_loop(self.storage.list, agent_id)

    async def cleanup_old_checkpoints(self, agent_id: str, keep: int | None = None) -> int:
        """Delete all but the newest ``keep`` (default ``retention_count``; None keeps all); returns how many went."""
        keep = self.retention_count if keep is None else keep
        if keep is None:
            return 0
        if keep < 0:
            raise ConfigurationError(f"keep must be >= 0, got {keep}")
        return await _off_loop(self._prune, agent_id, keep, None)

    async def _vetoed(self, snapshot: AgentState) -> bool:
        """Ask PRE_CHECKPOINT_SAVE handlers; any ``HookResult.block(reason)`` cancels the save."""
        if self.hooks is None:
            return False
        parent = snapshot.parent_checkpoint_id
        data = _event_data(snapshot.checkpoint_id, snapshot.step, snapshot.status, parent_checkpoint_id=parent)
        vetoed = (await self.hooks.trigger(HookEvent.PRE_CHECKPOINT_SAVE, snapshot.agent_id, data)).blocked_by
        if vetoed is not None:
            log.info(
                "checkpoint of %s at step %d vetoed by %s: %s",
                snapshot.agent_id,
                snapshot.step,
                vetoed.hook,
                vetoed.reason,
            )
        return vetoed is not None

    def _prune(self, agent_id: str, keep: int, protect: str | None) -> int:
        # Interrupted checkpoints are kept: they are what a person will resume from, however many runs came since.
        doomed = [
            i.checkpoint_id
            for i in self.storage.list(agent_id)[keep:]
            if i.checkpoint_id != protect and i.status != "interrupted"
        ]
        return sum(self.storage.delete(checkpoint_id) for checkpoint_id in doomed)

    def __repr__(self) -> str:
        return (
            f"StateManager({self.storage!r}, checkpoint_frequency={self.checkpoint_frequency}, "
            f"retention_count={self.retention_count})"
        )


def _snapshot(state: AgentState) -> AgentState:
    """A deep copy to store: a fresh id (child of the last one) once the state's current id is already stored."""
    data = state.to_dict()  # on the caller's thread: validates JSON and copies before the worker thread reads it
    if state._persisted:
        data["checkpoint_id"], data["parent_checkpoint_id"] = new_checkpoint_id(), state.checkpoint_id
    data["created_at"] = time.time()
    return AgentState.from_dict(data)


def _event_data(checkpoint_id: str, step: int, status: str, **more: Any) -> dict[str, Any]:
    return {"checkpoint_id": checkpoint_id, "step": step, "status": status, **more}


async def _off_loop(fn: Any, *args: Any) -> Any:
    """Disk work in a worker thread (asyncio is imported here, not at ``import kaizen_lab``)."""
    import asyncio

    return await asyncio.to_thread(fn, *args)
