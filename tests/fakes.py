"""Fakes for the flows: a ModelPool of ReplayChatCompletionClients (one per model role), and a
responder for the fake OpenAI server that plays a competent model for each of our schemas."""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Sequence
from itertools import count
from typing import Any

from autogen_ext.models.replay import ReplayChatCompletionClient

from agents.models import ModelPool, ModelSpec, Sampling

ROLES = (
    "transformer",
    "instruction_writer",
    "suggester",
    "editor",
    "teacher",
    "judge",
    "transform_reviewer",
    "user_simulator",
)


def replay_pool(scripts: dict[str, Sequence[str]]) -> tuple[ModelPool, dict[str, ReplayChatCompletionClient]]:
    """A pool whose every role answers from its own replay script, in call order."""
    spec = ModelSpec().model_info()
    clients = {role: ReplayChatCompletionClient(list(scripts.get(role, [])), model_info=spec) for role in ROLES}

    def factory(model_spec: ModelSpec, sampling: Sampling) -> ReplayChatCompletionClient:
        return clients[model_spec.model.removeprefix("fake-")]

    pool = ModelPool({role: ModelSpec(model=f"fake-{role}") for role in ROLES}, factory=factory)
    return pool, clients


def judge_json(
    score: int, criteria: Sequence[str] = ("correctness", "faithfulness", "difficulty", "instruction_following")
) -> str:
    """A judge's verdict giving every criterion the same score."""
    return json.dumps({name: {"reason": f"{name} looks like a {score}.", "score": score} for name in criteria})


def transform_json(passage: str) -> str:
    return json.dumps({"passage": passage})


def instructions_json(*questions: tuple[str, list[str]]) -> str:
    return json.dumps({"instructions": [{"question": q, "options": o, "answer": "A"} for q, o in questions]})


def answer_json(final: str, explanation: str = "The passage states it directly, in its second sentence.") -> str:
    return json.dumps({"explanation": explanation, "final_answer": final})


_counter = count(1)
UNANSWERABLE_MARK = "[the relevant sentence was removed]"


def _task_text(request: dict[str, Any]) -> str:
    users = [m["content"] for m in request["messages"] if m["role"] == "user" and isinstance(m["content"], str)]
    return users[0] if users else ""


def _passage(task: str) -> str:
    match = re.search(
        r"(?:Passage|Text):\n(.*?)(?:\n\n(?:Question:|Specialists|Answer with|Refinement)|\Z)", task, re.S
    )
    return match.group(1).strip() if match else task


def _schema(request: dict[str, Any]) -> dict[str, Any]:
    return (request.get("response_format") or {}).get("json_schema", {}).get("schema", {})


def _option_count(request: dict[str, Any]) -> int:
    """How many options the requested schema allows (a writer's or editor's schema fixes it per format)."""
    schema = _schema(request)
    holders = [schema, *schema.get("$defs", {}).values()]
    for holder in holders:
        options = holder.get("properties", {}).get("options")
        if options:
            return min(4, options.get("maxItems", 4))
    return 0


def schema_kind(request: dict[str, Any]) -> str:
    """Which of our outputs a request asks for, by the fields of its schema (class names vary by format)."""
    schema = _schema(request)
    if "CriterionScore" in schema.get("$defs", {}):
        return "judge"
    fields = set(schema.get("properties", {}))
    kinds = {
        frozenset({"passage"}): "transform",
        frozenset({"instructions"}): "instructions",
        frozenset({"suggestions"}): "suggestions",
        frozenset({"edits"}): "edits",
        frozenset({"passage", "question", "options"}): "edit",
        frozenset({"explanation", "final_answer"}): "answer",
        frozenset({"fixes", "approved"}): "review",
    }
    return kinds.get(frozenset(fields), "text")


def competent_responder(request: dict[str, Any], n: int | None = None) -> str:
    """Answers each agentinstruct schema the way a good model would, so checks pass."""
    special = skill_response(request)  # the other skills' personas
    if special is not None:
        return special
    kind = schema_kind(request)
    if kind == "review":  # a transformation reviewer: the fake transformer keeps the facts
        return json.dumps({"fixes": [], "approved": True})
    task = _task_text(request)
    n = next(_counter) if n is None else n
    if kind == "transform":
        return transform_json(f"In the form asked for, the text reads: {_passage(task)}")
    options = _option_count(request)
    if kind == "instructions":
        return instructions_json(
            (
                f"Which statement is best supported (q{n})? Fill ____ if needed.",
                ["one", "two", "three", "four"][:options],
            ),
            (
                f"Which detail does the passage give first (q{n}b)? Answer ____.",
                ["first", "second", "third", "fourth"][:options],
            ),
        )
    if kind == "suggestions":
        ideas = [f"Suggestion {n}: change a key sentence.", "Make the distractors closer.", "Add a step of reasoning."]
        size = _schema(request)["properties"]["suggestions"].get("minItems", 2)
        return json.dumps({"suggestions": [ideas[i % 3] + ("" if i < 3 else f" ({i})") for i in range(size)]})
    if kind == "edits":
        passage = _passage(task)
        if "make_unanswerable" in task:
            passage = f"{passage.split('.')[0]}. {UNANSWERABLE_MARK}"
        size = _schema(request)["properties"]["edits"]["minItems"]
        edit = {"question": f"Edited question {n} ____?", "options": ["w", "x", "y", "z"][:options]}
        return json.dumps({"edits": [{"passage": f"{passage} (edited {n}.{k})", **edit} for k in range(1, size + 1)]})
    if kind == "answer":
        choices = _schema(request)["properties"]["final_answer"].get("enum")
        if UNANSWERABLE_MARK in task:
            return answer_json(choices[-1] if choices else "It cannot be answered from the passage.")
        if choices:
            return answer_json(choices[0])
        return answer_json(
            "3 facts support it.",
            "The passage states this plainly in its opening lines and repeats it later with more detail.",
        )
    if kind == "judge":
        return judge_json(4, list(_schema(request)["properties"]))
    return f"plain answer {n}"


# --- the other skills: a competent model per skill and answer format ----------------------------
# Our personas of the other skills say "Skill being taught: <skill>." in their system message; the
# writer's system message names the instruction type, which the fake writes into its questions so
# that the fake teacher (which sees only the question) can answer each type the way it must be.

SKILL_LINE = re.compile(r"Skill being taught: ([a-z ]+)\.")
TYPE_LINE = re.compile(r"of the type '([^']+)'")
TYPE_TAG = re.compile(r"\[type: ([a-z_ ]+)\]")
GOAL_LINE = re.compile(r"Refinement goal: ([a-z_]+)")
KEYS_LINE = re.compile(r"Return a JSON object with exactly these keys: ([^\n]+)")
PAGE_ID = re.compile(r"^\s*\[(\w+)\]", re.MULTILINE)
GOOD_EXPLANATION = "Experts agree on this point, and standard references describe it the same way in several places."


def _system(request: dict[str, Any]) -> str:
    systems = [m["content"] for m in request["messages"] if m["role"] == "system" and isinstance(m["content"], str)]
    return systems[0] if systems else ""


def _fields(request: dict[str, Any]) -> set[str]:
    return set(_schema(request).get("properties", {}))


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", " ".join(text.split())) if len(s.strip()) > 3]


def _transform(skill: str, seed: str) -> str:
    facts = _sentences(seed) or [seed]
    if skill == "web_agent":
        return "\n".join(
            [
                '[1] heading "Topic page"',
                '[2] link "Home"',
                '[3] searchbox "Search the site"',
                '[4] button "Search"',
                f'[5] StaticText "{facts[0][:120]}"',
                '[6] textbox "Your email"',
                '[7] button "Subscribe"',
            ]
        )
    if skill == "data_to_text":
        rows = [f"fact_{i}: {fact}" for i, fact in enumerate(facts[:6], start=1)]
        return "\n".join(rows + ["source: the seed document"] * max(0, 3 - len(rows)))
    if skill == "retrieval_augmented_generation":
        return "\n".join(
            [f"[1] Encyclopedia: {facts[0]}", f"[2] Handbook: {' '.join(facts[1:3]) or facts[0]}",
             "[3] Travel blog: A weekend guide to mountain cafes and their opening hours."]
        )  # fmt: skip
    if skill == "coding":
        return "```python\ndef total(values: list[int]) -> int:\n    return sum(values)\n```"
    return f"In the form asked for, the text reads: {seed}"


def _drafts(skill: str, fmt: str, kind: str, n: int, options: int) -> list[dict[str, Any]]:
    tag = f"[type: {kind}]"
    question = f"{tag} Which fact matters most for the topic of bees and bread (q{n})?"
    draft: dict[str, Any] = {"question": question, "options": [], "answer": "A"}
    if fmt == "multiple_choice":
        draft["options"] = ["one", "two", "three", "four"][:options]
    elif fmt == "label":
        labels = ["entailment", "contradiction", "neutral"] if "entailment" in kind else ["positive", "negative"]
        draft.update(options=labels, answer=labels[0])
    elif fmt == "json":
        draft.update(options=["first_word", "second_word"], question=f"{tag} Extract the first two words (q{n}).")
    elif fmt == "few_shot":
        draft.update(
            options=["Input: 2 + 3. Answer: 2 + 3 = 5", "Input: 4 + 1. Answer: 4 + 1 = 5"],
            question=f"{tag} Input: 6 + 2 (q{n}), solved like the 2 examples above.",
            answer="8",
        )
    elif fmt == "conversation":
        draft.update(
            question=f"{tag} What does this text say about bees (q{n})?",
            follow_ups=["Why is that important?", "And how does that compare with bread making?"],
        )
    elif fmt == "rewrite":
        draft["question"] = f"{tag} Apply this edit to the text (q{n})."
    return [draft]


def _rewrite(kind: str, passage: str, task: str) -> str:
    words = passage.split()
    by_kind = {
        "text expansion": f"{passage} It also adds a further explanation and a clear example for every reader.",
        "text removing": " ".join(words[: max(3, len(words) // 2)]),
        "text translation": "Voici une version traduite du texte, fidèle au sens original et complète.",
        "text formatting": "\n".join(f"- {s}" for s in _sentences(passage)),
        "text annotation": f"[FACT] {passage}",
        "text capitalization": passage.upper(),
    }
    text = by_kind.get(kind, f"In other words: {passage}")
    if "rhyming_poem" in task:
        text = "The bees all hum,\nthe bread will come,\nthe facts we keep,\nin verses deep."
    if "social_media_post" in task:
        text += " #facts 🐝"
    return text


def _answer(skill: str, fmt: str, request: dict[str, Any], task: str, n: int = 0) -> str:
    passage = _passage(task)
    tag = TYPE_TAG.search(task)
    kind = tag.group(1) if tag else ""
    choices = _schema(request)["properties"]["final_answer"].get("enum")
    if UNANSWERABLE_MARK in task or kind == "insufficient context":
        return answer_json(choices[-1] if choices else "The passages do not give enough information to answer.")
    if choices:
        return answer_json(choices[0], GOOD_EXPLANATION)
    if fmt == "conversation":  # one reply per turn, each its own
        return answer_json(f"Reply {n} says the colony keeps nectar {n} as honey.", "The text covers it.")
    keys = KEYS_LINE.search(task)
    first_words = passage.split()
    simple = {
        "json": lambda: (
            json.dumps({k.strip(): first_words[i] for i, k in enumerate(keys.group(1).split(","))}) if keys else "{}"
        ),
        "code": lambda: "```python\ndef total(values: list[int]) -> int:\n    return sum(values)\n```",
        "estimate": lambda: "about 6 x 10^3 loaves a week",
        "actions": lambda: "\n".join(f"click [{ref}]" for ref in PAGE_ID.findall(passage)[:2]),
        "grounded": lambda: f"According to [1], {passage.splitlines()[0].split(':', 1)[-1].strip()}",
        "few_shot": lambda: "8",
        "rewrite": lambda: _rewrite(kind, passage, task),
        "prose": lambda: (
            "The data records the following facts in order: "
            + " ".join(line.split(":", 1)[-1].strip() for line in passage.splitlines())
        ),
        "creative": lambda: (
            "A hive of gold,\nA loaf of old,\nThe stories told,\nOf warmth and cold.\nWe sing them bold."
        ),
    }
    explanations = {
        "estimate": "Assume about 3,000 households, roughly 2 loaves each per week, so 3,000 x 2 = 6,000.",
        "few_shot": "Following the examples, add the two numbers step by step: 6 + 2 = 8.",
    }
    if fmt in simple:
        return answer_json(simple[fmt](), explanations.get(fmt, GOOD_EXPLANATION))
    return answer_json("3 facts support it.", GOOD_EXPLANATION)


def _format_of(skill: str, kind: str) -> str:
    """The answer format of an instruction type, from the skill's taxonomy."""
    from taxonomies import load_taxonomy

    for sub in load_taxonomy(skill).subcategories:
        if sub.name == kind.replace(" ", "_"):
            return sub.answer_format
    return ""


def skill_response(request: dict[str, Any]) -> str | None:
    """A competent answer for the skills other than reading comprehension; None for the rest."""
    found = SKILL_LINE.search(_system(request))
    if not found:
        return None
    skill = found.group(1).replace(" ", "_")
    fields = _fields(request)
    task = _task_text(request)
    named = TYPE_LINE.search(_system(request)) or TYPE_TAG.search(task)
    kind = named.group(1) if named else ""
    fmt = _format_of(skill, kind)
    n = next(_counter)
    if fields == {"passage"}:
        return transform_json(_transform(skill, _passage(task)))
    if fields == {"message", "refers_to", "done"}:
        return user_turn_json(request)
    if fields == {"instructions"}:
        return json.dumps({"instructions": _drafts(skill, fmt, kind, n, _option_count(request))})
    if fields == {"edits"}:  # an editor: one edit per suggestion
        size = _schema(request)["properties"]["edits"]["minItems"]
        return json.dumps({"edits": [_skill_edit(request, task, fmt, n, k) for k in range(1, size + 1)]})
    if "final_answer" in fields:
        return _answer(skill, fmt, request, task, n)
    return None


def user_turn_json(request: dict[str, Any]) -> str:
    """A user simulator: picks up the last words of the assistant's last answer (the last message
    it read) and asks about them; its need is met after a turn or two, by a rule of the answer's
    text, so conversations run to different lengths."""
    messages = request["messages"]
    answer = str(messages[-1]["content"])  # the teacher's structured answer, as JSON
    with contextlib.suppress(ValueError, AttributeError):
        answer = str(json.loads(answer).get("final_answer", answer))
    own_turns = sum(m["role"] == "assistant" for m in messages)
    words = re.findall(r"[\w,]+", answer)
    refers = " ".join(words[-4:]) or answer[:30]
    done = own_turns >= 1 and int(hashlib.sha256(answer.encode()).hexdigest()[:4], 16) % 3 == 0
    message = "Thanks, that is all I needed." if done else f"You said '{refers}': why is that so?"
    return json.dumps({"message": message, "refers_to": refers, "done": done})


def _skill_edit(request: dict[str, Any], task: str, fmt: str, n: int, k: int) -> dict[str, Any]:
    """One of the other skills' editor's edits (the k-th of its round)."""
    passage = _passage(task)
    goal = GOAL_LINE.search(task)
    goal_name = goal.group(1) if goal else ""
    if goal_name == "make_unanswerable":
        passage = f"{passage}\n{UNANSWERABLE_MARK}"
    if goal_name == "social_media_post":
        passage = f"{passage} #facts 🐝"
    tag = TYPE_TAG.search(task)
    edit: dict[str, Any] = {
        "passage": f"{passage}\n(edited {n}.{k})",
        "question": f"{tag.group(0) if tag else ''} Edited question {n} ({goal_name}), harder than before?",
        "options": ["w", "x", "y", "z"][: _option_count(request)],
    }
    if fmt == "few_shot":
        edit["options"] = ["Input: 1 + 1. Answer: 1 + 1 = 2", "Input: 3 + 3. Answer: 3 + 3 = 6"]
    if "follow_ups" in _fields(request) or "follow_ups" in str(_schema(request).get("$defs", {})):
        edit["follow_ups"] = ["Why would that be?", "What follows from that for bees?"]
    return edit


def deterministic_responder(request: dict[str, Any]) -> str:
    """The competent model, giving the same answer to the same request whatever the order of
    calls: two runs (say, with and without Ray) can be compared record by record."""
    digest = hashlib.sha256(json.dumps(request["messages"], sort_keys=True).encode()).hexdigest()
    return competent_responder(request, n=int(digest[:8], 16) % 100_000)
