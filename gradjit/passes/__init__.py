"""Function -> Function passes and the pipeline that runs them in order."""

from __future__ import annotations

from ..ir.core import Function
from .cse import cse
from .dce import dce
from .dot_sums import merge_dot_sums
from .scan_sums import sum_dots_after_scans
from .scans import hoist_invariant_xs, merge_scans, prune_scan_outputs
from .simplify import simplify
from .sum_through_dots import sum_through_dots

# (name, pass) pairs, so a dump can show the Function after any of them.
PIPELINE = [("simplify", simplify), ("cse", cse), ("merge_scans", merge_scans),
            ("sum_dots_after_scans", sum_dots_after_scans), ("merge_dot_sums", merge_dot_sums),
            ("sum_through_dots", sum_through_dots), ("dce", dce),
            ("prune_scan_outputs", prune_scan_outputs), ("hoist_invariant_xs", hoist_invariant_xs),
            ("simplify2", simplify), ("cse2", cse), ("dce2", dce)]


def optimize(fn: Function, pipeline=PIPELINE, check=None) -> Function:
    """Run every pass of the pipeline; `check(fn)` (e.g. the verifier) runs after each."""
    for _, run in pipeline:
        fn = run(fn)
        if check is not None:
            check(fn)
    return fn


__all__ = ["PIPELINE", "cse", "dce", "hoist_invariant_xs", "merge_dot_sums", "merge_scans",
           "optimize",
           "prune_scan_outputs", "simplify", "sum_dots_after_scans", "sum_through_dots"]
