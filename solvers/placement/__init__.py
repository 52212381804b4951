"""Placement queries on real manifests: does it all fit, what stops it, how many fit, where.

The input is what ``kubeproof schedule`` reads (``problem_from_objects``): Nodes, running Pods
(with ``nodeName``), pending Pods, Deployments and ReplicaSets (expanded to their replicas),
Namespaces and Services. Every query returns a frozen dataclass; none prints.

Public API (all importable from ``kubeproof.solvers.placement``):

``problem_from_objects(objects, profile=None) -> Problem``
    ``Problem.templates``: one ``Template`` per pending workload (``Template.workload`` is a
    ``Workload``: kind, namespace, name, replicas; ``str()`` gives ``Deployment ns/name``).
    ``Problem.template_index("ns/name")`` and ``node_index(name)`` raise ``PlacementError``
    (a ``KubeproofError``: exit 2) for names the input lacks.
``feasible(problem, timeout=60.0) -> Answer``
    ``Answer(feasible: bool | None, assignment: {"ns/pod": "node"}, explanation: tuple[str,
    ...], seconds: float, method: str)``. False comes with a minimal set of conflicting facts,
    one line each, naming the manifest and field; None means the time ran out.
``capacity(problem, "ns/name", timeout) -> CapacityAnswer``
    ``(workload, max_replicas: int | None, feasible, assignment, explanation, seconds,
    at_least)``: the most replicas of that workload that fit with every other workload in
    place (the assignment places that many); the explanation says why one more does not.
    ``feasible`` False: not even 0 fit. Out of time: ``max_replicas`` None, ``at_least`` the
    most a verified assignment placed (a tight bin packing's optimum can be slow to prove).
``isolation(problem, "ns/name", selector) -> IsolationAnswer``
    ``(workload, selector, possible: bool, witness: node name | None, explanation, seconds)``:
    can a pod of the workload ever run on a node matching ``selector`` (a ``kubectl -l``
    string or a LabelSelector), by taints, node selector, node affinity and nodeName, decided
    for every matching node (and so for every replica: they share one template).
``drain(problem, ["node", ...], cordon_only=False, timeout) -> DrainAnswer``
    ``(nodes, possible: bool | None, moves: {"ns/pod": "node"}, assignment, explanation,
    seconds)``: could the evictable pods of the nodes (not DaemonSet, mirror or finished
    pods) go elsewhere with every pending pod placed too; ``cordon_only`` keeps them and only
    closes the nodes.
``Placer(problem)``
    The same four queries as methods; the problem's analysis is computed once and shared.
``parse_selector("pool in (gpu,infra),!spot") -> LabelSelector``
    ``kubectl -l`` syntax; ``SelectorError`` (a ``KubeproofError``) for a bad one.
``verify(problem, counts)``, ``VerificationError``
    The independent pod-by-pod check every returned assignment has passed.

Semantics: an assignment is feasible when, in the final placement, every pending pod passes
every filter of the profile: the static ones on its node; NodeResourcesFit and NodePorts with
all pods on the node; required anti-affinity between any two pods sharing a domain; required
pod affinity finding a target of another workload (running or placed) in its domain, or all
replicas without one sharing the domains of a first replica where no target runs anywhere
(upstream's first-pod exception); DoNotSchedule spread with every domain holding the
workload's replicas within maxSkew of the least-counted domain (0 under minDomains), counting
every pod upstream counts. A one-pod-at-a-time scheduler can reach such a placement (in a
suitable order) unless pending pods of another workload match a spread selector without
carrying that constraint, or two pending workloads require affinity to each other; then the
final-state reading is the one used. Existing pods stay where they are (no preemption).

How it scales (measured in reports/benchmarks.md): replicas are counted, not named; nodes
that no rule tells apart form groups (``decide`` has the steps). z3 decides the group-level
relaxation first (its UNSAT is a proof, and a preferred minimal conflict among its Facts the
explanation); first-fit decreasing packs its answer onto nodes; when that fails, z3 on the
pattern relaxation (each group's fills of its largest node) proves most bin packings
infeasible, and only then is the exact model solved (one cell per node, or per class of
identical nodes with its patterns): by CP-SAT when OR-tools is installed (``pip install
kubeproof[cpsat]``) and the model has over 96 variables (``decide.CPSAT_ABOVE``), by z3
otherwise. CP-SAT helps on tight bin packings over nodes that differ in free capacity, which
first-fit cannot pack: z3's search there grows steeply from a few dozen nodes on.

>>> from kubeproof.model.objects import FrozenMap, Node, NodeStatus, ObjectMeta, Pod
>>> from kubeproof.model.quantity import parse_quantity as q
>>> node = Node(ObjectMeta(name="n1"), status=NodeStatus(allocatable=FrozenMap(pods=q("1"))))
>>> problem = problem_from_objects([node, Pod(ObjectMeta(name="a")), Pod(ObjectMeta(name="b"))])
>>> answer = feasible(problem, timeout=10)
>>> answer.feasible, answer.explanation[0]
(False, 'Pod default/a is waiting for a node.')
"""

from kubeproof.solvers.placement.check import VerificationError, verify
from kubeproof.solvers.placement.greedy_gap import GreedyAnswer, greedy
from kubeproof.solvers.placement.problem import (
    PlacementError,
    Problem,
    Template,
    Workload,
    problem_from_objects,
)
from kubeproof.solvers.placement.queries import (
    DEFAULT_TIMEOUT,
    Answer,
    CapacityAnswer,
    DrainAnswer,
    IsolationAnswer,
    Placer,
    capacity,
    drain,
    feasible,
    isolation,
)
from kubeproof.solvers.placement.selector import SelectorError, parse_selector, selector_text

__all__ = [
    "DEFAULT_TIMEOUT",
    "Answer",
    "CapacityAnswer",
    "DrainAnswer",
    "GreedyAnswer",
    "IsolationAnswer",
    "PlacementError",
    "Placer",
    "Problem",
    "SelectorError",
    "Template",
    "VerificationError",
    "Workload",
    "capacity",
    "drain",
    "feasible",
    "greedy",
    "isolation",
    "parse_selector",
    "problem_from_objects",
    "selector_text",
    "verify",
]
