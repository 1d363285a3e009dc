"""Pytrees: nested tuples, lists and dicts of leaves, flattened to a list and rebuilt."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TreeDef:
    kind: str  # "leaf", "tuple", "list", "dict", "none"
    children: tuple = ()
    keys: tuple = ()

    @property
    def num_leaves(self) -> int:
        return 1 if self.kind == "leaf" else sum(c.num_leaves for c in self.children)


LEAF = TreeDef("leaf")


def flatten(tree) -> tuple[list, TreeDef]:
    leaves: list = []
    return leaves, _flatten(tree, leaves)


def _flatten(tree, leaves) -> TreeDef:
    if isinstance(tree, dict):
        keys = tuple(sorted(tree))
        return TreeDef("dict", tuple(_flatten(tree[k], leaves) for k in keys), keys)
    if isinstance(tree, (tuple, list)) and not hasattr(tree, "_fields"):
        return TreeDef(type(tree).__name__, tuple(_flatten(t, leaves) for t in tree))
    if tree is None:
        return TreeDef("none")
    leaves.append(tree)
    return LEAF


def unflatten(treedef: TreeDef, leaves) -> object:
    it = iter(leaves)
    out = _unflatten(treedef, it)
    return out


def _unflatten(td: TreeDef, it):
    if td.kind == "leaf":
        return next(it)
    if td.kind == "none":
        return None
    children = [_unflatten(c, it) for c in td.children]
    if td.kind == "dict":
        return dict(zip(td.keys, children))
    return tuple(children) if td.kind == "tuple" else children
