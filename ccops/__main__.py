"""``python -m ccops``."""

from ccops.cli import main

main()
