"""Golden text of optimized gradient IR (tests/golden/*.txt), for programs in golden_programs.py.

A change in the adjoint or in a pass shows up as a text diff a person can read. Regenerate with
`GRADJIT_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_golden.py`, then read the new IR
before accepting it. The stored text is also run: it must compute f and its gradient.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import fd_util as fd
import numpy as np
import pytest
from golden_programs import GOLDEN

import gradjit
from gradjit.ir import interp, parse, verify

GOLDEN_DIR = Path(__file__).parent / "golden"
UPDATE = os.environ.get("GRADJIT_UPDATE_GOLDEN") == "1"


def current_text(name: str) -> str:
    f, argnums, make_args = GOLDEN[name]
    return gradjit.grad(f, argnums=argnums).dump(*make_args(), stage="opt") + "\n"


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_gradient_ir_matches_golden(name):
    path = GOLDEN_DIR / f"{name}.txt"
    text = current_text(name)
    if UPDATE:
        path.write_text(text)
    assert path.exists(), f"{path} is missing; create it with GRADJIT_UPDATE_GOLDEN=1"
    want = path.read_text()
    diff = "".join(difflib.unified_diff(want.splitlines(True), text.splitlines(True),
                                        f"golden/{name}.txt", "now"))
    assert text == want, "optimized gradient IR changed:\n" + diff


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_ir_computes_the_gradient(name):
    """The stored text parses, verifies, and (interpreted) gives f's gradient; grad runs
    without f's value (only the trace keeps it), so no result is a scalar copy of f."""
    f, argnums, make_args = GOLDEN[name]
    args = make_args()
    fn = verify(parse((GOLDEN_DIR / f"{name}.txt").read_text()))
    inputs = [np.asarray(x, p.type.np_dtype) for x, p in zip(fd.leaves(list(args)), fn.params)]
    grads = interp.run(fn, inputs)
    assert len(grads) == len(fd.leaves(fd.wrt(args, argnums)))
    v = fd.random_like(np.random.default_rng(3), fd.wrt(args, argnums))
    want = float(fd.directional_fd(f, args, argnums, v, 1e-6))
    got = fd.vdot(grads, v)
    assert abs(got - want) <= 1e-6 * (1 + abs(want)), (got, want)
