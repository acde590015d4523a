"""Every point in a run where hooks are called. Each one fires somewhere; a test enumerates them and proves it."""

from __future__ import annotations

import enum

__all__ = ["HookEvent"]


class HookEvent(str, enum.Enum):
    PRE_AGENT_LOOP = "pre_agent_loop"
    POST_AGENT_LOOP = "post_agent_loop"
    PRE_LLM_CALL = "pre_llm_call"  # can veto or change the request
    POST_LLM_CALL = "post_llm_call"
    PRE_TOOL_USE = "pre_tool_use"  # can veto or change the arguments
    POST_TOOL_USE = "post_tool_use"
    PRE_PERMISSION_CHECK = "pre_permission_check"  # can veto (deny)
    POST_PERMISSION_CHECK = "post_permission_check"
    PRE_CHECKPOINT_SAVE = "pre_checkpoint_save"
    POST_CHECKPOINT_SAVE = "post_checkpoint_save"
    PRE_INTERRUPT = "pre_interrupt"
    POST_INTERRUPT = "post_interrupt"
    PRE_MEMORY_SAVE = "pre_memory_save"
    POST_MEMORY_SAVE = "post_memory_save"
    PRE_MEMORY_LOAD = "pre_memory_load"
    POST_MEMORY_LOAD = "post_memory_load"
    PRE_SPECIALIST_INVOKE = "pre_specialist_invoke"  # an agent hands work to another agent
    POST_SPECIALIST_INVOKE = "post_specialist_invoke"
    # journeys
    JOURNEY_SESSION_START = "journey_session_start"
    JOURNEY_SESSION_RESTORE = "journey_session_restore"
    PRE_MESSAGE_PROCESS = "pre_message_process"
    POST_MESSAGE_PROCESS = "post_message_process"
    PRE_PATHWAY_EXECUTE = "pre_pathway_execute"
    POST_PATHWAY_EXECUTE = "post_pathway_execute"
    PATHWAY_TRANSITION = "pathway_transition"

    @property
    def vetoable(self) -> bool:
        """PRE events can block what is about to happen (a handler returns ``HookResult.block(reason)``)."""
        return self.value.startswith("pre_")
