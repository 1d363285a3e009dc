"""Shrunk fuzz reproducers (a package, so pytest imports them as fuzz.failures.*)."""
