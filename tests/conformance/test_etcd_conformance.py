"""The etcd model against a real etcd 3.4: every response and every watch event must agree.

Hypothesis generates operation sequences over six keys under /k/ (so operations collide):
puts, deletes (single, ranges, "\\0"), ranges (now, old, compacted, future revisions, limits,
count_only, keys_only), txns (compares on value, version, create and mod revision, ops in both
branches, nested txns, duplicate keys), and compactions weighted to the boundaries. Revisions
are generated symbolically (RevSpec: "compact revision - 1", "current + 1", ...) and resolved
against the model when the operation runs, so sequences stay meaningful while shrinking.

Each sequence runs against a fresh etcd (revision 1, like a fresh Store) with a live prefix
watch (prev_kv) open throughout; afterwards watches are opened from old revisions, exactly at
the compact revision and below it, and compared with events_since.

One divergence is known and normalized, nowhere else: etcd #18089 (a watch opened exactly at
the compact revision misses the DELETE events stored at that revision). See
test_known_divergence_etcd_18089.
"""

from __future__ import annotations

import dataclasses
import os
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubeproof.model.apiserver import etcd
from kubeproof.model.apiserver.etcd import (
    Compact,
    Compacted,
    Compare,
    DeleteRange,
    Event,
    Put,
    Range,
    Store,
    Txn,
    apply,
    events_since,
    prefix_end,
)

from .conftest import require_etcd
from .etcd_server import EtcdClient, Watch, running_etcd

pytestmark = pytest.mark.etcd

PREFIX = "/k/"
PREFIX_END = prefix_end(PREFIX)
KEYS = tuple(PREFIX + c for c in "abcdef")
VALUES = ("", "v0", "v1", "v2")
MIN_OPS = 10_000  # per run of this module; checked by test_operation_budget_was_met
CI = os.environ.get("CI") == "true"

STATS = {
    "ops": 0,
    "op_seconds": 0.0,
    "seconds": 0.0,
    "examples": 0,
    "watches": 0,
    "events": 0,
    "normalized": 0,
}


# ---------------------------------------------------------------- symbolic revisions


@dataclasses.dataclass(frozen=True)
class RevSpec:
    """A revision relative to the store when the op runs: base is cur, compact or frac."""

    base: str
    n: int

    def resolve(self, store: Store) -> int:
        if self.base == "cur":
            return store.revision + self.n
        if self.base == "compact":
            return store.compact_revision + self.n
        return 1 + (store.revision - 1) * self.n // 100  # frac: n percent of the way


def resolve(op, store: Store):
    """The concrete request: every RevSpec replaced by a revision of ``store``."""
    if isinstance(op, Range) and isinstance(op.revision, RevSpec):
        return dataclasses.replace(op, revision=max(0, op.revision.resolve(store)))
    if isinstance(op, Compact) and isinstance(op.revision, RevSpec):
        return Compact(op.revision.resolve(store))
    if isinstance(op, Compare) and isinstance(op.operand, RevSpec):
        return dataclasses.replace(op, operand=max(0, op.operand.resolve(store)))
    if isinstance(op, Txn):
        return Txn(
            tuple(resolve(c, store) for c in op.compare),
            tuple(resolve(o, store) for o in op.success),
            tuple(resolve(o, store) for o in op.failure),
        )
    return op


# ---------------------------------------------------------------- strategies

keys = st.sampled_from(KEYS)
values = st.sampled_from(VALUES)
# None: one key; a key: [key, end) (maybe empty); the prefix; "\0": every key >= key
range_ends = st.one_of(st.none(), keys, st.just(PREFIX_END), st.just("\0"))
boundary = st.sampled_from(
    [
        RevSpec("compact", -1),
        RevSpec("compact", 0),
        RevSpec("compact", 1),
        RevSpec("cur", 0),
        RevSpec("cur", 1),
    ]
)
revisions = st.one_of(
    st.just(0),
    boundary,
    st.builds(RevSpec, st.just("frac"), st.integers(0, 100)),
    st.builds(RevSpec, st.just("cur"), st.integers(-3, 0)),
)
puts = st.builds(Put, keys, values, st.booleans())
deletes = st.builds(DeleteRange, keys, range_ends, st.booleans())
# Inside a txn no "\0" deletes: checkIntervals misses their overlap with puts (a quirk covered
# by test_txn_delete_to_end_and_put_quirk), and compacting at such a revision would lose the
# PUT too, an instance of #18089 outside the one documented normalization.
txn_deletes = st.builds(DeleteRange, keys, st.one_of(st.none(), keys, st.just(PREFIX_END)))
ranges = st.builds(
    Range,
    keys,
    range_ends,
    revisions,
    st.sampled_from((0, 0, 1, 2, 3)),
    st.booleans(),
    st.booleans(),
)
compares = st.one_of(
    st.builds(
        Compare,
        keys,
        st.just("VALUE"),
        st.sampled_from(("EQUAL", "NOT_EQUAL", "GREATER", "LESS")),
        values,
        st.one_of(st.none(), st.none(), st.just(PREFIX_END)),
    ),
    st.builds(
        Compare,
        keys,
        st.just("VERSION"),
        st.sampled_from(("EQUAL", "NOT_EQUAL", "GREATER", "LESS")),
        st.integers(0, 3),
        st.one_of(st.none(), st.none(), st.just("\0")),
    ),
    st.builds(
        Compare,
        keys,
        st.sampled_from(("CREATE", "MOD")),
        st.sampled_from(("EQUAL", "NOT_EQUAL", "GREATER", "LESS")),
        st.one_of(st.just(0), st.builds(RevSpec, st.just("cur"), st.integers(-4, 0))),
    ),
)
nested_txns = st.builds(
    Txn,
    st.lists(compares, max_size=1).map(tuple),
    st.lists(st.one_of(puts, ranges), max_size=2).map(tuple),
    st.lists(st.one_of(puts, ranges), max_size=2).map(tuple),
)
branch_ops = st.one_of(puts, puts, txn_deletes, ranges, nested_txns)
txns = st.builds(
    Txn,
    st.lists(compares, max_size=2).map(tuple),
    st.lists(branch_ops, max_size=3).map(tuple),
    st.lists(branch_ops, max_size=3).map(tuple),
)
compactions = st.builds(
    Compact,
    st.one_of(boundary, boundary, st.builds(RevSpec, st.just("frac"), st.integers(0, 100))),
)
operations = st.one_of(
    puts, puts, puts, deletes, ranges, ranges, txns, txns, txns, txns, compactions
)


# ---------------------------------------------------------------- running a sequence


class Mismatch(AssertionError):
    pass


def _diff(got: list, want: list) -> str:
    """Where two event lists first differ (they can be long)."""
    n = min(len(got), len(want))
    i = next((i for i in range(n) if got[i] != want[i]), n)
    return (
        f"{len(got)} events from etcd, {len(want)} from the model; first difference at {i}:\n"
        f"  etcd:  {got[i : i + 3]}\n  model: {want[i : i + 3]}"
    )


def _trace(log: list) -> str:
    return "\n".join(f"  {i}: {req!r}\n     -> {resp!r}" for i, (req, resp) in enumerate(log))


def run_sequence(ops, client: EtcdClient, live: Watch | None, step=apply) -> Store:
    """Apply ops to the model (``step``) and to etcd; raise Mismatch at the first difference."""
    t0 = time.perf_counter()
    store = Store()
    expected_live: list[Event] = []
    log: list = []
    synced = 1  # the live watch has delivered every event up to this revision
    for op in ops:
        req = resolve(op, store)
        if live is not None and isinstance(req, Compact) and store.revision > synced:
            # etcd reads a watch event's prev_kv at revision-1 when it sends the event; let
            # the live watch catch up first, so compaction cannot race with that read.
            live.wait_revision(store.revision)
            synced = store.revision
        new, want = step(store, req)
        got = client.apply(req)
        log.append((req, got))
        if got != want:
            where = f"response differs at op {len(log) - 1}"
            raise Mismatch(f"{where}\n{_trace(log)}\n  model: {want!r}")
        if new.revision != store.revision:
            expected_live.extend(
                events_since(new, PREFIX, PREFIX_END, start_revision=new.revision, prev_kv=True)
            )
        store = new
    STATS["ops"] += len(ops)
    STATS["op_seconds"] += time.perf_counter() - t0
    if live is not None:
        if store.revision > 1:
            live.wait_revision(store.revision)
        with live.cond:
            got_events = list(live.events)
        STATS["events"] += len(got_events)
        if got_events != expected_live:
            raise Mismatch(f"live watch differs\n{_trace(log)}\n{_diff(got_events, expected_live)}")
    return store


def watch_starts(store: Store) -> list[int]:
    c, r = store.compact_revision, store.revision
    starts = {1, 2, c - 1, c, c + 1, (1 + r) // 2, r, r + 1}
    return sorted(s for s in starts if s > 0)


def check_watches_from_old_revisions(store: Store, port: int) -> None:
    """Open watches from old revisions, at and below the compact revision; compare."""
    specs = [(PREFIX, PREFIX_END, s, True) for s in watch_starts(store)]
    c = store.compact_revision
    specs += [(PREFIX, PREFIX_END, max(c, 1), False), (KEYS[0], None, max(c, 1), True)]
    watches = [
        (spec, Watch(port, spec[0], spec[1], start_revision=spec[2], prev_kv=spec[3]))
        for spec in specs
    ]
    try:
        for (key, end, start, prev), w in watches:
            want = events_since(store, key, end, start_revision=start, prev_kv=prev)
            STATS["watches"] += 1
            if isinstance(want, Compacted):
                w.wait_for(lambda w: w.canceled)
                got = w.compacted if not w.events else w.events
                if got != want:
                    raise Mismatch(f"watch {key!r} from {start}: etcd {got!r}, model {want!r}")
                continue
            # etcd #18089 (3.4.23): a watch opened exactly at the compact revision misses the
            # DELETE events stored at that revision. The one normalization: those may be absent.
            want = list(want)
            allowed = [want]
            if start == c:
                dropped = [e for e in want if not (e.type == "DELETE" and e.kv.mod_revision == c)]
                if len(dropped) != len(want):
                    allowed.append(dropped)
            # Wait for the shortest allowed list; its last revision arriving means etcd sent
            # everything (ordered, and one revision is never split across responses).
            least = allowed[-1]
            if least:
                n, last = len(least), least[-1].kv.mod_revision
                w.wait_for(
                    lambda w, n=n, last=last: (
                        len(w.events) >= n and w.events[-1].kv.mod_revision >= last
                    )
                )
            elif want:  # only DELETEs at the compact revision: nothing tells us; wait a little
                n = len(want)
                w.wait_for(lambda w, n=n: len(w.events) >= n, timeout=0.3)
            with w.cond:
                got = list(w.events)
            STATS["events"] += len(got)
            if got not in allowed:
                raise Mismatch(
                    f"watch {key!r}..{end!r} from {start} (prev_kv={prev}) differs\n"
                    f"{_diff(got, want)}"
                )
            if len(allowed) > 1 and got == allowed[1]:
                STATS["normalized"] += 1
    finally:
        for _, w in watches:
            w.close()


# ---------------------------------------------------------------- the randomized comparison


@settings(
    max_examples=45,
    deadline=None,
    derandomize=CI,  # reproducible in CI; a fresh exploration at a desk
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(ops=st.lists(operations, min_size=250, max_size=320))
def test_model_agrees_with_etcd(etcd_binary, ops):
    t0 = time.perf_counter()
    with running_etcd(etcd_binary) as server:
        client = EtcdClient(server.client_port)
        live = Watch(server.client_port, PREFIX, PREFIX_END, prev_kv=True)
        try:
            store = run_sequence(ops, client, live)
            check_watches_from_old_revisions(store, server.client_port)
        finally:
            live.close()
            client.close()
    STATS["seconds"] += time.perf_counter() - t0
    STATS["examples"] += 1


# ---------------------------------------------------------------- deterministic cases


def _watch_all(port: int, start: int, n: int, *, prev_kv: bool = False) -> list[Event]:
    w = Watch(port, PREFIX, PREFIX_END, start_revision=start, prev_kv=prev_kv)
    try:
        w.wait_for(lambda w: len(w.events) >= n, timeout=1.0)
        return list(w.events)
    finally:
        w.close()


def test_known_divergence_etcd_18089(etcd_client, etcd_server):
    """etcd #18089, present in 3.4.23: a watch opened exactly at the compact revision misses
    the DELETE stored at that revision (compaction drops the tombstone from the backend, and
    unsynced watchers read the backend). etcd's documented guarantee (reliable: no event in
    the history window is dropped; a start revision equal to the compact revision is not
    compacted, watcher_group.go chooseAll) says it must be delivered; the model delivers it.
    """
    a = KEYS[0]
    ops = [Put(a, "1"), Put(a, "2"), Put(a, "3"), DeleteRange(a), Put(a, "4"), Compact(5)]
    store = run_sequence(ops, etcd_client, None)
    model = events_since(store, PREFIX, PREFIX_END, start_revision=5)
    assert [(e.type, e.kv.mod_revision) for e in model] == [("DELETE", 5), ("PUT", 6)]
    real = _watch_all(etcd_server.client_port, 5, 2)
    assert [(e.type, e.kv.mod_revision) for e in real] == [("PUT", 6)], (
        "etcd no longer shows #18089: drop the normalization in check_watches_from_old_revisions"
    )
    assert real == list(model[1:])


def test_txn_delete_to_end_and_put_quirk(etcd_client, etcd_server):
    """checkIntervals reads range_end "\\0" literally, so deleting every key >= k and putting
    a key in that range in one txn is accepted; the key is deleted and recreated in one
    revision, and the watch shows DELETE then PUT (prev_kv read at revision-1)."""
    a, b = KEYS[0], KEYS[1]
    ops = [Put(a, "1"), Put(b, "1"), Txn((), (DeleteRange(a, "\0", True), Put(b, "2", True)), ())]
    store = run_sequence(ops, etcd_client, None)
    want = events_since(store, PREFIX, PREFIX_END, start_revision=4, prev_kv=True)
    assert [(e.type, e.kv.key) for e in want] == [("DELETE", a), ("DELETE", b), ("PUT", b)]
    assert _watch_all(etcd_server.client_port, 4, 3, prev_kv=True) == list(want)


def test_nested_txn_compares_and_headers(etcd_client):
    """compareToPath evaluates nested compares before any op runs; nested headers are 0."""
    a, b = KEYS[0], KEYS[1]
    inner = Txn((Compare(a, "CREATE", "EQUAL", 0),), (Put(b, "yes"), Range(a)), (Put(b, "no"),))
    ops = [Txn((), (Put(a, "1"), inner, Range(b)), ()), Range(b)]
    store = run_sequence(ops, etcd_client, None)
    assert store.get(b).value == "yes"


def test_boundaries_on_a_fresh_server(etcd_client):
    """compact(0) once, compact(-1) compacted, ranges at 1, 2 (future), errors unchanged."""
    ops = [
        Range(KEYS[0], revision=1),
        Range(KEYS[0], revision=2),
        Compact(2),
        Compact(0),
        Compact(0),
        Compact(1),
        Put(KEYS[0], "x"),
        Compact(1),
        Compact(2),
        Range(KEYS[0], revision=1),
        Range(KEYS[0], revision=2),
        Range(KEYS[0], "\0", limit=1, count_only=True),
        Txn((), (Range(KEYS[0], revision=1),), ()),
        Txn((), (), (Range(KEYS[0], revision=1),)),
        Txn((), (Put(KEYS[1], "a"), Put(KEYS[1], "b")), ()),
        Txn((), (Put(KEYS[1], "a"),), (DeleteRange(KEYS[0], KEYS[2]), Put(KEYS[1], "b"))),
    ]
    run_sequence(ops, etcd_client, None)


def test_a_wrong_model_is_caught(etcd_client, monkeypatch):
    """Mutation check: drop storeTxnWrite's header rule (reads in a txn report begin+1 even
    before anything changed) and the comparison must fail."""
    monkeypatch.setattr(etcd._Write, "header", lambda self: self.rev)
    ops = [Put(KEYS[0], "1"), Txn((), (Range(KEYS[0]), Put(KEYS[1], "1")), ())]
    with pytest.raises(Mismatch, match="response differs at op 1"):
        run_sequence(ops, etcd_client, None)


def test_a_wrong_compact_boundary_is_caught(etcd_client, monkeypatch):
    """Mutation check: accept compact(r) when r == compact revision."""
    real = etcd._apply_compact

    def wrong(store, revision):
        if revision == store.compact_revision:
            return store, etcd.CompactResponse(store.revision)
        return real(store, revision)

    monkeypatch.setattr(etcd, "_apply_compact", wrong)
    with pytest.raises(Mismatch):
        run_sequence([Put(KEYS[0], "1"), Compact(2), Compact(2)], etcd_client, None)


def test_operation_budget_was_met(capsys):
    """The randomized comparison ran at least MIN_OPS operations (so it cannot silently shrink)."""
    require_etcd()
    if STATS["examples"] == 0:
        pytest.skip("test_model_agrees_with_etcd did not run in this session")
    rate = STATS["ops"] / STATS["seconds"] if STATS["seconds"] else 0.0
    op_rate = STATS["ops"] / STATS["op_seconds"] if STATS["op_seconds"] else 0.0
    with capsys.disabled():
        print(
            f"\netcd conformance: {STATS['ops']} ops in {STATS['examples']} sequences; "
            f"{op_rate:.0f} ops/s while running operations, {rate:.0f} ops/s overall "
            f"({STATS['seconds']:.1f}s with restarts and watches from old revisions); "
            f"{STATS['watches']} watches from old revisions, {STATS['events']} watch events, "
            f"{STATS['normalized']} normalized for etcd #18089"
        )
    assert STATS["ops"] >= MIN_OPS, STATS
