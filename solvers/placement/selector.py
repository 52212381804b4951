"""Label selectors as ``kubectl -l`` takes them: ``team=b``, ``pool in (gpu,infra)``, ``!key``.

upstream: staging/src/k8s.io/apimachinery/pkg/labels/selector.go Parse. Requirements are
separated by commas and ANDed: ``key`` (Exists), ``!key`` (DoesNotExist), ``key=value`` or
``key==value`` (In), ``key!=value`` (NotIn: also true where the key is absent), ``key in (a,b)``
and ``key notin (a,b)``. The numeric ``key>n`` and ``key<n`` forms have no LabelSelector
equivalent and are rejected.

>>> from kubeproof.model.objects import FrozenMap
>>> selector = parse_selector("pool in (gpu, infra), !spot")
>>> [(r.key, r.operator, r.values) for r in selector.match_expressions]
[('pool', 'In', ('gpu', 'infra')), ('spot', 'DoesNotExist', ())]
>>> selector_matches(selector, FrozenMap(pool="gpu")), selector_matches(selector, FrozenMap())
(True, False)
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from kubeproof.model.errors import KubeproofError
from kubeproof.model.objects import LabelSelector, LabelSelectorRequirement
from kubeproof.model.scheduler.matching import (
    label_key_problem,
    label_selector_matches,
    label_value_problem,
)

__all__ = ["SelectorError", "parse_selector", "selector_matches", "selector_text"]


class SelectorError(KubeproofError):
    """A label selector string that ``kubectl -l`` would reject."""


_SET = re.compile(r"^\s*(!?)\s*([^\s!=<>(),]+)\s+(in|notin)\s*\(([^()]*)\)\s*$")
_EQUALITY = re.compile(r"^\s*([^\s!=<>(),]+)\s*(==|=|!=)\s*([^\s!=<>(),]*)\s*$")
_EXISTS = re.compile(r"^\s*(!?)\s*([^\s!=<>(),]+)\s*$")


def _parts(text: str) -> list[str]:
    """The comma-separated requirements, keeping the commas inside ``( )``."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
        if depth not in (0, 1):
            raise SelectorError(f"label selector {text!r}: unbalanced parentheses")
    if depth:
        raise SelectorError(f"label selector {text!r}: unbalanced parentheses")
    return [*parts, text[start:]]


def _checked(text: str, key: str, values: tuple[str, ...]) -> None:
    problem = label_key_problem(key)
    if problem:
        raise SelectorError(f"label selector {text!r}: key {key!r}: {problem}")
    for value in values:
        problem = label_value_problem(value)
        if problem:
            raise SelectorError(f"label selector {text!r}: value {value!r}: {problem}")


def _requirement(text: str, part: str) -> LabelSelectorRequirement:
    if "<" in part or ">" in part:
        raise SelectorError(f"label selector {text!r}: the operators < and > are not supported")
    found = _SET.match(part)
    if found:
        bang, key, operator, listed = found.groups()
        if bang:
            raise SelectorError(f"label selector {text!r}: '!' goes only before a bare key")
        values = tuple(sorted({v.strip() for v in listed.split(",")}))
        if values == ("",):
            raise SelectorError(f"label selector {text!r}: {key} {operator} () needs values")
        _checked(text, key, values)
        return LabelSelectorRequirement(key, "In" if operator == "in" else "NotIn", values)
    found = _EQUALITY.match(part)
    if found:
        key, operator, value = found.groups()
        _checked(text, key, (value,))
        return LabelSelectorRequirement(key, "NotIn" if operator == "!=" else "In", (value,))
    found = _EXISTS.match(part)
    if found:
        bang, key = found.groups()
        _checked(text, key, ())
        return LabelSelectorRequirement(key, "DoesNotExist" if bang else "Exists")
    raise SelectorError(f"label selector {text!r}: cannot parse {part.strip()!r}")


def parse_selector(text: str) -> LabelSelector:
    """The LabelSelector a ``kubectl -l`` string describes; an empty string selects everything."""
    if not text.strip():
        return LabelSelector()
    return LabelSelector(match_expressions=tuple(_requirement(text, p) for p in _parts(text)))


def selector_matches(selector: LabelSelector, labels: Mapping[str, str]) -> bool:
    """Whether the labels match the selector."""
    return bool(label_selector_matches(selector, labels))


def selector_text(selector: LabelSelector) -> str:
    """The selector written back as ``kubectl -l`` takes it."""
    parts = [f"{k}={v}" for k, v in selector.match_labels.items()]
    for r in selector.match_expressions:
        if r.operator == "Exists":
            parts.append(r.key)
        elif r.operator == "DoesNotExist":
            parts.append(f"!{r.key}")
        elif len(r.values) == 1:
            parts.append(f"{r.key}{'=' if r.operator == 'In' else '!='}{r.values[0]}")
        else:
            parts.append(f"{r.key} {r.operator.lower()} ({','.join(r.values)})")
    return ",".join(parts)
