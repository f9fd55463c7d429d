"""CPU per model call, layer by layer: what each step from the bare openai SDK call up to an
AutoGen group chat adds. The figures behind the README's account of where a call's CPU goes.

    /path/to/python bench/call_overhead.py [--calls 400] [--concurrency 32]

Every row makes `--calls` structured-output calls (a transformer's schema, a 2,000-character
prompt), `--concurrency` at a time, against the fake endpoint of bench/throughput.py with no
latency, in this process (its garbage collector set as a run sets it), and prints CPU milliseconds
per call (the group chat's conversations make two calls each).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import warnings
from collections.abc import Awaitable, Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


async def cpu_per_call(make_call: Callable[[], Awaitable[object]], calls: int, concurrency: int) -> float:
    gate = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with gate:
            await make_call()

    await make_call()  # connections, caches and imports are not the call's cost
    start = time.process_time()
    await asyncio.gather(*(one() for _ in range(calls)))
    return 1000 * (time.process_time() - start) / calls


async def measure(base_url: str, calls: int, concurrency: int) -> None:
    import openai
    from autogen_agentchat.agents import AssistantAgent
    from autogen_agentchat.messages import StructuredMessage
    from autogen_agentchat.teams import RoundRobinGroupChat
    from autogen_core.models import SystemMessage, UserMessage

    from agents.models import ModelSpec, Sampling
    from agents.models.openai_compatible import build_openai
    from agents.models.wrapping import response_format_of
    from teams.engine.process import collect_less, quiet_autogen
    from teams.flows.outputs import TransformOutput

    quiet_autogen()
    collect_less()  # the garbage collector as a run sets it
    system = "You rewrite texts for reading-comprehension questions. " * 8
    task = "Rewrite this text as a debate.\n\nText:\n" + "The ferry crossed the bay at dawn. " * 50
    sdk = openai.AsyncOpenAI(base_url=base_url, api_key="not-needed", max_retries=0)
    body = {
        "model": "fake-model",
        "messages": [{"role": "system", "content": system}, {"role": "user", "content": task}],
        "response_format": response_format_of(TransformOutput),
    }
    os.environ.setdefault("OPENAI_API_KEY", "not-needed")
    client = build_openai(ModelSpec(model="fake-model", base_url=base_url), Sampling())
    messages = [SystemMessage(content=system), UserMessage(content=task, source="user")]

    def agent(name: str) -> AssistantAgent:
        return AssistantAgent(name, model_client=client, system_message=system, output_content_type=TransformOutput)

    async def bare() -> None:
        await sdk.chat.completions.create(**body)  # type: ignore[call-overload]

    async def parse() -> None:
        await sdk.beta.chat.completions.parse(model="fake-model", messages=body["messages"], response_format=TransformOutput)  # type: ignore[arg-type]

    async def through_client() -> None:
        await client.create(messages, json_output=TransformOutput)

    async def lone_agent() -> None:
        async for _ in agent("transformer").run_stream(task=task):
            pass

    async def group_chat() -> None:  # two agents, one turn each: two calls
        team = RoundRobinGroupChat(
            [agent("suggester"), agent("editor")], max_turns=2, custom_message_types=[StructuredMessage[TransformOutput]]
        )
        async for _ in team.run_stream(task=task):
            pass

    rows = [
        ("bare SDK create(), response_format dict (httpx)", bare, 1),
        ("SDK beta parse(), pydantic class (httpx)", parse, 1),
        ("agentinstruct's OpenAI client (AutoGen's, direct, aiohttp)", through_client, 1),
        ("a lone AssistantAgent on that client", lone_agent, 1),
        ("a 2-agent RoundRobinGroupChat, per call", group_chat, 2),
    ]
    print(f"{calls} calls, {concurrency} at a time, fake endpoint with no latency")
    for label, call, calls_each in rows:
        value = await cpu_per_call(call, calls // calls_each, concurrency) / calls_each
        print(f"  {label:<58} {value:6.2f} CPU ms per call", flush=True)
    await sdk.close()
    await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")  # the SDK's parsed types warn as AutoGen dumps them
    from bench.throughput import Endpoint

    endpoint = Endpoint(0.0)
    try:
        asyncio.run(measure(endpoint.base_url, args.calls, args.concurrency))
    finally:
        endpoint.close()


if __name__ == "__main__":
    main()
