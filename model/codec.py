"""Field-level conversion between manifest JSON (camelCase) and the model's dataclasses.

Decoding walks a parsed document with :class:`Fields`, which knows the manifest path of every
value, so a wrong type is reported where it is (``spec.replicas: must be an integer``). Encoding
starts from the raw document's sub-object (``base``) and sets or removes only the keys the model
owns, so the fields the model does not use survive a load and dump. Used by :mod:`manifests`.

>>> meta = decode_meta(Fields({"name": "web", "labels": {"app": "web"}}, "metadata"))
>>> meta.name, dict(meta.labels), encode_meta(meta, {"uid": "u1"})["labels"]
('web', {'app': 'web'}, {'app': 'web'})
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from kubeproof.model.errors import QuantityError
from kubeproof.model.objects import (
    Condition,
    FrozenMap,
    LabelSelector,
    LabelSelectorRequirement,
    ObjectMeta,
    OwnerReference,
)
from kubeproof.model.quantity import parse_quantity

__all__ = [
    "FieldDecodeError",
    "Fields",
    "base_of",
    "child",
    "decode_conditions",
    "decode_label_selector",
    "decode_meta",
    "encode_conditions",
    "encode_label_selector",
    "encode_meta",
    "encode_resources",
    "encode_time",
    "index",
    "merge_by_key",
    "parse_time",
    "put",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class FieldDecodeError(Exception):
    """A value of the wrong type at ``path``; :mod:`manifests` turns it into a ManifestError."""

    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


def _json_type(value: Any) -> str:
    """How a JSON value is called in an error message ("a list", "a string" ...)."""
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    return "a number" if isinstance(value, int | float) else "null"


def child(path: str, key: str) -> str:
    """The path of field ``key`` below ``path``."""
    return f"{path}.{key}" if path else key


def index(path: str, i: int) -> str:
    """The path of element ``i`` of the list at ``path``."""
    return f"{path}[{i}]"


def parse_time(value: Any, path: str) -> int:
    """An RFC 3339 timestamp (metav1.Time, or MicroTime) as whole seconds since the epoch."""
    if not isinstance(value, str):
        raise FieldDecodeError(path, "must be an RFC 3339 timestamp string")
    text = value.strip()
    try:
        if "T" not in text.upper():
            raise ValueError(text)
        parsed = datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError:
        raise FieldDecodeError(
            path, f'invalid timestamp "{value}": must be RFC 3339, e.g. 2024-01-02T03:04:05Z'
        ) from None
    if parsed.tzinfo is None:
        raise FieldDecodeError(path, f'invalid timestamp "{value}": a time zone is required')
    # Whole seconds, as the model's clock ticks; fractions (MicroTime) are truncated toward -inf.
    return math.floor((parsed - _EPOCH).total_seconds())


def encode_time(seconds: int, *, micro: bool = False) -> str:
    """Seconds since the epoch as RFC 3339 (``micro``: with six fraction digits, as MicroTime)."""
    moment = _EPOCH + timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000000Z" if micro else "%Y-%m-%dT%H:%M:%SZ")


class Fields:
    """One JSON object of a manifest being decoded, with its path for error messages."""

    __slots__ = ("data", "path")

    def __init__(self, data: Any, path: str):
        if not isinstance(data, Mapping):
            raise FieldDecodeError(path, f"must be an object, not {_json_type(data)}")
        self.data = data
        self.path = path

    def at(self, key: str) -> str:
        """The path of ``key`` in this object."""
        return child(self.path, key)

    def get(self, key: str) -> Any:
        """The raw value (None when absent or null: Go decodes null to the zero value)."""
        return self.data.get(key)

    def sub(self, key: str) -> Fields | None:
        """The nested object at ``key``, or None."""
        value = self.data.get(key)
        return None if value is None else Fields(value, self.at(key))

    def string(self, key: str, default: str = "") -> str:
        """A string field."""
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, str):
            raise FieldDecodeError(self.at(key), "must be a string")
        return value

    def opt_string(self, key: str) -> str | None:
        """A string field that is a pointer upstream (None when absent)."""
        return None if self.data.get(key) is None else self.string(key)

    def integer(self, key: str, default: int = 0) -> int:
        """An integer field (a float or a quoted number is an error, as in Go's decoder)."""
        value = self.data.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise FieldDecodeError(self.at(key), "must be an integer")
        return value

    def opt_integer(self, key: str) -> int | None:
        """An integer field that is a pointer upstream (None when absent)."""
        return None if self.data.get(key) is None else self.integer(key)

    def boolean(self, key: str, default: bool = False) -> bool:
        """A boolean field."""
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise FieldDecodeError(self.at(key), "must be a boolean")
        return value

    def int_or_string(self, key: str) -> int | str | None:
        """An IntOrString field, kept as the int or the string it is (None when absent)."""
        value = self.data.get(key)
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            raise FieldDecodeError(self.at(key), "must be an integer or a string")
        return value

    def time(self, key: str) -> int | None:
        """An RFC 3339 timestamp field as seconds since the epoch (None when absent)."""
        value = self.data.get(key)
        return None if value is None else parse_time(value, self.at(key))

    def elements(self, key: str) -> Iterator[tuple[Any, str]]:
        """The elements of a list field, each with its path."""
        value = self.data.get(key)
        if value is None:
            return iter(())
        if not isinstance(value, list | tuple):
            raise FieldDecodeError(self.at(key), "must be a list")
        path = self.at(key)
        return ((item, index(path, i)) for i, item in enumerate(value))

    def objects(self, key: str, decode: Callable[[Fields], Any]) -> tuple:
        """A list of objects, each decoded by ``decode``."""
        return tuple(decode(Fields(item, path)) for item, path in self.elements(key))

    def strings(self, key: str) -> tuple[str, ...]:
        """A list of strings."""
        out = []
        for item, path in self.elements(key):
            if not isinstance(item, str):
                raise FieldDecodeError(path, "must be a string")
            out.append(item)
        return tuple(out)

    def string_map(self, key: str) -> FrozenMap:
        """A map of strings to strings (labels, annotations, nodeSelector)."""
        value = self.sub(key)
        if value is None:
            return FrozenMap()
        for name, item in value.data.items():
            if not isinstance(item, str):
                raise FieldDecodeError(f"{value.path}[{name}]", "must be a string")
        return FrozenMap(value.data)

    def resources(self, key: str) -> FrozenMap:
        """A resource list (requests, limits, capacity ...) as FrozenMap[str, Quantity]."""
        value = self.sub(key)
        if value is None:
            return FrozenMap()
        out = {}
        for name, item in value.data.items():
            path = f"{value.path}[{name}]"
            # upstream: resource.Quantity.UnmarshalJSON takes a string or a bare JSON number.
            if isinstance(item, bool) or not isinstance(item, str | int | float):
                raise FieldDecodeError(path, "must be a quantity (a string or a number)")
            try:
                out[name] = parse_quantity(item)
            except QuantityError as err:
                raise FieldDecodeError(path, str(err)) from None
        return FrozenMap(out)


# --- encoding helpers ---------------------------------------------------------------------


def put(doc: dict, key: str, value: Any, omit: bool = False) -> None:
    """Set ``doc[key]``, or remove it when ``omit`` (the model's value is the default)."""
    if omit:
        doc.pop(key, None)
    else:
        doc[key] = value


def base_of(doc: Any, key: str | None = None) -> dict:
    """A fresh copy of the raw sub-object to encode over ({} when absent or not an object)."""
    value = doc.get(key) if (key is not None and isinstance(doc, Mapping)) else doc
    return dict(value) if isinstance(value, Mapping) else {}


def merge_by_key(
    raw: Any, items: tuple, key: Callable[[Any], str], raw_key: str, encode: Callable
) -> list:
    """Encode ``items`` each over the raw element with the same key (containers by name,
    conditions by type), so the fields the model does not use in them survive."""
    by_key = {}
    if isinstance(raw, list | tuple):
        for element in raw:
            if isinstance(element, Mapping) and element.get(raw_key) is not None:
                by_key.setdefault(element.get(raw_key), element)
    return [encode(item, base_of(by_key.get(key(item)))) for item in items]


def encode_resources(resources: FrozenMap, raw: Any) -> dict:
    """A resource list; a raw spelling of an equal quantity ("0.5" for 500m) is kept."""
    out = {}
    raw = raw if isinstance(raw, Mapping) else {}
    for name, quantity in resources.items():
        spelled = raw.get(name)
        try:
            same = (
                isinstance(spelled, str | int | float)
                and not isinstance(spelled, bool)
                and parse_quantity(spelled) == quantity
            )
        except (QuantityError, ValueError, ArithmeticError):
            same = False
        out[name] = spelled if same else str(quantity)
    return out


# --- metadata ------------------------------------------------------------------------------


def decode_owner_reference(f: Fields) -> OwnerReference:
    """metav1.OwnerReference."""
    return OwnerReference(
        api_version=f.string("apiVersion"),
        kind=f.string("kind"),
        name=f.string("name"),
        uid=f.string("uid"),
        controller=f.boolean("controller"),
        block_owner_deletion=f.boolean("blockOwnerDeletion"),
    )


def encode_owner_reference(ref: OwnerReference, base: dict) -> dict:
    """metav1.OwnerReference as JSON."""
    base.update(apiVersion=ref.api_version, kind=ref.kind, name=ref.name, uid=ref.uid)
    put(base, "controller", True, not ref.controller)
    put(base, "blockOwnerDeletion", True, not ref.block_owner_deletion)
    return base


def decode_meta(f: Fields | None) -> ObjectMeta:
    """metav1.ObjectMeta."""
    if f is None:
        return ObjectMeta()
    return ObjectMeta(
        name=f.string("name"),
        namespace=f.string("namespace"),
        generate_name=f.string("generateName"),
        uid=f.string("uid"),
        resource_version=f.string("resourceVersion"),
        generation=f.integer("generation"),
        creation_timestamp=f.time("creationTimestamp"),
        deletion_timestamp=f.time("deletionTimestamp"),
        deletion_grace_period_seconds=f.opt_integer("deletionGracePeriodSeconds"),
        labels=f.string_map("labels"),
        annotations=f.string_map("annotations"),
        owner_references=f.objects("ownerReferences", decode_owner_reference),
        finalizers=f.strings("finalizers"),
    )


def encode_meta(meta: ObjectMeta, base: dict) -> dict:
    """metav1.ObjectMeta as JSON, over the raw metadata (managedFields etc. are kept)."""
    put(base, "name", meta.name, not meta.name)
    put(base, "generateName", meta.generate_name, not meta.generate_name)
    put(base, "namespace", meta.namespace, not meta.namespace)
    put(base, "uid", meta.uid, not meta.uid)
    put(base, "resourceVersion", meta.resource_version, not meta.resource_version)
    put(base, "generation", meta.generation, not meta.generation)
    for key, value in (
        ("creationTimestamp", meta.creation_timestamp),
        ("deletionTimestamp", meta.deletion_timestamp),
    ):
        put(base, key, None if value is None else encode_time(value), value is None)
    grace = meta.deletion_grace_period_seconds
    put(base, "deletionGracePeriodSeconds", grace, grace is None)
    put(base, "labels", dict(meta.labels), not meta.labels)
    put(base, "annotations", dict(meta.annotations), not meta.annotations)
    refs = [encode_owner_reference(ref, {}) for ref in meta.owner_references]
    put(base, "ownerReferences", refs, not refs)
    put(base, "finalizers", list(meta.finalizers), not meta.finalizers)
    return base


def decode_conditions(f: Fields, key: str = "conditions") -> tuple[Condition, ...]:
    """A status's conditions (the type/status/reason/message/lastTransitionTime the model uses)."""

    def one(c: Fields) -> Condition:
        return Condition(
            type=c.string("type"),
            status=c.string("status"),
            reason=c.string("reason"),
            message=c.string("message"),
            last_transition_time=c.time("lastTransitionTime"),
        )

    return f.objects(key, one)


def encode_conditions(conditions: tuple[Condition, ...], raw: Any) -> list:
    """Conditions as JSON, merged by type with the raw ones (lastProbeTime etc. survive)."""

    def one(c: Condition, base: dict) -> dict:
        base.update(type=c.type, status=c.status)
        put(base, "reason", c.reason, not c.reason)
        put(base, "message", c.message, not c.message)
        t = c.last_transition_time
        put(base, "lastTransitionTime", None if t is None else encode_time(t), t is None)
        return base

    return merge_by_key(raw, conditions, lambda c: c.type, "type", one)


# --- label selectors -----------------------------------------------------------------------


def decode_label_selector(f: Fields | None) -> LabelSelector | None:
    """metav1.LabelSelector (None when absent)."""
    if f is None:
        return None

    def requirement(r: Fields) -> LabelSelectorRequirement:
        return LabelSelectorRequirement(
            key=r.string("key"), operator=r.string("operator"), values=r.strings("values")
        )

    return LabelSelector(
        match_labels=f.string_map("matchLabels"),
        match_expressions=f.objects("matchExpressions", requirement),
    )


def encode_requirement(r: Any) -> dict:
    """A label or node selector requirement as JSON."""
    out = {"key": r.key, "operator": r.operator}
    put(out, "values", list(r.values), not r.values)
    return out


def encode_label_selector(selector: LabelSelector, base: dict | None = None) -> dict:
    """metav1.LabelSelector as JSON."""
    out = dict(base or {})
    put(out, "matchLabels", dict(selector.match_labels), not selector.match_labels)
    expressions = [encode_requirement(r) for r in selector.match_expressions]
    put(out, "matchExpressions", expressions, not expressions)
    return out
