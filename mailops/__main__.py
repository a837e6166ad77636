"""`python -m mailops` runs the `mailops` command."""

from mailops.cli import main

main()
