"""``kubeproof journey``: a fair run of a scenario, narrated the way the journey is explained.

Every step of the run (model/run.py) is kept; the narration groups them into *beats*: a user's
request (authentication, RBAC, admission, the etcd write), a component's sync that decides
something (with the watch events that led to it), a write it sends, the scheduler's decision
(filter, score, why the winner won: recomputed with ``cycle.schedule_one`` on the scheduler's
own view at that step, which is exactly what its reconcile ran), a kubelet admitting a pod and
starting its containers. Low-level steps (informer lists and deliveries that led nowhere, Lease
renewals, node status reports, timers, clock ticks, idle syncs) are folded into the next beat,
and shown as a "time passes" line when the clock moved. Output is text, Markdown with a Mermaid
sequence diagram (one lifeline per component), or JSON (every step, every beat, the end state).

>>> from kubeproof.model.run import run
>>> from kubeproof.model.scenarios import scenario
>>> lines = render_text(run(scenario("journey"))).splitlines()
>>> lines[0]
'kubeproof journey: journey'
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from dataclasses import dataclass

from kubeproof.journey_services import (
    allocated,
    curl_story,
    proxy_changes,
    service_summary,
    slice_summary,
)
from kubeproof.model.apiserver.server import Binding, Request, key_of
from kubeproof.model.cluster import (
    ClientRequest,
    ComponentState,
    Crash,
    Deliver,
    Entry,
    FireTimers,
    Guarded,
    Reconcile,
    Relist,
    Restart,
    ResumeWatch,
    Send,
    State,
    Tick,
    Traffic,
)
from kubeproof.model.controllers.informer import next_event
from kubeproof.model.controllers.protocol import View
from kubeproof.model.controllers.scheduler import BindTag, Scheduler
from kubeproof.model.kubelet import Kubelet
from kubeproof.model.kubeproxy import KubeProxy
from kubeproof.model.objects import FrozenMap
from kubeproof.model.run import Run, actor_of
from kubeproof.model.scenarios import listed
from kubeproof.model.scheduler.cycle import Decision, schedule_one

__all__ = ["Beat", "beats", "journey_json", "render_json", "render_markdown", "render_text"]

TITLES = {
    "deployment": "Deployment controller",
    "replicaset": "ReplicaSet controller",
    "garbagecollector": "garbage collector",
    "nodelifecycle": "node lifecycle controller",
    "tainteviction": "taint eviction controller",
    "scheduler": "scheduler",
    "endpointslice": "EndpointSlice controller",
    "namespace": "namespace controller",
    "kubectl": "kubectl",
}
KINDS = {
    "deployments": "Deployment",
    "replicasets": "ReplicaSet",
    "pods": "Pod",
    "nodes": "Node",
    "leases": "Lease",
    "namespaces": "Namespace",
    "services": "Service",
    "endpointslices": "EndpointSlice",
}
GROUPS = {
    "deployments": "apis/apps/v1",
    "replicasets": "apis/apps/v1",
    "leases": "apis/coordination.k8s.io/v1",
    "endpointslices": "apis/discovery.k8s.io/v1",
}
METHODS = {"create": "POST", "update": "PUT", "delete": "DELETE", "get": "GET", "list": "GET"}
REASONS = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    410: "Gone",
    422: "Unprocessable Entity",
    504: "Gateway Timeout",
}


def title(actor: str) -> str:
    """How the narration names a component."""
    if actor.startswith("kubelet-"):
        return f"kubelet on {actor.removeprefix('kubelet-')}"
    if actor.startswith("kube-proxy-"):
        return f"kube-proxy on {actor.removeprefix('kube-proxy-')}"
    return TITLES.get(actor, actor)


@dataclass(frozen=True)
class Beat:
    """One line of the story: the steps it covers (indices into the run), the clock at its
    last step, who acts, what kind of beat it is, its text, and its diagram lines."""

    first: int
    last: int
    time: int
    actor: str
    kind: str  # request, sync, schedule, kubelet, write, failure, restart, time
    text: str
    diagram: tuple[str, ...] = ()


# --- describing requests -------------------------------------------------------------------


def http_path(request: Request, name: str = "") -> str:
    """The URL path kubectl or client-go would use."""
    group = GROUPS.get(request.resource, "api/v1")
    path = f"/{group}"
    if request.namespace:
        path += f"/namespaces/{request.namespace}"
    path += f"/{request.resource}"
    name = request.name or ("" if request.verb == "create" and not request.subresource else name)
    if name:
        path += f"/{name}"
    if request.subresource:
        path += f"/{request.subresource}"
    return path


def _status_line(code: int | None) -> str:
    return f"{code} {REASONS.get(code, '')}".strip()


def _conditions(obj) -> str:
    return ", ".join(f"{c.type}={c.status}" for c in obj.status.conditions)


def body_summary(request: Request, old=None) -> str:
    """What a request carries, in a few words."""
    body, resource, sub = request.body, request.resource, request.subresource
    if isinstance(body, Binding):
        return f"bind to {body.target_node}"
    if request.verb == "delete":
        how = []
        if request.propagation_policy:
            how.append(f"propagationPolicy {request.propagation_policy}")
        if request.grace_period_seconds is not None:
            how.append(f"gracePeriodSeconds {request.grace_period_seconds}")
        return ", ".join(how)
    if body is None:
        return ""
    if sub == "status":
        s = body.status
        if resource == "deployments":
            return (
                f"replicas {s.replicas}, updated {s.updated_replicas}, ready {s.ready_replicas}, "
                f"available {s.available_replicas}"
            )
        if resource == "replicasets":
            return (
                f"replicas {s.replicas}, ready {s.ready_replicas}, available {s.available_replicas}"
            )
        if resource == "pods":
            ip = f", podIP {s.pod_ip}" if s.pod_ip else ""
            return f"phase {s.phase}{ip}, {_conditions(body)}"
        if resource == "nodes":
            return _conditions(body)
    if resource in ("deployments", "replicasets"):
        spec = body.spec
        images = ",".join(c.image for c in spec.template.spec.containers)
        if old is not None and request.verb == "update":
            changes = []
            if old.spec.replicas != spec.replicas:
                changes.append(f"replicas {old.spec.replicas} -> {spec.replicas}")
            old_images = ",".join(c.image for c in old.spec.template.spec.containers)
            if old_images != images:
                changes.append(f"image {old_images} -> {images}")
            if old.metadata.annotations != body.metadata.annotations:
                changes.append("annotations")
            return ", ".join(changes) or "no spec change"
        return f"replicas {spec.replicas}, image {images}"
    if resource == "nodes":
        taints = ", ".join(f"{t.key}:{t.effect}" for t in body.spec.taints) or "none"
        if request.verb == "update":
            return f"taints: {taints}"
        cap = body.status.capacity
        return ", ".join(f"{k} {v}" for k, v in cap.items())
    if resource == "pods" and request.verb == "create":
        return "image " + ",".join(c.image for c in body.spec.containers)
    if resource == "services":
        return service_summary(body)
    if resource == "endpointslices":
        return slice_summary(body)
    if resource == "leases":
        spec = body.spec
        return f"holder {spec.holder_identity}, leaseDurationSeconds {spec.lease_duration_seconds}"
    return ""


def _kind_name(request: Request, key: str) -> str:
    kind = KINDS.get(request.resource, request.resource)
    return f"{kind} {key}" if key else kind


def _decisions(requests) -> str:
    """What a sync decided, from the requests it queued."""
    parts = []
    for o in requests:
        r = o.request
        what = KINDS.get(r.resource, r.resource)
        if r.verb == "deletecollection":
            parts.append(f"deletes every {what} in namespace {r.namespace}")
            continue
        name = r.name or (r.body.metadata.name or r.body.metadata.generate_name + "*")
        if r.subresource == "status":
            parts.append(f"writes the status of {what} {name} ({body_summary(r)})")
        elif r.verb == "create":
            detail = body_summary(r)
            parts.append(f"creates {what} {name}" + (f" ({detail})" if detail else ""))
        elif r.verb == "update" and r.resource == "endpointslices":
            parts.append(f"updates {what} {name} ({body_summary(r)})")
        elif r.verb == "update":
            parts.append(f"updates {what} {name}")
        elif r.verb == "delete":
            parts.append(f"deletes {what} {name}")
        else:
            parts.append(f"{r.verb}s {what} {name}")
    counted = Counter(parts)
    return ", ".join(p if n == 1 else f"{p} (x{n})" for p, n in counted.items())


# --- the scheduler's decision ----------------------------------------------------------------


def _view(state: State, name: str, component: ComponentState) -> View:
    caches = FrozenMap((r, i.cache) for r, i in component.informers.items())
    revisions = FrozenMap((r, i.resource_version) for r, i in component.informers.items())
    return View(name, state.api.now, caches, state.api, revisions)


def scheduler_decision(state: State, name: str, pod_key: str) -> Decision | None:
    """The decision the scheduler's reconcile made in ``state`` for ``pod_key``: the same
    snapshot (its informer caches plus its assumed pods) through ``schedule_one``."""
    scheduler = state.controllers[name]
    component = state.components[name]
    if not isinstance(scheduler, Scheduler):
        return None
    view = _view(state, name, component)
    pod = view.get("pods", pod_key)
    if pod is None:
        return None
    snapshot = scheduler.snapshot(view, component.memory.assumed)
    return schedule_one(scheduler.profile, pod, snapshot, seed=scheduler.seed)


def decision_text(decision: Decision) -> str:
    nodes = decision.nodes
    feasible = [n for n in nodes if n.feasible]
    text = f"filters {len(nodes)} node(s): {len(feasible)} feasible"
    rejected = [n for n in nodes if not n.feasible]
    if rejected:
        text += " (" + "; ".join(f"{n.name}: {n.first_failure.reasons[0]}" for n in rejected) + ")"
    if not feasible or decision.selected is None:
        return text + f"; unschedulable: {decision.message}"
    ranked = sorted(feasible, key=lambda n: (-n.total, n.name))
    totals = ", ".join(f"{n.name} {n.total}" for n in ranked)
    text += f"; scores {totals}"
    winner = next(n for n in feasible if n.name == decision.selected)
    rivals = [n for n in feasible if n.name != winner.name]
    if not rivals:
        return text + f"; {winner.name} is the only feasible node"
    best_rival = max(n.total for n in rivals)
    if best_rival == winner.total:
        tied = ", ".join(n.name for n in ranked if n.total == winner.total)
        return text + f"; {tied} tie, the seeded tie-break picks {winner.name}"
    scores = dict(winner.scores)
    why = []
    for plugin, score in winner.scores:
        others = max(dict(n.scores)[plugin].weighted for n in rivals)
        if score.weighted > others:
            why.append(f"{plugin} {score.weighted} vs {others}")
    del scores
    return text + f"; {winner.name} scores highest ({', '.join(why)})"


# --- the kubelet's work ----------------------------------------------------------------------


def kubelet_changes(before: ComponentState, after: ComponentState, key: str) -> list[str]:
    """What a kubelet sync did to one pod: admission, the runtime's progress."""
    old = before.memory.pods.get(key)
    new = after.memory.pods.get(key)
    out = []
    name = key.split("/", 1)[-1]
    if old is None and new is not None:
        if new.verdict == "admitted":
            out.append(f"admits pod {name} (resources, node affinity, ports and taints fit)")
        elif new.verdict == "rejected":
            out.append(f"rejects pod {name}: {new.reason} ({new.message})")
    if new is None and old is not None:
        out.append(f"forgets pod {name}: its containers are gone")
    old_state = old.runtime.state if old is not None and old.runtime is not None else None
    new_state = new.runtime.state if new is not None and new.runtime is not None else None
    if new_state != old_state and new_state is not None:
        images = ", ".join(c.image for c in new.pod.spec.containers)
        phrases = {
            "Pulling": f"pulls image {images}",
            "Created": "creates the containers",
            "Running": f"starts container(s) {', '.join(c.name for c in new.pod.spec.containers)}",
            "PreStop": "runs the preStop hook (the containers keep serving until it ends)",
            "Stopping": "stops the containers (SIGTERM, grace period)",
            "Terminated": "the containers have exited",
        }
        out.append(phrases.get(new_state, new_state))
    return out


# --- building the beats ----------------------------------------------------------------------


def _is_heartbeat(actor: str, request: Request) -> bool:
    return request.resource == "leases" or (
        actor.startswith("kubelet-") and request.resource == "nodes" and request.subresource
    )


class _Narrator:
    def __init__(self, run: Run):
        self.run = run
        self.beats: list[Beat] = []
        self.quiet: Counter = Counter()
        self.quiet_first: int | None = None
        self.quiet_time: tuple[int, int] | None = None
        # (component, key) -> what queued the key since its last sync (watch events, timers)
        self.causes: dict[tuple[str, str], list[str]] = {}

    def queued(self, before: State, after: State, name: str, cause: str) -> None:
        old = set(before.components[name].queue)
        for key in after.components[name].queue:
            if key not in old:
                self.causes.setdefault((name, key), []).append(cause)

    # background steps
    def background(self, index: int, before: State, after: State, label: str) -> None:
        self.quiet[label] += 1
        if self.quiet_first is None:
            self.quiet_first = index
            self.quiet_time = (before.api.now, after.api.now)
        self.quiet_time = (self.quiet_time[0], after.api.now)

    def flush(self, upto: int) -> int:
        """Emit the pending background as a "time passes" beat if the clock moved; return
        the first index the next beat covers."""
        first = self.quiet_first if self.quiet_first is not None else upto
        if self.quiet_first is not None and self.quiet_time[0] != self.quiet_time[1]:
            t0, t1 = self.quiet_time
            counts = ", ".join(f"{label} {n}" for label, n in sorted(self.quiet.items()))
            text = f"{t1 - t0} s pass (t={t0}->{t1} s): {counts}"
            note = f"Note over {_ID['kubectl']},{self.last_lifeline}: t={t0}->{t1} s"
            self.beats.append(Beat(first, upto - 1, t1, "clock", "time", text, (note,)))
            first = upto
        self.quiet.clear()
        self.quiet_first = None
        return first

    def emit(self, index: int, after: State, actor: str, kind: str, text: str, diagram=()):
        first = self.flush(index)
        self.beats.append(Beat(first, index, after.api.now, actor, kind, text, tuple(diagram)))

    # one step
    def step(self, index: int, before: State, after: State, action, entries: tuple[Entry, ...]):
        if isinstance(action, ClientRequest):
            return self.client(index, before, after, entries[0])
        if isinstance(action, Deliver):
            entry = entries[0]
            if entry.code is None:
                kind = KINDS.get(entry.resource, entry.resource)
                cause = f"{entry.verb} {kind} {entry.key} (rev {_event_revision(before, action)})"
                self.queued(before, after, action.component, cause)
            return self.background(index, before, after, "watch deliveries")
        if isinstance(action, FireTimers):
            self.queued(before, after, action.component, "timer")
        if isinstance(action, Reconcile):
            return self.reconcile(index, before, after, action)
        if isinstance(action, Send):
            return self.send(index, before, after, action, entries[0])
        if isinstance(action, Crash):
            what = "fails" if action.node_failure else "crashes"
            text = (
                f"{title(action.process)} {what}: memory, caches, work queue and outbox lost; "
                "it is not restarted."
            )
            pid = _ID.get(action.process, "kubectl")
            return self.emit(
                index, after, action.process, "failure", text, (f"Note over {pid}: {what}",)
            )
        if isinstance(action, Restart):
            text = f"{title(action.process)} restarts and lists everything again."
            return self.emit(index, after, action.process, "restart", text)
        labels = {
            Relist: "lists",
            ResumeWatch: "watch resumptions",
            FireTimers: "timers fired",
            Tick: "clock ticks",
        }
        return self.background(index, before, after, labels.get(type(action), "other steps"))

    def client(self, index, before: State, after: State, entry: Entry):
        head = before.clients[0]
        if isinstance(head, Traffic):
            return self.curl(index, before, after, head, entry)
        wait = ""
        if isinstance(head, Guarded):
            wait = f"Once {head.label}, "
            head = head.request if isinstance(head.request, Request) else head.request(before.api)
        request = head
        user = before.api.users[request.user]
        old = None
        if request.verb == "update":
            from kubeproof.model.apiserver.server import read

            old = read(before.api.store, request.resource, request.namespace, request.name)
        detail = body_summary(request, old)
        method = METHODS.get(request.verb, request.verb.upper())
        path = http_path(request)
        etcd_key = key_of(request.resource, request.namespace, entry.key.split("/")[-1])
        stored = "stores" if request.verb != "delete" else "deletes"
        text = (
            f"{wait}kubectl sends {method} {path} as {request.user} "
            f"({_kind_name(request, entry.key)}{': ' + detail if detail else ''}). "
            f"The api-server authenticates {user.name} (groups {', '.join(user.groups) or '-'}), "
            f"authorizes {request.verb} {request.resource} with RBAC, runs admission "
            f"(defaulting, validation), and etcd {stored} {etcd_key} at revision "
            f"{entry.revision}: {_status_line(entry.code)}."
        )
        if entry.note:
            text += f" {entry.note}"
        if request.resource == "services" and request.verb == "create" and entry.code == 201:
            text += " " + allocated(after, request.namespace, entry.key.split("/")[-1])
        api, etcd_id = _ID["api-server"], _ID["etcd"]
        diagram = (
            f"kubectl->>{api}: {method} {path}",
            f"Note over {api}: authn {user.name}, RBAC, admission",
            f"{api}->>{etcd_id}: {'put' if request.verb != 'delete' else 'delete'} {etcd_key}",
            f"{etcd_id}-->>{api}: revision {entry.revision}",
            f"{api}-->>kubectl: {_status_line(entry.code)}",
        )
        self.emit(index, after, "kubectl", "request", text, diagram)

    def reconcile(self, index, before: State, after: State, action: Reconcile):
        name, key = action.component, action.key
        comp_before, comp_after = before.components[name], after.components[name]
        new = comp_after.outbox[len(comp_before.outbox) :]
        controller = before.controllers[name]
        causes = self.causes.pop((name, key), [])
        heard = [c for c in causes if c != "timer"]
        significant = [o for o in new if not _is_heartbeat(name, o.request)]
        changes: list[str] = []
        if isinstance(controller, Kubelet) and "/" in key:
            changes = kubelet_changes(comp_before, comp_after, key)
        if isinstance(controller, KubeProxy):
            changes = proxy_changes(comp_before, comp_after)
        binds = [o for o in new if isinstance(o.tag, BindTag)]
        if not significant and not changes:
            label = "heartbeat syncs" if new else "idle syncs"
            return self.background(index, before, after, label)
        actor = title(name)
        lifeline = _ID.get(name, name)
        diagram = []
        if heard:
            watch = heard[-1] + (f" (+{len(heard) - 1} more)" if len(heard) > 1 else "")
            diagram.append(f"{_ID['api-server']}-->>{lifeline}: watch {watch}")
            lead = f"The watch tells the {actor}: {watch}. "
        elif causes:
            lead = "A timer fires. "
        else:
            lead = ""
        if binds:
            pod_key = binds[0].key
            decision = scheduler_decision(before, name, pod_key)
            why = decision_text(decision) if decision is not None else ""
            node = binds[0].tag.node
            text = (
                f"{lead}The scheduler pops {pod_key} from activeQ, {why}; it assumes the pod on "
                f"{node} and binds it."
            )
            diagram.append(f"Note over {lifeline}: {pod_key} to {node}")
            return self.emit(index, after, name, "schedule", text, diagram)
        if key == "register":
            node = controller.node_name
            text = f"{lead}The {actor} starts and registers its Node {node}."
            diagram.append(f"Note over {lifeline}: register Node {node}")
            return self.emit(index, after, name, "kubelet", text, diagram)
        if changes and isinstance(controller, KubeProxy):
            text = f"{lead}The {actor} syncs its rules: {'; '.join(changes)}."
            diagram.append(f"Note over {lifeline}: programs its rules")
            return self.emit(index, after, name, "proxy", text, diagram)
        if changes:
            what = "; ".join(changes)
            writes = _decisions(significant)
            text = f"{lead}The {actor} syncs {key}: {what}" + (f"; {writes}" if writes else "")
            diagram.append(f"Note over {lifeline}: {', '.join(changes)}")
            return self.emit(index, after, name, "kubelet", text + ".", diagram)
        text = f"{lead}The {actor} syncs {key} and {_decisions(significant)}."
        diagram.append(f"Note over {lifeline}: sync {key}")
        self.emit(index, after, name, "sync", text, diagram)

    def curl(self, index, before: State, after: State, head: Traffic, entry: Entry):
        wait = f"Once {head.label}, " if head.label else ""
        text, proxy, kubelet = curl_story(before, after, head, wait)
        verdict = "200 OK" if entry.code == 200 else "connection refused"
        text += f" {verdict}."
        diagram = [f"curl->>{_ID[proxy]}: GET NodePort"]
        if kubelet:
            diagram.append(f"{_ID[proxy]}->>{_ID[kubelet]}: DNAT to the pod")
            diagram.append(f"{_ID[kubelet]}-->>curl: {verdict}")
        else:
            diagram.append(f"{_ID[proxy]}-->>curl: {verdict}")
        self.emit(index, after, "curl", "request", text, diagram)

    def send(self, index, before: State, after: State, action: Send, entry: Entry):
        name = action.component
        sent = before.components[name].outbox[0]
        request = sent.request
        if _is_heartbeat(name, request) and entry.code is not None and entry.code < 300:
            first_lease = request.resource == "leases" and request.verb == "create"
            if not first_lease:
                label = "Lease renewals" if request.resource == "leases" else "node status reports"
                return self.background(index, before, after, label)
        method = METHODS.get(request.verb, request.verb.upper())
        path = http_path(request, entry.key.split("/")[-1])
        detail = body_summary(request)
        if request.verb == "create" and not request.subresource and entry.key:
            detail = f"{KINDS.get(request.resource, request.resource)} {entry.key}" + (
                f", {detail}" if detail else ""
            )
        verdict = _status_line(entry.code)
        if entry.code is not None and entry.code < 300:
            if request.verb == "delete":
                outcome = f"{verdict}, etcd revision {entry.revision}"
            else:
                outcome = f"{verdict}, stored at revision {entry.revision}"
        else:
            outcome = f"{verdict}: {entry.note}" if entry.note else verdict
        text = (
            f"The {title(name)} sends {method} {path}"
            + (f" ({detail})" if detail else "")
            + f": {outcome}."
        )
        lifeline, api, etcd_id = _ID.get(name, name), _ID["api-server"], _ID["etcd"]
        diagram = [f"{lifeline}->>{api}: {method} {path}"]
        if entry.code is not None and entry.code < 300:
            op = "delete" if request.verb == "delete" else "put"
            resource = request.resource
            diagram.append(f"{api}->>{etcd_id}: {op} {resource} {entry.key} (rev {entry.revision})")
        diagram.append(f"{api}-->>{lifeline}: {verdict}")
        self.emit(index, after, name, "write", text, diagram)

    @property
    def last_lifeline(self) -> str:
        return _ID[_lifelines(self.run.initial)[-1]]


def _event_revision(state: State, action: Deliver) -> int:
    informer = state.components[action.component].informers[action.resource]
    event = next_event(informer, state.api)
    return getattr(event, "revision", getattr(getattr(event, "kv", None), "mod_revision", 0))


_ID: dict[str, str] = {
    "kubectl": "kubectl",
    "curl": "curl",
    "api-server": "apiserver",
    "etcd": "etcd",
}


def _lifelines(state: State) -> list[str]:
    """kubectl (and curl, when a user sends traffic), the api-server, etcd, the control
    plane's components, then the nodes' kubelets and kube-proxies."""
    names = list(state.components)
    on_nodes = ("kubelet-", "kube-proxy-")
    plane = [n for n in names if not n.startswith(on_nodes)]
    nodes = [n for n in names if n.startswith(on_nodes)]
    for n in names:
        _ID.setdefault(n, n.replace("-", "_"))
    users = (
        ["kubectl", "curl"] if any(isinstance(c, Traffic) for c in state.clients) else ["kubectl"]
    )
    return [*users, "api-server", "etcd", *plane, *nodes]


def beats(run: Run) -> list[Beat]:
    """The run as a story: one beat per meaningful step, the rest folded in."""
    _lifelines(run.initial)
    narrator = _Narrator(run)
    states = run.states()
    before = next(states)
    for index, (step, after) in enumerate(zip(run.steps, states, strict=True)):
        narrator.step(index, before, after, step.action, step.entries)
        before = after
    narrator.flush(len(run.steps))
    if (
        narrator.quiet_first is None
        and narrator.beats
        and narrator.beats[-1].last < len(run.steps) - 1
    ):
        last = narrator.beats[-1]
        narrator.beats[-1] = dataclasses.replace(last, last=len(run.steps) - 1)
    return narrator.beats


# --- the end state ---------------------------------------------------------------------------


def end_state(run: Run) -> dict:
    state = run.state
    pods = []
    for p in listed(state, "pods"):
        ready = next((c.status for c in p.status.conditions if c.type == "Ready"), "-")
        pods.append(
            {
                "name": f"{p.metadata.namespace}/{p.metadata.name}",
                "node": p.spec.node_name or None,
                "phase": p.status.phase,
                "ready": ready,
                "terminating": p.metadata.deletion_timestamp is not None,
            }
        )
    deployments = [
        {
            "name": f"{d.metadata.namespace}/{d.metadata.name}",
            "replicas": d.spec.replicas,
            "updatedReplicas": d.status.updated_replicas,
            "readyReplicas": d.status.ready_replicas,
            "availableReplicas": d.status.available_replicas,
        }
        for d in listed(state, "deployments")
    ]
    facts = []
    if run.scenario is not None:
        failed = set(run.failed_facts())
        facts = [
            {"statement": f.statement, "holds": f.statement not in failed}
            for f in run.scenario.facts
        ]
    return {
        "time": state.api.now,
        "revision": state.api.store.revision,
        "steps": len(run.steps),
        "reason": run.reason,
        "pods": pods,
        "deployments": deployments,
        "facts": facts,
    }


def _end_lines(run: Run) -> list[str]:
    end = end_state(run)
    lines = [
        f"End state: t={end['time']} s, etcd revision {end['revision']}, {end['steps']} steps "
        f"({end['reason']})."
    ]
    for d in end["deployments"]:
        lines.append(
            f"  Deployment {d['name']}: replicas {d['replicas']}, updated {d['updatedReplicas']}, "
            f"ready {d['readyReplicas']}, available {d['availableReplicas']}"
        )
    for p in end["pods"]:
        gone = ", terminating" if p["terminating"] else ""
        lines.append(
            f"  Pod {p['name']} on {p['node'] or '-'}: {p['phase']}, Ready={p['ready']}{gone}"
        )
    for f in end["facts"]:
        lines.append(f"  [{'ok' if f['holds'] else 'FAILED'}] {f['statement']}")
    return lines


# --- rendering -------------------------------------------------------------------------------


def _header(run: Run) -> tuple[str, str]:
    if run.scenario is None:
        return "(a state)", ""
    return run.scenario.name, run.scenario.description


def render_text(run: Run) -> str:
    name, description = _header(run)
    lines = [f"kubeproof journey: {name}"]
    if description:
        lines.append(description)
    lines.append("")
    number = 0
    for beat in beats(run):
        if beat.kind == "time":
            lines.append(f"     ... {beat.text}")
            continue
        number += 1
        lines.append(f"{number:3}. [t={beat.time}s] {beat.text}")
    lines.append("")
    lines.extend(_end_lines(run))
    return "\n".join(lines) + "\n"


def _mermaid_text(line: str) -> str:
    """A diagram line with its message text made safe for Mermaid (no ';', '#' or arrows)."""
    head, sep, text = line.partition(": ")
    text = text.replace(";", ",").replace("#", "no. ").replace("->", "to")
    return head + sep + text


def render_markdown(run: Run) -> str:
    name, description = _header(run)
    story = beats(run)
    lines = [
        f"# The journey: `{name}`",
        "",
        "Generated by `kubeproof journey --format markdown"
        + ("" if name == "journey" else f" --scenario {name}")
        + "`; do not edit.",
        "",
    ]
    if description:
        lines += [description, ""]
    lines += ["## Step by step", ""]
    number = 0
    for beat in story:
        if beat.kind == "time":
            lines.append(f"   *... {beat.text}*")
            lines.append("")
            continue
        number += 1
        lines.append(f"{number}. **t={beat.time}s** {beat.text}")
    lines += ["", "## Sequence diagram", "", "```mermaid", "sequenceDiagram"]
    for lifeline in _lifelines(run.initial):
        label = {
            "api-server": "api-server",
            "etcd": "etcd",
            "kubectl": "kubectl",
            "curl": "curl (a user)",
        }.get(lifeline, title(lifeline))
        lines.append(f"    participant {_ID[lifeline]} as {label}")
    for beat in story:
        lines.extend(f"    {_mermaid_text(d)}" for d in beat.diagram)
    lines += ["```", "", "## End state", "", "```"]
    lines += _end_lines(run)
    lines += ["```", ""]
    return "\n".join(lines)


def _plain(value):
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def journey_json(run: Run) -> dict:
    """Every step (action and journal), every beat, and the end state."""
    name, description = _header(run)
    clock = run.initial.api.now
    steps = []
    for index, step in enumerate(run.steps):
        action = {"type": type(step.action).__name__, **_plain(step.action)}
        if isinstance(step.action, Tick):
            clock += step.action.seconds
        steps.append(
            {
                "index": index,
                "time": clock,
                "actor": actor_of(step.action),
                "action": action,
                "journal": [_plain(e) for e in step.entries],
            }
        )
    return {
        "scenario": name,
        "description": description,
        "steps": steps,
        "beats": [
            {
                "steps": [b.first, b.last],
                "time": b.time,
                "actor": b.actor,
                "kind": b.kind,
                "text": b.text,
            }
            for b in beats(run)
        ],
        "end": end_state(run),
    }


def render_json(run: Run) -> str:
    return json.dumps(journey_json(run), indent=1, sort_keys=False) + "\n"
