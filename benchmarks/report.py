"""The benchmark report as text, from the results `run.py` collects (the dict it writes with
`--json`): the time table, the W7 gradient/objective line, first-call, per-call and compile
lines, the memory table and the issue's performance targets, each measured/met/missed.

It imports nothing heavy, so `scripts/readme_perf.py` can render a saved run; `run.py` prints
the same lines, so the terminal and the README never disagree. Times are seconds, memory bytes.
"""

from __future__ import annotations

PEERS = ["numpy by hand", "torch", "jax"]
W = 32  # label column


def header() -> str:
    return " ".join([f"{'workload':<{W}}", f"{'gradjit':>10}"] + [f"{p:>17}" for p in PEERS])


def row(label: str, times: dict, scale: float) -> str:
    """gradjit's time, then each peer's time and peer/gradjit (> 1: gradjit is faster)."""
    g = times["gradjit"]
    cells = [f"{label:<{W}}", f"{g * scale:>10.3g}"]
    for peer in PEERS:
        t = times.get(peer)
        cells.append(f"{t * scale:>10.3g} {t / g:>6.2f}x" if t else f"{'missing':>17}")
    return " ".join(cells)


def find(data: dict, prefix: str) -> dict:
    """The times of the row whose label starts with `prefix` (e.g. "W1 "), else {}."""
    for label, r in data["rows"].items():
        if label.startswith(prefix):
            return r["times"]
    return {}


def w7_ratios(data: dict) -> dict:
    """Gradient/objective per library: from the paired timing (both in the same rounds) when
    the run has it, else from the two rows."""
    order = ["gradjit", "jax", "torch", "numpy by hand"]
    pairs = data.get("w7_pairs")
    if pairs:
        return {k: pairs[k] for k in order if k in pairs}
    grad, obj = find(data, "W7 GMM grad"), find(data, "W7 GMM objective")
    return {k: grad[k] / obj[k] for k in order if k in grad and k in obj}


def summary_lines(data: dict) -> list[str]:
    """Everything below the time table except the memory table and the targets."""
    lines = []
    ratios = w7_ratios(data)
    if ratios:
        lines.append("W7 gradient/objective: " + ", ".join(
            f"{k.split()[0]} {v:.2f}" for k, v in ratios.items()))
    first = data.get("w4_first_call") or {}
    if first:
        lines.append("W4 first call (trace + grad + compile + run, empty caches; gradjit: median "
                     "of 5): " + ", ".join(
            f"{k} {v * 1e3:.0f} ms" for k, v in first.items()))
    split = data.get("w1_split")
    if split:
        lines.append(f"W1 per-call split: the kernel's builtin {split.get('builtin', 0) * 1e6:.2f}"
                     f" us, array runner {split['runner'] * 1e6:.2f} us, bare ctypes call of "
                     f"the same kernel {split['ctypes'] * 1e6:.2f} us")
    for c in data.get("compile", []):
        later = f" (optimized code {c['optimized'] * 1e3:.1f} ms later)" \
            if c.get("optimized", 0) > 1e-4 else ""
        lines.append(f"compile latency, {c.get('name', c['ops'])} ({c['ops']} instructions): "
                     f"cold {c['cold'] * 1e3:.1f} ms{later}, warm (disk cache) "
                     f"{c['warm'] * 1e3:.2f} ms")
    return lines


# ---- memory --------------------------------------------------------------------------------
MEMORY_TITLE = """\
memory: MB above the process's size after set-up (each workload and library in a fresh process):
  the peak of the first call (JITs trace, compile and page in their compiler's code there) /
  the peak of a later call; 'workspace': the compiled gradjit code's scratch buffer, held
  between calls (so it is in the first number only)"""


def memory_header() -> str:
    return " ".join([f"{'workload':<{W}}", f"{'workspace':>10}", f"{'gradjit':>13}"]
                    + [f"{p:>13}" for p in PEERS])


def _mb(n) -> str:
    return "?" if n is None else f"{n / 2**20:.1f}"


def size(n) -> str:
    """Bytes for a reader: B, KB, MB (powers of 1024)."""
    if n is None:
        return "-"
    for unit, scale in (("MB", 2**20), ("KB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def memory_row(label: str, cells: dict) -> str:
    def cell(impl):
        m = cells.get(impl)
        if m is None:
            return f"{'-':>13}"
        if "error" in m:
            return f"{'failed':>13}"
        return f"{_mb(m['first']) + ' / ' + _mb(m['steady']):>13}"

    ws = (cells.get("gradjit") or {}).get("workspace")
    return " ".join([f"{label:<{W}}", f"{size(ws):>10}", cell("gradjit")]
                    + [cell(p) for p in PEERS])


def memory_lines(data: dict) -> list[str]:
    mem = data.get("memory")
    if not mem:
        return []
    return [MEMORY_TITLE, memory_header(), *(memory_row(k, v) for k, v in mem.items())]


# ---- the targets -------------------------------------------------------------------
NOT_RUN = ("not measured", None)


def speedup(prefix, peer, goal):
    """Target: peer time / gradjit time >= goal, in the row starting with `prefix`."""
    def measure(data):
        times = find(data, prefix)
        if peer not in times or "gradjit" not in times:
            return ("missing" if times else "not measured"), None
        r = times[peer] / times["gradjit"]
        return f"{r:.2f}x ({peer} time / gradjit time)", r >= goal
    return measure, f">= {goal}x"


def w1_vs_ctypes(data):
    w1, split = find(data, "W1 ").get("gradjit"), data.get("w1_split")
    if not (w1 and split):
        return NOT_RUN
    r = w1 / split["ctypes"]
    return f"{r:.2f}x a bare ctypes call of the kernel", r <= 2


def w4_first(data):
    first = data.get("w4_first_call") or {}
    if "jax" not in first:
        return NOT_RUN
    r = first["jax"] / first["gradjit"]
    return f"{r:.2f}x (jax time / gradjit time)", r >= 5


def w4_steady(data):
    w4 = find(data, "W4 ")
    if "jax" not in w4:
        return NOT_RUN
    r = w4["gradjit"] / w4["jax"]
    return f"{r:.2f}x (gradjit time / jax time)", r <= 1.2


def w7_ratio(data):
    r = w7_ratios(data).get("gradjit")
    return NOT_RUN if r is None else (f"{r:.2f}", r <= 3)


def compile_ms(kind, limit):
    """The gradient of the 10-op function: what the issue's target names."""
    def measure(data):
        for c in data.get("compile", []):
            if c.get("name", "").startswith("gradient"):
                return f"{c[kind] * 1e3:.2f} ms", c[kind] < limit
        return NOT_RUN
    return measure, f"< {limit * 1e3:g} ms"


TARGETS = [  # (name, (data -> (measured text, met?), goal text)); met None: not measured
    ("W1 scalar vs jax", speedup("W1 ", "jax", 5)),
    ("W1 call vs bare ctypes", (w1_vs_ctypes, "<= 2x")),
    ("W2 elementwise vs jax", speedup("W2 ", "jax", 1.3)),
    ("W2 elementwise vs numpy", speedup("W2 ", "numpy by hand", 6)),
    ("W3 MLP vs jax", speedup("W3 ", "jax", 1)),
    ("W3 MLP vs torch", speedup("W3 ", "torch", 1.5)),
    ("W4 first call vs jax", (w4_first, ">= 5x")),
    ("W4 steady vs jax", (w4_steady, "<= 1.2x")),
    ("W5 Hessian vs jax", speedup("W5 ", "jax", 1)),
    ("W6 eager lin.reg vs torch", speedup("W6 ", "torch", 2)),
    ("W6b eager MLP vs torch", speedup("W6b ", "torch", 2)),
    ("W7 GMM grad/objective", (w7_ratio, "<= 3")),
    ("W7 GMM grad vs numpy", speedup("W7 GMM grad", "numpy by hand", 1)),
    ("compile cold, 10-op grad", compile_ms("cold", 0.020)),
    ("compile warm, 10-op grad", compile_ms("warm", 0.002)),
]


def targets(data: dict) -> list[tuple[str, str, bool | None, str]]:
    """(target, measured, met?, goal) for each target of the performance issue."""
    return [(name, *measure(data), goal) for name, (measure, goal) in TARGETS]


def status(met) -> str:
    return {True: "met", False: "MISSED", None: "n/a"}[met]


def target_lines(data: dict) -> list[str]:
    rows = targets(data)
    met = sum(1 for _, _, m, _ in rows if m)
    lines = [f"targets: {met} of {len(rows)} met"]
    lines += [f"  {name:<26} {measured:<42} {goal:<8} {status(m)}"
              for name, measured, m, goal in rows]
    return lines


def target_markdown(data: dict) -> str:
    lines = ["| target | measured | goal | status |", "|---|---|---|---|"]
    lines += [f"| {name} | {measured} | {goal} | {status(m)} |"
              for name, measured, m, goal in targets(data)]
    return "\n".join(lines)
