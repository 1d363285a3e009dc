"""Recorded nodes to IR: one node's forward and adjoint, and a whole graph's adjoint.

A node's op is traced to a small Function once per structural key. A graph becomes one
Function by inlining its nodes' Functions (one instruction per primitive), and its adjoint is
the same reverse pass the functional API uses (`autodiff.reverse.pull_back`) run under a trace.
Node outputs computed in the forward pass are fed to the adjoint as parameters instead of being
recomputed (`replay_saved`). Adjoints are optimized, cached by structural key, and run on the
backend chosen in one line below (the LLVM backend once it is registered).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ..autodiff.reverse import pull_back
from ..errors import GradjitError
from ..ir import interp
from ..ir.core import Function
from ..ir.types import TensorType
from ..ops import api as A
from ..ops.primitive import bind, loc_override
from ..passes import optimize
from ..tracer.core import inline, trace_flat
from ..tracer.staging import BACKENDS
from .node_keys import signature
from .recorder import TENSOR


def backend_name() -> str:
    return "llvm" if "llvm" in BACKENDS else "interp"  # the one line that picks the backend


COMPILE_AFTER = 2  # runs of one adjoint before it is compiled (a graph seen again: a loop)


@dataclass
class Adjoint:
    """An optimized Function (an adjoint, or a staged op's forward), which of its params it
    reads, and how it runs.

    The first runs interpret it; once it repeats it is compiled on the chosen backend. A
    backend that cannot take the Function leaves it interpreted (the interpreter is the
    reference semantics, so results do not change). `fresh`: the outputs are new arrays that
    nothing else references (compiled code allocates them; the interpreter may hand back an
    input or a constant), so a caller may keep them without a copy.
    """

    fn: Function
    used: tuple[bool, ...]
    runs: int = 0
    _runner: object = None
    fresh: bool = False

    def run(self, arrays) -> list:
        runner = self._runner
        if runner is None:
            self.runs += 1
            if self.runs < COMPILE_AFTER:
                return interp.run(self.fn, arrays)
            runner, self.fresh = _compiled(self.fn)
            self._runner = runner
        return runner(arrays)


def _compiled(fn: Function):
    """(runner, whether its outputs are fresh arrays)."""
    name = backend_name()
    try:
        return BACKENDS[name](fn), name == "llvm"
    except GradjitError as e:  # an op the backend lacks: stay on the reference interpreter
        warnings.warn(f"eager code stays interpreted: {e}", RuntimeWarning, stacklevel=3)
        return BACKENDS["interp"](fn), False


def _compile(body, in_types, name) -> Adjoint:
    fn, captured = trace_flat(body, list(in_types), name)
    assert not captured, name
    fn = optimize(fn)
    read = {a for instr in fn.body for a in instr.args} | set(fn.results)
    return Adjoint(fn, tuple(p in read for p in fn.params))


def replay_saved(fn: Function, primals, saved: dict) -> dict:
    """`reverse.replay`, except values in `saved` are taken as given instead of recomputed."""
    env = dict(zip(fn.params, primals))
    env.update(saved)
    for instr in fn.body:
        if all(o in saved for o in instr.outs):
            continue
        with loc_override(instr.loc):
            outs = bind(instr.prim, *[env[a] for a in instr.args], **instr.params)
        env.update(zip(instr.outs, outs if len(instr.outs) > 1 else (outs,)))
    return env


def _zeros_for_none(cts, xs):
    return [A.zeros_like(x) if c is None else c for c, x in zip(cts, xs)]


# ---- one node ------------------------------------------------------------------------------

_FORWARD: dict = {}
_FORWARD_BY_ARGS: dict = {}  # the same entries, keyed by unfrozen arguments (run_forward)
_NODE_ADJOINT: dict = {}


def _forward(op, template, params, in_types) -> Adjoint:
    """An op's forward traced to a Function, once per signature, with its runner."""
    key = signature(op, template, params, in_types)
    entry = _FORWARD.get(key)
    if entry is None:
        def body(*xs):
            it = iter(xs)
            return [op.fn(*[next(it) if a is TENSOR else a for a in template], **params)]

        fn, _ = trace_flat(body, list(in_types), op.name)
        fn = optimize(fn)
        entry = _FORWARD[_bounded(_FORWARD, key)] = Adjoint(fn, (True,) * len(fn.params))
    return entry


def forward_function(op, template, params, in_types) -> Function:
    return _forward(op, template, params, in_types).fn


def node_forward(node) -> Function:
    return forward_function(node.op, node.template, node.params, node.in_types)


def run_forward(op, template, params, arrays) -> np.ndarray:
    """A staged op's forward: its cached Function, interpreted at first and compiled once it
    repeats (a composite like cross_entropy in a training loop), as adjoints are."""
    try:  # first by the plain arguments and arrays' (shape, dtype): no freezing per call
        fast = (op, template, tuple([(k, type(v), v) for k, v in params.items()]),
                tuple([(a.shape, a.dtype) for a in arrays]))  # (1 and 1.0 are equal keys)
        entry = _FORWARD_BY_ARGS.get(fast)
    except TypeError:  # an unhashable argument: by the frozen signature only
        fast = entry = None
    if entry is None:
        entry = _forward(op, template, params, [TensorType.of(a) for a in arrays])
        if fast is not None:
            _FORWARD_BY_ARGS[_bounded(_FORWARD_BY_ARGS, fast)] = entry
    return entry.run(arrays)[0]


def _bounded(cache: dict, key, limit: int = 4096):
    """Keep a cache from growing without end (e.g. a Python scalar that changes every step)."""
    if len(cache) >= limit:
        cache.clear()
    return key


def node_adjoint(node) -> Adjoint:
    """(inputs..., output, cotangent) -> cotangents of the inputs that require grad."""
    key = (node.key, node.requires)  # a node key leaves out which inputs need a gradient
    adj = _NODE_ADJOINT.get(key)
    if adj is None:
        fwd = node_forward(node)
        n = len(fwd.params)
        wrt = [i for i, r in enumerate(node.requires) if r]

        def body(*vals):
            xs, out, g = vals[:n], vals[n], vals[n + 1]
            env = replay_saved(fwd, xs, {fwd.results[0]: out})
            return _zeros_for_none(pull_back(fwd, env, [g], wrt), [xs[i] for i in wrt])

        types = [*fwd.in_types, node.out_type, node.out_type]
        adj = _NODE_ADJOINT[_bounded(_NODE_ADJOINT, key)] = _compile(body, types, node.name())
    return adj


def run_node_adjoint(node, g, create_graph: bool) -> list:
    """The gradients of one node's inputs (None for those that need none) given `g`."""
    from .recorder import run_eagerly
    from .tensor import Tensor

    adj = node_adjoint(node)
    n = len(node.inputs)
    node.check_saved(adj.used[:n], adj.used[n])
    if g is None:
        g = Tensor._make(np.zeros(node.out_type.shape, node.out_type.np_dtype))
    if g._data.dtype != node.out_type.np_dtype or g.shape != node.out_type.shape:
        g = g._as_cotangent(node.out_type)
    if create_graph:
        res = run_eagerly(adj.fn, [*node.input_tensors(), node.output_tensor(), g])
    else:
        arrays = [s.array for s in node.inputs] + [node.out.array, g._data]
        arrays = [np.zeros(p.type.shape, p.type.np_dtype) if a is None else a
                  for a, p in zip(arrays, adj.fn.params)]
        res = [Tensor._make(r) for r in adj.run(arrays)]
    it = iter(res)
    return [next(it) if r else None for r in node.requires]


# ---- a whole graph -------------------------------------------------------------------------

_GRAPH_ADJOINT: dict = {}


@dataclass
class Plan:
    """A graph in a fixed order: nodes inputs-first, where each node input comes from, roots.

    `sources[i][k]` is ("leaf", j), ("const", j) or ("node", j) for input k of node i; the
    adjoint takes (leaves, consts, node outputs, root cotangents) and returns leaf cotangents
    for the leaves in `wrt`.
    """

    nodes: list
    sources: list
    leaf_types: list
    const_types: list
    roots: list  # (node index, type) per root cotangent
    wrt: list

    def key(self):
        return (tuple(n.key for n in self.nodes), tuple(map(tuple, self.sources)),
                tuple(self.leaf_types), tuple(self.const_types), tuple(self.roots),
                tuple(self.wrt))


def graph_adjoint(plan: Plan) -> Adjoint:
    key = plan.key()
    adj = _GRAPH_ADJOINT.get(key)
    if adj is None:
        adj = _GRAPH_ADJOINT[_bounded(_GRAPH_ADJOINT, key)] = _build_graph_adjoint(plan)
    return adj


def _build_graph_adjoint(plan: Plan) -> Adjoint:
    nl, nc, nn = len(plan.leaf_types), len(plan.const_types), len(plan.nodes)

    def forward(*vals):
        pools = {"leaf": vals[:nl], "const": vals[nl:], "node": []}
        for node, srcs in zip(plan.nodes, plan.sources):
            args = [pools[kind][j] for kind, j in srcs]
            pools["node"].append(inline(node_forward(node), args)[0])
        return pools["node"]

    graph, _ = trace_flat(forward, plan.leaf_types + plan.const_types, "graph")

    def body(*vals):
        primals, outs, seeds = vals[:nl + nc], vals[nl + nc:nl + nc + nn], vals[nl + nc + nn:]
        env = replay_saved(graph, primals, dict(zip(graph.results, outs)))
        cts = [None] * nn
        for (i, _), g in zip(plan.roots, seeds):
            cts[i] = g if cts[i] is None else cts[i] + g
        grads = pull_back(graph, env, cts, plan.wrt)
        return _zeros_for_none(grads, [primals[i] for i in plan.wrt])

    types = [*plan.leaf_types, *plan.const_types, *(n.out_type for n in plan.nodes),
             *(t for _, t in plan.roots)]
    return _compile(body, types, "graph_adjoint")


def cache_sizes() -> dict:
    return {"forward": len(_FORWARD), "node_adjoint": len(_NODE_ADJOINT),
            "graph_adjoint": len(_GRAPH_ADJOINT)}
