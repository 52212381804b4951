"""The symbolic encoding against the concrete run, on random concrete pods and nodes.

Hypothesis draws a shape, builds the symbolic pod and nodes of that shape once (cached), then
draws concrete values for every variable. The concrete objects are the symbolic ones with those
values substituted (``concretize``); the profile's per-plugin filter verdicts and scores are
computed once on the symbolic objects, and the values are substituted into those terms and
simplified. Both must agree with ``cycle.schedule_one`` on the concrete objects.
"""

from __future__ import annotations

import functools
import os
import re

import pytest
import z3
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

from kubeproof.model.scheduler.cycle import schedule_one
from kubeproof.model.scheduler.framework import SKIP, SUCCESS, Snapshot
from kubeproof.model.scheduler.profile import default_profile, profile_from_config
from kubeproof.solvers import specs
from kubeproof.solvers.symbolic import (
    Builder,
    NodeShape,
    PodShape,
    RequirementShape,
    TermShape,
    assignment_evaluator,
    concretize,
    filter_verdicts,
    profile_scores,
    symbolic_node_info,
    symbolic_pod,
)

PROFILE = default_profile()
# InterPodAffinity's PreScore reads a node's labels with `not labels` and `key in labels`, which a
# symbolic label map cannot answer (see test_inter_pod_affinity_scores_symbolically): its
# scores are left out of the comparison until it uses logic.has_key.
SCORE_PROFILE = profile_from_config(
    {
        "kind": "KubeSchedulerConfiguration",
        "profiles": [{"plugins": {"score": {"disabled": [{"name": "InterPodAffinity"}]}}}],
    }
)[0]

POOLS = {
    "qualified": ("a", "b", "zone", "example.com/gpu", "node.kubernetes.io/unschedulable"),
    "label_value": ("", "a", "b", "1", "10", "x-1"),
    "subdomain": ("n1", "n2", "node.a"),
    "integer": ("1", "-1", "+3", "0", "10", "007"),
    "free": ("", "a", "b", "1", "10", "-5", "x y"),
}
AMOUNTS = (0, 1, 2, 3, 100, 1000, 2000, 2**31)

# --- shapes --------------------------------------------------------------------------------

EXPRESSIONS = (
    RequirementShape("In", 1),
    RequirementShape("In", 2),
    RequirementShape("NotIn", 1),
    RequirementShape("Exists"),
    RequirementShape("DoesNotExist"),
    RequirementShape("Gt", 1),
    RequirementShape("Lt", 1),
)
FIELDS = (RequirementShape("In", 1), RequirementShape("NotIn", 1))
RESOURCE_SETS = (("cpu", "memory"), ("cpu",), ("memory", "example.com/gpu"), ())

terms = st.builds(
    TermShape,
    st.lists(st.sampled_from(EXPRESSIONS), max_size=2).map(tuple),
    st.lists(st.sampled_from(FIELDS), max_size=1).map(tuple),
)
pod_shapes = st.builds(
    PodShape,
    tolerations=st.integers(0, 2),
    node_selector=st.integers(0, 1),
    required=st.none() | st.lists(terms, min_size=1, max_size=2).map(tuple),
    preferred=st.lists(terms, max_size=1).map(tuple),
    containers=st.integers(1, 2),
    init_containers=st.lists(st.booleans(), max_size=1).map(tuple),
    resources=st.sampled_from(RESOURCE_SETS),
    overhead=st.booleans(),
    host_ports=st.integers(0, 1),
)
existing_pods = st.builds(
    PodShape, resources=st.sampled_from(RESOURCE_SETS), host_ports=st.integers(0, 1)
)
node_shapes = st.builds(
    NodeShape,
    taints=st.integers(0, 2),
    labels=st.integers(0, 3),
    resources=st.sampled_from((("cpu", "memory"), ("cpu", "memory", "example.com/gpu"), ())),
    pods=st.lists(existing_pods, max_size=2).map(tuple),
    images=st.integers(0, 1),
)


@functools.lru_cache(maxsize=256)
def _world(pod_shape: PodShape, node_shapes_: tuple[NodeShape, ...]):
    """The symbolic world of a shape and its per-plugin terms, built once."""
    b = Builder()
    infos = tuple(symbolic_node_info(b, s, f"node{i}") for i, s in enumerate(node_shapes_))
    for i in range(len(infos)):
        for j in range(i + 1, len(infos)):
            b.require(infos[i].node.metadata.name != infos[j].node.metadata.name)
    pod = symbolic_pod(b, pod_shape, "pod")
    if len(infos) == 1:
        terms_ = filter_verdicts(PROFILE, pod, Snapshot(infos), infos[0])
    else:
        terms_ = profile_scores(SCORE_PROFILE, pod, Snapshot(infos), infos)
    return b, z3.And(*b.constraints), pod, infos, terms_


# --- assignments ---------------------------------------------------------------------------

_KEYS = re.compile(r"^(.*)\.(labels|nodeSelector|taints)\[\d+\]\.key$")  # distinct in a map
_NODE_NAME = re.compile(r"^node\d+\.name$")  # the nodes of a snapshot have distinct names
_TOLERATION = re.compile(r"^(.*\.tolerations\[\d+\])\.(key|operator|value)$")


@functools.cache
def _strategy(sort: str, language: str, choices, low, high):
    """The values one variable may take (strategies are built once: building them is slow)."""
    if choices is not None:
        return st.sampled_from(choices)
    if sort == "string":
        pool = POOLS[language.removesuffix("_or_empty")]
        return st.sampled_from(("", *pool) if language.endswith("_or_empty") else pool)
    if sort == "int":
        low, high = low or 0, high if high is not None else 2**40
        candidates = [a for a in AMOUNTS if low <= a <= high] or [low]
        return st.sampled_from(candidates) | st.integers(low, min(high, low + 5))
    return st.booleans()


@functools.cache
def _distinct(pool: str, n: int):
    return st.lists(st.sampled_from(POOLS[pool]), min_size=n, max_size=n, unique=True)


_TOLERATION_KEYS = st.sampled_from(("", *POOLS["qualified"]))
_OPERATORS = st.sampled_from(("", "Equal", "Exists"))
_LABEL_VALUES = st.sampled_from(POOLS["label_value"])


@functools.cache
def _z3_value(sort: str, value):
    if sort == "string":
        return z3.StringVal(value)
    return z3.IntVal(value) if sort == "int" else z3.BoolVal(value)


@st.composite
def assignments(draw, builder: Builder) -> list[tuple[object, object]]:
    """Values for every variable of ``builder`` that meet its well-formedness (keys of one map
    distinct, toleration fields consistent), as (variable, z3 value) pairs."""
    values: dict[str, object] = {}
    groups: dict[tuple[str, str], list] = {}
    tolerations: dict[str, dict] = {}
    for var in builder.variables:
        name = str(var.term)
        if match := _KEYS.match(name):
            groups.setdefault((match[1] + match[2], "qualified"), []).append(var)
        elif _NODE_NAME.match(name):
            groups.setdefault(("nodes", "subdomain"), []).append(var)
        elif match := _TOLERATION.match(name):
            tolerations.setdefault(match[1], {})[match[2]] = var
        else:
            strategy = _strategy(var.sort, var.language, var.choices, var.low, var.high)
            values[name] = draw(strategy)
    for (_, pool), group in groups.items():
        keys = draw(_distinct(pool, len(group)))
        values.update((str(v.term), k) for v, k in zip(group, keys, strict=True))
    for fields in tolerations.values():
        key = draw(_TOLERATION_KEYS)
        operator = "Exists" if key == "" else draw(_OPERATORS)
        value = "" if operator == "Exists" else draw(_LABEL_VALUES)
        for field, chosen in (("key", key), ("operator", operator), ("value", value)):
            values[str(fields[field].term)] = chosen
    return [(v.term, _z3_value(v.sort, values[str(v.term)])) for v in builder.variables]


def _value(term, evaluate):
    """The Python value of a term under an assignment (a plain value is returned as it is)."""
    if not z3.is_expr(term):
        return term
    value = evaluate(term)
    if z3.is_int_value(value):
        return value.as_long()
    assert z3.is_true(value) or z3.is_false(value), f"did not simplify to a value: {value}"
    return z3.is_true(value)


def _settings(examples: int) -> settings:
    # KUBEPROOF_CROSSCHECK_SCALE scales the number of examples (0.1 for a quick run).
    scale = float(os.environ.get("KUBEPROOF_CROSSCHECK_SCALE", "1"))
    return settings(
        max_examples=max(1, int(examples * scale)),
        deadline=None,
        derandomize=True,
        phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


@_settings(1200)
@given(st.data(), pod_shapes, node_shapes)
def test_filter_verdicts_agree(data, pod_shape, node_shape):
    """Each filter plugin's symbolic verdict, with the values substituted, is the concrete
    verdict; so is the profile's."""
    builder, well_formed, pod, infos, verdicts = _world(pod_shape, (node_shape,))
    evaluator = assignment_evaluator(data.draw(assignments(builder)))
    assume(_value(well_formed, evaluator))
    evaluate = functools.partial(_value, evaluate=evaluator)
    concrete_pod = concretize(pod, evaluator)
    info = concretize(infos[0], evaluator)
    decision = schedule_one(PROFILE, concrete_pod, Snapshot((info,)))
    statuses = dict(decision.nodes[0].filters)
    for name, verdict in verdicts:
        expected = statuses[name].code in (SUCCESS, SKIP)  # Skip: PreFilter skipped it
        assert evaluate(verdict) == expected, (name, statuses.get(name))
    assert all(evaluate(v) for _, v in verdicts) == decision.nodes[0].feasible
    # The specifications read the concrete objects as they read the symbolic ones.
    for spec in (specs.taints_tolerated, specs.placement_holds):
        assert evaluate(spec(pod, infos[0].node)) == evaluate(spec(concrete_pod, info.node))
    resources = ("cpu", "memory", "example.com/gpu")
    fits = specs.resources_fit(pod, infos[0], resources)
    assert evaluate(fits) == evaluate(specs.resources_fit(concrete_pod, info, resources))


# BalancedAllocation and ImageLocality compute in exact rationals on z3 terms and in float64
# on concrete values (their docstrings say so): the two may differ by one point.
INEXACT = {"NodeResourcesBalancedAllocation": 1, "ImageLocality": 1}


@_settings(800)
@given(st.data(), pod_shapes, node_shapes, node_shapes)
def test_scores_agree(data, pod_shape, first, second):
    """Each score plugin's symbolic raw and normalized scores over two nodes, with the values
    substituted, are the concrete ones (``schedule_one`` scoring every node)."""
    builder, well_formed, pod, infos, scores = _world(pod_shape, (first, second))
    evaluator = assignment_evaluator(data.draw(assignments(builder)))
    assume(_value(well_formed, evaluator))
    evaluate = functools.partial(_value, evaluate=evaluator)
    concrete_pod = concretize(pod, evaluator)
    nodes = concretize(infos, evaluator)
    decision = schedule_one(SCORE_PROFILE, concrete_pod, Snapshot(nodes), score_all=True)
    expected = {(e.name, plugin): score for e in decision.nodes for plugin, score in e.scores}
    seen = set()
    for plugin in scores:
        skipped = evaluate(plugin.skipped)
        for info, raw, normalized in zip(nodes, plugin.raw, plugin.normalized, strict=True):
            key = (info.name, plugin.name)
            if skipped:
                assert key not in expected, key
                continue
            seen.add(key)
            tolerance = INEXACT.get(plugin.name, 0)
            assert abs(evaluate(raw) - expected[key].raw) <= tolerance, key
            assert abs(evaluate(normalized) - expected[key].normalized) <= tolerance, key
    assert seen == set(expected)


def test_symbolic_labels_refuse_iteration():
    """A symbolic label map cannot be iterated or sized: a plugin must use has_key/value_at."""
    _, _, _, infos, _ = _world(PodShape(tolerations=1, node_selector=1), (NodeShape(),))
    labels = infos[0].node.metadata.labels
    for attempt in (lambda: list(labels), lambda: len(labels), lambda: "a" in labels):
        with pytest.raises(TypeError):
            attempt()


def test_inter_pod_affinity_scores_symbolically():
    """InterPodAffinity's PreScore and Score run on symbolic nodes (no existing pods)."""
    b = Builder()
    infos = (symbolic_node_info(b, NodeShape(), "n0"), symbolic_node_info(b, NodeShape(), "n1"))
    pod = symbolic_pod(b, PodShape(), "pod")
    scores = {s.name: s for s in profile_scores(PROFILE, pod, Snapshot(infos), infos)}
    # with no existing pods and no terms of its own, upstream's PreScore skips the pod
    assert "InterPodAffinity" not in scores or len(scores["InterPodAffinity"].raw) == 2
    assert {"TaintToleration", "NodeResourcesFit"} <= set(scores)
