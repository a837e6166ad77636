"""`python -m cli` runs the `mailops` command."""

from cli.app import main

main()
