"""SignatureBuilder: the form, its inline errors, the generated source and schema, and "Try it" on a fake model."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Literal

import pytest
from kaizen_lab_widgets import SignatureBuilder

import kaizen_lab
from kaizen_lab import ConfigurationError, InputField, OutputField, Signature


def mock_llm() -> kaizen_lab.LLM:
    return kaizen_lab.LLM(kaizen_lab.MockProvider())


def review_builder() -> SignatureBuilder:
    b = SignatureBuilder(llm=mock_llm())
    b.set_name("Review")
    b.set_instructions("Classify the sentiment of a product review.")
    b.add_field("review", desc="The review text")
    b.add_field("language", desc="ISO code", default="en")
    b.add_field("sentiment", "Literal['positive', 'negative']", "output", desc="The sentiment")
    b.add_field("score", "float", "output")
    return b


def text_of(widget_html: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", widget_html))


def exec_code(code: str, name: str) -> type[Signature]:
    namespace: dict = {}
    exec(compile(code, "<builder>", "exec"), namespace)
    return namespace[name]


def add_from_form(b: SignatureBuilder, name: str, type: str = "str", detail: str = "", **values: str) -> None:
    ui = b.ui
    ui.new_name.value, ui.new_type.value, ui.new_type_text.value = name, type, detail
    ui.new_kind.value = values.get("kind", "input")
    ui.new_desc.value, ui.new_default.value = values.get("desc", ""), values.get("default", "")
    ui.add_button.click()


# -- building ------------------------------------------------------------------------------------------------------
def test_fields_added_and_removed_make_a_real_signature():
    b = review_builder()
    sig = b.signature
    assert issubclass(sig, Signature) and sig.__name__ == "Review"
    assert sig.describe() == "review: str, language: str -> sentiment: Literal['positive', 'negative'], score: float"
    assert sig.instructions == "Classify the sentiment of a product review."
    assert sig.input_fields["language"].default == "en" and sig.input_fields["review"].required
    assert sig.fields["sentiment"].desc == "The sentiment"
    assert [value for _label, value in b.ui.field_list.options] == b.field_names
    b.remove_field("score")
    assert b.field_names == ["review", "language", "sentiment"]
    assert len(b.ui.field_list.options) == 3
    assert "score" not in b.signature.output_fields


def test_an_empty_or_output_less_builder_is_incomplete_not_an_error_raised_at_display():
    b = SignatureBuilder()
    assert "no fields yet" in b.error
    assert repr(b) == (
        "<SignatureBuilder MySignature (incomplete: MySignature has no fields yet; add an input and an output field.)>"
    )
    b.add_field("question")
    assert "declares no OutputField" in b.error
    with pytest.raises(ConfigurationError, match="declares no OutputField"):
        _ = b.signature
    b.add_field("answer", kind="output")
    assert b.error is None
    assert repr(b) == "<SignatureBuilder MySignature: question: str -> answer: str>"


def test_starting_from_an_existing_class_prefills_every_field():
    class QA(Signature):
        """Answer questions."""

        question: str = InputField(desc="The question")
        context: str | None = InputField(desc="Context", default=None)
        answer: Literal["yes", "no"] = OutputField(desc="The answer")

    b = SignatureBuilder(QA)
    assert b.field_names == ["question", "context", "answer"]
    assert b.signature.describe() == QA.describe()
    assert b.signature.input_fields["context"].default is None  # a None default, not "required"
    assert b.ui.instructions.value == "Answer questions."
    assert exec_code(b.code, "QA").describe() == QA.describe()


def test_string_signatures_are_accepted_too():
    b = SignatureBuilder("question -> answer, confidence: float")
    assert b.signature.describe() == "question: str -> answer: str, confidence: float"


# -- errors --------------------------------------------------------------------------------------------------------
def test_duplicate_field_error_is_shown_in_the_form_and_raised_by_the_api():
    b = review_builder()
    add_from_form(b, "review", kind="output")
    assert "already a field 'review'" in b.error
    assert "already a field" in text_of(b.ui.error.value)
    assert b.field_names.count("review") == 1
    with pytest.raises(ConfigurationError, match="already a field 'review'"):
        b.add_field("review")
    add_from_form(b, "summary", kind="output")  # a good action clears the message
    assert b.error is None and b.ui.error.value == ""


def test_unknown_type_error_is_shown_with_the_engine_message():
    b = review_builder()
    add_from_form(b, "tags", "other…", "Dataframe")
    assert b.error.startswith("field 'tags': unknown type 'Dataframe'; use one of str, int")
    assert "tags" not in b.field_names
    with pytest.raises(ConfigurationError, match="unknown type"):
        b.add_field("tags", "list[Foo]")


@pytest.mark.parametrize(
    ("name", "message"),
    [("2x", "not a valid field name"), ("class", "Python keyword"), ("_x", "underscore"), ("", "empty")],
)
def test_bad_field_names_are_shown(name: str, message: str):
    b = review_builder()
    add_from_form(b, name)
    assert message in b.error
    assert len(b.field_names) == 4


def test_bad_defaults_and_output_defaults_are_refused():
    b = review_builder()
    add_from_form(b, "top_k", "int", default="many")
    assert "the default 'many' does not fit its type" in b.error
    with pytest.raises(ConfigurationError, match="only inputs take a default"):
        b.add_field("x", kind="output", default=1)


def test_a_bad_class_name_is_shown_and_the_error_goes_when_fixed():
    b = review_builder()
    b.ui.class_name.value = "My Review"  # typing in the form
    assert "not a valid class name" in b.error
    b.ui.class_name.value = "MyReview"
    assert b.error is None and b.signature.__name__ == "MyReview"


def test_the_error_reaches_the_frontend_as_a_widget_update(comms):
    b = review_builder()
    add_from_form(b, "review")
    sent = [u["value"] for u in comms[b.ui.error.model_id].updates() if "value" in u]
    assert sent and "already a field" in html.unescape(sent[-1])


# -- the form ------------------------------------------------------------------------------------------------------
def test_form_adds_literal_from_bare_values_and_parses_defaults():
    b = SignatureBuilder()
    add_from_form(b, "text", desc="Input text")
    add_from_form(b, "top_k", "int", default="3")
    add_from_form(b, "tags", "list[str]", default="['a', 'b']")
    add_from_form(b, "label", "Literal[...]", "positive, negative, 3", kind="output")
    sig = b.signature
    assert sig.describe() == "text: str, top_k: int, tags: list[str] -> label: Literal['positive', 'negative', 3]"
    assert sig.input_fields["top_k"].default == 3
    assert sig.input_fields["tags"].default == ["a", "b"]
    assert b.ui.new_name.value == "", "the form is cleared after a successful add"


def test_edit_and_remove_the_selected_field():
    b = review_builder()
    b.ui.field_list.value = "language"
    b.ui.edit_button.click()
    assert (b.ui.new_name.value, b.ui.new_desc.value, b.ui.new_default.value) == ("language", "ISO code", "'en'")
    assert b.ui.add_button.description == "Save"
    b.ui.new_desc.value = "ISO 639-1 code"
    b.ui.add_button.click()
    assert b.field_names == ["review", "language", "sentiment", "score"], "edited in place"
    assert b.signature.input_fields["language"].desc == "ISO 639-1 code"
    assert b.ui.add_button.description == "Add"
    b.ui.field_list.value = "review"
    b.ui.remove_button.click()
    assert b.field_names == ["language", "sentiment", "score"]
    assert b.ui.field_list.value is None


def test_saving_an_edit_whose_field_was_removed_meanwhile_adds_it_back():
    b = review_builder()
    b.ui.field_list.value = "score"
    b.ui.edit_button.click()
    b.remove_field("score")
    b.ui.add_button.click()
    assert b.field_names == ["review", "language", "sentiment", "score"]


def test_edit_or_remove_with_nothing_selected_says_so():
    b = review_builder()
    b.ui.field_list.value = None
    b.ui.remove_button.click()
    assert b.error == "Select a field in the list first."
    assert len(b.field_names) == 4


def test_editing_a_literal_loads_its_values_into_the_detail_box():
    b = review_builder()
    b.ui.field_list.value = "sentiment"
    b.ui.edit_button.click()
    assert b.ui.new_type.value == "Literal[...]"
    assert b.ui.new_type_text.value == '"positive", "negative"'
    assert b.ui.new_type_text.layout.display == ""


def test_output_kind_disables_the_default_box():
    b = SignatureBuilder()
    b.ui.new_kind.value = "output"
    assert b.ui.new_default.disabled
    b.ui.new_kind.value = "input"
    assert not b.ui.new_default.disabled


# -- source, schema, insert ----------------------------------------------------------------------------------------
def test_code_is_valid_python_giving_an_equivalent_signature():
    b = review_builder()
    b.set_instructions('Say "positive" or "negative". A backslash \\ too.')
    code = b.code
    assert code.startswith("from typing import Literal\n\nfrom kaizen_lab import InputField, OutputField, Signature\n")
    cls = exec_code(code, "Review")
    sig = b.signature
    assert cls.describe() == sig.describe()
    assert cls.instructions == sig.instructions
    for name, spec in sig.fields.items():
        assert (cls.fields[name].desc, cls.fields[name].default) == (spec.desc, spec.default)
    assert text_of(b.ui.code_view.value) == code


def test_generated_code_is_ruff_formatted_and_lint_clean(tmp_path):
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed")
    b = review_builder()
    b.set_instructions("A very long instruction. " * 12)
    b.add_field("notes", desc="A long description of this field. " * 4, default="none")
    path = tmp_path / "generated.py"
    path.write_text(b.code)
    checks = (["format", "--check"], ["check", "--select", "E,F,W,I,UP"])
    for args in checks:
        cmd = [ruff, *args, "--line-length", "120", "--no-cache", str(path)]
        run = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
        assert run.returncode == 0, run.stdout + run.stderr + b.code
    assert exec_code(b.code, "Review").describe() == b.signature.describe()


def test_schema_view_matches_the_signature_output_schema():
    b = review_builder()
    assert json.loads(text_of(b.ui.schema_view.value)) == b.signature.output_json_schema()
    b.remove_field("score")
    assert json.loads(text_of(b.ui.schema_view.value)) == b.signature.output_json_schema()


def test_insert_cell_sets_the_next_input_of_the_running_shell():
    from IPython import get_ipython
    from IPython.testing.globalipapp import start_ipython

    start_ipython()  # the test process's one shell (returns None if another test started it first)
    shell = get_ipython()
    b = review_builder()
    b.insert_cell()
    assert shell.rl_next_input == b.code


# -- try it --------------------------------------------------------------------------------------------------------
def test_try_it_runs_the_signature_on_the_mock_provider():
    b = review_builder()
    r = b.try_it(review="Great phone, terrible battery.")
    assert dict(r) == {"sentiment": "positive", "score": 0.5}
    assert r.provider == "mock"
    assert b.last_result is r
    assert "positive" in b.ui.try_output.value


def test_try_it_button_reads_the_input_boxes():
    b = review_builder()
    assert list(b.ui.try_inputs) == ["review", "language"]
    b.ui.try_inputs["review"].value = "Lovely."
    b.ui.try_button.click()  # 'language' left empty: its default is used
    assert b.last_result is not None and b.last_result["sentiment"] == "positive"
    assert "mock" in b.ui.try_output.value


def test_try_it_button_shows_errors_instead_of_raising():
    b = SignatureBuilder(llm=mock_llm())
    b.add_field("question", "int")
    b.ui.try_button.click()  # incomplete signature
    assert "declares no OutputField" in text_of(b.ui.try_output.value)
    b.add_field("answer", kind="output")
    b.ui.try_inputs["question"].value = "not a number"
    b.ui.try_button.click()
    assert "Invalid input" in text_of(b.ui.try_output.value)


def test_agent_factory_chooses_what_try_it_runs():
    seen = []

    def factory(signature: type[Signature]) -> kaizen_lab.BaseAgent:
        seen.append(signature)
        provider = kaizen_lab.FunctionProvider([{"answer": "42"}], structured="json_schema")
        return kaizen_lab.BaseAgent(signature=signature, llm=kaizen_lab.LLM(provider))

    b = SignatureBuilder("question -> answer", agent_factory=factory)
    assert b.try_it(question="?")["answer"] == "42"
    assert seen == [b.signature]


def test_try_inputs_keep_their_values_when_fields_change(comms):
    b = review_builder()
    review_box = b.ui.try_inputs["review"]
    review_box.value = "kept"
    b.add_field("extra")
    assert b.ui.try_inputs["review"] is review_box and review_box.value == "kept"
    assert list(b.ui.try_inputs) == ["review", "language", "extra"]
    extra = b.ui.try_inputs["extra"]
    b.remove_field("extra")
    assert extra.comm is None, "a removed field's box is closed, not leaked"


def test_typing_instructions_creates_no_widgets(comms):
    b = review_builder()
    before = len(comms)
    for i in range(20):
        b.ui.instructions.value = "Classify." + "!" * i
    assert len(comms) == before
    assert b.signature.instructions == "Classify." + "!" * 19


# -- display -------------------------------------------------------------------------------------------------------
def test_mimebundle_has_the_widget_view_and_a_deterministic_text():
    b = review_builder()
    bundle = b._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == b.ui.root.model_id
    assert bundle["text/plain"] == (
        "<SignatureBuilder Review: review: str, language: str -> "
        "sentiment: Literal['positive', 'negative'], score: float>"
    )
