"""NodePorts on z3 terms agrees with the concrete runs."""

import z3

from kubeproof.model.objects import Container, ContainerPort, Node, ObjectMeta, Pod, PodSpec
from kubeproof.model.scheduler.framework import NodeInfo
from kubeproof.model.scheduler.plugins.node_ports import NodePorts

WANT_IP, WANT_PROTO, USED_IP, USED_PROTO = z3.Strings("want_ip want_proto used_ip used_proto")
WANT_PORT, USED_PORT = z3.Ints("want_port used_port")


def agrees(term, fixed, expected):
    assert z3.is_expr(term)
    solver = z3.Solver()
    solver.add(*(var == (z3.StringVal(v) if isinstance(v, str) else v) for var, v in fixed.items()))
    solver.add(term != expected)
    return solver.check() == z3.unsat


def port_pod(ip, proto, port, node_name="", sidecar=False):
    c = Container(
        "c", ports=(ContainerPort(container_port=80, host_port=port, protocol=proto, host_ip=ip),)
    )
    if sidecar:
        return Pod(
            spec=PodSpec(
                init_containers=(Container("s", ports=c.ports, restart_policy="Always"),),
                containers=(Container("c"),),
                node_name=node_name,
            )
        )
    return Pod(spec=PodSpec(containers=(c,), node_name=node_name))


def build(want_ip, want_proto, want_port, used_ip, used_proto, used_port, sidecar=False):
    node = Node(ObjectMeta(name="m1"))
    existing = port_pod(used_ip, used_proto, used_port, "m1", sidecar)
    return port_pod(want_ip, want_proto, want_port), NodeInfo(node, (existing,))


CASES = [
    ("127.0.0.1", "UDP", 8080, "127.0.0.1", "UDP", 8080),
    ("127.0.0.1", "UDP", 8080, "127.0.0.1", "TCP", 8080),
    ("", "", 8001, "127.0.0.1", "TCP", 8001),
    ("10.0.0.1", "TCP", 8001, "0.0.0.0", "TCP", 8001),
    ("10.0.0.1", "TCP", 8001, "10.0.0.2", "TCP", 8001),
    ("", "TCP", 0, "", "TCP", 0),
]


def test_filter_agrees():
    plugin = NodePorts()
    for sidecar in (False, True):
        sym_pod, sym_info = build(
            WANT_IP, WANT_PROTO, WANT_PORT, USED_IP, USED_PROTO, USED_PORT, sidecar
        )
        term = plugin.feasible(plugin.pre_filter(sym_pod, None).state, sym_pod, sym_info)
        for values in CASES:
            pod, info = build(*values, sidecar=sidecar)
            fixed = dict(
                zip(
                    (WANT_IP, WANT_PROTO, WANT_PORT, USED_IP, USED_PROTO, USED_PORT),
                    values,
                    strict=True,
                )
            )
            assert agrees(term, fixed, plugin.feasible(None, pod, info)), values


def test_host_network_defaults_host_port():
    port = ContainerPort(container_port=9000)
    pod = Pod(spec=PodSpec(containers=(Container("c", ports=(port,)),), host_network=True))
    info = NodeInfo(Node(ObjectMeta(name="m1")), (port_pod("", "TCP", 9000, "m1"),))
    assert NodePorts().filter(None, pod, info).code == "Unschedulable"
