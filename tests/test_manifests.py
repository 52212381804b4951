# ruff: noqa: E501  (the rule tables read best one case per line)
"""Manifests: the public corpora load and round-trip; conversions, type errors, validation rules;
List and JSON input; no code execution from YAML tags; fuzzing never escapes KubeproofError."""

from __future__ import annotations

import contextlib
import copy
import json
import os
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubeproof.model.errors import KubeproofError, ManifestError
from kubeproof.model.manifests import (
    dump_objects,
    from_manifest,
    load_manifests,
    load_paths,
    load_text,
    to_manifest,
)
from kubeproof.model.objects import (
    Deployment,
    GenericObject,
    Lease,
    Lifecycle,
    LifecycleHandler,
    Node,
    Pod,
    ReplicaSet,
    Service,
    thaw,
)
from kubeproof.model.quantity import parse_quantity
from kubeproof.model.validation import validate

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SUFFIXES = (".yaml", ".yml", ".json")


def corpus_files(name: str) -> list[Path]:
    """The manifest files of one corpus; skipped when absent, except in CI."""
    root = CORPUS / name
    if not root.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"corpus {root} is missing (required when CI=true)")
        pytest.skip(f"corpus {root} is absent (../shared next to the repository root)")
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in SUFFIXES)


# Files that fail, with the exact reason: the api-server would reject them, or they are not
# Kubernetes manifests. Anything not listed must load and round-trip.
_TEMPLATE = "a template: {{...}} placeholders are not YAML scalars"
EXPECTED_FAILURES = {
    "kubernetes-examples": {
        "_archived/newrelic/newrelic-config-template.yaml": (
            _TEMPLATE,
            "[0]: invalid YAML: found unhashable key (line 7, column 12)",
        ),
        "_archived/newrelic-infrastructure/newrelic-config-template.yaml": (
            _TEMPLATE,
            "[0]: invalid YAML: found unhashable key (line 7, column 12)",
        ),
        "_archived/storage/vitess/etcd-controller-template.yaml": (
            _TEMPLATE,
            "[0]: invalid YAML: found unhashable key (line 6, column 14)",
        ),
        "_archived/storage/vitess/etcd-service-template.yaml": (
            _TEMPLATE,
            "[0]: invalid YAML: found unhashable key (line 7, column 12)",
        ),
        "_archived/storage/vitess/vtgate-controller-template.yaml": (
            _TEMPLATE,
            "[0]: invalid YAML: found unhashable key (line 6, column 14)",
        ),
        "_archived/storage/vitess/vttablet-pod-template.yaml": (
            "a template: the {{uid}} placeholder makes the name invalid",
            '[0].metadata.name: invalid value "vttablet-{{uid}}": a lowercase RFC 1123 subdomain',
        ),
        "_archived/volumes/aws_ebs/aws-ebs-web.yaml": (
            "protocol: tcp (lower case) is rejected by the api-server",
            "[0].spec.containers[0].ports[0].protocol: must be one of TCP, UDP, SCTP",
        ),
        "_archived/volumes/cinder/cinder-web.yaml": (
            "protocol: tcp (lower case) is rejected by the api-server",
            "[0].spec.containers[0].ports[0].protocol: must be one of TCP, UDP, SCTP",
        ),
        "databases/cassandra/image/files/cassandra.yaml": (
            "Cassandra's own configuration file, not a Kubernetes manifest",
            "[0].kind: required: every manifest names its kind",
        ),
        "databases/cassandra/java/src/test/resources/cassandra.yaml": (
            "Cassandra's own configuration file, not a Kubernetes manifest",
            "[0].kind: required: every manifest names its kind",
        ),
    },
    "kubernetes-website": {
        # The invalid node affinity: requiredDuringScheduling... is written as a list of
        # preferred-style terms; upstream's decoder rejects a list where a NodeSelector goes.
        "pods/pod-with-node-affinity.yaml": (
            "requiredDuringSchedulingIgnoredDuringExecution is a list, not a NodeSelector",
            "[0].spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution: "
            "must be an object, not a list",
        ),
        "pods/pod-with-numeric-toleration.yaml": (
            "toleration operator Gt is alpha (TaintTolerationComparisonOperators, off by default)",
            "[0].spec.tolerations[0].operator: must be one of Exists, Equal",
        ),
        "pods/resource/pod-level-pid-limit.yaml": (
            "pod-level pids limit is alpha (KEP-6063, off by default)",
            "[0].spec.resources.limits[pids]: must be one of cpu, memory, hugepages-*",
        ),
    },
}


def _corpus_cases(name: str) -> list:
    root = CORPUS / name
    if not root.is_dir():
        return [pytest.param(name, None, id=f"{name}-absent")]
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in SUFFIXES)
    return [
        pytest.param(name, str(p.relative_to(root)), id=str(p.relative_to(root))) for p in files
    ]


def _assert_round_trip(objects: tuple) -> None:
    again = load_text(dump_objects(objects), "dumped.yaml")
    assert again == objects
    assert [o.raw for o in again] == [o.raw for o in objects]


@pytest.mark.parametrize(
    ("corpus", "relative"),
    _corpus_cases("kubernetes-examples") + _corpus_cases("kubernetes-website"),
)
def test_corpus_file(corpus: str, relative: str | None) -> None:
    corpus_files(corpus)  # skip or fail when absent
    assert relative is not None
    path = CORPUS / corpus / relative
    expected = EXPECTED_FAILURES[corpus].get(relative)
    if expected is not None:
        reason, message = expected
        with pytest.raises(ManifestError) as caught:
            load_manifests(path)
        assert str(caught.value).startswith(f"{path}{message}"), reason
        return
    objects = load_manifests(path)
    _assert_round_trip(objects)


def test_corpus_numbers() -> None:
    """Every listed failure exists, and the corpora hold what the report says."""
    for name, failures in EXPECTED_FAILURES.items():
        files = corpus_files(name)
        relatives = {str(p.relative_to(CORPUS / name)) for p in files}
        assert set(failures) <= relatives
    counts = {}
    for name, failures in EXPECTED_FAILURES.items():
        loaded = [
            p for p in corpus_files(name) if str(p.relative_to(CORPUS / name)) not in failures
        ]
        objects = load_paths(loaded)
        counts[name] = (len(loaded), len(objects), sum(isinstance(o, Pod) for o in objects))
    assert counts == {
        "kubernetes-examples": (238, 267, 53),
        "kubernetes-website": (71, 78, 42),
    }


def test_the_invalid_node_affinity_file_is_named_precisely() -> None:
    path = CORPUS / "kubernetes-website" / "pods" / "pod-with-node-affinity.yaml"
    corpus_files("kubernetes-website")
    with pytest.raises(ManifestError) as caught:
        load_manifests(path)
    err = caught.value
    assert (err.source, err.document) == (str(path), 0)
    assert err.path == "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
    assert err.reason == "must be an object, not a list"


def test_examples_folder_loads() -> None:
    objects = load_paths(sorted(EXAMPLES.glob("*.yaml")))
    assert [type(o).__name__ for o in objects] == ["Pod", "Deployment", "Node", "Node", "Node"]
    _assert_round_trip(objects)


# --- conversions ---------------------------------------------------------------------------

POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: shop
  creationTimestamp: 2024-01-02T03:04:05Z
  labels: {app: web}
spec:
  initContainers:
  - {name: setup, image: busybox, restartPolicy: Always}
  containers:
  - name: web
    image: nginx
    env: [{name: A, value: "1"}]
    volumeMounts: [{name: data, mountPath: /data}]
    resources:
      requests: {cpu: "0.5", memory: 128Mi, example.com/gpu: 1}
      limits: {memory: 256Mi, example.com/gpu: 1}
    ports: [{containerPort: 80, name: http}]
  volumes: [{name: data, emptyDir: {}}]
  overhead: {cpu: 250m}
  nodeSelector: {disk: ssd}
  schedulingGates: [{name: example.com/wait}]
  priority: 10
  tolerations:
  - {key: k, operator: Exists, effect: NoExecute, tolerationSeconds: 30}
  - {key: j, value: v}
  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
        - matchExpressions: [{key: zone, operator: In, values: [a, b]}]
          matchFields: [{key: metadata.name, operator: NotIn, values: [n1]}]
      preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 7
        preference:
          matchExpressions: [{key: gen, operator: Gt, values: ["3"]}]
    podAntiAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
      - topologyKey: kubernetes.io/hostname
        labelSelector: {matchLabels: {app: web}}
        matchLabelKeys: [pod-template-hash]
        mismatchLabelKeys: [tenant]
        namespaceSelector: {}
      preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 100
        podAffinityTerm: {topologyKey: zone, namespaces: [shop]}
  topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: zone
    whenUnsatisfiable: DoNotSchedule
    minDomains: 2
    nodeAffinityPolicy: Ignore
    nodeTaintsPolicy: Honor
    matchLabelKeys: [version]
    labelSelector: {matchExpressions: [{key: app, operator: Exists}]}
status:
  phase: Pending
  startTime: "2024-01-02T03:04:06+01:00"
  conditions: [{type: PodScheduled, status: "False", lastProbeTime: null}]
"""


def _pod() -> Pod:
    (pod,) = load_text(POD, "pod.yaml")
    assert isinstance(pod, Pod)
    return pod


def q(text: str):
    return parse_quantity(text)


# fmt: off
CONVERSIONS = [
    ("name", lambda p: p.metadata.name, "web"),
    ("creationTimestamp", lambda p: p.metadata.creation_timestamp, 1704164645),
    ("startTime with offset", lambda p: p.status.start_time, 1704164645 + 1 - 3600),
    ("requests cpu", lambda p: p.spec.containers[0].requests["cpu"], q("500m")),
    ("requests memory", lambda p: p.spec.containers[0].requests["memory"], q("128Mi")),
    ("extended resource", lambda p: p.spec.containers[0].limits["example.com/gpu"], q("1")),
    ("overhead", lambda p: dict(p.spec.overhead), {"cpu": q("250m")}),
    ("ports", lambda p: p.spec.containers[0].ports[0].container_port, 80),
    ("default protocol", lambda p: p.spec.containers[0].ports[0].protocol, "TCP"),
    ("sidecar", lambda p: p.spec.init_containers[0].restart_policy, "Always"),
    ("scheduling gates", lambda p: p.spec.scheduling_gates, ("example.com/wait",)),
    ("toleration seconds", lambda p: p.spec.tolerations[0].toleration_seconds, 30),
    ("toleration operator default", lambda p: p.spec.tolerations[1].operator, "Equal"),
    ("required node affinity", lambda p: p.spec.affinity.node_affinity.required.node_selector_terms[0].match_expressions[0].values, ("a", "b")),
    ("matchFields", lambda p: p.spec.affinity.node_affinity.required.node_selector_terms[0].match_fields[0].key, "metadata.name"),
    ("preferred weight", lambda p: p.spec.affinity.node_affinity.preferred[0].weight, 7),
    ("anti-affinity matchLabelKeys", lambda p: p.spec.affinity.pod_anti_affinity.required[0].match_label_keys, ("pod-template-hash",)),
    ("mismatchLabelKeys", lambda p: p.spec.affinity.pod_anti_affinity.required[0].mismatch_label_keys, ("tenant",)),
    ("empty namespaceSelector is not None", lambda p: p.spec.affinity.pod_anti_affinity.required[0].namespace_selector is not None, True),
    ("weighted pod affinity term", lambda p: p.spec.affinity.pod_anti_affinity.preferred[0].pod_affinity_term.namespaces, ("shop",)),
    ("pod affinity absent", lambda p: p.spec.affinity.pod_affinity, None),
    ("minDomains", lambda p: p.spec.topology_spread_constraints[0].min_domains, 2),
    ("nodeAffinityPolicy", lambda p: p.spec.topology_spread_constraints[0].node_affinity_policy, "Ignore"),
    ("spread matchLabelKeys", lambda p: p.spec.topology_spread_constraints[0].match_label_keys, ("version",)),
    ("condition", lambda p: p.status.conditions[0].status, "False"),
    ("priority", lambda p: p.spec.priority, 10),
]
# fmt: on


@pytest.mark.parametrize(("what", "get", "expected"), CONVERSIONS, ids=[c[0] for c in CONVERSIONS])
def test_pod_conversion(what: str, get, expected) -> None:
    assert get(_pod()) == expected


def test_pod_round_trip_keeps_unused_fields_after_a_change() -> None:
    from dataclasses import replace

    pod = _pod()
    web = replace(pod.spec.containers[0], image="nginx:1.27")
    changed = replace(pod, spec=replace(pod.spec, containers=(web,), node_name="node-1"))
    doc = to_manifest(changed)
    container = doc["spec"]["containers"][0]
    assert container["image"] == "nginx:1.27"
    assert container["volumeMounts"] == [{"name": "data", "mountPath": "/data"}]
    assert container["env"] == [{"name": "A", "value": "1"}]
    assert container["resources"]["requests"]["cpu"] == "0.5"  # the raw spelling survives
    assert doc["spec"]["volumes"] == [{"name": "data", "emptyDir": {}}]
    assert doc["spec"]["nodeName"] == "node-1"
    assert doc["status"]["conditions"][0]["lastProbeTime"] is None
    (again,) = load_text(dump_objects([changed]))
    assert again == changed


_PRE_STOP = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx
        lifecycle:
          postStart: {exec: {command: [touch, /ready]}}
          preStop: {sleep: {seconds: 5}}
      - name: drain
        image: busybox
        lifecycle: {preStop: {exec: {command: [sh, -c, drain]}}}
"""


def test_a_pre_stop_sleep_reaches_the_model_and_round_trips() -> None:
    from dataclasses import replace

    (deployment,) = load_text(_PRE_STOP)
    web, drain = deployment.spec.template.spec.containers
    assert web.lifecycle == Lifecycle(LifecycleHandler(sleep_seconds=5))
    assert drain.lifecycle is None  # an exec preStop hook is not modelled
    raw = yaml.safe_load(_PRE_STOP)["spec"]["template"]["spec"]["containers"]
    assert to_manifest(deployment)["spec"]["template"]["spec"]["containers"] == raw
    longer = replace(web, lifecycle=Lifecycle(LifecycleHandler(sleep_seconds=12)))
    without = replace(web, lifecycle=None)
    for container, expected in ((longer, {"sleep": {"seconds": 12}}), (without, None)):
        template = replace(
            deployment.spec.template,
            spec=replace(deployment.spec.template.spec, containers=(container, drain)),
        )
        changed = replace(deployment, spec=replace(deployment.spec, template=template))
        encoded = to_manifest(changed)["spec"]["template"]["spec"]["containers"]
        assert encoded[0]["lifecycle"].get("preStop") == expected
        assert encoded[0]["lifecycle"]["postStart"] == raw[0]["lifecycle"]["postStart"]
        assert encoded[1] == raw[1]
        (again,) = load_text(dump_objects([changed]))
        assert again.spec.template.spec.containers[0].lifecycle == container.lifecycle


def test_the_corpus_exec_pre_stop_hook_is_kept_and_ignored() -> None:
    # the corpus's one preStop hook (cassandra's `nodetool drain`) is in a StatefulSet, which
    # the model keeps generic: its container goes into a Pod here
    (path,) = [
        p for p in corpus_files("kubernetes-examples") if p.name == "cassandra-statefulset.yaml"
    ]
    statefulset = next(
        d for d in yaml.safe_load_all(path.read_text()) if d["kind"] == "StatefulSet"
    )
    (container,) = statefulset["spec"]["template"]["spec"]["containers"]
    assert container["lifecycle"]["preStop"]["exec"]["command"][-1] == "nodetool drain"
    doc = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "cassandra-0"}}
    doc["spec"] = {"containers": [container]}
    pod = from_manifest(doc)
    assert pod.spec.containers[0].lifecycle is None
    assert to_manifest(pod)["spec"]["containers"][0]["lifecycle"] == container["lifecycle"]


def test_objects_without_raw_dump_to_valid_manifests() -> None:
    from dataclasses import replace

    pod = replace(_pod(), raw=replace(_pod()).raw.__class__())
    assert not pod.raw
    doc = to_manifest(pod)
    assert doc["apiVersion"] == "v1" and doc["kind"] == "Pod"
    assert doc["metadata"]["creationTimestamp"] == "2024-01-02T03:04:05Z"
    assert doc["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert from_manifest(doc) == pod


def test_workload_node_lease_conversions() -> None:
    text = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: "25%"}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx}]}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web-1
  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: web, uid: u1, controller: true}]
spec:
  replicas: 1
  selector: {matchExpressions: [{key: app, operator: In, values: [web]}]}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx}]}
---
apiVersion: v1
kind: Node
metadata: {name: n1, labels: {zone: a}}
spec:
  taints: [{key: k, value: v, effect: NoSchedule, timeAdded: "2024-01-01T00:00:00Z"}]
status:
  capacity: {cpu: "4", memory: 8Gi, pods: "110"}
  allocatable: {cpu: 3500m, memory: 7Gi, pods: 110}
  conditions: [{type: Ready, status: "True", lastHeartbeatTime: "2024-01-01T00:00:00Z"}]
  images: [{names: [nginx], sizeBytes: 100}]
---
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: kube-scheduler, namespace: kube-system}
spec:
  holderIdentity: a
  leaseDurationSeconds: 15
  renewTime: "2024-01-01T00:00:10.123456Z"
"""
    deployment, rs, node, lease = load_text(text, "all.yaml")
    assert isinstance(deployment, Deployment) and isinstance(rs, ReplicaSet)
    assert deployment.spec.strategy.rolling_update.max_surge == 1
    assert deployment.spec.strategy.rolling_update.max_unavailable == "25%"
    assert rs.metadata.controller_ref().name == "web"
    assert isinstance(node, Node) and node.spec.taints[0].time_added == 1704067200
    assert node.status.allocatable["cpu"] == q("3.5") and node.status.allocatable["pods"] == q(
        "110"
    )
    assert node.status.images[0].names == ("nginx",)
    assert isinstance(lease, Lease) and lease.spec.renew_time == 1704067210
    _assert_round_trip((deployment, rs, node, lease))
    dumped = to_manifest(node)
    assert dumped["status"]["conditions"][0]["lastHeartbeatTime"] == "2024-01-01T00:00:00Z"


def test_old_api_versions_and_other_kinds_are_generic() -> None:
    text = """\
apiVersion: extensions/v1beta1
kind: Deployment
metadata: {name: old}
spec: {replicas: "not checked: the model does not read this apiVersion"}
---
apiVersion: v1
kind: ReplicationController
metadata: {name: web, labels: {app: web}}
spec: {replicas: 1, selector: {app: web}}
"""
    old, rc = load_text(text)
    assert isinstance(old, GenericObject) and old.kind == "Deployment"
    assert isinstance(rc, GenericObject) and rc.metadata.labels["app"] == "web"
    assert thaw(rc.body)["spec"]["selector"] == {"app": "web"}
    _assert_round_trip((old, rc))


def test_unquoted_timestamps_stay_strings_in_generic_objects() -> None:
    (cm,) = load_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {when: 2024-01-01}\n"
    )
    assert cm.body["data"]["when"] == "2024-01-01"


# --- wrong types ---------------------------------------------------------------------------

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "nginx", "labels": {"app": "nginx"}},
    "spec": {
        "replicas": 3,
        "selector": {"matchLabels": {"app": "nginx"}},
        "template": {
            "metadata": {"labels": {"app": "nginx"}},
            "spec": {"containers": [{"name": "nginx", "image": "nginx"}]},
        },
    },
}


def _set(doc: dict, path: str, value) -> dict:
    """A copy of ``doc`` with the dotted ``path`` (list indexes as numbers) set to ``value``."""
    doc = copy.deepcopy(doc)
    keys = [int(k) if k.isdigit() else k for k in path.split(".")]
    target = doc
    for key in keys[:-1]:
        if isinstance(key, str) and key not in target:
            target[key] = {}
        target = target[key]
    target[keys[-1]] = value
    return doc


def _error_of(doc: dict) -> str:
    with pytest.raises(ManifestError) as caught:
        load_text(yaml.safe_dump(doc), "deploy.yaml")
    return str(caught.value)


TPL = "spec.template.spec"
# fmt: off
TYPE_ERRORS = [
    ("spec.replicas", "three", "spec.replicas: must be an integer"),
    ("spec.replicas", 1.5, "spec.replicas: must be an integer"),
    ("spec.replicas", True, "spec.replicas: must be an integer"),
    ("metadata.labels", {"v": 1.0}, "metadata.labels[v]: must be a string"),
    ("metadata.name", 7, "metadata.name: must be a string"),
    ("spec.template.spec.containers", {"name": "x"}, f"{TPL}.containers: must be a list"),
    ("spec.selector", "app=nginx", "spec.selector: must be an object, not a string"),
    (f"{TPL}.hostNetwork", "yes please", f"{TPL}.hostNetwork: must be a boolean"),
    (f"{TPL}.containers.0.resources", {"requests": {"cpu": True}}, f"{TPL}.containers[0].resources.requests[cpu]: must be a quantity"),
    (f"{TPL}.containers.0.resources", {"requests": {"cpu": "1 core"}}, f"{TPL}.containers[0].resources.requests[cpu]: invalid quantity '1 core'"),
    ("spec.strategy", {"rollingUpdate": {"maxSurge": 0.5}}, "spec.strategy.rollingUpdate.maxSurge: must be an integer or a string"),
    ("metadata.creationTimestamp", "yesterday", "metadata.creationTimestamp: invalid timestamp"),
    ("metadata.creationTimestamp", 5, "metadata.creationTimestamp: must be an RFC 3339"),
    (f"{TPL}.tolerations", [{"value": 1}], f"{TPL}.tolerations[0].value: must be a string"),
    (f"{TPL}.tolerations", ["Exists"], f"{TPL}.tolerations[0]: must be an object, not a string"),
]
# fmt: on


@pytest.mark.parametrize(("path", "value", "message"), TYPE_ERRORS, ids=[e[2] for e in TYPE_ERRORS])
def test_wrong_types_are_manifest_errors(path: str, value, message: str) -> None:
    assert _error_of(_set(DEPLOYMENT, path, value)).startswith(f"deploy.yaml[0].{message}")


def test_unused_fields_are_never_errors() -> None:
    doc = _set(DEPLOYMENT, "spec.template.spec.containers.0.livenessProbe", {"x": [1, {"y": None}]})
    doc = _set(doc, "spec.unknownField", "anything")
    (deployment,) = load_text(yaml.safe_dump(doc))
    assert to_manifest(deployment)["spec"]["unknownField"] == "anything"


def test_missing_kind_and_non_objects() -> None:
    with pytest.raises(ManifestError, match=r"^x\.yaml\[0\]\.kind: required"):
        load_text("apiVersion: v1\nmetadata: {name: a}\n", "x.yaml")
    with pytest.raises(ManifestError, match=r"^x\.yaml\[0\]\.apiVersion: required"):
        load_text("kind: Pod\n", "x.yaml")
    with pytest.raises(ManifestError, match=r"^x\.yaml\[1\]: a manifest must be an object"):
        load_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n- a\n", "x.yaml")
    with pytest.raises(
        ManifestError, match=r"^x\.yaml\[0\]: invalid YAML: .*\(line 2, column 1\)$"
    ):
        load_text("a: [b\n", "x.yaml")


# --- validation rules ----------------------------------------------------------------------

POD_DOC = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web"},
    "spec": {"containers": [{"name": "web", "image": "nginx"}]},
}
NODE_DOC = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}
MATCH = "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
TERM = {
    "nodeSelectorTerms": [
        {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}
    ]
}


def _req(operator: str, values: list) -> dict:
    return {
        "nodeSelectorTerms": [
            {"matchExpressions": [{"key": "zone", "operator": operator, "values": values}]}
        ]
    }


def _tsc(**fields) -> list:
    base = {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule"}
    return [{**base, **fields}]


# fmt: off
RULES = [
    # (base document, path, value, expected error: "path: message" prefix)
    (POD_DOC, "metadata.name", "Web_1", 'metadata.name: invalid value "Web_1": a lowercase RFC 1123 subdomain'),
    (POD_DOC, "metadata.name", "a" * 254, "metadata.name: invalid value"),
    (POD_DOC, "metadata.name", "", "metadata.name: name or generateName is required"),
    (POD_DOC, "metadata.namespace", "my.ns", 'metadata.namespace: invalid value "my.ns": a lowercase RFC 1123 label'),
    ({"apiVersion": "v1", "kind": "Namespace", "metadata": {}}, "metadata.name", "a.b", 'metadata.name: invalid value "a.b": a lowercase RFC 1123 label'),
    (POD_DOC, "metadata.labels", {"a/b/c": "x"}, 'metadata.labels: invalid value "a/b/c": a qualified name'),
    (POD_DOC, "metadata.labels", {"-a": "x"}, 'metadata.labels: invalid value "-a": name part must consist'),
    (POD_DOC, "metadata.labels", {"Example.com/a": "x"}, 'metadata.labels: invalid value "Example.com/a": prefix part a lowercase RFC 1123 subdomain'),
    (POD_DOC, "metadata.labels", {"a": "x y"}, 'metadata.labels[a]: invalid value "x y": a valid label must be an empty string'),
    (POD_DOC, "metadata.labels", {"a": "x" * 64}, "metadata.labels[a]: invalid value"),
    (POD_DOC, "metadata.annotations", {"bad key": "x"}, 'metadata.annotations: invalid value "bad key"'),
    (POD_DOC, "spec.tolerations", [{"key": "k", "operator": "Equals"}], "spec.tolerations[0].operator: must be one of Exists, Equal"),
    (POD_DOC, "spec.tolerations", [{"key": "k", "operator": "Exists", "value": "v"}], "spec.tolerations[0].operator: value must be empty when `operator` is 'Exists'"),
    (POD_DOC, "spec.tolerations", [{"operator": "Equal", "value": "v"}], 'spec.tolerations[0].operator: invalid value "Equal": operator must be Exists when `key` is empty'),
    (POD_DOC, "spec.tolerations", [{"key": "k", "effect": "NoRun"}], "spec.tolerations[0].effect: must be one of NoSchedule, PreferNoSchedule, NoExecute"),
    (POD_DOC, "spec.tolerations", [{"key": "k", "effect": "NoSchedule", "tolerationSeconds": 5}], "spec.tolerations[0].effect: invalid value \"NoSchedule\": effect must be 'NoExecute' when `tolerationSeconds` is set"),
    (POD_DOC, "spec.tolerations", [{"key": "k", "value": "a b"}], 'spec.tolerations[0].operator: invalid value "a b"'),
    (POD_DOC, "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution", {"nodeSelectorTerms": []}, f"{MATCH}.nodeSelectorTerms: must have at least one node selector term"),
    (POD_DOC, MATCH, {}, f"{MATCH}.nodeSelectorTerms: must have at least one node selector term"),
    (POD_DOC, MATCH, _req("In", []), f"{MATCH}.nodeSelectorTerms[0].matchExpressions[0].values: must be specified when `operator` is 'In' or 'NotIn'"),
    (POD_DOC, MATCH, _req("Exists", ["a"]), f"{MATCH}.nodeSelectorTerms[0].matchExpressions[0].values: may not be specified when `operator` is 'Exists' or 'DoesNotExist'"),
    (POD_DOC, MATCH, _req("Gt", ["1", "2"]), f"{MATCH}.nodeSelectorTerms[0].matchExpressions[0].values: must be specified single value when `operator` is 'Lt' or 'Gt'"),
    (POD_DOC, MATCH, _req("Lt", ["ten"]), f'{MATCH}.nodeSelectorTerms[0].matchExpressions[0].values[0]: invalid value "ten": must be an integer'),
    (POD_DOC, MATCH, _req("Near", ["a"]), f'{MATCH}.nodeSelectorTerms[0].matchExpressions[0].operator: invalid value "Near": not a valid selector operator'),
    (POD_DOC, MATCH, {"nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["a", "b"]}]}]}, f"{MATCH}.nodeSelectorTerms[0].matchFields[0].values: must be only one value"),
    (POD_DOC, MATCH, {"nodeSelectorTerms": [{"matchFields": [{"key": "spec.x", "operator": "In", "values": ["a"]}]}]}, f'{MATCH}.nodeSelectorTerms[0].matchFields[0].key: invalid value "spec.x": not a valid field selector key'),
    (POD_DOC, "spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution", [{"weight": 0, "preference": {}}], "spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight: invalid value 0: must be in the range 1-100"),
    (POD_DOC, "spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution", [{"weight": 101, "preference": {}}], "spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight: invalid value 101"),
    (POD_DOC, "spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution", [{"labelSelector": {}}], "spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey: can not be empty"),
    (POD_DOC, "spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution", [{"weight": 1, "podAffinityTerm": {}}], "spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.topologyKey: can not be empty"),
    (POD_DOC, "spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution", [{"topologyKey": "zone", "matchLabelKeys": ["a"]}], "spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].matchLabelKeys: must not be specified when labelSelector is not set"),
    (POD_DOC, "spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution", [{"topologyKey": "zone", "labelSelector": {"matchExpressions": [{"key": "a", "operator": "In"}]}} ], "spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].labelSelector.matchExpressions[0].values: must be specified when `operator` is 'In' or 'NotIn'"),
    (POD_DOC, "spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution", [{"topologyKey": "zone", "labelSelector": {"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}] }} ], 'spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].labelSelector.matchExpressions[0].operator: invalid value "Gt": not a valid selector operator'),
    (POD_DOC, "spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution", [{"topologyKey": "zone", "labelSelector": {"matchExpressions": [{"key": "a", "operator": "DoesNotExist", "values": ["1"]}] }} ], "spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].labelSelector.matchExpressions[0].values: may not be specified"),
    (POD_DOC, "spec.topologySpreadConstraints", _tsc(maxSkew=0), "spec.topologySpreadConstraints[0].maxSkew: invalid value 0: must be greater than zero"),
    (POD_DOC, "spec.topologySpreadConstraints", _tsc(topologyKey=""), "spec.topologySpreadConstraints[0].topologyKey: can not be empty"),
    (POD_DOC, "spec.topologySpreadConstraints", _tsc(whenUnsatisfiable="Never"), "spec.topologySpreadConstraints[0].whenUnsatisfiable: must be one of DoNotSchedule, ScheduleAnyway"),
    (POD_DOC, "spec.topologySpreadConstraints", _tsc(minDomains=0), "spec.topologySpreadConstraints[0].minDomains: invalid value 0: must be greater than zero"),
    (POD_DOC, "spec.topologySpreadConstraints", _tsc(minDomains=2, whenUnsatisfiable="ScheduleAnyway"), "spec.topologySpreadConstraints[0].minDomains: invalid value 2: can only use minDomains if whenUnsatisfiable=DoNotSchedule, not ScheduleAnyway"),
    (POD_DOC, "spec.topologySpreadConstraints", _tsc(nodeTaintsPolicy="Always"), "spec.topologySpreadConstraints[0].nodeTaintsPolicy: must be one of Honor, Ignore"),
    (POD_DOC, "spec.topologySpreadConstraints", _tsc(nodeAffinityPolicy="honor"), "spec.topologySpreadConstraints[0].nodeAffinityPolicy: must be one of Honor, Ignore"),
    (POD_DOC, "spec.topologySpreadConstraints", _tsc() + _tsc(maxSkew=2), "spec.topologySpreadConstraints[0].{topologyKey, whenUnsatisfiable}: duplicate value"),
    (POD_DOC, "spec.containers", [], "spec.containers: required value"),
    (POD_DOC, "spec.containers", [{"name": "a", "image": "x"}, {"name": "a", "image": "y"}], 'spec.containers[1].name: duplicate value "a"'),
    (POD_DOC, "spec.initContainers", [{"name": "web", "image": "x"}], 'spec.containers[0].name: duplicate value "web"'),
    (POD_DOC, "spec.containers", [{"image": "x"}], "spec.containers[0].name: required value"),
    (POD_DOC, "spec.containers", [{"name": "Web", "image": "x"}], 'spec.containers[0].name: invalid value "Web": a lowercase RFC 1123 label'),
    (POD_DOC, "spec.containers", [{"name": "web"}], "spec.containers[0].image: required value"),
    (POD_DOC, "spec.containers.0.resources", {"requests": {"cpu": "-1"}}, 'spec.containers[0].resources.requests[cpu]: invalid value "-1": must be greater than or equal to 0'),
    (POD_DOC, "spec.containers.0.resources", {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}, 'spec.containers[0].resources.requests[cpu]: invalid value "2": must be less than or equal to cpu limit of 1'),
    (POD_DOC, "spec.containers.0.resources", {"requests": {"example.com/gpu": "1"}}, "spec.containers[0].resources.limits[example.com/gpu]: Limit must be set for non overcommitable resources"),
    (POD_DOC, "spec.containers.0.resources", {"requests": {"example.com/gpu": "1"}, "limits": {"example.com/gpu": "2"}}, 'spec.containers[0].resources.requests[example.com/gpu]: invalid value "1": must be equal to example.com/gpu limit of 2'),
    (POD_DOC, "spec.containers.0.resources", {"limits": {"example.com/gpu": "500m"}}, 'spec.containers[0].resources.limits[example.com/gpu]: invalid value "500m": must be an integer'),
    (POD_DOC, "spec.containers.0.resources", {"limits": {"gpu": "1"}}, 'spec.containers[0].resources.limits[gpu]: invalid value "gpu": must be a standard resource for containers'),
    (POD_DOC, "spec.containers.0.ports", [{"containerPort": 70000}], "spec.containers[0].ports[0].containerPort: invalid value 70000: must be between 1 and 65535, inclusive"),
    (POD_DOC, "spec.containers.0.ports", [{"containerPort": 0}], "spec.containers[0].ports[0].containerPort: required value"),
    (POD_DOC, "spec.containers.0.ports", [{"containerPort": 80, "hostPort": -1}], "spec.containers[0].ports[0].hostPort: invalid value -1"),
    (POD_DOC, "spec.containers.0.ports", [{"containerPort": 80, "protocol": "HTTP"}], "spec.containers[0].ports[0].protocol: must be one of TCP, UDP, SCTP"),
    (POD_DOC, "spec.initContainers", [{"name": "i", "image": "x", "restartPolicy": "Never"}], "spec.initContainers[0].restartPolicy: must be one of Always"),
    (POD_DOC, "spec.restartPolicy", "Sometimes", "spec.restartPolicy: must be one of Always, OnFailure, Never"),
    (POD_DOC, "spec.schedulingGates", [{"name": "a"}, {"name": "a"}], 'spec.schedulingGates[1]: duplicate value "a"'),
    (POD_DOC, "spec.overhead", {"cpu": "-1m"}, 'spec.overhead[cpu]: invalid value "-1m"'),
    (POD_DOC, "spec.nodeSelector", {"zone": "a b"}, 'spec.nodeSelector[zone]: invalid value "a b"'),
    (POD_DOC, "spec.resources", {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}, 'spec.resources.requests[cpu]: invalid value "2": must be less than or equal to cpu limit of 1'),
    (NODE_DOC, "spec.taints", [{"key": "k", "effect": "Never"}], "spec.taints[0].effect: must be one of NoSchedule, PreferNoSchedule, NoExecute"),
    (NODE_DOC, "spec.taints", [{"key": "k"}], "spec.taints[0].effect: required value"),
    (NODE_DOC, "spec.taints", [{"key": "", "effect": "NoSchedule"}], 'spec.taints[0].key: invalid value "": name part must be non-empty'),
    (NODE_DOC, "spec.taints", [{"key": "k", "effect": "NoSchedule"}, {"key": "k", "effect": "NoSchedule", "value": "v"}], 'spec.taints[1]: duplicate value "k:NoSchedule"'),
    (NODE_DOC, "status.allocatable", {"cpu": "-1"}, 'status.allocatable[cpu]: invalid value "-1"'),
    (DEPLOYMENT, "spec.replicas", -1, "spec.replicas: invalid value -1: must be greater than or equal to 0"),
    (DEPLOYMENT, "spec.selector", None, "spec.selector: required value"),
    (DEPLOYMENT, "spec.selector", {}, "spec.selector: empty selector is invalid for deployment."),
    (DEPLOYMENT, "spec.selector", {"matchLabels": {"app": "web"}}, "spec.template.metadata.labels: `selector` does not match template `labels`"),
    (DEPLOYMENT, "spec.selector", {"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["nginx"]}]}, "spec.template.metadata.labels: `selector` does not match template `labels`"),
    (DEPLOYMENT, "spec.strategy", {"type": "BlueGreen"}, "spec.strategy.type: must be one of Recreate, RollingUpdate"),
    (DEPLOYMENT, "spec.strategy", {"type": "Recreate", "rollingUpdate": {}}, "spec.strategy.rollingUpdate: may not be specified when strategy `type` is 'Recreate'"),
    (DEPLOYMENT, "spec.strategy", {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": "0%"}}, 'spec.strategy.rollingUpdate.maxUnavailable: invalid value "0%": may not be 0 when `maxSurge` is 0'),
    (DEPLOYMENT, "spec.strategy", {"rollingUpdate": {"maxSurge": "ten"}}, 'spec.strategy.rollingUpdate.maxSurge: invalid value "ten": a valid percent string must be'),
    (DEPLOYMENT, "spec.strategy", {"rollingUpdate": {"maxSurge": -1}}, "spec.strategy.rollingUpdate.maxSurge: invalid value -1: must be greater than or equal to 0"),
    (DEPLOYMENT, "spec.strategy", {"rollingUpdate": {"maxUnavailable": "120%"}}, 'spec.strategy.rollingUpdate.maxUnavailable: invalid value "120%": must not be greater than 100%'),
    (DEPLOYMENT, "spec.template.spec.restartPolicy", "Never", "spec.template.spec.restartPolicy: must be one of Always"),
    (DEPLOYMENT, "spec.template.spec.tolerations", [{"key": "k", "operator": "In"}], "spec.template.spec.tolerations[0].operator: must be one of Exists, Equal"),
    (DEPLOYMENT, "spec.progressDeadlineSeconds", 0, "spec.progressDeadlineSeconds: invalid value 0: must be greater than minReadySeconds"),
    ({**DEPLOYMENT, "kind": "ReplicaSet"}, "spec.replicas", -2, "spec.replicas: invalid value -2: must be greater than or equal to 0"),
    ({**DEPLOYMENT, "kind": "ReplicaSet"}, "spec.template.metadata.labels", {"app": "other"}, "spec.template.metadata.labels: `selector` does not match template `labels`"),
    ({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "l"}}, "spec.leaseDurationSeconds", 0, "spec.leaseDurationSeconds: invalid value 0: must be greater than 0"),
    ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "s"}}, "metadata.name", "a/b", "metadata.name: invalid value \"a/b\": may not contain '/'"),
]
# fmt: on


@pytest.mark.parametrize(
    ("base", "path", "value", "message"), RULES, ids=[r[3][:90] for r in RULES]
)
def test_validation_rule(base: dict, path: str, value, message: str) -> None:
    doc = _set(base, path, value)
    if value is None:
        doc = copy.deepcopy(base)
        parent, _, last = path.rpartition(".")
        target = doc
        for key in parent.split("."):
            target = target[key]
        del target[last]
    assert _error_of(doc).startswith(f"deploy.yaml[0].{message}")


def test_valid_documents_of_the_rule_table_are_valid() -> None:
    for doc in (POD_DOC, NODE_DOC, DEPLOYMENT, {**DEPLOYMENT, "kind": "ReplicaSet"}):
        (obj,) = load_text(yaml.safe_dump(doc))
        assert validate(obj) == ()
    (pod,) = load_text(POD)
    assert validate(pod) == ()


def test_update_validation() -> None:
    from dataclasses import replace

    pod = _pod()
    bound = replace(pod, spec=replace(pod.spec, node_name="n1"))
    assert [e.path for e in validate(bound, pod)] == ["spec.nodeName"]  # only pods/binding
    new_image = replace(pod.spec.containers[0], image="nginx:2")
    assert validate(replace(pod, spec=replace(pod.spec, containers=(new_image,))), pod) == ()
    more_cpu = replace(new_image, requests=new_image.requests.set("cpu", q("1")))
    changed = replace(pod, spec=replace(pod.spec, containers=(more_cpu,)))
    assert [e.path for e in validate(changed, pod)] == ["spec"]
    renamed = replace(pod, metadata=replace(pod.metadata, name="other"))
    assert validate(renamed, pod)[0].message == 'invalid value "other": field is immutable'
    more_gates = replace(pod, spec=replace(pod.spec, scheduling_gates=("a", "b")))
    assert [e.path for e in validate(more_gates, pod)] == ["spec.schedulingGates"]
    fewer_gates = replace(pod, spec=replace(pod.spec, scheduling_gates=()))
    assert validate(fewer_gates, pod) == ()
    (deployment,) = load_text(yaml.safe_dump(DEPLOYMENT))
    new_selector = _set(DEPLOYMENT, "spec.selector.matchLabels.tier", "web")
    new_selector = _set(new_selector, "spec.template.metadata.labels.tier", "web")
    (changed,) = load_text(yaml.safe_dump(new_selector))
    assert [e.path for e in validate(changed, deployment)] == ["spec.selector"]


# --- Lists, JSON, safety -------------------------------------------------------------------

KUBECTL_JSON = {
    "apiVersion": "v1",
    "kind": "List",
    "metadata": {"resourceVersion": ""},
    "items": [
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "web-7d4b9c",
                "namespace": "default",
                "uid": "0b5d8f4e",
                "resourceVersion": "1234",
                "creationTimestamp": "2024-05-01T10:00:00Z",
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "ReplicaSet",
                        "name": "web-7d4b",
                        "uid": "rs-uid",
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
                "managedFields": [{"manager": "kube-controller-manager", "operation": "Update"}],
            },
            "spec": {
                "containers": [
                    {
                        "name": "nginx",
                        "image": "nginx",
                        "resources": {"requests": {"cpu": "100m"}},
                        "terminationMessagePath": "/dev/termination-log",
                    }
                ],
                "nodeName": "node-a",
                "tolerations": [
                    {
                        "key": "node.kubernetes.io/not-ready",
                        "operator": "Exists",
                        "effect": "NoExecute",
                        "tolerationSeconds": 300,
                    }
                ],
            },
            "status": {
                "phase": "Running",
                "podIP": "10.0.0.5",
                "startTime": "2024-05-01T10:00:01Z",
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web"},
            "spec": {"ports": [{"port": 80}]},
        },
    ],
}


def test_kubectl_get_json_list(tmp_path: Path) -> None:
    path = tmp_path / "pods.json"
    path.write_text(json.dumps(KUBECTL_JSON, indent=4))
    pod, service = load_manifests(path)
    assert isinstance(pod, Pod) and pod.spec.node_name == "node-a"
    assert pod.metadata.owner_references[0].block_owner_deletion
    assert pod.status.phase == "Running" and pod.status.pod_ip == "10.0.0.5"
    assert isinstance(service, Service) and service.spec.ports[0].port == 80
    _assert_round_trip((pod, service))
    assert to_manifest(pod)["metadata"]["managedFields"][0]["manager"] == "kube-controller-manager"


def test_json_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"apiVersion": "v1", "kind": "Pod",}')
    with pytest.raises(ManifestError, match=r"bad\.json: invalid JSON: .*line 1"):
        load_manifests(path)
    bad_item = _set(KUBECTL_JSON, "items.0.spec.nodeName", 5)
    path.write_text(json.dumps(bad_item))
    with pytest.raises(
        ManifestError, match=r"bad\.json\[0\]\.items\[0\]\.spec\.nodeName: must be a string"
    ):
        load_manifests(path)


def test_kind_list_in_yaml_and_typed_lists() -> None:
    text = """\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Namespace
  metadata: {name: shop}
- apiVersion: v1
  kind: List
  items:
  - {apiVersion: v1, kind: ConfigMap, metadata: {name: c}}
---
---
apiVersion: v1
kind: PodList
items:
- metadata: {name: p}
  spec: {containers: [{name: c, image: i}]}
"""
    namespace, config_map, pod = load_text(text)
    assert namespace.metadata.name == "shop" and config_map.kind == "ConfigMap"
    assert isinstance(pod, Pod) and pod.raw["kind"] == "Pod"
    with pytest.raises(
        ManifestError, match=r"^l\.yaml\[0\]\.items\[1\]\.spec\.containers: required"
    ):
        load_text(
            "apiVersion: v1\nkind: PodList\nitems:\n"
            "- metadata: {name: a}\n  spec: {containers: [{name: c, image: i}]}\n"
            "- metadata: {name: b}\n",
            "l.yaml",
        )


def test_empty_documents_are_skipped_and_indexes_count_documents() -> None:
    text = "---\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n# nothing\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: B}\n"
    with pytest.raises(ManifestError, match=r"^s\[3\]\.metadata\.name"):
        load_text(text, "s")
    assert load_text("") == () and load_text("---\n...\n") == ()


def test_python_tags_are_rejected_not_executed(tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    attacks = [
        f"!!python/object/apply:builtins.open ['{marker}', 'w']",
        f"a: !!python/object/apply:os.system ['touch {marker}']",
        "!!python/name:os.system",
        "a: !!python/tuple [1, 2]",
        "a: !!binary aGVsbG8=",
        "a: !!set {x}",
    ]
    for text in attacks:
        with pytest.raises(ManifestError):
            load_text(text, "evil.yaml")
    assert not marker.exists()


def test_alias_bombs_and_deep_nesting_are_manifest_errors() -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(8)
    )
    with pytest.raises(ManifestError, match="too large"):
        load_text("apiVersion: v1\nkind: ConfigMap\n" + bomb)
    with pytest.raises(ManifestError):
        load_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ManifestError):
        load_text("[" * 100_000 + "]" * 100_000, as_json=True)
    with pytest.raises(ManifestError, match="NaN"):
        load_text("apiVersion: v1\nkind: ConfigMap\ndata: {a: .nan}\n")


def test_missing_files() -> None:
    with pytest.raises(ManifestError, match="no such file"):
        load_manifests("/nonexistent/x.yaml")
    with pytest.raises(ManifestError, match="no such file or directory"):
        load_paths(["/nonexistent"])


# --- fuzzing -------------------------------------------------------------------------------


def _seed_documents() -> list[dict]:
    docs: list[dict] = [POD_DOC, NODE_DOC, DEPLOYMENT, KUBECTL_JSON, yaml.safe_load(POD)]
    for path in sorted(EXAMPLES.glob("*.yaml")):
        docs.extend(d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict))
    root = CORPUS / "kubernetes-website"
    if root.is_dir():
        for path in sorted(root.rglob("*.yaml"))[:40]:
            with contextlib.suppress(yaml.YAMLError):
                docs.extend(d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict))
    return docs


SEEDS = _seed_documents()
JSONISH = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
    | st.sampled_from(
        ["", "-1", "100m", "1Gi", "Exists", "In", "Gt", "25%", "2024-01-01T00:00:00Z"]
    ),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)


def _paths(value, prefix=()) -> list[tuple]:
    out = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            out.extend(_paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out.extend(_paths(item, (*prefix, i)))
    return out


@st.composite
def mutated_documents(draw) -> dict:
    doc = copy.deepcopy(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(doc)
        path = draw(st.sampled_from(paths[1:] or paths))
        if not path:
            continue
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["replace", "drop", "retype"]))
        if action == "drop":
            del parent[path[-1]]
        elif action == "retype":
            old = parent[path[-1]]
            parent[path[-1]] = [old] if not isinstance(old, list) else {"x": old}
        else:
            parent[path[-1]] = draw(JSONISH)
    return doc


def _load_or_user_error(text, **kwargs) -> None:
    try:
        objects = load_text(text, "fuzz.yaml", **kwargs)
    except KubeproofError:
        return
    assert isinstance(objects, tuple)
    again = load_text(dump_objects(objects), "dumped.yaml")
    assert again == objects


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_documents(), st.booleans())
def test_fuzz_mutated_manifests(doc: dict, as_json: bool) -> None:
    text = json.dumps(doc, default=str) if as_json else yaml.safe_dump(doc)
    _load_or_user_error(text, as_json=as_json)


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.text(max_size=200), st.binary(max_size=200)))
def test_fuzz_arbitrary_text(text) -> None:
    _load_or_user_error(text)
    if isinstance(text, str):
        _load_or_user_error(text, as_json=True)


YAML_PIECES = st.sampled_from(
    ["apiVersion: v1\n", "kind: Pod\n", "kind: List\n", "items:\n", "- ", "  ", "metadata:\n",
     "name: a\n", "spec:\n", "containers: [{name: a, image: b}]\n", "---\n", "&a ", "*a ", "!!str ",
     "!!python/none ", "{", "}", "[", "]", ": ", "'", '"', "\t", "%YAML 1.1\n", "? ", "replicas: 1\n",
     "apiVersion: apps/v1\n", "kind: Deployment\n", "selector: {}\n", "1e3", "~", "<<: *a\n"]
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.lists(YAML_PIECES, max_size=20).map("".join))
def test_fuzz_yaml_fragments(text: str) -> None:
    _load_or_user_error(text)
