"""Pure pieces of cutover's Kubernetes manifests: labels, selectors, surge, env, probes, HPA bounds,
the pulumi.com/* annotations, and reading back from applied objects (weights, a route's acceptance).
No pulumi import: plain values in, plain values out.

Worked example (service `api`, version `2.1`, color green):
    pod_labels("api", "green", "2.1")  -> {"app": "api", "color": "green", "version": "2.1"}
    selector("api", "green")           -> {"app": "api", "color": "green"}   (never the version)
    max_surge("25%"), max_surge("2")   -> "25%", 2
    secret_ref("db-credentials:password") -> ("db-credentials", "password")
    hpa_bounds(3, HorizontalScaling(2, 6, 70)) -> (3, 6);  hpa_bounds(0, ...) -> None
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Mapping

from components.applied import field_of

APP_LABEL = "app"
COLOR_LABEL = "color"
VERSION_LABEL = "version"
SERVICE_PORT = 80
"""Every Service cutover creates listens on 80 and targets the container port named `http`."""
PORT_NAME = "http"
CANARY_ANNOTATION = "nginx.ingress.kubernetes.io/canary"
CANARY_WEIGHT_ANNOTATION = "nginx.ingress.kubernetes.io/canary-weight"
SKIP_AWAIT_ANNOTATION = "pulumi.com/skipAwait"
PATCH_FORCE_ANNOTATION = "pulumi.com/patchForce"
"""Server-side apply with force: the fields this manifest declares are taken from any other field manager
(`kubectl scale`, `kubectl edit`, a controller) instead of failing the update with a conflict (pulumi-kubernetes
#2491, #2569; https://www.pulumi.com/registry/packages/kubernetes/how-to-guides/managing-resources-with-server-side-apply/).
Fields the manifest does not declare are not touched: that is how an HPA keeps `spec.replicas`."""
WAIT_FOR_ANNOTATION = "pulumi.com/waitFor"
PATCH_FORCE = {PATCH_FORCE_ANNOTATION: "true"}
SKIP_AWAIT = {SKIP_AWAIT_ANNOTATION: "true"}
GATEWAY_CONDITIONS = ("Accepted", "ResolvedRefs")
"""What a route's parent Gateway must report True before the route carries traffic as its spec says."""
ROUTE_ACCEPTED_WAIT_FOR = json.dumps([
    f"jsonpath={{.status.parents[*].conditions[?(@.type=='{condition}')].status}}=True" for condition in GATEWAY_CONDITIONS
])
"""`pulumi.com/waitFor` of an HTTPRoute: the update returns once its Gateway reports it Accepted and its
backendRefs resolved. A JSON list: every expression must hold (pulumi-kubernetes#3521). `condition=Accepted`
would not do: like `kubectl wait`, it reads the top-level `.status.conditions`, and a route's conditions are
per parent, under `.status.parents[].conditions` (pulumi-kubernetes#3134, v4.18.0). Filter syntax with
parentheses and single quotes, as in the 4.24.0 changelog (RFC 9535 parser, pulumi-kubernetes#3935)."""

_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_SECRET_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]{1,253}$")
_SURGE = re.compile(r"^(\d+)(%?)$")


class InvalidKubernetesSetting(ValueError):
    """A service setting Kubernetes would reject; the message says what to write instead."""


@dataclass(frozen=True)
class HorizontalScaling:
    """`autoscaling` of a Kubernetes service, as plain values."""

    min_replicas: int
    """Fewest pods of a color that serves or stays warm."""
    max_replicas: int
    """Most pods of one color."""
    target_cpu_percent: int
    """Average CPU utilisation (of the pods' requests) the HPA keeps. (`targetRequestsPerTarget` has no
    Kubernetes counterpart here: the config refuses it on Kubernetes services.)"""


def hpa_bounds(planned: int, scaling: HorizontalScaling | None) -> tuple[int, int] | None:
    """(minReplicas, maxReplicas) of a color's HPA this run, or None: no HPA, the Deployment holds `planned`.

    A scaled-down color (planned 0) gets none: minReplicas 0 needs the HPAScaleToZero feature gate and an
    Object or External metric, never a CPU one (HorizontalPodAutoscalerSpec.minReplicas, autoscaling/v2), and
    an HPA does not scale a target at 0 replicas anyway. Any other color gets at least its planned count.
    >>> hpa_bounds(3, HorizontalScaling(2, 6, 70)), hpa_bounds(1, HorizontalScaling(2, 6, 70))
    ((3, 6), (2, 6))
    >>> hpa_bounds(0, HorizontalScaling(2, 6, 70)), hpa_bounds(3, None)
    (None, None)
    """
    if scaling is None or planned < 1:
        return None
    low = max(scaling.min_replicas, planned)
    return low, max(scaling.max_replicas, low)  # the API rejects max < min; config keeps replicas <= maxReplicas


def label_value(text: str) -> str:
    """A valid label value (<= 63 chars, alphanumeric at both ends) that still reads like `text`.

    >>> label_value("1.28"), label_value("_build.7-")
    ('1.28', 'build.7-eafaa3c5')
    """
    if len(text) <= 63 and _LABEL_VALUE.match(text):
        return text
    digest = hashlib.sha1(text.encode()).hexdigest()[:8]
    core = re.sub(r"[^-A-Za-z0-9_.]", "-", text).strip("-_.")[:54]
    return f"{core}-{digest}" if core else digest


def selector(app: str, color: str) -> dict[str, str]:
    """What a color's Deployment, PDB and Services select: app and color, never the version,
    so a new version never changes an (immutable) Deployment selector."""
    return {APP_LABEL: app, COLOR_LABEL: color}


def pod_labels(app: str, color: str, version: str) -> dict[str, str]:
    return {**selector(app, color), VERSION_LABEL: label_value(version)}


def max_surge(value: str) -> int | str:
    """`strategy.maxSurge` as Kubernetes' IntOrString: "25%" stays a string, "2" becomes 2
    (the API rejects a bare number written as a string). Zero is rejected: with maxUnavailable 0
    a Deployment could never make progress."""
    match = _SURGE.match(value)
    if not match:
        raise InvalidKubernetesSetting(f'{value!r} is neither a count ("2") nor a percentage ("25%")')
    number, percent = int(match.group(1)), match.group(2)
    if number == 0:
        raise InvalidKubernetesSetting("must be above 0: maxUnavailable is 0, so a rollout needs at least one surge pod")
    if percent and number > 100:
        raise InvalidKubernetesSetting(f"{value} is above 100%")
    return value if percent else number


def secret_ref(value: str) -> tuple[str, str]:
    """`secret-name:key` -> (secret name, key)."""
    name, sep, key = value.partition(":")
    if not sep or not _SECRET_NAME.match(name) or not _SECRET_KEY.match(key):
        raise InvalidKubernetesSetting(f'{value!r} is not "secret-name:key" (a Secret in the service\'s namespace and one of its keys)')
    return name, key


def container_env(environment: Mapping[str, str], secrets: Mapping[str, str]) -> list[dict[str, Any]]:
    """Plain values as `value`, secrets as `valueFrom.secretKeyRef` (never plaintext), sorted by name."""
    env: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in environment.items()]
    for k, ref in secrets.items():
        name, key = secret_ref(ref)
        env.append({"name": k, "valueFrom": {"secretKeyRef": {"name": name, "key": key}}})
    return sorted(env, key=lambda item: item["name"])


def compute_resources(cpu: int, memory: int) -> dict[str, dict[str, str]]:
    """`cpu` in AWS units (1024 = one vCPU) and `memory` in MiB, as requests equal to limits.

    Equal requests and limits put the pods in the Guaranteed QoS class: the last to be evicted
    under node pressure, and surge pods of a rollout are only scheduled where they fit.
    >>> compute_resources(256, 512)["requests"]
    {'cpu': '250m', 'memory': '512Mi'}
    """
    amount = {"cpu": f"{cpu * 1000 // 1024}m", "memory": f"{memory}Mi"}
    return {"requests": dict(amount), "limits": dict(amount)}


def candidate_service_color(stable: str, candidate: str, candidate_deployed: bool) -> str:
    """Color a candidate-role Service (nginx canary backend, preview) selects.

    It follows the candidate while there is one, and otherwise stays on the stable color. So at
    promotion (the candidate becomes stable) it does not move while it may still carry traffic,
    and it only moves to a new candidate at the start of the next rollout, when its weight is 0.
    >>> candidate_service_color("blue", "green", True), candidate_service_color("green", "blue", False)
    ('green', 'green')
    """
    return candidate if candidate_deployed else stable


def supports_sleep_action(kubernetes_version: str) -> bool:
    """`lifecycle.preStop.sleep` exists from Kubernetes 1.30 (on by default)."""
    major, _, minor = kubernetes_version.partition(".")
    return (int(major), int(minor)) >= (1, 30)


# Reading applied objects back (typed objects or camelCase dicts): components.applied.field_of.


def selected_color(spec: Any) -> str | None:
    """The color a Service's applied spec selects."""
    chosen = field_of(spec, "selector") or {}
    return chosen.get(COLOR_LABEL) if isinstance(chosen, Mapping) else None


def weights_from_colors(shares: list[tuple[str | None, int]]) -> dict[str, int]:
    """Sum (color, percent) pairs into {"blue": .., "green": ..}; unknown colors carry nothing.

    >>> weights_from_colors([("blue", 50), ("blue", 50)])
    {'blue': 100, 'green': 0}
    """
    weights = {"blue": 0, "green": 0}
    for color, share in shares:
        if color in weights:
            weights[color] += int(share)
    return weights


def backend_ref_weights(spec: Any, color_by_service: Mapping[str, str]) -> dict[str, int]:
    """Weights of an applied HTTPRoute spec: its first rule's backendRefs, mapped to colors by Service name."""
    rules = field_of(spec, "rules") or []
    refs = (field_of(rules[0], "backend_refs", "backendRefs") or []) if rules else []
    return weights_from_colors([(color_by_service.get(field_of(ref, "name")), int(field_of(ref, "weight") or 0)) for ref in refs])


def canary_weight(annotations: Any) -> int:
    """The applied canary-weight annotation of an ingress-nginx canary Ingress (0 when absent)."""
    raw = (annotations or {}).get(CANARY_WEIGHT_ANNOTATION, "0") if isinstance(annotations, Mapping) else "0"
    return int(str(raw))


def route_refusal(spec: Any, status: Any, metadata: Any = None) -> str | None:
    """Why the Gateway(s) an HTTPRoute names do not carry it as its spec says, or None.

    Acceptance lives per parent in `status.parents[].conditions`, not in `status.conditions` (Gateway API
    v1 RouteParentStatus). For each of the route's parentRefs, the Gateway's entry must report Accepted and
    ResolvedRefs True, for the route's current generation. An entry missing from a `parents` list is a
    refusal too: "an empty list means the route has not been attached to any Gateway", and a parentRef
    that names no Gateway a controller serves is never added (HTTPRouteStatus.parents, v1.6.1 CRD).
    A route with no `status.parents` at all (no controller ever wrote its status) is not judged here:
    see README, "Kubernetes" (the `pulumi.com/waitFor` of every update fails on such a route instead).
    >>> spec = {"parentRefs": [{"name": "public", "namespace": "gw"}]}
    >>> entry = {"parentRef": {"name": "public", "namespace": "gw"}, "conditions": [
    ...     {"type": "Accepted", "status": "False", "reason": "NotAllowedByListeners", "message": "namespace shop"},
    ...     {"type": "ResolvedRefs", "status": "True"}]}
    >>> route_refusal(spec, {"parents": [entry]}, {"namespace": "shop"})
    'Gateway gw/public reports Accepted=False (NotAllowedByListeners: namespace shop)'
    >>> route_refusal(spec, {"parents": []}, {"namespace": "shop"})
    'Gateway gw/public has not attached it (no entry in status.parents)'
    """
    parents = field_of(status, "parents")
    if parents is None:
        return None
    own_namespace = field_of(metadata, "namespace")
    generation = field_of(metadata, "generation")
    for ref in field_of(spec, "parent_refs", "parentRefs") or []:
        gateway = f"{field_of(ref, 'namespace') or own_namespace}/{field_of(ref, 'name')}"
        entry = next((p for p in parents if _parent_key(field_of(p, "parent_ref", "parentRef"), own_namespace) == _parent_key(ref, own_namespace)), None)
        if entry is None:
            return f"Gateway {gateway} has not attached it (no entry in status.parents)"
        conditions = {field_of(c, "type"): c for c in field_of(entry, "conditions") or []}
        for wanted in GATEWAY_CONDITIONS:
            condition = conditions.get(wanted)
            if condition is None:
                return f"Gateway {gateway} reports no {wanted} condition"
            if field_of(condition, "status") != "True":
                why = ": ".join(str(v) for v in (field_of(condition, "reason"), field_of(condition, "message")) if v)
                return f"Gateway {gateway} reports {wanted}={field_of(condition, 'status')}" + (f" ({why})" if why else "")
            observed = field_of(condition, "observed_generation", "observedGeneration")
            if generation is not None and observed is not None and int(observed) < int(generation):
                return f"Gateway {gateway} has not seen generation {int(generation)} of it yet ({wanted} is of generation {int(observed)})"
    return None


def _parent_key(ref: Any, own_namespace: str | None) -> tuple:
    """A parentRef as a comparable key: group and kind default to the Gateway API's, namespace to the route's."""
    return (
        field_of(ref, "group") or "gateway.networking.k8s.io",
        field_of(ref, "kind") or "Gateway",
        field_of(ref, "namespace") or own_namespace,
        field_of(ref, "name"),
        field_of(ref, "section_name", "sectionName"),
    )
