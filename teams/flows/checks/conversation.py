"""Checks of a conversation's user turns, written one by one by a user simulator after reading
the answers: each turn after the first picks up something an earlier answer said (the simulator
names it, `refers_to`, and it must occur there, loosely), and no two turns are the same. The
conversation skill and tool use's multi-turn conversations both read them."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from teams.flows.checks.text import content_words, distinct
from teams.flows.outputs import AnswerOutput, ConversationAnswer
from teams.flows.types import Instruction

MIN_USER_TURNS = 2  # a conversation has at least one follow-up
SHARED_WORDS = 0.6  # the share of refers_to's content words an earlier answer must hold


def _plain(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def refers_to_earlier(refers_to: str, earlier: str) -> bool:
    """Whether `refers_to` occurs in `earlier`, loosely: as words (case, spacing and punctuation
    aside), or most of its content words do."""
    quoted, said = _plain(refers_to), _plain(earlier)
    if quoted and f" {quoted} " in f" {said} ":
        return True
    words = content_words(refers_to)
    return bool(words) and len(words & content_words(earlier)) >= max(1, math.ceil(SHARED_WORDS * len(words)))


def check_user_turns(messages: Sequence[str], refers: Sequence[str], earlier: Sequence[str]) -> list[str]:
    """User turn k (its message and refers_to) against what the assistant said before it
    (`earlier[k]`); the first turn opens the conversation and refers to nothing."""
    if not distinct(list(messages)):
        return ["two user turns are the same"]
    for k in range(1, len(messages)):
        if not refers_to_earlier(refers[k], earlier[k]):
            return [f"user turn {k + 1} picks up {refers[k][:40]!r}, which no earlier answer says"]
    return []


def reply_said(reply: AnswerOutput) -> str:
    return f"{reply.explanation}\n{reply.final_answer}"


def check_conversation_answer(instruction: Instruction, answer: AnswerOutput) -> list[str]:
    """A conversation format's answer: the whole conversation, turn by turn."""
    turns = answer.turns if isinstance(answer, ConversationAnswer) else []
    if len(turns) < MIN_USER_TURNS:
        return [f"a conversation needs at least {MIN_USER_TURNS} user turns, got {len(turns)}"]
    replies = [t.reply.final_answer.strip() for t in turns]
    if any(len(r.split()) < 3 for r in replies):
        return ["every reply needs at least 3 words"]
    if not distinct(replies):
        return ["the replies repeat one another"]
    earlier = ["\n".join(reply_said(t.reply) for t in turns[:k]) for k in range(len(turns))]
    return check_user_turns([t.user for t in turns], [t.refers_to for t in turns], earlier)
