"""Suites: a scenario, the faults that may strike it, the properties that must hold, a budget.

Built in (:data:`SUITES`): ``journey`` (the default), ``rolling-update``, ``scale``,
``node-failure``, ``cascade-delete``, ``rolling-update-service`` and ``namespace-delete``, each
on the scenario of that name (model/scenarios.py) with crashes, dropped watches, compaction,
stale lists and request timeouts enabled, one of each (node-failure also lets one node fail).
The last two start where their scenario's setup has settled (the Service served on every node),
so that every example explores the rollout or the deletion itself. Each checks the catalogue's
safety properties on every state and step and its eventually-properties on the quiescent end;
the properties that document upstream races (catalogue.UPSTREAM_RACES) are left out, and the
two Service suites leave the ReplicaSet and rollout bounds to the rolling-update suite.

Users define suites in a Python module: a module-level ``SUITES`` list, or else every ``Suite``
value the module defines; :func:`load_suite_file` imports it.

>>> suite("journey").faults
Faults(crash=1, drop_watch=1, compact=1, stale_list=1, timeout=1, node_failure=0)
>>> list(SUITES)[5:]
['rolling-update-service', 'namespace-delete']
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import traceback
from collections.abc import Callable
from dataclasses import replace
from functools import cache, partial
from pathlib import Path

from kubeproof.model.cluster import Faults
from kubeproof.model.errors import KubeproofError
from kubeproof.model.scenarios import Scenario, rolling_update_service, scenario
from kubeproof.properties.bugs.clusters import settled
from kubeproof.properties.catalogue import SAFETY
from kubeproof.properties.core import Budget, Property, Suite
from kubeproof.properties.eventually import EVENTUALLY_PROPERTIES
from kubeproof.properties.services import ENDPOINTS_CONVERGE, NAMESPACES_EMPTIED

__all__ = [
    "DEFAULT_FAULTS",
    "DEFAULT_SUITE",
    "PRE_STOP_SECONDS",
    "SUITES",
    "SuiteFileError",
    "UnknownSuite",
    "load_suite_file",
    "suite",
]

DEFAULT_SUITE = "journey"
# one of each fault: enough for the interleavings that matter (a crash mid-reconcile, a watch
# lost across a compaction, a stale relist, a write of unknown outcome) at a small search cost
DEFAULT_FAULTS = Faults(crash=1, drop_watch=1, compact=1, stale_list=1, timeout=1)
# Hypothesis examples end with a fair run to quiescence (1,400 to 2,200 steps for these
# scenarios): 100 examples of up to 200 drawn steps are 160,000 to 230,000 steps, about 40 s
# (rolling-update about 60 s) on the development machine; the exhaustive engine's bounds are
# the Budget defaults
_BUDGET = Budget(examples=100, steps=200)
_PROPERTIES: tuple[Property, ...] = (
    *SAFETY,
    *EVENTUALLY_PROPERTIES,
    ENDPOINTS_CONVERGE,
    NAMESPACES_EMPTIED,
)
# the preStop sleep of the rolling-update-service suite: longer than kube-proxy's minSyncPeriod
# (1 s), as upstream's advice has it (reports/zero-downtime.md)
PRE_STOP_SECONDS = 5


def _settled(build: Callable[[], Scenario], setup: int) -> Callable[[], Scenario]:
    """The scenario run fairly until its first ``setup`` requests have settled; its runs start
    there, with the rest of its requests to send (built once)."""

    @cache
    def start() -> Scenario:
        full = build()
        return settled(replace(full, clients=full.clients[:setup]), full.clients[setup:])

    return start


def _suite(
    name: str,
    scenario_name: str,
    description: str,
    build: Callable[[], Scenario] | None = None,
    properties: tuple[Property, ...] = _PROPERTIES,
    **faults: int,
) -> Suite:
    return Suite(
        name,
        description,
        build or partial(scenario, scenario_name),
        properties,
        replace(DEFAULT_FAULTS, **faults),
        _BUDGET,
    )


SUITES: dict[str, Suite] = {
    s.name: s
    for s in (
        _suite(
            "journey",
            "journey",
            "kubectl create deployment nginx --image nginx --replicas 3 on three nodes, "
            "through every component, with faults",
        ),
        _suite(
            "rolling-update",
            "rolling-update",
            "the journey's Deployment rolled to a new image (maxSurge 1, maxUnavailable 0): "
            "surge and availability bounds under faults",
        ),
        _suite(
            "scale",
            "scale",
            "the journey's Deployment scaled to 5 and back to 2 under faults",
        ),
        _suite(
            "node-failure",
            "node-failure",
            "a node of the journey fails for good: its pod is evicted and replaced, under faults",
            node_failure=1,
        ),
        _suite(
            "cascade-delete",
            "cascading-delete",
            "kubectl delete deployment --cascade=background: the garbage collector removes the "
            "ReplicaSet and its pods, under faults",
        ),
        _suite(
            "rolling-update-service",
            "rolling-update-service",
            "the journey's Deployment exposed as a NodePort Service (preStop sleep 5 s) rolled "
            "to a new image: EndpointSlices and every kube-proxy follow, under faults",
            _settled(partial(rolling_update_service, pre_stop=PRE_STOP_SECONDS), 2),
        ),
        _suite(
            "namespace-delete",
            "namespace-delete",
            "kubectl delete namespace with a Deployment and its Service in it: the namespace "
            "controller and the garbage collector empty it, under faults",
            _settled(partial(scenario, "namespace-delete"), 3),
        ),
    )
}


class UnknownSuite(KubeproofError):
    """A suite name that is neither built in nor in the suite file."""


class SuiteFileError(KubeproofError):
    """A suite file that cannot be imported or defines no suite."""


def suite(name: str = DEFAULT_SUITE) -> Suite:
    """A built-in suite by name."""
    found = SUITES.get(name)
    if found is None:
        raise UnknownSuite(f"unknown suite {name!r} (known: {', '.join(SUITES)})")
    return found


# --- users' suite files --------------------------------------------------------------------


def _module_name(path: Path) -> str:
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
    return f"kubeproof_suites_{path.stem}_{digest}"


def _where(path: Path, err: BaseException) -> str:
    """path:line of the deepest frame of the error inside the suite file."""
    lines = [f.lineno for f in traceback.extract_tb(err.__traceback__) if Path(f.filename) == path]
    return f"{path}:{lines[-1]}" if lines else str(path)


def _import(path: Path):
    name = _module_name(path)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SuiteFileError(f"{path}: not a Python module")
    module = importlib.util.module_from_spec(spec)
    # registered while it runs (dataclasses and pickling look modules up by name), with its
    # directory importable so a suite file can import the user's controllers beside it
    sys.modules[name] = module
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    except SyntaxError as err:
        sys.modules.pop(name, None)
        raise SuiteFileError(f"{path}:{err.lineno}: syntax error: {err.msg}") from None
    except KubeproofError as err:
        sys.modules.pop(name, None)
        raise SuiteFileError(f"{_where(path, err)}: {err}") from None
    except Exception as err:
        sys.modules.pop(name, None)
        first = str(err).splitlines()[0] if str(err) else ""
        raise SuiteFileError(f"{_where(path, err)}: {type(err).__name__}: {first}") from None
    finally:
        if sys.path and sys.path[0] == str(path.parent):
            del sys.path[0]
    return module


def load_suite_file(path: str) -> tuple[Suite, ...]:
    """The suites a user's Python module defines: its ``SUITES`` (a list, tuple or dict of
    Suite) or else every module-level Suite value, in definition order. Any problem is a
    SuiteFileError with one line."""
    file = Path(path).resolve()
    if not file.is_file():
        raise SuiteFileError(f"{path}: no such file")
    module = _import(file)
    if hasattr(module, "SUITES"):
        declared = module.SUITES
        values = list(declared.values()) if isinstance(declared, dict) else declared
        if not isinstance(values, list | tuple) or not all(isinstance(s, Suite) for s in values):
            raise SuiteFileError(f"{path}: SUITES must be a list of Suite values")
        found = list(values)
    else:
        found = []
        for value in vars(module).values():
            if isinstance(value, Suite) and all(value is not s for s in found):
                found.append(value)
    if not found:
        raise SuiteFileError(
            f"{path}: defines no suite (a module-level SUITES list, or Suite values)"
        )
    names = [s.name for s in found]
    twice = next((n for n in names if names.count(n) > 1), None)
    if twice is not None:
        raise SuiteFileError(f"{path}: two suites are named {twice!r}")
    return tuple(found)
