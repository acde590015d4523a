"""A form for designing a Signature in the notebook: fields, instructions, live source and schema, and "Try it".

The form only holds view state; the class itself is built by ``_signature_source`` (no widgets there), so scripts
and tests can drive the builder through the same methods the buttons call.
"""

from __future__ import annotations

import ast
import html
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ipywidgets as w

from kaizen_lab import LLM, AgentResult, BaseAgent, ConfigurationError, KaizenError, Signature

from ._signature_source import (
    NO_DEFAULT,
    FieldDraft,
    build_signature,
    drafts_from_signature,
    make_draft,
    signature_code,
)

__all__ = ["SignatureBuilder"]

LITERAL, OTHER = "Literal[...]", "other…"
TYPE_CHOICES = ["str", "int", "float", "bool", "list[str]", "dict", LITERAL, OTHER]
_ERROR_STYLE = "color:#b91c1c"


@dataclass
class BuilderView:
    """The widgets, by role; tests and power users may set values and ``.click()`` buttons directly."""

    class_name: w.Text
    instructions: w.Textarea
    field_list: w.Select
    edit_button: w.Button
    remove_button: w.Button
    new_name: w.Text
    new_type: w.Dropdown
    new_type_text: w.Text
    new_kind: w.ToggleButtons
    new_desc: w.Text
    new_default: w.Text
    add_button: w.Button
    error: w.HTML
    code_view: w.HTML
    schema_view: w.HTML
    try_inputs: dict[str, w.Text]
    try_box: w.VBox
    try_button: w.Button
    try_output: w.HTML
    root: w.VBox


class SignatureBuilder:
    """Build a ``Signature`` with a form, see its source and output JSON schema live, and try it on one example.

    ``builder.signature`` is the class, ``builder.code`` its source; ``builder.insert_cell()`` (run from a cell)
    puts that source in a new cell below. ``llm`` (e.g. ``LLM(MockProvider())``) or ``agent_factory`` (signature ->
    agent) choose what "Try it" runs; by default a ``BaseAgent`` on the default provider. Form errors are shown
    inline; the scripting methods (``add_field``, ``remove_field``, ``set_instructions``, ``try_it``) raise them.
    """

    def __init__(
        self,
        signature: type[Signature] | Signature | str | None = None,
        *,
        llm: LLM | None = None,
        agent_factory: Callable[[type[Signature]], Any] | None = None,
    ) -> None:
        self._llm = llm
        self._agent_factory = agent_factory
        self._drafts: list[FieldDraft] = []
        self._editing: str | None = None
        self._action_error: str | None = None
        self._signature: type[Signature] | None = None
        self._build_error: ConfigurationError | None = None
        self.last_result: AgentResult | None = None
        name, instructions = "MySignature", ""
        if signature is not None:
            sig = Signature.coerce(signature)
            name, instructions, self._drafts = sig.__name__, sig.instructions, drafts_from_signature(sig)
        self.ui = self._make_view(name, instructions)
        self._refresh()

    # -- scripting API (the buttons call these) ------------------------------------------------------------------
    def add_field(
        self, name: str, type: str = "str", kind: str = "input", desc: str = "", default: Any = NO_DEFAULT
    ) -> None:
        """Add a field; ``type`` is a signature-string type (``"list[str]"``, ``"Literal['a', 'b']"``).

        Leave ``default`` out for a required input; ``default=None`` really means None.
        """
        self._put(make_draft(name, type, kind, desc, default), replacing=None)

    def remove_field(self, name: str) -> None:
        if name not in self.field_names:
            raise ConfigurationError(f"There is no field {name!r}; the fields are {self.field_names}.")
        self._drafts = [d for d in self._drafts if d.name != name]
        self._action_error = None
        self._refresh()

    def set_instructions(self, text: str) -> None:
        self.ui.instructions.value = text  # the observer refreshes

    def set_name(self, name: str) -> None:
        self.ui.class_name.value = name

    def try_it(self, **inputs: Any) -> AgentResult:
        """Run the current signature once on ``inputs`` and show the result under "Try it"."""
        signature = self.signature
        if self._agent_factory is not None:
            agent = self._agent_factory(signature)
        else:
            if self._llm is None:
                self._llm = LLM()  # the engine's default provider, made once
            agent = BaseAgent(signature=signature, llm=self._llm)
        result = agent.run(**inputs)
        self.last_result = result
        self.ui.try_output.value = result._repr_html_()
        return result

    def insert_cell(self) -> None:
        """Put :attr:`code` in a new cell below the running one (classic notebook and JupyterLab).

        Call it from a cell: the frontend applies ``set_next_input`` only to a cell's execute reply, which is why
        the form has no button for it (a click's message has no reply to carry it).
        """
        from IPython import get_ipython

        shell = get_ipython()
        if shell is None:
            raise RuntimeError("insert_cell() needs IPython or Jupyter; elsewhere, write builder.code to a file.")
        shell.set_next_input(self.code, replace=False)

    # -- state ----------------------------------------------------------------------------------------------------
    @property
    def signature(self) -> type[Signature]:
        """The class as the form stands; raises the ConfigurationError shown in the form if it is incomplete."""
        if self._build_error is not None:
            raise self._build_error
        assert self._signature is not None
        return self._signature

    @property
    def code(self) -> str:
        return signature_code(self.ui.class_name.value.strip(), self.ui.instructions.value, self._drafts)

    @property
    def field_names(self) -> list[str]:
        return [d.name for d in self._drafts]

    @property
    def error(self) -> str | None:
        """The message shown in the form: the last failed action, else why the signature is incomplete."""
        if self._action_error:
            return self._action_error
        return str(self._build_error) if self._build_error else None

    def display(self) -> SignatureBuilder:
        from IPython.display import display

        display(self)
        return self

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        data = dict(self.ui.root._repr_mimebundle_() or {})
        data["text/plain"] = repr(self)
        return data

    def __repr__(self) -> str:
        name = self.ui.class_name.value.strip()
        if self._build_error is not None:
            return f"<SignatureBuilder {name} (incomplete: {self._build_error})>"
        return f"<SignatureBuilder {name}: {self.signature.describe()}>"

    # -- model updates ---------------------------------------------------------------------------------------------
    def _put(self, draft: FieldDraft, *, replacing: str | None) -> None:
        if draft.name != replacing and draft.name in self.field_names:
            raise ConfigurationError(
                f"There is already a field {draft.name!r}; each field needs its own name (an output cannot share "
                "a name with an input). Remove or edit the existing one."
            )
        if replacing not in self.field_names:  # a new field (or the one being edited was removed meanwhile)
            self._drafts.append(draft)
        else:
            self._drafts = [draft if d.name == replacing else d for d in self._drafts]
        self._action_error = None
        self._refresh()

    def _refresh(self, *, fields_changed: bool = True) -> None:
        """Rebuild the class and the views derived from it; cheap enough (~ms) to run on each keystroke."""
        self._signature, self._build_error = None, None
        try:
            self._signature = build_signature(
                self.ui.class_name.value.strip(), self.ui.instructions.value, self._drafts
            )
            schema = json.dumps(self._signature.output_json_schema(), indent=2)
        except ConfigurationError as e:
            self._build_error, schema = e, ""
        self.ui.code_view.value = _pre(self.code)
        self.ui.schema_view.value = _pre(schema) if schema else "<i>No output fields yet.</i>"
        self._show_error()
        if fields_changed:
            self._sync_field_list()
            self._sync_try_inputs()

    def _show_error(self) -> None:
        message = self.error
        self.ui.error.value = f"<span style='{_ERROR_STYLE}'>{html.escape(message)}</span>" if message else ""

    # -- view ------------------------------------------------------------------------------------------------------
    def _make_view(self, name: str, instructions: str) -> BuilderView:
        # Few widgets, made once: every model is a comm, and an executed notebook stores each one's state.
        auto = w.Layout(width="auto")
        view = BuilderView(
            class_name=w.Text(value=name, description="Class", layout=w.Layout(width="320px")),
            instructions=w.Textarea(value=instructions, description="Instructions", layout=w.Layout(width="95%")),
            field_list=w.Select(options=[], description="Fields", layout=w.Layout(flex="1 1 auto")),
            edit_button=w.Button(description="Edit", icon="pencil", layout=auto),
            remove_button=w.Button(description="Remove", icon="trash", layout=auto),
            new_name=w.Text(placeholder="name", layout=w.Layout(width="130px")),
            new_type=w.Dropdown(options=TYPE_CHOICES, value="str", layout=w.Layout(width="120px")),
            new_type_text=w.Text(layout=w.Layout(width="170px", display="none")),
            new_kind=w.ToggleButtons(options=["input", "output"], value="input", style={"button_width": "64px"}),
            new_desc=w.Text(placeholder="description", layout=w.Layout(width="220px")),
            new_default=w.Text(placeholder="default (inputs)", layout=w.Layout(width="130px")),
            add_button=w.Button(description="Add", icon="plus", layout=auto),
            error=w.HTML(),
            code_view=w.HTML(),
            schema_view=w.HTML(),
            try_inputs={},
            try_box=w.VBox(),
            try_button=w.Button(description="Run", icon="play", layout=auto),
            try_output=w.HTML(),
            root=w.VBox(),
        )
        self._input_layout = w.Layout(width="95%")  # shared by the Try-it input boxes
        view.class_name.observe(self._guarded(lambda _change: self._refresh(fields_changed=False)), "value")
        view.instructions.observe(self._guarded(lambda _change: self._refresh(fields_changed=False)), "value")
        view.new_type.observe(lambda _change: self._sync_type_text(), "value")
        view.new_kind.observe(lambda change: setattr(view.new_default, "disabled", change["new"] == "output"), "value")
        view.add_button.on_click(self._guarded(lambda _button: self._add_from_form()))
        view.edit_button.on_click(self._guarded(lambda _button: self._load_into_form(self._selected())))
        view.remove_button.on_click(self._guarded(lambda _button: self.remove_field(self._selected().name)))
        view.try_button.on_click(lambda _button: self._try_from_form())
        # The buttons' column keeps its width; the list takes the rest (a 95%-wide list cut "Remove" to "Rem…").
        buttons = w.VBox([view.edit_button, view.remove_button], layout=w.Layout(flex="0 0 auto"))
        fields = w.HBox([view.field_list, buttons], layout=w.Layout(width="95%"))
        inputs = [view.new_name, view.new_type, view.new_type_text, view.new_kind, view.new_desc, view.new_default]
        form = w.HBox([*inputs, view.add_button], layout=w.Layout(flex_flow="row wrap"))
        hint = w.HTML("<i>Run <code>builder.insert_cell()</code> in a cell to paste this class into a new cell.</i>")
        tabs = w.Tab(children=[w.VBox([view.code_view, hint]), view.schema_view, view.try_box])
        for i, title in enumerate(["Python", "Output JSON schema", "Try it"]):
            tabs.set_title(i, title)
        view.root.children = [view.class_name, view.instructions, fields, form, view.error, tabs]
        return view

    def _sync_field_list(self) -> None:
        box = self.ui.field_list
        selected = box.value
        box.options = [(_field_label(d), d.name) for d in self._drafts]
        box.rows = max(2, min(len(self._drafts), 8))
        box.value = selected if selected in self.field_names else None
        self.ui.edit_button.disabled = self.ui.remove_button.disabled = not self._drafts

    def _selected(self) -> FieldDraft:
        name = self.ui.field_list.value
        for d in self._drafts:
            if d.name == name:
                return d
        raise ConfigurationError("Select a field in the list first.")

    def _sync_type_text(self) -> None:
        box, choice = self.ui.new_type_text, self.ui.new_type.value
        box.layout.display = "" if choice in (LITERAL, OTHER) else "none"
        box.placeholder = "positive, negative" if choice == LITERAL else "e.g. dict[str, int] or Optional[str]"

    def _form_type(self, name: str) -> str:
        choice, detail = self.ui.new_type.value, self.ui.new_type_text.value.strip()
        if choice == LITERAL:
            if not detail:
                raise ConfigurationError(f"Field {name!r}: list the Literal values, e.g. positive, negative.")
            return f"Literal[{_literal_values(detail)}]"
        if choice == OTHER:
            if not detail:
                raise ConfigurationError(f"Field {name!r}: type the type, e.g. dict[str, int] or Optional[str].")
            return detail
        return choice

    def _add_from_form(self) -> None:
        ui = self.ui
        name = ui.new_name.value.strip()
        type_text = self._form_type(name)
        draft = make_draft(name, type_text, ui.new_kind.value, ui.new_desc.value.strip())
        if ui.new_kind.value == "input" and ui.new_default.value.strip():
            value = _from_text(ui.new_default.value, draft.annotation)
            draft = make_draft(name, type_text, "input", draft.desc, value)
        self._put(draft, replacing=self._editing)
        self._editing = None
        ui.add_button.description = "Add"
        ui.new_name.value = ui.new_desc.value = ui.new_default.value = ui.new_type_text.value = ""

    def _load_into_form(self, d: FieldDraft) -> None:
        ui = self.ui
        if d.type in TYPE_CHOICES:
            ui.new_type.value, ui.new_type_text.value = d.type, ""
        elif d.type.startswith("Literal[") and "|" not in d.type:
            ui.new_type.value, ui.new_type_text.value = LITERAL, d.type[len("Literal[") : -1]
        else:
            ui.new_type.value, ui.new_type_text.value = OTHER, d.type
        ui.new_name.value, ui.new_kind.value, ui.new_desc.value = d.name, d.kind, d.desc
        ui.new_default.value = repr(d.default) if d.has_default else ""
        self._editing = d.name
        ui.add_button.description = "Save"

    def _sync_try_inputs(self) -> None:
        """One text box per input, kept (with what was typed) while its field exists."""
        old, inputs = self.ui.try_inputs, {}
        for d in self._drafts:
            if d.kind == "input":
                box = old.pop(d.name, None) or w.Text(description=d.name, layout=self._input_layout)
                box.placeholder = f"{d.type}, default {d.default!r}" if d.has_default else d.type
                inputs[d.name] = box
        for box in old.values():
            box.close()
        self.ui.try_inputs = inputs
        self.ui.try_box.children = [*inputs.values(), self.ui.try_button, self.ui.try_output]

    def _try_from_form(self) -> None:
        out = self.ui.try_output
        out.value = "<i>Running…</i>"
        try:
            signature = self.signature
            inputs = {
                name: _from_text(box.value, signature.input_fields[name].annotation)
                for name, box in self.ui.try_inputs.items()
                if box.value or signature.input_fields[name].required
            }
            self.try_it(**inputs)
        except Exception as e:  # a callback must never raise into the kernel: show it where the user looks
            out.value = f"<span style='{_ERROR_STYLE}'>{html.escape(_message(e))}</span>"

    def _guarded(self, fn: Callable[[Any], None]) -> Callable[[Any], None]:
        """Wrap a widget callback so its errors are shown in the form instead of raised into the kernel."""

        def handler(arg: Any) -> None:
            try:
                fn(arg)
            except Exception as e:
                self._action_error = _message(e)
                self._show_error()

        return handler


def _field_label(d: FieldDraft) -> str:
    default = f" = {d.default!r}" if d.has_default else ""
    desc = f"  — {d.desc}" if d.desc else ""
    return f"{d.kind:6}  {d.name}: {d.type}{default}{desc}"


def _message(e: BaseException) -> str:
    return str(e) if isinstance(e, KaizenError) else f"{type(e).__name__}: {e}"


def _pre(text: str) -> str:
    return f"<pre style='margin:0'>{html.escape(text)}</pre>"


def _literal_values(text: str) -> str:
    """``positive, negative`` → ``'positive', 'negative'``; text that already has quotes is left as typed."""
    if any(q in text for q in "'\""):
        return text
    values = [v.strip() for v in text.split(",") if v.strip()]
    return ", ".join(v if v.lstrip("-").isdigit() or v in ("True", "False") else repr(v) for v in values)


def _from_text(text: str, annotation: Any) -> Any:
    """A form value for a field: text as typed for ``str`` fields (unless quoted), else a Python literal."""
    stripped = text.strip()
    quoted = len(stripped) >= 2 and stripped[0] == stripped[-1] and stripped[0] in "'\""
    if annotation is str and not quoted:
        return text
    try:
        return ast.literal_eval(stripped)
    except (ValueError, SyntaxError):
        return text  # let the signature's own validation say what is wrong with it
