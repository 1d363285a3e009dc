"""Read the text form back into a Function. Errors give line and column."""

from __future__ import annotations

import ast
import math
import re

from ..errors import IRParseError
from .core import Function, Instr, Value
from .types import DTYPES, TensorType

_TYPE = r"(?:bool|i32|i64|f32|f64)\[[0-9,]*\]"
_HEADER = re.compile(r"^func @([\w.]+)\((.*)\) -> (\(.*\)|" + _TYPE + r")\s*\{$")
_INSTR = re.compile(r"^\s*(%[\w, %]+?)\s*=\s*(\w+)\s*(.*?)\s*:\s*((?:" + _TYPE +
                    r")(?:\s*,\s*" + _TYPE + r")*)\s*(?:#\s*(.*))?$")
_NAMES = {"nan": math.nan, "inf": math.inf, "True": True, "False": False, "None": None}


def parse_type(text: str) -> TensorType:
    m = re.fullmatch(r"(\w+)\[([0-9,]*)\]", text.strip())
    if not m or m.group(1) not in DTYPES:
        raise ValueError(f"bad type {text.strip()!r}")
    dims = tuple(int(d) for d in m.group(2).split(",") if d)
    return TensorType(m.group(1), dims)


def literal(text: str):
    """A safe evaluator for parameter literals: numbers, strings, tuples, lists, nan, inf."""

    def ev(node):
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Tuple):
            return tuple(ev(e) for e in node.elts)
        if isinstance(node, ast.List):
            return [ev(e) for e in node.elts]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -ev(node.operand)
        if isinstance(node, ast.Name) and node.id in _NAMES:
            return _NAMES[node.id]
        raise ValueError(f"unexpected {ast.dump(node)[:40]}")

    return ev(ast.parse(text.strip(), mode="eval").body)


def _split_top(text: str) -> list[str]:
    """Split on commas that are not nested in brackets or quotes."""
    parts, depth, cur, quote = [], 0, "", None
    for ch in text:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0 and not quote:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    return [p.strip() for p in parts]


class _Parser:
    def __init__(self, text: str):
        self.lines = text.splitlines()
        self.pos = 0  # index into self.lines of the next line to read

    def error(self, lineno: int, problem: str, col: int = 1):
        line = self.lines[lineno - 1] if 0 < lineno <= len(self.lines) else ""
        raise IRParseError("parse", f"line {lineno}, column {col}: {problem}\n    {line}")

    def lookup(self, env, name: str, lineno: int) -> Value:
        name = name.strip()
        if name not in env:
            col = self.lines[lineno - 1].find(name) + 1
            self.error(lineno, f"undefined value {name}", max(col, 1))
        return env[name]

    def next_line(self):
        """(line number, text) of the next non-blank line, or (None, None) at the end."""
        while self.pos < len(self.lines):
            self.pos += 1
            if self.lines[self.pos - 1].strip():
                return self.pos, self.lines[self.pos - 1]
        return None, None

    def peek(self) -> str:
        for line in self.lines[self.pos:]:
            if line.strip():
                return line.strip()
        return ""

    def parse(self) -> Function:
        from ..ops import REGISTRY

        lineno, header = self.next_line()
        if lineno is None:
            self.error(1, "empty text")
        return self.function(lineno, header, REGISTRY)

    def function(self, lineno, header, registry) -> Function:
        m = _HEADER.match(header.strip())
        if not m:
            self.error(lineno, "expected 'func @name(%a: f64[..], ...) -> type {'")
        env: dict[str, Value] = {}
        params = []
        for part in _split_top(m.group(2)):
            pname, _, ptype = part.partition(":")
            value = Value(self._type(ptype, lineno), pname.strip().lstrip("%"))
            env[pname.strip()] = value
            params.append(value)
        body, results = [], None
        while True:
            lineno, line = self.next_line()
            if lineno is None:
                self.error(len(self.lines), "missing closing '}'")
            stripped = line.strip()
            if stripped == "}":
                break
            if stripped.startswith("return"):
                names = _split_top(stripped[len("return"):])
                results = [self.lookup(env, n, lineno) for n in names]
                continue
            body.append(self._instr(env, line, lineno, registry))
        if results is None:
            self.error(lineno, "missing 'return'")
        return Function(m.group(1), params, body, results)

    def _type(self, text: str, lineno: int) -> TensorType:
        try:
            return parse_type(text)
        except ValueError as e:
            self.error(lineno, str(e), self.lines[lineno - 1].find(text.strip()) + 1)

    def _regions(self, registry) -> dict[str, Function]:
        """The nested functions printed below an instruction, by name."""
        found = {}
        while self.peek().startswith("func @"):
            lineno, header = self.next_line()
            fn = self.function(lineno, header, registry)
            found["@" + fn.name] = fn
        return found

    def _instr(self, env, line: str, lineno: int, registry) -> Instr:
        m = _INSTR.match(line)
        if not m:
            self.error(lineno, "expected '%out = op %args {params} : type'",
                       len(line) - len(line.lstrip()) + 1)
        outs_text, opname, rest, types_text, loc = m.groups()
        if opname not in registry:
            self.error(lineno, f"unknown op {opname!r}", line.find(opname) + 1)
        prim = registry[opname]
        args_text, _, params_text = rest.partition("{")
        if params_text and not params_text.endswith("}"):
            self.error(lineno, "unclosed '{'", line.find("{") + 1)
        args = [self.lookup(env, a, lineno) for a in _split_top(args_text)]
        types = [self._type(t, lineno) for t in _split_top(types_text)]
        params = {}
        for item in _split_top(params_text[:-1]):
            key, _, val = item.partition("=")
            try:
                params[key.strip()] = literal(_REGION_REF.sub(r"'@\1'", val))
            except (ValueError, SyntaxError) as e:
                self.error(lineno, f"bad parameter {item!r}: {e}", line.find(item) + 1)
        for key, decode in prim.extra.get("decode", {}).items():
            params[key] = decode(params[key], types[0])
        names = _split_top(outs_text)
        if len(names) != len(types):
            self.error(lineno, f"{len(names)} results but {len(types)} types")
        regions = self._regions(registry)
        params = {k: _resolve(v, regions, lambda ref: self.error(
            lineno, f"region {ref} is not defined below the instruction")) for k, v in
            params.items()}
        outs = [Value(t) for t in types]
        for n, v in zip(names, outs):
            if n in env:
                self.error(lineno, f"{n} is defined twice", line.find(n) + 1)
            env[n] = v
        return Instr(prim, args, params, outs, loc.strip() if loc else None)


_REGION_REF = re.compile(r"@([\w.]+)")


def _resolve(value, regions, missing):
    """Parameter values with region references ('@name' strings) replaced by the Functions."""
    if isinstance(value, tuple):
        return tuple(_resolve(v, regions, missing) for v in value)
    if isinstance(value, str) and value.startswith("@"):
        return regions[value] if value in regions else missing(value)
    return value


def parse(text: str) -> Function:
    """The Function a text form describes (the inverse of `str(fn)`)."""
    return _Parser(text).parse()
