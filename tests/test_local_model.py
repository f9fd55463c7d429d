"""The embedded model's client, without loading the model."""

from agents.local_model import GRAMMAR_MAX_LENGTH, grammar_safe


def test_grammar_safe_drops_only_string_bounds_llama_cpp_cannot_build() -> None:
    schema = {
        "properties": {
            "long": {"type": "string", "maxLength": 3000},
            "short": {"type": "string", "maxLength": GRAMMAR_MAX_LENGTH},
            "items": {"type": "array", "maxItems": 5000, "items": {"type": "string", "maxLength": 1000}},
        },
        "$defs": {"X": {"anyOf": [{"type": "string", "maxLength": 999}, {"type": "null"}]}},
    }
    safe = grammar_safe(schema)
    assert "maxLength" not in safe["properties"]["long"]
    assert safe["properties"]["short"]["maxLength"] == GRAMMAR_MAX_LENGTH
    assert safe["properties"]["items"]["maxItems"] == 5000 and "maxLength" not in safe["properties"]["items"]["items"]
    assert safe["$defs"]["X"]["anyOf"] == [{"type": "string"}, {"type": "null"}]
    assert schema["properties"]["long"]["maxLength"] == 3000  # the original is untouched
