"""The etcd MVCC model: one test per rule of research/etcd.md §1, plus properties.

Each test names the etcd behaviour it follows; tests/conformance/ checks the same rules
against a real etcd 3.4.
"""

from __future__ import annotations

import doctest

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubeproof.model.apiserver import etcd
from kubeproof.model.apiserver.etcd import (
    Compact,
    Compacted,
    CompactResponse,
    Compare,
    DeleteRange,
    DeleteRangeResponse,
    EtcdError,
    Event,
    KeyValue,
    Put,
    PutResponse,
    Range,
    RangeResponse,
    Store,
    Txn,
    TxnResponse,
    apply,
    compact,
    delete_range,
    events_since,
    kvs_at,
    prefix_end,
    put,
    range_,
    txn,
)

COMPACTED = EtcdError(11, "etcdserver: mvcc: required revision has been compacted")
FUTURE = EtcdError(11, "etcdserver: mvcc: required revision is a future revision")
DUPLICATE = EtcdError(3, "etcdserver: duplicate key given in txn request")
ALL = "\0"


def build(*requests) -> Store:
    s = Store()
    for r in requests:
        s, resp = apply(s, r)
        assert not isinstance(resp, EtcdError), resp
    return s


def test_module_docstring_example_runs():
    assert doctest.testmod(etcd).failed == 0


# ---------------------------------------------------------------- revisions


def test_fresh_store_is_at_revision_1():
    """etcd: a fresh server reports revision 1 (observed on 3.4.23)."""
    s = Store()
    assert s.revision == 1 and s.compact_revision == -1
    assert range_(s, "a") == RangeResponse(1, (), 0)


def test_every_changing_request_adds_exactly_one():
    """etcd mvcc: each write request is one revision (kvstore_txn.go storeTxnWrite.End)."""
    s, r = put(Store(), "a", "1")
    assert (s.revision, r.header_revision) == (2, 2)
    s, r = put(s, "b", "1")
    s, r = delete_range(s, "a")
    assert (s.revision, r.header_revision, r.deleted) == (4, 4, 1)


def test_txn_adds_one_revision_and_its_writes_share_mod_revision():
    """etcd: a Txn is one revision; all its writes carry it (kvstore_txn.go beginRev + 1)."""
    s = build(Put("a", "0"))
    s, r = txn(s, (), (Put("a", "1"), Put("b", "1"), DeleteRange("c")), ())
    assert r.header_revision == 3 and s.revision == 3
    assert s.get("a").mod_revision == s.get("b").mod_revision == 3


def test_requests_that_change_nothing_add_nothing():
    """etcd mvcc bumps the revision only when len(changes) != 0."""
    s = build(Put("a", "1"))
    s2, r = delete_range(s, "missing")
    assert s2 == s and r == DeleteRangeResponse(2, 0)
    s2, r = txn(s, (), (Range("a"),), ())  # read-only txn
    assert s2 == s and r.header_revision == 2
    s2, r = txn(s, (), (DeleteRange("x"), DeleteRange("y", "z")), ())
    assert s2 == s and r.header_revision == 2


def test_delete_resets_version_and_recreate_gets_new_create_revision():
    """mvccpb/kv.proto: "a deletion resets the version to zero"."""
    s = build(Put("a", "1"), Put("a", "2"))
    assert (s.get("a").create_revision, s.get("a").version) == (2, 2)
    s = build(Put("a", "1"), Put("a", "2"), DeleteRange("a"), Put("a", "3"))
    assert s.get("a") == KeyValue("a", "3", 5, 5, 1)


def test_put_prev_kv_is_left_out_for_a_missing_key():
    """etcdserver/apply.go Put: prev_kv only when the key existed."""
    s, r = put(Store(), "a", "1", prev_kv=True)
    assert r == PutResponse(2, None)
    s, r = put(s, "a", "2", prev_kv=True)
    assert r == PutResponse(3, KeyValue("a", "1", 2, 2, 1))
    s, r = delete_range(s, "a", prev_kv=True)
    assert r == DeleteRangeResponse(4, 1, (KeyValue("a", "2", 2, 3, 2),))


def test_empty_key_is_invalid_argument():
    """v3rpc/key.go checkPutRequest etc.: ErrGRPCEmptyKey, code 3."""
    s = Store()
    err = EtcdError(3, "etcdserver: key is not provided")
    assert apply(s, Put("", "x")) == (s, err)
    assert apply(s, Range("")) == (s, err)
    assert apply(s, Txn((), (DeleteRange(""),), ())) == (s, err)


# ---------------------------------------------------------------- range


def test_range_counts_before_limit_and_sets_more():
    """etcdserver/apply.go Range: count is the whole range; more = count > limit."""
    s = build(*(Put(k, k) for k in "abcde"))
    r = range_(s, "a", ALL, limit=2)
    assert [kv.key for kv in r.kvs] == ["a", "b"] and r.count == 5 and r.more
    r = range_(s, "a", "c", limit=2)
    assert r.count == 2 and not r.more
    assert range_(s, "b", ALL).count == 4  # "\0": every key >= key
    assert range_(s, "a", prefix_end("a")).count == 1
    assert range_(s, "c", "a").count == 0  # empty interval


def test_count_only_returns_no_kvs_and_more_false():
    """apply.go Range: with count_only the store returns no kvs, so more stays false."""
    s = build(*(Put(k, k) for k in "abc"))
    assert range_(s, "a", ALL, limit=1, count_only=True) == RangeResponse(4, (), 3, False)


def test_keys_only_drops_values():
    """apply.go Range: keys_only clears each value."""
    s = build(Put("a", "1"))
    assert range_(s, "a", keys_only=True).kvs == (KeyValue("a", None, 2, 2, 1),)


def test_read_at_old_revision_sees_that_snapshot_and_header_shows_current():
    """kvstore_txn.go rangeKeys: snapshot at rev, RangeResult.Rev is the current revision."""
    s = build(Put("a", "1"), Put("a", "2"), DeleteRange("a"), Put("b", "1"))
    assert range_(s, "a", revision=2) == RangeResponse(5, (KeyValue("a", "1", 2, 2, 1),), 1)
    assert range_(s, "a", revision=4) == RangeResponse(5, (), 0)
    assert range_(s, "a", ALL, revision=1) == RangeResponse(5, (), 0)


def test_read_at_future_revision_fails():
    """kvstore_txn.go rangeKeys: rev > currentRev is ErrFutureRev (gRPC OutOfRange)."""
    s = build(Put("a", "1"))
    assert range_(s, "a", revision=3) == FUTURE
    assert range_(s, "a", revision=2).count == 1


def test_read_below_compact_revision_fails_and_at_it_works():
    """kvstore_txn.go rangeKeys: rev < compactMainRev is ErrCompacted; rev == it reads."""
    s = build(Put("a", "1"), Put("a", "2"), Put("a", "3"), Compact(3))
    assert range_(s, "a", revision=2) == COMPACTED
    assert range_(s, "a", revision=3).kvs[0].value == "2"


# ---------------------------------------------------------------- txn


def test_missing_key_compares_as_zero():
    """txn.go applyCompare: no kvs → compareKV against an empty KeyValue."""
    s = Store()
    for target in ("CREATE", "MOD", "VERSION", "LEASE"):
        _, r = txn(s, (Compare("a", target, "EQUAL", 0),), (), ())
        assert r.succeeded, target
    _, r = txn(s, (Compare("a", "MOD", "LESS", 1),), (), ())
    assert r.succeeded


def test_value_compare_on_missing_key_is_always_false():
    """txn.go applyCompare: "Always fail if comparing a value on a key/keys that doesn't exist"."""
    s = Store()
    for result in ("EQUAL", "NOT_EQUAL", "GREATER", "LESS"):
        _, r = txn(s, (Compare("a", "VALUE", result, ""),), (), ())
        assert not r.succeeded, result


def test_compare_over_a_range_needs_every_key():
    """txn.go applyCompare: with range_end, every key in the range must satisfy the compare."""
    s = build(Put("a", "1"), Put("b", "2"))
    _, r = txn(s, (Compare("a", "VALUE", "GREATER", "0", "c"),), (), ())
    assert r.succeeded
    _, r = txn(s, (Compare("a", "VALUE", "EQUAL", "1", "c"),), (), ())
    assert not r.succeeded


def test_compare_targets_and_failure_branch():
    """txn.go compareKV for VERSION, CREATE, MOD; a false compare runs failure."""
    s = build(Put("a", "1"), Put("a", "2"))
    ok = [
        Compare("a", "VERSION", "EQUAL", 2),
        Compare("a", "CREATE", "EQUAL", 2),
        Compare("a", "MOD", "GREATER", 2),
        Compare("a", "VALUE", "NOT_EQUAL", "1"),
    ]
    _, r = txn(s, tuple(ok), (), ())
    assert r.succeeded
    s2, r = txn(s, (Compare("a", "MOD", "LESS", 3),), (Put("x", "s"),), (Put("y", "f"),))
    assert not r.succeeded and s2.get("y") is not None and s2.get("x") is None


def test_duplicate_keys_are_checked_in_both_branches_before_running():
    """v3rpc/key.go kvServer.Txn: checkIntervals on success and failure, code 3."""
    s = build(Put("a", "1"))
    bad = (Put("b", "1"), Put("b", "2"))
    assert txn(s, (), (Put("c", "1"),), bad) == (s, DUPLICATE)  # failure branch not chosen
    assert txn(s, (), bad, ()) == (s, DUPLICATE)
    assert txn(s, (), (DeleteRange("a", "c"), Put("b", "1")), ()) == (s, DUPLICATE)
    assert txn(s, (), (Put("b", "1"), DeleteRange("b")), ()) == (s, DUPLICATE)
    # the same key in both branches is fine: they are exclusive
    assert txn(s, (), (Put("b", "1"),), (Put("b", "2"),))[1].succeeded
    # overlapping deletes are fine
    assert not isinstance(txn(s, (), (DeleteRange("a"), DeleteRange("a", "z")), ())[1], EtcdError)


def test_delete_to_end_of_keyspace_is_not_a_duplicate_of_a_put():
    """checkIntervals takes range_end "\\0" literally: [key, "\\0") is empty, so no overlap."""
    s = build(Put("a", "1"), Put("b", "1"))
    s, r = txn(s, (), (DeleteRange("a", ALL), Put("b", "2")), ())
    assert r == TxnResponse(4, True, (DeleteRangeResponse(4, 2), PutResponse(4)))
    assert s.get("b") == KeyValue("b", "2", 4, 4, 1)  # recreated in the same revision
    assert s.get("a") is None


def test_later_ops_see_earlier_writes():
    """kvstore_txn.go storeTxnWrite: reads in a txn see the txn's own writes."""
    s = build(Put("a", "1"))
    s, r = txn(s, (), (Put("a", "2"), Range("a"), Put("a2", "x", True)), ())
    assert r.responses[1].kvs == (KeyValue("a", "2", 2, 3, 2),)
    s, r = txn(s, (), (DeleteRange("a", "b", prev_kv=True), Range("a", "b")), ())
    assert r.responses[0].deleted == 2 and r.responses[1].count == 0


def test_nested_response_header_revisions():
    """kvstore_txn.go storeTxnWrite: Put reports begin+1; Range/DeleteRange report begin+1
    only once the txn has changed something, else begin."""
    s = build(Put("a", "1"))  # revision 2
    _, r = txn(
        s, (), (Range("a"), DeleteRange("zz"), Put("b", "1"), Range("a"), DeleteRange("zz")), ()
    )
    heads = [x.header_revision for x in r.responses]
    assert heads == [2, 2, 3, 3, 3] and r.header_revision == 3
    _, r = txn(s, (), (Range("a"), DeleteRange("a"), DeleteRange("zz")), ())
    assert [x.header_revision for x in r.responses] == [2, 3, 3]


def test_nested_txn_compares_see_the_state_before_the_txn():
    """txn.go compareToPath evaluates every compare first; newTxnResp leaves nested headers 0."""
    s = Store()
    inner = Txn((Compare("a", "CREATE", "EQUAL", 0),), (Put("b", "yes"),), (Put("b", "no"),))
    s, r = txn(s, (), (Put("a", "1"), inner), ())
    assert s.get("b").value == "yes"  # "a" did not exist before the txn
    assert r.responses[1] == TxnResponse(0, True, (PutResponse(2),))


def test_txn_range_revisions_are_checked_on_the_chosen_branch():
    """txn.go checkRequests(checkRange): a future or compacted range fails the whole txn."""
    s = build(Put("a", "1"), Put("a", "2"), Compact(3))
    assert txn(s, (), (Put("b", "1"), Range("a", revision=4)), ()) == (s, FUTURE)
    assert txn(s, (), (Range("a", revision=2),), ()) == (s, COMPACTED)
    _, r = txn(s, (), (Put("b", "1"),), (Range("a", revision=99),))  # not chosen: fine
    assert r.succeeded
    # a range at the current revision inside a txn reads the committed snapshot
    _, r = txn(s, (), (Put("a", "3"), Range("a", revision=3)), ())
    assert r.responses[1] == RangeResponse(4, (KeyValue("a", "2", 2, 3, 2),), 1)


def test_too_many_ops():
    """v3rpc/key.go checkTxnRequest: more than --max-txn-ops (128) ops in a branch."""
    s = Store()
    ops = tuple(Put(f"k{i}", "v") for i in range(129))
    assert txn(s, (), ops, ()) == (
        s,
        EtcdError(3, "etcdserver: too many operations in txn request"),
    )


# ---------------------------------------------------------------- compact


def test_compact_boundaries():
    """kvstore.go updateCompactRev: rev <= compactMainRev (starts -1) is compacted, rev >
    currentRev is future; so a fresh server accepts compact(0) once."""
    s = Store()
    s, r = compact(s, 0)
    assert r == CompactResponse(1) and s.compact_revision == 0
    assert compact(s, 0) == (s, COMPACTED)
    assert compact(s, 2) == (s, FUTURE)
    s, r = compact(s, 1)
    assert r == CompactResponse(1)
    s = build(Put("a", "1"), Put("a", "2"), Compact(2))
    assert compact(s, 2)[1] == COMPACTED and compact(s, 1)[1] == COMPACTED
    assert compact(s, 3)[1] == CompactResponse(3)
    assert compact(s, 4)[1] == FUTURE


def test_compact_does_not_change_the_revision():
    """kvstore.go Compact: compaction is not a write; the header shows the current revision."""
    s = build(Put("a", "1"), Put("b", "1"))
    s2, r = compact(s, 2)
    assert s2.revision == s.revision == r.header_revision == 3
    assert s2.kvs == s.kvs


# ---------------------------------------------------------------- watch


def test_watch_replays_events_in_revision_then_request_order():
    """API guarantees: watch events are ordered by revision, then by request order in a txn."""
    s = build(Put("b", "1"), Put("a", "1"))
    s, _ = txn(s, (), (Put("b", "2"), DeleteRange("a"), Put("c", "1")), ())
    evs = events_since(s, "a", ALL, start_revision=2)
    assert [(e.type, e.kv.key, e.kv.mod_revision) for e in evs] == [
        ("PUT", "b", 2),
        ("PUT", "a", 3),
        ("PUT", "b", 4),
        ("DELETE", "a", 4),
        ("PUT", "c", 4),
    ]
    assert evs[3].kv == KeyValue("a", None, 0, 4, 0)  # a DELETE's kv: key and revision only
    assert [e.kv.key for e in events_since(s, "b", start_revision=1)] == ["b", "b"]


def test_watch_from_now_and_from_the_future_replays_nothing():
    """watchable_store.go watch: start 0 (or > current) makes a synced watcher: no history."""
    s = build(Put("a", "1"))
    assert events_since(s, "a", start_revision=0) == ()
    assert events_since(s, "a", start_revision=3) == ()


def test_watch_prev_kv_is_the_value_before_and_absent_for_creates():
    """v3rpc/watch.go sendLoop: prev_kv read at revision-1, not for a create event."""
    s = build(Put("a", "1"), Put("a", "2"), DeleteRange("a"), Put("a", "3"))
    evs = events_since(s, "a", start_revision=2, prev_kv=True)
    assert [e.prev_kv for e in evs] == [
        None,
        KeyValue("a", "1", 2, 2, 1),
        KeyValue("a", "2", 2, 3, 2),
        None,
    ]
    assert [e.is_create for e in evs] == [True, False, False, True]
    assert all(e.prev_kv is None for e in events_since(s, "a", start_revision=2))


def test_watch_below_compact_revision_is_compacted_and_at_it_is_not():
    """watcher_group.go chooseAll: a watcher is compacted iff minRev < compactRev.
    At exactly the compact revision, etcd's guarantee says the DELETE stored there is
    delivered (etcd 3.4 drops it: #18089; see tests/conformance)."""
    s = build(Put("a", "1"), Put("a", "2"), Put("a", "3"), DeleteRange("a"), Put("a", "4"))
    s, _ = compact(s, 5)
    assert events_since(s, "a", start_revision=4) == Compacted(5)
    evs = events_since(s, "a", start_revision=5, prev_kv=True)
    assert [(e.type, e.kv.mod_revision) for e in evs] == [("DELETE", 5), ("PUT", 6)]
    # prev_kv of the event at the compact revision would be read at a compacted revision
    assert evs[0].prev_kv is None


def test_compaction_drops_history_below_the_compact_revision():
    """kvstore_compaction.go: revisions below the compact revision are gone."""
    s = build(*(Put("a", str(i)) for i in range(10)))  # revisions 2..11
    s, _ = compact(s, 8)
    assert s.history_start == 8
    assert len(s.history_chunks) * 32 + len(s.history_tail) == 4  # revisions 8..11
    with pytest.raises(IndexError):
        s.events_at(7)


def test_prefix_end():
    """client/v3/op.go GetPrefixRangeEnd."""
    assert prefix_end("/registry/pods/") == "/registry/pods0"
    assert prefix_end("a\U0010ffff") == "b"
    assert prefix_end("") == "\0"
    assert prefix_end("\U0010ffff") == "\0"


def test_store_is_hashable_and_equal_by_content_and_errors_change_nothing():
    a = build(Put("a", "1"), Put("b", "2"))
    b = build(Put("a", "1"), Put("b", "2"))
    assert a == b and hash(a) == hash(b) and a is not b
    assert a != build(Put("a", "1"), Put("b", "3"))
    s2, err = compact(a, 99)
    assert s2 is a and err == FUTURE


# ---------------------------------------------------------------- properties

KEYS = ("a", "b", "c", "d")
ops = st.one_of(
    st.builds(Put, st.sampled_from(KEYS), st.sampled_from(("1", "2", "3"))),
    st.builds(DeleteRange, st.sampled_from(KEYS), st.sampled_from((None, "c", ALL)), st.booleans()),
    st.builds(
        Txn,
        st.tuples(
            st.builds(
                Compare,
                st.sampled_from(KEYS),
                st.sampled_from(("VERSION", "MOD", "CREATE")),
                st.sampled_from(("EQUAL", "NOT_EQUAL", "GREATER", "LESS")),
                st.integers(0, 5),
            )
        ),
        st.lists(st.builds(Put, st.sampled_from(KEYS), st.just("t")), max_size=2).map(tuple),
        st.lists(st.builds(DeleteRange, st.sampled_from(KEYS)), max_size=2).map(tuple),
    ),
    st.builds(Compact, st.integers(0, 20)),
)


def _run(requests):
    s = Store()
    states = {1: {}}  # revision -> {key: KeyValue}
    for r in requests:
        before = s.revision
        s, _ = apply(s, r)
        assert s.revision in (before, before + 1)
        if s.revision != before:
            states[s.revision] = {kv.key: kv for kv in s.kvs}
    return s, states


@settings(max_examples=200, deadline=None)
@given(st.lists(ops, max_size=30))
def test_property_revisions_are_monotonic(requests):
    s = Store()
    for r in requests:
        s2, resp = apply(s, r)
        assert s2.revision >= s.revision
        assert s2.compact_revision >= s.compact_revision
        if isinstance(resp, EtcdError):
            assert s2 is s
        for kv in s2.kvs:
            assert kv.create_revision <= kv.mod_revision <= s2.revision
        s = s2


@settings(max_examples=200, deadline=None)
@given(st.lists(ops.filter(lambda o: not isinstance(o, Compact)), max_size=30))
def test_property_watch_from_the_first_revision_replays_to_the_current_state(requests):
    s, _ = _run(requests)
    state: dict[str, KeyValue] = {}
    evs = events_since(s, "a", ALL, start_revision=1, prev_kv=True)
    last = 0
    for e in evs:
        assert e.kv.mod_revision >= last
        last = e.kv.mod_revision
        if not e.is_create:  # each key changes at most once per revision in these ops
            assert e.prev_kv == state.get(e.kv.key)
        if e.type == "PUT":
            state[e.kv.key] = e.kv
        else:
            del state[e.kv.key]
    assert tuple(sorted(state.values(), key=lambda kv: kv.key)) == s.kvs


@settings(max_examples=200, deadline=None)
@given(st.lists(ops, max_size=30))
def test_property_reads_at_revision_equal_the_state_after_that_revision(requests):
    s, states = _run(requests)
    for rev, state in states.items():
        r = range_(s, "a", ALL, revision=rev)
        if rev < s.compact_revision:
            assert r == COMPACTED
            continue
        assert r.kvs == tuple(sorted(state.values(), key=lambda kv: kv.key))
        assert kvs_at(s, rev) == r.kvs
    assert range_(s, "a", ALL, revision=s.revision + 1) == FUTURE


def test_event_type_is_put_or_delete():
    s = build(Put("a", "1"), DeleteRange("a"))
    assert {e.type for e in events_since(s, "a", start_revision=1)} == {"PUT", "DELETE"}
    assert Event("PUT", KeyValue("a", "1", 2, 2, 1)).is_create


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["/registry/pods/a/x", "/registry/pods/b/y", "/registry/nodes/n"]),
            st.booleans(),
        ),
        max_size=12,
    ),
    st.integers(min_value=0, max_value=14),
    st.booleans(),
)
def test_first_event_since_is_the_first_of_events_since(writes, start, compact_first):
    """first_event_since (with its per-bucket index) agrees with events_since on every range."""
    store = Store()
    for key, is_put in writes:
        store, _ = put(store, key, "v") if is_put else delete_range(store, key)
    if compact_first and store.revision > 2:
        store, _ = compact(store, store.revision - 1)
    for key, end in [
        ("/registry/pods/", prefix_end("/registry/pods/")),
        ("/registry/pods/a/", prefix_end("/registry/pods/a/")),
        ("/registry/nodes/n", None),
        ("/registry/", prefix_end("/registry/")),
    ]:
        every = events_since(store, key, end, start_revision=start, prev_kv=True)
        first = etcd.first_event_since(store, key, end, start_revision=start, prev_kv=True)
        if isinstance(every, Compacted):
            assert first == every
        else:
            assert first == (every[0] if every else None)
