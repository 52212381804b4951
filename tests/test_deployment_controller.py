"""The Deployment controller against upstream's rules and tables.

Tables are transcribed from upstream's tests: pkg/controller/deployment/util/
deployment_util_test.go (TestResolveFenceposts, TestMaxUnavailable, TestNewRSNewReplicas,
TestDeploymentComplete, TestDeploymentProgressing), rolling_test.go
(TestDeploymentController_reconcileNewReplicaSet, _reconcileOldReplicaSets,
_cleanupUnhealthyReplicas, _scaleDownOldReplicaSetsForRollingUpdate) and sync_test.go (TestScale).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from kubeproof.model.apiserver.admission import Status
from kubeproof.model.apiserver.server import (
    Request,
    Response,
    default_users,
    handle,
    read,
)
from kubeproof.model.apiserver.server import initial_state as api_state
from kubeproof.model.cluster import NO_FAULTS, enabled, initial_state, transition
from kubeproof.model.controllers import deployment_rollout as dr
from kubeproof.model.controllers import deployment_util as du
from kubeproof.model.controllers.deployment import DeploymentController, KeyState
from kubeproof.model.controllers.protocol import Delta, Outgoing, Reconciled, View
from kubeproof.model.objects import (
    Condition,
    Container,
    Deployment,
    DeploymentSpec,
    DeploymentStatus,
    DeploymentStrategy,
    FrozenMap,
    LabelSelector,
    ObjectMeta,
    OwnerReference,
    Pod,
    PodSpec,
    PodStatus,
    PodTemplateSpec,
    ReplicaSet,
    ReplicaSetStatus,
    RollingUpdateDeployment,
)
from kubeproof.model.workloads import (
    DESIRED_REPLICAS,
    MAX_REPLICAS,
    REVISION,
    new_replicaset,
    pods_for_replicaset,
)

NS, KEY = "default", "default/web"
LABELS = FrozenMap(app="web")


# --- builders ------------------------------------------------------------------------------


def template(image: str = "nginx:1") -> PodTemplateSpec:
    return PodTemplateSpec(ObjectMeta(labels=LABELS), PodSpec(containers=(Container("c", image),)))


def deployment(
    replicas: int = 3,
    surge: int | str | None = 1,
    unavailable: int | str | None = 0,
    *,
    strategy: str = "RollingUpdate",
    image: str = "nginx:1",
    **spec,
) -> Deployment:
    rolling = RollingUpdateDeployment(surge, unavailable) if strategy == "RollingUpdate" else None
    spec.setdefault("progress_deadline_seconds", 600)
    spec.setdefault("revision_history_limit", 10)
    return Deployment(
        ObjectMeta(name="web", namespace=NS, uid="d-uid", generation=1, resource_version="5"),
        DeploymentSpec(
            LabelSelector(LABELS),
            template(image),
            replicas,
            DeploymentStrategy(strategy, rolling),
            **spec,
        ),
    )


def owned_rs(
    d: Deployment,
    name: str,
    replicas: int,
    *,
    available: int | None = None,
    actual: int | None = None,
    created: int = 0,
    image: str | None = None,
    annotations: dict | None = None,
    owner: bool = True,
    **status,
) -> ReplicaSet:
    """A ReplicaSet of ``d`` (another template with ``image``), status from the numbers."""
    source = d if image is None else replace(d, spec=replace(d.spec, template=template(image)))
    rs = new_replicaset(source, replicas)
    refs = rs.metadata.owner_references if owner else ()
    meta = replace(
        rs.metadata,
        name=name,
        uid=f"{name}-uid",
        resource_version="7",
        generation=1,
        creation_timestamp=created,
        annotations=FrozenMap(annotations or {}),
        owner_references=refs,
    )
    actual = replicas if actual is None else actual
    available = actual if available is None else available
    rs_status = ReplicaSetStatus(
        replicas=actual,
        ready_replicas=available,
        available_replicas=available,
        observed_generation=1,
        **status,
    )
    return ReplicaSet(meta, rs.spec, rs_status)


def view(*objects, now: int = 0, api=None) -> View:
    caches: dict[str, dict] = {"deployments": {}, "replicasets": {}, "pods": {}}
    for obj in objects:
        caches[obj.RESOURCE][f"{obj.metadata.namespace}/{obj.metadata.name}"] = obj
    api = api if api is not None else api_state(default_users())
    frozen = FrozenMap((r, FrozenMap(c)) for r, c in caches.items())
    return View("deployment", now, frozen, api)


def plan(d: Deployment, now: int = 0) -> dr.Plan:
    return dr.Plan(d, now)


def sizes(p: dr.Plan) -> dict[str, int]:
    """The sizes the plan writes, by ReplicaSet name."""
    return {rs.metadata.name: rs.spec.replicas for rs in p.working.values()}


def writes(result: Reconciled) -> list[tuple[str, str, str]]:
    return [(o.request.verb, o.request.resource, o.request.subresource) for o in result.requests]


def reconcile(*objects, controller=None, now: int = 0, api=None) -> Reconciled:
    controller = controller or DeploymentController()
    return controller.reconcile(view(*objects, now=now, api=api), KEY, FrozenMap())


def status_of(result: Reconciled) -> Deployment:
    updates = [o.request.body for o in result.requests if o.request.subresource == "status"]
    return updates[-1]


# --- fenceposts (deployment_util_test.go) ---------------------------------------------------


@pytest.mark.parametrize(
    "surge,unavailable,desired,expected",
    [
        ("0%", "0%", 0, (0, 1)),
        ("39%", "39%", 10, (4, 3)),
        (None, "39%", 10, (0, 3)),
        ("39%", None, 10, (4, 0)),
        (None, None, 10, (0, 1)),
        ("25%", "25%", 10, (3, 2)),  # research §1's example: surge rounds up, unavailable down
    ],
)
def test_resolve_fenceposts_table(surge, unavailable, desired, expected):
    """upstream TestResolveFenceposts: surge ceil, unavailable floor, both 0 → unavailable 1."""
    assert du.resolve_fenceposts(surge, unavailable, desired) == expected


@pytest.mark.parametrize("surge,unavailable", [("oops", "39%"), ("55%", "urg"), ("5", "1")])
def test_resolve_fenceposts_rejects_non_percent_strings(surge, unavailable):
    """upstream TestResolveFenceposts error rows: a string must be "N%"."""
    with pytest.raises(ValueError):
        du.resolve_fenceposts(surge, unavailable, 10)


@pytest.mark.parametrize(
    "replicas,strategy,surge,unavailable,expected",
    [
        (10, "RollingUpdate", 0, 5, 5),
        (10, "RollingUpdate", 0, 10, 10),
        (5, "RollingUpdate", 0, 10, 5),  # clamped to replicas
        (0, "RollingUpdate", 0, 10, 0),  # 0 when replicas is 0
        (10, "Recreate", 0, 1, 0),
        (10, "RollingUpdate", "0%", "50%", 5),
        (10, "RollingUpdate", "0%", "100%", 10),
        (5, "RollingUpdate", "0%", "100%", 5),
    ],
)
def test_max_unavailable_table(replicas, strategy, surge, unavailable, expected):
    """upstream TestMaxUnavailable."""
    d = deployment(replicas, surge, unavailable, strategy=strategy)
    assert du.max_unavailable(d) == expected


@pytest.mark.parametrize(
    "strategy,dep,new,surge,expected",
    [
        ("RollingUpdate", 1, 5, 1, 5),  # can not scale up: stays at newRSReplicas
        ("RollingUpdate", 6, 2, 10, 6),  # scale up to depReplicas
        ("Recreate", 3, 1, 1, 3),
    ],
)
def test_new_rs_new_replicas_table(strategy, dep, new, surge, expected):
    """upstream TestNewRSNewReplicas (allRSs holds one other RS of 5)."""
    d = deployment(dep, surge, 1, strategy=strategy)
    if strategy == "Recreate":
        d = replace(d, spec=replace(d.spec, strategy=DeploymentStrategy("Recreate")))
    rs5 = owned_rs(d, "rs5", 5)
    new_rs = owned_rs(d, "new", new)
    assert du.new_rs_new_replicas(d, [rs5], new_rs) == expected


# --- rolling.go tables ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "dep,surge,old,new,expected",
    [
        (10, 0, 10, 0, None),  # should not scale up
        (10, 2, 10, 0, 2),
        (10, 2, 5, 0, 7),
        (10, 2, 10, 2, None),
        (10, 2, 2, 11, 10),  # should scale down
        (2, 2, 2, 4, 2),
    ],
)
def test_reconcile_new_replicaset_table(dep, surge, old, new, expected):
    """upstream TestDeploymentController_reconcileNewReplicaSet: new RS scaled within the
    surge, down to replicas when above."""
    d = deployment(dep, surge, 0)
    new_rs = owned_rs(d, "foo-v2", new)
    old_rs = owned_rs(d, "foo-v1", old, image="nginx:0")
    p = plan(d)
    scaled = dr._reconcile_new(p, [new_rs, old_rs], new_rs, False)
    assert scaled == (expected is not None)
    assert sizes(p) == ({} if expected is None else {"foo-v2": expected})


@pytest.mark.parametrize(
    "dep,unavailable,old,new,ready_old,ready_new,expected_old",
    [
        (10, 0, 10, 0, 10, 0, 9),
        (10, 2, 10, 0, 10, 0, 8),
        (10, 2, 10, 0, 8, 0, 8),  # unhealthy old replicas cleaned up
        (10, 2, 10, 0, 9, 0, 8),  # one unhealthy cleaned up, one ready scaled down
        (10, 2, 8, 2, 8, 0, None),  # the new RS's unavailable pods block further scale-down
    ],
)
def test_reconcile_old_replicasets_table(
    dep, unavailable, old, new, ready_old, ready_new, expected_old
):
    """upstream TestDeploymentController_reconcileOldReplicaSets (maxSurge 0)."""
    d = deployment(dep, 0, unavailable)
    new_rs = owned_rs(d, "foo-new", new, available=ready_new)
    old_rs = owned_rs(d, "foo-old", old, available=ready_old, image="nginx:0")
    p = plan(d)
    scaled = dr._reconcile_old(p, [old_rs, new_rs], [old_rs], new_rs)
    assert scaled == (expected_old is not None)
    if expected_old is not None:
        assert sizes(p) == {"foo-old": expected_old}
        assert len(p.ops) == 1  # cleanup and scale-down of one RS fold into one write


@pytest.mark.parametrize(
    "old,ready,budget,expected",
    [(10, 8, 1, 1), (10, 8, 3, 2), (10, 8, 0, 0), (10, 10, 3, 0)],
)
def test_cleanup_unhealthy_replicas_table(old, ready, budget, expected):
    """upstream TestDeploymentController_cleanupUnhealthyReplicas: up to spec - available."""
    d = deployment(10, 2, 2)
    rs = owned_rs(d, "foo-v2", old, available=ready, image="nginx:0")
    _, cleaned = dr._cleanup_unhealthy(plan(d), [rs], budget)
    assert cleaned == expected


@pytest.mark.parametrize(
    "dep,unavailable,ready,old,expected",
    [
        (10, 0, 10, 10, 9),
        (10, 2, 10, 10, 8),
        (10, 2, 8, 10, None),
        (10, 2, 10, 0, None),
        (10, 2, 1, 10, None),
    ],
)
def test_scale_down_old_for_rolling_update_table(dep, unavailable, ready, old, expected):
    """upstream TestDeploymentController_scaleDownOldReplicaSetsForRollingUpdate: only what
    exceeds minAvailable goes."""
    d = deployment(dep, 0, unavailable)
    rs = owned_rs(d, "foo-v2", old, available=ready, actual=ready, image="nginx:0")
    p = plan(d)
    scaled = dr._scale_down_old(p, [rs], [rs])
    assert (scaled > 0) == (expected is not None)
    assert sizes(p) == ({} if expected is None else {"foo-v2": expected})


def test_at_most_one_scaling_step_per_sync():
    """upstream rolloutRolling: when the new RS scales up, old ones wait for the next sync."""
    d = deployment(3, 1, 1)
    new_rs = owned_rs(d, "web-new", 0, created=2)
    old_rs = owned_rs(d, "web-old", 3, image="nginx:0", annotations={REVISION: "1"})
    result = reconcile(d, new_rs, old_rs)
    scaled = [o.request.body for o in result.requests if o.request.resource == "replicasets"]
    assert [(rs.metadata.name, rs.spec.replicas) for rs in scaled] == [("web-new", 1)]


# --- proportional scaling (sync_test.go TestScale) -----------------------------------------


@pytest.mark.parametrize(
    "old_size,new_size,sets,expected",
    [
        (10, 12, [("v1", 10, 0)], {"v1": 12}),  # normal scaling event
        (10, 5, [("v1", 10, 0)], {"v1": 5}),
        (5, 10, [("v2", 2, 2), ("v1", 3, 1)], {"v2": 4, "v1": 6}),
        (5, 3, [("v2", 2, 2), ("v1", 3, 1)], {"v2": 1, "v1": 2}),
        (9, 4, [("v2", 8, 2), ("v1", 1, 1)], {"v2": 4, "v1": 0}),
        (7, 10, [("v3", 2, 3), ("v2", 3, 2), ("v1", 2, 1)], {"v3": 3, "v2": 4, "v1": 3}),
        (13, 8, [("v3", 2, 3), ("v2", 8, 2), ("v1", 3, 1)], {"v3": 1, "v2": 5, "v1": 2}),
        (3, 4, [("v3", 1, 3), ("v2", 1, 2), ("v1", 1, 1)], {"v3": 2, "v2": 1, "v1": 1}),
        (3, 2, [("v3", 1, 3), ("v2", 1, 2), ("v1", 1, 1)], {"v3": 1, "v2": 1, "v1": 0}),
    ],
)
def test_proportional_scaling_table(old_size, new_size, sets, expected):
    """upstream TestScale (maxSurge 0): shares by max-replicas, leftovers to the largest, ties
    newer first when scaling up, older first when scaling down."""
    d = deployment(new_size, 0, 1)
    rss = [
        owned_rs(
            d,
            name,
            size,
            created=created,
            image=None if i == 0 else f"nginx:{name}",
            annotations={DESIRED_REPLICAS: str(old_size), MAX_REPLICAS: str(old_size)},
        )
        for i, (name, size, created) in enumerate(sets)
    ]
    p = plan(d)
    dr.scale(p, rss[0], rss[1:])
    after = {rs.metadata.name: rs.spec.replicas for rs in rss} | sizes(p)
    assert after == expected


def test_scale_zeroes_old_replicasets_beside_a_saturated_new_one():
    """upstream scale/IsSaturated: the new RS has, wants and runs all replicas → olds to 0."""
    d = deployment(3, 1, 0)
    new_rs = owned_rs(d, "new", 3, created=2, annotations={DESIRED_REPLICAS: "3"})
    old_rs = owned_rs(d, "old", 2, image="nginx:0")
    p = plan(d)
    dr.scale(p, new_rs, [old_rs])
    assert sizes(p) == {"old": 0}


def test_scaling_event_runs_sync_not_rollout():
    """upstream isScalingEvent: desired-replicas annotation ≠ spec.replicas → sync(), which
    scales the only active RS straight to spec.replicas (no surge step)."""
    d = deployment(5, 1, 0)
    rs = owned_rs(d, "web-a", 3, annotations={DESIRED_REPLICAS: "3", REVISION: "1"})
    result = reconcile(d, rs)
    bodies = [o.request.body for o in result.requests if o.request.resource == "replicasets"]
    assert [(b.spec.replicas, b.metadata.annotations[DESIRED_REPLICAS]) for b in bodies] == [
        (5, "5")
    ]


# --- the new replica set -------------------------------------------------------------------


def test_new_deployment_creates_its_replicaset_with_annotations():
    """upstream getNewReplicaSet: name <d>-<hash>, NewRSNewReplicas, revision 1,
    desired-replicas and max-replicas, a controller owner reference."""
    d = deployment(3, "25%", "25%")
    result = reconcile(d)
    [create] = result.requests
    rs = create.request.body
    assert create.request.verb == "create" and rs.spec.replicas == 3
    assert rs.metadata.name == new_replicaset(d).metadata.name
    assert dict(rs.metadata.annotations) == {
        REVISION: "1",
        DESIRED_REPLICAS: "3",
        MAX_REPLICAS: "4",
    }
    assert rs.metadata.controller_ref().uid == "d-uid"


def test_created_replicaset_writes_revision_and_new_replicaset_created():
    """upstream getNewReplicaSet after Create: revision annotation, Progressing True
    NewReplicaSetCreated; the sync is done once that write is answered."""
    controller, d = DeploymentController(), deployment()
    first = controller.reconcile(view(d), KEY, FrozenMap())
    sent = first.requests[0]
    after = controller.on_response(first.memory, sent, Response(201, sent.request.body), view(d))
    body = after.requests[0].request.body
    assert body.metadata.annotations[REVISION] == "1"
    assert du.get_condition(body.status, "Progressing").reason == "NewReplicaSetCreated"
    done = controller.on_response(after.memory, after.requests[0], Response(200), view(d))
    assert done.memory == FrozenMap() and done.requeue == ()


def test_hash_collision_bumps_collision_count():
    """upstream getNewReplicaSet (#29735): AlreadyExists with another owner or template →
    collisionCount+1 and a retry."""
    controller, d = DeploymentController(), deployment()
    first = controller.reconcile(view(d), KEY, FrozenMap())
    sent = first.requests[0]
    squatter = owned_rs(d, sent.request.body.metadata.name, 1, owner=False)
    exists = Response(409, Status(409, "AlreadyExists", "exists"))
    after = controller.on_response(first.memory, sent, exists, view(d, squatter))
    assert after.requests[0].request.body.status.collision_count == 1
    done = controller.on_response(after.memory, after.requests[0], Response(200), view(d))
    assert done.requeue == (KEY,) and done.memory[KEY].retries == 1
    assert new_replicaset(after.requests[0].request.body).metadata.name != squatter.metadata.name


def test_already_exists_but_ours_is_used_not_a_collision():
    """upstream: AlreadyExists of an RS we own with our template is the new RS (slow cache)."""
    controller, d = DeploymentController(), deployment()
    first = controller.reconcile(view(d), KEY, FrozenMap())
    sent = first.requests[0]
    ours = owned_rs(d, sent.request.body.metadata.name, 3)
    exists = Response(409, Status(409, "AlreadyExists", "exists"))
    after = controller.on_response(first.memory, sent, exists, view(d, ours))
    assert all(o.request.body.status.collision_count is None for o in after.requests)
    for o in after.requests:
        after = controller.on_response(after.memory, o, Response(200), view(d, ours))
    assert after.requeue == (KEY,) and KEY not in after.memory  # again, not an error


def test_oldest_matching_replicaset_is_the_new_one():
    """upstream FindNewReplicaSet (#40415): several RSs with the template → the oldest."""
    d = deployment()
    a, b = owned_rs(d, "web-b", 3, created=5), owned_rs(d, "web-a", 3, created=9)
    assert du.find_new_replicaset(d, [b, a]).metadata.name == "web-b"
    assert du.equal_ignore_hash(a.spec.template, d.spec.template)


# --- claiming ------------------------------------------------------------------------------


def _live(d: Deployment):
    api = api_state(default_users())
    api, r = handle(api, Request("kubernetes-admin", "create", "deployments", NS, body=d))
    assert r.ok, r
    return api, r.object


def test_adopts_a_matching_orphan_after_a_live_recheck():
    """upstream ClaimReplicaSets: an orphan matching the selector is adopted (#42639: after an
    uncached GET shows the Deployment alive with the same uid)."""
    api, live = _live(deployment())
    orphan = owned_rs(live, "web-x", 3, owner=False, annotations={DESIRED_REPLICAS: "3"})
    result = reconcile(live, orphan, api=api)
    adopt = result.requests[0]
    assert adopt.tag == ("adopt", "web-x-uid")
    assert adopt.request.body.metadata.controller_ref().uid == live.metadata.uid


def test_no_adoption_when_the_live_deployment_is_gone():
    """#42639: the cached Deployment exists but the live GET finds none → no adoption, error;
    with adopt_recheck off (the bug) it adopts anyway."""
    d = deployment()
    orphan = owned_rs(d, "web-x", 3, owner=False)
    result = reconcile(d, orphan)
    assert not any(o.tag[0] == "adopt" for o in result.requests)
    assert result.requeue == (KEY,) and result.memory[KEY].retries == 1
    buggy = reconcile(d, orphan, controller=DeploymentController(adopt_recheck=False))
    assert buggy.requests[0].tag == ("adopt", "web-x-uid")


def test_releases_an_owned_replicaset_that_no_longer_matches():
    """upstream ClaimObject: owned but the selector does not match → release."""
    d = deployment()
    rs = owned_rs(d, "web-x", 0)
    rs = replace(rs, metadata=replace(rs.metadata, labels=FrozenMap(app="other")))
    result = reconcile(d, rs)
    release = result.requests[0]
    assert release.tag == ("release", "web-x-uid")
    assert release.request.body.metadata.owner_references == ()


# --- syncDeployment's order ----------------------------------------------------------------


def test_deleting_deployment_only_syncs_status():
    """upstream syncDeployment: deletionTimestamp → syncStatusOnly, no scaling or create."""
    d = deployment()
    d = replace(d, metadata=replace(d.metadata, deletion_timestamp=1))
    old = owned_rs(d, "web-old", 3, image="nginx:0")
    result = reconcile(d, old)
    assert writes(result) == [("update", "deployments", "status")]


def test_paused_deployment_gets_paused_condition_and_no_rollout():
    """upstream checkPausedConditions + sync(): Progressing Unknown DeploymentPaused; a new
    template is not rolled out while paused."""
    d = deployment(paused=True)
    old = owned_rs(d, "web-old", 3, image="nginx:0", annotations={DESIRED_REPLICAS: "3"})
    result = reconcile(d, old)
    assert all(o.request.resource == "deployments" for o in result.requests)
    condition = du.get_condition(result.requests[0].request.body.status, "Progressing")
    assert (condition.status, condition.reason) == ("Unknown", "DeploymentPaused")


def test_selecting_all_only_observes_the_generation():
    """upstream syncDeployment: an empty selector selects everything: no sync."""
    d = deployment()
    d = replace(d, spec=replace(d.spec, selector=LabelSelector()))
    assert [o.request.body.status.observed_generation for o in reconcile(d).requests] == [1]


# --- Recreate ------------------------------------------------------------------------------


def _recreate() -> Deployment:
    d = deployment(3, strategy="Recreate")
    return replace(d, spec=replace(d.spec, strategy=DeploymentStrategy("Recreate")))


def test_recreate_scales_old_to_zero_first():
    """upstream rolloutRecreate: active old RSs go to 0; no new RS yet."""
    d = _recreate()
    old = owned_rs(d, "web-old", 3, image="nginx:0", annotations={DESIRED_REPLICAS: "3"})
    result = reconcile(d, old)
    bodies = [o.request.body for o in result.requests if o.request.resource == "replicasets"]
    assert [(b.metadata.name, b.spec.replicas) for b in bodies] == [("web-old", 0)]


def test_recreate_waits_while_old_replicaset_reports_pods():
    """upstream oldPodsRunning: an old RS with status.replicas > 0 → wait."""
    d = _recreate()
    old = owned_rs(d, "web-old", 0, actual=2, image="nginx:0")
    assert not any(o.request.verb == "create" for o in reconcile(d, old).requests)


def test_recreate_waits_for_old_pods_in_the_cache():
    """#32567: the old RS says 0 but a Running pod of it is still cached → wait; without the
    fix the new RS is created while an old pod runs."""
    d = _recreate()
    old = owned_rs(d, "web-old", 0, actual=0, image="nginx:0")
    pod = replace(pods_for_replicaset(old, 1)[0], status=PodStatus(phase="Running"))
    assert not any(o.request.verb == "create" for o in reconcile(d, old, pod).requests)
    buggy = DeploymentController(recreate_waits_for_pods=False)
    assert any(
        o.request.verb == "create" for o in reconcile(d, old, pod, controller=buggy).requests
    )
    done = replace(pod, status=PodStatus(phase="Succeeded"))
    assert any(o.request.verb == "create" for o in reconcile(d, old, done).requests)


def test_recreate_creates_new_at_full_size_once_old_pods_are_gone():
    d = _recreate()
    old = owned_rs(d, "web-old", 0, actual=0, image="nginx:0")
    [create] = [o for o in reconcile(d, old).requests if o.request.verb == "create"]
    assert create.request.body.spec.replicas == 3


# --- status and progress -------------------------------------------------------------------


def test_status_counts_and_available_condition():
    """upstream calculateStatus: replicas/ready/available summed over RS status, unavailable
    from Σspec, terminatingReplicas summed (KEP-3973), Available iff available ≥ n - maxUnav."""
    d = deployment(3, 1, 1)
    new = owned_rs(d, "web-new", 2, available=1, created=2, terminating_replicas=0)
    old = owned_rs(d, "web-old", 2, available=2, image="nginx:0", terminating_replicas=1)
    status = dr.calculate_status(plan(d), [old, new], new)
    assert (status.replicas, status.updated_replicas, status.available_replicas) == (4, 2, 3)
    assert (status.unavailable_replicas, status.terminating_replicas) == (1, 1)
    assert du.get_condition(status, "Available").reason == "MinimumReplicasAvailable"
    status = dr.calculate_status(plan(deployment(3, 1, 0)), [old, new], new)
    assert du.get_condition(status, "Available").status == "True"
    unknown = replace(old, status=replace(old.status, terminating_replicas=None))
    assert dr.calculate_status(plan(d), [unknown, new], new).terminating_replicas is None


def test_complete_rollout_is_new_replicaset_available():
    """upstream syncRolloutStatus: complete → Progressing True NewReplicaSetAvailable."""
    d = deployment()
    rs = owned_rs(d, "web-a", 3, annotations={DESIRED_REPLICAS: "3", REVISION: "1"})
    d = replace(d, metadata=replace(d.metadata, annotations=FrozenMap({REVISION: "1"})))
    condition = du.get_condition(status_of(reconcile(d, rs)).status, "Progressing")
    assert (condition.status, condition.reason) == ("True", "NewReplicaSetAvailable")


def _stuck(now: int, since: int = 0) -> Reconciled:
    d = deployment(3, 1, 0)
    new = owned_rs(d, "web-new", 1, available=0, created=2, annotations={REVISION: "2"})
    old = owned_rs(d, "web-old", 3, image="nginx:0", annotations={REVISION: "1"})
    spec_d = replace(d, metadata=replace(d.metadata, annotations=FrozenMap({REVISION: "2"})))
    progressing = Condition("Progressing", "True", "ReplicaSetUpdated", "", since, since)
    status = dr.calculate_status(plan(spec_d, since), [old, new], new)
    status = du.set_condition(status, progressing)
    return reconcile(replace(spec_d, status=status), new, old, now=now)


def test_stuck_rollout_requeues_at_the_deadline():
    """upstream requeueStuckDeployment (#34458): no progress → AddAfter(lastUpdate +
    deadline - now + 1s)."""
    result = _stuck(now=100)
    assert result.requests == () and result.after == ((KEY, 501),)


def test_progress_deadline_exceeded_after_the_deadline():
    """upstream DeploymentTimedOut: lastUpdateTime + deadline before now → Progressing False
    ProgressDeadlineExceeded (sticky, no rollback)."""
    assert _stuck(now=600).after == ((KEY, 1),)  # not yet: the deadline must be passed
    condition = du.get_condition(status_of(_stuck(now=601)).status, "Progressing")
    assert (condition.status, condition.reason) == ("False", "ProgressDeadlineExceeded")


@pytest.mark.parametrize(
    "status,expected",
    [((5, 5, 4), False), ((5, 5, 3), False), ((5, 5, 5), True), ((5, 4, 5), False)],
)
def test_deployment_complete_table(status, expected):
    """upstream TestDeploymentComplete (replicas, updated, available)."""
    replicas, updated, available = status
    s = DeploymentStatus(
        observed_generation=1,  # upstream's objects have generation 0; these have 1
        replicas=replicas,
        updated_replicas=updated,
        available_replicas=available,
    )
    assert du.deployment_complete(deployment(5, 0, 1), s) == expected


@pytest.mark.parametrize(
    "old,new,expected",
    [
        ((10, 4, 4, 4), (10, 6, 4, 4), True),
        ((10, 4, 4, 4), (10, 4, 4, 4), False),
        ((10, 4, 6, 6), (8, 4, 6, 6), True),
        ((10, 7, 3, 3), (10, 6, 3, 3), False),
        ((10, 4, 7, 7), (8, 8, 5, 5), True),
        ((10, 10, 9, 8), (10, 10, 10, 8), True),
        ((10, 10, 10, 9), (10, 10, 10, 10), True),
    ],
)
def test_deployment_progressing_table(old, new, expected):
    """upstream TestDeploymentProgressing (replicas, updated, ready, available)."""

    def status(t):
        return DeploymentStatus(
            replicas=t[0], updated_replicas=t[1], ready_replicas=t[2], available_replicas=t[3]
        )

    d = replace(deployment(), status=status(old))
    assert du.deployment_progressing(d, status(new)) == expected


def test_cleanup_deletes_oldest_revisions_beyond_the_limit():
    """upstream cleanupDeployment: oldest revisions first, beyond revisionHistoryLimit, never
    one with replicas."""
    d = deployment(revision_history_limit=1)
    new = owned_rs(d, "web-new", 3, created=9, annotations={DESIRED_REPLICAS: "3", REVISION: "4"})
    olds = [
        owned_rs(d, f"web-{r}", 0, created=r, image=f"nginx:old{r}", annotations={REVISION: str(r)})
        for r in (3, 1, 2)
    ]
    busy = owned_rs(d, "web-0", 1, created=0, image="nginx:x", annotations={REVISION: "0"})
    busy = replace(busy, spec=replace(busy.spec, replicas=0))
    d = replace(d, metadata=replace(d.metadata, annotations=FrozenMap({REVISION: "4"})))
    complete = DeploymentStatus(1, 3, 3, 3, 3)  # cleanup runs once the rollout is complete
    result = reconcile(replace(d, status=complete), new, busy, *olds)
    deleted = [o.request.name for o in result.requests if o.request.verb == "delete"]
    assert deleted == ["web-1", "web-2"]  # web-0 still has a pod; web-3 is kept


# --- terminating pods and the surge (KEP-3973 / #95498) --------------------------------------


def test_surge_ignores_terminating_pods_by_default():
    """Upstream today (no podReplacementPolicy): terminating pods do not count against maxSurge;
    with surge_counts_terminating (TerminationComplete) they do."""
    d = deployment(3, 1, 0)
    new = owned_rs(d, "web-new", 1, created=2, terminating_replicas=0)
    old = owned_rs(d, "web-old", 2, image="nginx:0", terminating_replicas=1)
    assert du.new_rs_new_replicas(d, [old, new], new) == 2
    assert du.new_rs_new_replicas(d, [old, new], new, count_terminating=True) == 1
    assert DeploymentController().surge_counts_terminating is False


# --- event handlers and retries ------------------------------------------------------------


def test_replicaset_events_enqueue_owner_or_matching_deployments():
    """upstream addReplicaSet/updateReplicaSet/deleteReplicaSet."""
    d, c = deployment(), DeploymentController()
    rs = owned_rs(d, "web-a", 3)
    v = view(d)
    assert c.keys(Delta("replicasets", "ADDED", rs), v) == (KEY,)
    orphan = owned_rs(d, "web-o", 3, owner=False)
    assert c.keys(Delta("replicasets", "ADDED", orphan), v) == (KEY,)
    assert c.keys(Delta("replicasets", "DELETED", orphan), v) == ()  # orphans: nobody cares
    assert c.keys(Delta("replicasets", "MODIFIED", rs, rs), v) == ()  # same RV: a resync
    stranger = replace(
        rs,
        metadata=replace(
            rs.metadata,
            owner_references=(
                OwnerReference("apps/v1", "Deployment", "web", "other-uid", controller=True),
            ),
        ),
    )
    assert c.keys(Delta("replicasets", "ADDED", stranger), v) == ()
    assert c.keys(Delta("deployments", "DELETED", d, tombstone=True), v) == (KEY,)


def test_pod_delete_enqueues_a_recreate_deployment_with_no_pods_left():
    """upstream deletePod: only Recreate, only once no pods remain (RSs listed live)."""
    d = _recreate()
    api, live = _live(d)
    rs = owned_rs(live, "web-old", 0, image="nginx:0")
    api, r = handle(api, Request("kubernetes-admin", "create", "replicasets", NS, body=rs))
    rs = r.object
    pods = pods_for_replicaset(rs, 2)
    c = DeploymentController()
    gone = Delta("pods", "DELETED", pods[0])
    assert c.keys(gone, view(live, rs, pods[1], api=api)) == ()
    assert c.keys(gone, view(live, rs, api=api)) == (KEY,)
    rolling = replace(live, spec=replace(live.spec, strategy=DeploymentStrategy("RollingUpdate")))
    assert c.keys(gone, view(rolling, rs, api=api)) == ()


def test_failed_write_requeues_until_max_retries():
    """upstream handleErr: rate-limited requeue while NumRequeues < maxRetries, then drop."""
    c = DeploymentController(max_retries=2)
    sent = Outgoing(Request("x", "update", "replicasets", NS, "a"), KEY, ("update", "a"))
    conflict = Response(409, Status(409, "Conflict", "modified"))
    memory = FrozenMap({KEY: KeyState(inflight=1)})
    requeues = []
    for _ in range(3):
        r = c.on_response(memory, sent, conflict, view())
        requeues.append(r.requeue)
        memory = r.memory.set(KEY, replace(r.memory.get(KEY, KeyState()), inflight=1))
    assert requeues == [(KEY,), (KEY,), ()]


def test_a_key_is_not_synced_while_its_writes_are_in_flight():
    """client-go workqueue: a key is never processed concurrently; re-added keys run again
    after Done."""
    c, d = DeploymentController(), deployment()
    first = c.reconcile(view(d), KEY, FrozenMap())
    second = c.reconcile(view(d), KEY, first.memory)
    assert second.requests == () and second.memory[KEY].dirty


# --- in the cluster ------------------------------------------------------------------------


@dataclass(frozen=True)
class StandInReplicaSetController:
    """A STAND-IN for the ReplicaSet controller (not the model's): one sync over every RS
    makes pods match spec.replicas (deterministic names, deletes before creates) and writes a
    status saying every pod it wants exists and is available."""

    name: str = "standin-replicaset"
    identity: str = "system:kube-controller-manager"
    process: str = "standin-replicaset"
    resources: tuple[str, ...] = ("replicasets", "pods")

    def initial_memory(self):
        return (0, False)  # requests in flight, an event came meanwhile

    def keys(self, delta, view):
        return ("all",)

    def observe(self, memory, delta, view):
        return memory

    def reconcile(self, view, key, memory):
        if memory[0]:
            return Reconciled((memory[0], True))
        deletes, creates, statuses = [], [], []
        for rs in view.list("replicasets"):
            ns, uid = rs.metadata.namespace, rs.metadata.uid
            have = {
                p.metadata.name
                for p in view.list("pods", ns)
                if (p.metadata.controller_ref() or OwnerReference("", "", "", "")).uid == uid
                and p.metadata.deletion_timestamp is None
            }
            want = pods_for_replicaset(rs, rs.spec.replicas)
            names = {p.metadata.name for p in want}
            deletes += [
                Request(self.identity, "delete", "pods", ns, n) for n in sorted(have - names)
            ]
            creates += [
                Request(self.identity, "create", "pods", ns, body=p)
                for p in want
                if p.metadata.name not in have
            ]
            n = len(want)
            status = ReplicaSetStatus(n, n, n, n, 0, rs.metadata.generation)
            if status != rs.status:
                body = replace(rs, status=status)
                statuses.append(
                    Request(
                        self.identity, "update", "replicasets", ns, rs.metadata.name, "status", body
                    )
                )
        requests = [*deletes, *creates, *statuses]
        return Reconciled((len(requests), False), tuple(Outgoing(r, key) for r in requests))

    def on_response(self, memory, sent, response, view):
        inflight, dirty = memory[0] - 1, memory[1] or response.code == 409
        if inflight == 0 and dirty:
            return Reconciled((0, False), requeue=("all",))
        return Reconciled((inflight, dirty))


def _listed(state, resource):
    _, r = handle(state.api, Request("kubernetes-admin", "list", resource, NS))
    return [o for o in r.items if o.metadata.deletion_timestamp is None]


def _run(state, limit=2000):
    """Step the first enabled action until nothing is enabled; the most pods seen."""
    most = 0
    for _ in range(limit):
        actions = enabled(state, NO_FAULTS)
        if not actions:
            return state, most
        state, _ = transition(state, actions[0])
        most = max(most, len(_listed(state, "pods")))
    raise AssertionError("the cluster did not settle")


def test_cluster_creates_then_rolls_over_within_the_surge():
    """A new Deployment of 3 gets one RS of 3; an image change with maxSurge 1 and
    maxUnavailable 0 rolls over to a new RS of 3, the old at 0, never more than 4 pods."""
    d = Deployment(
        ObjectMeta(name="web", namespace=NS),
        DeploymentSpec(
            LabelSelector(LABELS),
            template("nginx:1"),
            3,
            DeploymentStrategy("RollingUpdate", RollingUpdateDeployment(1, 0)),
        ),
    )
    create = Request("kubernetes-admin", "create", "deployments", NS, body=d)
    controllers = [DeploymentController(), StandInReplicaSetController()]
    state, most = _run(initial_state(controllers, api_state(default_users()), [create]))
    [rs1] = _listed(state, "replicasets")
    assert rs1.spec.replicas == 3 and most == 3 and len(_listed(state, "pods")) == 3

    live = read(state.api.store, "deployments", NS, "web")
    changed = replace(live, spec=replace(live.spec, template=template("nginx:2")))
    update = Request("kubernetes-admin", "update", "deployments", NS, "web", body=changed)
    state, most = _run(replace(state, clients=(update,)))
    sets = {rs.metadata.name: rs for rs in _listed(state, "replicasets")}
    assert most == 4
    assert sets[rs1.metadata.name].spec.replicas == 0
    [new] = [rs for name, rs in sets.items() if name != rs1.metadata.name]
    assert new.spec.replicas == 3 and new.metadata.annotations[REVISION] == "2"
    pods = _listed(state, "pods")
    assert [p.spec.containers[0].image for p in pods] == ["nginx:2"] * 3
    final = read(state.api.store, "deployments", NS, "web")
    assert final.metadata.annotations[REVISION] == "2"
    assert du.get_condition(final.status, "Progressing").reason == "NewReplicaSetAvailable"
    assert (final.status.updated_replicas, final.status.available_replicas) == (3, 3)


def test_pods_named_as_the_standin_names_them():
    """The stand-in's pods are the model's pod_from_template (a sanity check of the helper)."""
    rs = owned_rs(deployment(), "web-a", 2)
    assert all(
        isinstance(p, Pod) and p.metadata.name.startswith("web-a-")
        for p in pods_for_replicaset(rs, 2)
    )
