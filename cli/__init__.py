"""The `mailops` command: the layer above the flows (cli -> flows -> tasks -> mailops).

`cli.app` is the frame (output, exit codes, the db and dashboard commands, `main`);
`cli.commands` holds the jobs' commands and the demo's, the chaos run's and the sandbox's.
"""
