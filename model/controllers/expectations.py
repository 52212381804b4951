"""What a controller remembers between syncs so that it does not act twice on a stale cache.

Two memory-only stores of kube-controller-manager, as immutable values with pure updates:

- **expectations** (``UIDTrackingControllerExpectations``): per owner key, how many creations and
  deletions it still expects its informer to report, the pod keys it expects deleted, and when it
  set them. A sync only acts when they are satisfied: no record, both counters at or below zero,
  or the record older than five minutes. Counters only go down; a deletion counts only for a
  pod key in the expected set, once, so a graceful delete and the final delete count once.
- **the consistency store** (KEP-5647, ``StaleControllerConsistency*``, beta in v1.36): per owner
  key, the resourceVersion of the controller's own last write to each resource; a sync waits
  until every such informer has synced at least that far.

Both are lost on a crash, as upstream.

upstream: pkg/controller/controller_utils.go (ControllerExpectations,
UIDTrackingControllerExpectations, ExpectationsTimeout), pkg/controller/util/consistency/
consistency.go (RealConsistencyStore: WroteAt, EnsureReady, Clear).

>>> e = expect_creations(Expectations(), "default/web", 2, now=0)
>>> satisfied(e, "default/web", now=10)
False
>>> e = creation_observed(creation_observed(e, "default/web"), "default/web")
>>> satisfied(e, "default/web", now=10), satisfied(expect_creations(e, "k", 1, 0), "k", now=301)
(True, True)
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from kubeproof.model.objects import EMPTY, FrozenMap

__all__ = [
    "EXPECTATIONS_TIMEOUT",
    "Expectation",
    "Expectations",
    "Written",
    "clear_written",
    "creation_observed",
    "delete_expectations",
    "deletion_observed",
    "expect_creations",
    "expect_deletions",
    "ready",
    "satisfied",
    "wrote_at",
]

# upstream: controller_utils.go ExpectationsTimeout = 5 * time.Minute
EXPECTATIONS_TIMEOUT = 300


@dataclass(frozen=True, slots=True)
class Expectation:
    """ControlleeExpectations: creations and deletions still expected, and when set."""

    add: int
    delete: int
    timestamp: int


@dataclass(frozen=True, slots=True)
class Expectations:
    """Every owner's record, and the pod keys each expects to see deleted (the uidStore)."""

    records: FrozenMap = EMPTY  # owner key -> Expectation
    deleting: FrozenMap = EMPTY  # owner key -> frozenset of pod keys


def satisfied(e: Expectations, key: str, now: int) -> bool:
    """SatisfiedExpectations: no record, fulfilled (both <= 0), or expired (> 5 minutes)."""
    record = e.records.get(key)
    if record is None:
        return True  # a new owner, or its expectations were deleted
    if record.add <= 0 and record.delete <= 0:
        return True
    return now - record.timestamp > EXPECTATIONS_TIMEOUT


def expect_creations(e: Expectations, key: str, adds: int, now: int) -> Expectations:
    """ExpectCreations: a fresh record (SetExpectations replaces any old one)."""
    return replace(e, records=e.records.set(key, Expectation(adds, 0, now)))


def expect_deletions(
    e: Expectations, key: str, pod_keys: tuple[str, ...], now: int
) -> Expectations:
    """UIDTrackingControllerExpectations.ExpectDeletions: the pod keys (clobbering any
    earlier set) and a fresh record expecting that many deletions."""
    keys = frozenset(pod_keys)
    return Expectations(
        e.records.set(key, Expectation(0, len(keys), now)), e.deleting.set(key, keys)
    )


def _lower(e: Expectations, key: str, adds: int, deletes: int) -> Expectations:
    # upstream: LowerExpectations: only an existing record, and it may go below zero
    record = e.records.get(key)
    if record is None:
        return e
    lowered = replace(record, add=record.add - adds, delete=record.delete - deletes)
    return replace(e, records=e.records.set(key, lowered))


def creation_observed(e: Expectations, key: str) -> Expectations:
    """CreationObserved: one expected creation fewer."""
    return _lower(e, key, 1, 0)


def deletion_observed(e: Expectations, key: str, pod_key: str) -> Expectations:
    """UIDTrackingControllerExpectations.DeletionObserved: counts only a pod key that is
    expected, and forgets it, so a second report of the same deletion counts nothing."""
    keys = e.deleting.get(key, frozenset())
    if pod_key not in keys:
        return e
    e = _lower(e, key, 0, 1)
    return replace(e, deleting=e.deleting.set(key, keys - {pod_key}))


def delete_expectations(e: Expectations, key: str) -> Expectations:
    """DeleteExpectations: the owner is gone; forget its record and its pod keys."""
    return Expectations(e.records.without(key), e.deleting.without(key))


# --- the consistency store (KEP-5647) ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Written:
    """ownerRecord: the owner's uid and, per resource, the newest resourceVersion it wrote."""

    uid: str
    versions: FrozenMap = EMPTY  # resource -> revision


def wrote_at(store: FrozenMap, key: str, uid: str, resource: str, rv: int) -> FrozenMap:
    """WroteAt: remember a write's resourceVersion if it is the owner's newest for the
    resource; a record of another uid (an owner deleted and recreated) starts afresh."""
    record = store.get(key)
    if record is None or record.uid != uid:
        record = Written(uid)
    if resource in record.versions and record.versions[resource] >= rv:
        return store.set(key, record)
    return store.set(key, replace(record, versions=record.versions.set(resource, rv)))


def clear_written(store: FrozenMap, key: str, uid: str = "") -> FrozenMap:
    """Clear: forget the owner's record if its uid matches (any uid when ``uid`` is empty)."""
    record = store.get(key)
    if record is not None and (not uid or record.uid == uid):
        return store.without(key)
    return store


def ready(store: FrozenMap, key: str, revisions: FrozenMap) -> tuple[bool, FrozenMap]:
    """EnsureReady: whether every informer has synced at least to the owner's last write to
    its resource, and the store (the record is dropped once it is ready)."""
    record = store.get(key)
    if record is None:
        return True, store
    for resource, wrote in record.versions.items():
        read = revisions.get(resource)
        if read is None:  # no informer for it: upstream skips a resource with no store
            continue
        if wrote > read:
            return False, store
    return True, clear_written(store, key, record.uid)
