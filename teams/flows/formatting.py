"""How an instruction reads: to the teacher, to the refiners, and in a record's user turn. Each
answer format that carries more than a question (labels, keys, worked examples, follow-up turns)
shows it its own way."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from teams.flows.types import Instruction


def format_question(question: str, options: Sequence[str]) -> str:
    lines = [question.strip()]
    if options:
        lines.append("")
        lines.extend(f"{chr(ord('A') + i)}) {option.strip()}" for i, option in enumerate(options))
    return "\n".join(lines)


def format_instruction(instruction: Instruction) -> str:
    """An instruction as the teacher and the refiners read it; each answer format that carries
    more than a question (labels, keys, worked examples, follow-up turns) shows it its own way."""
    render = INSTRUCTION_RENDERERS.get(instruction.answer_format)
    return render(instruction) if render else format_question(instruction.question, instruction.options)


def _numbered(items: Sequence[str]) -> str:
    return "\n".join(f"{i}. {item.strip()}" for i, item in enumerate(items, start=1))


def render_few_shot(question: str, examples: Sequence[str]) -> str:
    shots = "\n\n".join(f"Example {i}:\n{e.strip()}" for i, e in enumerate(examples, start=1))
    return (
        f"Here are {len(examples)} worked examples.\n\n{shots}\n\nNow solve this one the same way:\n{question.strip()}"
    )


INSTRUCTION_RENDERERS: dict[str, Callable[[Instruction], str]] = {
    "label": lambda i: f"{i.question.strip()}\n\nLabels: {', '.join(o.strip() for o in i.options)}",
    "json": lambda i: (
        f"{i.question.strip()}\n\nReturn a JSON object with exactly these keys: "
        f"{', '.join(o.strip() for o in i.options)}"
    ),
    "few_shot": lambda i: render_few_shot(i.question, i.options),
    "conversation": lambda i: (
        f"{i.question.strip()}\n\nWhere the user means to go after the answers (ideas for the follow-ups):\n"
        f"{_numbered(i.follow_ups)}"
    ),
}
