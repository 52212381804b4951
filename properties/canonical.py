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
seen (states share structure: a step changes a few objects); it also remembers each state's
key by the identity of its fields, the components map's entries in place of the map, so a
state rebuilt around the same objects (the same steps taken in another order, whose results
model/memo.py shares) costs a lookup. Two inequivalent states share a
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
from collections.abc import Callable
from dataclasses import fields, is_dataclass
from functools import cache, lru_cache
from operator import attrgetter
from typing import Any

from kubeproof.model.apiserver.server import suffix_counter
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


@lru_cache(maxsize=1 << 18)
def _string(s: str) -> Canon:
    """A string with its uid counters (``uid-N``, generated suffixes) made placeholders: the
    hash of the text around them and their local indices, and the counters in order."""
    if "-" not in s:
        return hash(s), _NONE, _NONE
    spans = [(m.start(), m.end(), int(m.group(1))) for m in _UID.finditer(s)]
    for m in _SUFFIX.finditer(s):
        n = suffix_counter(m.group(1))
        if (
            n is not None
            and 0 < n < _MAX_SUFFIXES
            and not any(a <= m.start(1) < b for a, b, _ in spans)
        ):
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
def _plan(cls: type) -> tuple[tuple[tuple[str, bool], ...], Callable[[Any], tuple]]:
    """The fields of a dataclass to walk, whether each holds a revision, and a function
    returning their values."""
    plan = tuple(
        (f.name, f.name in _REVISION_FIELDS)
        for f in fields(cls)
        if f.compare and f.name not in _SKIPPED_FIELDS
    )
    names = [name for name, _ in plan]
    values = attrgetter(*names) if len(names) > 1 else lambda x: tuple(getattr(x, n) for n in names)
    return plan, values


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
        self._states: dict[tuple, tuple[tuple, int]] = {}

    def key(self, state) -> int:
        """The key of ``state``'s equivalence class (see the module docstring)."""
        # A step rebuilds the state and the map it changed (the components) around the same
        # objects; so the key is taken over the state's fields with each map's entries in
        # place of the map, and remembered by the identity of those (held with the key, so
        # no other object can have their ids): the same objects as a state met before, the
        # same key.
        t = type(state)
        plan, values = _plan(t)
        parts = values(state)
        sig: list[Any] = [t]
        for v in parts:
            if type(v) is FrozenMap:
                sig.append(len(v))
                sig += map(id, v)
                sig += map(id, v.values())
            else:
                sig.append(id(v))
        sig = tuple(sig)
        seen = self._states.get(sig)
        if seen is not None:
            return seen[1]
        forms: list[Canon] = []
        cache, node = self._cache, self._node
        shape: list[int] = []  # per field: a map's number of entries, or -1
        for (_, is_revision), v in zip(plan, parts, strict=True):
            if type(v) is not FrozenMap:
                shape.append(-1)
                c = _revision(v) if is_revision else None
                forms.append(c if c is not None else node(v))
                continue
            shape.append(len(v))
            for k, x in v.items():
                forms.append(_string(k) if type(k) is str else node(k))
                entry = cache.get(id(x))
                forms.append(entry[1] if entry is not None and entry[0] is x else node(x))
        h, _, revisions = _combine((t, *shape), forms)
        top = state.api.store.revision
        # a uniform shift: the store's own revision becomes 0, older ones count up (never
        # negative: CPython hashes -1 and -2 alike)
        key = hash((h, tuple([top - r for r in revisions])))
        if len(self._states) >= self.limit:
            self._states.clear()
        self._states[sig] = (parts, key)  # held: the maps hold the entries ``sig`` names
        return key

    def _node(self, x: Any) -> Canon:
        t = type(x)
        if t is str:
            return _string(x)
        if t is int or t is bool or x is None or t is float:
            # CPython hashes -1 as -2: keep the two apart
            return hash((t, x, x == -1)), _NONE, _NONE
        cache = self._cache
        entry = cache.get(id(x))
        if entry is not None and entry[0] is x:
            return entry[1]
        node = self._node
        children = []
        append = children.append
        if t is tuple:
            for v in x:
                entry = cache.get(id(v))
                append(entry[1] if entry is not None and entry[0] is v else node(v))
        elif t is FrozenMap or t is dict:
            for k, v in x.items():
                append(_string(k) if type(k) is str else node(k))
                entry = cache.get(id(v))
                append(entry[1] if entry is not None and entry[0] is v else node(v))
        elif t is frozenset:
            children = sorted((node(v) for v in x), key=lambda c: c[0])
        elif is_dataclass(x):
            for name, is_revision in _plan(t)[0]:
                v = getattr(x, name)
                c = _revision(v) if is_revision else None
                if c is None:
                    entry = cache.get(id(v))
                    c = entry[1] if entry is not None and entry[0] is v else node(v)
                append(c)
        else:
            return hash(x), _NONE, _NONE  # a user's value: kept as it is (no renaming)
        result = _combine(t, children)
        if len(cache) >= self.limit:
            cache.clear()
        cache[id(x)] = (x, result)
        return result


def _combine(t: Any, children: list[Canon]) -> Canon:
    uids: dict[int, int] = {}
    revisions: dict[int, int] = {}
    parts: list[Any] = [t]
    append = parts.append
    for h, u, r in children:
        if u:
            um = tuple([uids.setdefault(n, len(uids)) for n in u])
            rm = tuple([revisions.setdefault(n, len(revisions)) for n in r]) if r else r
            append((h, um, rm))
        elif r:
            append((h, u, tuple([revisions.setdefault(n, len(revisions)) for n in r])))
        else:
            append(h)
    return hash(tuple(parts)), tuple(uids), tuple(revisions)


def canonical_key(state) -> int:
    """The key of ``state``'s equivalence class (a fresh :class:`Canonicalizer`)."""
    return Canonicalizer().key(state)
