"""Conversion of Services (core/v1) and EndpointSlices (discovery.k8s.io/v1) between manifest
JSON and the model's dataclasses.

Fields the model does not use (sessionAffinity, ipFamilies, status.loadBalancer, an endpoint's
hints ...) stay in the raw document and survive a dump; ports and endpoints are encoded over
the raw element at the same index.

>>> svc = decode_service(Fields({"spec": {"type": "NodePort", "selector": {"app": "web"},
...     "ports": [{"port": 80, "targetPort": "http"}]}}, ""))
>>> svc.spec.type, svc.spec.ports[0].target_port, encode_service(svc, {})["spec"]["ports"]
('NodePort', 'http', [{'port': 80, 'targetPort': 'http'}])
"""

from __future__ import annotations

from kubeproof.model.codec import Fields, base_of, decode_meta, encode_meta, put
from kubeproof.model.codec_pods import _pair_by_index
from kubeproof.model.objects import (
    Endpoint,
    EndpointConditions,
    EndpointPort,
    EndpointSlice,
    ObjectReference,
    Service,
    ServicePort,
    ServiceSpec,
)

__all__ = ["decode_endpoint_slice", "decode_service", "encode_endpoint_slice", "encode_service"]


def _opt_boolean(f: Fields, key: str) -> bool | None:
    """A boolean field that is a pointer upstream (None when absent)."""
    return None if f.get(key) is None else f.boolean(key)


def _opt_integer_or_string(f: Fields, key: str) -> int | str | None:
    """An IntOrString; upstream decodes a missing value, 0 and "" alike as unset."""
    value = f.int_or_string(key)
    return None if value in (0, "") else value


# --- services ------------------------------------------------------------------------------


def _service_port(f: Fields) -> ServicePort:
    return ServicePort(
        port=f.integer("port"),
        name=f.string("name"),
        protocol=f.string("protocol"),
        target_port=_opt_integer_or_string(f, "targetPort"),
        node_port=f.integer("nodePort"),
    )


def _encode_service_port(p: ServicePort, base: dict) -> dict:
    put(base, "name", p.name, not p.name)
    put(base, "protocol", p.protocol, not p.protocol)
    base["port"] = p.port
    put(base, "targetPort", p.target_port, p.target_port is None)
    put(base, "nodePort", p.node_port, not p.node_port)
    return base


def decode_service(f: Fields) -> Service:
    """A v1 Service."""
    spec = f.sub("spec") or Fields({}, f.at("spec"))
    internal = spec.opt_string("internalTrafficPolicy")
    return Service(
        metadata=decode_meta(f.sub("metadata")),
        spec=ServiceSpec(
            type=spec.string("type"),
            selector=spec.string_map("selector"),
            ports=spec.objects("ports", _service_port),
            cluster_ip=spec.string("clusterIP"),
            cluster_ips=spec.strings("clusterIPs"),
            external_ips=spec.strings("externalIPs"),
            external_name=spec.string("externalName"),
            publish_not_ready_addresses=spec.boolean("publishNotReadyAddresses"),
            external_traffic_policy=spec.string("externalTrafficPolicy"),
            internal_traffic_policy=internal,
        ),
    )


def encode_service(svc: Service, base: dict) -> dict:
    """A v1 Service as JSON."""
    base["metadata"] = encode_meta(svc.metadata, base_of(base, "metadata"))
    spec, s = base_of(base, "spec"), svc.spec
    put(spec, "type", s.type, not s.type)
    put(spec, "selector", dict(s.selector), not s.selector and spec.get("selector") is None)
    pairs = _pair_by_index(s.ports, spec.get("ports"))
    put(spec, "ports", [_encode_service_port(p, b) for p, b in pairs], not s.ports)
    put(spec, "clusterIP", s.cluster_ip, not s.cluster_ip)
    put(spec, "clusterIPs", list(s.cluster_ips), not s.cluster_ips)
    put(spec, "externalIPs", list(s.external_ips), not s.external_ips)
    put(spec, "externalName", s.external_name, not s.external_name)
    put(spec, "publishNotReadyAddresses", True, not s.publish_not_ready_addresses)
    put(spec, "externalTrafficPolicy", s.external_traffic_policy, not s.external_traffic_policy)
    internal = s.internal_traffic_policy
    put(spec, "internalTrafficPolicy", internal, internal is None)
    put(base, "spec", spec, not spec and "spec" not in base)
    return base


# --- endpoint slices -----------------------------------------------------------------------


def _target_ref(f: Fields | None) -> ObjectReference | None:
    if f is None:
        return None
    return ObjectReference(
        kind=f.string("kind"),
        namespace=f.string("namespace"),
        name=f.string("name"),
        uid=f.string("uid"),
    )


def _endpoint(f: Fields) -> Endpoint:
    conditions = f.sub("conditions") or Fields({}, f.at("conditions"))
    return Endpoint(
        addresses=f.strings("addresses"),
        conditions=EndpointConditions(
            ready=_opt_boolean(conditions, "ready"),
            serving=_opt_boolean(conditions, "serving"),
            terminating=_opt_boolean(conditions, "terminating"),
        ),
        hostname=f.opt_string("hostname"),
        target_ref=_target_ref(f.sub("targetRef")),
        node_name=f.opt_string("nodeName"),
        zone=f.opt_string("zone"),
    )


def _encode_endpoint(e: Endpoint, base: dict) -> dict:
    base["addresses"] = list(e.addresses)
    conditions = base_of(base, "conditions")
    for key in ("ready", "serving", "terminating"):
        value = getattr(e.conditions, key)
        put(conditions, key, value, value is None)
    put(base, "conditions", conditions, not conditions and "conditions" not in base)
    for key, value in (("hostname", e.hostname), ("nodeName", e.node_name), ("zone", e.zone)):
        put(base, key, value, value is None)
    ref = e.target_ref
    if ref is None:
        base.pop("targetRef", None)
    else:
        out = base_of(base, "targetRef")
        for key in ("kind", "namespace", "name", "uid"):
            put(out, key, getattr(ref, key), not getattr(ref, key))
        base["targetRef"] = out
    return base


def _endpoint_port(f: Fields) -> EndpointPort:
    return EndpointPort(
        name=f.opt_string("name"),
        protocol=f.opt_string("protocol"),
        port=f.opt_integer("port"),
        app_protocol=f.opt_string("appProtocol"),
    )


def _encode_endpoint_port(p: EndpointPort, base: dict) -> dict:
    for key, value in (
        ("name", p.name),
        ("protocol", p.protocol),
        ("port", p.port),
        ("appProtocol", p.app_protocol),
    ):
        put(base, key, value, value is None)
    return base


def decode_endpoint_slice(f: Fields) -> EndpointSlice:
    """A discovery.k8s.io/v1 EndpointSlice."""
    return EndpointSlice(
        metadata=decode_meta(f.sub("metadata")),
        address_type=f.string("addressType"),
        endpoints=f.objects("endpoints", _endpoint),
        ports=f.objects("ports", _endpoint_port),
    )


def encode_endpoint_slice(s: EndpointSlice, base: dict) -> dict:
    """A discovery.k8s.io/v1 EndpointSlice as JSON."""
    base["metadata"] = encode_meta(s.metadata, base_of(base, "metadata"))
    put(base, "addressType", s.address_type, not s.address_type)
    # endpoints is always written (upstream's JSON has no omitempty on it); ports may be left out
    pairs = _pair_by_index(s.endpoints, base.get("endpoints"))
    base["endpoints"] = [_encode_endpoint(e, b) for e, b in pairs]
    ports = [_encode_endpoint_port(p, b) for p, b in _pair_by_index(s.ports, base.get("ports"))]
    put(base, "ports", ports, not ports and base.get("ports") is None)
    return base
