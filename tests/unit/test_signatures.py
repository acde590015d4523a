from __future__ import annotations

import keyword
from typing import Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kaizen_lab import ConfigurationError, InputField, OutputField, Signature


class QASignature(Signature):
    """Answer questions accurately and concisely with confidence scoring."""

    question: str = InputField(desc="The question to answer")
    context: str = InputField(description="Additional context if available", default="")
    answer: str = OutputField(desc="Clear, accurate answer")
    confidence: float = OutputField(desc="Confidence score 0.0-1.0")


def test_class_form_collects_fields_docstring_and_descriptions():
    assert list(QASignature.input_fields) == ["question", "context"]
    assert list(QASignature.output_fields) == ["answer", "confidence"]
    assert QASignature.instructions == "Answer questions accurately and concisely with confidence scoring."
    assert QASignature.input_fields["context"].desc == "Additional context if available"
    assert not QASignature.input_fields["context"].required
    assert QASignature.output_fields["confidence"].annotation is float


def test_string_annotations_from_future_import_are_resolved():
    # this module uses `from __future__ import annotations`: every annotation above is a string
    assert QASignature.output_json_schema()["properties"]["confidence"]["type"] == "number"


def test_output_model_coerces_and_schema_requires_all_outputs():
    out = QASignature.output_model.model_validate({"answer": "Paris", "confidence": "0.9"})
    assert out.confidence == pytest.approx(0.9)
    schema = QASignature.output_json_schema()
    assert schema["required"] == ["answer", "confidence"]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["answer"]["description"] == "Clear, accurate answer"


def test_inputs_validation_names_missing_and_unknown_fields_and_fills_defaults():
    assert QASignature.validate_inputs({"question": "q"}) == {"question": "q", "context": ""}
    with pytest.raises(ConfigurationError, match="question"):
        QASignature.validate_inputs({})
    with pytest.raises(ConfigurationError, match="qestion"):
        QASignature.validate_inputs({"question": "q", "qestion": "typo"})


def test_field_without_marker_is_an_error():
    with pytest.raises(ConfigurationError, match="InputField"):

        class Bad(Signature):
            question: str
            answer: str = OutputField()


def test_signature_needs_an_output():
    with pytest.raises(ConfigurationError, match="OutputField"):

        class NoOut(Signature):
            question: str = InputField()


def test_string_form_types_and_descriptions():
    sig = Signature.parse(
        "question, n: int -> answer: str 'One sentence', score: float, tags: list[str], ok: bool, "
        "meta: dict, label: Literal['pos', 'neg'], counts: dict[str, int]",
        instructions="Do it.",
    )
    assert sig.instructions == "Do it."
    assert list(sig.input_fields) == ["question", "n"]
    ann = {k: v.annotation for k, v in sig.output_fields.items()}
    assert ann["score"] is float and ann["ok"] is bool and ann["meta"] is dict
    assert ann["tags"] == list[str] and ann["counts"] == dict[str, int]
    assert ann["label"] == Literal["pos", "neg"]
    assert sig.output_fields["answer"].desc == "One sentence"
    assert sig.output_model.model_validate(
        {"answer": "a", "score": 1, "tags": [], "ok": True, "meta": {}, "label": "pos", "counts": {}}
    )


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("-> a", "no input fields"),
        ("q -> ", "no output fields"),
        ("a: notatype -> b", "unknown type 'notatype'"),
        ("a, a -> b", "twice"),
        ("q -> q", "twice"),
        ("class -> b", "Python keyword"),
        ("a -> b -> c", "exactly one"),
        ("question answer", "exactly one"),
        ("a b -> c", "unexpected"),
        ("q,,r -> a", "empty field at column 2"),
        ("a: __import__('os').system('x') -> b", "not a supported type"),
        ("a: list[ -> b", "unbalanced"),
        ("a 'unclosed -> b", "never closed"),
        ("a: Literal[x] -> b", "Literal takes"),
        ("1a -> b", "not a valid field name"),
        ("a: -> b", "no type"),
        ("_a -> b", "underscore"),
    ],
)
def test_bad_signature_strings_say_where_and_how_to_fix(text: str, fragment: str):
    with pytest.raises(ConfigurationError) as err:
        Signature.parse(text)
    assert fragment in str(err.value)


def test_coerce_accepts_class_instance_and_string():
    assert Signature.coerce(QASignature) is QASignature
    assert Signature.coerce(QASignature()) is QASignature
    assert list(Signature.coerce("a -> b").output_fields) == ["b"]
    with pytest.raises(ConfigurationError):
        Signature.coerce(42)  # type: ignore[arg-type]


# -- property-based: the parser -----------------------------------------------------------------------------------
names = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True).filter(lambda s: not keyword.iskeyword(s))
types = st.sampled_from(["", ": str", ": int", ": float", ": bool", ": list[str]", ": dict", ": Literal['x', 'y']"])


@given(st.lists(st.tuples(names, types), min_size=2, max_size=8, unique_by=lambda t: t[0]), st.data())
def test_any_well_formed_signature_round_trips(fields, data):
    split = data.draw(st.integers(min_value=1, max_value=len(fields) - 1))
    text = ", ".join(n + t for n, t in fields[:split]) + " -> " + ", ".join(n + t for n, t in fields[split:])
    sig = Signature.parse(text)
    assert list(sig.input_fields) == [n for n, _ in fields[:split]]
    assert list(sig.output_fields) == [n for n, _ in fields[split:]]
    again = Signature.parse(sig.describe())
    assert again.describe() == sig.describe()


@given(st.text(max_size=60))
def test_arbitrary_text_either_parses_or_raises_configuration_error(text):
    try:
        sig = Signature.parse(text)
    except ConfigurationError:
        return
    assert sig.output_fields


def test_output_types_that_are_not_json_are_a_clear_error():
    class Blob:
        pass

    class Weird(Signature):
        q: str = InputField()
        blob: Blob = OutputField()

    with pytest.raises(ConfigurationError, match="cannot be described as JSON schema"):
        Weird.output_json_schema()


def test_pydantic_models_work_as_output_types():
    import pydantic

    class Person(pydantic.BaseModel):
        name: str
        age: int

    class Extract(Signature):
        """Extract the person."""

        text: str = InputField()
        person: Person = OutputField(desc="Who is mentioned")

    schema = Extract.output_json_schema()
    assert "Person" in schema["$defs"]
    from kaizen_lab.structured import validate_outputs

    out = validate_outputs(Extract, '{"person": {"name": "Ada", "age": "36"}}')
    assert out == {"person": {"name": "Ada", "age": 36}}


def test_unresolvable_annotation_names_the_field_and_the_fix():
    with pytest.raises(ConfigurationError, match=r"Broken\.out: cannot resolve the type 'Undefined'"):

        class Broken(Signature):
            q: str = InputField()
            out: Undefined = OutputField()  # noqa: F821 - the point of the test


@pytest.mark.parametrize(
    "text",
    ["x -> y: Optional[int, str]", "x -> y: dict[str]", "x -> y: tuple[()]", "x -> y: Literal", "x -> y: Union"],
)
def test_malformed_generics_are_configuration_errors(text):
    with pytest.raises(ConfigurationError, match="column"):
        Signature.parse(text)


@pytest.mark.parametrize("name", ["describe", "parse", "validate_inputs", "output_json_schema", "fields"])
def test_field_names_that_clash_with_signature_methods_are_rejected(name):
    with pytest.raises(ConfigurationError, match="Signature method"):
        Signature.parse(f"text -> {name}")


def test_a_subclass_without_a_docstring_keeps_its_parents_instructions_never_the_base_classes():
    class Parent(Signature):
        """Answer briefly."""

        question: str = InputField()
        answer: str = OutputField()

    class Child(Parent):
        sources: list[str] = OutputField()

    assert Child.instructions == "Answer briefly."
    assert Signature.parse("question -> answer").instructions == ""  # not Signature's own docstring

    class Bare(Signature):
        question: str = InputField()
        answer: str = OutputField()

    assert Bare.instructions == ""
