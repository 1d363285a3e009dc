"""The fast backward: a whole recorded graph as one adjoint Function, run in one call.

A backward walks its graph once (`Layout.of`): the nodes inputs-first, where each node input
comes from (another node, a leaf, or a constant), and the arrays the adjoint is fed. Node keys
and sources are small ints, so the graph's structural key is a flat tuple hashed once per
step; a training loop's step finds its compiled adjoint by that key (and its layout by the
graph's shape, layout_cache.py, without this walk). Graphs with hooks, retain_grad or custom
Functions, and create_graph, take engine.py's node-by-node path.
"""

from __future__ import annotations

from operator import attrgetter

import numpy as np

from ..ir.types import TensorType
from .graph import AccumulateGrad
from .lowering import Plan, graph_adjoint
from .recorder import OpNode, _describe
from .tensor import Tensor

_SEQ = attrgetter("seq")
_KINDS = ("node", "leaf", "const")  # a source s is 3 j + kind: node j, leaf j or const j


class Layout:
    """One backward's graph: nodes inputs-first, sources, leaves, fed arrays and the key.
    `fed` holds the Saved arrays the adjoint is fed (the leaves', the constants', the nodes'
    outputs); `where` says whose each is: (node position, input index, or -1 for its output)."""

    __slots__ = ("fed", "key", "leaves", "nodes", "sources", "wanted", "where")

    @classmethod
    def of(cls, roots, targets) -> Layout | None:
        """The layout of the graph reachable from `roots`, or None when one Function cannot
        run it (a root or target that is not a leaf's; a node with hooks, or not an OpNode).
        It runs on each graph layout_cache.py has no shape for, so it is one gather and one
        pass: an OpNode's inputs were recorded before it, so creation order (`seq`) is
        inputs-first."""
        stack, seen = [], set()
        for (node, _), _ in roots:
            if type(node) is AccumulateGrad:
                return None
            if node not in seen:
                seen.add(node)
                stack.append(node)
        for node, _ in targets:
            if type(node) is not AccumulateGrad:
                return None
        nodes = []
        while stack:
            n = stack.pop()
            if not isinstance(n, OpNode) or n._tensor_hooks or n._retained or n._hooks:
                return None  # (`has_hooks`, inline)
            nodes.append(n)
            for nxt, _ in n.next_functions:
                if nxt is not None and nxt not in seen and type(nxt) is not AccumulateGrad:
                    seen.add(nxt)
                    stack.append(nxt)
        nodes.sort(key=_SEQ)
        self = object.__new__(cls)
        self._walk(nodes, roots, targets)
        return self

    def _walk(self, nodes, roots, targets):
        index = {n: i for i, n in enumerate(nodes)}
        leaves: dict = {}  # AccumulateGrad -> position among the leaves
        keys, leaf_fed, const_fed, sources = [], [], [], []
        for i, n in enumerate(nodes):
            keys.append(n._key if n._key is not None else n.key)
            k = 0
            for (nxt, _), saved in zip(n.next_functions, n.inputs):
                if nxt is None:
                    sources.append(3 * len(const_fed) + 2)
                    const_fed.append((saved, i, k))
                elif type(nxt) is AccumulateGrad:
                    j = leaves.get(nxt)
                    if j is None:
                        j = leaves[nxt] = len(leaf_fed)
                        leaf_fed.append((saved, i, k))
                    sources.append(3 * j + 1)
                else:
                    sources.append(3 * index[nxt])
                k += 1
        self.wanted = list(leaves) if not targets else [a for a, _ in targets if a in leaves]
        self.nodes, self.sources, self.leaves = nodes, sources, leaves
        fed = leaf_fed + const_fed
        self.fed = [saved for saved, _, _ in fed] + [n.out for n in nodes]
        self.where = [(i, k) for _, i, k in fed] + [(i, -1) for i in range(len(nodes))]
        self.key = (tuple(keys), tuple(sources), tuple([index[node] for (node, _), _ in roots]),
                    tuple([leaves[a] for a in self.wanted]))

    def plan(self, roots) -> Plan:
        index = {n: i for i, n in enumerate(self.nodes)}
        it = iter(self.sources)
        sources = [[(_KINDS[s % 3], s // 3) for _, s in zip(n.inputs, it)] for n in self.nodes]
        nl, nc = len(self.leaves), len(self.fed) - len(self.leaves) - len(self.nodes)
        return Plan(self.nodes, sources, [self.fed_type(p) for p in range(nl)],
                    [self.fed_type(p) for p in range(nl, nl + nc)],
                    [(index[node], node.out_type) for (node, _), _ in roots],
                    [self.leaves[a] for a in self.wanted])


    def fed_type(self, p: int) -> TensorType:
        i, k = self.where[p]
        node = self.nodes[i]
        return node.out_type if k < 0 else node.in_types[k]


_ADJOINTS: dict = {}  # layout key -> the graph's Adjoint (lowering keeps its own by Plan)


def run_graph(layout: Layout, roots, targets, accumulate: bool) -> list:
    """Run the graph's adjoint; leaf gradients go into `.grad` (backward) or, for `grad`, into
    the result list in the order of `targets`."""
    adj = _ADJOINTS.get(layout.key)
    if adj is None:
        if len(_ADJOINTS) >= 4096:
            _ADJOINTS.clear()
        adj = _ADJOINTS[layout.key] = graph_adjoint(layout.plan(roots))
    arrays = []
    for saved in layout.fed:
        a = saved.array
        if a is None or saved.version.value != saved.at:
            p = len(arrays)
            if adj.used[p]:
                saved.check(layout.nodes[layout.where[p][0]], _describe(layout.fed_type(p)))
            if a is None:
                a = _zeros(layout.fed_type(p))
        arrays.append(a)
    for _, g in roots:
        arrays.append(g._data)
    results = [None] * len(targets)
    plain = accumulate and not targets  # (a training step's backward)
    for acc, a in zip(layout.wanted, adj.run(arrays)):
        variable = acc.variable
        grad = variable._grad
        if plain and grad is not None and not variable._hooks and grad.grad_fn is None \
                and not grad._requires_grad and a.dtype == variable._data.dtype \
                and a.shape == variable._data.shape:
            grad._data += a  # `_accumulate`'s in-place sum, without a Tensor for `a`
            grad._version.value += 1
            continue
        g, owned = Tensor._make(a), adj.fresh
        if variable._hooks:
            h = variable._run_hooks(g)
            g, owned = h, owned and h is g
        at = targets.get((acc, 0)) if targets else None
        if accumulate:  # an owned gradient (fresh, held nowhere else) may become .grad
            variable._accumulate(g, False, owned and at is None)
        if at is not None:
            results[at] = g
    return results


def _zeros(t: TensorType):
    return np.zeros(t.shape, t.np_dtype)
