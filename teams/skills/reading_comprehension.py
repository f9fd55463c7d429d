"""Reading comprehension: a passage, a question about it, the teacher's answer.

Run it as `python -m teams.skills.reading_comprehension --seeds PATH` (the same options as
`agentinstruct run reading_comprehension`).
"""

from __future__ import annotations

from teams.flows import format_question
from teams.schemas import AnswerOutput, Instruction, Message


class ReadingComprehension:
    name = "reading_comprehension"

    def instruction_text(self, instruction: Instruction) -> str:
        return format_question(instruction.question, instruction.options)

    def messages(self, instruction: Instruction, answer: AnswerOutput) -> list[Message]:
        question = self.instruction_text(instruction)
        user = f"Read the passage and answer the question.\n\nPassage:\n{instruction.passage}\n\nQuestion:\n{question}"
        explanation = answer.explanation.strip()
        reply = (
            f"{explanation}\n\nFinal answer: {answer.final_answer.strip()}"
            if explanation
            else answer.final_answer.strip()
        )
        return [Message(role="user", content=user), Message(role="assistant", content=reply)]


SKILL = ReadingComprehension()

if __name__ == "__main__":
    from teams.cli import run_skill_script

    run_skill_script(SKILL.name)
