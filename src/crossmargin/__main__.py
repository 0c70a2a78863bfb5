"""``python -m crossmargin``: the command line (same as the ``crossmargin`` script)."""

from crossmargin.cli.app import main

main()
