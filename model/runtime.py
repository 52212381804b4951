"""A pod's containers on one node as a small state machine, and the pod status it reports.

When the kubelet admits a pod, the runtime sets up its sandbox (which gets the pod's IP), pulls
the images the node does not hold yet (a delay), creates the containers and starts them; with no
readiness probes in the model a running container is ready at once. Stopping first runs the
containers' preStop hook (a sleep: the containers keep serving), within the grace period; then
SIGTERM: the containers stop accepting connections and exit cleanly after ``stop_seconds``, or
are killed (exit 137) at the grace-period deadline. Each state records the instant (``due``)
at which its work is done; ``advance`` takes one step once that instant has come (the kubelet
waits for it with a workqueue AddAfter).

``pod_status`` is the status the kubelet writes for a runtime state (generateAPIPodStatus and
the status manager's merge): phase, the kubelet's conditions with their transition times,
hostIP, podIP, startTime. A terminal phase, once written, is never left (#108366).

upstream: pkg/kubelet/kuberuntime/kuberuntime_manager.go SyncPod (sandbox, init containers,
containers; EnsureImageExists in startContainer), kuberuntime_container.go killContainer
(executePreStopHook, then minimumGracePeriodInSeconds), pkg/kubelet/kubelet_pods.go
generateAPIPodStatus and getPhase, pkg/kubelet/status/generate.go,
pkg/kubelet/status/status_manager.go (mergePodStatus, updateLastTransitionTime, TerminatePod).

>>> rt = start(now=0, pod_ip="10.88.0.2", pull_seconds=5)
>>> rt.state, rt.due
('Pulling', 5)
>>> rt = advance(advance(rt, 5), 5)
>>> rt.state, phase(rt)
('Running', 'Running')
>>> rt = stop(rt, now=7, grace=30, stop_seconds=2)
>>> rt.state, rt.due
('Stopping', 9)
>>> rt = advance(rt, 9)
>>> rt.state, rt.exit_code, phase(rt)
('Terminated', 0, 'Succeeded')
>>> rt = stop(running("10.88.0.3"), now=0, grace=30, stop_seconds=1, pre_stop=5)
>>> rt.state, rt.due, accepts_connections(rt), advance(rt, 5).state
('PreStop', 5, True, 'Stopping')
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from kubeproof.model.objects import Condition, Pod, PodStatus

__all__ = [
    "CREATED",
    "KILLED",
    "PRE_STOP",
    "PULLING",
    "RUNNING",
    "STOPPING",
    "TERMINATED",
    "Runtime",
    "accepts_connections",
    "advance",
    "is_terminal",
    "never_started",
    "phase",
    "pod_status",
    "rejected_status",
    "running",
    "start",
    "stop",
]

PULLING, CREATED, RUNNING, PRE_STOP, STOPPING, TERMINATED = (
    "Pulling",
    "Created",
    "Running",
    "PreStop",
    "Stopping",
    "Terminated",
)
MINIMUM_GRACE_PERIOD = 2  # upstream: kuberuntime_container.go minimumGracePeriodInSeconds
KILLED = 137  # 128 + SIGKILL: the exit code of a container killed at the deadline
TERMINAL_PHASES = ("Succeeded", "Failed")
# upstream: pkg/kubelet/types/pod_status.go PodConditionsByKubelet (PodReadyToStartContainers
# is left out of the model)
KUBELET_CONDITIONS = ("Initialized", "Ready", "ContainersReady", "PodScheduled")


@dataclass(frozen=True, slots=True)
class Runtime:
    """One pod's containers: the state, when its work is done, and how they stopped."""

    state: str
    due: int | None = None
    pod_ip: str = ""
    ran: bool = False  # the containers were started at some point
    stop_started: int | None = None  # when SIGTERM was sent (the preStop hook began, in PreStop)
    deadline: int | None = None  # when SIGKILL follows (the grace period ends)
    stop_seconds: int = 0  # how long the containers take to exit after SIGTERM
    exit_code: int | None = None


def start(now: int, pod_ip: str, pull_seconds: int) -> Runtime:
    """A sandbox with ``pod_ip``; the images are pulled first if ``pull_seconds`` > 0."""
    if pull_seconds > 0:
        return Runtime(PULLING, now + pull_seconds, pod_ip)
    return Runtime(CREATED, now, pod_ip)


def running(pod_ip: str) -> Runtime:
    """Containers found running: after a kubelet restart the runtime still has them."""
    return Runtime(RUNNING, None, pod_ip, ran=True)


def never_started() -> Runtime:
    """A pod that was stopped before anything ran (deleted before the kubelet started it)."""
    return Runtime(TERMINATED)


def advance(rt: Runtime, now: int) -> Runtime:
    """One step, if the current state's work is done by ``now``."""
    if rt.due is None or now < rt.due:
        return rt
    if rt.state == PULLING:
        return replace(rt, state=CREATED, due=now)
    if rt.state == CREATED:
        return replace(rt, state=RUNNING, due=None, ran=True)
    if rt.state == PRE_STOP:
        # the hook is over (or the grace period is): SIGTERM with what is left of the grace
        # period, at least the minimum
        return _sigterm(rt, now, max(rt.deadline - now, MINIMUM_GRACE_PERIOD), rt.stop_seconds)
    if rt.state == STOPPING:
        clean = rt.stop_started + rt.stop_seconds <= rt.deadline
        return replace(rt, state=TERMINATED, due=None, exit_code=0 if clean else KILLED)
    return rt


def _sigterm(rt: Runtime, now: int, grace: int, stop_seconds: int) -> Runtime:
    deadline = now + grace
    return replace(
        rt,
        state=STOPPING,
        due=min(now + stop_seconds, deadline),
        stop_started=now,
        deadline=deadline,
        stop_seconds=stop_seconds,
    )


def stop(rt: Runtime, now: int, grace: int, stop_seconds: int, pre_stop: int = 0) -> Runtime:
    """Run the preStop hook (a sleep of ``pre_stop`` seconds, cut short by the grace period),
    then SIGTERM to the containers, SIGKILL once ``grace`` seconds (at least 2 after SIGTERM)
    are over; containers that never started are just removed. A shorter grace period pulls an
    ongoing deadline in."""
    if rt.state in (PULLING, CREATED):
        return Runtime(TERMINATED, pod_ip=rt.pod_ip)
    if rt.state == RUNNING and pre_stop > 0 and grace > 0:
        # upstream: killContainer runs the hook only with a grace period left, and waits for
        # it at most that long; the time it took comes off the grace period
        hook = min(pre_stop, grace)
        return replace(
            rt,
            state=PRE_STOP,
            due=now + hook,
            stop_started=now,
            deadline=now + grace,
            stop_seconds=stop_seconds,
        )
    if rt.state == PRE_STOP:
        deadline = min(rt.deadline, now + grace)
        return replace(rt, deadline=deadline, due=min(rt.due, deadline))
    grace = max(grace, MINIMUM_GRACE_PERIOD)
    if rt.state == RUNNING:
        return _sigterm(rt, now, grace, stop_seconds)
    if rt.state == STOPPING:
        # upstream: pod_workers.go: a deletion with a shorter grace period shortens the kill
        deadline = min(rt.deadline, now + grace)
        return replace(rt, deadline=deadline, due=min(rt.stop_started + rt.stop_seconds, deadline))
    return rt


def is_terminal(phase_: str) -> bool:
    return phase_ in TERMINAL_PHASES


def accepts_connections(rt: Runtime) -> bool:
    """Whether the containers take new connections: running, or sleeping in their preStop
    hook; from SIGTERM on they do not (a server closes its listener when told to stop)."""
    return rt.state in (RUNNING, PRE_STOP)


def phase(rt: Runtime) -> str:
    """The pod phase the runtime state gives (upstream getPhase; TerminatePod marks a pod that
    never ran Failed)."""
    if rt.state in (PULLING, CREATED):
        return "Pending"
    if rt.state in (RUNNING, PRE_STOP, STOPPING):
        return "Running"
    return "Succeeded" if rt.ran and rt.exit_code == 0 else "Failed"


# --- status --------------------------------------------------------------------------------


def _names(names: list[str]) -> str:
    return "[" + " ".join(names) + "]"  # Go's %s of a []string


def _conditions(pod: Pod, phase_: str, rt: Runtime) -> tuple[Condition, ...]:
    """The kubelet's conditions in upstream's order (generateAPIPodStatus): Initialized, Ready,
    ContainersReady, PodScheduled; transition times are filled in by the caller."""
    # upstream: pkg/kubelet/status/generate.go
    spec = pod.spec
    started = rt.ran or rt.state in (RUNNING, PRE_STOP, STOPPING)
    if phase_ == "Succeeded":
        initialized = Condition("Initialized", "True", "PodCompleted")
    elif started or not spec.init_containers:
        initialized = Condition("Initialized", "True")
    else:
        message = "containers with incomplete status: " + _names(
            [c.name for c in spec.init_containers]
        )
        initialized = Condition("Initialized", "False", "ContainersNotInitialized", message)
    if phase_ == "Succeeded":
        ready = Condition("ContainersReady", "False", "PodCompleted")
    elif phase_ == "Failed":
        ready = Condition("ContainersReady", "False", "PodFailed")
    elif rt.state in (RUNNING, PRE_STOP, STOPPING):  # no readiness probes: ready once running
        ready = Condition("ContainersReady", "True")
    else:
        sidecars = [c.name for c in spec.init_containers if c.restart_policy == "Always"]
        unready = sidecars + [c.name for c in spec.containers]
        message = "containers with unready status: " + _names(unready)
        ready = Condition("ContainersReady", "False", "ContainersNotReady", message)
    # GeneratePodReadyCondition: Ready follows ContainersReady (no readiness gates here)
    pod_ready = replace(ready, type="Ready")
    return (initialized, pod_ready, ready, Condition("PodScheduled", "True"))


def _merged(old: PodStatus, kubelet: tuple[Condition, ...], now: int) -> tuple[Condition, ...]:
    """mergePodStatus: the conditions others own kept first, then the kubelet's, each keeping
    its lastTransitionTime while its status is unchanged (updateLastTransitionTime)."""
    previous = {c.type: c for c in old.conditions}
    out = [c for c in old.conditions if c.type not in KUBELET_CONDITIONS]
    for condition in kubelet:
        before = previous.get(condition.type)
        same = before is not None and before.status == condition.status
        when = before.last_transition_time if same else now
        out.append(replace(condition, last_transition_time=when))
    return tuple(out)


def pod_status(pod: Pod, rt: Runtime, now: int, host_ip: str) -> PodStatus:
    """The status the kubelet writes for ``pod`` (as the api-server has it) whose containers
    are in state ``rt``."""
    old = pod.status
    phase_, reason, message = phase(rt), "", ""
    if is_terminal(old.phase):
        # upstream: generateAPIPodStatus keeps a terminal phase already written (#108366)
        phase_, reason, message = old.phase, old.reason, old.message
    return replace(
        old,
        phase=phase_,
        conditions=_merged(old, _conditions(pod, phase_, rt), now),
        host_ip=host_ip,
        pod_ip=rt.pod_ip or old.pod_ip,
        start_time=old.start_time if old.start_time is not None else now,
        reason=reason,
        message=message,
    )


def rejected_status(pod: Pod, reason: str, message: str, now: int) -> PodStatus:
    """The status of a pod the kubelet did not admit: Failed, with the reason, and no kubelet
    conditions (rejectPod's status through the status manager's merge)."""
    # upstream: pkg/kubelet/kubelet.go rejectPod
    old = pod.status
    if is_terminal(old.phase):
        return old
    others = tuple(c for c in old.conditions if c.type not in KUBELET_CONDITIONS)
    return PodStatus(
        phase="Failed",
        conditions=others,
        start_time=old.start_time if old.start_time is not None else now,
        nominated_node_name=old.nominated_node_name,
        reason=reason,
        message="Pod was rejected: " + message,
    )
