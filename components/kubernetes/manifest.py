"""Pure pieces of cutover's Kubernetes manifests: labels, selectors, surge, env, probes, and
reading the weights back from applied objects. No pulumi import: plain values in, plain values out.

Worked example (service `api`, version `2.1`, color green):
    pod_labels("api", "green", "2.1")  -> {"app": "api", "color": "green", "version": "2.1"}
    selector("api", "green")           -> {"app": "api", "color": "green"}   (never the version)
    max_surge("25%"), max_surge("2")   -> "25%", 2
    secret_ref("db-credentials:password") -> ("db-credentials", "password")
"""

from __future__ import annotations

import hashlib
import re
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

_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_SECRET_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]{1,253}$")
_SURGE = re.compile(r"^(\d+)(%?)$")


class InvalidKubernetesSetting(ValueError):
    """A service setting Kubernetes would reject; the message says what to write instead."""


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
