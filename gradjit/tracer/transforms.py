"""The public transforms: jit, grad, value_and_grad, vjp, jacobian, hessian; trace and dump.

Each transform builds one flat Function of primitives (traced once per argument signature and
cached), optimizes it, and runs it: on the backend for concrete arguments, or inlined into the
enclosing trace for traced ones, which is what makes grad(grad(f)) work to any order.
"""

from __future__ import annotations

import functools
import os

import numpy as np

from ..autodiff import pull_back, replay
from ..errors import TraceError
from ..ir.core import Function
from ..ir.types import is_float
from ..ops import api as A
from ..ops.primitive import user_loc
from ..passes import optimize
from ..passes.reroll import reroll
from . import pytree
from .staging import (Staged, Traced, fn_name, leaf_info, leaf_names,
                      default_backend, trace_user)
from .core import trace_flat

# signatures one transform keeps staged (each holds its compiled runner): the runtime's memory
# cache bound ($GRADJIT_MEMORY_CACHE), which a transform called with ever new shapes would
# otherwise defeat by keeping every runner alive itself
MAX_SIGNATURES = int(os.environ.get("GRADJIT_MEMORY_CACHE", "1024"))

def _argnums_tuple(argnums, nargs, op, loc) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for n in nums:
        if not -nargs <= n < nargs:
            raise TraceError(op, f"argnums={argnums!r} but the function got {nargs} "
                             "positional arguments", loc)
    return tuple(n % nargs for n in nums)


class Transformed:
    """A user function under a transform; call it like the function, or trace/dump it."""

    def __init__(self, f, op: str, build, static_argnums=(), backend=None, argnums=None,
                 post=None):
        functools.update_wrapper(self, f, updated=())
        self.f, self.op, self.build, self.post = f, op, build, post
        # differentiation transforms keep Python ints/bools they do not differentiate static
        # (as JAX's grad leaves them concrete), so `range(n)` works on them
        self.argnums = argnums
        self.static_argnums = (static_argnums,) if isinstance(static_argnums, int) else \
            tuple(static_argnums)
        self.backend = backend or default_backend()
        self.cache: dict = {}
        self.fast: dict = {}  # flat float/array signatures -> a specialized call (hot path)
        self._native = _not_native  # the builtin of the last all-float signature (if any)
        self._last_key = None

    def _staged(self, args) -> tuple[Staged, list]:
        loc = user_loc() or _definition_loc(self.f)  # called from gradjit's CLI: the def line
        static_nums, argnums = self.static_argnums, None
        if self.argnums is not None:
            nums = _argnums_tuple(self.argnums, len(args), self.op, loc)
            static_nums += tuple(i for i, a in enumerate(args) if i not in nums and
                                 type(a) in (int, bool))
            position = {i: k for k, i in enumerate(
                i for i in range(len(args)) if i not in static_nums)}
            argnums = tuple(position[i] for i in nums)
            argnums = argnums[0] if isinstance(self.argnums, int) else argnums
        static = tuple((i, args[i]) for i in static_nums if i < len(args))
        dynamic = [a for i, a in enumerate(args) if i not in static_nums]
        leaves, in_tree = pytree.flatten(dynamic)
        infos = tuple(leaf_info(x, self.op, loc) for x in leaves)
        try:
            key = (in_tree, infos, static)
            hash(key)
        except TypeError:
            raise TraceError(self.op, "static arguments must be hashable", loc) from None
        staged = self.cache.pop(key, None)
        if staged is not None:  # back in as the most recent: the least recently used goes first
            self.cache[key] = staged
        else:
            f = _with_static(self.f, dict(static), len(args)) if static else self.f
            names = None if static else leaf_names(self.f, args, None)
            traced = trace_user(f, dynamic, infos, names, fn_name(self.f))
            traced.fn = reroll(traced.fn)  # a traced Python loop: one scan, not N copies
            fn, out_tree, captured = self.build(traced, dynamic, infos, loc, argnums)
            staged = Staged(optimize(_unused_dropped(fn)), out_tree, captured, self.backend,
                            raw=fn)
            if not captured:  # captured tracers belong to one outer trace only
                self.cache[key] = staged
                if len(self.cache) > MAX_SIGNATURES:  # the stalest goes, with its compiled code
                    del self.cache[next(iter(self.cache))]
                    self.fast.clear()  # (its hot-path entries refill from self.cache)
                    self._native = _not_native
        self._last_key = key
        return staged, leaves

    def __call__(self, *args):
        out = self._native(*args)  # Python floats into a compiled scalar function: native code
        if out is not NotImplemented:
            return out
        fast = _flat_signature(args) if not self.static_argnums else None
        call = self.fast.get(fast) if fast is not None else None
        if call is not None:  # the hot path: a signature seen before, concrete flat arguments
            return call(args)
        staged, leaves = self._staged(args)  # pytrees, static and traced arguments
        if fast is not None and not staged.captured and self.cache.get(self._last_key) is staged:
            floats = all(k is float for k in fast)
            self.fast[fast] = call = staged.fast_call(floats, self.post)
            self._native = (floats and staged.native_call(self.post)) or self._native
            return call(args)
        out = staged.finish(staged.execute(leaves))
        return out if self.post is None else self.post(out)

    def trace(self, *args) -> Function:
        """The optimized Function this transform runs for these arguments."""
        return self._staged(args)[0].fn

    def dump(self, *args, stage: str = "opt") -> str:
        """The text of this transform's Function for these arguments after `stage`."""
        staged = self._staged(args)[0]
        if stage not in STAGES:
            raise ValueError(f"dump: unknown stage {stage!r}; one of {', '.join(STAGES)}")
        if stage in BACKEND_STAGES:
            return _backend_dump(stage, staged.fn)
        return str(staged.raw if stage == "trace" else staged.fn)


def _unused_dropped(fn: Function) -> Function:
    """fn without its first `meta["unused_results"]` results: grad traces value and gradient
    (the trace dump shows both) but runs without the value, so what only the value needs
    (W2's log1p, a final reduction) is not computed at all."""
    k = fn.meta.get("unused_results", 0)
    if not k:
        return fn
    meta = {key: v for key, v in fn.meta.items() if key != "unused_results"}
    meta["primal_results"] = meta.get("primal_results", k) - k
    return Function(fn.name, fn.params, fn.body, fn.results[k:], meta)


def _not_native(*args):
    return NotImplemented


def _flat_signature(args):
    """A cheap cache key for arguments that are all Python floats or numpy arrays, else None
    (ints are static by value under the derivative transforms; pytrees need flattening)."""
    key = []
    for a in args:
        kind = type(a)
        if kind is float:
            key.append(float)
        elif kind is np.ndarray:
            key.append((a.dtype, a.shape))
        else:
            return None
    return tuple(key)


def _definition_loc(f) -> str | None:
    code = getattr(f, "__code__", None)
    return f"{code.co_filename}:{code.co_firstlineno}" if code else None


def _with_static(f, static: dict, nargs: int):
    """f as a function of its non-static arguments only (the static ones baked in)."""
    def dynamic_only(*dyn):
        it = iter(dyn)
        return f(*[static[i] if i in static else next(it) for i in range(nargs)])

    return dynamic_only


def _float_leaf_range(dynamic, argnums, infos, op, loc):
    """Flat leaf indices of the differentiated arguments, which must all be float."""
    starts = np.cumsum([0] + [pytree.flatten(a)[1].num_leaves for a in dynamic])
    wrt = [i for n in argnums for i in range(starts[n], starts[n + 1])]
    for i in wrt:
        if not is_float(infos[i].type.dtype):
            arg = next(n for n in argnums if starts[n] <= i < starts[n + 1])
            raise TraceError(op, f"argument {arg} has type {infos[i].type}; only float "
                             "arguments can be differentiated", loc,
                             "pass a float (3.0, not 3) or cast with .astype(np.float64)")
    return wrt


def _arg_trees(dynamic, argnums):
    return [pytree.flatten(dynamic[n])[1] for n in argnums]


def _grads_tree(dynamic, argnums, argnums_is_int, grads):
    trees, out, k = _arg_trees(dynamic, argnums), [], 0
    for td in trees:
        out.append(pytree.unflatten(td, grads[k : k + td.num_leaves]))
        k += td.num_leaves
    return out[0] if argnums_is_int else tuple(out)


def value_and_grad(f=None, argnums=0, has_aux=False, backend=None, post=None, value=True):
    """f -> (value, gradient); value is f's scalar output (and aux, with has_aux). With
    value=False (what grad uses) the value is not computed: None stands in its place."""
    if f is None:
        return functools.partial(value_and_grad, argnums=argnums, has_aux=has_aux,
                                 backend=backend)
    op = "grad"

    def build(traced: Traced, dynamic, infos, loc, argnums):
        fn = traced.fn
        nums = _argnums_tuple(argnums, len(dynamic), op, loc)
        wrt = _float_leaf_range(dynamic, nums, infos, op, loc)
        out_type = fn.results[0].type if fn.results else None
        if has_aux:
            if traced.out_tree.kind not in ("tuple", "list") or len(traced.out_tree.children) != 2:
                raise TraceError(op, "with has_aux=True the function must return (output, aux)",
                                 loc)
        elif traced.out_tree.kind != "leaf":
            raise TraceError(op, "the function must return one scalar, got a "
                             f"{traced.out_tree.kind}", loc, "use jacobian or vjp for "
                             "several outputs, or has_aux=True to return extra values")
        if out_type is None or out_type.shape != () or not is_float(out_type.dtype):
            raise TraceError(op, f"the output must be a float scalar, got {out_type}", loc,
                             "use gradjit.jacobian or gradjit.vjp for non-scalar outputs, or "
                             "reduce it first (e.g. .sum())")

        def adjoint(*xs):
            env = replay(fn, list(xs) + traced.captured)
            seed = np.ones((), out_type.np_dtype)
            cts = pull_back(fn, env, [seed] + [None] * (len(fn.results) - 1), wrt)
            grads = [A.zeros_like(xs[i]) if g is None else g for i, g in zip(wrt, cts)]
            return [env[r] for r in fn.results] + grads

        gfn, captured = trace_flat(adjoint, fn.in_types[: len(infos)], f"grad_{fn.name}",
                                   [p.hint for p in fn.params], [i.weak for i in infos])
        gfn.meta["primal_results"] = len(fn.results)  # the value comes first, then gradients
        grads_struct = _grads_tree(dynamic, nums, isinstance(argnums, int), wrt)
        out_tree = traced.out_tree
        if not value:
            gfn.meta["unused_results"] = 1
            out_tree = pytree.TreeDef("tuple", (pytree.NONE, out_tree.children[1])) \
                if has_aux else pytree.NONE
        tree = pytree.TreeDef("tuple", (out_tree, pytree.flatten(grads_struct)[1]))
        return gfn, tree, captured

    return Transformed(f, op, build, backend=backend, argnums=argnums, post=post)


def grad(f=None, argnums=0, has_aux=False, backend=None):
    """f -> its gradient with respect to the `argnums` arguments (same structure and dtype)."""
    if f is None:
        return functools.partial(grad, argnums=argnums, has_aux=has_aux, backend=backend)
    post = (lambda r: (r[1], r[0][1])) if has_aux else (lambda r: r[1])
    return value_and_grad(f, argnums, has_aux, backend, post=post, value=False)


def jit(f=None, static_argnums=(), backend=None):
    """f compiled for each argument signature it is called with."""
    if f is None:
        return functools.partial(jit, static_argnums=static_argnums, backend=backend)
    def build(traced: Traced, dynamic, infos, loc, argnums):
        return traced.fn, traced.out_tree, traced.captured

    return Transformed(f, "jit", build, static_argnums, backend)


def _map_leaves(tree: pytree.TreeDef, leaf_tree: pytree.TreeDef) -> pytree.TreeDef:
    """`tree` with every leaf replaced by the structure `leaf_tree`."""
    if tree.kind == "leaf":
        return leaf_tree
    return pytree.TreeDef(tree.kind, tuple(_map_leaves(c, leaf_tree) for c in tree.children),
                          tree.keys)


def vjp(f, *args, backend=None):
    """(f(*args), vjp_fn) where vjp_fn(cotangent) gives one cotangent per argument."""
    primal = jit(f, backend=backend)
    staged, leaves = primal._staged(args)
    out = staged.finish(staged.execute(leaves))
    fn = staged.fn
    out_leaves = len(fn.results)
    wrt = [i for i, p in enumerate(fn.params[: len(leaves)]) if is_float(p.type.dtype)]

    def adjoint(*xs):
        env = replay(fn, list(xs[: len(fn.params)]))
        cts = pull_back(fn, env, list(xs[len(fn.params):]), wrt)
        return [A.zeros_like(xs[i]) if g is None else g for i, g in zip(wrt, cts)]

    afn, captured = trace_flat(adjoint, fn.in_types + fn.out_types, f"vjp_{fn.name}")
    adj = Staged(optimize(afn), None, captured, primal.backend)
    arg_trees = [pytree.flatten(a)[1] for a in args]

    def vjp_fn(cotangent):
        ct_leaves, ct_tree = pytree.flatten(cotangent)
        if ct_tree != staged.out_tree or len(ct_leaves) != out_leaves:
            raise TraceError("vjp", "the cotangent must have the structure of the output",
                             user_loc())
        cts = [A.asarray(c, r.type.dtype) if not A.is_tracer(c) else c
               for c, r in zip(ct_leaves, fn.results)]
        for c, r in zip(cts, fn.results):
            if A.shape_of(c) != r.type.shape:
                raise TraceError("vjp", f"cotangent shape {list(A.shape_of(c))} does not match "
                                 f"the output {r.type}", user_loc())
        grads = adj.execute(list(leaves) + staged.captured + cts)
        flat = [None] * len(leaves)
        for i, g in zip(wrt, grads):
            flat[i] = g[()] if isinstance(g, np.ndarray) and g.ndim == 0 else g
        out_args, k = [], 0
        for td in arg_trees:
            out_args.append(pytree.unflatten(td, flat[k : k + td.num_leaves]))
            k += td.num_leaves
        return tuple(out_args)

    return out, vjp_fn


def trace(f, *args) -> Function:
    """The Function tracing f on these example arguments gives (before any pass)."""
    loc = user_loc()
    leaves, _ = pytree.flatten(list(args))
    infos = [leaf_info(x, "trace", loc) for x in leaves]
    return trace_user(f, args, infos, leaf_names(f, args, None), fn_name(f)).fn


def _backend_dump(stage: str, fn: Function) -> str:
    from ..runtime import DUMPS  # LLVM is loaded only when a backend stage is asked for

    return DUMPS[stage](fn)


def _backend_stage(stage: str, f, args) -> str:
    return _backend_dump(stage, optimize(trace(f, *args)))


BACKEND_STAGES = ("llvm", "llvm-opt", "asm")
STAGES = {
    "trace": lambda f, args: trace(f, *args),
    "opt": lambda f, args: optimize(trace(f, *args)),
    **{s: functools.partial(_backend_stage, s) for s in BACKEND_STAGES},
}


def dump(f, *args, stage: str = "trace") -> str:
    """The text of f's IR after `stage`: 'trace', 'opt', or 'llvm', 'llvm-opt', 'asm'."""
    if stage not in STAGES:
        raise ValueError(f"dump: unknown stage {stage!r}; one of {', '.join(STAGES)}")
    return str(STAGES[stage](f, args))
