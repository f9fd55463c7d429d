"""Exact and near duplicates, and decontamination, on crafted records; the state survives a
reopened run folder (resume) and is rebuilt from records.jsonl."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from retrieval.seeds import Seed
from teams.cli.app import app
from teams.engine.quality import Decontaminator, QualityError, QualityGate, QualitySettings, normalise
from teams.flows.types import Record, SeedTranscript
from teams.runfolder import RunFolder, SeedOutcome, SeedStatus
from teams.runfolder.records import context_text, instruction_text
from tests.conftest import TINY_SEED

BEES = "Honeybees live in colonies of up to 60,000 bees. The queen lays eggs while workers gather nectar all day."
RIVERS = "The Danube flows through ten countries, more than any other river, before it reaches the Black Sea."


def record(rid: str, question: str, passage: str, seed: str = "s1", key: str | None = None) -> dict[str, Any]:
    return {
        "id": rid,
        "skill": "reading_comprehension",
        "subcategory": "main_idea",
        "messages": [
            {
                "role": "user",
                "content": f"Read the passage and answer the question.\n\nPassage:\n{passage}\n\nQuestion:\n{question}",
            },
            {"role": "assistant", "content": "Final answer: A"},
        ],
        "meta": {"seed_id": seed, "instruction_key": key or rid, "instruction": question},
    }


def verdicts(gate: QualityGate, records: list[dict[str, Any]]) -> dict[str, str | None]:
    return {r["id"]: (v[0] if v else None) for r, v in zip(records, gate.review(records), strict=True)}


def test_exact_and_near_duplicates_are_dropped_and_different_items_kept(tmp_path: Path) -> None:
    gate = QualityGate(QualitySettings()).open(RunFolder.create(tmp_path, "q"))
    crafted = [
        record("a", "Which statement most strengthens the claim about colonies?", BEES, seed="s1"),
        # the same prompt, up to case, spacing and punctuation: an exact duplicate
        record("b", "which statement MOST strengthens the claim about colonies", BEES.replace(". ", ".  "), seed="s2"),
        # reworded, on the same passage: a near duplicate
        record("c", "Which statement best strengthens the claim about the colonies?", BEES, seed="s3"),
        # another question about the same passage: kept
        record("d", "How many eggs does a worker bee lay each day?", BEES, seed="s1"),
        # the first question, about a different passage: kept
        record("e", "Which statement most strengthens the claim about colonies?", RIVERS, seed="s4"),
        # a refinement of 'a' (same chain) that barely changes it: a variant made on purpose, kept
        record(
            "a.r1",
            "Which statement most strengthens the claim about colonies?",
            BEES + " Drones do not work.",
            seed="s1",
            key="a.make_harder1",
        ),
    ]
    assert verdicts(gate, crafted) == {
        "a": None, "b": "duplicate", "c": "near_duplicate", "d": None, "e": None, "a.r1": None,
    }  # fmt: skip


def test_only_candidates_of_the_first_pass_are_embedded(tmp_path: Path) -> None:
    gate = QualityGate(QualitySettings()).open(RunFolder.create(tmp_path, "q"))
    distinct = [
        record("r1", "Which statement most strengthens the claim about colonies?", BEES, "s1"),
        record("r2", "Through how many countries does the Danube flow?", RIVERS, "s2"),
        record("r3", "Why did the mill close in 1890?", "The old mill on the canal closed in 1890 when rail freight got cheaper.", "s3"),
        record("r4", "What reflects light in a lighthouse?", "A lighthouse lens of glass prisms bends the lamp's light into one beam.", "s4"),
    ]  # fmt: skip
    assert set(verdicts(gate, distinct).values()) == {None}
    assert gate.index is not None and gate.index.embedded == 0  # no passage and question alike: nothing embedded
    paraphrase = record("p", "Through how many countries does the river Danube flow?", RIVERS, "s9")
    assert verdicts(gate, [paraphrase]) == {"p": "near_duplicate"}
    assert gate.index.embedded == 2  # the two instructions; one passage needs no embedding to be the same


def test_passages_sharing_under_60_percent_of_their_words_are_not_embedded_to_be_compared(tmp_path: Path) -> None:
    question = "Which statement most strengthens the claim about colonies?"
    # 51% of the prompts' words in common (MinHash estimates 58%: the first pass lets the pair through)
    far = "Honeybees live in colonies of up to 60,000 bees. The queen lays eggs while drones idle and scouts fly out to search hollow trees for a new nest each spring."
    near = BEES.removesuffix(".") + " and guard the hive at night."  # 80% in common
    gate = QualityGate(QualitySettings()).open(RunFolder.create(tmp_path, "q"))
    assert verdicts(gate, [record("a", question, BEES, "s1")]) == {"a": None}
    assert verdicts(gate, [record("b", question, far, "s2")]) == {"b": None}
    # not even the questions: whatever their similarity, the passages are not alike
    assert gate.index is not None and gate.index.embedded == 0
    verdicts(gate, [record("c", question, near, "s3")])
    assert gate.index.embedded == 3  # the question and both passages, compared by MiniLM

    # under a threshold of 0.9, where word overlap says less, every pair is compared as before
    lower = QualityGate(QualitySettings(near_duplicate_threshold=0.85)).open(RunFolder.create(tmp_path, "lower"))
    verdicts(lower, [record("a", question, BEES, "s1")])
    verdicts(lower, [record("b", question, far, "s2")])
    assert lower.index is not None and lower.index.embedded == 3


def test_passages_sharing_90_percent_of_their_words_are_alike_without_being_embedded(tmp_path: Path) -> None:
    """An edit that tags a passage (as refinement often does) leaves it nearly the same text: a
    paraphrased question on it is a near duplicate, found without MiniLM on the passages."""
    question = "Which statement most strengthens the claim about colonies?"
    passage = f"{BEES} {RIVERS}"
    tagged = f"{passage} (edited 3.1)"  # 93% of the prompts' words in common
    gate = QualityGate(QualitySettings()).open(RunFolder.create(tmp_path, "q"))
    assert verdicts(gate, [record("a", question, passage, "s1")]) == {"a": None}
    assert verdicts(gate, [record("b", question.replace("most ", ""), tagged, "s2")]) == {"b": "near_duplicate"}
    assert gate.index is not None and gate.index.embedded == 2  # the two questions, no passage

    # above a threshold of 0.95 MiniLM decides, on both passages
    strict = QualityGate(QualitySettings(near_duplicate_threshold=0.96)).open(RunFolder.create(tmp_path, "strict"))
    verdicts(strict, [record("a", question, passage, "s1")])
    verdicts(strict, [record("b", question, tagged, "s2")])
    assert strict.index is not None and strict.index.embedded == 3  # one question, both passages


def test_the_first_pass_leaves_out_passages_sharing_too_few_words_as_the_check_would(tmp_path: Path) -> None:
    """Passages the LSH finds but that share under 60% of their words are left out of the first
    pass's groups (their records could never be near duplicates), by the exact share of words;
    and a kept record is in an entry's groups the same whether the LSH is asked or not."""
    import random

    from teams.engine.first_pass import words, words_shared

    rng = random.Random(3)
    vocabulary = [f"word{i}" for i in range(60)]
    base = rng.sample(vocabulary, 30)
    passages = [" ".join(base[: 30 - k] + rng.sample(vocabulary, k)) for k in range(0, 30, 2)]
    gate = QualityGate(QualitySettings()).open(RunFolder.create(tmp_path, "q"))
    index = gate.index
    assert index is not None
    kept = [index.probe(record(f"k{i}", f"Question {i} on the text?", p, f"s{i}")) for i, p in enumerate(passages)]
    for entry in kept:
        index.add(entry)
    for i, passage in enumerate(passages):
        entry = index.probe(record(f"n{i}", "A question on the text?", passage, "new"))
        found = index.passage_lsh.query(index._passage_signature(entry.passage))
        groups = index._groups(entry)
        context = index.passages[entry.passage][0]
        shares = {k: words_shared(words(context), words(index.passages[k][0])) for k in found}
        assert sorted(groups) == sorted(k for k in found if shares[k] >= 0.6)
        assert [o.id for o in kept if index._in_group(entry, o)] == [o.id for o in kept if o.passage in groups]
    assert any(0.3 < s < 0.6 for s in shares.values())  # the LSH did find pairs the words rule leaves out


def test_the_similarity_to_a_kept_instruction_does_not_depend_on_the_other_candidates(tmp_path: Path) -> None:
    """Two kept records with the same instruction are equally similar to a new one, wherever they
    sit among the candidates: `twin` names the first kept, however many others the first pass found."""
    import numpy as np

    from teams.engine.first_pass import Entry

    gate = QualityGate(QualitySettings()).open(RunFolder.create(tmp_path, "q"))
    index = gate.index
    assert index is not None
    rng = np.random.default_rng(0)
    texts = [f"question {i}" for i in range(40)]
    for text in texts:  # vectors of our own: the property is the arithmetic's, for any vectors
        vector = rng.standard_normal(384).astype(np.float32)
        index._vectors[text] = vector / np.linalg.norm(vector)
    entry = Entry("new", "c", texts[0], None, "")
    alone = index._similarities(entry, [Entry("k", "k", texts[1], None, "")])[0]
    for count in range(2, 40):
        others = [Entry(f"o{i}", f"o{i}", texts[i], None, "") for i in range(2, count)]
        for place in range(len(others) + 1):
            candidates = [*others[:place], Entry("k", "k", texts[1], None, ""), *others[place:]]
            assert index._similarities(entry, candidates)[place] == alone


def test_a_seeds_records_are_embedded_in_one_batch_with_the_verdicts_of_one_by_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import retrieval.embedding as embedding

    question = "Which statement most strengthens the claim about colonies?"
    records = [
        record("a", question, BEES, seed="s1"),
        record("b", "Which statement best strengthens the claim about the colonies?", BEES, seed="s1"),
        record("c", "How many eggs does a worker bee lay each day?", BEES, seed="s1"),
        # the same question on the passage with a sentence more: both passages are compared (and differ enough)
        record("d", question + " ", BEES + " Drones do not work.", seed="s1", key="d"),
        record("e", "Through how many countries does the Danube flow?", RIVERS, seed="s1"),
        record("f", "Through how many countries does the river Danube flow?", RIVERS, seed="s1"),
    ]
    one_by_one = QualityGate(QualitySettings()).open(RunFolder.create(tmp_path, "one"))
    expected = [one_by_one.review([r])[0] for r in records]
    assert [v[0] if v else None for v in expected] == [None, "near_duplicate", None, None, None, "near_duplicate"]

    calls: list[int] = []
    real = embedding.embed_matrix

    def counted(texts: list[str], *args: Any, **kwargs: Any) -> Any:
        calls.append(len(texts))
        return real(texts, *args, **kwargs)

    monkeypatch.setattr(embedding, "embed_matrix", counted)
    together = QualityGate(QualitySettings()).open(RunFolder.create(tmp_path, "together"))
    assert together.review(records) == expected
    # the instructions in one batch, then the two passages in another, each shared by the gate's
    # thread and its helper (the five distinct instructions as three and two)
    assert sorted(calls) == [1, 1, 2, 3]

    # the instructions embedded ahead (another thread, before the seed's turn): the same verdicts,
    # and the gate itself embeds only the passages it compares
    calls.clear()
    ahead_gate = QualityGate(QualitySettings()).open(RunFolder.create(tmp_path, "ahead"))
    assert ahead_gate.index is not None
    ahead = ahead_gate.index.embed_ahead(records)
    instructions = {instruction_text(r) for r in records}
    # the two passages 'a' and 'd' have the gate compare (the seed's own records) too
    assert calls == [len(instructions), 2] and set(ahead) == instructions | {
        context_text(records[0]),
        context_text(records[3]),
    }
    assert ahead_gate.review(records, ahead) == expected
    assert calls == [len(instructions), 2]  # the gate embedded nothing itself


def test_instructions_the_gate_holds_already_are_not_embedded_ahead_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A later seed with an instruction an earlier one had: only its new texts are embedded ahead,
    with the same verdicts as embedding them all."""
    import retrieval.embedding as embedding

    question = "Which statement most strengthens the claim about colonies?"
    earlier = [
        record("a", question, BEES, seed="s1"),
        record("c", "How many eggs does a worker bee lay each day?", BEES, seed="s1"),
    ]
    later = [
        record("x", question, RIVERS, seed="s2"),  # the same question on another passage: kept
        record("y", "Through how many countries does the Danube flow?", RIVERS, seed="s2"),
        record("z", "Through how many countries does the river Danube flow?", RIVERS, seed="s2"),
    ]
    every_text = QualityGate(QualitySettings()).open(RunFolder.create(tmp_path, "all"))
    expected = [every_text.review(earlier), every_text.review(later)]
    assert [v[0] if v else None for v in expected[1]] == [None, None, "near_duplicate"]

    gate = QualityGate(QualitySettings()).open(RunFolder.create(tmp_path, "ahead"))
    assert gate.index is not None
    assert gate.review(earlier, gate.index.embed_ahead(earlier)) == expected[0]
    embedded: list[str] = []
    real = embedding.embed_matrix

    def counted(texts: list[str], *args: Any, **kwargs: Any) -> Any:
        embedded.extend(texts)
        return real(texts, *args, **kwargs)

    monkeypatch.setattr(embedding, "embed_matrix", counted)
    ahead = gate.index.embed_ahead(later)
    assert sorted(embedded) == sorted(instruction_text(r) for r in later[1:])  # not the first's again
    assert set(ahead) == set(embedded)
    assert gate.review(later, ahead) == expected[1]
    assert len(embedded) == 2  # the gate took the first question's vector from its own cache


def test_the_embedding_model_is_loaded_when_the_gate_opens_not_in_its_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import retrieval.embedding as embedding

    monkeypatch.setattr(embedding, "_encoder", None)
    QualityGate(QualitySettings(near_duplicate_threshold=1.0)).open(RunFolder.create(tmp_path, "exact"))
    assert embedding._encoder is None  # exact duplicates only: no model
    QualityGate(QualitySettings()).open(RunFolder.create(tmp_path, "near"))
    assert embedding._encoder is not None  # loaded before any seed is in flight


def test_thresholds_are_configurable(tmp_path: Path) -> None:
    pair = [
        record("a", "Which statement most strengthens the claim about colonies?", BEES, seed="s1"),
        record("c", "Which statement best strengthens the claim about the colonies?", BEES, seed="s3"),
    ]
    exact_only = QualityGate(QualitySettings(near_duplicate_threshold=1.0)).open(RunFolder.create(tmp_path, "q1"))
    assert verdicts(exact_only, pair) == {"a": None, "c": None}
    off = QualityGate(QualitySettings(dedup=False)).open(RunFolder.create(tmp_path, "q2"))
    assert off.review([pair[0], pair[0], pair[1]]) == [None, None, None]  # duplicates kept when dedup is off


def outcome(seed_id: str, records: list[dict[str, Any]]) -> SeedOutcome:
    return SeedOutcome(
        seed=Seed(id=seed_id, source=f"{seed_id}.md", text=BEES),
        records=[Record.model_validate(r) for r in records],
        status=SeedStatus(id=seed_id, source=f"{seed_id}.md", status="done", records=len(records)),
        transcript=SeedTranscript(seed_id=seed_id, source=f"{seed_id}.md"),
    )


def commit(folder: RunFolder, gate: QualityGate, item: SeedOutcome) -> SeedOutcome:
    """What the run driver does, in its order."""
    admitted = gate.admit(item)
    folder.commit(admitted)
    return admitted


def test_state_is_rebuilt_from_the_run_folder_on_reopen(tmp_path: Path) -> None:
    folder = RunFolder.create(tmp_path, "resume")
    gate = QualityGate(QualitySettings()).open(folder)
    first = commit(
        folder,
        gate,
        outcome("s1", [record("s1-a", "Which statement most strengthens the claim about colonies?", BEES, "s1")]),
    )
    assert len(first.records) == 1
    # a crash after the index took a record but before its seed was committed
    gate.admit(outcome("s9", [record("s9-x", "Why do rivers flood in spring after the snow melts?", RIVERS, "s9")]))

    reopened = QualityGate(QualitySettings()).open(folder)  # a resumed run
    assert reopened.index is not None and reopened.index.ids() == {"s1-a"}
    again = commit(folder, reopened, outcome("s2", [
        record("s2-a", "Which statement best strengthens the claim about the colonies?", BEES, "s2"),
        record("s2-b", "which statement most strengthens the claim about colonies", BEES, "s2"),
        record("s9-x", "Why do rivers flood in spring after the snow melts?", RIVERS, "s2"),
    ]))  # fmt: skip
    assert [r.id for r in again.records] == ["s9-x"]  # the uncommitted one is not a duplicate of anything
    assert again.status.dropped == {"near_duplicate": 1, "duplicate": 1} and again.status.records == 1
    dropped = [json.loads(line) for line in (folder.path / "dropped.jsonl").read_text().splitlines()]
    assert [d["id"] for d in dropped] == ["s2-a", "s2-b"]  # s9's lines went with its uncommitted seed
    assert dropped[0]["meta"]["dropped"]["reason"].endswith("to s1-a")


BENCHMARK_QUESTION = (
    "Honeybees live in colonies of up to sixty thousand bees and the queen lays all of the eggs, so which "
    "statement about workers must be true?"
)


def benchmark_files(tmp_path: Path) -> tuple[Path, Path]:
    jsonl = tmp_path / "bench.jsonl"
    jsonl.write_text(
        json.dumps({"question": BENCHMARK_QUESTION, "choices": ["A", "B"], "answer": "B"}) + "\n"
        + json.dumps({"question": "Short one.", "answer": "C"}) + "\n"
    )  # fmt: skip
    text = tmp_path / "bench.txt"
    text.write_text("The Danube flows through ten countries, more than any other river in the whole wide world today.")
    return jsonl, text


def test_decontamination_drops_prompts_that_share_a_long_ngram(tmp_path: Path) -> None:
    jsonl, text = benchmark_files(tmp_path)
    gate = QualityGate(QualitySettings(decontaminate=[jsonl, text])).open(RunFolder.create(tmp_path, "d"))
    words = normalise(BENCHMARK_QUESTION).split()
    crafted = [
        # 13 words of the benchmark question, in other case and punctuation: contaminated
        record(
            "hit",
            "What follows?",
            "HONEYBEES live in colonies, of up to sixty-thousand bees and the queen LAYS! Other text.",
        ),
        # 12 words of it: not enough
        record("near", "What follows?", " ".join(words[:12]) + " something else entirely different here."),
        # 13 words of the plain-text benchmark
        record(
            "text",
            "Which river is it?",
            "We know the Danube flows through ten countries, more than any other river in the whole wide world.",
            "s5",
        ),
        record("clean", "How many eggs does a worker lay?", BEES, "s6"),
    ]
    assert verdicts(gate, crafted) == {"hit": "contaminated", "near": None, "text": "contaminated", "clean": None}
    assert Decontaminator([jsonl], 13).match(crafted[0]) in {" ".join(words[:13]), " ".join(words[1:14])}


def test_bad_benchmark_files_are_one_line_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "fine and long enough to count as a text of thirteen words or more, yes"}\n{oops\n')
    binary = tmp_path / "bin.txt"
    binary.write_bytes(b"\x00\x01\x02")
    short = tmp_path / "short.txt"
    short.write_text("too short")
    for path, message in [
        (tmp_path / "missing.jsonl", "benchmark file not found"),
        (bad, "line 2: not JSON"),
        (binary, "binary"),
        (short, "no text of 13 words or more"),
    ]:
        with pytest.raises(QualityError, match=message):
            Decontaminator([path], 13)
    result = CliRunner().invoke(
        app,
        [
            "run",
            "reading_comprehension",
            "--seeds",
            str(TINY_SEED),
            "--decontaminate",
            str(bad),
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 2 and "line 2: not JSON" in result.stderr and "Traceback" not in result.stderr
    assert not any(tmp_path.glob("*/run.json"))  # refused before any run folder was made


def test_the_gate_runs_on_a_thread_of_its_own_and_gives_freed_memory_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio
    import threading

    import teams.engine.loop as loop
    from agents.models import ModelSpec
    from teams.engine import RunConfig, run_pipeline
    from tests.conftest import ferry_logs
    from tests.fake_openai import FakeOpenAIServer
    from tests.fakes import deterministic_responder

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    threads: list[str] = []
    released: list[int] = []
    real_admit = QualityGate.admit

    real_embed_ahead = QualityGate.embed_ahead
    ahead_threads: list[str] = []

    def embed_ahead(self: QualityGate, item: SeedOutcome) -> dict[str, Any]:
        ahead_threads.append(threading.current_thread().name)
        return real_embed_ahead(self, item)

    def admit(self: QualityGate, item: SeedOutcome, ahead: dict[str, Any] | None = None) -> SeedOutcome:
        threads.append(threading.current_thread().name)
        assert ahead and set(ahead) >= {r.meta["instruction"] for r in item.records}  # embedded before its turn
        return real_admit(self, item, ahead)

    monkeypatch.setattr(QualityGate, "embed_ahead", embed_ahead)
    monkeypatch.setattr(QualityGate, "admit", admit)
    monkeypatch.setattr(loop, "_release_freed_memory", lambda: lambda: released.append(1))
    with FakeOpenAIServer(deterministic_responder) as server:
        config = RunConfig(
            skill="reading_comprehension", seeds=ferry_logs(tmp_path / "seeds"), out=tmp_path, run_id="gate",
            concurrency=6, models={"default": ModelSpec(model="fake-model", base_url=server.base_url)},
        )  # fmt: skip
        _, info = asyncio.run(run_pipeline(config))
    assert info.status == "completed" and len(threads) == 6
    assert len(set(threads)) == 1 and threads[0].startswith("quality-gate")  # one thread, not the default executor's
    assert len(ahead_threads) == 6 and len(set(ahead_threads)) == 1 and ahead_threads[0].startswith("embed-ahead")
    assert len(released) == 6  # after every seed


def test_what_the_gate_embeds_itself_is_split_with_a_helper_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    import numpy as np

    import retrieval.embedding as embedding
    from teams.engine.near_duplicates import NearDuplicateIndex

    index = NearDuplicateIndex(0.95)
    texts = [f"Note {i}. {BEES}" for i in range(5)]
    one_thread = embedding.embed_matrix(texts, 4, 1)
    batches: dict[str, list[str]] = {}
    real = embedding.embed_matrix

    def recorded(batch: list[str], *args: Any, **kwargs: Any) -> Any:
        batches[threading.current_thread().name.split("_")[0]] = list(batch)
        return real(batch, *args, **kwargs)

    monkeypatch.setattr(embedding, "embed_matrix", recorded)
    vectors = index._embed(texts, 4)
    assert batches == {threading.current_thread().name: texts[:3], "gate-helper": texts[3:]}
    assert np.allclose(np.stack(vectors), one_thread, atol=1e-6)  # in order, as if embedded in one batch
    batches.clear()
    index._embed([*texts, "How many eggs does a worker bee lay each day?"], 4)
    assert batches == {threading.current_thread().name: ["How many eggs does a worker bee lay each day?"]}


def test_near_duplicate_search_keeps_numpys_blas_to_one_thread(tmp_path: Path) -> None:
    from threadpoolctl import threadpool_info, threadpool_limits

    def blas_threads() -> set[int]:
        return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}

    threadpool_limits(2, user_api="blas")
    assert blas_threads() == {2}
    QualityGate(QualitySettings(near_duplicate_threshold=1.0)).open(RunFolder.create(tmp_path, "exact"))
    assert blas_threads() == {2}  # exact duplicates only: no index, no limit
    QualityGate(QualitySettings()).open(RunFolder.create(tmp_path, "near"))
    assert blas_threads() == {1}


def test_a_batch_compared_with_earlier_seeds_and_its_own_gets_the_verdicts_of_one_by_one(tmp_path: Path) -> None:
    # the gate takes the first pass and similarities made for the batch against the records kept
    # before it, and adds those of the batch's own records kept since: the same verdicts, and the
    # same similarities, as comparing each record with everything kept when its turn comes
    earlier = [
        record("a", "Which statement most strengthens the claim about colonies?", BEES, seed="s1"),
        record("e", "Through how many countries does the Danube flow?", RIVERS, seed="s1"),
    ]
    batch = [
        record("x", "How many eggs does a worker bee lay each day?", BEES, seed="s2"),
        record("b", "Which statement best strengthens the claim about the colonies?", BEES, seed="s2"),
        record("y", "How many eggs does one worker bee lay each day?", BEES, seed="s2"),
        record("f", "Through how many countries does the river Danube flow?", RIVERS, seed="s2"),
        record("z", "What is the river that flows through ten countries?", RIVERS, seed="s2"),
    ]
    one_by_one = QualityGate(QualitySettings()).open(RunFolder.create(tmp_path, "one"))
    expected = [one_by_one.review([r])[0] for r in earlier + batch]
    near = "near_duplicate"
    assert [v[0] if v else None for v in expected] == [None, None, None, near, near, near, None]
    assert expected[3] is not None and "to a" in expected[3][1]  # kept before the batch
    assert expected[4] is not None and "to x" in expected[4][1]  # kept in the batch, just before

    batched = QualityGate(QualitySettings()).open(RunFolder.create(tmp_path, "batched"))
    assert batched.review(earlier) + batched.review(batch) == expected


def test_first_pass_finds_what_minhash_jaccard_finds_in_the_groups_asked() -> None:
    """The vectorised first pass keeps exactly the entries of the groups asked whose MinHash
    estimate is at or above the cut, as datasketch's own `jaccard` computes it, past a resize."""
    import random

    from teams.engine.first_pass import INSTRUCTION_OVERLAP, Entry, Signatures, minhash

    rng = random.Random(7)
    words = [f"w{i}" for i in range(40)]
    signatures = Signatures()
    entries = []
    for i in range(1500):  # more rows than the first allocation (1,024)
        text = " ".join(rng.sample(words, 10))
        entry = Entry(f"r{i}", f"c{i}", text, minhash(text), "")
        signatures.add(entry, group=f"g{i % 7}")
        entries.append((entry, f"g{i % 7}"))
    query = minhash(" ".join(rng.sample(words, 10)))
    groups = ["g1", "g4", "g5"]
    expected = [e for e, g in entries if g in groups and query.jaccard(e.signature) >= INSTRUCTION_OVERLAP]
    found = signatures.overlapping(query, groups)
    assert found == expected
    assert 0 < len(found) < sum(1 for _, g in entries if g in groups)  # the cut kept some, not all
    assert signatures.overlapping(query, []) == []


def test_signatures_drawn_with_the_shared_permutations_are_datasketchs_own() -> None:
    """`minhash` draws datasketch's permutations once, not for every signature: the signatures
    are the ones a fresh `MinHash(num_perm, seed=1)` gives, so a resumed run's index matches."""
    from datasketch import MinHash

    from teams.engine.first_pass import PERMUTATIONS, minhash, words

    for text in ("Which statement about bees is best supported?", "", "the the the", "Ünïcode words, too"):
        fresh = MinHash(num_perm=PERMUTATIONS, seed=1)
        fresh.update_batch(list(words(text)))
        first, again = minhash(text), minhash(text)
        assert (first.hashvalues == fresh.hashvalues).all() and (again.hashvalues == fresh.hashvalues).all()
        assert first.permutations is again.permutations  # drawn once
