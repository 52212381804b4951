"""Conversion of Pods, pod templates and Nodes between manifest JSON and the model's dataclasses.

Field names follow the Kubernetes JSON names exactly (k8s.io/api/core/v1 types.go); the model's
shorter names are noted where they differ (NodeAffinity.required is
requiredDuringSchedulingIgnoredDuringExecution).

>>> spec = decode_pod_spec(Fields({"containers": [{"name": "web", "image": "nginx"}]}, "spec"))
>>> spec.containers[0].image, encode_pod_spec(spec, {"volumes": []})
('nginx', {'volumes': [], 'containers': [{'name': 'web', 'image': 'nginx'}]})
"""

from __future__ import annotations

from typing import Any

from kubeproof.model.codec import (
    Fields,
    base_of,
    decode_conditions,
    decode_label_selector,
    decode_meta,
    encode_conditions,
    encode_label_selector,
    encode_meta,
    encode_requirement,
    encode_resources,
    encode_time,
    merge_by_key,
    put,
)
from kubeproof.model.objects import (
    Affinity,
    Container,
    ContainerImage,
    ContainerPort,
    FrozenMap,
    Lifecycle,
    LifecycleHandler,
    Node,
    NodeAffinity,
    NodeSelector,
    NodeSelectorRequirement,
    NodeSelectorTerm,
    NodeSpec,
    NodeStatus,
    Pod,
    PodAffinity,
    PodAffinityTerm,
    PodSpec,
    PodStatus,
    PodTemplateSpec,
    PreferredSchedulingTerm,
    Taint,
    Toleration,
    TopologySpreadConstraint,
    WeightedPodAffinityTerm,
)

__all__ = [
    "decode_node",
    "decode_pod",
    "decode_pod_spec",
    "decode_pod_template",
    "encode_node",
    "encode_pod",
    "encode_pod_spec",
    "encode_pod_template",
]

REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"
PREFERRED = "preferredDuringSchedulingIgnoredDuringExecution"


# --- node affinity -------------------------------------------------------------------------


def _node_requirement(f: Fields) -> NodeSelectorRequirement:
    return NodeSelectorRequirement(
        key=f.string("key"), operator=f.string("operator"), values=f.strings("values")
    )


def _node_selector_term(f: Fields) -> NodeSelectorTerm:
    return NodeSelectorTerm(
        match_expressions=f.objects("matchExpressions", _node_requirement),
        match_fields=f.objects("matchFields", _node_requirement),
    )


def _encode_term(term: NodeSelectorTerm) -> dict:
    out: dict = {}
    expressions = [encode_requirement(r) for r in term.match_expressions]
    put(out, "matchExpressions", expressions, not expressions)
    fields = [encode_requirement(r) for r in term.match_fields]
    put(out, "matchFields", fields, not fields)
    return out


def _node_affinity(f: Fields) -> NodeAffinity:
    required = f.sub(REQUIRED)
    return NodeAffinity(
        required=None
        if required is None
        else NodeSelector(required.objects("nodeSelectorTerms", _node_selector_term)),
        preferred=f.objects(
            PREFERRED,
            lambda p: PreferredSchedulingTerm(
                weight=p.integer("weight"),
                preference=_node_selector_term(p.sub("preference") or Fields({}, "")),
            ),
        ),
    )


def _encode_node_affinity(a: NodeAffinity) -> dict:
    out: dict = {}
    if a.required is not None:
        out[REQUIRED] = {
            "nodeSelectorTerms": [_encode_term(t) for t in a.required.node_selector_terms]
        }
    preferred = [
        {"weight": p.weight, "preference": _encode_term(p.preference)} for p in a.preferred
    ]
    put(out, PREFERRED, preferred, not preferred)
    return out


# --- pod affinity --------------------------------------------------------------------------


def _pod_affinity_term(f: Fields) -> PodAffinityTerm:
    return PodAffinityTerm(
        topology_key=f.string("topologyKey"),
        label_selector=decode_label_selector(f.sub("labelSelector")),
        namespaces=f.strings("namespaces"),
        namespace_selector=decode_label_selector(f.sub("namespaceSelector")),
        match_label_keys=f.strings("matchLabelKeys"),
        mismatch_label_keys=f.strings("mismatchLabelKeys"),
    )


def _encode_pod_affinity_term(t: PodAffinityTerm) -> dict:
    out: dict = {}
    if t.label_selector is not None:
        out["labelSelector"] = encode_label_selector(t.label_selector)
    put(out, "namespaces", list(t.namespaces), not t.namespaces)
    if t.namespace_selector is not None:
        out["namespaceSelector"] = encode_label_selector(t.namespace_selector)
    out["topologyKey"] = t.topology_key
    put(out, "matchLabelKeys", list(t.match_label_keys), not t.match_label_keys)
    put(out, "mismatchLabelKeys", list(t.mismatch_label_keys), not t.mismatch_label_keys)
    return out


def _pod_affinity(f: Fields) -> PodAffinity:
    return PodAffinity(
        required=f.objects(REQUIRED, _pod_affinity_term),
        preferred=f.objects(
            PREFERRED,
            lambda w: WeightedPodAffinityTerm(
                weight=w.integer("weight"),
                pod_affinity_term=_pod_affinity_term(
                    w.sub("podAffinityTerm") or Fields({}, w.at("podAffinityTerm"))
                ),
            ),
        ),
    )


def _encode_pod_affinity(a: PodAffinity) -> dict:
    out: dict = {}
    required = [_encode_pod_affinity_term(t) for t in a.required]
    put(out, REQUIRED, required, not required)
    preferred = [
        {"weight": w.weight, "podAffinityTerm": _encode_pod_affinity_term(w.pod_affinity_term)}
        for w in a.preferred
    ]
    put(out, PREFERRED, preferred, not preferred)
    return out


def _affinity(f: Fields | None) -> Affinity | None:
    if f is None:
        return None
    node, pod, anti = f.sub("nodeAffinity"), f.sub("podAffinity"), f.sub("podAntiAffinity")
    return Affinity(
        node_affinity=None if node is None else _node_affinity(node),
        pod_affinity=None if pod is None else _pod_affinity(pod),
        pod_anti_affinity=None if anti is None else _pod_affinity(anti),
    )


def _encode_affinity(a: Affinity) -> dict:
    out: dict = {}
    if a.node_affinity is not None:
        out["nodeAffinity"] = _encode_node_affinity(a.node_affinity)
    if a.pod_affinity is not None:
        out["podAffinity"] = _encode_pod_affinity(a.pod_affinity)
    if a.pod_anti_affinity is not None:
        out["podAntiAffinity"] = _encode_pod_affinity(a.pod_anti_affinity)
    return out


# --- tolerations, taints, topology spread --------------------------------------------------


def _toleration(f: Fields) -> Toleration:
    return Toleration(
        key=f.string("key"),
        operator=f.string("operator", "Equal"),  # unset means Equal (types.go Toleration)
        value=f.string("value"),
        effect=f.string("effect"),
        toleration_seconds=f.opt_integer("tolerationSeconds"),
    )


def _encode_toleration(t: Toleration) -> dict:
    out: dict = {}
    put(out, "key", t.key, not t.key)
    out["operator"] = t.operator
    put(out, "value", t.value, not t.value)
    put(out, "effect", t.effect, not t.effect)
    put(out, "tolerationSeconds", t.toleration_seconds, t.toleration_seconds is None)
    return out


def _taint(f: Fields) -> Taint:
    return Taint(
        key=f.string("key"),
        effect=f.string("effect"),
        value=f.string("value"),
        time_added=f.time("timeAdded"),
    )


def _encode_taint(t: Taint) -> dict:
    out = {"key": t.key}
    put(out, "value", t.value, not t.value)
    out["effect"] = t.effect
    added = t.time_added
    put(out, "timeAdded", None if added is None else encode_time(added), added is None)
    return out


def _spread(f: Fields) -> TopologySpreadConstraint:
    return TopologySpreadConstraint(
        max_skew=f.integer("maxSkew"),
        topology_key=f.string("topologyKey"),
        when_unsatisfiable=f.string("whenUnsatisfiable"),
        label_selector=decode_label_selector(f.sub("labelSelector")),
        min_domains=f.opt_integer("minDomains"),
        node_affinity_policy=f.opt_string("nodeAffinityPolicy"),
        node_taints_policy=f.opt_string("nodeTaintsPolicy"),
        match_label_keys=f.strings("matchLabelKeys"),
    )


def _encode_spread(c: TopologySpreadConstraint) -> dict:
    out: dict = {
        "maxSkew": c.max_skew,
        "topologyKey": c.topology_key,
        "whenUnsatisfiable": c.when_unsatisfiable,
    }
    if c.label_selector is not None:
        out["labelSelector"] = encode_label_selector(c.label_selector)
    put(out, "minDomains", c.min_domains, c.min_domains is None)
    put(out, "nodeAffinityPolicy", c.node_affinity_policy, c.node_affinity_policy is None)
    put(out, "nodeTaintsPolicy", c.node_taints_policy, c.node_taints_policy is None)
    put(out, "matchLabelKeys", list(c.match_label_keys), not c.match_label_keys)
    return out


# --- containers ----------------------------------------------------------------------------


def _port(f: Fields) -> ContainerPort:
    return ContainerPort(
        container_port=f.integer("containerPort"),
        host_port=f.integer("hostPort"),
        protocol=f.string("protocol", "TCP"),  # defaulted to TCP (pkg/apis/core/v1/defaults.go)
        host_ip=f.string("hostIP"),
        name=f.string("name"),
    )


def _encode_port(p: ContainerPort, base: dict) -> dict:
    put(base, "name", p.name, not p.name)
    base["containerPort"] = p.container_port
    put(base, "hostPort", p.host_port, not p.host_port)
    put(base, "protocol", p.protocol, p.protocol == "TCP" and base.get("protocol") is None)
    put(base, "hostIP", p.host_ip, not p.host_ip)
    return base


def _container(f: Fields) -> Container:
    resources = f.sub("resources")
    return Container(
        name=f.string("name"),
        image=f.string("image"),
        requests=resources.resources("requests") if resources else FrozenMap(),
        limits=resources.resources("limits") if resources else FrozenMap(),
        ports=f.objects("ports", _port),
        restart_policy=f.opt_string("restartPolicy"),
        lifecycle=_lifecycle(f.sub("lifecycle")),
    )


def _encode_container(c: Container, base: dict) -> dict:
    base["name"] = c.name
    put(base, "image", c.image, not c.image)
    _encode_requirements(base, c.requests, c.limits)
    raw_ports = base.get("ports")
    ports = [_encode_port(p, b) for p, b in _pair_by_index(c.ports, raw_ports)]
    put(base, "ports", ports, not ports)
    put(base, "restartPolicy", c.restart_policy, c.restart_policy is None)
    _encode_lifecycle(c.lifecycle, base)
    return base


# The model's kubelet runs one hook action, the preStop sleep (KEP-3960). Other handlers
# (preStop exec or httpGet, postStart) stay in the raw manifest, are encoded back as they were,
# and are ignored: the model sends SIGTERM without waiting for them.


def _lifecycle(f: Fields | None) -> Lifecycle | None:
    """``lifecycle.preStop.sleep.seconds`` (None without a preStop sleep)."""
    pre_stop = f.sub("preStop") if f else None
    sleep = pre_stop.sub("sleep") if pre_stop else None
    return None if sleep is None else Lifecycle(LifecycleHandler(sleep.integer("seconds")))


def _encode_lifecycle(lifecycle: Lifecycle | None, base: dict) -> None:
    """The preStop sleep over the raw ``lifecycle`` (its other handlers are kept)."""
    hook = lifecycle.pre_stop if lifecycle else None
    raw = base_of(base, "lifecycle")
    pre_stop = base_of(raw, "preStop")
    if hook is None and "sleep" not in pre_stop:
        return
    sleep = {**base_of(pre_stop, "sleep"), "seconds": hook.sleep_seconds} if hook else None
    put(pre_stop, "sleep", sleep, hook is None)
    put(raw, "preStop", pre_stop, not pre_stop)
    put(base, "lifecycle", raw, not raw)


def _encode_requirements(base: dict, requests: FrozenMap, limits: FrozenMap) -> None:
    """``resources: {requests, limits}`` of a container or a pod, over the raw one."""
    raw_resources = base_of(base, "resources")
    resources = dict(raw_resources)
    for key, amounts in (("requests", requests), ("limits", limits)):
        put(resources, key, encode_resources(amounts, raw_resources.get(key)), not amounts)
    put(base, "resources", resources, not resources and "resources" not in base)


def _pair_by_index(items: tuple, raw: Any) -> list[tuple[Any, dict]]:
    """Items with the raw element at the same index as their base (ports have no unique key)."""
    raw = raw if isinstance(raw, list | tuple) else []
    return [(item, base_of(raw[i]) if i < len(raw) else {}) for i, item in enumerate(items)]


# --- pods ----------------------------------------------------------------------------------


def decode_pod_spec(f: Fields) -> PodSpec:
    """core/v1 PodSpec (the fields the model uses)."""
    resources = f.sub("resources")  # pod-level resources (PodLevelResources)
    return PodSpec(
        containers=f.objects("containers", _container),
        init_containers=f.objects("initContainers", _container),
        node_name=f.string("nodeName"),
        node_selector=f.string_map("nodeSelector"),
        affinity=_affinity(f.sub("affinity")),
        tolerations=f.objects("tolerations", _toleration),
        topology_spread_constraints=f.objects("topologySpreadConstraints", _spread),
        scheduling_gates=f.objects("schedulingGates", lambda g: g.string("name")),
        priority=f.opt_integer("priority"),
        priority_class_name=f.string("priorityClassName"),
        scheduler_name=f.string("schedulerName"),
        overhead=f.resources("overhead"),
        restart_policy=f.string("restartPolicy"),
        termination_grace_period_seconds=f.opt_integer("terminationGracePeriodSeconds"),
        host_network=f.boolean("hostNetwork"),
        requests=resources.resources("requests") if resources else FrozenMap(),
        limits=resources.resources("limits") if resources else FrozenMap(),
    )


def encode_pod_spec(s: PodSpec, base: dict) -> dict:
    """core/v1 PodSpec as JSON, over the raw spec (volumes etc. are kept)."""
    by_name = lambda c: c.name  # noqa: E731
    put(
        base,
        "initContainers",
        merge_by_key(
            base.get("initContainers"), s.init_containers, by_name, "name", _encode_container
        ),
        not s.init_containers,
    )
    base["containers"] = merge_by_key(
        base.get("containers"), s.containers, by_name, "name", _encode_container
    )
    put(base, "nodeName", s.node_name, not s.node_name)
    put(base, "nodeSelector", dict(s.node_selector), not s.node_selector)
    put(
        base,
        "affinity",
        None if s.affinity is None else _encode_affinity(s.affinity),
        s.affinity is None,
    )
    put(base, "tolerations", [_encode_toleration(t) for t in s.tolerations], not s.tolerations)
    spread = [_encode_spread(c) for c in s.topology_spread_constraints]
    put(base, "topologySpreadConstraints", spread, not spread)
    gates = [{"name": g} for g in s.scheduling_gates]
    put(base, "schedulingGates", gates, not gates)
    put(base, "priority", s.priority, s.priority is None)
    put(base, "priorityClassName", s.priority_class_name, not s.priority_class_name)
    put(base, "schedulerName", s.scheduler_name, not s.scheduler_name)
    put(base, "overhead", encode_resources(s.overhead, base.get("overhead")), not s.overhead)
    put(base, "restartPolicy", s.restart_policy, not s.restart_policy)
    grace = s.termination_grace_period_seconds
    put(base, "terminationGracePeriodSeconds", grace, grace is None)
    put(base, "hostNetwork", True, not s.host_network)
    _encode_requirements(base, s.requests, s.limits)
    return base


def _pod_status(f: Fields | None) -> PodStatus:
    if f is None:
        return PodStatus()
    return PodStatus(
        phase=f.string("phase"),
        conditions=decode_conditions(f),
        host_ip=f.string("hostIP"),
        pod_ip=f.string("podIP"),
        start_time=f.time("startTime"),
        nominated_node_name=f.string("nominatedNodeName"),
        reason=f.string("reason"),
        message=f.string("message"),
    )


def _encode_pod_status(s: PodStatus, base: dict) -> dict:
    for key, value in (
        ("phase", s.phase),
        ("hostIP", s.host_ip),
        ("podIP", s.pod_ip),
        ("nominatedNodeName", s.nominated_node_name),
        ("reason", s.reason),
        ("message", s.message),
    ):
        put(base, key, value, not value)
    conditions = encode_conditions(s.conditions, base.get("conditions"))
    put(base, "conditions", conditions, not conditions)
    start = s.start_time
    put(base, "startTime", None if start is None else encode_time(start), start is None)
    return base


def decode_pod_template(f: Fields | None) -> PodTemplateSpec:
    """core/v1 PodTemplateSpec."""
    if f is None:
        return PodTemplateSpec()
    spec = f.sub("spec")
    return PodTemplateSpec(
        metadata=decode_meta(f.sub("metadata")),
        spec=decode_pod_spec(spec) if spec is not None else PodSpec(),
    )


def encode_pod_template(t: PodTemplateSpec, base: dict) -> dict:
    """core/v1 PodTemplateSpec as JSON."""
    base["metadata"] = encode_meta(t.metadata, base_of(base, "metadata"))
    base["spec"] = encode_pod_spec(t.spec, base_of(base, "spec"))
    return base


def decode_pod(f: Fields) -> Pod:
    """A v1 Pod."""
    spec = f.sub("spec")
    return Pod(
        metadata=decode_meta(f.sub("metadata")),
        spec=decode_pod_spec(spec) if spec is not None else PodSpec(),
        status=_pod_status(f.sub("status")),
    )


def encode_pod(pod: Pod, base: dict) -> dict:
    """A v1 Pod as JSON (status only when the model or the raw document has one)."""
    base["metadata"] = encode_meta(pod.metadata, base_of(base, "metadata"))
    base["spec"] = encode_pod_spec(pod.spec, base_of(base, "spec"))
    status = _encode_pod_status(pod.status, base_of(base, "status"))
    put(base, "status", status, not status)
    return base


# --- nodes ---------------------------------------------------------------------------------


def _image(f: Fields) -> ContainerImage:
    return ContainerImage(names=f.strings("names"), size_bytes=f.integer("sizeBytes"))


def decode_node(f: Fields) -> Node:
    """A v1 Node."""
    spec = f.sub("spec") or Fields({}, "spec")
    status = f.sub("status") or Fields({}, "status")
    return Node(
        metadata=decode_meta(f.sub("metadata")),
        spec=NodeSpec(
            taints=spec.objects("taints", _taint),
            unschedulable=spec.boolean("unschedulable"),
            pod_cidr=spec.string("podCIDR"),
        ),
        status=NodeStatus(
            capacity=status.resources("capacity"),
            allocatable=status.resources("allocatable"),
            conditions=decode_conditions(status),
            images=status.objects("images", _image),
        ),
    )


def encode_node(node: Node, base: dict) -> dict:
    """A v1 Node as JSON."""
    base["metadata"] = encode_meta(node.metadata, base_of(base, "metadata"))
    spec = base_of(base, "spec")
    put(spec, "taints", [_encode_taint(t) for t in node.spec.taints], not node.spec.taints)
    put(spec, "unschedulable", True, not node.spec.unschedulable)
    put(spec, "podCIDR", node.spec.pod_cidr, not node.spec.pod_cidr)
    put(base, "spec", spec, not spec and "spec" not in base)
    status = base_of(base, "status")
    s = node.status
    for key, amounts in (("capacity", s.capacity), ("allocatable", s.allocatable)):
        put(status, key, encode_resources(amounts, status.get(key)), not amounts)
    conditions = encode_conditions(s.conditions, status.get("conditions"))
    put(status, "conditions", conditions, not conditions)
    images = [{"names": list(i.names), "sizeBytes": i.size_bytes} for i in s.images]
    put(status, "images", images, not images)
    put(base, "status", status, not status)
    return base
