"""etcd's v3 MVCC key-value store as pure functions over an immutable, hashable value.

A :class:`Store` is the whole state of one etcd server's key space: the current revision, the
compact revision, the live keys and the history of changes since the last compaction. Requests
and responses are frozen dataclasses; :func:`apply` is the one step function
``(store, request) -> (store, response | EtcdError)``, pure and deterministic, and the other
functions are conveniences over it. Values are any hashable Python value (str in the
conformance tests, frozen dataclasses in the api-server); keys are str, ordered as etcd orders
their UTF-8 bytes (Python's code-point order is the same order).

The rules follow etcd 3.4 (the version the conformance tests run against, see
tests/conformance/) and are cited where they are taken from: revisions, versions, txn compares
and nested response headers, duplicate-key checks, compaction boundaries and watch replay.

>>> s = Store()
>>> s, r = put(s, "/a", "1")
>>> r.header_revision, s.revision
(2, 2)
>>> s, r = put(s, "/a", "2", prev_kv=True)
>>> r.prev_kv.value, r.prev_kv.mod_revision
('1', 2)
>>> s, r = txn(s, (Compare("/a", "MOD", "EQUAL", 3),), (Put("/b", "x"),), ())
>>> r.succeeded, r.header_revision
(True, 4)
>>> range_(s, "/", prefix_end("/")).count
2
>>> range_(s, "/a", revision=2).kvs[0].value
'1'
>>> s, _ = compact(s, 3)
>>> range_(s, "/a", revision=2)
EtcdError(code=11, message='etcdserver: mvcc: required revision has been compacted')
>>> [(e.type, e.kv.key, e.kv.mod_revision) for e in events_since(s, "/", "\\0", start_revision=3)]
[('PUT', '/a', 3), ('PUT', '/b', 4)]
>>> events_since(s, "/", "\\0", start_revision=2)
Compacted(compact_revision=3)
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from operator import attrgetter
from typing import Literal

__all__ = [
    "GTE_RANGE_END",
    "MAX_TXN_OPS",
    "Compact",
    "CompactResponse",
    "Compacted",
    "Compare",
    "DeleteRange",
    "DeleteRangeResponse",
    "EtcdError",
    "Event",
    "KeyValue",
    "Op",
    "Put",
    "PutResponse",
    "Range",
    "RangeResponse",
    "Request",
    "Response",
    "Store",
    "Txn",
    "TxnResponse",
    "apply",
    "compact",
    "delete_range",
    "events_since",
    "first_event_since",
    "get",
    "kvs_at",
    "prefix_end",
    "put",
    "range_",
    "txn",
]

#: A range_end of "\0" means "every key >= key" (etcd's mkGteRange / isGteRange).
GTE_RANGE_END = "\0"

#: etcd's default --max-txn-ops: a txn may hold at most this many compares, and as many ops
#: in each branch.  # upstream: server/embed/config.go DefaultMaxTxnOps
MAX_TXN_OPS = 128

# Error texts, exactly as etcd's gRPC layer sends them.
# upstream: api/v3rpc/rpctypes/error.go
_COMPACTED = "etcdserver: mvcc: required revision has been compacted"
_FUTURE = "etcdserver: mvcc: required revision is a future revision"
_DUPLICATE_KEY = "etcdserver: duplicate key given in txn request"
_EMPTY_KEY = "etcdserver: key is not provided"
_TOO_MANY_OPS = "etcdserver: too many operations in txn request"
_OUT_OF_RANGE = 11  # gRPC codes.OutOfRange
_INVALID_ARGUMENT = 3  # gRPC codes.InvalidArgument


# --------------------------------------------------------------------------- values


@dataclass(frozen=True, slots=True)
class KeyValue:
    """One key's value and its MVCC metadata (mvccpb.KeyValue).

    ``create_revision`` is the revision of the key's last creation, ``mod_revision`` of its last
    modification, ``version`` counts modifications since creation (a delete resets it to 0).
    In a DELETE event's kv only ``key`` and ``mod_revision`` are set and ``value`` is None.
    """

    key: str
    value: Hashable
    create_revision: int
    mod_revision: int
    version: int
    lease: int = 0


@dataclass(frozen=True, slots=True)
class Event:
    """A watch event (mvccpb.Event): a PUT or a DELETE of one key at ``kv.mod_revision``."""

    type: Literal["PUT", "DELETE"]
    kv: KeyValue
    prev_kv: KeyValue | None = None

    @property
    def is_create(self) -> bool:
        """A PUT that created the key (version 1).  # upstream: client/v3/watch.go IsCreate"""
        return self.type == "PUT" and self.kv.version == 1

    @property
    def revision(self) -> int:
        return self.kv.mod_revision


@dataclass(frozen=True, slots=True)
class EtcdError:
    """A request etcd refuses: the gRPC status code and etcd's own message."""

    code: int
    message: str


@dataclass(frozen=True, slots=True)
class Compacted:
    """A watch whose start revision is below the compact revision: etcd cancels it."""

    compact_revision: int


# --------------------------------------------------------------------------- requests


@dataclass(frozen=True, slots=True)
class Put:
    key: str
    value: Hashable
    prev_kv: bool = False


@dataclass(frozen=True, slots=True)
class DeleteRange:
    """Delete ``key`` (range_end None) or every key in ``[key, range_end)``."""

    key: str
    range_end: str | None = None
    prev_kv: bool = False


@dataclass(frozen=True, slots=True)
class Range:
    """Read ``key`` or ``[key, range_end)`` at ``revision`` (0: the current revision)."""

    key: str
    range_end: str | None = None
    revision: int = 0
    limit: int = 0
    count_only: bool = False
    keys_only: bool = False


@dataclass(frozen=True, slots=True)
class Compare:
    """One txn guard: ``target`` of every key in the range compared with ``operand``.

    ``operand`` is a value for target VALUE and an int for VERSION, CREATE, MOD and LEASE.
    """

    key: str
    target: Literal["VALUE", "VERSION", "CREATE", "MOD", "LEASE"]
    result: Literal["EQUAL", "NOT_EQUAL", "GREATER", "LESS"]
    operand: Hashable
    range_end: str | None = None


@dataclass(frozen=True, slots=True)
class Txn:
    """If every compare holds, run ``success``, else ``failure``; all in one revision."""

    compare: tuple[Compare, ...] = ()
    success: tuple[Op, ...] = ()
    failure: tuple[Op, ...] = ()


@dataclass(frozen=True, slots=True)
class Compact:
    revision: int


Op = Put | DeleteRange | Range | Txn
Request = Put | DeleteRange | Range | Txn | Compact


# --------------------------------------------------------------------------- responses


@dataclass(frozen=True, slots=True)
class PutResponse:
    header_revision: int
    prev_kv: KeyValue | None = None


@dataclass(frozen=True, slots=True)
class DeleteRangeResponse:
    header_revision: int
    deleted: int
    prev_kvs: tuple[KeyValue, ...] = ()


@dataclass(frozen=True, slots=True)
class RangeResponse:
    header_revision: int
    kvs: tuple[KeyValue, ...]
    count: int
    more: bool = False


@dataclass(frozen=True, slots=True)
class TxnResponse:
    header_revision: int
    succeeded: bool
    responses: tuple[Response, ...] = ()


@dataclass(frozen=True, slots=True)
class CompactResponse:
    header_revision: int


Response = PutResponse | DeleteRangeResponse | RangeResponse | TxnResponse | CompactResponse


# --------------------------------------------------------------------------- the store

_KEY = attrgetter("key")
_CHUNK = 32  # history is a tuple of full 32-revision chunks plus a short tail


@dataclass(frozen=True, slots=True)
class Store:
    """One etcd server's key space: immutable, compared and hashed by content.

    ``kvs`` holds the live keys sorted by key. The history holds, for every revision from
    ``max(compact_revision, 2)`` to ``revision``, the events of that revision, each with
    ``prev_kv`` set to the key's value at the revision before (None if it did not exist); it is
    stored as full chunks of 32 revisions plus a tail, so a write copies at most a chunk and
    the list of chunks, never the whole history. A fresh store is at revision 1 with
    compact revision -1 (so ``compact(0)`` is accepted once, as on a fresh etcd).
    """

    revision: int = 1
    compact_revision: int = -1
    kvs: tuple[KeyValue, ...] = ()
    history_chunks: tuple[tuple[tuple[Event, ...], ...], ...] = ()
    history_tail: tuple[tuple[Event, ...], ...] = ()
    # An index, not state: for each bucket (a key up to its third "/", "/registry/pods/"), the
    # last revision that wrote in it, so a watch that is up to date learns so without scanning.
    written: tuple[tuple[str, int], ...] = field(default=(), compare=False, repr=False)
    _hash: int | None = field(default=None, init=False, repr=False, compare=False)

    def __hash__(self) -> int:
        h = self._hash
        if h is None:
            h = hash(
                (
                    self.revision,
                    self.compact_revision,
                    self.kvs,
                    self.history_chunks,
                    self.history_tail,
                )
            )
            object.__setattr__(self, "_hash", h)
        return h

    @property
    def history_start(self) -> int:
        """The first revision whose events are kept (revision 1 has none)."""
        return max(self.compact_revision, 2)

    def events_at(self, revision: int) -> tuple[Event, ...]:
        """The events of one kept revision, prev_kv holding the value at revision - 1."""
        i = revision - self.history_start
        if i < 0 or revision > self.revision:
            raise IndexError(f"revision {revision} is not in the kept history")
        c, j = divmod(i, _CHUNK)
        chunks = self.history_chunks
        return chunks[c][j] if c < len(chunks) else self.history_tail[j]

    def get(self, key: str) -> KeyValue | None:
        """The key's current KeyValue, or None."""
        return _get(self.kvs, key)


def _get(kvs, key: str) -> KeyValue | None:
    i = bisect_left(kvs, key, key=_KEY)
    if i < len(kvs) and kvs[i].key == key:
        return kvs[i]
    return None


def _span(kvs, key: str, range_end: str | None) -> tuple[int, int]:
    """Indices [lo, hi) of ``kvs`` inside the range (key alone, [key, end) or key and above)."""
    lo = bisect_left(kvs, key, key=_KEY)
    if not range_end:  # None or b"": the single key
        return lo, lo + 1 if lo < len(kvs) and kvs[lo].key == key else lo
    if range_end == GTE_RANGE_END:  # upstream: server/etcdserver/apply.go mkGteRange
        return lo, len(kvs)
    hi = bisect_left(kvs, range_end, key=_KEY)
    return lo, max(lo, hi)


def _in_range(k: str, key: str, range_end: str | None) -> bool:
    if not range_end:
        return k == key
    if range_end == GTE_RANGE_END:
        return k >= key
    return key <= k < range_end


def get(store: Store, key: str) -> KeyValue | None:
    """The key's current KeyValue, or None when it does not exist."""
    return _get(store.kvs, key)


def kvs_at(store: Store, revision: int) -> tuple[KeyValue, ...]:
    """Every live key at ``revision`` (compact_revision <= revision <= store.revision).

    Undoes the kept revisions above ``revision``: each event's prev_kv is the key's value at the
    revision before.
    """
    if revision >= store.revision:
        return store.kvs
    if revision < store.compact_revision or revision < 1:
        raise ValueError(f"revision {revision} is compacted or not a revision")
    state = {kv.key: kv for kv in store.kvs}
    for rev in range(store.revision, revision, -1):
        for ev in store.events_at(rev):
            if ev.prev_kv is None:
                state.pop(ev.kv.key, None)
            else:
                state[ev.kv.key] = ev.prev_kv
    return tuple(sorted(state.values(), key=_KEY))


def prefix_end(prefix: str) -> str:
    """The range_end that covers every key starting with ``prefix``.

    Increments the last character that can be incremented and drops what follows; "" (or only
    maximal characters) gives "\\0", every key. On code points, which orders valid UTF-8 strings
    exactly as etcd's byte-wise version does.  # upstream: client/v3/op.go GetPrefixRangeEnd
    """
    for i in range(len(prefix) - 1, -1, -1):
        c = ord(prefix[i])
        if c < 0x10FFFF:
            return prefix[:i] + chr(c + 1)
    return GTE_RANGE_END


# --------------------------------------------------------------------------- writes


class _Write:
    """The working copy of one write request: later ops see earlier writes.

    Internal and short-lived (one apply call); what escapes is a new immutable Store.
    # upstream: server/storage/mvcc/kvstore_txn.go storeTxnWrite
    """

    __slots__ = ("base", "before", "changes", "rev", "work")

    def __init__(self, base: Store):
        self.base = base
        self.rev = base.revision + 1  # every write of this request shares it
        self.work: list[KeyValue] | None = None
        self.before: dict[str, KeyValue | None] = {}  # key -> value at base.revision
        self.changes: list[tuple[str, KeyValue]] = []

    def kvs(self):
        return self.base.kvs if self.work is None else self.work

    def header(self) -> int:
        """The revision reads report: begin + 1 once something changed, else begin."""
        # upstream: server/storage/mvcc/kvstore_txn.go storeTxnWrite.Range
        return self.rev if self.changes else self.base.revision

    def _writable(self) -> list[KeyValue]:
        if self.work is None:
            self.work = list(self.base.kvs)
        return self.work

    def put(self, key: str, value: Hashable) -> KeyValue | None:
        work = self._writable()
        i = bisect_left(work, key, key=_KEY)
        prev = work[i] if i < len(work) and work[i].key == key else None
        if prev is None:
            kv = KeyValue(key, value, self.rev, self.rev, 1)
            work.insert(i, kv)
        else:
            kv = KeyValue(key, value, prev.create_revision, self.rev, prev.version + 1)
            work[i] = kv
        self.before.setdefault(key, prev)
        self.changes.append(("PUT", kv))
        return prev

    def delete(self, key: str, range_end: str | None) -> list[KeyValue]:
        lo, hi = _span(self.kvs(), key, range_end)
        if lo == hi:
            return []
        work = self._writable()
        deleted = work[lo:hi]
        del work[lo:hi]
        for prev in deleted:
            self.before.setdefault(prev.key, prev)
            # A DELETE event's kv carries only the key and the deletion revision.
            # upstream: server/storage/mvcc/watchable_store_txn.go End
            self.changes.append(("DELETE", KeyValue(prev.key, None, 0, self.rev, 0)))
        return deleted

    def commit(self) -> Store:
        base = self.base
        if not self.changes:  # upstream: mvcc only bumps the revision when len(changes) != 0
            return base
        events = tuple(Event(t, kv, self.before[kv.key]) for t, kv in self.changes)
        chunks, tail = base.history_chunks, base.history_tail
        tail = (*tail, events)
        if len(tail) == _CHUNK:
            chunks, tail = (*chunks, tail), ()
        assert self.work is not None
        written = dict(base.written)
        for _, kv in self.changes:
            bucket = _bucket(kv.key)
            if bucket is not None:
                written[bucket] = self.rev
        index = tuple(sorted(written.items()))
        return Store(self.rev, base.compact_revision, tuple(self.work), chunks, tail, index)


# --------------------------------------------------------------------------- reads


def _range(store: Store, w: _Write | None, req: Range) -> RangeResponse | EtcdError:
    """A Range on the committed store (w None) or inside a write txn (w)."""
    current = store.revision if w is None else w.header()
    rev = req.revision
    if rev > 0:
        # upstream: server/storage/mvcc/kvstore_txn.go rangeKeys (future before compacted)
        if rev > store.revision:
            return EtcdError(_OUT_OF_RANGE, _FUTURE)
        if rev < store.compact_revision:
            return EtcdError(_OUT_OF_RANGE, _COMPACTED)
        kvs = kvs_at(store, rev)
    else:
        kvs = store.kvs if w is None else w.kvs()
    lo, hi = _span(kvs, req.key, req.range_end)
    count = hi - lo
    if req.count_only:
        # Counting returns no kvs, so "more" stays false even when count > limit.
        # upstream: server/etcdserver/apply.go Range (more from len(kvs) > limit)
        return RangeResponse(current, (), count, False)
    limit = req.limit
    more = limit > 0 and count > limit
    if more:
        hi = lo + limit
    out = tuple(kvs[lo:hi])
    if req.keys_only:
        out = tuple(
            KeyValue(kv.key, None, kv.create_revision, kv.mod_revision, kv.version, kv.lease)
            for kv in out
        )
    return RangeResponse(current, out, count, more)


def _compare_kv(c: Compare, kv: KeyValue | None) -> bool:
    # upstream: server/etcdserver/txn/txn.go compareKV (a missing key compares as all zeros)
    t = c.target
    if t == "VALUE":
        a, b = kv.value, c.operand  # type: ignore[union-attr]
    elif t == "MOD":
        a, b = (kv.mod_revision if kv else 0), c.operand
    elif t == "CREATE":
        a, b = (kv.create_revision if kv else 0), c.operand
    elif t == "VERSION":
        a, b = (kv.version if kv else 0), c.operand
    elif t == "LEASE":
        a, b = (kv.lease if kv else 0), c.operand
    else:
        raise ValueError(f"unknown compare target {t!r}")
    r = c.result
    if r == "EQUAL":
        return a == b
    if r == "NOT_EQUAL":
        return a != b
    if r == "GREATER":
        return a > b  # type: ignore[operator]
    if r == "LESS":
        return a < b  # type: ignore[operator]
    raise ValueError(f"unknown compare result {r!r}")


def _compare(kvs, c: Compare) -> bool:
    # upstream: server/etcdserver/txn/txn.go applyCompare
    lo, hi = _span(kvs, c.key, c.range_end)
    if lo == hi:
        # "Always fail if comparing a value on a key/keys that doesn't exist"
        return False if c.target == "VALUE" else _compare_kv(c, None)
    return all(_compare_kv(c, kvs[i]) for i in range(lo, hi))


# --------------------------------------------------------------------------- txn checks


def _check_txn_request(t: Txn, max_ops: int) -> EtcdError | None:
    # upstream: server/etcdserver/api/v3rpc/key.go checkTxnRequest, checkRequestOp
    opc = max(len(t.compare), len(t.success), len(t.failure))
    if opc > max_ops:
        return EtcdError(_INVALID_ARGUMENT, _TOO_MANY_OPS)
    for c in t.compare:
        if not c.key:
            return EtcdError(_INVALID_ARGUMENT, _EMPTY_KEY)
    for op in (*t.success, *t.failure):
        if isinstance(op, Txn):
            err = _check_txn_request(op, max_ops - opc)
            if err is not None:
                return err
        elif not op.key:
            return EtcdError(_INVALID_ARGUMENT, _EMPTY_KEY)
    return None


def _affine_less(a: str, b: str) -> bool:
    """String order where "" is above every other string (etcd's StringAffineComparable)."""
    if not a:
        return False
    if not b:
        return True
    return a < b


def _intersects_point(ivs: list[tuple[str, str]], k: str) -> bool:
    point_end = k + "\0"
    return any(_affine_less(b, point_end) and _affine_less(k, e) for b, e in ivs)


class _DuplicateKey(Exception):
    """Raised inside the txn checks when one key is written twice in a branch."""


def _check_intervals(ops: tuple[Op, ...]) -> tuple[set[str], list[tuple[str, str]]]:
    """Puts and delete intervals of one branch; raises _DuplicateKey on an overlap.

    Faithful to etcd, including its quirks: the interval of a delete is [key, range_end) taken
    literally, so a delete with range_end "\\0" (every key >= key) overlaps no put here, and a
    nested txn's puts are checked only against the deletes seen so far.
    # upstream: server/etcdserver/api/v3rpc/key.go checkIntervals
    """
    dels: list[tuple[str, str]] = []
    for op in ops:
        if isinstance(op, DeleteRange):
            dels.append((op.key, op.range_end) if op.range_end else (op.key, op.key + "\0"))
    puts: set[str] = set()
    for op in ops:
        if not isinstance(op, Txn):
            continue
        puts_then, dels_then = _check_intervals(op.success)
        puts_else, dels_else = _check_intervals(op.failure)
        for k in puts_then:
            if k in puts or _intersects_point(dels, k):
                raise _DuplicateKey
            puts.add(k)
        for k in puts_else:
            if (k in puts and k not in puts_then) or _intersects_point(dels, k):
                raise _DuplicateKey
            puts.add(k)
        dels.extend(dels_then)
        dels.extend(dels_else)
    for op in ops:
        if isinstance(op, Put):
            if op.key in puts or _intersects_point(dels, op.key):
                raise _DuplicateKey
            puts.add(op.key)
    return puts, dels


def _path(kvs, t: Txn) -> list[bool]:
    """The branch taken by the txn and by every nested txn on that branch, in request order.

    All compares, nested ones included, are evaluated against the state before the txn runs.
    # upstream: server/etcdserver/txn/txn.go compareToPath
    """
    ok = all(_compare(kvs, c) for c in t.compare)
    path = [ok]
    for op in t.success if ok else t.failure:
        if isinstance(op, Txn):
            path.extend(_path(kvs, op))
    return path


def _check_ranges(store: Store, t: Txn, path: list[bool], i: int) -> tuple[EtcdError | None, int]:
    """Range revisions on the chosen path must be readable at the txn's start.

    # upstream: server/etcdserver/txn/txn.go checkRequests, checkRange
    """
    ops = t.success if path[i] else t.failure
    i += 1
    for op in ops:
        if isinstance(op, Range) and op.revision != 0:
            if op.revision > store.revision:
                return EtcdError(_OUT_OF_RANGE, _FUTURE), i
            if op.revision < store.compact_revision:
                return EtcdError(_OUT_OF_RANGE, _COMPACTED), i
        elif isinstance(op, Txn):
            err, i = _check_ranges(store, op, path, i)
            if err is not None:
                return err, i
    return None, i


def _run_txn(store: Store, w: _Write, t: Txn, path: list[bool], i: int) -> tuple[TxnResponse, int]:
    """Run the chosen branch; nested responses carry etcd's per-op header revisions."""
    # upstream: server/etcdserver/txn/txn.go applyTxn, newTxnResp
    succeeded = path[i]
    i += 1
    responses: list[Response] = []
    for op in t.success if succeeded else t.failure:
        if isinstance(op, Put):
            prev = w.put(op.key, op.value)
            # upstream: kvstore_txn.go storeTxnWrite.Put returns beginRev + 1
            responses.append(PutResponse(w.rev, prev if op.prev_kv else None))
        elif isinstance(op, DeleteRange):
            deleted = w.delete(op.key, op.range_end)
            # upstream: kvstore_txn.go storeTxnWrite.DeleteRange: begin+1 if anything changed
            responses.append(
                DeleteRangeResponse(w.header(), len(deleted), tuple(deleted) if op.prev_kv else ())
            )
        elif isinstance(op, Range):
            r = _range(store, w, op)
            assert not isinstance(r, EtcdError)  # checked by _check_ranges
            responses.append(r)
        else:
            sub, i = _run_txn(store, w, op, path, i)
            responses.append(sub)
    # A nested txn's response header is left empty (revision 0); the top level fills it in.
    return TxnResponse(0, succeeded, tuple(responses)), i


# --------------------------------------------------------------------------- apply


def apply(store: Store, request: Request) -> tuple[Store, Response | EtcdError]:
    """The step function: one request against the store. On error the store is unchanged."""
    t = type(request)
    if t is Put:
        if not request.key:
            return store, EtcdError(_INVALID_ARGUMENT, _EMPTY_KEY)
        w = _Write(store)
        prev = w.put(request.key, request.value)
        # upstream: server/etcdserver/apply.go Put (prev_kv left out for a missing key)
        return w.commit(), PutResponse(w.rev, prev if request.prev_kv else None)
    if t is DeleteRange:
        if not request.key:
            return store, EtcdError(_INVALID_ARGUMENT, _EMPTY_KEY)
        w = _Write(store)
        deleted = w.delete(request.key, request.range_end)
        prev_kvs = tuple(deleted) if request.prev_kv else ()
        return w.commit(), DeleteRangeResponse(w.header(), len(deleted), prev_kvs)
    if t is Range:
        if not request.key:
            return store, EtcdError(_INVALID_ARGUMENT, _EMPTY_KEY)
        return store, _range(store, None, request)
    if t is Txn:
        return _apply_txn(store, request)
    if t is Compact:
        return _apply_compact(store, request.revision)
    raise TypeError(f"not an etcd request: {request!r}")


def _apply_txn(store: Store, t: Txn) -> tuple[Store, TxnResponse | EtcdError]:
    err = _check_txn_request(t, MAX_TXN_OPS)
    if err is not None:
        return store, err
    try:  # both branches, before anything runs; upstream: v3rpc/key.go kvServer.Txn
        _check_intervals(t.success)
        _check_intervals(t.failure)
    except _DuplicateKey:
        return store, EtcdError(_INVALID_ARGUMENT, _DUPLICATE_KEY)
    path = _path(store.kvs, t)
    err, _ = _check_ranges(store, t, path, 0)
    if err is not None:
        return store, err
    w = _Write(store)
    resp, _ = _run_txn(store, w, t, path, 0)
    # upstream: server/etcdserver/txn/txn.go Txn: header = rev, +1 if the txn changed anything
    return w.commit(), TxnResponse(w.header(), resp.succeeded, resp.responses)


def _apply_compact(store: Store, revision: int) -> tuple[Store, CompactResponse | EtcdError]:
    # upstream: server/storage/mvcc/kvstore.go updateCompactRev
    # (rev <= compactMainRev: compacted; rev > currentRev: future; compactMainRev starts at -1)
    if revision <= store.compact_revision:
        return store, EtcdError(_OUT_OF_RANGE, _COMPACTED)
    if revision > store.revision:
        return store, EtcdError(_OUT_OF_RANGE, _FUTURE)
    # Keep the events of revisions >= the compact revision: a watch may start exactly there.
    start = max(revision, 2)
    kept = [store.events_at(r) for r in range(start, store.revision + 1)]
    n = len(kept) - len(kept) % _CHUNK
    chunks = tuple(tuple(kept[i : i + _CHUNK]) for i in range(0, n, _CHUNK))
    new = Store(store.revision, revision, store.kvs, chunks, tuple(kept[n:]), store.written)
    return new, CompactResponse(store.revision)  # compaction does not change the revision


# --------------------------------------------------------------------------- watch


def events_since(
    store: Store,
    key: str,
    range_end: str | None = None,
    *,
    start_revision: int,
    prev_kv: bool = False,
) -> tuple[Event, ...] | Compacted:
    """What a watch on the range opened at ``start_revision`` delivers first.

    Every kept event with revision >= start_revision, by revision and then request order.
    start_revision 0 (or above the current revision) means "from now": no past events.
    A start below the compact revision is Compacted; a start exactly at it is not.
    # upstream: server/storage/mvcc/watcher_group.go chooseAll (w.minRev < compactRev)

    With ``prev_kv``, each event carries the key's value at revision - 1, except for a
    create and for an event at the compact revision itself (etcd reads prev_kv at
    revision - 1, which is then compacted).
    # upstream: server/etcdserver/api/v3rpc/watch.go sendLoop
    """
    if start_revision <= 0 or start_revision > store.revision:
        return ()
    if start_revision < store.compact_revision:
        return Compacted(store.compact_revision)
    return tuple(_events_from(store, key, range_end, start_revision, prev_kv))


def first_event_since(
    store: Store,
    key: str,
    range_end: str | None = None,
    *,
    start_revision: int,
    prev_kv: bool = False,
) -> Event | Compacted | None:
    """The first event :func:`events_since` would deliver (None when there is none), without
    building the rest: an informer asks this on every state."""
    if start_revision <= 0 or start_revision > store.revision:
        return None
    if start_revision < store.compact_revision:
        return Compacted(store.compact_revision)
    bucket, bucket_end = _bucket_range(key)
    if bucket is not None and range_end is not None and range_end <= bucket_end:
        last = next((rev for b, rev in store.written if b == bucket), 0)
        if last < start_revision:
            return None
    return next(_events_from(store, key, range_end, start_revision, prev_kv), None)


@lru_cache(maxsize=1024)
def _bucket_range(key: str) -> tuple[str | None, str]:
    """The key's bucket (see :func:`_bucket`) and the end of its range ("" when it has none):
    the few keys informers watch from are asked about on every state (bounded: a watch on one
    object's key is asked too)."""
    bucket = _bucket(key)
    return bucket, prefix_end(bucket) if bucket is not None else ""


def _bucket(key: str) -> str | None:
    """The key up to and including its third "/", if it has three."""
    end = -1
    for _ in range(3):
        end = key.find("/", end + 1)
        if end < 0:
            return None
    return key[: end + 1]


def _events_from(
    store: Store, key: str, range_end: str | None, start_revision: int, prev_kv: bool
) -> Iterator[Event]:
    for rev in range(max(start_revision, store.history_start), store.revision + 1):
        prev_readable = prev_kv and rev - 1 >= store.compact_revision
        for ev in store.events_at(rev):
            if not _in_range(ev.kv.key, key, range_end):
                continue
            keep_prev = prev_readable and not ev.is_create
            yield ev if keep_prev or ev.prev_kv is None else Event(ev.type, ev.kv)


# --------------------------------------------------------------------------- wrappers


def put(store: Store, key: str, value: Hashable, *, prev_kv: bool = False):
    """Put one key. Returns (store, PutResponse | EtcdError)."""
    return apply(store, Put(key, value, prev_kv))


def delete_range(store: Store, key: str, range_end: str | None = None, *, prev_kv: bool = False):
    """Delete a key or a range. Returns (store, DeleteRangeResponse | EtcdError)."""
    return apply(store, DeleteRange(key, range_end, prev_kv))


def range_(
    store: Store,
    key: str,
    range_end: str | None = None,
    *,
    revision: int = 0,
    limit: int = 0,
    count_only: bool = False,
    keys_only: bool = False,
) -> RangeResponse | EtcdError:
    """Read a key or a range, now or at an old revision."""
    return apply(store, Range(key, range_end, revision, limit, count_only, keys_only))[1]


def txn(
    store: Store,
    compare: tuple[Compare, ...],
    success: tuple[Op, ...],
    failure: tuple[Op, ...] = (),
):
    """A transaction. Returns (store, TxnResponse | EtcdError)."""
    return apply(store, Txn(tuple(compare), tuple(success), tuple(failure)))


def compact(store: Store, revision: int):
    """Compact history below ``revision``. Returns (store, CompactResponse | EtcdError)."""
    return apply(store, Compact(revision))
