# ruff: noqa: E501  (the rule table reads best one case per line)
"""Services and EndpointSlices: manifests, validation, the api-server's allocation, RBAC.

Each test names the upstream behaviour it follows in its docstring.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from kubeproof.model.apiserver import rbac
from kubeproof.model.apiserver.server import (
    ApiState,
    Binding,
    Request,
    Response,
    default_users,
    handle,
    initial_state,
    read,
)
from kubeproof.model.apiserver.services import SERVICE_CIDR, range_offset
from kubeproof.model.errors import ManifestError
from kubeproof.model.manifests import dump_objects, load_text, to_manifest
from kubeproof.model.objects import (
    Container,
    Endpoint,
    EndpointConditions,
    EndpointPort,
    EndpointSlice,
    FrozenMap,
    Namespace,
    ObjectMeta,
    ObjectReference,
    Pod,
    PodSpec,
    Service,
    ServicePort,
    ServiceSpec,
)

ADMIN = "kubernetes-admin"
NS = "default"
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


def do(state, user, verb, resource, namespace=NS, name="", **kw) -> tuple[ApiState, Response]:
    return handle(state, Request(user, verb, resource, namespace, name, **kw))


def service(name="web", **spec) -> Service:
    spec.setdefault("ports", (ServicePort(80),))
    return Service(ObjectMeta(name=name), ServiceSpec(selector=FrozenMap(app="web"), **spec))


def create(state, obj, user=ADMIN) -> tuple[ApiState, Response]:
    return do(state, user, "create", obj.RESOURCE, body=obj)


def created(state, obj, user=ADMIN):
    state, r = create(state, obj, user)
    assert r.code == 201, r
    return state, r.object


def slice_(name="web-abcde", **fields) -> EndpointSlice:
    fields.setdefault("address_type", "IPv4")
    ref = ObjectReference("Pod", NS, "web-1", "uid-9")
    fields.setdefault(
        "endpoints",
        (Endpoint(("10.244.1.5",), EndpointConditions(True, True, False), target_ref=ref),),
    )
    fields.setdefault("ports", (EndpointPort("http", "TCP", 8080),))
    labels = FrozenMap({"kubernetes.io/service-name": "web"})
    return EndpointSlice(ObjectMeta(name=name, labels=labels), **fields)


# --- manifests -----------------------------------------------------------------------------

SERVICE_YAML = """\
apiVersion: v1
kind: Service
metadata: {name: web, labels: {app: web}}
spec:
  type: NodePort
  selector: {app: web}
  sessionAffinity: None
  publishNotReadyAddresses: true
  ports:
  - {name: http, port: 80, targetPort: http, nodePort: 30080, appProtocol: http}
  - {name: metrics, port: 9090, protocol: UDP}
"""

SLICE_YAML = """\
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-abcde
  labels: {kubernetes.io/service-name: web}
addressType: IPv4
endpoints:
- addresses: [10.244.1.5]
  conditions: {ready: false, serving: true, terminating: true}
  nodeName: node-1
  targetRef: {kind: Pod, namespace: default, name: web-1, uid: u1, resourceVersion: "7"}
  hints: {forZones: [{name: zone-a}]}
- addresses: [10.244.2.7]
ports:
- {name: http, protocol: TCP, port: 8080}
"""


def test_service_manifest_is_typed_and_round_trips():
    """core/v1 Service JSON names: targetPort is IntOrString; fields the model does not use
    (sessionAffinity, appProtocol) survive a dump."""
    (svc,) = load_text(SERVICE_YAML, "svc.yaml")
    assert isinstance(svc, Service)
    assert svc.spec.type == "NodePort" and svc.spec.publish_not_ready_addresses
    assert svc.spec.ports[0] == ServicePort(80, "http", "", "http", 30080)
    assert svc.spec.ports[1].protocol == "UDP" and svc.spec.ports[1].target_port is None
    assert load_text(dump_objects([svc])) == (svc,)
    changed = replace(svc, spec=replace(svc.spec, cluster_ip="10.96.1.1"))
    out = to_manifest(changed)
    assert out["spec"]["clusterIP"] == "10.96.1.1" and out["spec"]["sessionAffinity"] == "None"
    assert out["spec"]["ports"][0]["appProtocol"] == "http"


def test_endpoint_slice_manifest_is_typed_and_round_trips():
    """discovery.k8s.io/v1 EndpointSlice: conditions are optional booleans (unset is
    unknown), targetRef an ObjectReference; hints survive a dump."""
    (s,) = load_text(SLICE_YAML, "slice.yaml")
    assert isinstance(s, EndpointSlice) and s.address_type == "IPv4"
    first, second = s.endpoints
    assert first.conditions == EndpointConditions(ready=False, serving=True, terminating=True)
    assert first.target_ref == ObjectReference("Pod", "default", "web-1", "u1")
    assert first.node_name == "node-1" and second.conditions == EndpointConditions()
    assert s.ports == (EndpointPort("http", "TCP", 8080),)
    assert load_text(dump_objects([s])) == (s,)
    ready = replace(first, conditions=replace(first.conditions, ready=True))
    out = to_manifest(replace(s, endpoints=(ready, second)))
    assert out["endpoints"][0]["conditions"]["ready"] is True
    assert out["endpoints"][0]["hints"] == {"forZones": [{"name": "zone-a"}]}
    assert out["endpoints"][0]["targetRef"]["resourceVersion"] == "7"


def test_namespace_conditions_round_trip():
    """core/v1 NamespaceStatus.conditions (the namespace controller's report) are read."""
    text = """\
apiVersion: v1
kind: Namespace
metadata: {name: team}
status:
  phase: Terminating
  conditions:
  - {type: NamespaceContentRemaining, status: "True", reason: SomeResourcesRemain,
     message: "Some resources are remaining: pods. has 1 resource instances",
     lastTransitionTime: "2024-01-01T00:00:00Z"}
"""
    (ns,) = load_text(text)
    assert ns.status.conditions[0].reason == "SomeResourcesRemain"
    assert load_text(dump_objects([ns])) == (ns,)


def corpus_services() -> list[Path]:
    if not CORPUS.is_dir():
        pytest.skip(f"corpus {CORPUS} is absent")
    return [
        p
        for p in sorted(CORPUS.rglob("*.y*ml"))
        if "kind: Service\n" in p.read_text(errors="replace")
    ]


def test_every_corpus_service_document_is_a_valid_typed_service():
    """The corpus's Services (kubernetes/examples, kubernetes/website) are all valid: the
    model must accept them as the api-server does, and read them as Services."""
    seen = 0
    for path in corpus_services():
        try:
            documents = list(yaml.safe_load_all(path.read_text()))
        except yaml.YAMLError:
            continue  # templates that are not YAML
        for doc in documents:
            if isinstance(doc, dict) and doc.get("kind") == "Service":
                (svc,) = load_text(yaml.safe_dump(doc), str(path))
                assert isinstance(svc, Service), path
                assert load_text(dump_objects([svc])) == (svc,)
                seen += 1
    assert seen >= 60


# --- validation ----------------------------------------------------------------------------

SERVICE_DOC = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "web"},
    "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
}
SLICE_DOC = yaml.safe_load(SLICE_YAML)


def _with(doc: dict, path: str, value) -> dict:
    doc = copy.deepcopy(doc)
    keys = [int(k) if k.isdigit() else k for k in path.split(".")]
    target = doc
    for key in keys[:-1]:
        target = target[key]
    target[keys[-1]] = value
    return doc


NODE_PORT = {"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]}
TWO_PORTS = [{"name": "a", "port": 80}, {"name": "b", "port": 80}]
# fmt: off
RULES = [
    (SERVICE_DOC, "metadata.name", "Web", 'metadata.name: invalid value "Web": a DNS-1035 label must consist of lower case alphanumeric characters or \'-\', start with an alphabetic character'),
    (SERVICE_DOC, "metadata.name", "1web", 'metadata.name: invalid value "1web": a DNS-1035 label'),
    (SERVICE_DOC, "spec.ports", [], "spec.ports: required value"),
    (SERVICE_DOC, "spec.ports", [{"port": 0}], "spec.ports[0].port: invalid value 0: must be between 1 and 65535, inclusive"),
    (SERVICE_DOC, "spec.ports", [{"port": 80}, {"port": 81}], "spec.ports[0].name: required value"),
    (SERVICE_DOC, "spec.ports", [{"name": "a", "port": 80}, {"name": "a", "port": 81}], 'spec.ports[1].name: duplicate value "a"'),
    (SERVICE_DOC, "spec.ports", [{"name": "A", "port": 80}], 'spec.ports[0].name: invalid value "A": a lowercase RFC 1123 label'),
    (SERVICE_DOC, "spec.ports", TWO_PORTS, 'spec.ports[1]: duplicate value "80/TCP"'),
    (SERVICE_DOC, "spec.ports", [{"port": 80, "protocol": "HTTP"}], "spec.ports[0].protocol: must be one of TCP, UDP, SCTP"),
    (SERVICE_DOC, "spec.ports", [{"port": 80, "targetPort": 70000}], "spec.ports[0].targetPort: invalid value 70000: must be between 1 and 65535, inclusive"),
    (SERVICE_DOC, "spec.ports", [{"port": 80, "targetPort": "http_port"}], 'spec.ports[0].targetPort: invalid value "http_port": must contain only alpha-numerics and \'-\''),
    (SERVICE_DOC, "spec.ports", [{"port": 80, "targetPort": "a-very-long-port-name"}], 'spec.ports[0].targetPort: invalid value "a-very-long-port-name": must be no more than 15 characters'),
    (SERVICE_DOC, "spec.ports", [{"port": 80, "targetPort": "8080x-"}], 'spec.ports[0].targetPort: invalid value "8080x-": must not begin or end with a hyphen'),
    (SERVICE_DOC, "spec.ports", [{"port": 80, "nodePort": 30080}], "spec.ports[0].nodePort: may not be used when `type` is 'ClusterIP'"),
    (SERVICE_DOC, "spec", {"type": "NodePort", "ports": [{"port": 80, "nodePort": 80}]}, "spec.ports[0].nodePort: invalid value 80: provided port is not in the valid range. The range of valid ports is 30000-32767"),
    (SERVICE_DOC, "spec", {"type": "NodePort", "ports": [{"name": "a", "port": 80, "nodePort": 30080}, {"name": "b", "port": 81, "nodePort": 30080}]}, "spec.ports[1].nodePort: duplicate value 30080"),
    (SERVICE_DOC, "spec.type", "Internal", "spec.type: must be one of ClusterIP, ExternalName, LoadBalancer, NodePort"),
    (SERVICE_DOC, "spec", {**NODE_PORT, "clusterIP": "None"}, "spec.clusterIP: invalid value \"None\": may not be set to 'None' for NodePort services"),
    (SERVICE_DOC, "spec.clusterIP", "10.96.0.300", 'spec.clusterIP: invalid value "10.96.0.300": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'),
    (SERVICE_DOC, "spec", {"ports": [{"port": 80}], "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.11"]}, "spec.clusterIPs: invalid value ['10.96.0.11']: first value must match `clusterIP`"),
    (SERVICE_DOC, "spec", {"ports": [{"port": 80}], "clusterIPs": ["10.96.0.11"]}, "spec.clusterIPs: invalid value ['10.96.0.11']: must be empty when `clusterIP` is not specified"),
    (SERVICE_DOC, "spec", {"type": "ExternalName"}, "spec.externalName: required value"),
    (SERVICE_DOC, "spec", {"type": "ExternalName", "externalName": "db.example.com", "clusterIP": "10.96.0.10"}, "spec.clusterIPs: may not be set for ExternalName services"),
    (SERVICE_DOC, "spec", {"type": "ExternalName", "externalName": "DB.example.com"}, 'spec.externalName: invalid value "DB.example.com": a lowercase RFC 1123 subdomain'),
    (SERVICE_DOC, "spec.externalTrafficPolicy", "Local", 'spec.externalTrafficPolicy: invalid value "Local": may only be set for externally-accessible services'),
    (SERVICE_DOC, "spec", {**NODE_PORT, "externalTrafficPolicy": "Global"}, "spec.externalTrafficPolicy: must be one of Cluster, Local"),
    (SERVICE_DOC, "spec.internalTrafficPolicy", "Node", "spec.internalTrafficPolicy: must be one of Cluster, Local"),
    (SERVICE_DOC, "spec.selector", {"app": "web app"}, 'spec.selector[app]: invalid value "web app": a valid label must be'),
    (SERVICE_DOC, "spec.externalIPs", ["1.2.3"], 'spec.externalIPs[0]: invalid value "1.2.3": must be a valid IP address'),
    (SLICE_DOC, "addressType", None, "addressType: required value"),
    (SLICE_DOC, "addressType", "IP", "addressType: must be one of FQDN, IPv4, IPv6"),
    (SLICE_DOC, "endpoints.1.addresses", [], "endpoints[1].addresses: must contain at least 1 address"),
    (SLICE_DOC, "endpoints.1.addresses", ["fd00::1"], 'endpoints[1].addresses[0]: invalid value "fd00::1": must be a valid IPv4 address'),
    (SLICE_DOC, "endpoints.1.addresses", ["127.0.0.1"], 'endpoints[1].addresses[0]: invalid value "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)'),
    (SLICE_DOC, "endpoints.1.addresses", ["169.254.169.254"], 'endpoints[1].addresses[0]: invalid value "169.254.169.254": may not be in the link-local range'),
    (SLICE_DOC, "endpoints.1.addresses", ["0.0.0.0"], 'endpoints[1].addresses[0]: invalid value "0.0.0.0": may not be unspecified (0.0.0.0)'),
    (SLICE_DOC, "endpoints.1.hostname", "web_1", 'endpoints[1].hostname: invalid value "web_1": a lowercase RFC 1123 label'),
    (SLICE_DOC, "endpoints.1.nodeName", "Node 1", 'endpoints[1].nodeName: invalid value "Node 1": a lowercase RFC 1123 subdomain'),
    (SLICE_DOC, "ports", [{"port": 80}, {"port": 81}], 'ports[1].name: duplicate value ""'),
    (SLICE_DOC, "ports", [{"name": "http", "protocol": "ICMP"}], "ports[0].protocol: must be one of TCP, UDP, SCTP"),
    (SLICE_DOC, "metadata.name", "Web", 'metadata.name: invalid value "Web": a lowercase RFC 1123 subdomain'),
]
# fmt: on


@pytest.mark.parametrize(
    ("base", "path", "value", "message"), RULES, ids=[r[3][:80] for r in RULES]
)
def test_validation_rule(base: dict, path: str, value, message: str) -> None:
    doc = _with(base, path, value)
    with pytest.raises(ManifestError) as caught:
        load_text(yaml.safe_dump(doc), "svc.yaml")
    assert str(caught.value).startswith(f"svc.yaml[0].{message}"), str(caught.value)


@pytest.mark.parametrize(
    "spec",
    [
        {"clusterIP": "None", "ports": []},  # headless needs no ports
        {"type": "ExternalName", "externalName": "db.example.com."},
        {"type": "LoadBalancer", "ports": [{"port": 443, "targetPort": "https"}]},
        {"type": "NodePort", "ports": [{"port": 53, "protocol": "UDP", "nodePort": 30053},
                                       {"name": "b", "port": 53, "nodePort": 30053}]},
        {"ports": [{"port": 80}], "externalIPs": ["192.0.2.10"], "externalTrafficPolicy": "Local"},
    ],
)  # fmt: skip
def test_valid_services_are_accepted(spec: dict) -> None:
    """Headless and ExternalName Services need no ports; a port name as targetPort; one
    nodePort for TCP and UDP; a ClusterIP with externalIPs is externally accessible."""
    ports = spec.get("ports", [])
    if len(ports) == 2:
        ports[0]["name"] = "a"
    (svc,) = load_text(yaml.safe_dump({**SERVICE_DOC, "spec": spec}))
    assert isinstance(svc, Service)


# --- the api-server: defaults and allocation -----------------------------------------------


def fresh() -> ApiState:
    return initial_state(default_users(nodes=("node-1",)))


def test_service_defaults():
    """core/v1 SetDefaults_Service: type ClusterIP, protocol TCP, targetPort = port,
    internalTrafficPolicy Cluster; externalTrafficPolicy Cluster for a NodePort Service."""
    _, svc = created(fresh(), service())
    spec = svc.spec
    assert (spec.type, spec.internal_traffic_policy, spec.external_traffic_policy) == (
        "ClusterIP",
        "Cluster",
        "",
    )
    assert spec.ports == (ServicePort(80, "", "TCP", 80, 0),)
    _, svc = created(fresh(), service(type="NodePort"))
    assert svc.spec.external_traffic_policy == "Cluster"


def test_cluster_ip_and_node_port_allocation_is_deterministic():
    """alloc.go allocateCreate: a cluster IP from the service CIDR and a node port from
    30000-32767, upper band first (calculateRangeOffset: 256 IPs, 173 ports kept low); the
    model takes the lowest free value, so every run allocates the same."""
    assert str(SERVICE_CIDR) == "10.96.0.0/12" and range_offset(2768) == 173
    state, first = created(fresh(), service("a", type="NodePort"))
    state, second = created(state, service("b", type="NodePort"))
    assert (first.spec.cluster_ip, first.spec.cluster_ips) == ("10.96.1.1", ("10.96.1.1",))
    assert first.spec.ports[0].node_port == 30173
    assert (second.spec.cluster_ip, second.spec.ports[0].node_port) == ("10.96.1.2", 30174)
    state, third = created(state, service("c"))
    assert third.spec.cluster_ip == "10.96.1.3" and third.spec.ports[0].node_port == 0


def test_requested_node_port_in_use_is_refused_with_upstream_422():
    """alloc.go allocNodePorts: a requested nodePort already held by another Service is
    field.Invalid(spec.ports[i].nodePort, "provided port is already allocated"); nothing
    is written."""
    state, _ = created(
        fresh(), service("a", type="NodePort", ports=(ServicePort(80, node_port=30080),))
    )
    wanted = ServicePort(81, node_port=30080)
    after, r = create(state, service("b", type="NodePort", ports=(wanted,)))
    assert (r.code, r.status.reason) == (422, "Invalid")
    assert r.status.message == (
        'Service "b" is invalid: spec.ports[0].nodePort: invalid value 30080: '
        "provided port is already allocated"
    )
    assert after is state


def test_requested_cluster_ip_in_use_or_out_of_range_is_refused():
    """alloc.go allocIPs: field.Invalid(spec.clusterIPs, "failed to allocate IP ...") with the
    ip allocator's ErrAllocated or ErrNotInRange."""
    state, _ = created(fresh(), service("a", cluster_ip="10.96.0.10"))
    _, r = create(state, service("b", cluster_ip="10.96.0.10"))
    assert r.code == 422 and r.status.message.endswith(
        "spec.clusterIPs: failed to allocate IP 10.96.0.10: provided IP is already allocated"
    )
    _, r = create(state, service("b", cluster_ip="10.0.0.10"))
    assert r.code == 422 and r.status.message.endswith(
        "failed to allocate IP 10.0.0.10: the provided IP (10.0.0.10) is not in the valid "
        "range. The range of valid IPs is 10.96.0.0/12"
    )


def test_allocations_are_released_on_delete():
    """A Service's cluster IP and node ports are free again once it is deleted (the
    registry's AfterDelete releases them)."""
    ports = (ServicePort(80, node_port=30080),)
    state, _ = created(fresh(), service("a", type="NodePort", ports=ports, cluster_ip="10.96.0.10"))
    state, r = do(state, ADMIN, "delete", "services", name="a")
    assert r.code == 200 and read(state.store, "services", NS, "a") is None
    _, again = created(state, service("b", type="NodePort", ports=ports, cluster_ip="10.96.0.10"))
    assert again.spec.ports[0].node_port == 30080


def test_ports_with_one_number_share_a_node_port():
    """alloc.go initNodePorts: ports of a Service with the same port number (TCP and UDP 53)
    get one node port."""
    ports = (ServicePort(53, "dns", "UDP"), ServicePort(53, "dns-tcp", "TCP"))
    _, svc = created(fresh(), service(type="NodePort", ports=ports))
    assert [p.node_port for p in svc.spec.ports] == [30173, 30173]


def test_headless_and_external_name_services_get_no_cluster_ip():
    """needsClusterIP: ExternalName has none; clusterIP None (headless) is kept as is."""
    state, headless = created(fresh(), service("h", cluster_ip="None", ports=()))
    assert headless.spec.cluster_ips == ("None",)
    _, external = created(
        state, service("x", type="ExternalName", external_name="db.example.com", ports=())
    )
    assert (external.spec.cluster_ip, external.spec.cluster_ips) == ("", ())


def test_update_keeps_allocated_values_a_client_left_out():
    """alloc.go patchAllocatedValues: a PUT without clusterIP or nodePorts keeps them."""
    state, svc = created(fresh(), service(type="NodePort"))
    ports = tuple(replace(p, node_port=0) for p in svc.spec.ports)
    body = replace(svc, spec=replace(svc.spec, cluster_ip="", cluster_ips=(), ports=ports))
    _, r = do(state, ADMIN, "update", "services", name="web", body=body)
    assert r.code == 200 and r.object.spec == svc.spec


def test_cluster_ip_may_not_change_once_set():
    """validateUpgradeDowngradeClusterIPs: the primary clusterIP may not change."""
    state, svc = created(fresh(), service())
    body = replace(svc, spec=replace(svc.spec, cluster_ip="10.96.0.99", cluster_ips=()))
    _, r = do(state, ADMIN, "update", "services", name="web", body=body)
    assert r.code == 422
    assert r.status.message == (
        "Service \"web\" is invalid: spec.clusterIPs[0]: invalid value ['10.96.0.99']: "
        "may not change once set"
    )


def test_type_change_clears_or_allocates_node_ports():
    """strategy.go dropTypeDependentFields: NodePort to ClusterIP clears the unchanged node
    ports (and externalTrafficPolicy), which are free again; back to NodePort allocates."""
    state, svc = created(fresh(), service(type="NodePort"))
    body = replace(svc, spec=replace(svc.spec, type="ClusterIP"))
    state, r = do(state, ADMIN, "update", "services", name="web", body=body)
    assert r.code == 200 and r.object.spec.ports[0].node_port == 0
    assert r.object.spec.external_traffic_policy == ""
    state, other = created(state, service("other", type="NodePort"))
    assert other.spec.ports[0].node_port == 30173
    back = replace(r.object, spec=replace(r.object.spec, type="NodePort"))
    _, r = do(state, ADMIN, "update", "services", name="web", body=back)
    assert r.code == 200 and r.object.spec.ports[0].node_port == 30174


def test_invalid_service_is_refused_before_allocation():
    """strategy Validate: 422 names the field; nothing is allocated or written."""
    state = fresh()
    after, r = create(state, service(ports=(ServicePort(80, node_port=30080),)))
    assert r.code == 422 and "may not be used when `type` is 'ClusterIP'" in r.status.message
    assert after is state


# --- the api-server: EndpointSlices -------------------------------------------------------


def test_endpoint_slice_defaults_and_generation():
    """discovery/v1 SetDefaults_EndpointPort (name "", protocol TCP); endpointslice
    strategy.go: generation 1 on create, bumped when anything but metadata, or the labels,
    changes."""
    state, s = created(fresh(), slice_(ports=(EndpointPort(port=8080),)))
    assert s.ports == (EndpointPort("", "TCP", 8080),) and s.metadata.generation == 1
    moved = replace(s, endpoints=(replace(s.endpoints[0], addresses=("10.244.1.6",)),))
    state, r = do(state, ADMIN, "update", "endpointslices", name=s.metadata.name, body=moved)
    assert r.object.metadata.generation == 2
    noted = replace(r.object, metadata=replace(r.object.metadata, annotations=FrozenMap(a="b")))
    state, r = do(state, ADMIN, "update", "endpointslices", name=s.metadata.name, body=noted)
    assert r.code == 200 and r.object.metadata.generation == 2
    relabelled = replace(
        r.object, metadata=replace(r.object.metadata, labels=r.object.metadata.labels.set("x", "y"))
    )
    _, r = do(state, ADMIN, "update", "endpointslices", name=s.metadata.name, body=relabelled)
    assert r.object.metadata.generation == 3


def test_endpoint_slice_address_type_is_immutable_and_has_no_status():
    """ValidateEndpointSliceUpdate: addressType is immutable; EndpointSlices have no status
    subresource (404)."""
    state, s = created(fresh(), slice_())
    v6 = replace(s, address_type="IPv6", endpoints=())
    _, r = do(state, ADMIN, "update", "endpointslices", name=s.metadata.name, body=v6)
    assert (
        r.code == 422
        and 'addressType: invalid value "IPv6": field is immutable' in r.status.message
    )
    _, r = do(
        state, ADMIN, "update", "endpointslices", name=s.metadata.name, subresource="status", body=s
    )
    assert r.code == 404


# --- RBAC ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "verb", "resource", "subresource", "allowed"),
    [
        (rbac.ENDPOINTSLICE_CONTROLLER, "create", "endpointslices", "", True),
        (rbac.ENDPOINTSLICE_CONTROLLER, "delete", "endpointslices", "", True),
        (rbac.ENDPOINTSLICE_CONTROLLER, "watch", "pods", "", True),
        (rbac.ENDPOINTSLICE_CONTROLLER, "list", "services", "", True),
        (rbac.ENDPOINTSLICE_CONTROLLER, "update", "services", "finalizers", True),
        (rbac.ENDPOINTSLICE_CONTROLLER, "update", "services", "", False),
        (rbac.ENDPOINTSLICE_CONTROLLER, "delete", "pods", "", False),
        (rbac.NAMESPACE_CONTROLLER, "deletecollection", "pods", "", True),
        (rbac.NAMESPACE_CONTROLLER, "deletecollection", "endpointslices", "", True),
        (rbac.NAMESPACE_CONTROLLER, "update", "namespaces", "finalize", True),
        (rbac.NAMESPACE_CONTROLLER, "update", "namespaces", "status", True),
        (rbac.NAMESPACE_CONTROLLER, "update", "namespaces", "", False),
        (rbac.NAMESPACE_CONTROLLER, "create", "pods", "", False),
        (rbac.KUBE_PROXY, "watch", "services", "", True),
        (rbac.KUBE_PROXY, "list", "endpointslices", "", True),
        (rbac.KUBE_PROXY, "get", "endpointslices", "", False),
        (rbac.KUBE_PROXY, "create", "endpointslices", "", False),
        (rbac.KUBE_PROXY, "watch", "pods", "", False),
    ],
)
def test_bootstrap_roles_of_the_new_identities(user, verb, resource, subresource, allowed):
    """bootstrappolicy controller_policy.go: system:controller:endpointslice-controller and
    system:controller:namespace-controller, bound to their service accounts; policy.go
    system:node-proxier, bound to system:kube-proxy."""
    who = default_users()[user]
    why = rbac.authorize(who, verb, resource, subresource, NS, "")
    assert (why is None) == allowed, why


def test_endpoint_slices_are_in_the_discovery_group():
    """EndpointSlices are served by discovery.k8s.io: RBAC and errors name the group."""
    assert rbac.api_group("endpointslices") == "discovery.k8s.io"
    _, r = create(fresh(), slice_(), user=rbac.KUBE_PROXY)
    assert r.code == 403 and 'in API group "discovery.k8s.io"' in r.status.message
    assert r.status.message.startswith("endpointslices.discovery.k8s.io is forbidden")


# --- deletecollection ----------------------------------------------------------------------


def pod(name: str) -> Pod:
    return Pod(ObjectMeta(name=name), PodSpec(containers=(Container("c", "nginx"),)))


def test_deletecollection_deletes_every_object_of_the_namespace():
    """store.go DeleteCollection: each listed object is deleted with the request's options
    (a bound pod gracefully, an unbound one at once); other namespaces are untouched."""
    state = fresh()
    state, _ = created(state, pod("a"))
    state, _ = created(state, pod("b"))
    state, r = do(
        state,
        "system:kube-scheduler",
        "create",
        "pods",
        name="a",
        subresource="binding",
        body=Binding("node-1"),
    )
    assert r.code == 201
    state, _ = do(state, ADMIN, "create", "namespaces", "", body=Namespace(ObjectMeta("team")))
    state, r = do(state, ADMIN, "create", "pods", "team", body=pod("c"))
    assert r.code == 201
    state, r = do(
        state,
        rbac.NAMESPACE_CONTROLLER,
        "deletecollection",
        "pods",
        propagation_policy="Background",
    )
    assert r.code == 200 and sorted(p.metadata.name for p in r.items) == ["a", "b"]
    assert read(state.store, "pods", NS, "a").metadata.deletion_timestamp == 30
    assert read(state.store, "pods", NS, "b") is None
    assert read(state.store, "pods", "team", "c") is not None


def test_deletecollection_needs_its_own_verb():
    """RBAC: deletecollection is a verb of its own; the node role does not have it."""
    state, _ = created(fresh(), pod("a"))
    after, r = do(state, "system:node:node-1", "deletecollection", "pods")
    assert r.code == 403 and 'cannot deletecollection resource "pods"' in r.status.message
    assert after is state


def test_the_scheduler_still_spreads_by_typed_services():
    """PodTopologySpread's DefaultSelector (helper/spread.go) reads the pod's Services: a typed
    Service from a manifest reaches the snapshot of `kubeproof schedule` and `place`."""
    from kubeproof.model.scheduler.simulate import cluster_from_objects
    from kubeproof.solvers.placement.problem import problem_from_objects

    objects = load_text(yaml.safe_dump(SERVICE_DOC))
    assert [type(w) for w in cluster_from_objects(objects).snapshot.workloads] == [Service]
    assert [type(w) for w in problem_from_objects(objects).snapshot.workloads] == [Service]
