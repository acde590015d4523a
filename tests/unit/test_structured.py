import pytest

from kaizen_lab import QASignature, Signature, create_structured_output_config
from kaizen_lab.structured import extract_json, validate_outputs


@pytest.mark.parametrize(
    "text",
    [
        '{"answer": "Paris", "confidence": 0.9}',
        'Sure! Here it is:\n```json\n{"answer": "Paris", "confidence": 0.9}\n```\nHope that helps.',
        'The answer is {"answer": "Paris", "confidence": 0.9} as requested.',
        '{"answer": "Paris", "confidence": 0.9,}',
        "{'answer': 'Paris', 'confidence': 0.9}",
        'noise {not json} then {"answer": "Paris", "confidence": 0.9}',
        '{"answer": "a } inside", "confidence": 0.9}',
    ],
)
def test_extract_json_finds_the_object_in_typical_model_replies(text):
    data = extract_json(text)
    assert data["confidence"] == 0.9
    assert "answer" in data


@pytest.mark.parametrize(("text", "why"), [("", "empty"), ("no json at all", "no JSON"), ("[1, 2]", "no JSON")])
def test_extract_json_says_what_was_wrong(text, why):
    with pytest.raises(ValueError, match=why):
        extract_json(text)


def test_validate_outputs_coerces_and_reports_field_errors():
    sig = Signature.parse("q -> answer, confidence: float")
    assert validate_outputs(sig, '{"answer": "x", "confidence": "0.5", "extra": 1}') == {
        "answer": "x",
        "confidence": 0.5,
    }
    with pytest.raises(ValueError, match="confidence"):
        validate_outputs(sig, '{"answer": "x", "confidence": "very"}')
    with pytest.raises(ValueError, match="confidence: Field required"):
        validate_outputs(sig, '{"answer": "x"}')


def test_create_structured_output_config_is_openai_shaped():
    cfg = create_structured_output_config(QASignature, strict=True, name="qa")
    assert cfg["type"] == "json_schema"
    assert cfg["json_schema"]["name"] == "qa" and cfg["json_schema"]["strict"] is True
    assert cfg["json_schema"]["schema"]["required"] == ["answer", "confidence", "reasoning"]


def test_strict_schema_drops_unsupported_keywords_but_keeps_shape():
    from kaizen_lab import ChainOfThoughtSignature
    from kaizen_lab.structured import strict_schema

    schema, strict = strict_schema(ChainOfThoughtSignature.output_json_schema())
    assert strict is True
    steps = schema["properties"]["reasoning_steps"]
    assert "maxItems" not in steps and "maxLength" not in steps["items"]
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["reasoning_steps", "final_answer", "confidence"]
    # the constraint is still enforced locally
    too_many = '{"reasoning_steps": ["a","b","c","d","e","f","g"], "final_answer": "x", "confidence": 1}'
    with pytest.raises(ValueError, match="reasoning_steps"):
        validate_outputs(ChainOfThoughtSignature, too_many)


def test_free_form_maps_cannot_be_strict():
    from kaizen_lab.structured import strict_schema

    _, strict = strict_schema(Signature.parse("q -> counts: dict[str, int]").output_json_schema())
    assert strict is False
    assert create_structured_output_config("q -> counts: dict[str, int]")["json_schema"]["strict"] is False
