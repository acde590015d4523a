"""Headless answers for unattended runs (nbval, papermill, CI): nobody is there to click, so a policy decides.

``KAIZEN_APPROVAL_POLICY`` selects one without touching code:
``deny`` (approve only SAFE), ``approve:low`` / ``approve:medium`` / ``approve:all``, or ``script:<file.json>``
with ``{"approvals": {"write_file": true, ...}, "answers": {"question": "answer"}, "approve_up_to": "SAFE"}``.
Every decision says it came from the policy, so a saved notebook shows which calls nobody looked at.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..exceptions import ConfigurationError
from ..tools.base import DangerLevel
from .messages import ControlRequest, ControlResponse
from .transport import Transport

__all__ = ["HeadlessPolicy", "POLICY_ENV"]

POLICY_ENV = "KAIZEN_APPROVAL_POLICY"
_SCRIPT_FORM = '{"approvals": {"write_file": true}, "answers": {"question": "answer"}, "approve_up_to": "SAFE"}'


class HeadlessPolicy(Transport):
    """Answers at once: approvals by danger level (or a per-tool script), questions from ``answers`` or defaults."""

    interactive = False

    def __init__(
        self,
        approve_up_to: DangerLevel | str | int = DangerLevel.SAFE,
        *,
        approvals: dict[str, bool] | None = None,
        answers: dict[str, str] | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__()
        self.approve_up_to = DangerLevel.coerce(approve_up_to)
        self.approvals = dict(approvals or {})
        self.answers = dict(answers or {})
        self.name = name or (
            "deny" if self.approve_up_to == DangerLevel.SAFE else f"approve-up-to-{self.approve_up_to.name.lower()}"
        )
        self.decided: list[tuple[ControlRequest, ControlResponse]] = []
        self.progress: list[ControlRequest] = []

    async def send(self, request: ControlRequest) -> None:
        if request.kind == "progress":
            self.progress.append(request)
            return
        response = self._approve(request) if request.kind == "approval" else self._answer(request)
        self.decided.append((request, response))
        self.deliver(response)

    def _approve(self, request: ControlRequest) -> ControlResponse:
        action = str(request.payload.get("action", ""))
        if action in self.approvals:
            approved = bool(self.approvals[action])
            reason = f"scripted {'approval' if approved else 'denial'} for {action}"
        else:
            try:
                danger = DangerLevel.coerce(request.payload.get("danger", DangerLevel.HIGH))
            except ConfigurationError:  # an unknown level must not crash the run; treat it as the worst
                danger = DangerLevel.HIGH
            approved = danger <= self.approve_up_to
            verdict = "approved" if approved else "denied"
            reason = f"{verdict}: {danger.name} {'≤' if approved else '>'} {self.approve_up_to.name} (headless policy)"
        return ControlResponse(request.id, {"approved": approved}, decided_by=f"policy:{self.name}", reason=reason)

    def _answer(self, request: ControlRequest) -> ControlResponse:
        question = str(request.payload.get("question", ""))
        options = request.payload.get("options") or []
        if question in self.answers:
            answer, reason = self.answers[question], "scripted answer"
        elif request.payload.get("default") is not None:
            answer, reason = str(request.payload["default"]), "the question's default (headless policy)"
        elif options:
            answer, reason = str(options[0]), "the first option (headless policy)"
        else:
            answer, reason = "", "no answer available (headless policy)"
        return ControlResponse(request.id, {"answer": answer}, decided_by=f"policy:{self.name}", reason=reason)

    @classmethod
    def from_env(cls, value: str | None = None) -> HeadlessPolicy | None:
        """The policy named by ``KAIZEN_APPROVAL_POLICY`` (or ``value``); None when unset."""
        spec = (value if value is not None else os.environ.get(POLICY_ENV, "")).strip()
        if not spec:
            return None
        kind, _, arg = spec.partition(":")
        kind, level = kind.lower(), arg.strip().upper()
        if kind == "deny" and not arg:
            return cls(DangerLevel.SAFE, name="deny")
        if kind == "approve" and level in {"ALL", *DangerLevel.__members__}:  # bare "approve" is too easy a typo
            return cls(DangerLevel.HIGH if level == "ALL" else DangerLevel[level])
        if kind == "script" and arg:
            return cls._from_script(Path(arg).expanduser())
        raise ConfigurationError(
            f"{POLICY_ENV}={spec!r} is not a policy; use 'deny', 'approve:low', 'approve:medium', 'approve:all' "
            "or 'script:/path/to/policy.json'."
        )

    @classmethod
    def _from_script(cls, path: Path) -> HeadlessPolicy:
        try:
            data: Any = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise ConfigurationError(f"Cannot read the approval script {path}: {e}.") from e
        if not isinstance(data, dict):
            raise ConfigurationError(f"The approval script {path} must hold a JSON object: {_SCRIPT_FORM}.")
        approvals, answers = data.get("approvals") or {}, data.get("answers") or {}
        if not (isinstance(approvals, dict) and isinstance(answers, dict)):
            raise ConfigurationError(f"The approval script {path} must hold a JSON object: {_SCRIPT_FORM}.")
        if not all(isinstance(v, bool) for v in approvals.values()):  # bool("false") would approve
            raise ConfigurationError(f"The approvals in {path} must be true or false: {_SCRIPT_FORM}.")
        return cls(
            data.get("approve_up_to", DangerLevel.SAFE),
            approvals={str(k): v for k, v in approvals.items()},
            answers={str(k): str(v) for k, v in answers.items()},
            name=f"script:{path.name}",
        )

    def __repr__(self) -> str:
        return f"HeadlessPolicy({self.name!r})"
