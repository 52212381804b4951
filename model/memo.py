"""``enabled`` and ``step`` for a search that visits many states sharing structure.

A breadth-first search meets the same component in the same api-server state over and over,
in states that differ only elsewhere (nine components relisting in every order). A
:class:`Memo` answers exactly what ``cluster.enabled`` and ``cluster.step`` answer (equal
states, the same actions in the same order), remembering by identity (states are immutable:
the same object is the same value) what a component offers next given the api-server, and
the effect of a component's own action (``cluster._COMPONENT_ACTIONS``) given that component
and the rest of the state. Its states share structure: a remembered effect is one object,
and fault counts equal to counts met before are replaced by them. (Components are not shared
by value: equal components may still differ in the order of a map's entries, which the
canonical key tells apart.)

>>> from kubeproof.model.cluster import enabled, step
>>> from kubeproof.model.scenarios import scenario
>>> s, m = scenario("journey").initial_state(), Memo()
>>> a, b = enabled(s)[1:3]
>>> m.enabled(s) == enabled(s) and m.step(step(s, a), b) == step(step(s, a), b)
True
"""

from __future__ import annotations

from dataclasses import fields
from operator import attrgetter, is_
from typing import Any

from kubeproof.model.cluster import (
    _COMPONENT_ACTIONS,
    NO_FAULTS,
    Action,
    Faults,
    State,
    _enabled,
    step,
)

__all__ = ["Memo"]

_FIELDS = tuple(f.name for f in fields(State))  # State(*values) in this order builds one
_values_of = attrgetter(*_FIELDS)
_COMPONENTS = _FIELDS.index("components")
_FAULTS_USED = _FIELDS.index("faults_used")
# every field of a State but the components: what a component's action may read besides it
_REST = tuple(i for i in range(len(_FIELDS)) if i != _COMPONENTS)


class Memo:
    """Remembers up to ``limit`` entries of each kind, holding the objects its keys name (so
    their identities are not reused), then starts afresh."""

    def __init__(self, limit: int = 1 << 17) -> None:
        self.limit = limit
        self._offers: dict[tuple, tuple] = {}
        self._steps: dict[tuple, tuple] = {}
        self._faults: dict[Faults, Faults] = {}

    def enabled(self, state: State, faults: Faults = NO_FAULTS) -> tuple[Action, ...]:
        """``cluster.enabled(state, faults)``."""
        if len(self._offers) >= self.limit:
            self._offers.clear()
        return _enabled(state, faults, self._offers)

    def step(self, state: State, action: Action) -> State:
        """``cluster.step(state, action)``."""
        if type(action) not in _COMPONENT_ACTIONS:
            return self._shared(step(state, action))
        values = _values_of(state)
        components = values[_COMPONENTS]
        name = action.component
        component = components.get(name)
        rest = tuple([values[i] for i in _REST])
        key = (action, id(component), *map(id, rest))
        hit = self._steps.get(key)
        if hit is not None and hit[0] is component and all(map(is_, hit[1], rest)):
            after = list(hit[3])
            after[_COMPONENTS] = components.set(name, hit[2])
            return State(*after)
        after = self._shared(step(state, action))
        if _only_changes(components, after.components, name):
            if len(self._steps) >= self.limit:
                self._steps.clear()
            self._steps[key] = (component, rest, after.components[name], _values_of(after))
        return after

    def _shared(self, after: State) -> State:
        """``after`` with its fault counts as the one object of their value (they change
        rarely; sharing them lets more steps be remembered)."""
        used = after.faults_used
        shared = self._faults.setdefault(used, used)
        if shared is used:
            return after
        values = list(_values_of(after))
        values[_FAULTS_USED] = shared
        return State(*values)


def _only_changes(before: Any, after: Any, name: str) -> bool:
    """Whether the components map ``after`` is ``before``, the one named ``name`` aside."""
    return (
        len(after) == len(before)
        and list(after) == list(before)
        and all(after[k] is v for k, v in before.items() if k != name)
    )
