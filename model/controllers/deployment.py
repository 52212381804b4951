"""The Deployment controller: event handlers, syncDeployment, and what its responses mean.

It keeps no expectations (#22061): every sync works from the informer caches, so a stale cache
can repeat a write, which the api-server's resourceVersion check turns into a 409 and a retry.
The rollout itself is in deployment_rollout.py, the arithmetic in deployment_util.py.

upstream: pkg/controller/deployment/deployment_controller.go (handlers, syncDeployment,
getReplicaSetsForDeployment, handleErr) and sync.go getNewReplicaSet (the create's outcome).

Switches (defaults are today's upstream):
- ``adopt_recheck``: before adopting, an uncached GET checks that the Deployment is not being
  deleted and is the same object (#42639); off, a deleted Deployment can adopt orphans.
- ``recreate_waits_for_pods``: Recreate waits until the old pods are gone from the pod cache,
  not only until the old ReplicaSets report none (#32567).
- ``surge_counts_terminating``: count terminating pods (status.terminatingReplicas) against
  maxSurge. Upstream today does not: a rolling update creates replacements as soon as old pods
  start terminating, so pods can exceed replicas + maxSurge (#95498). KEP-3973 added
  status.terminatingReplicas (DeploymentReplicaSetTerminatingReplicas, beta, on); counting them
  is the TerminationComplete policy of spec.podReplacementPolicy (KEP-5882,
  DeploymentPodReplacementPolicy, off by default), so the default is False.

>>> from kubeproof.model.apiserver.server import default_users, initial_state
>>> from kubeproof.model.objects import *
>>> template = PodTemplateSpec(ObjectMeta(labels=FrozenMap(app="web")),
...                            PodSpec(containers=(Container("c", "nginx"),)))
>>> d = Deployment(ObjectMeta(name="web", namespace="default", uid="uid-9", generation=1),
...     DeploymentSpec(LabelSelector(FrozenMap(app="web")), template, 3,
...                    DeploymentStrategy("RollingUpdate", RollingUpdateDeployment("25%", "25%")),
...                    progress_deadline_seconds=600, revision_history_limit=10))
>>> view = View("deployment", 0, FrozenMap(deployments=FrozenMap({"default/web": d})),
...             initial_state(default_users()))
>>> out = DeploymentController().reconcile(view, "default/web", FrozenMap())
>>> [(o.request.verb, o.request.resource, o.request.body.spec.replicas) for o in out.requests]
[('create', 'replicasets', 3)]
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from kubeproof.model.apiserver.server import Request, Response, handle
from kubeproof.model.controllers import deployment_util as du
from kubeproof.model.controllers.deployment_rollout import (
    IDENTITY,
    Plan,
    Stop,
    get_all,
    rollout_recreate,
    rollout_rolling,
    sync,
    sync_status,
)
from kubeproof.model.controllers.protocol import Delta, Outgoing, Reconciled, View
from kubeproof.model.objects import (
    Deployment,
    FrozenMap,
    OwnerReference,
    Pod,
    ReplicaSet,
    object_key,
)
from kubeproof.model.workloads import DESIRED_REPLICAS, REVISION

__all__ = ["DeploymentController", "KeyState"]


@dataclass(frozen=True, slots=True)
class KeyState:
    """The work queue's view of one key, kept in memory (lost on a crash, as upstream)."""

    inflight: int = 0  # requests of the running sync not answered yet (client-go: processing)
    dirty: bool = False  # added again meanwhile: processed again once this sync is done
    failed: bool = False  # a request of the running sync failed
    retries: int = 0  # failed syncs in a row (NumRequeues)


@dataclass(frozen=True)
class DeploymentController:
    """kube-controller-manager's deployment controller; memory: a KeyState per busy key.

    Upstream writes synchronously inside a sync, so a key's next sync never overlaps its
    writes; here a sync's writes wait in the outbox, so a key whose writes are in flight is
    marked dirty and synced again when the last response is in."""

    name: str = "deployment"
    identity: str = IDENTITY
    process: str = "kube-controller-manager"
    resources: tuple[str, ...] = ("deployments", "replicasets", "pods")
    adopt_recheck: bool = True
    recreate_waits_for_pods: bool = True
    surge_counts_terminating: bool = False
    max_retries: int = 15  # upstream: deployment_controller.go maxRetries

    def initial_memory(self) -> FrozenMap:
        return FrozenMap()

    # --- event handlers --------------------------------------------------------------------

    def keys(self, delta: Delta, view: View) -> tuple[str, ...]:
        if delta.resource == "deployments":  # add, update, delete: enqueue
            return (delta.key,)
        if delta.resource == "replicasets":
            return _replicaset_keys(delta, view)
        if delta.resource == "pods" and delta.type == "DELETED":
            return _deleted_pod_keys(delta.object, view)
        return ()

    def observe(self, memory: FrozenMap, delta: Delta, view: View) -> FrozenMap:
        return memory  # no expectations (#22061)

    # --- syncDeployment --------------------------------------------------------------------

    def reconcile(self, view: View, key: str, memory: FrozenMap) -> Reconciled:
        state = memory.get(key, KeyState())
        if state.inflight:  # client-go: a key is never processed twice at once; re-added
            return Reconciled(memory.set(key, replace(state, dirty=True)))  # when done
        d = view.get("deployments", key)
        if d is None:  # deleted: nothing to do
            return self._done(memory, key, state)
        plan = Plan(d, view.now)
        try:
            failed = self._sync(plan, view)
        except Stop:  # the new ReplicaSet is being created: its response decides what next
            failed = False
        after = ((key, plan.after),) if plan.after is not None else ()
        state = replace(state, inflight=len(plan.ops), failed=failed)
        if plan.ops:
            return Reconciled(memory.set(key, state), tuple(plan.ops), after=after)
        return replace(self._done(memory, key, state), after=after)

    def _sync(self, plan: Plan, view: View) -> bool:
        """One syncDeployment, in upstream's order; True if it ends in an error."""
        d = plan.deployment
        selector = d.spec.selector
        if selector is None or (not selector.match_labels and not selector.match_expressions):
            # "SelectingAll": a Deployment must not select every pod
            if d.status.observed_generation < d.metadata.generation:
                status = replace(d.status, observed_generation=d.metadata.generation)
                plan.update_status(replace(d, status=status))
            return False
        sets, failed = self._claim(plan, view)
        if failed:
            return True
        pods = du.pod_map(d, sets, view.list("pods", d.metadata.namespace))
        if d.metadata.deletion_timestamp is not None:  # syncStatusOnly
            new, old = get_all(plan, sets, False)
            sync_status(plan, [*old, new], new)
            return False
        _check_paused_conditions(plan)
        if plan.deployment.spec.paused or _is_scaling_event(plan, sets):
            sync(plan, sets)
        elif d.spec.strategy is not None and d.spec.strategy.type == "Recreate":
            rollout_recreate(plan, sets, pods, self.recreate_waits_for_pods)
        elif d.spec.strategy is not None and d.spec.strategy.type == "RollingUpdate":
            rollout_rolling(plan, sets, self.surge_counts_terminating)
        return False

    def _claim(self, plan: Plan, view: View) -> tuple[list[ReplicaSet], bool]:
        """upstream getReplicaSetsForDeployment / ClaimReplicaSets: the ReplicaSets this
        Deployment owns, adopting matching orphans and releasing owned ones that no longer
        match; (claimed, whether an adoption was refused)."""
        d = plan.deployment
        meta = d.metadata
        claimed, refused, recheck = [], False, None
        for rs in view.list("replicasets", meta.namespace):
            ref, matches = rs.metadata.controller_ref(), du.selects(d, rs.metadata.labels)
            if ref is not None:
                if ref.uid != meta.uid:
                    continue  # someone else's
                if matches:
                    claimed.append(rs)
                elif meta.deletion_timestamp is None:
                    kept = tuple(r for r in rs.metadata.owner_references if r.uid != meta.uid)
                    plan.claim(_with_owners(rs, kept), "release")
                continue
            if meta.deletion_timestamp is not None or not matches:
                continue
            if rs.metadata.deletion_timestamp is not None:
                continue
            if self.adopt_recheck:
                if recheck is None:  # once per sync (canAdoptOnce), uncached (#42639)
                    fresh = view.live_get("deployments", meta.namespace, meta.name)
                    recheck = (
                        fresh is not None
                        and fresh.metadata.uid == meta.uid
                        and fresh.metadata.deletion_timestamp is None
                    )
                if not recheck:
                    refused = True
                    continue
            owner = OwnerReference(
                Deployment.API_VERSION,
                Deployment.KIND,
                meta.name,
                meta.uid,
                controller=True,
                block_owner_deletion=True,
            )
            plan.claim(_with_owners(rs, (*rs.metadata.owner_references, owner)), "adopt")
            claimed.append(rs)  # the cached object, as upstream: a later update of it conflicts
        return claimed, refused

    # --- responses -------------------------------------------------------------------------

    def on_response(
        self, memory: FrozenMap, sent: Outgoing, response: Response, view: View
    ) -> Reconciled:
        key = sent.key
        state = memory.get(key, KeyState(inflight=1))
        kind = sent.tag[0] if isinstance(sent.tag, tuple) else None
        more: tuple[Outgoing, ...] = ()
        if kind == "create":
            more, outcome = _created(sent, response, view)
            state = replace(
                state,
                failed=state.failed or outcome == "failed",
                dirty=state.dirty or outcome == "again",
            )
        elif not response.ok and not (
            response.code == 404 and kind in ("delete", "adopt", "release")
        ):
            state = replace(state, failed=True)
        state = replace(state, inflight=state.inflight - 1 + len(more))
        if state.inflight:
            return Reconciled(memory.set(key, state), more)
        return self._done(memory, key, state)

    def _done(self, memory: FrozenMap, key: str, state: KeyState) -> Reconciled:
        """The sync's last response is in (upstream: processNextWorkItem's handleErr and
        queue.Done): on an error requeue, rate-limited, up to maxRetries, then drop the key;
        requeue too if an event came while it was in flight."""
        retries, requeue = 0, state.dirty
        if state.failed and state.retries < self.max_retries:
            retries, requeue = state.retries + 1, True
        memory = memory.set(key, KeyState(retries=retries)) if retries else memory.without(key)
        return Reconciled(memory, requeue=(key,) if requeue else ())


def _created(sent: Outgoing, response: Response, view: View) -> tuple[tuple[Outgoing, ...], str]:
    """The outcome of creating the new ReplicaSet (upstream getNewReplicaSet after Create):
    the status writes that follow, and whether the sync "failed", must run "again", or is "ok"."""
    _, d, rs, revision = sent.tag
    key, name = sent.key, rs.metadata.name
    if response.code == 201:
        d, changed = _revised(d, revision)
        if du.has_progress_deadline(d):
            message = f'Created new replica set "{name}"'
            condition = du.new_condition(
                du.PROGRESSING, "True", du.NEW_RS_CREATED, message, view.now
            )
            d, changed = replace(d, status=du.set_condition(d.status, condition)), True
        return (_status_update(d, key) if changed else ()), "ok"
    status = response.status
    if status is not None and status.reason == "AlreadyExists":
        found = view.get("replicasets", object_key(rs))
        if found is None:
            return (), "failed"
        ref = found.metadata.controller_ref()
        if (
            ref is not None
            and ref.uid == d.metadata.uid
            and du.equal_ignore_hash(d.spec.template, found.spec.template)
        ):
            # ours after all (a slow cache): upstream carries on with it; the model syncs again
            d, changed = _revised(d, revision)
            return (_status_update(d, key) if changed else ()), "again"
        # a hash collision (#29735): bump collisionCount, so the next name differs
        count = (d.status.collision_count or 0) + 1
        d = replace(d, status=replace(d.status, collision_count=count))
        return _status_update(d, key), "failed"
    if status is not None and "because it is being terminated" in status.message:
        return (), "ok"  # NamespaceTerminatingCause: handleErr forgets the key
    if not du.has_progress_deadline(d):
        return (), "failed"
    message = f'Failed to create new replica set "{name}": {status.message if status else ""}'
    condition = du.new_condition(du.PROGRESSING, "False", du.FAILED_RS_CREATE, message, view.now)
    return _status_update(replace(d, status=du.set_condition(d.status, condition)), key), "failed"


# --- helpers -------------------------------------------------------------------------------


def _with_owners(rs: ReplicaSet, owners: tuple[OwnerReference, ...]) -> ReplicaSet:
    return replace(rs, metadata=replace(rs.metadata, owner_references=owners))


def _revised(d: Deployment, revision: str) -> tuple[Deployment, bool]:
    """upstream SetDeploymentRevision: (the Deployment, whether the annotation changed)."""
    if d.metadata.annotations.get(REVISION) == revision:
        return d, False
    return du.with_revision(d, revision), True


def _status_update(d: Deployment, key: str) -> tuple[Outgoing, ...]:
    meta = d.metadata
    request = Request(
        IDENTITY, "update", "deployments", meta.namespace, meta.name, "status", body=d
    )
    return (Outgoing(request, key, ("status",)),)


def _check_paused_conditions(plan: Plan) -> None:
    """upstream checkPausedConditions: Progressing Unknown while paused (and on resume), so a
    paused time never counts against the progress deadline; a timeout is never overwritten."""
    d = plan.deployment
    if not du.has_progress_deadline(d):
        return
    current = du.get_condition(d.status, du.PROGRESSING)
    if current is not None and current.reason == du.TIMED_OUT:
        return
    paused = current is not None and current.reason == du.PAUSED
    if d.spec.paused and not paused:
        reason, message = du.PAUSED, "Deployment is paused"
    elif not d.spec.paused and paused:
        reason, message = du.RESUMED, "Deployment is resumed"
    else:
        return
    condition = du.new_condition(du.PROGRESSING, "Unknown", reason, message, plan.now)
    plan.update_status(replace(d, status=du.set_condition(d.status, condition)))


def _is_scaling_event(plan: Plan, sets: list[ReplicaSet]) -> bool:
    """upstream isScalingEvent: an active ReplicaSet's desired-replicas annotation differs
    from spec.replicas."""
    new, old = get_all(plan, sets, False)
    for rs in du.active([*old, new]):
        try:
            desired = int(rs.metadata.annotations[DESIRED_REPLICAS])
        except (KeyError, ValueError):
            continue
        if desired != du.replicas(plan.deployment):
            return True
    return False


def _resolve(view: View, namespace: str, ref: OwnerReference | None) -> Deployment | None:
    """upstream resolveControllerRef: the cached Deployment the reference names, same uid."""
    if ref is None or ref.kind != Deployment.KIND:
        return None
    d = view.get("deployments", f"{namespace}/{ref.name}")
    return d if d is not None and d.metadata.uid == ref.uid else None


def _matching(view: View, rs: ReplicaSet) -> tuple[str, ...]:
    """upstream getDeploymentsForReplicaSet: every Deployment whose selector matches an
    orphan's labels."""
    if not rs.metadata.labels:
        return ()
    return tuple(
        object_key(d)
        for d in view.list("deployments", rs.metadata.namespace)
        if du.selects(d, rs.metadata.labels)
    )


def _replicaset_keys(delta: Delta, view: View) -> tuple[str, ...]:
    """upstream addReplicaSet, updateReplicaSet, deleteReplicaSet."""
    rs, ns = delta.object, delta.object.metadata.namespace
    ref = rs.metadata.controller_ref()
    if delta.type == "DELETED" or (delta.type == "ADDED" and rs.metadata.deletion_timestamp):
        d = _resolve(view, ns, ref)  # an orphan's deletion concerns no one
        return (object_key(d),) if d is not None else ()
    if delta.type == "ADDED" or delta.old is None:
        if ref is not None:
            d = _resolve(view, ns, ref)
            return (object_key(d),) if d is not None else ()
        return _matching(view, rs)
    old = delta.old
    if rs.metadata.resource_version == old.metadata.resource_version:
        return ()  # a resync
    keys: list[str] = []
    old_ref = old.metadata.controller_ref()
    if old_ref != ref and old_ref is not None:
        d = _resolve(view, ns, old_ref)
        keys += [object_key(d)] if d is not None else []
    if ref is not None:
        d = _resolve(view, ns, ref)
        keys += [object_key(d)] if d is not None else []
    elif old_ref != ref or rs.metadata.labels != old.metadata.labels:
        keys += _matching(view, rs)
    return tuple(dict.fromkeys(keys))


def _deleted_pod_keys(pod: Pod, view: View) -> tuple[str, ...]:
    """upstream deletePod: a Recreate Deployment is synced once it has no pods left."""
    ns = pod.metadata.namespace
    ref = pod.metadata.controller_ref()
    if ref is None or ref.kind != ReplicaSet.KIND:
        return ()
    rs = view.get("replicasets", f"{ns}/{ref.name}")
    if rs is None or rs.metadata.uid != ref.uid:
        return ()
    d = _resolve(view, ns, rs.metadata.controller_ref())
    if d is None or d.spec.strategy is None or d.spec.strategy.type != "Recreate":
        return ()
    # upstream lists the ReplicaSets uncached (util.RsListFromClient), the pods from the cache
    _, listed = handle(view.api, Request(IDENTITY, "list", "replicasets", ns))
    owned = [
        r
        for r in listed.items
        if du.selects(d, r.metadata.labels)
        and (r.metadata.controller_ref() or OwnerReference("", "", "", "")).uid == d.metadata.uid
    ]
    pods = du.pod_map(d, owned, view.list("pods", ns))
    return (object_key(d),) if not any(pods.values()) else ()
