"""Test-wide setup: a private compile cache per session, so tests never touch ~/.cache."""

from __future__ import annotations

import os
import tempfile

import pytest


def pytest_configure(config):
    if "GRADJIT_CACHE_DIR" not in os.environ:
        os.environ["GRADJIT_CACHE_DIR"] = tempfile.mkdtemp(prefix="gradjit-test-cache-")


@pytest.fixture(scope="module")
def interp_backend():
    """Run this module's transforms on the numpy interpreter (the reference semantics).

    For tests of the primitive records themselves: they make hundreds of one-off Functions,
    and the compiled path of every record is checked against the interpreter elsewhere
    (tests/test_codegen_*.py)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GRADJIT_BACKEND", "interp")
        yield
