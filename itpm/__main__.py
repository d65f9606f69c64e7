"""``python -m itpm`` runs the CLI."""

from itpm.cli import main

main()
