"""NetworkPolicy semantics (networking.k8s.io/v1), enough to ask the rendered policies who may talk to
whom: a pod selected by no policy of a direction is open in that direction; once selected, only what
some selecting policy's rules allow passes. Peers are pods (labels, namespace labels) or addresses
outside the cluster; the kubelet's probes come from the node and are always allowed, so they are not
modelled. Ports are numbers or, for traffic into a pod, the names of its container ports."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Peer:
    """A pod (labels and its namespace's labels) or, with pod=False, an address outside the cluster."""

    labels: dict[str, str] = dataclasses.field(default_factory=dict)
    namespace_labels: dict[str, str] = dataclasses.field(default_factory=dict)
    same_namespace: bool = True
    pod: bool = True


OUTSIDE = Peer(pod=False, same_namespace=False)


def selects(selector: dict | None, labels: dict[str, str]) -> bool:
    """A label selector; an empty one selects everything."""
    selector = selector or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def _peer_matches(entries: list[dict] | None, peer: Peer) -> bool:
    if not entries:  # no from/to: every source or destination
        return True
    for entry in entries:
        if "ipBlock" in entry:
            raise NotImplementedError("ipBlock peers are not modelled by this test")
        if not peer.pod:
            continue
        ns_selector, pod_selector = entry.get("namespaceSelector"), entry.get("podSelector")
        if ns_selector is None and not peer.same_namespace:
            continue  # a podSelector alone means: pods of the policy's own namespace
        if ns_selector is not None and not selects(ns_selector, peer.namespace_labels):
            continue
        if selects(pod_selector, peer.labels):
            return True
    return False


def _port_matches(ports: list[dict] | None, port: int, named: dict[str, int]) -> bool:
    if not ports:
        return True
    for spec in ports:
        if spec.get("protocol", "TCP") != "TCP":
            continue
        wanted = spec.get("port")
        if wanted is None:
            return True
        number = named.get(wanted) if isinstance(wanted, str) else wanted
        if number is not None and number <= port <= spec.get("endPort", number):
            return True
    return False


def allowed(
    policies: list[dict], pod_labels: dict[str, str], direction: str, peer: Peer, port: int, named=None
) -> bool:
    """May traffic pass between the pod and `peer` on TCP `port`? direction: "Ingress" (peer -> pod,
    `named` = the pod's container ports by name) or "Egress" (pod -> peer)."""
    selecting = [
        p
        for p in policies
        if selects(p["spec"]["podSelector"], pod_labels)
        and direction in p["spec"].get("policyTypes", ["Ingress"] + (["Egress"] if "egress" in p["spec"] else []))
    ]
    if not selecting:
        return True
    key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    for policy in selecting:
        for rule in policy["spec"].get(key) or []:
            if _peer_matches(rule.get(peers_key), peer) and _port_matches(rule.get("ports"), port, named or {}):
                return True
    return False
