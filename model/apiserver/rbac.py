"""Authentication and RBAC authorization: who the caller is, and whether a rule lets them act.

Roles are data, modelled on upstream's bootstrap policy
(plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go, controller_policy.go). A request is
allowed when some role bound to the user or to one of its groups has a rule matching its verb,
API group, resource (with subresource) and name; otherwise the caller gets upstream's 403 message.

>>> users = default_users(nodes=("node-1",))
>>> kubelet = users["system:node:node-1"]
>>> authorize(kubelet, "update", "pods", "status", "default", "web") is None
True
>>> authorize(kubelet, "create", "pods", "binding", "default", "web").split(" in API group")[0]
'User "system:node:node-1" cannot create resource "pods/binding"'
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kubeproof.model.objects import FrozenMap

__all__ = [
    "ADMIN",
    "CONTROLLER_MANAGER",
    "ENDPOINTSLICE_CONTROLLER",
    "KUBE_PROXY",
    "NAMESPACE_CONTROLLER",
    "ROLES",
    "SCHEDULER",
    "PolicyRule",
    "User",
    "api_group",
    "authorize",
    "default_users",
    "kubelet_name",
    "node_of",
]

ADMIN = "kubernetes-admin"
CONTROLLER_MANAGER = "system:kube-controller-manager"
SCHEDULER = "system:kube-scheduler"
NODE_PREFIX = "system:node:"
KUBE_PROXY = "system:kube-proxy"  # upstream: user.KubeProxy
# kubeadm runs kube-controller-manager with --use-service-account-credentials: each controller
# below acts as its service account (the older ones share CONTROLLER_MANAGER here, see ROLES)
ENDPOINTSLICE_CONTROLLER = "system:serviceaccount:kube-system:endpointslice-controller"
NAMESPACE_CONTROLLER = "system:serviceaccount:kube-system:namespace-controller"
SERVICE_ACCOUNT_GROUPS = (
    "system:serviceaccounts",
    "system:serviceaccounts:kube-system",
    "system:authenticated",
)


@dataclass(frozen=True, slots=True)
class User:
    """An authenticated identity (upstream: user.Info) with its groups."""

    name: str
    groups: tuple[str, ...] = ("system:authenticated",)


@dataclass(frozen=True, slots=True)
class PolicyRule:
    """rbacv1.PolicyRule: ``"*"`` matches anything; resources may name a subresource ("pods/status",
    or "*/status" for every resource's status); empty ``resource_names`` matches every name."""

    verbs: tuple[str, ...]
    groups: tuple[str, ...]
    resources: tuple[str, ...]
    resource_names: tuple[str, ...] = ()


def _rule(verbs: str, groups: str, resources: str, names: str = "") -> PolicyRule:
    return PolicyRule(
        tuple(verbs.split()),
        tuple(groups.split(",")),
        tuple(resources.split()),
        tuple(names.split()),
    )


READ = "get list watch"
CORE, APPS, COORD, DISCOVERY = "", "apps", "coordination.k8s.io", "discovery.k8s.io"
EVENTS = _rule("create update patch", CORE + ",events.k8s.io", "events")  # eventsRule()

# upstream: bootstrappolicy/policy.go ClusterRoles() and controller_policy.go. Simplifications:
# the controller manager is one identity holding the union of its own role and the roles of the
# controllers the model runs (upstream runs each with its service account,
# --use-service-account-credentials); the endpointslice and namespace controllers, newer here,
# do act as their service accounts. Rules for kinds the model never touches are left out.
ROLES: FrozenMap = FrozenMap(
    {
        # cluster-admin, bound to the group system:masters
        "cluster-admin": (_rule("*", "*", "*"),),
        "system:kube-scheduler": (
            _rule("create patch update", CORE + ",events.k8s.io", "events"),
            _rule("create", COORD, "leases"),
            _rule("get update", COORD, "leases", "kube-scheduler"),
            _rule(READ, CORE, "nodes namespaces services replicationcontrollers"),
            _rule(READ + " delete", CORE, "pods"),  # delete: preemption
            _rule("create", CORE, "bindings pods/binding"),
            _rule("patch update", CORE, "pods/status"),
            _rule(READ, APPS, "replicasets statefulsets"),
            _rule(READ, "scheduling.k8s.io", "priorityclasses"),
        ),
        "system:kube-controller-manager": (
            _rule("create patch update", CORE + ",events.k8s.io", "events"),
            _rule("create", COORD, "leases"),
            _rule("get update", COORD, "leases", "kube-controller-manager"),
            # generic-garbage-collector reads, updates and deletes anything; this also covers
            # the updates of the deployment, replicaset, node and namespace controllers
            _rule("get list watch patch update delete", "*", "*"),
            _rule("create", APPS, "replicasets"),  # deployment-controller
            _rule("create", CORE, "pods"),  # replicaset-controller
            _rule("deletecollection", "*", "*"),  # namespace-controller
        ),
        # upstream: controller_policy.go, the roles of the controllers' service accounts
        "system:controller:endpointslice-controller": (
            _rule(READ, CORE, "services pods nodes"),
            # to own slices with blockOwnerDeletion (OwnerReferencesPermissionEnforcement)
            _rule("update", CORE, "services/finalizers"),
            _rule("get list create update delete", DISCOVERY, "endpointslices"),
            EVENTS,
        ),
        "system:controller:namespace-controller": (
            _rule(READ + " delete", CORE, "namespaces"),
            _rule("update", CORE, "namespaces/finalize namespaces/status"),
            _rule("get list delete deletecollection", "*", "*"),
        ),
        # upstream: policy.go system:node-proxier (kube-proxy)
        "system:node-proxier": (
            _rule("list watch", CORE, "services endpoints"),
            _rule(READ, CORE, "nodes"),
            EVENTS,
            _rule("list watch", DISCOVERY, "endpointslices"),
        ),
        # upstream: NodeRules(); enforced by the Node authorizer and NodeRestriction admission.
        "system:node": (
            _rule("create get list watch update patch delete", CORE, "nodes"),
            _rule("update patch", CORE, "nodes/status"),
            _rule("create update patch", CORE + ",events.k8s.io", "events"),
            _rule(READ + " create delete", CORE, "pods"),  # create: mirror pods only
            _rule("update patch", CORE, "pods/status"),
            _rule("create", CORE, "pods/eviction"),
            _rule(READ, CORE, "services endpoints"),
            _rule("get", CORE, "secrets configmaps persistentvolumeclaims persistentvolumes"),
            _rule("get create update patch delete", COORD, "leases"),
        ),
        # upstream: system:basic-user and system:discovery grant no object access.
        "system:basic-user": (),
    }
)

# (subject kind, subject name, role): upstream's ClusterRoleBindings of the bootstrap policy.
# Upstream binds system:node to no one and authorizes kubelets with the Node authorizer, which
# grants the same rules restricted to objects related to the node; here the group binding
# stands in for it, and NodeRestriction (admission.py) restricts writes to the node's own objects.
BINDINGS: tuple[tuple[str, str, str], ...] = (
    ("Group", "system:masters", "cluster-admin"),
    ("User", SCHEDULER, "system:kube-scheduler"),
    ("User", CONTROLLER_MANAGER, "system:kube-controller-manager"),
    ("Group", "system:nodes", "system:node"),
    ("User", KUBE_PROXY, "system:node-proxier"),
    ("User", ENDPOINTSLICE_CONTROLLER, "system:controller:endpointslice-controller"),
    ("User", NAMESPACE_CONTROLLER, "system:controller:namespace-controller"),
    ("Group", "system:authenticated", "system:basic-user"),
)

# API group of each resource the model knows; any other plural is taken to be in the core group.
_GROUPS = FrozenMap(
    deployments=APPS,
    replicasets=APPS,
    statefulsets=APPS,
    daemonsets=APPS,
    leases=COORD,
    endpointslices=DISCOVERY,
    priorityclasses="scheduling.k8s.io",
    jobs="batch",
    cronjobs="batch",
)


def api_group(resource: str) -> str:
    """The API group serving ``resource`` ("" is the core group)."""
    return _GROUPS.get(resource, "")


def kubelet_name(node: str) -> str:
    """The identity of the kubelet on ``node`` (upstream: nodeidentifier)."""
    return NODE_PREFIX + node


def node_of(user: User) -> str | None:
    """The node a kubelet identity speaks for, or None when ``user`` is not a node."""
    if "system:nodes" in user.groups and user.name.startswith(NODE_PREFIX):
        return user.name[len(NODE_PREFIX) :]
    return None


def default_users(nodes: Iterable[str] = ()) -> FrozenMap:
    """The identities of a kubeadm cluster: the admin, scheduler, controller manager (and the
    service accounts of its endpointslice and namespace controllers), kube-proxy and one
    kubelet per node; name -> User."""
    users = [
        User(ADMIN, ("system:masters", "system:authenticated")),
        User(SCHEDULER),
        User(CONTROLLER_MANAGER),
        User(ENDPOINTSLICE_CONTROLLER, SERVICE_ACCOUNT_GROUPS),
        User(NAMESPACE_CONTROLLER, SERVICE_ACCOUNT_GROUPS),
        User(KUBE_PROXY),
        *(User(kubelet_name(n), ("system:nodes", "system:authenticated")) for n in nodes),
    ]
    return FrozenMap((u.name, u) for u in users)


def _matches(values: tuple[str, ...], value: str) -> bool:
    return "*" in values or value in values


def _resource_matches(rule: PolicyRule, resource: str, subresource: str) -> bool:
    # upstream: rbac/validation ResourceMatches ("*", "pods/status", "*/status")
    combined = f"{resource}/{subresource}" if subresource else resource
    return any(
        r in ("*", combined) or (subresource and r == f"*/{subresource}") for r in rule.resources
    )


def _allows(rule: PolicyRule, verb: str, group: str, resource: str, sub: str, name: str) -> bool:
    return (
        _matches(rule.verbs, verb)
        and _matches(rule.groups, group)
        and _resource_matches(rule, resource, sub)
        and (not rule.resource_names or name in rule.resource_names)
    )


def _roles_of(user: User) -> tuple[str, ...]:
    return tuple(
        role
        for kind, subject, role in BINDINGS
        if (kind == "User" and subject == user.name) or (kind == "Group" and subject in user.groups)
    )


def authorize(
    user: User, verb: str, resource: str, subresource: str, namespace: str, name: str
) -> str | None:
    """None when RBAC allows the request, else upstream's reason it is forbidden
    (upstream: endpoints/handlers/responsewriters/errors.go forbiddenMessage)."""
    group = api_group(resource)
    for role in _roles_of(user):
        if any(_allows(r, verb, group, resource, subresource, name) for r in ROLES[role]):
            return None
    what = f"{resource}/{subresource}" if subresource else resource
    where = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    return f'User "{user.name}" cannot {verb} resource "{what}" in API group "{group}" {where}'
