"""Canonical forms of cluster states: equivalent states get one key in the exhaustive search.

Two states are equivalent when one becomes the other by renaming what the api-server invents:

- **uids and generated names.** ``uid-N`` and the five-character ``generateName`` suffix derived
  from the same counter N (``server.generated_suffix``) are renamed ``#0``, ``#1``, ... in order of
  first appearance in a fixed walk of the state (etcd's keys, its history, then each component).
  Upstream both are random, so behaviour that depends on which uid or name an object got is
  behaviour upstream can show with either; the model's choice stands for one of them.
  ``next_uid`` is left out: the next uid is fresh in both states.
- **revisions.** Every etcd revision (the store's revision and compact revision, each key's
  create and mod revision, every informer's and every object's resourceVersion) is shifted by
  the store's current revision. Only order, equality and "the next one" of revisions matter, and
  a uniform shift keeps all three. 0 (never listed, no resourceVersion) and negative values
  (the fresh store's compact revision -1) are kept apart from shifted ones.

Everything else is kept as it is, including the order of a FrozenMap's entries (equal maps
may iterate differently, and iteration order can steer a controller), so the key is never
coarser than the states' own equality except for the renamings above.

Timestamps are *not* renamed: the model does arithmetic on them (a timer due at now + 300, a
grace period, a Lease's renew time against the clock), so renaming timestamps in order would
merge states with different futures; the only sound renaming is a uniform shift, and every
timestamp would have to be found for that (components keep them in memory under many names).

The key is a 64-bit hash of the renamed structure, built bottom-up (Merkle style) so that
a :class:`Canonicalizer` reuses the work for every sub-object a state shares with states it has
seen (states share structure: a step changes a few objects). Two inequivalent states share a
key with probability about n²/2⁶⁵ among n states (3·10⁻⁸ at a million). The search explores
the real states; the key only decides whether a state was seen.

>>> from kubeproof.model.scenarios import scenario
>>> from kubeproof.model.cluster import enabled, step
>>> s = scenario("journey").initial_state()
>>> a, b = enabled(s)[:2]  # two kubelets list: in either order, the same state
>>> c = Canonicalizer()
>>> c.key(step(step(s, a), b)) == c.key(step(step(s, b), a)) != c.key(s)
True
"""

from __future__ import annotations

import re
from dataclasses import fields, is_dataclass
from functools import cache, lru_cache
from typing import Any

from kubeproof.model.apiserver.server import generated_suffix
from kubeproof.model.objects import FrozenMap

__all__ = ["Canonicalizer", "canonical_key"]

# fields holding etcd revisions (as int, or as a resourceVersion string)
_REVISION_FIELDS = frozenset(
    {"revision", "compact_revision", "create_revision", "mod_revision", "resource_version"}
)
# fields that are not part of a state's identity
_SKIPPED_FIELDS = frozenset({"raw", "controllers", "_hash", "next_uid"})
_UID = re.compile(r"uid-(\d+)")
_SUFFIX = re.compile(r"-([0-9a-z]{5})(?![0-9a-z])")
_MAX_SUFFIXES = 1 << 16  # generated names are recognised for uid counters below this
_REVISION = object()  # the marker of a revision leaf
_NONE: tuple = ()

Canon = tuple[int, tuple[int, ...], tuple[int, ...]]  # (hash, uid counters, revisions)


@lru_cache(maxsize=1)
def _suffix_table() -> dict[str, int]:
    return {generated_suffix(n): n for n in range(1, _MAX_SUFFIXES)}


@lru_cache(maxsize=1 << 18)
def _string(s: str) -> Canon:
    """A string with its uid counters (``uid-N``, generated suffixes) made placeholders: the
    hash of the text around them and their local indices, and the counters in order."""
    if "-" not in s:
        return hash(s), _NONE, _NONE
    spans = [(m.start(), m.end(), int(m.group(1))) for m in _UID.finditer(s)]
    table = _suffix_table()
    for m in _SUFFIX.finditer(s):
        n = table.get(m.group(1))
        if n is not None and not any(a <= m.start(1) < b for a, b, _ in spans):
            spans.append((m.start(1), m.end(1), n))
    if not spans:
        return hash(s), _NONE, _NONE
    spans.sort()
    local: dict[int, int] = {}
    parts: list[Any] = []
    at = 0
    for start, end, n in spans:
        parts.append(s[at:start])
        parts.append(local.setdefault(n, len(local)))
        at = end
    parts.append(s[at:])
    return hash(tuple(parts)), tuple(local), _NONE


@cache
def _plan(cls: type) -> tuple[tuple[str, bool], ...]:
    """The fields of a dataclass to walk, and whether each holds a revision."""
    return tuple(
        (f.name, f.name in _REVISION_FIELDS)
        for f in fields(cls)
        if f.compare and f.name not in _SKIPPED_FIELDS
    )


def _revision(value: Any) -> Canon | None:
    if type(value) is str:
        if not value.isdigit():
            return None
        value = int(value)
    if type(value) is int and value > 0:
        return hash(_REVISION), _NONE, (value,)
    return None  # 0, "", None, -1: not a revision, kept as it is


class Canonicalizer:
    """Canonical keys of states, remembering the canonical form of every sub-object it has
    met (by identity, holding a reference so identities are not reused) up to ``limit``
    entries, then starting afresh."""

    def __init__(self, limit: int = 1 << 21) -> None:
        self.limit = limit
        self._cache: dict[int, tuple[Any, Canon]] = {}

    def key(self, state) -> int:
        """The key of ``state``'s equivalence class (see the module docstring)."""
        h, _, revisions = self._node(state)
        top = state.api.store.revision
        # a uniform shift: the store's own revision becomes 0, older ones count up (never
        # negative: CPython hashes -1 and -2 alike)
        return hash((h, tuple([top - r for r in revisions])))

    def _node(self, x: Any) -> Canon:
        t = type(x)
        if t is str:
            return _string(x)
        if t is int or t is bool or x is None or t is float:
            # CPython hashes -1 as -2: keep the two apart
            return hash((t, x, x == -1)), _NONE, _NONE
        entry = self._cache.get(id(x))
        if entry is not None and entry[0] is x:
            return entry[1]
        if t is tuple:
            children = [self._node(v) for v in x]
        elif t is FrozenMap or t is dict:
            children = []
            for k, v in x.items():
                children.append(self._node(k))
                children.append(self._node(v))
        elif t is frozenset:
            children = sorted((self._node(v) for v in x), key=lambda c: c[0])
        elif is_dataclass(x):
            children = []
            for name, is_revision in _plan(t):
                v = getattr(x, name)
                c = _revision(v) if is_revision else None
                children.append(c if c is not None else self._node(v))
        else:
            return hash(x), _NONE, _NONE  # a user's value: kept as it is (no renaming)
        result = _combine(t, children)
        if len(self._cache) >= self.limit:
            self._cache.clear()
        self._cache[id(x)] = (x, result)
        return result


def _combine(t: type, children: list[Canon]) -> Canon:
    uids: dict[int, int] = {}
    revisions: dict[int, int] = {}
    parts: list[Any] = [t]
    for h, u, r in children:
        if not u and not r:
            parts.append(h)
            continue
        um = tuple([uids.setdefault(n, len(uids)) for n in u])
        rm = tuple([revisions.setdefault(n, len(revisions)) for n in r])
        parts.append((h, um, rm))
    return hash(tuple(parts)), tuple(uids), tuple(revisions)


def canonical_key(state) -> int:
    """The key of ``state``'s equivalence class (a fresh :class:`Canonicalizer`)."""
    return Canonicalizer().key(state)
