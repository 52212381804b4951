"""The composed cluster: every component in one state machine, with its faults.

``State`` holds the api-server (and etcd) and, per component, its memory, informers, work queue,
timers and outbox. An ``Action`` is one atomic event of a real cluster: a user's request, a watch
event delivered, a key reconciled, a request sent, a timer fired, the clock advanced; and the
faults: a crash, a dropped watch, a compaction, a stale list, a request that times out with an
unknown outcome, a node failure. ``enabled(state, faults)`` lists what can happen next, in a
deterministic order; ``transition(state, action)`` says what happens, with a journal entry;
``step`` is its state alone. All three are pure.

>>> from kubeproof.model.apiserver.server import initial_state as api_state, default_users
>>> state = initial_state((), api_state(default_users()))
>>> enabled(state, NO_FAULTS)
()
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field, replace

from kubeproof.model.apiserver import etcd
from kubeproof.model.apiserver.admission import Status
from kubeproof.model.apiserver.server import (
    ApiState,
    Request,
    Response,
    authenticate,
    handle,
    tick,
)
from kubeproof.model.controllers.informer import (
    Informer,
    deliver,
    drop_watch,
    needs_relist,
    next_event,
    relist,
    resume_watch,
)
from kubeproof.model.controllers.protocol import Controller, Delta, Outgoing, Reconciled, View
from kubeproof.model.faults import NO_FAULTS, Faults
from kubeproof.model.objects import EMPTY, FrozenMap

__all__ = [
    "NO_FAULTS",
    "Action",
    "ClientRequest",
    "Compact",
    "ComponentState",
    "Crash",
    "Deliver",
    "DropWatch",
    "Entry",
    "Faults",
    "FireTimers",
    "Guarded",
    "Reconcile",
    "Relist",
    "Restart",
    "ResumeWatch",
    "Send",
    "State",
    "Tick",
    "Timeout",
    "Timer",
    "Traffic",
    "enabled",
    "initial_state",
    "step",
    "transition",
]


# --- the state -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, order=True)
class Timer:
    """A key to enqueue at ``due``; a periodic timer never holds a run open."""

    due: int
    key: str
    periodic: bool = False


@dataclass(frozen=True, slots=True)
class ComponentState:
    running: bool = True
    memory: Hashable = None
    informers: FrozenMap = EMPTY  # resource -> Informer
    queue: tuple[str, ...] = ()  # work-queue keys, deduplicated, oldest first
    timers: tuple[Timer, ...] = ()  # sorted
    outbox: tuple[Outgoing, ...] = ()  # requests decided on, not yet sent


@dataclass(frozen=True, slots=True)
class Guarded:
    """A user's request held back until ``when(state)`` holds (e.g. "once the rollout is
    complete"); ``request`` may be built from the api-server's state at that moment, as kubectl
    reads the live object before it patches. ``label`` says what is waited for."""

    when: Callable[[State], bool]
    request: Request | Callable[[ApiState], Request]
    label: str = ""


@dataclass(frozen=True, slots=True)
class Traffic:
    """A user's request to a Service instead of the api-server (curl to a NodePort): it
    changes nothing, and ``answer(state)`` journals what became of it (model/kubeproxy.py
    reads the node's forwarding rules and the backend's containers). It waits for ``when``
    like a Guarded request."""

    answer: Callable[[State], Entry]
    when: Callable[[State], bool]
    label: str = ""


@dataclass(frozen=True, slots=True)
class State:
    """The whole cluster. ``controllers`` (the code of each component, by name) is carried
    along but is not part of equality: it is the same for every state of a run."""

    api: ApiState
    components: FrozenMap  # name -> ComponentState
    # the users' requests still to send, in order (a Guarded one waits for its condition)
    clients: tuple[Request | Guarded, ...] = ()
    faults_used: Faults = NO_FAULTS
    controllers: FrozenMap = field(default=EMPTY, compare=False, repr=False)


def initial_state(
    controllers: Iterable[Controller], api: ApiState, clients: Iterable[Request | Guarded] = ()
) -> State:
    """Every component running with empty caches (it lists first), the users' requests
    waiting to be sent."""
    controllers = tuple(controllers)
    return State(
        api,
        FrozenMap((c.name, _fresh(c)) for c in controllers),
        tuple(clients),
        controllers=FrozenMap((c.name, c) for c in controllers),
    )


def _fresh(controller: Controller) -> ComponentState:
    informers = FrozenMap((r, Informer(r)) for r in controller.resources)
    # an optional ``start_keys``: work queued when the component starts (or restarts), before
    # any event, reconciled once its informers have synced (a kubelet registers its Node)
    queue = tuple(getattr(controller, "start_keys", ()))
    return ComponentState(True, controller.initial_memory(), informers, queue)


# --- actions -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClientRequest:
    """A user (kubectl) sends the next of the scenario's requests."""


@dataclass(frozen=True, slots=True)
class Relist:
    """An informer lists (first start, or after 410 Gone); a stale list (a fault) is served
    from a lagging cache at an older ``revision``: only a process's first list of a resource,
    which asks for any revision (see ``_offers``)."""

    component: str
    resource: str
    revision: int | None = None


@dataclass(frozen=True, slots=True)
class ResumeWatch:
    component: str
    resource: str


@dataclass(frozen=True, slots=True)
class Deliver:
    component: str
    resource: str


@dataclass(frozen=True, slots=True)
class Reconcile:
    component: str
    key: str


@dataclass(frozen=True, slots=True)
class Send:
    """The first request of the component's outbox reaches the api-server."""

    component: str


@dataclass(frozen=True, slots=True)
class Timeout:
    """The first request of the outbox times out: it may (``applied``) or may not have been
    applied; the component only learns that the outcome is unknown."""

    component: str
    applied: bool


@dataclass(frozen=True, slots=True)
class FireTimers:
    component: str


@dataclass(frozen=True, slots=True)
class Tick:
    """The clock advances to the next timer."""

    seconds: int


@dataclass(frozen=True, slots=True)
class Crash:
    """Every component of a process stops and loses its memory and caches."""

    process: str
    node_failure: bool = False


@dataclass(frozen=True, slots=True)
class Restart:
    process: str


@dataclass(frozen=True, slots=True)
class DropWatch:
    component: str
    resource: str


@dataclass(frozen=True, slots=True)
class Compact:
    """etcd compacts its history up to the current revision."""


Action = (
    ClientRequest
    | Relist
    | ResumeWatch
    | Deliver
    | Reconcile
    | Send
    | Timeout
    | FireTimers
    | Tick
    | Crash
    | Restart
    | DropWatch
    | Compact
)


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of the journal: who did what to which object, at which etcd revision, and
    which resourceVersion the actor's view had."""

    actor: str
    action: str
    verb: str = ""
    resource: str = ""
    key: str = ""
    code: int | None = None
    revision: int = 0
    view_revision: int | None = None
    note: str = ""


# --- what can happen -----------------------------------------------------------------------


def _client_ready(state: State) -> bool:
    first = state.clients[0]
    return not isinstance(first, Guarded | Traffic) or first.when(state)


def _next_timer(state: State) -> int | None:
    dues = [
        t.due
        for c in state.components.values()
        if c.running
        for t in c.timers
        if t.due > state.api.now
    ]
    return min(dues, default=None)


@dataclass(frozen=True, slots=True)
class _Offers:
    """What one component can do next, by section of ``enabled``'s order, and its earliest
    timer still to come: a function of the component, the api-server and whether the fault
    sections are wanted, alone."""

    work: tuple[Action, ...] = ()
    drop_watch: tuple[Action, ...] = ()
    stale_list: tuple[Action, ...] = ()
    timeout: tuple[Action, ...] = ()
    next_due: int | None = None


_IDLE = _Offers()


def _offers(name: str, component: ComponentState, api: ApiState, faulty: bool) -> _Offers:
    """``faulty``: whether the fault sections are wanted (a fault budget is left)."""
    if not component.running:
        return _IDLE
    work: list[Action] = []
    drops: list[Action] = []
    stale: list[Action] = []
    store = api.store
    # a first list served at the oldest revision etcd still has: the most stale view possible
    oldest = max(store.compact_revision, 1)
    synced = True
    for resource, informer in component.informers.items():
        if needs_relist(informer):
            work.append(Relist(name, resource))
        elif not informer.watching:
            work.append(ResumeWatch(name, resource))
        elif next_event(informer, api) is not None:
            work.append(Deliver(name, resource))
        synced = synced and informer.synced
        if faulty:
            if informer.watching:
                drops.append(DropWatch(name, resource))
            if needs_relist(informer) and not informer.synced and oldest < store.revision:
                # upstream: reflector.go relistResourceVersion: a process's first list asks for
                # resourceVersion "0", which an api-server's lagging watch cache may answer from
                # the past; every later list asks for the last synced revision (NotOlderThan),
                # so a cache never goes back in time
                stale.append(Relist(name, resource, oldest))
    if synced:
        work.extend(Reconcile(name, key) for key in component.queue)
    timeouts: tuple[Action, ...] = ()
    if component.outbox:
        work.append(Send(name))
        if faulty:
            timeouts = (Timeout(name, True), Timeout(name, False))
    timers = component.timers
    if timers and timers[0].due <= api.now:
        work.append(FireTimers(name))
    next_due = min((t.due for t in timers if t.due > api.now), default=None)
    return _Offers(tuple(work), tuple(drops), tuple(stale), timeouts, next_due)


def enabled(state: State, faults: Faults = NO_FAULTS) -> tuple[Action, ...]:
    """Every action that can happen next, in a fixed order: users, then each component's
    informers, work, outbox and timers, then the clock, then the faults."""
    return _enabled(state, faults)


def _enabled(
    state: State, faults: Faults, remembered: dict[tuple, tuple] | None = None
) -> tuple[Action, ...]:
    """``enabled``; ``remembered`` keeps each component's offers by the identity of the
    component and the api-server, and the process of each component by the identity of the
    controllers (model/memo.py)."""
    api = state.api
    controllers = state.controllers
    if remembered is None:
        process_of = {name: c.process for name, c in controllers.items()}
    else:
        hit = remembered.get((id(controllers),))
        if hit is None or hit[0] is not controllers:
            process_of = {name: c.process for name, c in controllers.items()}
            hit = remembered[(id(controllers),)] = (controllers, process_of)
        process_of = hit[1]
    used = state.faults_used
    faulty = (
        used.drop_watch < faults.drop_watch
        or used.stale_list < faults.stale_list
        or used.timeout < faults.timeout
    )
    offers: list[_Offers] = []
    running: dict[str, None] = {}  # processes, in order of their first component
    stopped: dict[str, None] = {}
    for name, component in state.components.items():
        if remembered is None:
            offers.append(_offers(name, component, api, faulty))
        else:
            key = (name, id(component), id(api), faulty)
            hit = remembered.get(key)
            if hit is None or hit[0] is not component or hit[1] is not api:
                hit = (component, api, _offers(name, component, api, faulty))
                remembered[key] = hit
            offers.append(hit[2])
        (running if component.running else stopped)[process_of[name]] = None
    actions: list[Action] = []
    if state.clients and _client_ready(state):
        actions.append(ClientRequest())
    for o in offers:
        actions.extend(o.work)
    dues = [o.next_due for o in offers if o.next_due is not None]
    if dues:
        actions.append(Tick(min(dues) - api.now))
    actions.extend(Restart(p) for p in stopped)
    if used.crash < faults.crash:
        actions.extend(Crash(p) for p in running if not _is_node(p))
    if used.node_failure < faults.node_failure:
        actions.extend(Crash(p, True) for p in running if _is_node(p))
    if used.drop_watch < faults.drop_watch:
        for o in offers:
            actions.extend(o.drop_watch)
    if used.stale_list < faults.stale_list:
        for o in offers:
            actions.extend(o.stale_list)
    if used.timeout < faults.timeout:
        for o in offers:
            actions.extend(o.timeout)
    store = api.store
    if used.compact < faults.compact and store.compact_revision < store.revision:
        actions.append(Compact())
    return tuple(actions)


def _is_node(process: str) -> bool:
    return process.startswith("kubelet")


# --- what happens --------------------------------------------------------------------------


def step(state: State, action: Action) -> State:
    """The state after ``action``; raises ValueError if the action is not enabled."""
    return transition(state, action)[0]


def transition(state: State, action: Action) -> tuple[State, tuple[Entry, ...]]:
    """The state after ``action`` and the journal of what happened."""
    handler = _HANDLERS.get(type(action))
    if handler is None:
        raise ValueError(f"not an action: {action!r}")
    return handler(state, action)


def _not_enabled(action: Action, why: str) -> ValueError:
    return ValueError(f"{action!r} is not enabled: {why}")


def _component(state: State, action: Action, name: str) -> ComponentState:
    component = state.components.get(name)
    if component is None:
        raise _not_enabled(action, f"no component {name!r}")
    if not component.running:
        raise _not_enabled(action, f"{name} is not running")
    return component


def _with(state: State, name: str, component: ComponentState) -> State:
    return replace(state, components=state.components.set(name, component))


def _view(state: State, name: str, component: ComponentState) -> View:
    caches = FrozenMap((r, i.cache) for r, i in component.informers.items())
    revisions = FrozenMap((r, i.resource_version) for r, i in component.informers.items())
    return View(name, state.api.now, caches, state.api, revisions)


def _enqueue(queue: tuple[str, ...], keys: Iterable[str]) -> tuple[str, ...]:
    # upstream: client-go util/workqueue: a key already waiting is not added twice
    for key in keys:
        if key not in queue:
            queue = (*queue, key)
    return queue


def _apply(
    state: State, name: str, component: ComponentState, result: Reconciled
) -> ComponentState:
    controller = state.controllers[name]
    now = state.api.now
    timers = [*component.timers]
    timers += [Timer(now + seconds, key) for key, seconds in result.after]
    timers += [Timer(now + seconds, key, periodic=True) for key, seconds in result.every]
    outbox = component.outbox + tuple(
        replace(o, request=replace(o.request, user=controller.identity)) for o in result.requests
    )
    return replace(
        component,
        memory=result.memory,
        queue=_enqueue(component.queue, result.requeue),
        timers=tuple(sorted(set(timers))),
        outbox=outbox,
    )


def _notify(
    state: State, name: str, component: ComponentState, deltas: Iterable[Delta]
) -> ComponentState:
    controller = state.controllers[name]
    view = _view(state, name, component)
    memory, queue = component.memory, component.queue
    for delta in deltas:
        queue = _enqueue(queue, controller.keys(delta, view))
        memory = controller.observe(memory, delta, view)
    return replace(component, memory=memory, queue=queue)


def _client_request(state: State, action: ClientRequest) -> tuple[State, tuple[Entry, ...]]:
    if not state.clients:
        raise _not_enabled(action, "no user request is waiting")
    if not _client_ready(state):
        raise _not_enabled(action, f"the next request waits: {state.clients[0].label}")
    request, rest = state.clients[0], state.clients[1:]
    if isinstance(request, Traffic):
        return replace(state, clients=rest), (request.answer(state),)
    if isinstance(request, Guarded):
        request = (
            request.request if isinstance(request.request, Request) else request.request(state.api)
        )
    api, response = handle(state.api, request)
    entry = _request_entry(request.user, "request", request, response, api)
    return replace(state, api=api, clients=rest), (entry,)


def _request_entry(
    actor: str, action: str, request: Request, response: Response, api: ApiState, view=None
) -> Entry:
    obj = response.object
    name = request.name or (obj.metadata.name if hasattr(obj, "metadata") else "")
    key = f"{request.namespace}/{name}" if request.namespace else name
    status = response.status
    resource = request.resource + (f"/{request.subresource}" if request.subresource else "")
    return Entry(
        actor,
        action,
        request.verb,
        resource,
        key,
        response.code,
        api.store.revision,
        view,
        status.message if status is not None else "",
    )


def _relist(state: State, action: Relist) -> tuple[State, tuple[Entry, ...]]:
    component = _component(state, action, action.component)
    informer = component.informers.get(action.resource)
    if informer is None:
        raise _not_enabled(action, f"{action.component} has no {action.resource} informer")
    stale = action.revision is not None
    if not stale and not needs_relist(informer):
        raise _not_enabled(action, "the informer is synced and not expired")
    store = state.api.store
    if stale and informer.synced:
        raise _not_enabled(action, "a synced informer lists no older than its cache")
    if stale and not (max(store.compact_revision, 1) <= action.revision <= store.revision):
        raise _not_enabled(action, f"etcd cannot serve revision {action.revision}")
    user = state.api.users.get(state.controllers[action.component].identity)
    refused = authenticate(state.api, Request(user.name if user else "", "list", action.resource))
    if isinstance(refused, Status):
        # upstream: the reflector's LIST goes through authentication and RBAC like any request
        informer = replace(informer, denied=refused.message)
        component = replace(component, informers=component.informers.set(action.resource, informer))
        entry = Entry(
            action.component,
            "list",
            "list",
            action.resource,
            "",
            refused.code,
            store.revision,
            None,
            refused.message,
        )
        return _with(state, action.component, component), (entry,)
    informer, deltas = relist(informer, state.api, revision=action.revision)
    component = replace(component, informers=component.informers.set(action.resource, informer))
    component = _notify(state, action.component, component, deltas)
    if stale:
        used = replace(state.faults_used, stale_list=state.faults_used.stale_list + 1)
        state = replace(state, faults_used=used)
    note = f"{len(informer.cache)} objects" + (", served stale" if stale else "")
    entry = Entry(
        action.component,
        "list",
        "list",
        action.resource,
        "",
        200,
        store.revision,
        informer.resource_version,
        note,
    )
    return _with(state, action.component, component), (entry,)


def _resume_watch(state: State, action: ResumeWatch) -> tuple[State, tuple[Entry, ...]]:
    component = _component(state, action, action.component)
    informer = component.informers.get(action.resource)
    if informer is None or informer.watching or needs_relist(informer):
        raise _not_enabled(action, "the informer has no broken watch to resume")
    informer = resume_watch(informer, state.api)
    component = replace(component, informers=component.informers.set(action.resource, informer))
    code = 410 if informer.expired else 200
    entry = Entry(
        action.component,
        "watch",
        "watch",
        action.resource,
        "",
        code,
        state.api.store.revision,
        informer.resource_version,
    )
    return _with(state, action.component, component), (entry,)


def _deliver(state: State, action: Deliver) -> tuple[State, tuple[Entry, ...]]:
    component = _component(state, action, action.component)
    informer = component.informers.get(action.resource)
    if informer is None or next_event(informer, state.api) is None:
        raise _not_enabled(action, "no watch event is waiting")
    informer, delta = deliver(informer, state.api)
    component = replace(component, informers=component.informers.set(action.resource, informer))
    if delta is None:
        entry = Entry(
            action.component,
            "watch",
            "watch",
            action.resource,
            "",
            410,
            state.api.store.revision,
            informer.resource_version,
            "watch expired",
        )
        return _with(state, action.component, component), (entry,)
    component = _notify(state, action.component, component, (delta,))
    entry = Entry(
        action.component,
        "event",
        delta.type,
        action.resource,
        delta.key,
        None,
        state.api.store.revision,
        informer.resource_version,
    )
    return _with(state, action.component, component), (entry,)


def _reconcile(state: State, action: Reconcile) -> tuple[State, tuple[Entry, ...]]:
    component = _component(state, action, action.component)
    if action.key not in component.queue:
        raise _not_enabled(action, f"{action.key!r} is not in the work queue")
    if not all(i.synced for i in component.informers.values()):
        raise _not_enabled(action, "the informers have not synced")
    component = replace(component, queue=tuple(k for k in component.queue if k != action.key))
    view = _view(state, action.component, component)
    result = state.controllers[action.component].reconcile(view, action.key, component.memory)
    component = _apply(state, action.component, component, result)
    sent = ", ".join(f"{o.request.verb} {o.request.resource}" for o in result.requests)
    entry = Entry(
        action.component,
        "reconcile",
        "",
        "",
        action.key,
        None,
        state.api.store.revision,
        _view_revision(component),
        sent,
    )
    return _with(state, action.component, component), (entry,)


def _view_revision(component: ComponentState) -> int:
    return max((i.resource_version for i in component.informers.values()), default=0)


def _send(state: State, action: Send | Timeout) -> tuple[State, tuple[Entry, ...]]:
    component = _component(state, action, action.component)
    if not component.outbox:
        raise _not_enabled(action, "the outbox is empty")
    sent, rest = component.outbox[0], component.outbox[1:]
    component = replace(component, outbox=rest)
    api, response = handle(state.api, sent.request)
    if isinstance(action, Timeout):
        if not action.applied:
            api = state.api
        # upstream: a client whose request times out gets an error and cannot tell whether
        # the write happened
        lost = "the request timed out; whether it was applied is unknown"
        response = Response(504, Status(504, "Timeout", lost))
        used = replace(state.faults_used, timeout=state.faults_used.timeout + 1)
        state = replace(state, faults_used=used)
    state = replace(state, api=api)
    view = _view(state, action.component, component)
    result = state.controllers[action.component].on_response(component.memory, sent, response, view)
    component = _apply(state, action.component, component, result)
    kind = "send" if isinstance(action, Send) else "timeout"
    entry = _request_entry(
        action.component, kind, sent.request, response, api, _view_revision(component)
    )
    return _with(state, action.component, component), (entry,)


def _fire_timers(state: State, action: FireTimers) -> tuple[State, tuple[Entry, ...]]:
    component = _component(state, action, action.component)
    now = state.api.now
    due = [t for t in component.timers if t.due <= now]
    if not due:
        raise _not_enabled(action, "no timer is due")
    queue = _enqueue(component.queue, (t.key for t in due))
    component = replace(
        component, queue=queue, timers=tuple(t for t in component.timers if t.due > now)
    )
    entry = Entry(action.component, "timer", "", "", ", ".join(t.key for t in due))
    return _with(state, action.component, component), (entry,)


def _tick(state: State, action: Tick) -> tuple[State, tuple[Entry, ...]]:
    due = _next_timer(state)
    if due is None or action.seconds != due - state.api.now:
        raise _not_enabled(action, "the clock moves only to the next timer")
    api = tick(state.api, action.seconds)
    return replace(state, api=api), (Entry("clock", "tick", note=f"now {api.now}s"),)


# a stopped component: one object for all (values are immutable), so states share it
_STOPPED = ComponentState(running=False)


def _crash(state: State, action: Crash) -> tuple[State, tuple[Entry, ...]]:
    names = [n for n, c in state.controllers.items() if c.process == action.process]
    if not names or not all(state.components[n].running for n in names):
        raise _not_enabled(action, f"{action.process} is not running")
    kind = "node_failure" if action.node_failure else "crash"
    used = replace(state.faults_used, **{kind: getattr(state.faults_used, kind) + 1})
    components = FrozenMap((n, _STOPPED if n in names else c) for n, c in state.components.items())
    what = "node failure" if action.node_failure else "crash"
    entry = Entry(action.process, what, note="memory, caches, queue and outbox lost")
    return replace(state, components=components, faults_used=used), (entry,)


def _restart(state: State, action: Restart) -> tuple[State, tuple[Entry, ...]]:
    names = [n for n, c in state.controllers.items() if c.process == action.process]
    if not names or any(state.components[n].running for n in names):
        raise _not_enabled(action, f"{action.process} is not down")
    components = state.components
    for name in names:
        components = components.set(name, _fresh(state.controllers[name]))
    return replace(state, components=components), (Entry(action.process, "restart"),)


def _drop_watch(state: State, action: DropWatch) -> tuple[State, tuple[Entry, ...]]:
    component = _component(state, action, action.component)
    informer = component.informers.get(action.resource)
    if informer is None or not informer.watching:
        raise _not_enabled(action, "no watch is open")
    component = replace(
        component, informers=component.informers.set(action.resource, drop_watch(informer))
    )
    used = replace(state.faults_used, drop_watch=state.faults_used.drop_watch + 1)
    entry = Entry(action.component, "watch dropped", "", action.resource)
    return replace(_with(state, action.component, component), faults_used=used), (entry,)


def _compact(state: State, action: Compact) -> tuple[State, tuple[Entry, ...]]:
    store = state.api.store
    if store.compact_revision >= store.revision:
        raise _not_enabled(action, "nothing to compact")
    store, _ = etcd.compact(store, store.revision)
    used = replace(state.faults_used, compact=state.faults_used.compact + 1)
    entry = Entry("etcd", "compact", revision=store.revision)
    return replace(state, api=replace(state.api, store=store), faults_used=used), (entry,)


_HANDLERS = {
    ClientRequest: _client_request,
    Relist: _relist,
    ResumeWatch: _resume_watch,
    Deliver: _deliver,
    Reconcile: _reconcile,
    Send: _send,
    Timeout: _send,
    FireTimers: _fire_timers,
    Tick: _tick,
    Crash: _crash,
    Restart: _restart,
    DropWatch: _drop_watch,
    Compact: _compact,
}

# The actions whose handler reads, of the components, only the acting one
# (``action.component``; the rest of the state it may read) and changes, of the components,
# only that one. model/memo.py reuses their effect wherever the acting component and every
# other field of the state are the same objects: a handler that starts reading another
# component must leave this list.
_COMPONENT_ACTIONS = (Relist, ResumeWatch, Deliver, Reconcile, Send, Timeout, FireTimers, DropWatch)
