"""What a recorded node is made of, structurally: its edges, its types and its key.

A backward looks compiled adjoints up by the structural key of its graph: a tuple of small
ints, one per node (`intern_key`), so a training loop's step hashes one flat tuple. Every op
records a node, so `edges_and_sig` (what the node's constructor takes from its inputs) is
unrolled for the one- and two-input ops nearly all are.
"""

from __future__ import annotations

import itertools

import numpy as np

from .graph import Saved

_SEQ = itertools.count()  # node creation order: a node's inputs were all recorded before it


def edges_and_sig(tensors, out) -> tuple:
    """(`next_functions`, `inputs`, `sig`) of a node with inputs `tensors` and output array
    `out`: the (node, output index) each input's gradient flows into, each input's array as
    `Saved` with its version, and the (shape, dtype) of each input, then of the output."""
    if len(tensors) == 2:
        t, u = tensors
        fn, gn, d, e = t.grad_fn, u.grad_fn, t._data, u._data
        return (((fn, t._output_nr) if fn is not None else t._edge(),
                 (gn, u._output_nr) if gn is not None else u._edge()),
                (Saved(d, t._version), Saved(e, u._version)),
                ((d.shape, d.dtype), (e.shape, e.dtype), (out.shape, out.dtype)))
    if len(tensors) == 1:
        t = tensors[0]
        fn, d = t.grad_fn, t._data
        return (((fn, t._output_nr) if fn is not None else t._edge(),),
                (Saved(d, t._version),), ((d.shape, d.dtype), (out.shape, out.dtype)))
    return (tuple([(t.grad_fn, t._output_nr) if t.grad_fn is not None else t._edge()
                   for t in tensors]),
            tuple([Saved(t._data, t._version) for t in tensors]),
            (*[(t._data.shape, t._data.dtype) for t in tensors], (out.shape, out.dtype)))


def _freeze(v):
    """A hashable stand-in for a static argument or param (part of a node's structural key)."""
    if isinstance(v, (list, tuple)):
        return tuple(_freeze(x) for x in v)
    if isinstance(v, slice):
        return ("slice", v.start, v.stop, v.step)
    if isinstance(v, np.ndarray):
        return ("array", v.dtype.str, v.shape, v.tobytes())
    return v


_KEY_IDS: dict = {}
_NEXT_ID = itertools.count()


def intern_key(key) -> int:
    """A small int per distinct structural key; ids are never reused, so clearing the table
    (bounded, like the compile caches) only costs recompiles, never a wrong hit."""
    kid = _KEY_IDS.get(key)
    if kid is None:
        if len(_KEY_IDS) >= 1 << 16:
            _KEY_IDS.clear()
        kid = _KEY_IDS[key] = next(_NEXT_ID)
    return kid


def signature(op, template, params: dict, in_types) -> tuple:
    """What an op's traced forward Function depends on (never the data)."""
    frozen = tuple(sorted((k, _freeze(v)) for k, v in params.items()))
    return (op, _freeze(template), frozen, tuple(in_types))
