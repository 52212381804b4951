"""Manifests (YAML, multi-document, ``kind: List``; JSON as ``kubectl get -o json`` prints it)
to the model's objects and back.

A typed kind is recognised by apiVersion and kind (Pod v1, Node v1, Deployment apps/v1,
ReplicaSet apps/v1, Namespace v1, Lease coordination.k8s.io/v1, Service v1, EndpointSlice
discovery.k8s.io/v1); every other kind, including old
apiVersions such as extensions/v1beta1 Deployment, becomes a GenericObject kept as is. Fields the
model does not use are never an error and survive a dump; a wrong type in a field it uses, or a
value the api-server's validation rejects, is a ManifestError naming file, document and path.

>>> (pod,) = load_text("apiVersion: v1\\nkind: Pod\\nmetadata: {name: web}\\n"
...                    "spec: {containers: [{name: web, image: nginx}]}\\n", "pod.yaml")
>>> pod.spec.containers[0].image, load_text(dump_objects([pod])) == (pod,)
('nginx', True)
>>> load_text("apiVersion: apps/v1\\nkind: Deployment\\nspec: {replicas: three}", "deploy.yaml")
Traceback (most recent call last):
...
kubeproof.model.errors.ManifestError: deploy.yaml[0].spec.replicas: must be an integer
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from kubeproof.model.codec import FieldDecodeError, Fields, child, decode_meta, encode_meta
from kubeproof.model.codec_pods import decode_node, decode_pod, encode_node, encode_pod
from kubeproof.model.codec_services import (
    decode_endpoint_slice,
    decode_service,
    encode_endpoint_slice,
    encode_service,
)
from kubeproof.model.codec_workloads import (
    decode_deployment,
    decode_lease,
    decode_namespace,
    decode_replica_set,
    encode_deployment,
    encode_lease,
    encode_namespace,
    encode_replica_set,
)
from kubeproof.model.errors import ManifestError
from kubeproof.model.objects import (
    Deployment,
    EndpointSlice,
    GenericObject,
    Lease,
    Namespace,
    Node,
    Object,
    Pod,
    ReplicaSet,
    Service,
    freeze,
    thaw,
)
from kubeproof.model.validation import validate

__all__ = [
    "CLUSTER_SCOPED_KINDS",
    "MANIFEST_SUFFIXES",
    "dump_objects",
    "from_manifest",
    "is_namespaced",
    "load_manifests",
    "load_paths",
    "load_text",
    "objects_from_document",
    "to_manifest",
]

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")

# The typed kinds: (apiVersion, kind) -> (class, decode, encode).
_TYPED: dict[tuple[str, str], tuple[type, Callable, Callable]] = {
    ("v1", "Pod"): (Pod, decode_pod, encode_pod),
    ("v1", "Node"): (Node, decode_node, encode_node),
    ("apps/v1", "Deployment"): (Deployment, decode_deployment, encode_deployment),
    ("apps/v1", "ReplicaSet"): (ReplicaSet, decode_replica_set, encode_replica_set),
    ("v1", "Namespace"): (Namespace, decode_namespace, encode_namespace),
    ("coordination.k8s.io/v1", "Lease"): (Lease, decode_lease, encode_lease),
    ("v1", "Service"): (Service, decode_service, encode_service),
    ("discovery.k8s.io/v1", "EndpointSlice"): (
        EndpointSlice,
        decode_endpoint_slice,
        encode_endpoint_slice,
    ),
}
_ENCODERS = {cls: encode for cls, _, encode in _TYPED.values()}

# Built-in kinds that are not namespaced (kubectl api-resources --namespaced=false), for display
# and keys of GenericObjects; any other kind without a namespace lives in "default".
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "APIService", "CSIDriver", "CSINode", "CertificateSigningRequest", "ClusterRole",
        "ClusterRoleBinding", "ComponentStatus", "CustomResourceDefinition", "FlowSchema",
        "IngressClass", "MutatingWebhookConfiguration", "Namespace", "Node", "PersistentVolume",
        "PodSecurityPolicy", "PriorityClass", "PriorityLevelConfiguration", "RuntimeClass",
        "StorageClass", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
        "ValidatingWebhookConfiguration", "VolumeAttachment",
    }
)  # fmt: skip

# Guard against YAML alias bombs: a document may expand to at most this many values.
_MAX_VALUES = 2_000_000


def is_namespaced(kind: str) -> bool:
    """Whether objects of ``kind`` live in a namespace (unknown kinds are taken to)."""
    return kind not in CLUSTER_SCOPED_KINDS


# --- YAML and JSON -------------------------------------------------------------------------

_Dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _without_timestamps(base: type) -> type:
    """A safe loader without the timestamp type: as in sigs.k8s.io/yaml, an unquoted date stays
    a string (creationTimestamp: 2024-01-02T03:04:05Z), so it round-trips as written."""
    loader = type(f"Kubeproof{base.__name__}", (base,), {})
    loader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in base.yaml_implicit_resolvers.items()
    }
    return loader


_FastLoader = _without_timestamps(getattr(yaml, "CSafeLoader", yaml.SafeLoader))
_SafeLoader = _without_timestamps(yaml.SafeLoader)
# libyaml's composer recurses in C and crashes the process on very deep nesting (about 50,000
# levels); a text that might nest deeper than this goes to the pure-Python loader, whose
# recursion ends in a RecursionError instead.
_FAST_DEPTH_LIMIT = 10_000


def _loader_for(text: str) -> type:
    """The C loader when the text cannot nest deeply, else the Python one."""
    # Block nesting is bounded by the longest line, flow nesting by the number of brackets.
    longest = max((len(line) for line in text.splitlines()), default=0)
    bound = longest + text.count("[") + text.count("{")
    return _FastLoader if bound <= _FAST_DEPTH_LIMIT else _SafeLoader


def _plain(value: Any, path: str, budget: list[int]) -> Any:
    """A parsed value as plain JSON data (dict with str keys, list, str, int, float, bool, None)."""
    budget[0] -= 1
    if budget[0] < 0:
        raise FieldDecodeError(path, "document too large (YAML aliases expand too far)")
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise FieldDecodeError(path, "not a JSON number (NaN and infinities are not allowed)")
        return value
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if isinstance(key, bool):
                key = "true" if key else "false"
            elif key is None:
                key = "null"
            elif isinstance(key, int | float):
                key = json.dumps(key)
            elif not isinstance(key, str):
                raise FieldDecodeError(path, f"unsupported map key of type {type(key).__name__}")
            out[key] = _plain(item, child(path, key), budget)
        return out
    if isinstance(value, list | tuple):
        return [_plain(item, f"{path}[{i}]", budget) for i, item in enumerate(value)]
    raise FieldDecodeError(path, f"unsupported YAML value of type {type(value).__name__}")


def _yaml_error(source: str, document: int, err: yaml.YAMLError) -> ManifestError:
    """One line for a YAML syntax error (PyYAML's own message spans several)."""
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    problem = getattr(err, "problem", None) or getattr(err, "context", None) or str(err)
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
    problem = " ".join(str(problem).split())
    return ManifestError(source, document, "", f"invalid YAML: {problem}{where}")


def _documents(text: str, source: str, as_json: bool) -> Iterable[tuple[int, Any]]:
    """The parsed documents with their index in the stream (empty documents skipped)."""
    if as_json:
        try:
            yield 0, json.loads(text)
        except json.JSONDecodeError as err:
            where = f" (line {err.lineno}, column {err.colno})"
            raise ManifestError(source, None, "", f"invalid JSON: {err.msg}{where}") from None
        return
    stream = yaml.load_all(text, Loader=_loader_for(text))
    position = 0
    while True:
        try:
            document = next(stream)
        except StopIteration:
            return
        except yaml.YAMLError as err:
            raise _yaml_error(source, position, err) from None
        except (ValueError, TypeError, OverflowError) as err:  # e.g. a bad !!binary or !!int
            raise ManifestError(source, position, "", f"invalid YAML: {err}") from None
        if document is not None:
            yield position, document
        position += 1


# --- documents to objects ------------------------------------------------------------------


def _decode(doc: Mapping[str, Any], path: str) -> Object:
    """One object (not a List) from plain data, without validation."""
    f = Fields(doc, path)
    api_version, kind = f.string("apiVersion"), f.string("kind")
    if not kind:
        raise FieldDecodeError(f.at("kind"), "required: every manifest names its kind")
    if not api_version:
        raise FieldDecodeError(f.at("apiVersion"), "required: every manifest names its apiVersion")
    typed = _TYPED.get((api_version, kind))
    if typed is not None:
        obj = typed[1](f)
    else:
        body = {k: v for k, v in doc.items() if k not in ("apiVersion", "kind", "metadata")}
        obj = GenericObject(api_version, kind, decode_meta(f.sub("metadata")), freeze(body))
    return replace(obj, raw=freeze(doc))


def _is_list(doc: Mapping[str, Any]) -> bool:
    kind = doc.get("kind")
    return isinstance(kind, str) and kind.endswith("List") and (kind == "List" or "items" in doc)


def _expand(doc: Any, path: str) -> Iterable[tuple[Mapping[str, Any], str]]:
    """The objects in a document with their paths: the document itself, or a List's items
    (recursively; items of a PodList may omit apiVersion and kind)."""
    if not isinstance(doc, Mapping):
        raise FieldDecodeError(path, "a manifest must be an object (a YAML mapping)")
    if not _is_list(doc):
        yield doc, path
        return
    f = Fields(doc, path)
    item_kind = doc["kind"][: -len("List")]
    for item, item_path in f.elements("items"):
        if isinstance(item, Mapping) and item_kind and "kind" not in item:
            item = {"apiVersion": doc.get("apiVersion"), "kind": item_kind, **item}
        yield from _expand(item, item_path)


def objects_from_document(
    doc: Any, source: str = "<string>", index: int | None = None
) -> tuple[Object, ...]:
    """The validated objects in one parsed document (several for a List)."""
    try:
        plain = _plain(doc, "", [_MAX_VALUES])
        out = []
        for item, path in _expand(plain, ""):
            obj = _decode(item, path)
            for error in validate(obj):
                raise ManifestError(source, index, child(path, error.path), error.message)
            out.append(obj)
        return tuple(out)
    except FieldDecodeError as err:
        raise ManifestError(source, index, err.path, err.message) from None
    except RecursionError:
        raise ManifestError(source, index, "", "document nested too deeply") from None


def from_manifest(doc: Any, source: str = "<string>", index: int | None = None) -> Object:
    """The validated object a single (non-List) manifest document describes."""
    objects = objects_from_document(doc, source, index)
    if len(objects) != 1 or (isinstance(doc, Mapping) and _is_list(doc)):
        raise ManifestError(source, index, "", "expected one object, not a List")
    return objects[0]


def load_text(
    text: str | bytes, source: str = "<string>", *, as_json: bool = False
) -> tuple[Object, ...]:
    """Every object in a YAML (or, with ``as_json``, JSON) text, in order."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            raise ManifestError(source, None, "", f"not UTF-8 text: {err.reason}") from None
    out: list[Object] = []
    try:
        for position, doc in _documents(text, source, as_json):
            out.extend(objects_from_document(doc, source, position))
    except RecursionError:
        raise ManifestError(source, None, "", "document nested too deeply") from None
    return tuple(out)


def load_manifests(path: str | os.PathLike) -> tuple[Object, ...]:
    """Every object in one file (.yaml, .yml or .json)."""
    source = str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ManifestError(source, None, "", "no such file") from None
    except IsADirectoryError:
        raise ManifestError(source, None, "", "is a directory (use load_paths)") from None
    except OSError as err:
        raise ManifestError(source, None, "", f"cannot read: {err.strerror}") from None
    return load_text(data, source, as_json=Path(path).suffix.lower() == ".json")


def _manifest_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(
            p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in MANIFEST_SUFFIXES
        )
    return [path]


def load_paths(paths: Iterable[str | os.PathLike]) -> tuple[Object, ...]:
    """Every object in files and directories (walked in sorted order; .yaml, .yml, .json)."""
    out: list[Object] = []
    for path in paths:
        if not Path(path).exists():
            raise ManifestError(str(path), None, "", "no such file or directory")
        for file in _manifest_files(Path(path)):
            out.extend(load_manifests(file))
    return tuple(out)


# --- objects to documents ------------------------------------------------------------------


def to_manifest(obj: Object) -> dict:
    """The object as a manifest ``kubectl apply`` accepts: the raw document it was read from,
    with the model's fields laid over it (so the fields the model does not use survive)."""
    raw = thaw(obj.raw) if obj.raw else {}
    if raw:
        try:
            if _decode(raw, "") == obj:
                return raw  # unchanged since it was read: keep it exactly as written
        except (FieldDecodeError, RecursionError):
            pass
    if isinstance(obj, GenericObject):
        out = {"apiVersion": obj.api_version, "kind": obj.kind}
        out["metadata"] = encode_meta(obj.metadata, dict(raw.get("metadata") or {}))
        out.update(thaw(obj.body))
        return out
    out = {"apiVersion": obj.API_VERSION, "kind": obj.KIND}
    out.update((k, v) for k, v in raw.items() if k not in ("apiVersion", "kind"))
    return _ENCODERS[type(obj)](obj, out)


def dump_objects(objects: Iterable[Object]) -> str:
    """Multi-document YAML, ``---`` between documents, keys in a stable order."""
    return "---\n".join(
        yaml.dump(
            to_manifest(obj),
            Dumper=_Dumper,
            sort_keys=False,
            default_flow_style=False,
            allow_unicode=True,
            width=4096,
        )
        for obj in objects
    )
