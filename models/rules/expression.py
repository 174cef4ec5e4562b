"""Rule expressions: the small, safe condition language of alert rules.

A rule's ``when`` reads like a spreadsheet formula over named facts of one
material in one warehouse, with thresholds kept as parameters::

    on_hand > 0 and days_since_last_issue >= $dead_days

The text is tokenised and parsed here by a recursive-descent (Pratt) parser
into an immutable tree of frozen dataclasses, which is then turned into
nested Python closures once; nothing the user writes is ever handed to
``eval``, ``exec``, ``compile`` or Python's ``ast``. Only the constructs below
exist, so a rule can read facts and do arithmetic but cannot reach anything
else.

Grammar, loosest binding first::

    expr     := expr "or" expr | expr "and" expr | "not" expr
              | sum (("<" | "<=" | ">" | ">=" | "==" | "!=") sum)?
    sum      := sum ("+" | "-") product | product
    product  := product ("*" | "/") unary | unary
    unary    := "-" unary | atom
    atom     := NUMBER | FACT | "$" PARAM | FUNCTION "(" expr ("," expr)* ")" | "(" expr ")"

``and`` binds tighter than ``or`` and ``not`` is looser than a comparison,
as in Python: ``not a < b`` is ``not (a < b)``. Arithmetic is left
associative; comparisons do not chain (write ``a < b and b < c``). Numbers
may use ``_`` between digits (``10_000``) and an exponent (``1e3``).
Functions: ``min(a, b, ...)``, ``max(a, b, ...)``, ``abs(x)``,
``coalesce(a, b, ...)`` (the first known value) and ``missing(x)`` (true when
``x`` is unknown).

Types are checked at parse time: arithmetic and comparisons take numbers,
``and``/``or``/``not`` take conditions, so ``available and 3`` or
``a < b < c`` are rejected with the column of the offending operator.

Unknown values. A fact may be ``None`` (unknown, e.g. no stock-out within the
horizon). Arithmetic with an unknown is unknown, and so is division by zero.
A comparison with an unknown is never true: it is unknown (``None``), and
``and``/``or``/``not`` follow three-valued logic (as SQL does): ``unknown and
false`` is false, ``unknown or true`` is true, ``not unknown`` is unknown. A
rule fires only when its condition is exactly ``True`` and clears only when
its clear condition is exactly ``True``, so missing data neither raises nor
resolves an alert; use ``missing(x)`` to act on missing data on purpose.

Comparisons treat two numbers within one part in 10⁹ of each other as equal
(``3 * 1.1 <= 3.3`` holds), so float noise never moves a threshold.

>>> facts = {"available": 40.0, "safety_stock": 50.0, "lead_time_days": None}
>>> e = parse("available < safety_stock * $share", set(facts), {"share": 0.9})
>>> e.evaluate(facts)
True
>>> str(e), sorted(e.names())
('available < safety_stock * $share', ['available', 'safety_stock'])
>>> parse("available / 0 > 1", set(facts)).evaluate(facts) is None
True
>>> parse("lead_time_days > 3 or available < 50", set(facts)).evaluate(facts)
True
>>> try:
...     parse("availble < 1", set(facts))
... except ExpressionError as error:
...     print(error)
at col 1: unknown fact 'availble' (did you mean 'available'?)
"""

from __future__ import annotations

import difflib
import keyword
import math
import operator
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "FUNCTIONS",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "Arith",
    "Call",
    "Compare",
    "Expression",
    "ExpressionError",
    "Fact",
    "Logic",
    "Neg",
    "Node",
    "Not",
    "Num",
    "Param",
    "Value",
    "disjunction",
    "negation",
    "parse",
]

MAX_LENGTH = 1000
"""Longest expression text accepted, in characters."""

MAX_DEPTH = 50
"""Deepest nesting accepted (parentheses, operators, calls); also bounds recursion."""

FUNCTIONS: dict[str, tuple[int, int | None]] = {
    "abs": (1, 1),
    "coalesce": (2, None),
    "max": (2, None),
    "min": (2, None),
    "missing": (1, 1),
}
"""Function name -> (fewest, most) arguments; ``None`` means no upper limit."""

_REL_TOL = 1e-9

Value = bool | float | None
"""What an expression evaluates to: a condition, a number, or ``None`` for unknown."""

Kind = Literal["condition", "number"]


class ExpressionError(ValueError):
    """A rule expression that cannot be accepted; the message names position and problem.

    ``problem`` is the message without position; ``col`` (1-based, within
    ``line`` when the text spans lines) is ``None`` for whole-text problems.
    """

    def __init__(self, problem: str, text: str = "", pos: int | None = None) -> None:
        self.problem = problem
        self.line: int | None = None
        self.col: int | None = None
        if pos is None:
            message = problem
        else:
            before = text[:pos]
            self.col = pos - (before.rfind("\n") + 1) + 1
            if "\n" in text:
                self.line = before.count("\n") + 1
                message = f"at line {self.line} col {self.col}: {problem}"
            else:
                message = f"at col {self.col}: {problem}"
        super().__init__(message)


# --- the tree -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Num:
    """A number literal, always a float (``90`` is ``90.0``)."""

    value: float


@dataclass(frozen=True, slots=True)
class Fact:
    """A named fact of the material, looked up at evaluation."""

    name: str


@dataclass(frozen=True, slots=True)
class Param:
    """A rule parameter ``$name``, bound to its value at parse time."""

    name: str
    value: float


@dataclass(frozen=True, slots=True)
class Neg:
    """Unary minus."""

    operand: Node


@dataclass(frozen=True, slots=True)
class Not:
    """Logical negation of a condition."""

    operand: Node


@dataclass(frozen=True, slots=True)
class Arith:
    """``+ - * /`` of two numbers."""

    op: Literal["+", "-", "*", "/"]
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Compare:
    """``< <= > >= == !=`` of two numbers: a condition."""

    op: Literal["<", "<=", ">", ">=", "==", "!="]
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Logic:
    """``and`` / ``or`` of two conditions."""

    op: Literal["and", "or"]
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Call:
    """One of the built-in ``FUNCTIONS`` applied to its arguments."""

    func: str
    args: tuple[Node, ...]


Node = Num | Fact | Param | Neg | Not | Arith | Compare | Logic | Call


def _kind(node: Node) -> Kind:
    if isinstance(node, Compare | Logic | Not) or (
        isinstance(node, Call) and node.func == "missing"
    ):
        return "condition"
    return "number"


# --- tokens -------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
      (?P<space>\s+)
    | (?P<number>(?:\d+(?:_\d+)*(?:\.(?:\d+(?:_\d+)*)?)?|\.\d+(?:_\d+)*)(?:[eE][+-]?\d+)?)
    | (?P<param>\$[A-Za-z_][A-Za-z0-9_]*)
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<op><=|>=|==|!=|[-+*/(),<>])
    """,
    re.VERBOSE,
)

_FORBIDDEN_CHARS = {
    "'": "strings are not allowed",
    '"': "strings are not allowed",
    ".": "attribute access is not allowed",
    "[": "indexing is not allowed",
    "]": "indexing is not allowed",
    "{": "braces are not allowed",
    "}": "braces are not allowed",
    "=": "use '==' to compare",
    "!": "use 'not' to negate",
    "&": "use 'and'",
    "|": "use 'or'",
    "%": "'%' is not supported",
    "$": "'$' must be followed by a parameter name",
}

_DOUBLED = {"*": "'**' (power) is not supported", "/": "'//' is not supported; use '/'"}

_KEYWORDS = frozenset({"and", "or", "not"})
_UNKNOWN_VALUE_WORDS = frozenset({"is", "None", "none", "null", "NULL", "nan", "NaN"})
_BOOLEAN_WORDS = frozenset({"True", "False", "true", "false"})


def _keyword_problem(word: str) -> str:
    if word in _UNKNOWN_VALUE_WORDS:
        return f"'{word}' is not supported; use missing(x) to test for an unknown fact"
    if word in _BOOLEAN_WORDS:
        return f"'{word}' is not supported; write a comparison"
    return f"'{word}' is not allowed in a rule expression"


_COMPARISONS = frozenset({"<", "<=", ">", ">=", "==", "!="})

# Binding power of each infix operator: higher binds tighter.
_INFIX_BP = {
    "or": 10,
    "and": 20,
    "<": 40,
    "<=": 40,
    ">": 40,
    ">=": 40,
    "==": 40,
    "!=": 40,
    "+": 50,
    "-": 50,
    "*": 60,
    "/": 60,
}
_NOT_BP = 30  # the operand of `not` takes comparisons, not `and`/`or`
_NEG_BP = 70  # the operand of unary minus takes only atoms and further minus signs


@dataclass(frozen=True, slots=True)
class _Token:
    kind: Literal["number", "param", "name", "op", "end"]
    text: str
    pos: int


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos, end = 0, len(text)
    while pos < end:
        match = _TOKEN.match(text, pos)
        if match is None:
            char = text[pos]
            reason = _FORBIDDEN_CHARS.get(char)
            shown = repr(char) if char.isprintable() else f"character U+{ord(char):04X}"
            problem = f"unexpected {shown}" + (f": {reason}" if reason else "")
            raise ExpressionError(problem, text, pos)
        kind = match.lastgroup
        value = match.group()
        if kind == "op" and value in "*/" and text.startswith(value * 2, pos):
            raise ExpressionError(_DOUBLED[value], text, pos)
        if kind in ("name", "param") and "__" in value:
            raise ExpressionError(
                "unexpected '__': names with double underscores are not allowed",
                text,
                pos + value.index("__"),
            )
        if kind == "name" and value not in _KEYWORDS and keyword.iskeyword(value):
            raise ExpressionError(_keyword_problem(value), text, pos)
        if kind != "space":
            tokens.append(_Token(kind, value, pos))  # type: ignore[arg-type]
        pos = match.end()
    tokens.append(_Token("end", "", end))
    return tokens


def _suggest(word: str, choices: Collection[str]) -> str:
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    if not close and word.lower() in choices:
        close = [word.lower()]
    return f" (did you mean '{close[0]}'?)" if close else ""


# --- parser -------------------------------------------------------------------------------


class _Parser:
    """Pratt parser over the token list; every method returns ``(node, depth)``."""

    def __init__(
        self, text: str, known_facts: Collection[str], params: Mapping[str, float]
    ) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0
        self.nesting = 0
        self.known_facts = known_facts
        self.params = params

    def error(self, problem: str, token: _Token) -> ExpressionError:
        return ExpressionError(problem, self.text, token.pos)

    def peek(self) -> _Token:
        return self.tokens[self.i]

    def advance(self) -> _Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def describe(self, token: _Token) -> str:
        return "the end of the expression" if token.kind == "end" else repr(token.text)

    def parse(self) -> Node:
        node, _ = self.expression(0)
        token = self.peek()
        if token.kind != "end":
            if token.text == ")":
                raise self.error("unexpected ')' without a matching '('", token)
            raise self.error(
                f"unexpected {self.describe(token)} after a complete expression", token
            )
        return node

    def enter(self, token: _Token) -> None:
        self.nesting += 1
        if self.nesting > MAX_DEPTH:
            raise self.error(
                f"expression is too deep: more than {MAX_DEPTH} levels of nesting", token
            )

    def checked_depth(self, depth: int, token: _Token) -> int:
        if depth > MAX_DEPTH:
            raise self.error(
                f"expression is too deep: more than {MAX_DEPTH} levels of nesting", token
            )
        return depth

    def expression(self, min_bp: int) -> tuple[Node, int]:
        left, depth = self.prefix()
        while True:
            token = self.peek()
            if token.kind not in ("op", "name"):
                break
            bp = _INFIX_BP.get(token.text)
            if bp is None or bp <= min_bp:
                break
            self.advance()
            right, right_depth = self.expression(bp)
            left = self.infix(token, left, right)
            depth = self.checked_depth(max(depth, right_depth) + 1, token)
        return left, depth

    def infix(self, token: _Token, left: Node, right: Node) -> Node:
        op = token.text
        if op in ("and", "or"):
            for side, operand in (("left", left), ("right", right)):
                if _kind(operand) != "condition":
                    raise self.error(
                        f"'{op}' needs a condition (true/false) on its {side}, got a number",
                        token,
                    )
            return Logic(op, left, right)  # type: ignore[arg-type]
        if op in _COMPARISONS:
            if isinstance(left, Compare):
                raise self.error(
                    f"comparisons cannot be chained; write 'a {left.op} b and b {op} c'", token
                )
            for side, operand in (("left", left), ("right", right)):
                if _kind(operand) != "number":
                    raise self.error(f"'{op}' needs a number on its {side}, got a condition", token)
            return Compare(op, left, right)  # type: ignore[arg-type]
        for side, operand in (("left", left), ("right", right)):
            if _kind(operand) != "number":
                raise self.error(f"'{op}' needs a number on its {side}, got a condition", token)
        return Arith(op, left, right)  # type: ignore[arg-type]

    def prefix(self) -> tuple[Node, int]:
        token = self.advance()
        if token.kind == "number":
            value = float(token.text)
            if not math.isfinite(value):
                raise self.error(f"number {token.text} is too large", token)
            return Num(value), 1
        if token.kind == "param":
            return self.param(token), 1
        if token.text == "-":
            self.enter(token)
            operand, depth = self.expression(_NEG_BP)
            self.nesting -= 1
            if _kind(operand) != "number":
                raise self.error("'-' needs a number, got a condition", token)
            return Neg(operand), self.checked_depth(depth + 1, token)
        if token.text == "not":
            self.enter(token)
            operand, depth = self.expression(_NOT_BP)
            self.nesting -= 1
            if _kind(operand) != "condition":
                raise self.error("'not' needs a condition (true/false), got a number", token)
            return Not(operand), self.checked_depth(depth + 1, token)
        if token.text == "(":
            self.enter(token)
            inner, depth = self.expression(0)
            closing = self.advance()
            if closing.text != ")":
                raise self.error(
                    f"expected ')' to close the '(' at col {self.column(token)}, "
                    f"got {self.describe(closing)}",
                    closing,
                )
            self.nesting -= 1
            return inner, depth
        if token.kind == "name":
            if self.peek().text == "(":
                return self.call(token)
            return self.fact(token), 1
        if token.kind == "end":
            raise self.error(
                "expected a number, fact, parameter or '(', got the end of the expression", token
            )
        raise self.error(
            f"unexpected {self.describe(token)}: expected a number, fact, parameter or '('", token
        )

    def column(self, token: _Token) -> int:
        return token.pos - (self.text.rfind("\n", 0, token.pos) + 1) + 1

    def param(self, token: _Token) -> Param:
        name = token.text[1:]
        if name not in self.params:
            if not self.params:
                raise self.error(f"unknown parameter '${name}' (this rule has no params)", token)
            hint = _suggest(name, self.params)
            hint = hint.replace("'", "'$", 1) if hint else f" (params: {_listing(self.params)})"
            raise self.error(f"unknown parameter '${name}'{hint}", token)
        value = self.params[name]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(f"parameter '${name}' must be a number, got {value!r}", token)
        if not math.isfinite(value):
            raise self.error(f"parameter '${name}' must be finite, got {value!r}", token)
        return Param(name, float(value))

    def fact(self, token: _Token) -> Fact:
        name = token.text
        if name in _KEYWORDS:
            raise self.error(f"unexpected '{name}': expected a number, fact or '('", token)
        if name in FUNCTIONS and name not in self.known_facts:
            raise self.error(f"'{name}' is a function: write {name}(...)", token)
        if name not in self.known_facts:
            if name in _UNKNOWN_VALUE_WORDS or name in _BOOLEAN_WORDS:
                raise self.error(_keyword_problem(name), token)
            raise self.error(f"unknown fact '{name}'{_suggest(name, self.known_facts)}", token)
        return Fact(name)

    def call(self, token: _Token) -> tuple[Call, int]:
        name = token.text
        if name not in FUNCTIONS:
            if name in self.known_facts:
                raise self.error(f"'{name}' is a fact, not a function", token)
            hint = _suggest(name, FUNCTIONS) or f" (functions: {_listing(FUNCTIONS)})"
            raise self.error(f"unknown function '{name}'{hint}", token)
        opening = self.advance()
        self.enter(opening)
        args: list[Node] = []
        depth = 0
        while True:
            arg, arg_depth = self.expression(0)
            if _kind(arg) != "number":
                raise self.error(f"{name}() takes numbers, got a condition", token)
            args.append(arg)
            depth = max(depth, arg_depth)
            separator = self.advance()
            if separator.text == ")":
                break
            if separator.text != ",":
                raise self.error(
                    f"expected ',' or ')' to close the '(' at col {self.column(opening)}, "
                    f"got {self.describe(separator)}",
                    separator,
                )
        self.nesting -= 1
        fewest, most = FUNCTIONS[name]
        if len(args) < fewest or (most is not None and len(args) > most):
            wanted = f"exactly {fewest}" if fewest == most else f"at least {fewest}"
            raise self.error(
                f"{name}() takes {wanted} argument{'s' if fewest > 1 else ''}, got {len(args)}",
                token,
            )
        return Call(name, tuple(args)), self.checked_depth(depth + 1, token)


def _listing(names: Collection[str]) -> str:
    return ", ".join(sorted(names))


# --- canonical text -----------------------------------------------------------------------

_PRECEDENCE = {"or": 10, "and": 20, "not": 30, "compare": 40, "+": 50, "-": 50, "*": 60, "/": 60}
_ATOM = 100


def _format_number(value: float) -> str:
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _format(node: Node) -> tuple[str, int]:
    """Canonical text and precedence; parentheses only where the tree needs them."""
    match node:
        case Num(value):
            return _format_number(value), _ATOM
        case Fact(name):
            return name, _ATOM
        case Param(name, _):
            return f"${name}", _ATOM
        case Call(func, args):
            return f"{func}({', '.join(_format(arg)[0] for arg in args)})", _ATOM
        case Neg(operand):
            text, prec = _format(operand)
            if prec < _ATOM or isinstance(operand, Neg):
                text = f"({text})"
            return f"-{text}", _NEG_BP
        case Not(operand):
            text, prec = _format(operand)
            if prec < _ATOM and not isinstance(operand, Not):
                text = f"({text})"
            return f"not {text}", _PRECEDENCE["not"]
        case Arith(op, left, right) | Compare(op, left, right) | Logic(op, left, right):
            prec = _PRECEDENCE["compare"] if isinstance(node, Compare) else _PRECEDENCE[op]
            left_text, left_prec = _format(left)
            right_text, right_prec = _format(right)
            if left_prec < prec:
                left_text = f"({left_text})"
            if right_prec <= prec:  # left associative: a - (b - c) keeps its parentheses
                right_text = f"({right_text})"
            return f"{left_text} {op} {right_text}", prec
    raise TypeError(f"not an expression node: {node!r}")  # pragma: no cover


def _names(node: Node, into: set[str]) -> set[str]:
    match node:
        case Fact(name):
            into.add(name)
        case Neg(operand) | Not(operand):
            _names(operand, into)
        case Arith(_, left, right) | Compare(_, left, right) | Logic(_, left, right):
            _names(left, into)
            _names(right, into)
        case Call(_, args):
            for arg in args:
                _names(arg, into)
    return into


# --- evaluation: the tree compiled into closures once ------------------------------------

Facts = Mapping[str, object]
_Fn = Callable[[Facts], Value]


def _close(a: float, b: float) -> bool:
    """Equal within one part in 10⁹ (an infinite difference is never close)."""
    if a == b:
        return True
    difference = abs(a - b)
    return difference != math.inf and difference <= _REL_TOL * max(1.0, abs(a), abs(b))


_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<": lambda a, b: a < b and not _close(a, b),
    "<=": lambda a, b: a <= b or _close(a, b),
    ">": lambda a, b: a > b and not _close(a, b),
    ">=": lambda a, b: a >= b or _close(a, b),
    "==": _close,
    "!=": lambda a, b: not _close(a, b),
}

_ARITH: dict[str, Callable[[float, float], float]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
}


_VARIABLE = object()


def _folded(node: Node) -> object:
    """The value of a fact-free arithmetic subtree such as ``1 + $margin``, else ``_VARIABLE``."""
    match node:
        case Num(value) | Param(_, value):
            return value
        case Neg(operand):
            value = _folded(operand)
            return value if value is _VARIABLE else -value  # type: ignore[operator]
        case Arith(op, left, right):
            a, b = _folded(left), _folded(right)
            if a is _VARIABLE or b is _VARIABLE or (op == "/" and not b):
                return _VARIABLE
            result = _ARITH[op](a, b)  # type: ignore[arg-type]
            return result if result == result else _VARIABLE
    return _VARIABLE


def _compile(node: Node) -> _Fn:
    """The tree as nested closures; fact-free subtrees are folded into constants first."""
    constant = _folded(node)
    if constant is not _VARIABLE:
        return lambda facts: constant  # type: ignore[return-value]
    match node:
        case Fact(name):

            def fact(facts: Facts) -> Value:
                value = facts.get(name)
                if value is None:
                    return None
                number = float(value)  # type: ignore[arg-type]
                return None if number != number else number  # NaN is unknown

            return fact
        case Neg(operand):
            inner = _compile(operand)

            def neg(facts: Facts) -> Value:
                value = inner(facts)
                return None if value is None else -value

            return neg
        case Not(operand):
            inner = _compile(operand)

            def not_(facts: Facts) -> Value:
                value = inner(facts)
                return None if value is None else not value

            return not_
        case Logic("and", left, right):
            lf, rf = _compile(left), _compile(right)

            def and_(facts: Facts) -> Value:
                a = lf(facts)
                if a is False:
                    return False
                b = rf(facts)
                if b is False:
                    return False
                return None if a is None or b is None else True

            return and_
        case Logic("or", left, right):
            lf, rf = _compile(left), _compile(right)

            def or_(facts: Facts) -> Value:
                a = lf(facts)
                if a is True:
                    return True
                b = rf(facts)
                if b is True:
                    return True
                return None if a is None or b is None else False

            return or_
        case Compare(op, left, right) if _folded(right) is not _VARIABLE:
            lf, test, b = _compile(left), _COMPARE[op], _folded(right)

            def compare_constant(facts: Facts) -> Value:
                a = lf(facts)
                return None if a is None else test(a, b)  # type: ignore[arg-type]

            return compare_constant
        case Compare(op, left, right):
            lf, rf, test = _compile(left), _compile(right), _COMPARE[op]

            def compare(facts: Facts) -> Value:
                a = lf(facts)
                if a is None:
                    return None
                b = rf(facts)
                if b is None:
                    return None
                return test(a, b)  # type: ignore[arg-type]

            return compare
        case Arith("/", left, right):
            lf, rf = _compile(left), _compile(right)

            def divide(facts: Facts) -> Value:
                a = lf(facts)
                if a is None:
                    return None
                b = rf(facts)
                if not b:  # None or zero: unknown
                    return None
                result = a / b  # type: ignore[operator]
                return None if result != result else result

            return divide
        case Arith(op, left, right) if _folded(right) is not _VARIABLE:
            lf, apply, b = _compile(left), _ARITH[op], _folded(right)

            def arith_constant(facts: Facts) -> Value:
                a = lf(facts)
                if a is None:
                    return None
                result = apply(a, b)  # type: ignore[arg-type]
                return None if result != result else result

            return arith_constant
        case Arith(op, left, right):
            lf, rf, apply = _compile(left), _compile(right), _ARITH[op]

            def arith(facts: Facts) -> Value:
                a = lf(facts)
                if a is None:
                    return None
                b = rf(facts)
                if b is None:
                    return None
                result = apply(a, b)  # type: ignore[arg-type]
                return None if result != result else result  # inf - inf is unknown

            return arith
        case Call("missing", (arg,)):
            inner = _compile(arg)
            return lambda facts: inner(facts) is None
        case Call("abs", (arg,)):
            inner = _compile(arg)

            def abs_(facts: Facts) -> Value:
                value = inner(facts)
                return None if value is None else abs(value)

            return abs_
        case Call("coalesce", args):
            fns = tuple(_compile(arg) for arg in args)

            def coalesce(facts: Facts) -> Value:
                for fn in fns:
                    value = fn(facts)
                    if value is not None:
                        return value
                return None

            return coalesce
        case Call(func, args):  # min, max
            fns = tuple(_compile(arg) for arg in args)
            pick = min if func == "min" else max

            def extremum(facts: Facts) -> Value:
                values = [fn(facts) for fn in fns]
                if None in values:
                    return None
                return pick(values)  # type: ignore[type-var]

            return extremum
    raise TypeError(f"not an expression node: {node!r}")  # pragma: no cover


# --- the public face ----------------------------------------------------------------------


class Expression:
    """A parsed, type-checked rule expression, compiled once and evaluated many times.

    Immutable; two expressions are equal when their trees are equal
    (whatever spacing or redundant parentheses the source text had).

    >>> e = parse("max(on_hand, 0) * unit_cost > $limit", {"on_hand", "unit_cost"}, {"limit": 1e3})
    >>> e.evaluate({"on_hand": 20, "unit_cost": 60.0}), e.evaluate({"on_hand": 20})
    (True, None)
    >>> e.kind, e.text
    ('condition', 'max(on_hand, 0) * unit_cost > $limit')
    """

    __slots__ = ("_canonical", "_fn", "_names", "kind", "node", "text")

    node: Node
    text: str
    kind: Kind

    def __init__(self, node: Node, text: str | None = None) -> None:
        """Wrap a tree; ``text`` is the source it was parsed from (default: canonical form)."""
        fn = _compile(node)
        canonical = _format(node)[0]
        object.__setattr__(self, "node", node)
        object.__setattr__(self, "text", canonical if text is None else text)
        object.__setattr__(self, "kind", _kind(node))
        object.__setattr__(self, "_fn", fn)
        object.__setattr__(self, "_canonical", canonical)
        object.__setattr__(self, "_names", frozenset(_names(node, set())))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Expression is immutable")

    def evaluate(self, facts: Facts) -> Value:
        """The value of the expression for ``facts``: a condition, a number or ``None`` (unknown).

        A fact missing from ``facts`` is unknown, like a fact whose value is ``None``.
        """
        return self._fn(facts)

    def holds(self, facts: Facts) -> bool:
        """Whether the expression is exactly true for ``facts`` (unknown does not hold)."""
        return self._fn(facts) is True

    def names(self) -> set[str]:
        """The facts this expression reads."""
        return set(self._names)

    def params(self) -> dict[str, float]:
        """The parameters this expression uses, with the values they were bound to."""
        found: dict[str, float] = {}
        stack: list[Node] = [self.node]
        while stack:
            node = stack.pop()
            match node:
                case Param(name, value):
                    found[name] = value
                case Neg(operand) | Not(operand):
                    stack.append(operand)
                case Arith(_, left, right) | Compare(_, left, right) | Logic(_, left, right):
                    stack.extend((left, right))
                case Call(_, args):
                    stack.extend(args)
        return found

    def __str__(self) -> str:
        return self._canonical

    def __repr__(self) -> str:
        return f"Expression({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Expression) and self.node == other.node

    def __hash__(self) -> int:
        return hash(self.node)

    def __reduce__(self) -> tuple[object, ...]:
        return (Expression, (self.node, self.text))


def parse(
    text: str,
    known_facts: Collection[str],
    params: Mapping[str, float] | None = None,
) -> Expression:
    """Parse and check ``text`` against the facts and parameters it may use.

    Raises ``ExpressionError`` with a one-line message naming the column and
    the problem: unknown fact or parameter (with a suggestion), a construct
    the language does not have, unbalanced parentheses, text left over, a
    type mismatch, input longer than ``MAX_LENGTH`` or nested deeper than
    ``MAX_DEPTH``.

    >>> parse("-on_hand * 2 + 1", {"on_hand"}).evaluate({"on_hand": 3})
    -5.0
    >>> str(parse("(a + b) * c - (d - e)", set("abcde")))
    '(a + b) * c - (d - e)'
    >>> try:
    ...     parse("a.b", {"a"})
    ... except ExpressionError as error:
    ...     print(error)
    at col 2: unexpected '.': attribute access is not allowed
    """
    if not isinstance(text, str):
        raise ExpressionError(f"expected expression text, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(
            f"expression is {len(text)} characters long; the limit is {MAX_LENGTH}"
        )
    if not text.strip():
        raise ExpressionError("empty expression")
    return Expression(_Parser(text, known_facts, params or {}).parse(), text)


def negation(expression: Expression) -> Expression:
    """``not (expression)``: the default clear condition of a rule.

    >>> str(negation(parse("a < 1 or b > 2", {"a", "b"})))
    'not (a < 1 or b > 2)'
    """
    return Expression(Not(expression.node))


def disjunction(expressions: Collection[Expression]) -> Expression:
    """``e1 or e2 or ...``: true when any of the conditions holds.

    >>> str(disjunction([parse("a < 1", {"a"}), parse("a > 9", {"a"})]))
    'a < 1 or a > 9'
    """
    nodes = [expression.node for expression in expressions]
    if not nodes:
        raise ValueError("disjunction of no expressions")
    node = nodes[0]
    for other in nodes[1:]:
        node = Logic("or", node, other)
    return Expression(node)
