"""``python -m edge.cli`` runs the ``sense`` command."""

from edge.cli import main

main()
