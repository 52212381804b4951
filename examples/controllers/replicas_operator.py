"""A user's controller, written against kubeproof's public controller protocol: it keeps each
Deployment's ``spec.replicas`` at the count a ConfigMap names for it.

The ConfigMap ``default/replicas`` maps Deployment names to counts (``data: {nginx: "2"}``). The
operator watches ConfigMaps and Deployments; a sync of ``default/nginx`` reads both from its
informer caches and, when the counts differ, sends an update of the cached Deployment (so the
api-server's optimistic concurrency guards it with the cached resourceVersion).

Like many controller-runtime operators it ignores Deployment events that leave
``metadata.generation`` unchanged (``predicate.GenerationChangedPredicate``): status updates,
which the Deployment controller sends all the time, do not wake it. That is fine as long as a
failed write is retried: ``ReplicasOperator`` requeues on any error (client-go's
``AddRateLimited``). ``BuggyReplicasOperator`` has the bug many operators ship: it treats a 409
Conflict as "someone else changed it, they will sort it out" and forgets the key. When the
Deployment controller's status update lands between the operator's read and its write, the
write fails with 409, the status event is filtered out, and nothing ever brings the key back:
the Deployment keeps its old replica count for good.

>>> from kubeproof.model.controllers.protocol import Controller
>>> isinstance(ReplicasOperator(), Controller), isinstance(BuggyReplicasOperator(), Controller)
(True, True)
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from kubeproof.model.apiserver.server import Request
from kubeproof.model.controllers.protocol import Delta, Outgoing, Reconciled, View
from kubeproof.model.scenarios import ADMIN

__all__ = ["CONFIGMAP", "BuggyReplicasOperator", "ReplicasOperator", "wanted_replicas"]

CONFIGMAP = "default/replicas"


def wanted_replicas(configmap, name: str) -> int | None:
    """The count the ConfigMap names for Deployment ``name``, if it names a valid one."""
    if configmap is None:
        return None
    value = configmap.body.get("data", {}).get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


@dataclass(frozen=True)
class ReplicasOperator:
    """Keeps Deployments' replicas at the ConfigMap's counts; retries any failed write."""

    name: str = "replicas-operator"
    # the model's RBAC has upstream's bootstrap roles only, so the operator acts as the admin
    identity: str = ADMIN
    process: str = "replicas-operator"
    resources: tuple[str, ...] = ("configmaps", "deployments")

    def initial_memory(self):
        return None

    def keys(self, delta: Delta, view: View) -> tuple[str, ...]:
        if delta.resource == "configmaps":
            if delta.key != CONFIGMAP:
                return ()
            data = delta.object.body.get("data", {})
            return tuple(f"default/{name}" for name in sorted(data))
        # predicate.GenerationChangedPredicate: a MODIFIED event wakes the operator only when
        # the spec changed (metadata.generation moved); creations and deletions always do
        old = delta.old if delta.type == "MODIFIED" else None
        if old is not None and old.metadata.generation == delta.object.metadata.generation:
            return ()
        return (delta.key,)

    def observe(self, memory, delta: Delta, view: View):
        return memory

    def reconcile(self, view: View, key: str, memory) -> Reconciled:
        deployment = view.get("deployments", key)
        want = wanted_replicas(view.get("configmaps", CONFIGMAP), key.split("/", 1)[1])
        if deployment is None or want is None or deployment.spec.replicas == want:
            return Reconciled(memory)
        body = replace(deployment, spec=replace(deployment.spec, replicas=want))
        namespace, name = key.split("/", 1)
        request = Request(self.identity, "update", "deployments", namespace, name, body=body)
        return Reconciled(memory, (Outgoing(request, key, "scale"),))

    def on_response(self, memory, sent: Outgoing, response, view: View) -> Reconciled:
        if response.ok:
            return Reconciled(memory)
        # upstream pattern: return the error from Reconcile, and the work queue requeues the
        # key with backoff (client-go workqueue AddRateLimited)
        return Reconciled(memory, after=((sent.key, 1),))


@dataclass(frozen=True)
class BuggyReplicasOperator(ReplicasOperator):
    """The same operator with a realistic bug: a 409 Conflict is dropped, not retried."""

    def on_response(self, memory, sent: Outgoing, response, view: View) -> Reconciled:
        if response.code == 409:
            # BUG: "the object was modified by someone else; they will reconcile it" — but the
            # someone else was the Deployment controller writing status, and status events are
            # filtered out above, so nothing ever brings this key back
            return Reconciled(memory)
        return super().on_response(memory, sent, response, view)
