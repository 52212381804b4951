"""`kubeproof prove` from the command line: verdicts, exit codes and counterexample files."""

from __future__ import annotations

from kubeproof.cli import main
from kubeproof.model.manifests import load_manifests
from kubeproof.model.objects import Node, Pod
from kubeproof.model.scheduler.cycle import schedule_one
from kubeproof.model.scheduler.framework import NodeInfo, Snapshot
from kubeproof.model.scheduler.profile import default_profile

NO_TAINT_FILTER = """\
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
- plugins:
    filter:
      disabled: [{name: TaintToleration}]
"""


def test_t1_is_proved_for_the_default_profile(capsys):
    assert main(["prove", "T1"]) == 0
    out = capsys.readouterr().out
    assert "T1       proved" in out and "taints<=2" in out


def test_without_the_taint_filter_t1_has_a_counterexample_that_reproduces(tmp_path, capsys):
    """The counterexample is a Pod and a Node the concrete scheduler really places together
    although the node has a taint the pod does not tolerate."""
    config = tmp_path / "config.yaml"
    config.write_text(NO_TAINT_FILTER)
    out = tmp_path / "out"
    assert main(["prove", "T1", "--config", str(config), "--out", str(out)]) == 1
    objects = load_manifests(out / "T1.yaml")
    pod = next(o for o in objects if isinstance(o, Pod))
    node = next(o for o in objects if isinstance(o, Node))
    hard = [t for t in node.spec.taints if t.effect in ("NoSchedule", "NoExecute")]
    assert hard, "the counterexample node has a NoSchedule or NoExecute taint"
    import yaml

    from kubeproof.model.scheduler.profile import profile_from_config

    (profile,) = profile_from_config(yaml.safe_load(NO_TAINT_FILTER))
    assert schedule_one(profile, pod, Snapshot((NodeInfo(node),))).selected == node.metadata.name
    assert schedule_one(default_profile(), pod, Snapshot((NodeInfo(node),))).selected is None


def test_unknown_theorem_is_a_one_line_error(capsys):
    assert main(["prove", "T9"]) == 2
    assert "unknown theorem 'T9'" in capsys.readouterr().err


def test_a_timeout_is_unknown_never_proved(capsys):
    assert main(["prove", "T5b", "--timeout", "0.001"]) == 3
    assert "unknown" in capsys.readouterr().out
