"""gradjit's eager mode: the PyTorch-style Tensor API of the tutorials in shared/seeds.

Ops run at once on numpy arrays and record a graph (recorder.py, graph.py); backward turns the
graph into IR and runs its adjoint (lowering.py, engine.py). Public names are re-exported from
`gradjit` (exports.py) and from the `gradjit.autograd`, `gradjit.nn`, `gradjit.optim` packages.
"""
