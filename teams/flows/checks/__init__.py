"""Checks that keep only sound pairs. Each returns the problems it found (empty = passes).

`check_draft` screens a writer's question before it goes any further (drafts.py); `check_answer`
screens the teacher's answer against its question (answers.py). Both are registries keyed by
answer format; conversation.py checks the user turns a user simulator wrote; text.py holds what they read in a text, which the skills' own checks use too.
"""

from teams.flows.checks.answers import ANSWER_CHECKS, LONG_FORMS, check_answer, says_unanswerable
from teams.flows.checks.conversation import check_user_turns, refers_to_earlier
from teams.flows.checks.drafts import DRAFT_CHECKS, check_draft
from teams.flows.checks.text import (
    CITATION,
    UNANSWERABLE,
    chosen_option,
    code_blocks,
    content_words,
    distinct,
    parse_actions,
    parse_json_object,
    promised_examples,
)

__all__ = [
    "ANSWER_CHECKS",
    "CITATION",
    "DRAFT_CHECKS",
    "LONG_FORMS",
    "UNANSWERABLE",
    "check_answer",
    "check_draft",
    "check_user_turns",
    "chosen_option",
    "code_blocks",
    "content_words",
    "distinct",
    "parse_actions",
    "parse_json_object",
    "promised_examples",
    "refers_to_earlier",
    "says_unanswerable",
]
