"""The `gateway` router: a Gateway API HTTPRoute with weighted backendRefs to one Service per color."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import pulumi
import pulumi_kubernetes as k8s

from components.applied import field_of
from components.kubernetes.manifest import (
    APP_LABEL,
    PATCH_FORCE,
    ROUTE_ACCEPTED_WAIT_FOR,
    SERVICE_PORT,
    WAIT_FOR_ANNOTATION,
    backend_ref_weights,
)
from components.kubernetes.selector_service import cluster_url, selector_service, service_name
from components.rollout.model import Weights

GATEWAY_API_VERSION = "gateway.networking.k8s.io/v1"
ROUTE_ANNOTATIONS = {
    # The weights are this object's spec: a hand edit (`kubectl edit httproute`) must never make the next
    # update, the one that aborts included, fail with a server-side apply conflict (pulumi-kubernetes#2491).
    **PATCH_FORCE,
    # A custom resource has no built-in await: without this, an update "succeeds" on a route the Gateway
    # refused, and its spec weights read back as applied. With it, the update returns only once the Gateway
    # reports the route Accepted and its backendRefs resolved (pulumi-kubernetes#3134, v4.18.0; see
    # manifest.ROUTE_ACCEPTED_WAIT_FOR), and fails after the await timeout (10 minutes) otherwise.
    WAIT_FOR_ANNOTATION: ROUTE_ACCEPTED_WAIT_FOR,
}


@dataclass(frozen=True)
class WeightedHttpRouteArgs:
    service: str
    """Service name (the `app` label)."""
    namespace: str
    """Namespace of the route and the Services (backendRefs stay in-namespace: no ReferenceGrant)."""
    colors: tuple[str, ...]
    """Colors that get a Service and a backendRef: both for two-color strategies, the stable one for rolling."""
    weights: Weights
    """Percent per color this run applies."""
    gateway_name: str
    """The shared Gateway the route attaches to ..."""
    gateway_namespace: str
    """... and its namespace (its listeners must allow routes from `namespace`)."""
    deployments: Mapping[str, pulumi.Resource]
    """Color -> that color's TwinDeployment."""
    ready_first: tuple[str, ...] = ()
    """Colors whose Deployments the router waits for: their share, image or capacity rises this run."""
    gate: tuple[pulumi.Resource, ...] = ()
    """Other resources the weights wait for (the candidate's expand migration Job in the run that gives it traffic)."""
    host: str | None = None
    """Hostname the route matches; None matches every hostname of the Gateway's listener."""
    path_prefix: str = "/"
    """Path prefix the route matches."""
    preview_color: str | None = None
    """Color a preview Service selects (blue-green: reach the candidate at 0 %); None: no preview."""
    decision: pulumi.Input[dict[str, str]] = field(default_factory=dict)
    """Decision record, written as annotations on the HTTPRoute (it carries the weights)."""
    mirror_color: str | None = None
    """Shadow phase: the color whose Service receives copies of requests (a RequestMirror filter); None: no mirror."""
    mirror_percent: int = 0
    """Share of matching requests copied, 1..100."""
    mirror_methods: tuple[str, ...] = ()
    """Methods whose requests are copied; others are routed by a rule without the filter."""


HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"})
"""Every method an HTTPRouteMatch can name (Gateway API v1.6.1): listing them all needs no method match."""


def route_rules(path_prefix: str, backend_refs: list[dict], mirror_ref: dict | None = None, percent: int = 0,
                methods: tuple[str, ...] = ()) -> list[dict]:
    """The HTTPRoute's rules: one that routes by weight; while mirroring, a second one with the same weights
    that matches only `methods` and carries a RequestMirror filter.

    A request of a listed method matches both rules; Gateway API gives precedence to the match with a
    method over one without (HTTPRouteRule, "precedence": path, then method), so it takes the mirrored rule.
    The plain rule stays first: the weights are read from `rules[0]` (applied weights, live reads).

    >>> ref = {"name": "api-green", "port": 80}
    >>> [sorted(r) for r in route_rules("/", [], ref, 100, ("GET",))]
    [['backendRefs', 'matches'], ['backendRefs', 'filters', 'matches']]
    >>> route_rules("/", [], ref, 50, tuple(sorted(HTTP_METHODS)))[0]["filters"][0]["requestMirror"]["percent"]
    50
    """
    path = {"type": "PathPrefix", "value": path_prefix}
    plain = {"matches": [{"path": path}], "backendRefs": backend_refs}
    if mirror_ref is None:
        return [plain]
    if not 1 <= percent <= 100 or not methods:
        raise ValueError(f"a mirror needs a percent 1..100 and at least one method, got {percent} and {methods}")
    # Responses from the mirror are discarded by the Gateway (HTTPRequestMirrorFilter).
    mirror = {"type": "RequestMirror", "requestMirror": {"backendRef": mirror_ref, "percent": percent}}
    if HTTP_METHODS <= set(methods):
        return [{**plain, "filters": [mirror]}]
    mirrored = {"matches": [{"path": path, "method": method} for method in methods], "filters": [mirror],
                "backendRefs": backend_refs}
    return [plain, mirrored]


class WeightedHttpRoute(pulumi.ComponentResource):
    """Weights live in one HTTPRoute rule, so a step is one in-place update of one object.

    Each color's Service stays attached at weight 0 (Gateway API sends it nothing), so moving a
    step never creates or deletes a backend; weights always sum to 100 (all-zero would be a 503).
    """

    applied_weights: pulumi.Output[dict]
    """Weights read back from the route's applied backendRefs: {"blue": int, "green": int}."""
    route_name: pulumi.Output[str]
    """Physical name of the HTTPRoute."""
    color_service_names: pulumi.Output[dict]
    """Color -> physical name of its Service."""
    preview_url: pulumi.Output[str | None]
    """In-cluster URL of the preview Service, or None."""

    def __init__(self, name: str, args: WeightedHttpRouteArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("cutover:kubernetes:WeightedHttpRoute", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        services = {
            color: selector_service(
                f"{name}-{color}",
                namespace=args.namespace,
                app=args.service,
                color=color,
                role=color,
                wait_for_pods=False,
                opts=child,
            )
            for color in sorted(args.colors)
        }
        names = {color: service_name(svc) for color, svc in services.items()}
        route = k8s.apiextensions.CustomResource(
            f"{name}-route",
            api_version=GATEWAY_API_VERSION,
            kind="HTTPRoute",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                namespace=args.namespace,
                labels={APP_LABEL: args.service},
                annotations=_route_annotations(args.decision),
            ),
            spec={
                "parentRefs": [
                    {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": args.gateway_name, "namespace": args.gateway_namespace}
                ],
                **({"hostnames": [args.host]} if args.host else {}),
                "rules": route_rules(
                    args.path_prefix,
                    [
                        {"group": "", "kind": "Service", "name": names[c], "port": SERVICE_PORT, "weight": args.weights.of_name(c)}
                        for c in sorted(args.colors)
                    ],
                    mirror_ref=({"group": "", "kind": "Service", "name": names[args.mirror_color], "port": SERVICE_PORT}
                                if args.mirror_color in names and args.mirror_percent else None),
                    percent=args.mirror_percent,
                    methods=args.mirror_methods,
                ),
            },
            # A color's share rises only after its Deployment reports its new pods ready.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*(args.deployments[c] for c in args.ready_first if c in args.deployments), *args.gate]),
        )
        self.preview_url = pulumi.Output.from_input(None)
        if args.preview_color is not None:
            preview = selector_service(
                f"{name}-preview",
                namespace=args.namespace,
                app=args.service,
                color=args.preview_color,
                role="preview",
                wait_for_pods=False,
                opts=child,
            )
            self.preview_url = cluster_url(preview, args.namespace)
        self.route_name = route.metadata.apply(lambda m: field_of(m, "name"))
        self.color_service_names = pulumi.Output.all(**names)
        # Nested applies, not `Output.all(route.spec, ...)`: `all` would unwrap the whole spec, one Output per value.
        self.applied_weights = self.color_service_names.apply(lambda by_color: route.spec.apply(
            lambda spec: backend_ref_weights(spec, {n: c for c, n in by_color.items()})))
        self.register_outputs(
            {
                "applied_weights": self.applied_weights,
                "route_name": self.route_name,
                "color_service_names": self.color_service_names,
                "preview_url": self.preview_url,
            }
        )


def _route_annotations(decision: pulumi.Input[dict[str, str]]) -> pulumi.Input[dict[str, str]]:
    """The decision record with the route's pulumi.com/* annotations. Applied directly, not through
    `Output.from_input`, which would unwrap the record value by value (one Output object per field)."""
    if isinstance(decision, pulumi.Output):
        return decision.apply(lambda record: {**record, **ROUTE_ANNOTATIONS})
    return {**decision, **ROUTE_ANNOTATIONS}
