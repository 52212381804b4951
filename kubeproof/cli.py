"""The ``kubeproof`` command line: a thin layer over the model, one function per subcommand.

A user error (a bad manifest, a missing file) is one line on stderr, ``kubeproof: error: ...``,
and exit status 2; never a traceback.

>>> main(["manifests", "check", "examples/nginx-deployment.yaml"])  # doctest: +SKIP
Deployment default/nginx replicas=3 containers=nginx:nginx
0
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
from collections.abc import Callable, Sequence

import yaml

from kubeproof import __version__, bugs_cmd, place_cmd, prove_cmd
from kubeproof import check as check_command
from kubeproof.model.errors import KubeproofError
from kubeproof.model.manifests import is_namespaced, load_paths
from kubeproof.model.objects import (
    Deployment,
    EndpointSlice,
    FrozenMap,
    Lease,
    Namespace,
    Node,
    Object,
    Pod,
    PodSpec,
    ReplicaSet,
    Service,
)
from kubeproof.model.quantity import Quantity
from kubeproof.model.scheduler.profile import Profile, default_profile, profile_from_config
from kubeproof.model.scheduler.simulate import cluster_from_objects, schedule_all
from kubeproof.report_schedule import decision_json, decision_lines

__all__ = ["describe", "main"]

EXIT_OK, EXIT_VIOLATION, EXIT_USAGE = 0, 1, 2
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a killed writer


def _where(obj: Object, kind: str) -> str:
    meta = obj.metadata
    name = meta.name or f"{meta.generate_name}*"
    if not is_namespaced(kind):
        return name
    return f"{meta.namespace or 'default'}/{name}"


def _amounts(resources: FrozenMap) -> str:
    return ",".join(f"{name}:{q}" for name, q in resources.items()) or "-"


def _sum_requests(pod_spec: PodSpec) -> str:
    """The sum of the containers' requests (what the manifest asks, not the scheduler's formula)."""
    totals: dict[str, Quantity] = {}
    for container in pod_spec.containers:
        for name, q in container.requests.items():
            before = totals.get(name)
            totals[name] = q if before is None else Quantity(before.nanos + q.nanos, before.format)
    return _amounts(FrozenMap(totals))


def describe(obj: Object) -> str:
    """One line: kind, namespace/name, and what the model keeps of the object."""
    if isinstance(obj, Deployment | ReplicaSet):
        spec = obj.spec
        replicas = "-" if spec.replicas is None else spec.replicas
        containers = ",".join(f"{c.name}:{c.image}" for c in spec.template.spec.containers)
        return f"{obj.KIND} {_where(obj, obj.KIND)} replicas={replicas} containers={containers}"
    if isinstance(obj, Pod):
        s = obj.spec
        return (
            f"Pod {_where(obj, 'Pod')} node={s.node_name or '-'} containers={len(s.containers)} "
            f"requests={_sum_requests(s)} tolerations={len(s.tolerations)}"
        )
    if isinstance(obj, Node):
        taints = ",".join(
            f"{t.key}{'=' + t.value if t.value else ''}:{t.effect}" for t in obj.spec.taints
        )
        return (
            f"Node {obj.metadata.name} allocatable={_amounts(obj.status.allocatable)} "
            f"taints={taints or '-'}" + (" unschedulable" if obj.spec.unschedulable else "")
        )
    if isinstance(obj, Namespace):
        return f"Namespace {obj.metadata.name}"
    if isinstance(obj, Lease):
        return f"Lease {_where(obj, 'Lease')} holder={obj.spec.holder_identity or '-'}"
    if isinstance(obj, Service):
        s = obj.spec
        ports = ",".join(
            f"{p.port}/{p.protocol or 'TCP'}" + (f":{p.node_port}" if p.node_port else "")
            for p in s.ports
        )
        selector = ",".join(f"{k}={v}" for k, v in s.selector.items())
        return (
            f"Service {_where(obj, 'Service')} type={s.type or 'ClusterIP'} "
            f"selector={selector or '-'} ports={ports or '-'}"
        )
    if isinstance(obj, EndpointSlice):
        return (
            f"EndpointSlice {_where(obj, 'EndpointSlice')} addressType={obj.address_type} "
            f"endpoints={len(obj.endpoints)} ports={len(obj.ports)}"
        )
    return f"{obj.kind} {_where(obj, obj.kind)} (kept as is)"


# --- subcommands ---------------------------------------------------------------------------


def cmd_manifests_check(args: argparse.Namespace) -> int:
    """Load and validate manifests; print one line per object."""
    for obj in load_paths(args.paths):
        print(describe(obj))
    return EXIT_OK


def load_profiles(path: str | None) -> tuple[Profile, ...]:
    """The profiles of a KubeSchedulerConfiguration file, or the default profile."""
    if path is None:
        return (default_profile(),)
    try:
        with open(path, encoding="utf-8") as file:
            document = yaml.safe_load(file)
    except OSError as err:
        raise KubeproofError(f"{path}: cannot read: {err.strerror}") from err
    except yaml.YAMLError as err:
        raise KubeproofError(f"{path}: not valid YAML: {' '.join(str(err).split())}") from err
    if not isinstance(document, dict):
        raise KubeproofError(f"{path}: must be a KubeSchedulerConfiguration document")
    return profile_from_config(document, path)


def cmd_schedule(args: argparse.Namespace) -> int:
    """Schedule the pending pods of the manifests, one decision per pod, with every reason."""
    profiles = load_profiles(args.config)
    objects = load_paths(args.paths)
    names = [p.scheduler_name for p in profiles]
    cluster = cluster_from_objects(objects, names)
    # The loaded cluster lives until the end: keep the cyclic garbage collector from scanning
    # it again and again (a quarter of the time at 1,000 nodes); what each decision allocates
    # is freed by reference counting as soon as it is printed.
    gc.collect()
    gc.freeze()
    decisions = schedule_all(profiles, cluster, seed=args.seed, score_all=args.score_all)
    if args.format == "json":
        # one JSON document, written as the decisions come so a long run streams
        print('{"decisions": [', end="")
        for index, decision in enumerate(decisions):
            print(("," if index else "") + "\n" + json.dumps(decision_json(decision)), end="")
        print("\n]}")
        return EXIT_OK
    out = sys.stdout
    for decision in decisions:
        out.write("\n".join(decision_lines(decision)) + "\n")
    return EXIT_OK


def cmd_journey(args: argparse.Namespace) -> int:
    """Run a scenario fairly to quiescence and narrate it, step by step."""
    from kubeproof.journey import render_json, render_markdown, render_text
    from kubeproof.model.run import run
    from kubeproof.model.scenarios import scenario, scenario_from_manifests

    if args.manifests:
        chosen = scenario_from_manifests(load_paths(args.manifests), seed=args.seed)
    else:
        chosen = scenario(args.scenario, seed=args.seed)
    result = run(chosen, max_steps=args.max_steps)
    render = {"text": render_text, "markdown": render_markdown, "json": render_json}[args.format]
    sys.stdout.write(render(result))
    return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kubeproof",
        description="A formal model of the Kubernetes control plane and a checker over it.",
    )
    parser.add_argument("--version", action="version", version=f"kubeproof {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    manifests = commands.add_parser("manifests", help="read and validate manifests")
    manifests_commands = manifests.add_subparsers(dest="manifests_command", metavar="COMMAND")
    manifests_commands.required = True
    check = manifests_commands.add_parser(
        "check", help="load and validate manifests as the api-server would; one line per object"
    )
    check.add_argument("paths", nargs="+", metavar="FILE|DIR")
    check.set_defaults(run=cmd_manifests_check)

    schedule = commands.add_parser(
        "schedule",
        help="schedule the pending pods of manifests as kube-scheduler would, with every reason",
        description=(
            "Nodes, Namespaces, Services and bound Pods describe the cluster; every other Pod and "
            "every replica of a Deployment or ReplicaSet is scheduled in queue order, each "
            "placement assumed before the next."
        ),
    )
    schedule.add_argument("paths", nargs="+", metavar="FILE|DIR")
    schedule.add_argument(
        "--config",
        metavar="SCHEDULER_CONFIG",
        help="a KubeSchedulerConfiguration file (default: the default profile)",
    )
    schedule.add_argument(
        "--score-all",
        action="store_true",
        help="score every node, feasible or not, as upstream's plugin tests do",
    )
    schedule.add_argument("--format", choices=("text", "json"), default="text")
    schedule.add_argument("--seed", type=int, default=0, help="seed of the tie-break (default 0)")
    schedule.set_defaults(run=cmd_schedule)

    journey = commands.add_parser(
        "journey",
        help="narrate a fair run of a scenario: kubectl, api-server, etcd, controllers, kubelets",
    )
    source = journey.add_mutually_exclusive_group()
    source.add_argument(
        "--scenario",
        default="journey",
        help="journey (default), rolling-update, scale, node-failure, cascading-delete",
    )
    source.add_argument(
        "--manifests",
        nargs="+",
        metavar="FILE|DIR",
        help="a scenario from manifests: Nodes join as kubelets, the rest is created by the admin",
    )
    journey.add_argument("--format", choices=("text", "markdown", "json"), default="text")
    journey.add_argument("--seed", type=int, default=0, help="seed of the scheduler's tie-break")
    journey.add_argument("--max-steps", type=int, default=20_000, help="bound of the run")
    journey.set_defaults(run=cmd_journey)
    check_command.register(commands)
    bugs_cmd.register(commands)
    prove_cmd.register(commands)
    place_cmd.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 violation, 2 user error)."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version, or a usage error (argparse printed it)
        return int(exit_.code or 0)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except KubeproofError as err:
        message = " ".join(str(err).split("\n"))
        print(f"kubeproof: error: {message}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # the reader went away (``kubeproof schedule ... | head``): stop quietly, as Unix
        # tools do; point stdout at /dev/null so the interpreter's final flush does not fail
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
