"""The seeded generator of random well-typed programs.

Program `index` of seed `seed` is a pure function of the two numbers. The generator keeps a
pool of the values computed so far, with their example values: each step picks a kind, lets it
choose operands from the pool (biased towards the newest value, so chains get deep, but reusing
older ones too, so values fan out) and params from the operands' shapes, and is kept only if
its reference spelling evaluates, stays in the kind's domain and stays finite and below CAP.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .kinds import GROUPS
from .program import Arg, Program, Src, Step, step_fn, valid_value

MAX_SIZE = 1024  # elements of any one value: keeps every check of a program fast
CONSTANT_KINDS = {"ones_like"}  # kinds whose value does not depend on their operand


@dataclass
class Val:
    name: str
    v: object
    age: int
    scalar_arg: bool = False  # a Python-float argument (weakly typed)
    const: bool = False  # independent of the arguments (may be a numpy array while tracing)

    shape = property(lambda self: np.shape(self.v))
    ndim = property(lambda self: np.ndim(self.v))
    size = property(lambda self: int(np.size(self.v)))
    dtype = property(lambda self: np.asarray(self.v).dtype)
    kind = property(lambda self: {"f": "f", "i": "i", "b": "b"}[self.dtype.kind])


# (probability, steps low, steps high, chain bias, max dim): tiny, medium and deep programs
SIZES = [(0.35, 2, 10, 0.4, 5), (0.5, 10, 60, 0.5, 5), (0.15, 200, 280, 0.65, 3)]
MODES = [(0.65, "f64"), (0.2, "f32"), (0.15, "mixed")]
SCALARS = [0.5, 2.0, -1.5, 0.25, 3.0, -0.75, 1.25]


class Gen:
    """The generator's state while one program is built; kinds' pickers call its methods."""

    def __init__(self, seed: int, index: int):
        self.rng = np.random.default_rng([seed, index])
        self.seed, self.index = seed, index
        r = self.rng.random()
        self.size_class = next(i for i, c in enumerate(np.cumsum([s[0] for s in SIZES]))
                               if r < c)
        _, lo, hi, self.chain, max_dim = SIZES[self.size_class]
        self.n_steps = int(self.rng.integers(lo, hi + 1))
        r = self.rng.random()
        self.mode = next(m for c, (_, m) in zip(np.cumsum([p for p, _ in MODES]), MODES) if r < c)
        self.dims = sorted({int(d) for d in self.rng.integers(1, max_dim + 1, size=3)})
        if self.rng.random() < 0.1:
            self.dims.append(0)
        self.max_size = MAX_SIZE
        self.pool: list[Val] = []
        self.counter = 0
        weights = np.array([w * k.weight / sum(x.weight for x in grp)
                            for w, grp in GROUPS for k in grp])
        self.kinds = [k for _, grp in GROUPS for k in grp]
        self.kind_p = weights / weights.sum()

    # ---- what pickers use ------------------------------------------------------------------
    def choice(self, options):
        return options[int(self.rng.integers(len(options)))]

    def dim(self, nonzero=False) -> int:
        return int(self.choice([d for d in self.dims if d or not nonzero] or [1]))

    def _biased(self, cands: list[Val]) -> Val | None:
        if not cands:
            return None
        r = self.rng.random()
        if r < self.chain:
            return cands[-1]
        if r < self.chain + (1 - self.chain) / 2:
            return self.choice(cands[-5:])
        return self.choice(cands)

    def val(self, pred=None) -> Val | None:
        """A value of the pool (not a Python-float argument) satisfying pred."""
        return self._biased([v for v in self.pool if not v.scalar_arg and (pred is None or
                                                                           pred(v))])

    def float_val(self) -> Val | None:
        return self.val(lambda v: v.kind == "f")

    def partner(self, x: Val, same_shape=False, scalar_ok=True, kinds="f", also=None):
        """A second operand for x: same shape and dtype, or broadcasting with x (and `also`)."""
        def fits(v):
            if v.kind not in kinds or (v.scalar_arg and not scalar_ok):
                return False
            if same_shape:
                return v.shape == x.shape and v.dtype == x.dtype
            try:
                shape = np.broadcast_shapes(x.shape, v.shape, also.shape if also else ())
            except ValueError:
                return False
            return int(np.prod(shape)) <= self.max_size

        cands = [v for v in self.pool if fits(v)]
        if x in cands and self.rng.random() < 0.2:
            return x  # fan-out: a value used twice by one op
        other = [v for v in cands if v.shape != x.shape]
        return self._biased(other if other and self.rng.random() < 0.5 else cands)

    def broadcastable_to(self, shape) -> Val | None:
        def fits(v):
            try:
                return v.kind == "f" and not v.scalar_arg and \
                    np.broadcast_shapes(v.shape, shape) == tuple(shape)
            except ValueError:
                return False

        return self._biased([v for v in self.pool if fits(v)])

    def scalar(self) -> Src:
        """A scalar operand: a Python float (weak) or a numpy scalar (strong)."""
        c = self.choice(SCALARS)
        r = self.rng.random()
        if r < 0.15:
            return Src(f"np.float64({c!r})")
        if r < 0.25 and self.mode != "f64":
            return Src(f"F32({c!r})")
        return Src(repr(c))

    # ---- building -----------------------------------------------------------------------------
    def add(self, name: str, value, scalar_arg=False) -> Val:
        v = Val(name, value, len(self.pool), scalar_arg)
        self.pool.append(v)
        return v

    def new_name(self, prefix="v") -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def float_dtype(self) -> str:
        low = {"f64": "np.float64", "f32": "F32"}.get(self.mode)
        return low or self.choice(["np.float64", "F32"])

    def try_step(self) -> Step | None:
        k = self.kinds[int(self.rng.choice(len(self.kinds), p=self.kind_p))]
        picked = k.pick(self)
        if not picked:
            return None
        ins, params = picked
        step = Step(k.name, tuple(v.name for v in ins), params, self.new_name())
        return self.accept(step, ins)

    def accept(self, step: Step, ins: list[Val]) -> Step | None:
        from .kinds import KINDS

        k = KINDS[step.kind]
        values = [v.v for v in ins]
        with np.errstate(all="ignore"):
            if k.ok is not None and not k.ok(step.params, *values):
                return None
            try:
                out = step_fn(step)(*values)
            except (ValueError, TypeError, IndexError, AttributeError):
                return None  # numpy refuses these operands: the pick does not apply
        if not valid_value(out) or np.size(out) > self.max_size:
            return None
        v = self.add(step.out, out)
        v.const = k.name in CONSTANT_KINDS or all(x.const for x in ins)
        return step


# ---- a whole program ------------------------------------------------------------------------


def _float_arg(g: Gen, name: str, rank_choices) -> Arg:
    shape = tuple(g.dim() for _ in range(int(g.choice(rank_choices))))
    dtype = g.float_dtype()
    seed = int(g.rng.integers(2**31))
    return Arg(name, f"np.asarray(np.random.default_rng({seed}).uniform(-2.0, 2.0, {shape!r}), "
               f"dtype={dtype})", "array")


def make_args(g: Gen) -> tuple[list[Arg], list[Arg]]:
    """(all arguments, the ones the program may use): float arrays, maybe a Python float or a
    numpy scalar, an index array (i64 or i32), a boolean mask, and an argument nothing uses."""
    ranks = [0, 1, 1, 2, 2, 2, 3, 3, 4] if g.size_class < 2 else [0, 1, 2, 2, 3]
    args = [_float_arg(g, f"x{i}", ranks) for i in range(int(g.rng.integers(1, 4)))]
    if g.rng.random() < 0.3:
        c = round(float(g.rng.uniform(0.3, 2.0)) * g.choice([-1, 1]), 3)
        args.append(Arg(f"s{len(args)}", repr(c), "scalar"))
    if g.rng.random() < 0.1:  # a numpy scalar: strongly typed, unlike a Python float
        c = round(float(g.rng.uniform(-2.0, 2.0)), 3)
        args.append(Arg(f"x{len(args)}", f"{g.float_dtype()}({c!r})", "array"))
    if g.rng.random() < 0.3:
        n = g.dim(nonzero=True)
        idx = g.rng.integers(0, n, size=int(g.rng.integers(1, 5)))
        dtype = g.choice(["np.int64", "np.int64", "np.int32"])
        args.append(Arg(f"n{len(args)}", f"np.array({idx.tolist()!r}, dtype={dtype})", "int"))
    if g.rng.random() < 0.15:
        mask = g.rng.random(tuple(g.dim() for _ in range(int(g.rng.integers(0, 3))))) < 0.5
        args.append(Arg(f"m{len(args)}", f"np.array({mask.tolist()!r}, dtype=bool)", "bool"))
    used = list(args)
    if g.rng.random() < 0.15:
        args.insert(int(g.rng.integers(len(args) + 1)), _float_arg(g, f"u{len(args)}", [1, 2]))
    return args, used


def _squash(g: Gen, v) -> Step | None:
    """Scale a large value down by a power of two (exact), keeping deep chains well scaled."""
    peak = float(np.max(np.abs(v.v))) if v.size else 0.0
    if peak <= 20:
        return None
    c = 2.0 ** -int(np.ceil(np.log2(peak / 4)))
    return g.accept(Step("scalar_mul", (v.name,), {"c": c}, g.new_name()), [v])


def generate(seed: int, index: int) -> Program:
    g = Gen(seed, index)
    args, used = make_args(g)
    for a in used:
        g.add(a.name, a.value(), scalar_arg=a.kind == "scalar")
    steps: list[Step] = []
    for _ in range(g.n_steps * 40):
        if len(steps) >= g.n_steps:
            break
        step = g.try_step()
        if step is None:
            continue
        steps.append(step)
        last = g.pool[-1]
        if last.kind == "f":
            squash = _squash(g, last)
            steps += [squash] if squash else []
    floats = [v for v in g.pool if v.kind == "f" and not v.scalar_arg]
    outputs = [floats[-1].name]
    for _ in range(int(g.choice([0, 0, 1, 1, 2, 3]))):
        extra = g.val()
        # now and then the same value twice: a Function may return one value at two results
        if extra is not None and (extra.name not in outputs or g.rng.random() < 0.1):
            outputs.append(extra.name)
    diff = [i for i, a in enumerate(args) if a.kind in ("array", "scalar")]
    if len(diff) > 1 and g.rng.random() < 0.25:
        diff = sorted(int(i) for i in g.rng.choice(diff, size=int(g.rng.integers(
            1, len(diff))), replace=False))
    return Program(seed, index, args, steps, outputs, tuple(diff), g.mode)
