"""ccops's state dir: atomic files, locks, stores, the event log and log rotation."""
