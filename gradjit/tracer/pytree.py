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
NONE = TreeDef("none")


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


def expression(treedef: TreeDef, leaves: list[str], names: dict) -> str:
    """Python source building the tree from the leaves' source expressions (in order); dict
    keys go into `names` (for hot paths that compile one function per signature)."""
    it = iter(leaves)

    def build(td: TreeDef) -> str:
        if td.kind == "leaf":
            return next(it)
        if td.kind == "none":
            return "None"
        parts = [build(c) for c in td.children]
        if td.kind == "dict":
            names[f"_keys{len(names)}"] = td.keys
            return f"dict(zip(_keys{len(names) - 1}, ({', '.join(parts)},)))"
        if td.kind == "tuple":
            return f"({', '.join(parts)},)" if parts else "()"
        return f"[{', '.join(parts)}]"

    return build(treedef)

