"""Tool use's content transformation: the code seed becomes a documented toolset. An API extractor
documents the seed's public functions; an API retriever calls its search tool (a FunctionTool over
the code index) as many times as it needs, each query written after reading the last results,
and documents the related code it finds; where the index gives nothing relevant,
a library reconstructor imagines the sibling APIs the library most likely has."""

from __future__ import annotations

import ast
import asyncio
from collections.abc import Sequence

from autogen_core.tools import FunctionTool

from agents.factory import build_agent
from agents.personas import Persona
from retrieval.code_index import CodeIndex, Hit, file_name
from retrieval.seeds import Seed
from teams.flows.runtime import Attempts, FlowEnv, SeedLog, json_hint, run_team
from teams.skills.tool_use.checks import check_api_doc
from teams.skills.tool_use.prompts import PROMPTS
from teams.skills.tool_use.schemas import ApiDoc, ApiListOutput, ToolSpec, toolset_text

SEARCH_K = 5
# Cosine distance under which a search result counts as related code (MiniLM: about 0.3 for a
# near paraphrase, 0.6-0.7 for the same topic, 0.9+ for unrelated code).
RELEVANT_DISTANCE = 0.8
MAX_TOOLSET = 8


def _key(name: str) -> str:
    return name.rsplit(".", 1)[-1].replace("_", "").lower()


def _add(
    tools: list[ToolSpec], docs: Sequence[ApiDoc], origin: str, sources: dict[str, str] | None = None
) -> list[ToolSpec]:
    """The docs that pass their checks and are new to the toolset, appended to it."""
    added = []
    for doc in docs:
        if check_api_doc(doc) or any(_key(t.name) == _key(doc.name) for t in tools) or len(tools) >= MAX_TOOLSET:
            continue
        spec = ToolSpec.from_doc(doc, origin, (sources or {}).get(_key(doc.name), ""))
        tools.append(spec)
        added.append(spec)
    return added


def signatures(code: str) -> list[str]:
    """The Python functions and methods of a seed as one-line signatures (a hint for the extractor)."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return []
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not node.name.startswith("_"):
            doc = (ast.get_docstring(node) or "").strip().split("\n")[0]
            lines.append(f"def {node.name}({ast.unparse(node.args)})" + (f": {doc}" if doc else ""))
    return lines


async def extract_apis(env: FlowEnv, log: SeedLog, seed: Seed, extractor: Persona) -> list[ToolSpec]:
    """The seed's APIs as documented by the extractor; empty when every attempt failed."""
    hints = signatures(seed.text)
    task = PROMPTS.render(
        "extract", source=file_name(seed.source), code=seed.text, functions="\n".join(hints),
        json_hint=json_hint(ApiListOutput),
    )  # fmt: skip
    attempts = Attempts(env, log, "content_transformation", "extract_apis")
    for record in attempts:
        outputs = await run_team([build_agent(extractor, env.pool, ApiListOutput, {"skill": env.skill})],
                                 [ApiListOutput], task, 1, record)  # fmt: skip
        tools: list[ToolSpec] = []
        source = env.source_name(seed)
        for _, output in outputs:
            if isinstance(output, ApiListOutput):
                _add(tools, output.apis, "extracted", {_key(h.split("(")[0][4:]): source for h in hints})
        if tools:
            return tools
        attempts.reject("no well-formed API documentation")
    attempts.give_up()
    return []


async def retrieve_apis(
    env: FlowEnv, log: SeedLog, tools: list[ToolSpec], index: CodeIndex, retriever: Persona
) -> tuple[list[ToolSpec], list[Hit]]:
    """The retriever searches the index with its tool as many times as it needs (at most
    `max_searches`), each query written after reading what the last ones returned, then
    documents what it found; it must search once and stops when it answers without a call.
    Returns the APIs it added (only ones naming code the search returned) and the related hits."""
    searched: list[Hit] = []
    limit = env.settings.max_searches
    calls = 0

    async def search_code(query: str) -> str:
        """Search the code index by meaning; returns the nearest functions, classes and methods (file:line) not returned before."""
        nonlocal calls
        calls += 1
        if calls > limit:
            return f"search limit reached ({limit} searches): document what you have found"
        seen = {h.location for h in searched}
        hits = await asyncio.to_thread(index.query, query, SEARCH_K + len(tools) + len(seen))
        hits = [h for h in hits if h.location not in seen and all(_key(h.name) != _key(t.name) for t in tools)]
        hits = hits[:SEARCH_K]
        searched.extend(hits)
        if not hits:
            return "no new results"
        return "\n\n".join(
            f"{h.name} ({h.kind}) at {h.short_location}, distance {h.distance:.2f}:\n{h.text[:700]}" for h in hits
        )

    task = PROMPTS.render(
        "retrieve", toolset=toolset_text(tools), max_searches=limit, json_hint=json_hint(ApiListOutput)
    )
    attempts = Attempts(env, log, "content_transformation", "retrieve_apis")
    for record in attempts:
        searched.clear()
        calls = 0
        search = FunctionTool(search_code, description=search_code.__doc__ or "", name="search_code", strict=True)
        agent = build_agent(retriever, env.pool, ApiListOutput, {"skill": env.skill}, tools=[search],
                            force_tools=True, max_tool_iterations=limit)  # fmt: skip
        outputs = await run_team([agent], [ApiListOutput], task, 1, record)
        if not searched and not any(m.type == "ToolCallExecutionEvent" for m in record.messages):
            attempts.reject("the retriever did not call search_code")
        else:
            relevant = [h for h in searched if h.distance <= RELEVANT_DISTANCE]
            if not relevant:
                return [], []  # nothing related in the index: the library reconstructor takes over
            found = {_key(h.name): h.short_location for h in relevant}  # not where the corpus is, as in the prompts
            docs = [d for _, o in outputs if isinstance(o, ApiListOutput) for d in o.apis if _key(d.name) in found]
            added = _add(tools, docs, "retrieved", found)
            if added:
                return added, relevant
            attempts.reject("documented none of the related code the search returned")
    attempts.give_up()
    return [], []


async def reconstruct_apis(env: FlowEnv, log: SeedLog, tools: list[ToolSpec], reconstructor: Persona) -> list[ToolSpec]:
    """APIs the library most likely also has, imagined from the toolset."""
    task = PROMPTS.render("reconstruct", toolset=toolset_text(tools), json_hint=json_hint(ApiListOutput))
    attempts = Attempts(env, log, "content_transformation", "reconstruct_apis")
    for record in attempts:
        outputs = await run_team([build_agent(reconstructor, env.pool, ApiListOutput, {"skill": env.skill})],
                                 [ApiListOutput], task, 1, record)  # fmt: skip
        added = [s for _, o in outputs if isinstance(o, ApiListOutput) for s in _add(tools, o.apis, "reconstructed")]
        if added:
            return added
        attempts.reject("no new well-formed API")
    attempts.give_up()
    return []
