"""The scheduler plugins with upstream semantics, one module each.

upstream: pkg/scheduler/framework/plugins/registry.go. Each module defines a class named as the
plugin; :func:`plugin_class` finds it by that name.
"""

from __future__ import annotations

import importlib

from kubeproof.model.errors import KubeproofError

__all__ = ["PLUGIN_MODULES", "plugin_class"]

PLUGIN_MODULES = {
    "NodeUnschedulable": "node_unschedulable",
    "NodeName": "node_name",
    "TaintToleration": "taint_toleration",
    "NodeAffinity": "node_affinity",
    "NodePorts": "node_ports",
    "NodeResourcesFit": "node_resources_fit",
    "NodeResourcesBalancedAllocation": "balanced_allocation",
    "ImageLocality": "image_locality",
    "InterPodAffinity": "inter_pod_affinity",
    "PodTopologySpread": "pod_topology_spread",
}


def plugin_class(name: str) -> type:
    """The class of the plugin called ``name`` (as in a KubeSchedulerConfiguration)."""
    module = PLUGIN_MODULES.get(name)
    if module is None:
        known = ", ".join(sorted(PLUGIN_MODULES))
        raise KubeproofError(f"unknown scheduler plugin {name!r}: the model has {known}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
