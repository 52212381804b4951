"""``kubeproof schedule`` throughput: pods per second against 1,000 and 5,000 nodes.

The cluster: N nodes (``node-0000``...), three zones (``topology.kubernetes.io/zone``), distinct
``kubernetes.io/hostname`` labels, 8 cpu / 32Gi / 110 pods each, no pods bound; the workload: one
Deployment ``web`` (P replicas, one container ``nginx`` requesting 100m / 128Mi). The default
profile (every default plugin, every node scanned), text output written to a file.

Two ways of running it, each timed as the median of ``--runs`` runs:

- ``inprocess``: ``kubeproof.cli.main(["schedule", ...])`` in this interpreter, stdout to a file;
  reported end to end (loading the manifests included) and for scheduling alone (the load,
  timed on its own, subtracted);
- ``command``: ``kubeproof schedule ... > file`` as a child process (interpreter start-up and
  imports included).

The machine may be shared: besides wall-clock time the report gives the CPU time (user + system)
of the run, which other load disturbs less.

Usage::

    python benchmarks/schedule_throughput.py --nodes 1000 5000 --pods 200 --runs 5

``--write-only`` writes the manifests (under ``--work``) and prints their directory, for timing
the command by hand::

    python benchmarks/schedule_throughput.py --nodes 1000 --pods 200 --write-only --work /tmp/b
    time kubeproof schedule /tmp/b/n1000-p200 > /dev/null
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ZONES = 3


def nodes_yaml(count: int) -> str:
    """``count`` identical-capacity nodes spread over three zones, with distinct hostnames.

    Block style, as ``kubectl get -o yaml`` writes it: the manifest reader sends a text with
    more than 10,000 flow brackets to the pure-Python YAML loader (a guard against deep
    nesting), which would make loading, not scheduling, dominate at 5,000 nodes.
    """
    docs = []
    for i in range(count):
        name = f"node-{i:04d}"
        docs.append(
            "apiVersion: v1\nkind: Node\nmetadata:\n"
            f"  name: {name}\n  labels:\n    topology.kubernetes.io/zone: zone-{i % ZONES}\n"
            f"    kubernetes.io/hostname: {name}\n"
            'status:\n  allocatable:\n    cpu: "8"\n    memory: 32Gi\n    pods: "110"\n'
        )
    return "---\n".join(docs)


def deployment_yaml(replicas: int) -> str:
    return (
        "apiVersion: apps/v1\nkind: Deployment\n"
        "metadata: {name: web, namespace: default}\n"
        "spec:\n"
        f"  replicas: {replicas}\n"
        "  selector: {matchLabels: {app: web}}\n"
        "  template:\n"
        "    metadata: {labels: {app: web}}\n"
        "    spec: {containers: [{name: web, image: nginx,"
        " resources: {requests: {cpu: 100m, memory: 128Mi}}}]}\n"
    )


def write_cluster(directory: Path, nodes: int, pods: int) -> tuple[Path, Path]:
    """The two manifests in ``directory``: nodes.yaml and deploy.yaml."""
    directory.mkdir(parents=True, exist_ok=True)
    nodes_path, deploy_path = directory / "nodes.yaml", directory / "deploy.yaml"
    nodes_path.write_text(nodes_yaml(nodes), encoding="utf-8")
    deploy_path.write_text(deployment_yaml(pods), encoding="utf-8")
    return nodes_path, deploy_path


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_inprocess(paths: list[str], out: Path, fmt: str) -> dict:
    """One in-process run: wall and CPU seconds, end to end and for loading alone."""
    from kubeproof.cli import main
    from kubeproof.model.manifests import load_paths
    from kubeproof.model.scheduler.simulate import cluster_from_objects

    wall, cpu = time.perf_counter(), _cpu()
    cluster_from_objects(load_paths(paths))
    load_wall, load_cpu = time.perf_counter() - wall, _cpu() - cpu

    with out.open("w", encoding="utf-8") as file, contextlib.redirect_stdout(file):
        wall, cpu = time.perf_counter(), _cpu()
        status = main(["schedule", *paths, "--format", fmt])
        total_wall, total_cpu = time.perf_counter() - wall, _cpu() - cpu
    if status != 0:
        raise SystemExit(f"kubeproof schedule exited {status}")
    return {"wall": total_wall, "cpu": total_cpu, "load_wall": load_wall, "load_cpu": load_cpu}


def run_command(paths: list[str], out: Path, fmt: str) -> dict:
    """One run of ``kubeproof schedule`` as a child process, stdout to ``out``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with out.open("w", encoding="utf-8") as file:
        wall = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "kubeproof", "schedule", *paths, "--format", fmt],
            stdout=file,
            check=True,
        )
        wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall": wall, "cpu": cpu}


def _median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def measure(nodes: int, pods: int, runs: int, modes: list[str], work: Path, fmt: str) -> dict:
    nodes_path, deploy_path = write_cluster(work / f"n{nodes}-p{pods}", nodes, pods)
    paths = [str(nodes_path), str(deploy_path)]
    out = work / f"n{nodes}-p{pods}.out.{fmt}"  # beside the manifests: not read as one
    result: dict = {"nodes": nodes, "pods": pods, "runs": runs, "format": fmt}
    if "inprocess" in modes:
        samples = [run_inprocess(paths, out, fmt) for _ in range(runs)]
        wall, cpu = _median(samples, "wall"), _median(samples, "cpu")
        sched_wall = statistics.median(s["wall"] - s["load_wall"] for s in samples)
        sched_cpu = statistics.median(s["cpu"] - s["load_cpu"] for s in samples)
        result["inprocess"] = {
            "wall_s": wall,
            "cpu_s": cpu,
            "pods_per_s_wall": pods / wall,
            "pods_per_s_cpu": pods / cpu,
            "schedule_only_pods_per_s_wall": pods / sched_wall,
            "schedule_only_pods_per_s_cpu": pods / sched_cpu,
            "samples": samples,
        }
    if "command" in modes:
        samples = [run_command(paths, out, fmt) for _ in range(runs)]
        wall, cpu = _median(samples, "wall"), _median(samples, "cpu")
        result["command"] = {
            "wall_s": wall,
            "cpu_s": cpu,
            "pods_per_s_wall": pods / wall,
            "pods_per_s_cpu": pods / cpu,
            "samples": samples,
        }
    result["output_bytes"] = os.path.getsize(out)
    return result


def _line(result: dict) -> str:
    parts = [f"{result['nodes']:>5} nodes {result['pods']:>4} pods ({result['format']})"]
    if "inprocess" in result:
        r = result["inprocess"]
        parts.append(
            f"in-process {r['pods_per_s_wall']:8.1f} pods/s wall ({r['pods_per_s_cpu']:.1f} cpu;"
            f" scheduling alone {r['schedule_only_pods_per_s_wall']:.1f} wall,"
            f" {r['schedule_only_pods_per_s_cpu']:.1f} cpu)"
        )
    if "command" in result:
        r = result["command"]
        parts.append(
            f"command {r['pods_per_s_wall']:8.1f} pods/s wall ({r['pods_per_s_cpu']:.1f} cpu)"
        )
    parts.append(f"output {result['output_bytes']} bytes")
    return "  ".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--pods", type=int, nargs="+", default=[200], help="replicas (per size)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--mode", choices=("inprocess", "command"), nargs="+", default=["inprocess", "command"]
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--work", type=Path, help="where to write the manifests and output")
    parser.add_argument("--json", type=Path, help="also write the results here as JSON")
    parser.add_argument(
        "--write-only", action="store_true", help="write the manifests, print where, and stop"
    )
    args = parser.parse_args(argv)
    pods = args.pods if len(args.pods) == len(args.nodes) else args.pods[:1] * len(args.nodes)
    work = args.work or Path(tempfile.mkdtemp(prefix="kubeproof-bench-"))
    results = []
    for nodes, count in zip(args.nodes, pods, strict=True):
        if args.write_only:
            print(write_cluster(work / f"n{nodes}-p{count}", nodes, count)[0].parent)
            continue
        result = measure(nodes, count, args.runs, args.mode, work, args.format)
        print(_line(result), flush=True)
        results.append(result)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
