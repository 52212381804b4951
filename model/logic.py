"""The connectives the scheduler's plugins are written in, for concrete values and z3 terms alike.

Each function takes plain Python values and returns a plain value, short-circuiting as Go does;
given a z3 term anywhere, it returns a z3 term instead. So one plugin function runs in the
simulator (``kubeproof schedule``) and is proved about by z3 (``kubeproof prove``). A plugin never
uses Python's ``and``, ``or``, ``not``, ``if``, ``in``, ``max`` or ``//`` on a value that may be
symbolic: it uses these. ``==`` and ``!=``, ``<`` and ``+`` work on z3 terms as they are.

z3 is imported only when a z3 term is seen, so model/ imports without it.

>>> all_of(x > 0 for x in (1, 2, 3)), any_of(()), ite(2 > 1, "a", "b"), div(-7, 2)
(True, False, 'a', -3)
>>> count_if(x % 2 == 0 for x in range(5)), max_of((3, 9, 4)), is_in("b", ("a", "b"))
(3, 9, True)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = [
    "all_of",
    "any_of",
    "count_if",
    "div",
    "has_key",
    "implies",
    "is_in",
    "is_symbolic",
    "ite",
    "max_of",
    "min_of",
    "not_",
    "parse_int",
    "sum_of",
    "value_at",
]


def is_symbolic(value: Any) -> bool:
    """True for a z3 expression (checked without importing z3)."""
    return type(value).__module__ == "z3.z3"


def _z3():
    import z3

    return z3


def _bool_term(value: Any):
    return value if is_symbolic(value) else _z3().BoolVal(bool(value))


def all_of(values: Iterable[Any]) -> Any:
    """Conjunction; stops at the first concrete False."""
    terms = []
    for value in values:
        if is_symbolic(value):
            terms.append(value)
        elif not value:
            return False
    return _z3().And(*terms) if terms else True


def any_of(values: Iterable[Any]) -> Any:
    """Disjunction; stops at the first concrete True."""
    terms = []
    for value in values:
        if is_symbolic(value):
            terms.append(value)
        elif value:
            return True
    return _z3().Or(*terms) if terms else False


def not_(value: Any) -> Any:
    """Negation."""
    return _z3().Not(value) if is_symbolic(value) else not value


def implies(premise: Any, conclusion: Any) -> Any:
    """Material implication."""
    return any_of((not_(premise), conclusion))


def ite(condition: Any, then: Any, otherwise: Any) -> Any:
    """``then if condition else otherwise``; a z3 If when any part is symbolic."""
    if not is_symbolic(condition):
        return then if condition else otherwise
    z3 = _z3()
    if isinstance(then, bool) or isinstance(otherwise, bool):
        then, otherwise = _bool_term(then), _bool_term(otherwise)
    return z3.If(condition, then, otherwise)


def count_if(values: Iterable[Any]) -> Any:
    """How many of the conditions hold."""
    return sum_of(ite(value, 1, 0) for value in values)


def sum_of(values: Iterable[Any]) -> Any:
    """The sum (0 for none); concrete terms are added first, so a concrete sum stays an int."""
    concrete, terms = 0, []
    for value in values:
        if is_symbolic(value):
            terms.append(value)
        else:
            concrete += value
    return _z3().Sum(*terms, concrete) if terms else concrete


def max_of(values: Iterable[Any], default: Any = None) -> Any:
    """The largest value (``default`` when there are none)."""
    result = default
    for value in values:
        result = value if result is None else ite(value > result, value, result)
    if result is None:
        raise ValueError("max_of() of no values and no default")
    return result


def min_of(values: Iterable[Any], default: Any = None) -> Any:
    """The smallest value (``default`` when there are none)."""
    result = default
    for value in values:
        result = value if result is None else ite(value < result, value, result)
    if result is None:
        raise ValueError("min_of() of no values and no default")
    return result


def div(numerator: Any, denominator: Any) -> Any:
    """Integer division truncating toward zero, as Go's ``/`` on int64."""
    if not (is_symbolic(numerator) or is_symbolic(denominator)):
        quotient = abs(numerator) // abs(denominator)
        return quotient if (numerator >= 0) == (denominator > 0) else -quotient
    # z3's integer division floors for a positive denominator (Euclidean division); truncate
    # toward zero instead, as Go does, by dividing magnitudes and restoring the sign.
    z3 = _z3()
    magnitude = z3.Abs(numerator) / z3.Abs(denominator)
    same_sign = (numerator >= 0) == (denominator > 0)
    return z3.If(same_sign, magnitude, -magnitude)


def is_in(value: Any, choices: Iterable[Any]) -> Any:
    """``value in choices``, by equality."""
    return any_of(value == choice for choice in choices)


def parse_int(text: Any) -> tuple[Any, Any]:
    """``(ok, n)``: Go's ``strconv.ParseInt(text, 10, 64)`` (an optional sign, then digits).

    ``n`` is meaningful only where ``ok`` holds. Node affinity's Gt and Lt read labels this way.
    """
    if not is_symbolic(text):
        body = text[1:] if text[:1] in ("+", "-") else text
        if not (body.isascii() and body.isdigit()):
            return False, 0
        value = int(text)
        return -(2**63) <= value < 2**63, value
    z3 = _z3()
    digits = z3.Plus(z3.Range("0", "9"))
    signed = z3.Concat(z3.Option(z3.Union(z3.Re("+"), z3.Re("-"))), digits)
    body = z3.If(
        z3.Or(z3.PrefixOf("+", text), z3.PrefixOf("-", text)),
        z3.SubString(text, 1, z3.Length(text) - 1),
        text,
    )
    magnitude = z3.StrToInt(body)
    value = z3.If(z3.PrefixOf("-", text), -magnitude, magnitude)
    return z3.And(z3.InRe(text, signed), value >= -(2**63), value < 2**63), value


def has_key(mapping: Any, key: Any) -> Any:
    """``key in mapping`` for labels and resource maps, where either side may be symbolic.

    A symbolic map (solvers/) provides ``symbolic_has(key)``; a concrete map looked up with a
    symbolic key gives a disjunction over its keys.
    """
    if hasattr(mapping, "symbolic_has"):
        return mapping.symbolic_has(key)
    if is_symbolic(key):
        return is_in(key, tuple(mapping))
    return key in mapping


def value_at(mapping: Any, key: Any, default: Any = "") -> Any:
    """``mapping.get(key, default)`` where either side may be symbolic (see :func:`has_key`)."""
    if hasattr(mapping, "symbolic_get"):
        return mapping.symbolic_get(key, default)
    if is_symbolic(key):
        result = default
        for known, value in reversed(tuple(mapping.items())):
            result = ite(key == known, value, result)
        return result
    return mapping.get(key, default)
