"""The api-server as a pure function: ``handle(state, request) -> (state, response)``.

A request is authenticated (401), authorized by RBAC (403, rbac.py), decoded with the scheme's
defaults, admitted (admission.py), prepared by the registry strategy of its kind, and written to
etcd with a compare-and-swap. Objects live under ``/registry/<resource>/<namespace>/<name>``
(``/registry/<resource>/<name>`` for cluster objects; upstream keeps nodes under "minions"),
stored without a resourceVersion; every read fills it in from the key's mod_revision.
Any request that fails leaves the state exactly as it was.

>>> from kubeproof.model.objects import Container, ObjectMeta, Pod, PodSpec
>>> state = initial_state(default_users(nodes=("node-1",)))
>>> pod = Pod(ObjectMeta(name="web"), PodSpec(containers=(Container("c", "nginx"),)))
>>> state, r = handle(state, Request("kubernetes-admin", "create", "pods", "default", body=pod))
>>> r.code, r.object.metadata.uid, r.object.status.phase
(201, 'uid-5', 'Pending')
>>> state, r = handle(state, Request("system:kube-scheduler", "create", "pods", "default", "web",
...                                  subresource="binding", body=Binding("node-1")))
>>> r.code, read(state.store, "pods", "default", "web").spec.node_name
(201, 'node-1')
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from kubeproof.model.apiserver import etcd
from kubeproof.model.apiserver.admission import (
    Attributes,
    Status,
    already_exists,
    bad_request,
    check,
    conflict,
    forbidden,
    invalid,
    invalid_status,
    mutate,
    not_found,
    qualified_kind,
    qualified_resource,
    with_defaults,
)
from kubeproof.model.apiserver.rbac import User, authorize, default_users, node_of
from kubeproof.model.apiserver.services import allocate, prepare_create, prepare_update
from kubeproof.model.objects import (
    KINDS,
    Condition,
    Deployment,
    DeploymentStatus,
    EndpointSlice,
    FrozenMap,
    GenericObject,
    Namespace,
    NamespaceStatus,
    Node,
    Object,
    ObjectMeta,
    Pod,
    PodStatus,
    ReplicaSet,
    ReplicaSetStatus,
    Service,
)
from kubeproof.model.validation import FieldError

__all__ = [
    "ApiState",
    "Binding",
    "Preconditions",
    "Request",
    "Response",
    "Status",
    "default_users",
    "handle",
    "initial_state",
    "key_of",
    "prefix_of",
    "read",
    "tick",
]

# upstream: registry/generic/registry/store.go OptimisticLockErrorMsg
OPTIMISTIC_LOCK = (
    "the object has been modified; please apply your changes to the latest version and try again"
)
ORPHAN, FOREGROUND = "orphan", "foregroundDeletion"
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
LOOPBACK = User("system:apiserver", ("system:masters", "system:authenticated"))
_TYPED = FrozenMap((cls.RESOURCE, cls) for cls in KINDS.values())


@dataclass(frozen=True, slots=True)
class Binding:
    """The body of ``pods/binding``: bind the pod to ``target_node``."""

    target_node: str


@dataclass(frozen=True, slots=True)
class Preconditions:
    """metav1.Preconditions of a delete or a binding."""

    uid: str | None = None
    resource_version: str | None = None


@dataclass(frozen=True, slots=True)
class Request:
    """One API request. Delete options (preconditions, propagation_policy — Orphan, Foreground,
    Background — and grace_period_seconds) are fields here rather than a body;
    ``resource_version`` is the list/watch parameter (an update carries its own in the body)."""

    user: str
    verb: str  # create, get, list, update, delete, deletecollection, watch
    resource: str
    namespace: str = ""
    name: str = ""
    subresource: str = ""  # "", "status", "binding", "finalize" (namespaces)
    body: Any = None
    preconditions: Preconditions | None = None
    resource_version: str = ""
    propagation_policy: str | None = None
    grace_period_seconds: int | None = None


@dataclass(frozen=True, slots=True)
class Response:
    """``object`` is the object, a :class:`Status` on failure, or None; ``items`` holds a list's
    objects or a watch's events; ``resource_version`` is a list's or watch's revision."""

    code: int
    object: Any = None
    items: tuple[Any, ...] = ()
    resource_version: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.code < 300

    @property
    def status(self) -> Status | None:
        return self.object if isinstance(self.object, Status) else None


_EMPTY_STORE, _NO_USERS = etcd.Store(), FrozenMap()


@dataclass(frozen=True, slots=True)
class ApiState:
    """Everything the api-server and etcd hold: the store, the next uid, the clock (seconds)
    and the known users (name -> rbac.User)."""

    store: etcd.Store = _EMPTY_STORE
    next_uid: int = 1
    now: int = 0
    users: FrozenMap = _NO_USERS


def _fail(state: ApiState, status: Status) -> tuple[ApiState, Response]:
    return state, Response(status.code, status)


# --- storage layout and reads (upstream: storage/etcd3/store.go) --------------------------


def _namespaced(resource: str, namespace: str) -> bool:
    cls = _TYPED.get(resource)
    return cls.NAMESPACED if cls is not None else bool(namespace)


def key_of(resource: str, namespace: str, name: str) -> str:
    """The etcd key of one object."""
    if _namespaced(resource, namespace):
        return f"/registry/{resource}/{namespace}/{name}"
    return f"/registry/{resource}/{name}"


def prefix_of(resource: str, namespace: str = "") -> str:
    """The etcd prefix of a resource, or of its objects in one namespace."""
    if namespace and _namespaced(resource, namespace):
        return f"/registry/{resource}/{namespace}/"
    return f"/registry/{resource}/"


def with_rv(obj: Object, revision: int) -> Object:
    """The object as read: resourceVersion is the key's mod_revision (etcd3 APIObjectVersioner)."""
    return replace(obj, metadata=replace(obj.metadata, resource_version=str(revision)))


def _stored(obj: Object) -> Object:
    return replace(obj, metadata=replace(obj.metadata, resource_version=""))


def read(store: etcd.Store, resource: str, namespace: str, name: str) -> Object | None:
    """The stored object with its resourceVersion, or None."""
    kv = store.get(key_of(resource, namespace, name))
    return None if kv is None else with_rv(kv.value, kv.mod_revision)


def _lookup(state: ApiState):
    return lambda resource, namespace, name: read(state.store, resource, namespace, name)


def _put(state: ApiState, key: str, obj: Object, expect_mod: int) -> tuple[ApiState, Object]:
    """Compare-and-swap write: create when expect_mod is 0 (upstream: etcd3 store.go Create's
    txn on mod_revision == 0), else update if the key is unchanged (GuaranteedUpdate)."""
    compare = etcd.Compare(key, "MOD", "EQUAL", expect_mod)
    store, resp = etcd.apply(state.store, etcd.Txn((compare,), (etcd.Put(key, _stored(obj)),)))
    assert isinstance(resp, etcd.TxnResponse) and resp.succeeded, resp  # single writer
    return replace(state, store=store), with_rv(obj, resp.header_revision)


def _delete(state: ApiState, key: str, expect_mod: int) -> ApiState:
    compare = etcd.Compare(key, "MOD", "EQUAL", expect_mod)
    store, resp = etcd.apply(state.store, etcd.Txn((compare,), (etcd.DeleteRange(key),)))
    assert isinstance(resp, etcd.TxnResponse) and resp.succeeded, resp
    return replace(state, store=store)


def _mod(obj: Object) -> int:
    return int(obj.metadata.resource_version)


def _attrs(op: str, request: Request, user: User, obj: Any, old: Any, name: str) -> Attributes:
    """The admission attributes of a request (the object's name on create)."""
    return Attributes(
        op,
        request.resource,
        request.subresource,
        request.namespace,
        name,
        obj,
        old,
        user.name,
        node_of(user),
    )


# --- entry points --------------------------------------------------------------------------


def initial_state(users: FrozenMap | None = None, namespaces=SYSTEM_NAMESPACES) -> ApiState:
    """A fresh cluster: the given users and the system namespaces, clock at 0."""
    state = ApiState(users=default_users() if users is None else users)
    for ns in namespaces:
        request = Request(LOOPBACK.name, "create", "namespaces", body=Namespace(ObjectMeta(ns)))
        state, r = _create(state, LOOPBACK, request)
        assert r.ok, r
    return state


def tick(state: ApiState, seconds: int) -> ApiState:
    """The clock advanced by ``seconds``."""
    return replace(state, now=state.now + seconds)


def authenticate(state: ApiState, request: Request) -> User | Status:
    """The request's user, 401, or upstream's 403 from RBAC."""
    user = state.users.get(request.user)
    if user is None:  # upstream: endpoints/filters/authentication.go
        return Status(401, "Unauthorized", "Unauthorized")
    ns = request.namespace if _namespaced(request.resource, request.namespace) else ""
    why = authorize(user, request.verb, request.resource, request.subresource, ns, request.name)
    if why is not None:
        return forbidden(request.resource, request.name, why)
    return user


NO_ROUTE = Status(404, "NotFound", "the server could not find the requested resource")


def handle(state: ApiState, request: Request) -> tuple[ApiState, Response]:
    """Serve one request; on any failure the returned state is ``state`` itself."""
    body_meta = getattr(request.body, "metadata", None)
    if request.verb == "create" and not request.namespace and body_meta is not None:
        request = replace(request, namespace=body_meta.namespace)  # as client-go builds the URL
    if not _namespaced(request.resource, request.namespace):
        request = replace(request, namespace="")
    user = authenticate(state, request)
    if isinstance(user, Status):
        return _fail(state, user)
    verb, sub = request.verb, request.subresource
    if (
        verb not in ("list", "watch")
        and _namespaced(request.resource, "")
        and not request.namespace
    ):
        return _fail(state, NO_ROUTE)  # a namespaced object needs a namespace
    if verb == "create" and sub == "binding" and request.resource == "pods":
        return _bind(state, user, request)
    if verb == "create" and not sub:
        return _create(state, user, request)
    if verb == "get" and sub in ("", "status"):
        obj = read(state.store, request.resource, request.namespace, request.name)
        if obj is None:
            return _fail(state, not_found(request.resource, request.name))
        return state, Response(200, obj)
    if verb == "list" and not sub:
        return state, _list(state, request)
    if verb == "update" and sub in ("", "status", "finalize"):
        return _update(state, user, request)
    if verb == "delete" and not sub:
        return _delete_request(state, user, request)
    if verb == "deletecollection" and not sub:
        return _delete_collection(state, user, request)
    if verb == "watch" and not sub:
        from kubeproof.model.apiserver.watch import watch_events

        return state, watch_events(state, request)
    return _fail(state, NO_ROUTE)


def parse_rv(rv: str) -> int | Status:
    """A list/watch resourceVersion parameter as a revision ("" and "0" are 0)."""
    if rv in ("", "0"):
        return 0
    if not rv.isdigit():
        return bad_request(f'invalid resource version "{rv}"')
    return int(rv)


def _list(state: ApiState, request: Request) -> Response:
    rev, wanted = state.store.revision, parse_rv(request.resource_version)
    if isinstance(wanted, Status):
        return Response(wanted.code, wanted)
    if wanted > rev:
        # upstream: cacher/watch_cache.go waitUntilFreshAndBlock
        msg = f"Too large resource version: {request.resource_version}, current: {rev}"
        return Response(504, Status(504, "Timeout", msg))
    prefix = prefix_of(request.resource, request.namespace)
    r = etcd.range_(state.store, prefix, etcd.prefix_end(prefix))
    assert isinstance(r, etcd.RangeResponse)
    items = tuple(with_rv(kv.value, kv.mod_revision) for kv in r.kvs)
    return Response(200, None, items, str(r.header_revision))


# --- create (upstream: registry/generic/registry/store.go Create, rest/create.go) -----------

# upstream: apimachinery/pkg/util/rand alphanums; names.SimpleNameGenerator appends 5 of them
_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"
# upstream: store.go maxNameGenerationCreateAttempts (feature RetryGenerateName, GA in 1.32)
_NAME_ATTEMPTS = 8


_SUFFIX_MULTIPLIER = 2654435761  # coprime with 27**5: multiplying by it is a bijection


def generated_suffix(n: int) -> str:
    """Five characters from counter ``n``; a bijection on 27**5 values, so no repeats."""
    x = (n * _SUFFIX_MULTIPLIER) % 27**5
    chars = []
    for _ in range(5):
        x, d = divmod(x, 27)
        chars.append(_ALPHANUMS[d])
    return "".join(chars)


def suffix_counter(suffix: str) -> int | None:
    """The counter in [0, 27**5) whose ``generated_suffix`` is ``suffix``, or None: the
    inverse, for reading generated names back (properties/canonical.py)."""
    if len(suffix) != 5 or not all(c in _ALPHANUMS for c in suffix):
        return None
    x = 0
    for c in reversed(suffix):
        x = x * 27 + _ALPHANUMS.index(c)
    return x * pow(_SUFFIX_MULTIPLIER, -1, 27**5) % 27**5


def _check_body(request: Request, body: Any) -> Status | None:
    cls = _TYPED.get(request.resource, GenericObject)
    if not isinstance(body, cls):
        return bad_request(f"the body of a {request.resource} request must be a {cls.__name__}")
    ns = body.metadata.namespace
    if _namespaced(request.resource, request.namespace) and ns and ns != request.namespace:
        return bad_request(
            "the namespace of the provided object does not match the namespace sent on the request"
        )
    return None


def _prepare_for_create(obj: Object, uid: int, now: int) -> Object:
    """rest.BeforeCreate: system fields, the generated name, then the strategy's
    PrepareForCreate (pod/deployment/replicaset/namespace strategy.go)."""
    meta = obj.metadata
    name = meta.name or (meta.generate_name + generated_suffix(uid))
    meta = replace(
        meta,
        name=name,
        uid=f"uid-{uid}",
        creation_timestamp=now,
        resource_version="",
        deletion_timestamp=None,
        deletion_grace_period_seconds=None,
        generation=1 if isinstance(obj, Pod | Deployment | ReplicaSet | EndpointSlice) else 0,
    )
    obj = replace(obj, metadata=meta)
    if isinstance(obj, Service):
        return prepare_create(obj)
    if isinstance(obj, Pod):
        conditions = ()
        if obj.spec.scheduling_gates:  # applySchedulingGatedCondition
            msg = "Scheduling is blocked due to non-empty scheduling gates"
            conditions = (Condition("PodScheduled", "False", "SchedulingGated", msg),)
        return replace(obj, status=PodStatus(phase="Pending", conditions=conditions))
    if isinstance(obj, Deployment):
        return replace(obj, status=DeploymentStatus())
    if isinstance(obj, ReplicaSet):
        return replace(obj, status=ReplicaSetStatus())
    if isinstance(obj, Namespace):
        finalizers = obj.spec.finalizers
        if "kubernetes" not in finalizers:
            finalizers = (*finalizers, "kubernetes")
        return replace(
            obj,
            spec=replace(obj.spec, finalizers=finalizers),
            status=NamespaceStatus(phase="Active"),
        )
    return obj


def _create(state: ApiState, user: User, request: Request) -> tuple[ApiState, Response]:
    body = request.body
    bad = _check_body(request, body)
    if bad is not None:
        return _fail(state, bad)
    if request.namespace:
        body = replace(body, metadata=replace(body.metadata, namespace=request.namespace))
    obj = with_defaults(body)
    attrs = _attrs("CREATE", request, user, obj, None, obj.metadata.name)
    lookup = _lookup(state)
    obj = mutate(attrs, lookup)
    if isinstance(obj, Status):
        return _fail(state, obj)
    failure = None
    for attempt in range(_NAME_ATTEMPTS if not obj.metadata.name else 1):
        uid = state.next_uid + attempt
        prepared = _prepare_for_create(obj, uid, state.now)
        failure = invalid_status(prepared) or check(replace(attrs, obj=prepared), lookup)
        if failure is not None:
            return _fail(state, failure)
        if isinstance(prepared, Service):  # the registry's BeginCreate: allocation
            prepared = allocate(state.store, prepared)
            if isinstance(prepared, Status):
                return _fail(state, prepared)
        key = key_of(request.resource, request.namespace, prepared.metadata.name)
        existing = state.store.get(key)
        if existing is None:
            new_state, out = _put(state, key, prepared, 0)
            return replace(new_state, next_uid=uid + 1), Response(201, out)
        failure = already_exists(request.resource, prepared.metadata.name)
        if existing.value.metadata.deletion_timestamp is not None:
            failure = replace(failure, message=f"object is being deleted: {failure.message}")
    assert failure is not None
    return _fail(state, failure)


# --- update (upstream: store.go Update, rest/update.go BeforeUpdate) -----------------------


def _prepare_for_update(new: Object, old: Object, subresource: str) -> Object:
    """The strategy's PrepareForUpdate: the main resource keeps the old status, a status
    update keeps everything but the status; spec changes bump generation."""
    new = replace(new, metadata=replace(new.metadata, generation=old.metadata.generation))
    if subresource == "status":
        if isinstance(old, Pod):  # podStatusStrategy: spec and ownerReferences kept
            meta = replace(new.metadata, owner_references=old.metadata.owner_references)
            return replace(new, spec=old.spec, metadata=meta)
        if isinstance(old, Node | Namespace):  # node/namespace statusStrategy: spec kept
            return replace(new, spec=old.spec)
        if isinstance(old, Deployment):  # deploymentStatusStrategy: spec and labels kept, so
            # the controller can write the revision annotation with the status
            meta = replace(new.metadata, labels=old.metadata.labels)
            return replace(new, spec=old.spec, metadata=meta)
        meta = replace(  # metav1.ResetObjectMetaForStatus (replicasets, ...)
            new.metadata,
            labels=old.metadata.labels,
            annotations=old.metadata.annotations,
            finalizers=old.metadata.finalizers,
            owner_references=old.metadata.owner_references,
        )
        if isinstance(old, GenericObject):
            body = old.body.set("status", new.body["status"]) if "status" in new.body else old.body
            return replace(old, metadata=meta, body=body)
        return replace(new, spec=old.spec, metadata=meta)
    if subresource == "finalize":  # namespace finalizeStrategy: only spec.finalizers
        return replace(old, spec=replace(old.spec, finalizers=new.spec.finalizers))
    bump = False
    if isinstance(old, Pod | ReplicaSet):
        # pod (KEP-5067, 1.33+: updatePodGeneration) and replicaset strategy.go
        new, bump = replace(new, status=old.status), new.spec != old.spec
    elif isinstance(old, Deployment):  # annotations are copied to replica sets, so they count
        new = replace(new, status=old.status)
        bump = new.spec != old.spec or new.metadata.annotations != old.metadata.annotations
    elif isinstance(old, Node):
        new = replace(new, status=old.status)
    elif isinstance(old, Service):
        new = prepare_update(new, old)
    elif isinstance(old, EndpointSlice):  # endpointslice strategy.go: anything but metadata,
        # or the labels, changed
        content = (new.address_type, new.endpoints, new.ports, new.metadata.labels)
        bump = content != (old.address_type, old.endpoints, old.ports, old.metadata.labels)
    elif isinstance(old, Namespace):
        new = replace(
            new, spec=replace(new.spec, finalizers=old.spec.finalizers), status=old.status
        )
    if bump:
        new = replace(new, metadata=replace(new.metadata, generation=old.metadata.generation + 1))
    return new


def _common_meta(new: Object, old: Object) -> Object | tuple[FieldError, ...]:
    """rest.BeforeUpdate's system fields (uid, creationTimestamp and the deletion fields are
    the stored ones) and ValidateObjectMetaUpdate's rules on deletion."""
    nm, om = new.metadata, old.metadata
    errors = []
    if nm.deletion_timestamp is not None and om.deletion_timestamp is None:
        errors.append(FieldError("metadata.deletionTimestamp", "field is immutable"))
    added = [f for f in nm.finalizers if f not in om.finalizers]
    if om.deletion_timestamp is not None and added:  # ValidateNoNewFinalizers
        found = "[]string{" + ", ".join(f'"{f}"' for f in added) + "}"
        errors.append(
            FieldError(
                "metadata.finalizers",
                "no new finalizers can be added if the object is being deleted, "
                f"found new finalizers {found}",
            )
        )
    if errors:
        return tuple(errors)
    meta = replace(
        nm,
        uid=om.uid,
        creation_timestamp=om.creation_timestamp,
        deletion_timestamp=om.deletion_timestamp,
        deletion_grace_period_seconds=om.deletion_grace_period_seconds,
        resource_version=om.resource_version,
    )
    return replace(new, metadata=meta)


def _should_delete_during_update(new: Object, old: Object) -> bool:
    """store.go ShouldDeleteDuringUpdate: no finalizer left on an object being deleted whose
    grace period is over; for a namespace also no spec.finalizers (namespace storage.go)."""
    if isinstance(new, Namespace) and new.spec.finalizers:
        return False
    om = old.metadata
    done = om.deletion_timestamp is not None and not om.deletion_grace_period_seconds
    return done and not new.metadata.finalizers


def _update(state: ApiState, user: User, request: Request) -> tuple[ApiState, Response]:
    body, resource, name = request.body, request.resource, request.name
    bad = _check_body(request, body)
    if bad is not None:
        return _fail(state, bad)
    sub = request.subresource
    if (sub == "finalize" and resource != "namespaces") or (
        sub == "status" and resource in ("leases", "endpointslices")
    ):
        return _fail(state, NO_ROUTE)
    old = read(state.store, resource, request.namespace, name)
    if old is None:
        return _fail(state, not_found(resource, name))
    meta = body.metadata
    if meta.name and meta.name != name:
        msg = f"the name of the object ({meta.name}) does not match the name on the URL ({name})"
        return _fail(state, bad_request(msg))
    new = with_defaults(
        replace(body, metadata=replace(meta, name=name, namespace=request.namespace))
    )
    # the body's uid is a storage precondition (rest.defaultUpdatedObjectInfo.Preconditions)
    why = _precondition_failure(Preconditions(uid=meta.uid or None), old)
    if why is not None:
        return _fail(state, conflict(qualified_resource(resource), name, why))
    attrs = _attrs("UPDATE", request, user, new, old, name)
    lookup = _lookup(state)
    new = mutate(attrs, lookup)
    if isinstance(new, Status):
        return _fail(state, new)
    # an empty resourceVersion is an unconditional update (strategy AllowUnconditionalUpdate)
    if meta.resource_version and meta.resource_version != old.metadata.resource_version:
        return _fail(state, conflict(qualified_resource(resource), name, OPTIMISTIC_LOCK))
    new = _common_meta(_prepare_for_update(new, old, request.subresource), old)
    if isinstance(new, tuple):
        return _fail(state, invalid(qualified_kind(old), name, new))
    failure = invalid_status(new, old) or check(replace(attrs, obj=new), lookup)
    if failure is not None:
        return _fail(state, failure)
    key = key_of(resource, request.namespace, name)
    if isinstance(new, Service) and isinstance(old, Service):  # BeginUpdate: allocation
        new = allocate(state.store, new, old, key)
        if isinstance(new, Status):
            return _fail(state, new)
    if new == old:  # upstream GuaranteedUpdate skips a write that changes nothing
        return state, Response(200, old)
    if _should_delete_during_update(new, old):
        return _delete(state, key, _mod(old)), Response(200, new)
    state, out = _put(state, key, new, _mod(old))
    return state, Response(200, out)


# --- binding (upstream: pkg/registry/core/pod/storage/storage.go BindingREST) --------------


def _precondition_failure(p: Preconditions | None, obj: Object) -> str | None:
    """storage.Preconditions.Check's message, or None."""
    meta = obj.metadata
    if p is not None and p.uid is not None and p.uid != meta.uid:
        return f"Precondition failed: UID in precondition: {p.uid}, UID in object meta: {meta.uid}"
    if (
        p is not None
        and p.resource_version is not None
        and p.resource_version != meta.resource_version
    ):
        return (
            f"Precondition failed: ResourceVersion in precondition: {p.resource_version}, "
            f"ResourceVersion in object meta: {meta.resource_version}"
        )
    return None


def _bind(state: ApiState, user: User, request: Request) -> tuple[ApiState, Response]:
    name, target = request.name, request.body
    if not isinstance(target, Binding):
        return _fail(state, bad_request("the body of a pods/binding request must be a Binding"))
    if not target.target_node:  # ValidatePodBinding
        err = (FieldError("target.name", "Required value"),)
        return _fail(state, invalid("Binding", name, err))
    pod = read(state.store, "pods", request.namespace, name)
    if pod is None:
        return _fail(state, not_found("pods", name))
    attrs = _attrs("CREATE", request, user, target, None, name)
    failure = check(attrs, _lookup(state))
    if failure is not None:
        return _fail(state, failure)
    why = _precondition_failure(request.preconditions, pod)
    if why is not None:
        return _fail(state, conflict("pods", name, why))
    # setPodNodeAndMetadata; its errors become Conflicts on pods/binding (assignPod)
    if pod.metadata.deletion_timestamp is not None:
        why = f"pod {name} is being deleted, cannot be assigned to a host"
    elif pod.spec.node_name:
        why = f'pod {name} is already assigned to node "{pod.spec.node_name}"'
    elif pod.spec.scheduling_gates:
        why = f"pod {name} has non-empty .spec.schedulingGates"
    if why is not None:
        return _fail(state, conflict("pods/binding", name, why))
    scheduled = Condition("PodScheduled", "True", last_transition_time=state.now)
    conditions = tuple(c for c in pod.status.conditions if c.type != "PodScheduled")
    old = next((c for c in pod.status.conditions if c.type == "PodScheduled"), None)
    if old is not None and old.status == "True":  # podutil.UpdatePodCondition keeps the time
        scheduled = old
    # ClearingNominatedNodeNameAfterBinding (beta, 1.34): the nomination is dropped
    status = replace(pod.status, conditions=(*conditions, scheduled), nominated_node_name="")
    bound = replace(pod, spec=replace(pod.spec, node_name=target.target_node), status=status)
    state, _ = _put(state, key_of("pods", request.namespace, name), bound, _mod(pod))
    return state, Response(201, Status(201, "", "Success"))


# --- delete (upstream: store.go Delete, rest/delete.go BeforeDelete) -----------------------


def _gc_finalizers(finalizers: tuple[str, ...], policy: str | None) -> tuple[str, ...]:
    """store.go deletionFinalizersForGarbageCollection: Orphan adds "orphan", Foreground adds
    "foregroundDeletion", Background neither; with no policy an existing one is kept."""
    if policy == "Orphan":
        orphan, fg = True, False
    elif policy == "Foreground":
        orphan, fg = False, True
    elif policy == "Background":
        orphan = fg = False
    else:  # the first of the two in the object decides; the kinds here default to neither
        first = next((f for f in finalizers if f in (ORPHAN, FOREGROUND)), None)
        orphan, fg = first == ORPHAN, first == FOREGROUND
    kept = tuple(f for f in finalizers if f not in (ORPHAN, FOREGROUND))
    new = kept + ((ORPHAN,) if orphan else ()) + ((FOREGROUND,) if fg else ())
    return finalizers if set(new) == set(finalizers) else new


def _pod_grace(pod: Pod, requested: int | None) -> int:
    """pod strategy.go CheckGracefulDelete: the grace period a pod delete gets."""
    period = requested if requested is not None else pod.spec.termination_grace_period_seconds or 0
    if not pod.spec.node_name or pod.status.phase in ("Succeeded", "Failed"):
        period = 0  # not scheduled, or already terminated: delete at once
    return 1 if period < 0 else period


def _delete_request(state: ApiState, user: User, request: Request) -> tuple[ApiState, Response]:
    resource, ns, name = request.resource, request.namespace, request.name
    policy = request.propagation_policy
    if policy not in (None, "Orphan", "Foreground", "Background"):
        err = (
            FieldError(
                "propagationPolicy",
                f'Unsupported value: "{policy}": supported values: '
                '"Foreground", "Background", "Orphan"',
            ),
        )
        return _fail(state, invalid("DeleteOptions.meta.k8s.io", "", err))
    obj = read(state.store, resource, ns, name)
    if obj is None:
        return _fail(state, not_found(resource, name))
    attrs = _attrs("DELETE", request, user, None, obj, name)
    lookup = _lookup(state)
    denied = mutate(attrs, lookup)
    if isinstance(denied, Status):
        return _fail(state, denied)
    p = request.preconditions
    meta = obj.metadata
    kind = qualified_kind(obj)  # BeforeDelete names the kind, not the resource
    if p is not None and p.uid is not None and p.uid != meta.uid:
        why = (
            f"the UID in the precondition ({p.uid}) does not match the UID in record "
            f"({meta.uid}). The object might have been deleted and then recreated"
        )
        return _fail(state, conflict(kind, name, why))
    if (
        p is not None
        and p.resource_version is not None
        and p.resource_version != meta.resource_version
    ):
        why = (
            f"the ResourceVersion in the precondition ({p.resource_version}) does not match "
            f"the ResourceVersion in record ({meta.resource_version}). The object might have "
            "been modified"
        )
        return _fail(state, conflict(kind, name, why))
    failure = check(attrs, lookup)
    if failure is not None:
        return _fail(state, failure)
    key = key_of(resource, ns, name)
    if isinstance(obj, Namespace):
        return _delete_namespace(state, key, obj, policy)
    return _delete_object(state, key, obj, request.grace_period_seconds, policy)


def _delete_collection(state: ApiState, user: User, request: Request) -> tuple[ApiState, Response]:
    """store.go DeleteCollection: list the resource (in the namespace), then delete each listed
    object with the request's options; the response lists what was deleted or marked.
    Upstream deletes the items in parallel, each its own write; here they are one step, and a
    failure on any item fails the whole request with the state unchanged."""
    prefix = prefix_of(request.resource, request.namespace)
    r = etcd.range_(state.store, prefix, etcd.prefix_end(prefix))
    after, deleted = state, []
    for kv in r.kvs:
        item = replace(request, verb="delete", name=kv.value.metadata.name)
        after, response = _delete_request(after, user, item)
        if response.code == 404:  # gone meanwhile: not an error (DeleteCollection ignores it)
            continue
        if not response.ok:
            return _fail(state, response.status)
        deleted.append(response.object)
    return after, Response(200, None, tuple(deleted), str(after.store.revision))


def _delete_object(state: ApiState, key: str, obj: Object, grace: int | None, policy: str | None):
    meta, now = obj.metadata, state.now
    if grace is not None and grace < 0:
        grace = 1  # BeforeDelete: negative means 1s
    graceful = False
    if meta.deletion_timestamp is not None:
        current = meta.deletion_grace_period_seconds
        if current:  # a graceful deletion is pending: only a shorter grace period changes it
            if grace is None or grace >= current:
                return state, Response(200, obj)
            meta = replace(
                meta,
                deletion_timestamp=meta.deletion_timestamp - current + grace,
                deletion_grace_period_seconds=grace,
            )
            graceful = True
    elif isinstance(obj, Pod):  # only pods support graceful deletion here
        grace = _pod_grace(obj, grace)
        meta = replace(
            meta,
            deletion_timestamp=now + grace,
            deletion_grace_period_seconds=grace,
            generation=meta.generation + 1 if meta.generation > 0 else 0,
        )
        graceful = True
    meta = replace(meta, finalizers=_gc_finalizers(meta.finalizers, policy))
    if not graceful and meta.finalizers:
        # store.go markAsDeleting: deletionTimestamp now (never later), grace 0
        if meta.deletion_timestamp is None and meta.generation > 0:
            meta = replace(meta, generation=meta.generation + 1)
        ts = meta.deletion_timestamp
        meta = replace(
            meta,
            deletion_timestamp=now if ts is None or ts > now else ts,
            deletion_grace_period_seconds=0,
        )
    updated = replace(obj, metadata=meta)
    if updated != obj and (graceful or meta.finalizers):
        state, updated = _put(state, key, updated, _mod(obj))
    if meta.finalizers or (graceful and meta.deletion_grace_period_seconds):
        return state, Response(200, updated)
    # delete at once: after the update above, if any, as upstream's Delete does
    return _delete(state, key, _mod(updated)), Response(200, updated)


def _delete_namespace(state: ApiState, key: str, ns: Namespace, policy: str | None):
    """pkg/registry/core/namespace/storage/storage.go Delete: the first delete marks it
    Terminating; it is removed once the namespace controller has emptied spec.finalizers."""
    if ns.metadata.deletion_timestamp is None:
        meta = replace(
            ns.metadata,
            deletion_timestamp=state.now,
            deletion_grace_period_seconds=0,
            finalizers=_gc_finalizers(ns.metadata.finalizers, policy),
        )
        marked = replace(ns, metadata=meta, status=NamespaceStatus(phase="Terminating"))
        state, ns = _put(state, key, marked, _mod(ns))
        if ns.spec.finalizers:
            return state, Response(200, ns)
    elif ns.spec.finalizers:
        why = (
            "The system is ensuring all content is removed from this namespace.  Upon "
            "completion, this namespace will automatically be purged by the system."
        )
        return _fail(state, conflict("namespaces", ns.metadata.name, why))
    return _delete_object(state, key, ns, None, policy)
