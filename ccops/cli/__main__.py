"""``python -m ccops.cli``."""

from ccops.cli import main

main()
