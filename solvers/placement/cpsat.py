"""OR-tools CP-SAT over a ``Model``: the optional fast backend for exact models.

Installed with ``pip install kubeproof[cpsat]``; ``available()`` says whether it imports. On a
tight bin packing over nodes that differ in free capacity it answers in a fraction of a second
where z3's linear arithmetic takes tens of seconds or more (``decide.CPSAT_ABOVE``, README).
Facts play no part here (every one is assumed): CP-SAT decides, z3 explains. Its answers are
checked like every other (``verify``).

>>> from kubeproof.solvers.placement.model import Model
>>> m = Model()
>>> x = m.integer(0, 3)
>>> m.linear(((2, x),), 4, None)
>>> solve(m, timeout=5)[0] if available() else "sat"
'sat'
"""

from __future__ import annotations

from kubeproof.solvers.placement.model import Model
from kubeproof.solvers.placement.z3backend import SAT, UNKNOWN, UNSAT

__all__ = ["available", "solve"]


def available() -> bool:
    """Whether OR-tools is installed."""
    try:
        import ortools.sat.python.cp_model  # noqa: F401
    except ImportError:
        return False
    return True


def solve(model: Model, timeout: float) -> tuple[str, list[int]]:
    """``(sat|unsat|unknown, integer values)``. One worker and a fixed seed: the same model
    gives the same solution (several workers race)."""
    from ortools.sat.python import cp_model

    cp = cp_model.CpModel()
    ints = [cp.NewIntVar(lower, upper, f"x{i}") for i, (lower, upper) in enumerate(model.bounds)]
    bools = [cp.NewBoolVar(f"b{i}") for i in range(1, model.booleans + 1)]

    def literal(value: int):
        return bools[value - 1] if value > 0 else bools[-value - 1].Not()

    for item in model.linears:
        total = cp_model.LinearExpr.WeightedSum(
            [ints[v] for _, v in item.terms], [c for c, _ in item.terms]
        )
        lower = cp_model.INT_MIN if item.lower is None else item.lower
        upper = cp_model.INT_MAX if item.upper is None else item.upper
        constraint = cp.AddLinearConstraint(total, lower, upper)
        if item.enforce:
            constraint.OnlyEnforceIf(literal(item.enforce))
    for literals, _ in model.clauses:
        cp.AddBoolOr([literal(x) for x in literals])
    for literals, _ in model.at_most_one:
        cp.AddAtMostOne([literal(x) for x in literals])
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.01, timeout)
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = 0
    status = solver.Solve(cp)
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return SAT, [solver.Value(v) for v in ints]
    if status == cp_model.INFEASIBLE:
        return UNSAT, []
    if status == cp_model.MODEL_INVALID:
        raise ValueError(f"internal error: CP-SAT rejects the model: {cp.Validate()}")
    return UNKNOWN, []
