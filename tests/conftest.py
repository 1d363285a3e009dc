"""Test-wide setup: a private compile cache per session, so tests never touch ~/.cache."""

from __future__ import annotations

import os
import sys
import tempfile

import pytest


def pytest_configure(config):
    if "GRADJIT_CACHE_DIR" not in os.environ:
        os.environ["GRADJIT_CACHE_DIR"] = tempfile.mkdtemp(prefix="gradjit-test-cache-")


@pytest.fixture(autouse=True)
def _optimized_before_the_next_test():
    """A test's background compiles (runtime/tiers.py) finish before the next test starts, so
    no test sees another's compile counts or cache writes."""
    yield
    tiers = sys.modules.get("gradjit.runtime.tiers")
    if tiers is not None:
        tiers.wait()


@pytest.fixture(scope="module")
def interp_backend():
    """Run this module's transforms on the numpy interpreter (the reference semantics).

    For tests of the primitive records themselves: they make hundreds of one-off Functions,
    and the compiled path of every record is checked against the interpreter elsewhere
    (tests/test_codegen_*.py)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GRADJIT_BACKEND", "interp")
        yield
