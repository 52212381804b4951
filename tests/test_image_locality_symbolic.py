"""ImageLocality on z3 terms agrees with the concrete runs."""

import z3

from kubeproof.model.objects import (
    Container,
    ContainerImage,
    Node,
    NodeStatus,
    ObjectMeta,
    Pod,
    PodSpec,
)
from kubeproof.model.scheduler.framework import NodeInfo, Snapshot
from kubeproof.model.scheduler.plugins.image_locality import (
    MB,
    ImageLocality,
    normalized_image_name,
)

IMAGE, NAME = z3.Strings("image name")
SIZE = z3.Int("size")


def agrees(term, fixed, expected):
    assert z3.is_expr(term)
    solver = z3.Solver()
    solver.add(*(var == (z3.StringVal(v) if isinstance(v, str) else v) for var, v in fixed.items()))
    solver.add(term != expected)
    return solver.check() == z3.unsat


def build(image, name, size):
    pod = Pod(spec=PodSpec(containers=(Container("c", image=image),)))
    with_image = Node(
        ObjectMeta(name="n1"), status=NodeStatus(images=(ContainerImage((name,), size),))
    )
    other = Node(
        ObjectMeta(name="n2"),
        status=NodeStatus(images=(ContainerImage(("gcr.io/x:latest",), 40 * MB),)),
    )
    return pod, Snapshot((NodeInfo(with_image), NodeInfo(other)))


def test_score_agrees():
    plugin = ImageLocality()
    sym_pod, sym_snapshot = build(IMAGE, NAME, SIZE)
    state = plugin.pre_score(sym_pod, sym_snapshot, sym_snapshot.nodes).state
    terms = [plugin.score(state, sym_pod, info) for info in sym_snapshot.nodes]
    for values in [
        ("gcr.io/x", "gcr.io/x:latest", 600 * MB),
        ("app:v1", "app:latest", 600 * MB),
        ("app", "app:latest", 300 * MB),
        ("reg:5000/app", "reg:5000/app:latest", 2000 * MB),
    ]:
        pod, snapshot = build(*values)
        concrete_state = plugin.pre_score(pod, snapshot, snapshot.nodes).state
        fixed = dict(zip((IMAGE, NAME, SIZE), values, strict=True))
        for term, info in zip(terms, snapshot.nodes, strict=True):
            assert agrees(term, fixed, plugin.score(concrete_state, pod, info)), values


def test_normalized_image_name_on_terms():
    term = normalized_image_name(IMAGE)
    for name in ["root", "gcr.io:5000/root", "root:tag", "root@sha256:abc"]:
        assert agrees(term, {IMAGE: name}, z3.StringVal(normalized_image_name(name)))
    assert normalized_image_name("gcr.io:5000/root") == "gcr.io:5000/root:latest"
