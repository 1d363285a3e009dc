"""gradjit: a source-to-source tracing compiler for gradients in Python.

    import gradjit
    df = gradjit.grad(f)          # df is traced to IR, differentiated as IR, and run
    print(gradjit.dump(df, 1.0, stage="opt"))
"""

from . import ir, lax, numpy  # noqa: F401
from .lax import checkpoint, cond, fori_loop, scan, switch, while_loop  # noqa: F401
from .errors import (CodegenError, CompilerBug, ConcretizationError, GradjitError,  # noqa: F401
                     IRParseError, MissingRule, ShapeError, TraceError, UnexpectedTracerError)
from .ops.api import stop_gradient  # noqa: F401
from .tracer import (dump, grad, hessian, jacfwd, jacobian, jacrev, jit, jvp,  # noqa: F401
                     trace, value_and_grad, vjp, vmap)

__version__ = "0.1.0"

# ---- eager (PyTorch-style) API ----
from .eager.exports import *  # noqa: E402, F401, F403  (Tensor, tensor, no_grad, autograd, ...)
