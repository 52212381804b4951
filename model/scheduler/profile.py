"""Scheduler profiles: which plugins filter and score, with which weights and arguments.

A profile comes from the default (``default_profile()``) or from a KubeSchedulerConfiguration
(``kubescheduler.config.k8s.io/v1``) with ``profile_from_config``. The model has no volumes and no
DynamicResourceAllocation, so the default profile's volume and DRA plugins are not in it; the
queue-sort, preemption and bind plugins belong to the scheduler component, not to a profile here.

>>> profile = default_profile()
>>> [plugin.name for plugin in profile.filters][:3]
['NodeUnschedulable', 'NodeName', 'TaintToleration']
>>> [(plugin.name, weight) for plugin, weight in profile.scores][0]
('TaintToleration', 3)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubeproof.model.errors import KubeproofError
from kubeproof.model.scheduler.framework import FilterPlugin, ScorePlugin
from kubeproof.model.scheduler.plugins import PLUGIN_MODULES, plugin_class

__all__ = ["DEFAULT_SCHEDULER", "Profile", "default_profile", "profile_from_config"]

DEFAULT_SCHEDULER = "default-scheduler"

# upstream: pkg/scheduler/apis/config/v1/default_plugins.go getDefaultPlugins (MultiPoint order),
# less the volume, DRA, queue-sort, preemption and bind plugins the model does not have.
DEFAULT_MULTI_POINT: tuple[tuple[str, int], ...] = (
    ("NodeUnschedulable", 0),
    ("NodeName", 0),
    ("TaintToleration", 3),
    ("NodeAffinity", 2),
    ("NodePorts", 0),
    ("NodeResourcesFit", 1),
    ("PodTopologySpread", 2),
    ("InterPodAffinity", 2),
    ("NodeResourcesBalancedAllocation", 1),
    ("ImageLocality", 1),
)

# Extension points of KubeSchedulerConfiguration, grouped as the model runs them: a plugin's
# PreFilter goes with its Filter, its PreScore with its Score.
_FILTER_POINTS = ("preFilter", "filter")
_SCORE_POINTS = ("preScore", "score")
_IGNORED_POINTS = ("queueSort", "postFilter", "reserve", "permit", "preBind", "bind", "postBind")


@dataclass(frozen=True, slots=True)
class Profile:
    """The filter plugins in order, and the score plugins with their weights."""

    scheduler_name: str
    filters: tuple[FilterPlugin, ...]
    scores: tuple[tuple[ScorePlugin, int], ...]


def _is_filter(cls: type) -> bool:
    return hasattr(cls, "filter")


def _is_score(cls: type) -> bool:
    return hasattr(cls, "score")


def _build(
    name: str,
    filters: list[str],
    scores: list[tuple[str, int]],
    args: Mapping[str, Mapping[str, Any]],
) -> Profile:
    instances: dict[str, Any] = {}

    def instance(plugin: str) -> Any:
        if plugin not in instances:
            instances[plugin] = plugin_class(plugin).from_args(args.get(plugin) or {})
        return instances[plugin]

    return Profile(
        name,
        tuple(instance(p) for p in filters),
        tuple((instance(p), weight) for p, weight in scores),
    )


def default_profile(args: Mapping[str, Mapping[str, Any]] | None = None) -> Profile:
    """The default-scheduler profile, with optional pluginConfig args by plugin name."""
    filters = [p for p, _ in DEFAULT_MULTI_POINT if _is_filter(plugin_class(p))]
    scores = [(p, w) for p, w in DEFAULT_MULTI_POINT if w and _is_score(plugin_class(p))]
    return _build(DEFAULT_SCHEDULER, filters, scores, args or {})


def _names(entries: Any, where: str) -> list[tuple[str, int | None]]:
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise KubeproofError(f"{where}: must be a list of {{name, weight}}")
    result = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
            raise KubeproofError(f"{where}[{index}].name: must be a plugin name")
        name, weight = entry["name"], entry.get("weight")
        if name != "*" and name not in PLUGIN_MODULES:
            known = ", ".join(sorted(PLUGIN_MODULES))
            raise KubeproofError(f"{where}[{index}].name: {name!r} is not modelled ({known})")
        if weight is not None and (not isinstance(weight, int) or not 0 <= weight <= 100):
            raise KubeproofError(f"{where}[{index}].weight: must be an integer from 0 to 100")
        result.append((name, weight))
    return result


def _profile_from_entry(entry: Mapping[str, Any], where: str) -> Profile:
    # upstream: pkg/scheduler/apis/config/v1/default_plugins.go mergePlugins and
    # pkg/scheduler/framework/runtime/framework.go expandMultiPointPlugins: a specific extension
    # point's enabled list overrides multiPoint for that point; "*" disables every default there.
    plugins = entry.get("plugins") or {}
    if not isinstance(plugins, Mapping):
        raise KubeproofError(f"{where}.plugins: must be a mapping of extension points")
    for point in plugins:
        if point not in ("multiPoint", *_FILTER_POINTS, *_SCORE_POINTS, *_IGNORED_POINTS):
            raise KubeproofError(f"{where}.plugins.{point}: unknown extension point")

    def enabled_disabled(point: str) -> tuple[list, list]:
        cfg = plugins.get(point) or {}
        return (
            _names(cfg.get("enabled"), f"{where}.plugins.{point}.enabled"),
            _names(cfg.get("disabled"), f"{where}.plugins.{point}.disabled"),
        )

    multi_enabled, multi_disabled = enabled_disabled("multiPoint")
    disabled_everywhere = {n for n, _ in multi_disabled}
    defaults = [
        (n, w)
        for n, w in DEFAULT_MULTI_POINT
        if "*" not in disabled_everywhere and n not in disabled_everywhere
    ]
    multi = defaults + [(n, w if w is not None else 1) for n, w in multi_enabled]

    def resolve(points: tuple[str, ...], wanted) -> list[tuple[str, int]]:
        chosen = [(n, w) for n, w in multi if wanted(plugin_class(n))]
        for point in points:
            enabled, disabled = enabled_disabled(point)
            off = {n for n, _ in disabled}
            chosen = [(n, w) for n, w in chosen if "*" not in off and n not in off]
            for name, weight in enabled:
                if not wanted(plugin_class(name)):
                    raise KubeproofError(f"{where}.plugins.{point}: {name} has no {point}")
                chosen = [(n, w) for n, w in chosen if n != name]
                chosen.append((name, weight if weight is not None else 1))
        return chosen

    filters = [n for n, _ in resolve(_FILTER_POINTS, _is_filter)]
    scores = [(n, w or 1) for n, w in resolve(_SCORE_POINTS, _is_score)]
    args: dict[str, Mapping[str, Any]] = {}
    for index, config in enumerate(entry.get("pluginConfig") or []):
        if not isinstance(config, Mapping) or config.get("name") not in PLUGIN_MODULES:
            raise KubeproofError(f"{where}.pluginConfig[{index}].name: must be a modelled plugin")
        args[config["name"]] = config.get("args") or {}
    name = entry.get("schedulerName") or DEFAULT_SCHEDULER
    return _build(name, filters, scores, args)


def profile_from_config(document: Mapping[str, Any], source: str = "config") -> tuple[Profile, ...]:
    """Every profile of a KubeSchedulerConfiguration document (already parsed YAML)."""
    if document.get("kind") != "KubeSchedulerConfiguration":
        raise KubeproofError(f"{source}: kind must be KubeSchedulerConfiguration")
    profiles = document.get("profiles") or [{}]
    if not isinstance(profiles, list):
        raise KubeproofError(f"{source}.profiles: must be a list")
    return tuple(_profile_from_entry(p, f"{source}.profiles[{i}]") for i, p in enumerate(profiles))
