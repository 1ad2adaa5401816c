"""Stand-ins for tests and the rehearsal; not used by production code."""
