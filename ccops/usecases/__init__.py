"""Use cases: observe, decide (through decisions/), act (through runners/), record."""
