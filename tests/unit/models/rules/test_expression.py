"""Rule expressions: grammar, unknown values, safety and the canonical text."""

import math
import pickle

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from models.rules.expression import (
    MAX_DEPTH,
    MAX_LENGTH,
    Arith,
    Call,
    Compare,
    Expression,
    ExpressionError,
    Fact,
    Logic,
    Neg,
    Node,
    Not,
    Num,
    Param,
    disjunction,
    negation,
    parse,
)

FACTS = {"a", "b", "c", "d", "available", "safety_stock", "on_hand", "lead_time_days"}
PARAMS = {"p": 2.5, "q": 0.0, "dead_days": 90}


def value(text: str, params: dict | None = None, **facts):
    return parse(text, FACTS, PARAMS if params is None else params).evaluate(facts)


def error(text: str, params: dict | None = None) -> ExpressionError:
    with pytest.raises(ExpressionError) as caught:
        parse(text, FACTS, PARAMS if params is None else params)
    return caught.value


# --- grammar ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 + 2 * 3", 7.0),
        ("(1 + 2) * 3", 9.0),
        ("10 - 4 - 3", 3.0),
        ("10 - (4 - 3)", 9.0),
        ("64 / 8 / 2", 4.0),
        ("64 / (8 / 2)", 16.0),
        ("-2 * 3", -6.0),
        ("2 * -3", -6.0),
        ("-(2 + 3)", -5.0),
        ("- -4", 4.0),
        ("-(-4)", 4.0),
        ("1 - -1", 2.0),
        ("2 + 3 * 4 - 6 / 2", 11.0),
        ("10_000 + 1e3 + .5 + 1.", 11_001.5),
    ],
)
def test_arithmetic_follows_precedence_and_left_associativity(text, expected):
    assert value(text) == expected


def test_unary_minus_binds_tighter_than_multiplication():
    assert parse("-a * b", FACTS).node == Arith("*", Neg(Fact("a")), Fact("b"))


def test_and_binds_tighter_than_or():
    # a or (b and c): true when a alone holds; (a or b) and c would be false.
    assert value("a > 0 or b > 0 and c > 0", a=1, b=0, c=0) is True
    assert parse("a > 0 or b > 0 and c > 0", FACTS).node == Logic(
        "or",
        Compare(">", Fact("a"), Num(0)),
        Logic("and", Compare(">", Fact("b"), Num(0)), Compare(">", Fact("c"), Num(0))),
    )


def test_not_applies_to_the_whole_comparison_but_not_to_and():
    node = parse("not a < b and c > d", FACTS).node
    assert node == Logic(
        "and",
        Not(Compare("<", Fact("a"), Fact("b"))),
        Compare(">", Fact("c"), Fact("d")),
    )


def test_arithmetic_binds_tighter_than_comparison():
    assert value("a + 1 > b * 2", a=4, b=2) is True
    assert value("a + 1 > b * 2", a=3, b=2) is False


@pytest.mark.parametrize(
    ("op", "results"),
    [
        ("<", (True, False, False)),
        ("<=", (True, True, False)),
        (">", (False, False, True)),
        (">=", (False, True, True)),
        ("==", (False, True, False)),
        ("!=", (True, False, True)),
    ],
)
def test_comparisons_below_at_and_above(op, results):
    assert tuple(value(f"a {op} 5", a=x) for x in (4.99, 5, 5.01)) == results


def test_comparisons_ignore_float_noise_at_a_threshold():
    assert 3 * 1.1 > 3.3  # plain floats would put 3 * 1.1 above the threshold
    assert value("a * 1.1 <= 3.3", a=3) is True
    assert value("a * 1.1 > 3.3", a=3) is False
    assert value("0.1 + 0.2 == a", a=0.3) is True
    assert value("a < b", a=1e9, b=1e9 + 0.5) is False  # within one part in 10^9
    assert value("a < b", a=1.0, b=1.000001) is True  # a micro-unit still counts


def test_infinite_values_compare_sensibly():
    assert value("a > 1e300", a=math.inf) is True
    assert value("a == b", a=math.inf, b=math.inf) is True
    assert value("a <= 5", a=math.inf) is False


def test_functions():
    assert value("min(a, b, 3)", a=5, b=4) == 3
    assert value("max(a, b)", a=5, b=4) == 5
    assert value("abs(a - b)", a=1, b=4) == 3
    assert value("coalesce(a, b, 7)", b=4) == 4
    assert value("coalesce(a, b)") is None
    assert value("missing(a)") is True
    assert value("missing(a)", a=0) is False
    assert value("missing(a / b)", a=1, b=0) is True


def test_params_are_bound_at_parse_time_and_kept_in_the_text():
    e = parse("a >= $dead_days", FACTS, PARAMS)
    assert e.evaluate({"a": 90}) is True
    assert e.evaluate({"a": 89.99}) is False
    assert str(e) == "a >= $dead_days"
    assert e.params() == {"dead_days": 90.0}
    assert e.node == Compare(">=", Fact("a"), Param("dead_days", 90.0))


def test_names_are_the_facts_read():
    e = parse("min(a, b) > $p * c or missing(d)", FACTS, PARAMS)
    assert e.names() == {"a", "b", "c", "d"}
    assert parse("1 < 2", FACTS).names() == set()


def test_kind_tells_a_condition_from_a_number():
    assert parse("a < 1", FACTS).kind == "condition"
    assert parse("missing(a)", FACTS).kind == "condition"
    assert parse("a + 1", FACTS).kind == "number"


def test_whitespace_and_newlines_are_free():
    assert value("a\n  >\t1", a=2) is True


# --- unknown values -----------------------------------------------------------------------


def test_unknown_fact_makes_arithmetic_and_comparisons_unknown():
    assert value("a + 1") is None
    assert value("-a", a=None) is None
    assert value("a > 1") is None
    assert value("a < 1") is None
    assert value("not a > 1") is None
    assert value("min(a, 1)") is None
    assert value("abs(a)") is None


def test_a_fact_missing_from_the_mapping_is_unknown_like_none():
    assert value("a > 1") is value("a > 1", a=None)


def test_nan_facts_are_unknown():
    assert value("a > 1", a=math.nan) is None
    assert value("missing(a)", a=math.nan) is True


@pytest.mark.parametrize(
    ("a", "b", "conjunction", "disjunction_"),
    [
        (True, True, True, True),
        (True, False, False, True),
        (False, False, False, False),
        (None, True, None, True),
        (None, False, False, None),
        (True, None, None, True),
        (False, None, False, None),
        (None, None, None, None),
    ],
)
def test_and_or_follow_three_valued_logic(a, b, conjunction, disjunction_):
    facts = {"a": None if a is None else float(a), "b": None if b is None else float(b)}
    assert value("a == 1 and b == 1", **facts) is conjunction
    assert value("a == 1 or b == 1", **facts) is disjunction_


def test_neither_a_condition_nor_its_negation_holds_on_missing_data():
    e = parse("available < safety_stock", FACTS)
    assert not e.holds({"available": 10})
    assert not negation(e).holds({"available": 10})


def test_division_by_zero_is_unknown_not_an_error():
    assert value("a / b", a=1, b=0) is None
    assert value("a / 0 > 1", a=1) is None
    assert value("1 / 0 > 1") is None
    assert value("a / (b - b)", a=1, b=3) is None
    assert value("a / $q", a=1) is None


def test_overflowing_arithmetic_that_becomes_nan_is_unknown():
    assert value("a * 10 - a * 10", a=1e308) is None


# --- rejection ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("__import__('os')", "at col 1: unexpected '__': names with double underscores"),
        ("a.__class__", "at col 2: unexpected '.': attribute access is not allowed"),
        ("a.b", "at col 2: unexpected '.': attribute access is not allowed"),
        ("x[0]", "at col 2: unexpected '[': indexing is not allowed"),
        ("'str'", 'at col 1: unexpected "\'": strings are not allowed'),
        ('a == "x"', "at col 6: unexpected '\"': strings are not allowed"),
        ("lambda: 1", "at col 1: 'lambda' is not allowed in a rule expression"),
        ("import os", "at col 1: 'import' is not allowed"),
        ("a if b else c", "at col 3: 'if' is not allowed"),
        ("(a > 1", "at col 7: expected ')' to close the '(' at col 1, got the end"),
        ("((a > 1) and b > 2", "at col 19: expected ')' to close the '(' at col 1"),
        ("a > 1)", "at col 6: unexpected ')' without a matching '('"),
        ("a > 1 b", "at col 7: unexpected 'b' after a complete expression"),
        ("a > 1 2", "at col 7: unexpected '2' after a complete expression"),
        ("a >", "at col 4: expected a number, fact, parameter or '(', got the end"),
        ("a > > 1", "at col 5: unexpected '>'"),
        ("availble < 1", "at col 1: unknown fact 'availble' (did you mean 'available'?)"),
        ("a < zzz", "at col 5: unknown fact 'zzz'"),
        ("a > $dead_dys", "at col 5: unknown parameter '$dead_dys' (did you mean '$dead_days'?)"),
        ("a > $zzz", "at col 5: unknown parameter '$zzz' (params: dead_days, p, q)"),
        ("a > $", "at col 5: unexpected '$': '$' must be followed by a parameter name"),
        ("a = 1", "at col 3: unexpected '=': use '==' to compare"),
        ("a > 1 && b > 1", "at col 7: unexpected '&': use 'and'"),
        ("a > 1 || b > 1", "at col 7: unexpected '|': use 'or'"),
        ("!(a > 1)", "at col 1: unexpected '!': use 'not' to negate"),
        ("a ** 2", "at col 3: '**' (power) is not supported"),
        ("a // 2", "at col 3: '//' is not supported; use '/'"),
        ("a % 2", "at col 3: unexpected '%'"),
        ("{a}", "at col 1: unexpected '{'"),
        ("a is None", "at col 3: 'is' is not supported; use missing(x)"),
        ("a == none", "at col 6: 'none' is not supported; use missing(x)"),
        ("True", "at col 1: 'True' is not supported; write a comparison"),
        ("a < b < c", "at col 7: comparisons cannot be chained; write 'a < b and b < c'"),
        ("a and b", "at col 3: 'and' needs a condition (true/false) on its left, got a number"),
        ("a > 1 or b", "at col 7: 'or' needs a condition (true/false) on its right"),
        ("not a", "at col 1: 'not' needs a condition (true/false), got a number"),
        ("(a > 1) + 1", "at col 9: '+' needs a number on its left, got a condition"),
        ("-(a > 1)", "at col 1: '-' needs a number, got a condition"),
        ("min(a)", "at col 1: min() takes at least 2 arguments, got 1"),
        ("abs(a, b)", "at col 1: abs() takes exactly 1 argument, got 2"),
        ("min(a, b > 1)", "at col 1: min() takes numbers, got a condition"),
        ("min(a, b", "at col 9: expected ',' or ')' to close the '(' at col 4"),
        ("mn(a, b)", "at col 1: unknown function 'mn' (did you mean 'min'?)"),
        ("sqrt(a)", "at col 1: unknown function 'sqrt' (functions: abs, coalesce, max"),
        ("a(1)", "at col 1: 'a' is a fact, not a function"),
        ("min > 1", "at col 1: 'min' is a function: write min(...)"),
        ("a > 1e999", "at col 5: number 1e999 is too large"),
        ("a\n > b.c", "at line 2 col 5: unexpected '.'"),
        ("a > \x00", "at col 5: unexpected character U+0000"),
        ("", "empty expression"),
        ("   ", "empty expression"),
    ],
)
def test_malformed_or_unsafe_text_is_rejected_with_position_and_problem(text, message):
    assert str(error(text)).startswith(message)


def test_an_error_is_one_line_with_structured_position():
    caught = error("a > 1 and availble < 3")
    assert (caught.col, caught.line) == (11, None)
    assert caught.problem == "unknown fact 'availble' (did you mean 'available'?)"
    assert "\n" not in str(caught)


def test_a_rule_without_params_says_so():
    assert str(error("a > $p", params={})) == (
        "at col 5: unknown parameter '$p' (this rule has no params)"
    )


def test_non_numeric_param_values_are_rejected():
    assert "must be a number" in str(error("a > $p", params={"p": "3"}))
    assert "must be a number" in str(error("a > $p", params={"p": True}))
    assert "must be finite" in str(error("a > $p", params={"p": math.inf}))


def test_text_longer_than_the_limit_is_rejected():
    text = "a + " * 250 + "1"
    assert len(text) > MAX_LENGTH
    assert str(error(text)) == (
        f"expression is {len(text)} characters long; the limit is {MAX_LENGTH}"
    )
    assert str(error(123)) == "expected expression text, got int"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    [
        "(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1) + " > 1",
        "-" * (MAX_DEPTH + 1) + "a > 1",
        "not " * (MAX_DEPTH + 1) + "a > 1",
        " + ".join(["a"] * (MAX_DEPTH + 2)) + " > 1",
        "min(" * (MAX_DEPTH + 1) + "a" + ", 1)" * (MAX_DEPTH + 1) + " > 1",
    ],
)
def test_nesting_deeper_than_the_limit_is_rejected(text):
    assert len(text) <= MAX_LENGTH
    assert f"too deep: more than {MAX_DEPTH} levels" in str(error(text))


def test_nesting_at_the_limit_is_accepted():
    text = "(" * (MAX_DEPTH - 2) + "a" + ")" * (MAX_DEPTH - 2) + " > 1"
    assert value(text, a=2) is True


def test_text_is_never_executed():
    # Anything that would reach Python objects fails at the tokenizer, before parsing.
    for text in ["().__class__", "a.__globals__", "exec('1')", "open('/etc/passwd')", "eval"]:
        with pytest.raises(ExpressionError):
            parse(text, FACTS)


# --- the expression object ----------------------------------------------------------------


def test_canonical_text_normalises_spacing_and_redundant_parentheses():
    e = parse("((a+b))*c   >=  ( $p )", FACTS, PARAMS)
    assert str(e) == "(a + b) * c >= $p"
    assert e.text == "((a+b))*c   >=  ( $p )"
    assert e == parse(str(e), FACTS, PARAMS)
    assert hash(e) == hash(parse(str(e), FACTS, PARAMS))


@pytest.mark.parametrize(
    "text",
    [
        "a - (b - c)",
        "a / (b * c)",
        "a - b - c",
        "-a * b",
        "-(a * b)",
        "-(-a)",
        "not (a < 1 or b > 2)",
        "not a < 1",
        "a < 1 and (b > 2 or c > 3)",
        "(a < 1 and b > 2) and c > 3",
        "a < 1 and (b > 2 and c > 3)",
        "min(a, max(b, 1), -c) != abs(d)",
        "a >= 1.5 and b < 1e+20",
    ],
)
def test_canonical_text_keeps_the_tree(text):
    e = parse(text, FACTS)
    again = parse(str(e), FACTS)
    assert again.node == e.node


def test_expressions_are_immutable_and_picklable():
    e = parse("a > $p", FACTS, PARAMS)
    with pytest.raises(AttributeError):
        e.text = "b"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        e.node.left = Fact("b")  # type: ignore[misc]
    copy = pickle.loads(pickle.dumps(e))
    assert copy == e and copy.evaluate({"a": 3}) is True


def test_negation_and_disjunction_build_conditions():
    low, high = parse("a < 1", FACTS), parse("a > 9", FACTS)
    either = disjunction([low, high])
    assert str(negation(either)) == "not (a < 1 or a > 9)"
    assert [either.evaluate({"a": x}) for x in (0, 5, 10)] == [True, False, True]
    with pytest.raises(ValueError, match="no expressions"):
        disjunction([])


# --- property: canonical text round-trips -------------------------------------------------

NAMES = ("a", "b", "c")
numbers = st.one_of(
    st.integers(0, 10**6).map(float),
    st.floats(0, 1e6, allow_nan=False, allow_infinity=False),
    st.sampled_from([0.1, 1e-7, 2.5e12, 1e16]),
)
number_leaves = st.one_of(
    numbers.map(Num),
    st.sampled_from(NAMES).map(Fact),
    st.sampled_from(sorted(PARAMS)).map(lambda name: Param(name, float(PARAMS[name]))),
)
number_nodes = st.recursive(
    number_leaves,
    lambda children: st.one_of(
        children.map(Neg),
        st.builds(Arith, st.sampled_from(["+", "-", "*", "/"]), children, children),
        st.builds(
            Call,
            st.sampled_from(["min", "max", "coalesce"]),
            st.lists(children, min_size=2, max_size=3).map(tuple),
        ),
        children.map(lambda child: Call("abs", (child,))),
    ),
    max_leaves=10,
)
condition_nodes = st.recursive(
    st.one_of(
        st.builds(
            Compare, st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), number_nodes, number_nodes
        ),
        number_nodes.map(lambda child: Call("missing", (child,))),
    ),
    lambda children: st.one_of(
        children.map(Not),
        st.builds(Logic, st.sampled_from(["and", "or"]), children, children),
    ),
    max_leaves=5,
)
fact_values = st.fixed_dictionaries(
    {
        name: st.one_of(
            st.none(), st.just(0.0), st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
        )
        for name in NAMES
    }
)


def depth(node: Node) -> int:
    match node:
        case Neg(operand) | Not(operand):
            return 1 + depth(operand)
        case Arith(_, left, right) | Compare(_, left, right) | Logic(_, left, right):
            return 1 + max(depth(left), depth(right))
        case Call(_, args):
            return 1 + max(depth(arg) for arg in args)
    return 1


def reference(node: Node, facts: dict):
    """A plain interpreter of number trees: the semantics the closures must match."""
    match node:
        case Num(number) | Param(_, number):
            return number
        case Fact(name):
            return facts.get(name)
        case Neg(operand):
            inner = reference(operand, facts)
            return None if inner is None else -inner
        case Arith(op, left, right):
            a, b = reference(left, facts), reference(right, facts)
            if a is None or b is None or (op == "/" and b == 0):
                return None
            result = {"+": a + b, "-": a - b, "*": a * b, "/": a / b if b else 0}[op]
            return None if math.isnan(result) else result
        case Call("abs", (arg,)):
            inner = reference(arg, facts)
            return None if inner is None else abs(inner)
        case Call("coalesce", args):
            return next((v for v in (reference(a, facts) for a in args) if v is not None), None)
        case Call(func, args):
            values = [reference(arg, facts) for arg in args]
            return None if None in values else (min if func == "min" else max)(values)
    raise AssertionError(node)


@given(node=st.one_of(number_nodes, condition_nodes), facts=fact_values)
def test_canonical_text_parses_back_to_the_same_tree_and_value(node, facts):
    assume(depth(node) <= 20)
    expression = Expression(node)
    assume(len(str(expression)) <= MAX_LENGTH)
    again = parse(str(expression), NAMES, PARAMS)
    assert again.node == node
    assert again.evaluate(facts) == expression.evaluate(facts)


@given(node=number_nodes, facts=fact_values)
def test_arithmetic_matches_a_plain_interpreter(node, facts):
    assume(depth(node) <= 20)
    assert Expression(node).evaluate(facts) == reference(node, facts)
