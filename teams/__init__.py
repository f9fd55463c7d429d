"""How the agents converse: the AgentInstruct method, and what runs it.

    flows/      the method's steps as AutoGen teams (transform, instruct, refine, answer, judge),
                the team runtime they share, their prompts as YAML
    skills/     one module per skill, each a team script (`python -m teams.skills.<skill>`)
    engine/     a run's config, its validation, the per-seed entry, the run loop, workers, Ray
    runfolder/  the one owner of the run-folder format
    report/     stats, export, the HTML viewer
    cli/        the `agentinstruct` command

Imports go one way: cli -> report -> engine -> skills -> runfolder -> flows -> agents ->
retrieval, taxonomies (tests/test_layout.py keeps it so). This module imports nothing, so
that `python -m teams.cli` starts fast.
"""
