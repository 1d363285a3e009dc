"""Backward layouts remembered by shape: a training loop's graph is rebuilt each step alike.

`Layout.of` walks a graph, sorts its nodes and interns each node's structural key: most of a
small step's backward. A `Shape` keeps what a layout was made of (per node: op, static
arguments, params, types, and where each input comes from) and matches a new graph against
it in one pass from the roots, with no sorting and no hashing. A match gives exactly the
layout `Layout.of` would build (the same nodes in the same order, the same leaf numbering, the
same key); anything else (another structure, a node shared differently, hooks, a different
creation order) is no match, and the graph takes `Layout.of`. A shape that keeps matching (a
loop's) gets its matcher written out as straight-line Python (`_specialize`): the same
checks, without the generic loop's bookkeeping.
"""

from __future__ import annotations

from .graph import AccumulateGrad
from .graph_backward import Layout
from .node_keys import _freeze

_SHAPES: dict = {}  # class of the first root's node -> recent Shapes, newest first
_PER_ROOT = 4  # shapes tried per root class before building the layout anew
_LAST = 1 << 62  # above every node's seq
_COMPILE_AFTER = 2  # matches of a shape before its matcher is specialized (a loop's graph)
_COMPILE_NODES = 256  # larger shapes keep the generic matcher (the source grows with nodes)


class Shape:
    """A layout's structure, without its nodes (so it keeps no arrays alive): per node its
    class, op, static arguments, params and sig, and per input (kind, j, p): from node j, leaf
    j or constant j (as `Layout.sources`), fed to the adjoint at position p (or -1: not fed)."""

    __slots__ = ("checks", "fast", "hits", "key", "nfed", "nleaves", "partial", "roots", "source",
                 "sources", "where")

    def __init__(self, layout: Layout, roots):
        nodes, it = layout.nodes, iter(layout.sources)
        nin = len(layout.fed) - len(nodes)
        at = {w: p for p, w in enumerate(layout.where[:nin])}
        self.checks = [(type(n), n.op, n.template, n.params, n.sig,
                        tuple([(s % 3, s // 3, at.get((i, k), -1))
                               for k, (_, s) in enumerate(zip(n.inputs, it))]))
                       for i, n in enumerate(nodes)]
        self.sources, self.key, self.nleaves = layout.sources, layout.key, len(layout.leaves)
        self.where, self.nfed = layout.where, nin
        self.partial = self.key[3] != tuple(range(self.nleaves))  # (made for some targets)
        index = {n: i for i, n in enumerate(nodes)}
        self.roots = [index[node] for (node, _), _ in roots]
        self.hits, self.fast, self.source = 0, None, None

    def match(self, roots, targets) -> Layout | None:
        """The layout of the graph at `roots` when it has this shape, else None."""
        if len(roots) != len(self.roots):
            return None
        checks = self.checks
        new = [None] * len(checks)
        for ((node, _), _), i in zip(roots, self.roots):
            if new[i] is None:
                new[i] = node
            elif new[i] is not node:
                return None
        acc = [None] * self.nleaves
        fed = [None] * self.nfed
        seq, i = _LAST, len(checks)
        for cls, op, template, params, sig, edges in reversed(checks):
            i -= 1
            n = new[i]
            if type(n) is not cls or n.op is not op or n.sig != sig or n.seq >= seq:
                return None  # (a node reached twice as two would repeat its seq)
            if n._tensor_hooks or n._retained or n._hooks:
                return None
            if n.template is not template and not _same(n.template, template) or \
                    n.params is not params and not _same(n.params, params):
                return None
            seq = n.seq
            for (nxt, _), saved, (kind, j, p) in zip(n.next_functions, n.inputs, edges):
                if kind == 0:  # another node: each input's node comes before it
                    if new[j] is None:
                        new[j] = nxt
                    elif new[j] is not nxt:
                        return None
                elif kind == 1:
                    if type(nxt) is not AccumulateGrad or acc[j] is not None and acc[j] is not nxt:
                        return None
                    acc[j] = nxt
                elif nxt is not None:
                    return None
                if p >= 0:
                    fed[p] = saved
        leaves = {a: j for j, a in enumerate(acc)}
        if len(leaves) != len(acc):
            return None  # two leaves of the shape are one tensor here
        if targets:
            wanted = [a for a, _ in targets if a in leaves]
            if tuple([leaves[a] for a in wanted]) != self.key[3]:
                return None
        elif self.partial:
            return None  # the shape's adjoint gives only some leaves' gradients
        else:
            wanted = acc
        layout = object.__new__(Layout)
        layout.nodes, layout.sources, layout.leaves, layout.wanted = \
            new, self.sources, leaves, wanted
        layout.fed, layout.where, layout.key = fed + [n.out for n in new], self.where, self.key
        self.hits += 1
        if self.hits == _COMPILE_AFTER and len(checks) <= _COMPILE_NODES:
            self.source, self.fast = _specialize(self)
        return layout


def _same(a, b) -> bool:
    """Equal static arguments or params, as the structural key tells them apart; stricter
    where that is cheaper (2 and 2.0 differ here: no match, so the graph takes `Layout.of`)."""
    if a is b:
        return True
    ta = type(a)
    if ta is not type(b):
        return False
    if ta is tuple:  # (a template: mostly the very same markers and numbers)
        if len(a) != len(b):
            return False
        for x, y in zip(a, b):
            if x is not y and not _same(x, y):
                return False
        return True
    if ta is dict:
        return a.keys() == b.keys() and all([_same(v, b[k]) for k, v in a.items()])
    if ta in _PLAIN:
        return a == b
    try:  # a list, a slice, an array: as `_freeze` makes it part of the key
        return bool(_freeze(a) == _freeze(b))
    except (TypeError, ValueError):
        return False


_PLAIN = {int, float, bool, str, type(None), complex}


def _specialize(shape: Shape):
    """(source, function): `shape.match` unrolled for this one shape, a few times faster. The
    generic loop's every step is decided by the shape alone (which node each edge reaches,
    whether it was reached before, which inputs are fed), so it is written out: node i is
    `n{i}`, leaf j `l{j}`, the fed input k of node i `s{i}_{k}`, and node i's class, op,
    template, params and sig are the globals C{i}, O{i}, T{i}, P{i}, S{i}."""
    env = {"_same": _same, "AccumulateGrad": AccumulateGrad, "_new": object.__new__,
           "Layout": Layout, "SOURCES": shape.sources, "WHERE": shape.where, "KEY": shape.key}
    out = ["def match(roots, targets):", f"    if len(roots) != {len(shape.roots)}:",
           "        return None"]
    reached, leaves, fed = set(), set(), {}

    def fail_unless(cond):
        out.extend([f"    if not ({cond}):", "        return None"])

    for r, i in enumerate(shape.roots):
        if i in reached:
            fail_unless(f"roots[{r}][0][0] is n{i}")
        else:
            out.append(f"    n{i} = roots[{r}][0][0]")
            reached.add(i)
    later = None
    for i in reversed(range(len(shape.checks))):
        if i not in reached:  # (never: a node's consumers come after it and reach it first)
            return None, None  # then the generic matcher stays
        env.update(zip((f"C{i}", f"O{i}", f"T{i}", f"P{i}", f"S{i}"), shape.checks[i][:5]))
        n = f"n{i}"
        fail_unless(f"type({n}) is C{i} and {n}.op is O{i} and {n}.sig == S{i}" +
                    (f" and {n}.seq < n{later}.seq" if later is not None else ""))
        out.extend([f"    if {n}._tensor_hooks or {n}._retained or {n}._hooks:",
                    "        return None"])
        fail_unless(f"({n}.template is T{i} or _same({n}.template, T{i})) and "
                    f"({n}.params is P{i} or _same({n}.params, P{i}))")
        later, edges = i, shape.checks[i][5]
        out.append("    " + "".join(f"(e{k}, _), " for k in range(len(edges))) +
                   f"= {n}.next_functions")
        if any(p >= 0 for _, _, p in edges):
            out.append("    " + "".join(f"s{i}_{k}, " if p >= 0 else "_, "
                                        for k, (_, _, p) in enumerate(edges)) + f"= {n}.inputs")
        for k, (kind, j, p) in enumerate(edges):
            if p >= 0:
                fed[p] = f"s{i}_{k}"
            if kind == 0 and j in reached:
                fail_unless(f"e{k} is n{j}")
            elif kind == 0:
                out.append(f"    n{j} = e{k}")  # (its checks come when node j is visited)
                reached.add(j)
            elif kind == 1 and j in leaves:
                fail_unless(f"e{k} is l{j}")
            elif kind == 1:
                fail_unless(f"type(e{k}) is AccumulateGrad")
                out.append(f"    l{j} = e{k}")
                leaves.add(j)
            else:
                fail_unless(f"e{k} is None")
    acc = [f"l{j}" for j in range(shape.nleaves)]
    nodes = [f"n{i}" for i in range(len(shape.checks))]
    out.append("    leaves = {" + ", ".join(f"{a}: {j}" for j, a in enumerate(acc)) + "}")
    fail_unless(f"len(leaves) == {len(acc)}")  # (two leaves of the shape are one tensor)
    out.extend(["    if targets:", "        wanted = [a for a, _ in targets if a in leaves]",
                "        if tuple([leaves[a] for a in wanted]) != KEY[3]:",
                "            return None",
                "    else:", "        return None" if shape.partial else
                f"        wanted = [{', '.join(acc)}]",
                "    layout = _new(Layout)",
                f"    layout.nodes = [{', '.join(nodes)}]",
                "    layout.fed = [" + "".join(fed[p] + ", " for p in range(shape.nfed)) +
                ", ".join(f"{n}.out" for n in nodes) + "]",
                "    layout.sources, layout.leaves, layout.wanted = SOURCES, leaves, wanted",
                "    layout.where, layout.key = WHERE, KEY",
                "    return layout"])
    source = "\n".join(out)
    exec(compile(source, "<layout_cache.Shape>", "exec"), env)  # noqa: S102 (our own text)
    return source, env["match"]


def layout_of(roots, targets) -> Layout | None:
    """`Layout.of(roots, targets)`, from a remembered shape when one matches."""
    for node, _ in targets:
        if type(node) is not AccumulateGrad:
            return None
    kind = type(roots[0][0][0]) if roots else None
    shapes = _SHAPES.get(kind)
    if shapes:
        for shape in shapes:
            fast = shape.fast
            layout = fast(roots, targets) if fast is not None else shape.match(roots, targets)
            if layout is not None:
                return layout
    layout = Layout.of(roots, targets)
    if layout is not None and layout.nodes:
        if len(_SHAPES) >= 1024:
            _SHAPES.clear()
        shapes = _SHAPES.setdefault(kind, [])
        shapes.insert(0, Shape(layout, roots))
        del shapes[_PER_ROOT:]
    return layout
