"""`python -m teams.cli ...`: the `agentinstruct` command."""

from teams.cli import main

main()
