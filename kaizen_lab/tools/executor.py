"""Run tool calls under an agent's permissions: decide, ask when needed, execute, charge, record.

Failures come back as :class:`ToolResult` data (the model reads them as observations) — a bad argument, a denial,
a sandbox refusal or a crash in the tool never ends the run. Two things do: an exhausted budget
(:class:`BudgetExceededError`) and cancellation.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .._secrets import redact, redact_data
from ..exceptions import BudgetExceededError, SandboxError
from ..hooks.events import HookEvent
from .base import Tool, ToolResult
from .permissions import AuditEntry, ExecutionContext, PermissionType
from .registry import ToolRegistry

if TYPE_CHECKING:
    from ..control.protocol import ControlProtocol
    from ..hooks.manager import HookManager

__all__ = ["ToolExecutor"]

ToolCallSpec = Mapping[str, Any] | tuple[str, Mapping[str, Any]]


class ToolExecutor:
    def __init__(
        self,
        registry: ToolRegistry,
        context: ExecutionContext,
        control: ControlProtocol,
        *,
        hooks: HookManager | None = None,
        agent_id: str = "",
    ) -> None:
        self.registry = registry
        self.context = context
        self.control = control
        self.hooks = hooks
        self.agent_id = agent_id

    async def execute(
        self, name: str, params: Mapping[str, Any] | None = None, *, step: int | None = None
    ) -> ToolResult:
        if not isinstance(params, Mapping | None):  # e.g. a model's tool call whose arguments were a JSON list
            why = f"The arguments of {name} must be a JSON object, not {type(params).__name__}."
            return self._refused(name, {"arguments": params}, "validation", why, step)
        params = dict(params or {})
        tool = self.registry.get(name)
        if tool is None:
            available = ", ".join(self.registry.names) or "none"
            return self._refused(name, params, "unknown", f"There is no tool {name!r}; available: {available}.", step)
        try:
            args = tool.validate(params)
        except ValueError as e:
            return self._refused(name, params, "validation", f"{e}. Check the tool's parameters.", step, tool)
        permit = await self._permit(tool, args, step)
        if isinstance(permit, ToolResult):
            return permit
        decided_by, reason = permit
        hooked = await self._hook(HookEvent.PRE_TOOL_USE, tool=tool.name, params=args, danger=tool.danger.name)
        if isinstance(hooked, str):
            return self._refused(name, args, hooked, f"Blocked by {hooked}.", step, tool)
        if hooked.get("params", args) is not args:  # a hook changed the arguments: they are checked again
            try:
                args = tool.validate(hooked["params"])
            except ValueError as e:
                return self._refused(name, args, "hook", f"A hook changed the arguments badly: {e}", step, tool)
        self.context.check_budget(tool.cost, tool.name)
        result = self._finish(await self._run(tool, args, decided_by, reason, step), tool)
        await self._hook(
            HookEvent.POST_TOOL_USE, tool=tool.name, params=result.params, danger=tool.danger.name, result=result
        )
        return result

    async def _permit(self, tool: Tool, args: dict[str, Any], step: int | None) -> ToolResult | tuple[str, str]:
        """Permissions, PERMISSION_CHECK hooks and, when needed, the approval: a refusal, or (who, why) to run."""
        hooked = await self._hook(HookEvent.PRE_PERMISSION_CHECK, tool=tool.name, params=args, danger=tool.danger.name)
        if isinstance(hooked, str):
            return self._refused(tool.name, args, hooked, f"Denied by {hooked}.", step, tool)
        decision = self.context.can_use_tool(tool)
        await self._hook(HookEvent.POST_PERMISSION_CHECK, tool=tool.name, params=args, decision=decision)
        if decision.source == "mode:plan":
            planned = ToolResult(
                tool.name,
                args,
                success=False,
                approved=False,
                decided_by="mode:plan",
                reason=decision.reason,
                step=step,
                planned=True,
            )
            return self._finish(planned, tool, "planned")
        if decision.permission is PermissionType.DENY:
            return self._refused(tool.name, args, decision.source, f"Denied: {decision.reason}.", step, tool)
        if decision.permission is PermissionType.ALLOW:
            return decision.source, decision.reason
        return await self._ask(tool, args, decision.reason, step)

    async def _ask(self, tool: Tool, args: dict[str, Any], why: str, step: int | None) -> ToolResult | tuple[str, str]:
        try:
            approval = await self.control.request_approval(
                tool.name,
                redact_data(args),
                danger=tool.danger.name,
                category=tool.category,
                reason=why,
                preview=_preview(tool, args),
            )
        except Exception as e:  # the approver itself failed (a closed stdout, a port in use): deny, say why
            problem = f"Not approved: the approval request could not be shown ({type(e).__name__}: {redact(str(e))})."
            return self._refused(tool.name, args, "error", problem, step, tool)
        if not approval.approved:
            who = "no answer in time" if approval.timed_out else f"denied by {approval.decided_by}"
            problem = f"Not approved ({who}). {approval.reason}".strip()
            return self._refused(tool.name, args, approval.decided_by, problem, step, tool)
        if approval.always:
            self.context.allow_for_session(tool.name)
        return approval.decided_by, approval.reason or why

    async def _hook(self, event: HookEvent, **data: Any) -> dict[str, Any] | str:
        """Trigger ``event``; a veto comes back as ``"hook:<name> (reason)"``, otherwise the (possibly changed) data."""
        if self.hooks is None or not self.hooks.active(event):
            return data
        dispatch = await self.hooks.trigger(event, self.agent_id, data)
        blocker = dispatch.blocked_by
        if blocker is not None and event.vetoable:
            return f"hook:{blocker.hook}" + (f" ({blocker.reason})" if blocker.reason else "")
        return dispatch.data

    async def _run(
        self, tool: Tool, args: dict[str, Any], decided_by: str, reason: str, step: int | None
    ) -> ToolResult:
        started = time.perf_counter()
        result = ToolResult(
            tool.name, args, success=False, approved=True, decided_by=decided_by, reason=reason, step=step
        )
        try:
            # Tool output reaches the model, the transcript and the saved notebook: keys in it are masked.
            result.result = redact_data(await tool.call_validated(args))  # validated once, in execute()
            result.success = True
        except BudgetExceededError:
            raise
        except SandboxError as e:
            result.error = str(e)
        except Exception as e:  # the tool's own failure is the model's observation, not a crash of the run
            result.error = f"{type(e).__name__}: {redact(str(e))}"
        result.duration = time.perf_counter() - started
        return result

    def _refused(
        self, name: str, params: dict[str, Any], decided_by: str, error: str, step: int | None, tool: Tool | None = None
    ) -> ToolResult:
        result = ToolResult(
            name, params, success=False, approved=False, error=error, decided_by=decided_by, reason=error, step=step
        )
        return self._finish(result, tool, "denied")

    def _finish(self, result: ToolResult, tool: Tool | None, outcome: str | None = None) -> ToolResult:
        result.params = redact_data(result.params)  # the record is shown in transcripts and notebooks
        cost = tool.cost if (tool is not None and result.success) else 0.0
        self.context.record(
            AuditEntry(
                tool=result.tool,
                params=result.params,
                danger=tool.danger.name if tool is not None else "",
                outcome=outcome or ("executed" if result.success else "failed"),
                decided_by=result.decided_by,
                reason=result.reason if result.success or not result.approved else (result.error or ""),
                cost=cost,
            )
        )
        if result.success:
            self.context.record_tool_usage(result.tool, cost)  # may raise BudgetExceededError: the run stops
        return result

    async def execute_chain(self, calls: Iterable[ToolCallSpec]) -> list[ToolResult]:
        """Run calls in order; stop at the first denial or failure (its ``step`` says which)."""
        results: list[ToolResult] = []
        for step, call in enumerate(calls, start=1):
            name, params = _unpack(call)
            result = await self.execute(name, params, step=step)
            results.append(result)
            if not (result.success or result.planned):
                break
        return results


def _unpack(call: ToolCallSpec) -> tuple[str, Mapping[str, Any]]:
    if isinstance(call, tuple):
        return call[0], call[1]
    name = call.get("tool") or call.get("name")
    params = call.get("params", call.get("parameters", call.get("arguments", {})))
    if not isinstance(name, str):
        raise ValueError(f"A chain step needs a tool name: {{'tool': 'read_file', 'params': {{...}}}}; got {call!r}.")
    return name, params


def _preview(tool: Tool, args: dict[str, Any]) -> str | None:
    if tool.preview is None:
        return None
    try:
        text = tool.preview(args)
    except Exception as e:  # a preview is a courtesy; it must not block the approval
        return f"(no preview: {e})"
    return redact(text) if text else None
