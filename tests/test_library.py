"""The persona library and the taxonomy are data: they must validate and fit together."""

from pathlib import Path

import pytest

from agents.personas import PersonaError, PersonaLibrary, load_persona
from taxonomies import TaxonomyError, load_taxonomy

METHOD_NAMED = {
    "literal_comprehension", "numerical_discrete_reasoning", "critical_comprehension", "evaluative_comprehension",
    "vocabulary_and_language_use", "relationship_comprehension", "sequencing_events", "strengthen", "weaken",
    "necessary_assumption", "flaw", "inference_must_be_true", "identify_the_principle", "method_of_reasoning",
}  # fmt: skip
TRANSFORMATIONS = {
    "argument", "debate", "conversation", "meeting_transcript", "poem", "satire", "instructional", "long_text", "identity",
}  # fmt: skip


def test_reading_comprehension_taxonomy_covers_the_method() -> None:
    taxonomy = load_taxonomy("reading_comprehension")
    names = {s.name for s in taxonomy.subcategories}
    assert len(names) >= 30
    assert names >= METHOD_NAMED
    assert {t.name for t in taxonomy.transformations} == TRANSFORMATIONS
    assert {g.name for g in taxonomy.refinement_goals} == {"make_unanswerable", "flip_answer", "make_harder"}
    formats = {s.answer_format for s in taxonomy.subcategories}
    assert {
        "short_answer",
        "true_false",
        "essay",
        "fill_in_the_blank",
        "matching",
        "ordering",
        "multiple_choice",
    } <= formats
    for transformation in TRANSFORMATIONS:
        assert sum(s.suits_transformation(transformation) for s in taxonomy.subcategories) >= 5, transformation


def test_unknown_skill_is_a_clear_error() -> None:
    with pytest.raises(TaxonomyError, match="unknown skill 'nope'"):
        load_taxonomy("nope")


def test_persona_library_validates_and_serves_every_question_type() -> None:
    library = PersonaLibrary.load()
    assert library.check() == []
    taxonomy = load_taxonomy("reading_comprehension")
    writers = library.pool("instruction_writer", "reading_comprehension")
    covered = {t for w in writers for t in w.instruction_types}
    assert covered == {s.name for s in taxonomy.subcategories}
    transformers = library.pool("transformer", "reading_comprehension")
    assert {t.transformation for t in transformers} == TRANSFORMATIONS
    for role in ("suggester", "editor", "teacher"):
        assert library.pool(role, "reading_comprehension"), role


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    return path


BASE = "version: 1\nname: p\nrole: teacher\nskills: [reading_comprehension]\ndescription: d\n"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (BASE + "system_message: hi\nmood: happy\n", "mood: Extra inputs are not permitted"),
        (BASE.replace("role: teacher", "role: wizard") + "system_message: hi\n", "role:"),
        (BASE, "system_message: Field required"),
        (BASE + "system_message: hi {{ oops\n", "template syntax error"),
        (BASE.replace("role: teacher", "role: transformer") + "system_message: hi\n", "needs 'transformation'"),
        (BASE + "system_message: hi\nsampling: {temperature: 9}\n", "sampling.temperature"),
        ("- just\n- a list\n", "expected a mapping"),
        ("name: [unclosed\n", "malformed YAML (line"),
    ],
)
def test_a_bad_persona_file_is_one_line_naming_file_and_field(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(PersonaError) as error:
        load_persona(write(tmp_path, text))
    message = str(error.value)
    assert message.startswith(str(tmp_path / "p.yaml")) and fragment in message and "\n" not in message


def test_a_template_variable_the_role_does_not_give_fails_loudly(tmp_path: Path) -> None:
    persona = load_persona(write(tmp_path, BASE + "system_message: Answer about {{ skill }} in {{ language }}.\n"))
    assert persona.render(skill="x", language="French") == "Answer about x in French."
    with pytest.raises(PersonaError, match="'language' is undefined"):
        persona.render(skill="x")
    assert PersonaLibrary({"p": persona}).check() == [f"{tmp_path / 'p.yaml'}: system_message: 'language' is undefined"]


def test_a_later_folder_overrides_a_builtin_persona_of_the_same_name(tmp_path: Path) -> None:
    write(tmp_path, BASE.replace("name: p", "name: teacher") + "system_message: my own teacher\n")
    assert PersonaLibrary.load([tmp_path]).get("teacher").system_message == "my own teacher"
