"""Error classes. Every user-facing message reads

    <op or stage>: <problem>
      at file:line  <source line>
      hint: <what to do>
"""

from __future__ import annotations

import linecache


def format_loc(loc: str | None) -> str:
    """'  at file:line  <source line>' for a 'path:line' location, or '' when unknown."""
    if not loc:
        return ""
    path, _, line = loc.rpartition(":")
    source = linecache.getline(path, int(line)).strip() if line.isdigit() else ""
    short = path.rsplit("/", 1)[-1]
    return f"\n  at {short}:{line}  {source}".rstrip()


class GradjitError(Exception):
    """Base class: `op: problem`, the user's line, and a hint."""

    def __init__(self, op: str, problem: str, loc: str | None = None, hint: str | None = None):
        self.op, self.problem, self.loc, self.hint = op, problem, loc, hint
        super().__init__(self._text())

    def _text(self) -> str:
        text = f"{self.op}: {self.problem}{format_loc(self.loc)}"
        return text + (f"\n  hint: {self.hint}" if self.hint else "")

    def at(self, loc: str | None) -> GradjitError:
        """The same error located at `loc` if it has no location yet."""
        if self.loc is None and loc is not None:
            self.loc = loc
            self.args = (self._text(),)
        return self

    def __str__(self) -> str:
        return self._text()


class TraceError(GradjitError, TypeError):
    """The user's function cannot be traced as written."""


class ShapeError(TraceError, ValueError):
    """Operand shapes or dtypes do not fit the op."""


class IndexingError(ShapeError, IndexError):
    """An index is out of bounds or of the wrong kind."""


class ConcretizationError(TraceError):
    """Python control flow or conversion needed a concrete value from a traced one."""


class MissingRule(TraceError):
    """A primitive has no derivative rule (the message says why)."""


class UnexpectedTracerError(TraceError):
    """A traced value escaped the trace that made it."""


class ResourceLimitError(GradjitError, MemoryError):
    """A compiled function would need more memory than the configured limit."""


class IRParseError(GradjitError, ValueError):
    """Malformed IR text (the message gives line and column)."""


class CompilerBug(GradjitError, AssertionError):
    """An internal invariant broke; the message shows the instructions around the bad one."""


class CodegenError(GradjitError):
    """The backend cannot lower a function."""
