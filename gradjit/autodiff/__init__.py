"""Automatic differentiation as Function -> Function transforms (reverse mode; forward later)."""

from .reverse import active_values, backward, pull_back, replay  # noqa: F401
