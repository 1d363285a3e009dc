"""Batching (vmap) as a Function -> Function transform."""

from .vmap import batch_replay  # noqa: F401
