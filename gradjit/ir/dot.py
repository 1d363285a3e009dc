"""A Function's dataflow graph in Graphviz dot, primal and adjoint instructions told apart.

The primal part of a gradient Function is what its value results (`meta["primal_results"]`,
the first results) depend on; every other instruction belongs to the adjoint.
"""

from __future__ import annotations

from .core import Function
from .printer import Namer

_STYLE = {"param": 'shape=ellipse, style=filled, fillcolor="#e8e8e8"',
          "primal": 'shape=box, style="rounded,filled", fillcolor="#cfe2ff"',
          "adjoint": 'shape=box, style="rounded,filled", fillcolor="#ffe0b3"',
          "result": "shape=plaintext"}


def primal_instructions(fn: Function) -> set[int]:
    """Indices of the instructions the first `primal_results` results depend on."""
    n = fn.meta.get("primal_results", len(fn.results))
    needed = set(fn.results[:n])
    primal = set()
    for i in range(len(fn.body) - 1, -1, -1):
        instr = fn.body[i]
        if any(o in needed for o in instr.outs):
            primal.add(i)
            needed.update(instr.args)
    return primal


def to_dot(fn: Function) -> str:
    names = Namer(fn)
    node = {}
    lines = [f'digraph "{fn.name}" {{', '  rankdir=TB;',
             '  node [fontname="monospace", fontsize=10];']
    for p in fn.params:
        node[p] = f"p_{names(p)[1:]}"
        lines.append(f'  {node[p]} [label="{names(p)}: {p.type}", {_STYLE["param"]}];')
    primal = primal_instructions(fn)
    for i, instr in enumerate(fn.body):
        label = names.define(instr.out) if len(instr.outs) == 1 else ", ".join(
            names.define(o) for o in instr.outs)
        types = ", ".join(str(o.type) for o in instr.outs)
        kind = "primal" if i in primal else "adjoint"
        lines.append(f'  n{i} [label="{label} = {instr.prim.name}\\n{types}", {_STYLE[kind]}];')
        for o in instr.outs:
            node[o] = f"n{i}"
        for a in instr.args:
            lines.append(f"  {node[a]} -> n{i};")
    for k, r in enumerate(fn.results):
        lines.append(f'  r{k} [label="result {k}", {_STYLE["result"]}];')
        lines.append(f"  {node[r]} -> r{k};")
    lines.append("}")
    return "\n".join(lines) + "\n"
