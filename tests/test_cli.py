"""The command line: --version, `manifests check`, and one-line user errors with exit status 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import kubeproof
from kubeproof.cli import main

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"kubeproof {kubeproof.__version__}\n"


def test_check_examples(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["manifests", "check", *map(str, sorted(EXAMPLES.glob("*.yaml")))]) == 0
    out = capsys.readouterr()
    assert out.err == ""
    assert out.out.splitlines() == [
        "Pod default/batch node=- containers=1 requests=cpu:500m,memory:256Mi tolerations=1",
        "Deployment default/nginx replicas=3 containers=nginx:nginx",
        "Node node-a allocatable=cpu:3800m,memory:15Gi,pods:110 taints=-",
        "Node node-b allocatable=cpu:3800m,memory:15Gi,pods:110 taints=-",
        "Node node-c allocatable=cpu:7800m,memory:31Gi,pods:110 "
        "taints=example.com/dedicated=batch:NoSchedule",
    ]


def test_check_describes_generic_and_typed_kinds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "mixed.yaml"
    path.write_text(
        "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80}]}\n"
        "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: r}\n"
        "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n"
        "---\napiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop}\n"
        "spec:\n  nodeName: node-a\n  containers:\n"
        "  - {name: a, image: x, resources: {requests: {cpu: 100m, memory: 128Mi}}}\n"
        "  - {name: b, image: y, resources: {requests: {cpu: 150m}}}\n"
        "  tolerations: [{key: a, operator: Exists}, {key: b, operator: Exists}]\n"
        "---\napiVersion: coordination.k8s.io/v1\nkind: Lease\n"
        "metadata: {name: kube-scheduler, namespace: kube-system}\nspec: {holderIdentity: s1}\n"
    )
    assert main(["manifests", "check", str(path)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "Service default/web type=ClusterIP selector=- ports=80/TCP",
        "ClusterRole r (kept as is)",
        "Namespace shop",
        "Pod shop/web node=node-a containers=2 requests=cpu:250m,memory:128Mi tolerations=2",
        "Lease kube-system/kube-scheduler holder=s1",
    ]


def test_invalid_manifest_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "deploy.yaml"
    path.write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: three}\n"
    )
    assert main(["manifests", "check", str(path)]) == 2
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err == f"kubeproof: error: {path}[0].spec.replicas: must be an integer\n"


def test_missing_file_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["manifests", "check", "/nonexistent/deploy.yaml"]) == 2
    err = capsys.readouterr().err
    assert err == "kubeproof: error: /nonexistent/deploy.yaml: no such file or directory\n"


def test_usage_errors_are_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert main(["manifests"]) == 2
    assert main(["manifests", "check"]) == 2
    assert "usage: kubeproof" in capsys.readouterr().err


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kubeproof", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        check=False,
    )


def test_subprocess_version_and_check() -> None:
    version = _run("--version")
    assert (version.returncode, version.stdout) == (0, f"kubeproof {kubeproof.__version__}\n")
    check = _run("manifests", "check", "examples/")
    assert check.returncode == 0, check.stderr
    assert (
        check.stdout.splitlines()[1] == "Deployment default/nginx replicas=3 containers=nginx:nginx"
    )


def test_subprocess_user_errors_have_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "pod.yaml"
    bad.write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n"
        "  containers: [{name: web, image: nginx}]\n"
        "  tolerations: [{key: k, operator: Equals}]\n"
    )
    for args, message in (
        ((str(bad),), f"{bad}[0].spec.tolerations[0].operator: must be one of Exists, Equal"),
        (("/nonexistent",), "/nonexistent: no such file or directory"),
    ):
        result = _run("manifests", "check", *args)
        assert result.returncode == 2
        assert result.stdout == ""
        assert result.stderr == f"kubeproof: error: {message}\n"
        assert "Traceback" not in result.stderr
