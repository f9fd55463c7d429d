"""The embedded model's client, without loading the model."""

import json

import pytest

from agents.models.local import GRAMMAR_MAX_LENGTH, _model_params, amx_built_in, grammar_safe, normalise_json


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


def test_amx_kernels_are_recognised_from_llama_cpp_system_info() -> None:
    with_amx = b"CPU : AVX2 = 1 | AVX512 = 1 | AMX_INT8 = 1 | LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 | "
    assert amx_built_in(with_amx)
    assert not amx_built_in(with_amx.replace(b"AMX_INT8 = 1", b"AMX_INT8 = 0"))
    assert not amx_built_in(b"CPU : AVX2 = 1 | REPACK = 1 | ")


def test_the_model_loads_without_extra_buffer_types_only_inside_the_block() -> None:
    """llama.cpp's AMX kernels segfault on the first decode: the model must load with its extra
    buffer types off, and Llama() reads them from the binding's default model parameters."""
    lib = pytest.importorskip("llama_cpp.llama_cpp")
    before = lib.llama_model_default_params().use_extra_bufts
    assert before is True  # llama.cpp's default: on
    with _model_params(use_extra_bufts=False):
        assert lib.llama_model_default_params().use_extra_bufts is False
    assert lib.llama_model_default_params().use_extra_bufts is True
