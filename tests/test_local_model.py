"""The embedded model's client, without loading the model."""

import json

from agents.models.local import GRAMMAR_MAX_LENGTH, grammar_safe, normalise_json


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


def test_raw_control_characters_in_json_strings_are_escaped_and_cut_json_is_left_alone() -> None:
    raw = '{"passage": "line one\nline two\ttabbed"}'
    assert raw.count("\n") == 1  # a raw newline inside the string: strict JSON rejects it
    fixed = normalise_json(raw)
    assert json.loads(fixed) == {"passage": "line one\nline two\ttabbed"}
    assert normalise_json('{"passage": "cut mid') == '{"passage": "cut mid'
