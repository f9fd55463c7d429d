import pytest
from pydantic import ValidationError

from teams.flows.checks import check_answer, check_draft, chosen_option
from teams.flows.outputs import (
    UNANSWERABLE_ANSWER,
    AnswerOutput,
    InstructionDraft,
    answer_output,
    edit_output,
    instructions_output,
)
from teams.flows.types import Instruction


def instruction(
    fmt: str, options: list[str] | None = None, goal: str | None = None, question: str = "Which is right?"
) -> Instruction:
    return Instruction(
        key="k-1",
        passage="Bees make honey.",
        question=question,
        options=options or [],
        subcategory="x",
        answer_format=fmt,
        writer="w",
        refinement_goal=goal,
    )


def reply(final: str, explanation: str = "Because the passage says so.") -> AnswerOutput:
    return AnswerOutput(explanation=explanation, final_answer=final)


@pytest.mark.parametrize(
    ("final", "index"), [("B", 1), ("(C)", 2), ("A) honey", 0), ("wax", 1), ("E", None), ("maybe", None)]
)
def test_chosen_option_reads_letters_and_option_text(final: str, index: int | None) -> None:
    assert chosen_option(final, ["honey", "wax", "pollen", "nectar"]) == index


def test_multiple_choice_answer_must_name_one_of_its_options() -> None:
    mc = instruction("multiple_choice", ["honey", "wax", "pollen", "nectar"])
    assert check_answer(mc, reply("A")) == []
    assert check_answer(mc, reply("F"))
    assert check_answer(mc, reply("I think so"))


def test_multiple_choice_with_repeated_options_is_rejected() -> None:
    assert check_answer(instruction("multiple_choice", ["honey", "Honey", "wax"]), reply("A"))


def test_unanswerable_item_must_say_so_and_ordinary_items_must_not() -> None:
    made_unanswerable = instruction("multiple_choice", ["a", "b", "c"], goal="make_unanswerable")
    assert check_answer(made_unanswerable, reply("The passage does not say, so it cannot be answered.")) == []
    assert check_answer(made_unanswerable, reply("B"))
    assert check_answer(instruction("short_answer"), reply("This cannot be answered from the passage."))


def test_true_false_numeric_and_essay_formats() -> None:
    assert check_answer(instruction("true_false"), reply("True")) == []
    assert check_answer(instruction("true_false"), reply("Probably"))
    assert check_answer(instruction("numeric"), reply("About 60,000 bees")) == []
    assert check_answer(instruction("numeric"), reply("many"))
    assert check_answer(instruction("essay"), reply("Short.", explanation="Too short."))
    assert check_answer(instruction("essay"), reply("x", explanation=" ".join(["word"] * 20))) == []


def test_draft_checks_by_format() -> None:
    assert (
        check_draft(
            InstructionDraft(question="Which option is right?", options=["a", "b", "c", "d"]), "multiple_choice"
        )
        == []
    )
    assert check_draft(InstructionDraft(question="Which option is right?", options=["a", "a", "c"]), "multiple_choice")
    assert check_draft(InstructionDraft(question="Which option is right?"), "multiple_choice")
    assert check_draft(InstructionDraft(question="Bees make ____ from nectar."), "fill_in_the_blank") == []
    assert check_draft(InstructionDraft(question="Bees make what from nectar?"), "fill_in_the_blank")
    assert check_draft(InstructionDraft(question="Put these in order.", options=["first", "second"]), "ordering") == []
    assert check_draft(InstructionDraft(question="Why?"), "short_answer")


@pytest.mark.parametrize("make", [instructions_output, edit_output])
def test_formats_with_options_require_them_so_a_decoder_cannot_leave_them_out(make) -> None:
    schema = make("multiple_choice").model_json_schema()
    draft = schema["$defs"]["MultipleChoiceDraft"] if "$defs" in schema else schema
    assert "options" in draft["required"] and draft["properties"]["options"]["minItems"] == 4
    with pytest.raises(ValidationError, match="options"):
        instructions_output("multiple_choice").model_validate_json(
            '{"instructions": [{"question": "Which one is it?"}]}'
        )
    assert instructions_output("essay").model_validate_json('{"instructions": [{"question": "Why is it so?"}]}')


def test_closed_answer_sets_for_choice_and_true_false() -> None:
    mc = answer_output("multiple_choice", 3).model_json_schema()["properties"]["final_answer"]["enum"]
    assert mc == ["A", "B", "C", UNANSWERABLE_ANSWER]
    assert answer_output("true_false", 0).model_json_schema()["properties"]["final_answer"]["enum"][:2] == [
        "True",
        "False",
    ]
    assert answer_output("essay", 0) is AnswerOutput
