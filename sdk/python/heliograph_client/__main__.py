"""`python -m heliograph_client …` is the `heliograph` command."""

from heliograph_client.cli import main

main()
