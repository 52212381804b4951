"""Breadth-first search over canonical states: shortest counterexamples, cycles, state counts.

From the scenario's initial state, every action ``enabled`` lists (faults within the suite's
budget included) is taken from every state, level by level, until no new state is found or a
bound is reached (``max_states`` distinct states: the search stops at the one that reaches
it; or ``max_depth`` steps: states that deep are not expanded). States are identified
by their canonical key (properties/canonical.py) but the real states are explored: each key
keeps the first real state that reached it and the step that did (parent pointers), so a trace
is the path of real actions from the initial state, and replays with ``model.cluster.step``.
The successors come from a ``model.memo.Memo`` (exactly ``enabled`` and ``step``, with the
work of each component remembered across the many states that share it).
Because the search is breadth-first, the first violation found of each property is a shortest
one (within the canonical graph).

Checks: invariants on every new state, transition properties on every step (including steps to
states already seen), eventually properties on every quiescent state reached (a state in which
``model.run.run`` takes no step: nothing but faults and periodic timers left; with the faults
stopped there, it is its own fair continuation).

Cycles: a property named ``no-endless-cycle`` gets the verdict of cycle detection. An endless
cycle is a cycle of the explored graph among non-quiescent states, taken without faults and
without the clock (networkx's strongly connected components): the cluster can keep working
forever while time stands still and nothing fails, so a fair run need never settle, e.g. a
controller that retries a conflict it can never win. A create-delete loop writes etcd, so its
states never repeat (revisions grow); the catalogue's bound on creations per object catches it.

>>> from kubeproof.properties.core import Suite
>>> from kubeproof.model.scenarios import scenario
>>> r = search(Suite("journey", "", lambda: scenario("journey"), ()), max_states=10)
>>> r.states, r.holds
(10, True)
"""

from __future__ import annotations

import time
from collections import Counter, deque
from itertools import pairwise

import networkx as nx

from kubeproof.model.cluster import NO_FAULTS, State, Tick
from kubeproof.model.memo import Memo
from kubeproof.model.run import actor_of, is_fault, run
from kubeproof.properties.canonical import Canonicalizer
from kubeproof.properties.core import Report, Suite, Trace, Verdict, Violation
from kubeproof.properties.engines import NO_ENDLESS_CYCLE, Checks, Progress, rare_collections

__all__ = ["Exploration", "explore_states", "is_quiescent", "search"]


def is_quiescent(state: State, actions: tuple | None = None) -> bool:
    """Whether the fair run with the faults stopped takes no step from ``state``; ``actions``
    (what ``enabled`` lists there) saves asking ``run`` when some actor has work."""
    if actions is not None:
        actors = {"kubectl", *state.components}
        for a in actions:
            if not is_fault(a) and not isinstance(a, Tick) and actor_of(a) in actors:
                return False  # the fair run would take it (model/run.py run)
    return run(state, NO_FAULTS, max_steps=1).reason == "quiescent"


class Exploration:
    """The explored graph: per canonical key its depth, its parent key and the action from the
    parent; the representative real state of each key is kept only while it waits in the
    frontier. ``edges`` holds the fault-free, clock-free steps between non-quiescent states
    (what cycle detection needs); ``transitions`` counts every step taken."""

    def __init__(self) -> None:
        self.parent: dict[
            int, tuple[int | None, object, int]
        ] = {}  # key -> (parent, action, depth)
        self.quiescent: set[int] = set()
        self.edges: dict[int, dict[int, object]] = {}
        self.transitions = 0
        self.truncated = False

    def path(self, key: int) -> list:
        """The actions from the initial state to the representative of ``key``."""
        actions = []
        while True:
            parent, action, _ = self.parent[key]
            if parent is None:
                return actions[::-1]
            actions.append(action)
            key = parent


def explore_states(
    suite: Suite,
    checks: Checks,
    max_states: int,
    max_depth: int,
    progress: Progress | None = None,
) -> tuple[Exploration, dict[str, tuple[Violation, list]]]:
    """Breadth-first search; returns the graph and, per violated property, its first violation
    with the actions of its trace."""
    with rare_collections():
        return _explore(suite, checks, max_states, max_depth, progress)


def _explore(
    suite: Suite,
    checks: Checks,
    max_states: int,
    max_depth: int,
    progress: Progress | None,
) -> tuple[Exploration, dict[str, tuple[Violation, list]]]:
    faults = suite.faults
    g = Exploration()
    found: dict[str, tuple[Violation, list]] = {}
    initial = suite.scenario().initial_state()
    canonical_key = Canonicalizer().key
    memo = Memo()
    enabled, step = memo.enabled, memo.step
    key0 = canonical_key(initial)
    g.parent[key0] = (None, None, 0)

    def record(violations, key, extra=()):
        for v in violations:
            if v.property not in found:
                checks.found[v.property] = v
                found[v.property] = (v, [*g.path(key), *extra])

    record(checks.state(initial), key0)
    actions0 = enabled(initial, faults)
    if is_quiescent(initial, actions0):
        g.quiescent.add(key0)
        record(checks.quiescent(initial), key0)
    frontier = deque([(initial, actions0, key0, 0)])
    every = max(1, max_states // 100)
    parent = g.parent
    while frontier:
        state, actions, key, depth = frontier.popleft()
        if depth >= max_depth:
            g.truncated = g.truncated or bool(actions)
            continue
        quiescent = key in g.quiescent
        for action in actions:
            after = step(state, action)
            g.transitions += 1
            if checks.transitions:
                violations = checks.step(state, action, after)
                if violations:
                    record(violations, key, (action,))
            akey = canonical_key(after)
            if akey not in parent:
                parent[akey] = (key, action, depth + 1)
                if checks.invariants:
                    violations = checks.state(after)
                    if violations:
                        record(violations, akey)
                after_actions = enabled(after, faults)
                if is_quiescent(after, after_actions):
                    g.quiescent.add(akey)
                    record(checks.quiescent(after), akey)
                frontier.append((after, after_actions, akey, depth + 1))
                if progress is not None and len(parent) % every == 0:
                    progress(len(parent), max_states, f"depth {depth + 1}")
            if not quiescent and not is_fault(action) and not isinstance(action, Tick):
                g.edges.setdefault(key, {}).setdefault(akey, action)
            if len(parent) >= max_states:
                # the bound: stop at once (expanding the rest of the frontier would only
                # step into states that cannot be kept)
                g.truncated = True
                return g, found
    return g, found


def _acyclic(g: Exploration) -> bool:
    """Whether the graph ``endless_cycle`` searches has no cycle (Kahn's algorithm: sources
    removed until none is left), so that networkx need not build it; the usual answer."""
    outs = {u: [v for v in vs if v not in g.quiescent] for u, vs in g.edges.items()}
    incoming = Counter(v for vs in outs.values() for v in vs)
    sources = [u for u in outs if not incoming[u]]
    left = len(outs)
    while sources:
        left -= 1
        for v in outs[sources.pop()]:
            incoming[v] -= 1
            if not incoming[v] and v in outs:
                sources.append(v)
    return left == 0


def endless_cycle(g: Exploration) -> tuple[list, list] | None:
    """The shortest-to-reach cycle among non-quiescent states without faults or ticks: the
    path to its entry and the actions around it; None when there is none."""
    if _acyclic(g):
        return None
    graph = nx.DiGraph()
    for u, outs in g.edges.items():
        for v in outs:
            if v not in g.quiescent:
                graph.add_edge(u, v)
    best = None
    for scc in nx.strongly_connected_components(graph):
        if len(scc) == 1:
            (u,) = scc
            if not graph.has_edge(u, u):
                continue
        entry = min(scc, key=lambda k: g.parent[k][2])
        if best is None or g.parent[entry][2] < g.parent[best[0]][2]:
            best = (entry, scc)
    if best is None:
        return None
    entry, scc = best
    sub = graph.subgraph(scc)
    if sub.has_edge(entry, entry):
        around = [g.edges[entry][entry]]
    else:
        # the shortest way round: from entry to a predecessor of entry, then back
        lengths = nx.single_source_shortest_path(sub, entry)
        back = min((p for p in sub.predecessors(entry)), key=lambda p: len(lengths[p]))
        keys = [*lengths[back], entry]
        around = [g.edges[a][b] for a, b in pairwise(keys)]
    return g.path(entry), around


def search(
    suite: Suite,
    *,
    max_states: int | None = None,
    max_depth: int | None = None,
    progress: Progress | None = None,
) -> Report:
    """Explore ``suite`` breadth-first (bounds default to ``suite.budget``) and report."""
    max_states = suite.budget.states if max_states is None else max_states
    max_depth = suite.budget.depth if max_depth is None else max_depth
    started = time.perf_counter()
    checks = Checks(suite)
    g, found = explore_states(suite, checks, max_states, max_depth, progress)
    wants_cycles = any(p.name == NO_ENDLESS_CYCLE for p in suite.properties)
    if wants_cycles:
        cycle = endless_cycle(g)
        if cycle is not None:
            to_entry, around = cycle
            v = Violation(
                NO_ENDLESS_CYCLE,
                f"a cycle of {len(around)} steps among non-quiescent states repeats forever "
                "without faults or the clock moving",
                (("cycle", tuple(around)), ("steps to reach it", len(to_entry))),
            )
            found[NO_ENDLESS_CYCLE] = (v, [*to_entry, *around])
    verdicts = []
    for p in suite.properties:
        if p.name in found:
            v, actions = found[p.name]
            trace = Trace(suite.name, suite.faults, tuple(actions), v)
            verdicts.append(Verdict(p.name, False, trace))
        else:
            verdicts.append(Verdict(p.name, True))
    if progress is not None:
        progress(len(g.parent), len(g.parent), "done")
    return Report(
        suite.name,
        "exhaustive",
        tuple(verdicts),
        steps=g.transitions,
        states=len(g.parent),
        transitions=g.transitions,
        seconds=time.perf_counter() - started,
    )
