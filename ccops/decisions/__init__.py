"""Pure decisions: data in, data out; no I/O, so tests drive them with data."""
