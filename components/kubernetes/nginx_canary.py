"""The `nginx` router: an ingress-nginx main Ingress plus a canary Ingress carrying the candidate's weight.

Why role Services ("stable" and "candidate") instead of one Service per color: ingress-nginx keys
its upstreams by Service, so swapping per-color Services between the main and the canary Ingress
at promotion would pass through a moment where one Service backs both Ingresses (the canary is
then dropped or the upstream answers 503, kubernetes/ingress-nginx#3952, #9458); and a canary
whose main backend has no ready endpoints answers 503 even at weight 100 (#9635, #13086). So
the Ingresses never change backends. Only three values move:

    stable Service selector     = the stable color (always has ready pods)
    candidate Service selector  = the candidate while there is one, else the stable color
    canary-weight               = the candidate's percent

Promotion (green 50 % -> green stable), in dependency order:
    1. stable Service selects green (after the green Deployment reports ready): green gets 100 %
       through both Ingresses; blue is out of rotation but still warm.
    2. canary-weight -> 0 (the canary Ingress depends on the stable Service).
    The candidate Service does not move (it already selects green); it moves to blue at the start
    of the next rollout, while canary-weight is still 0, before the weight rises (the canary
    Ingress reads its name). No step routes a request to a color without ready pods.
Abort or a hold back: canary-weight -> 0 only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes.manifest import (
    APP_LABEL,
    CANARY_ANNOTATION,
    CANARY_WEIGHT_ANNOTATION,
    PATCH_FORCE,
    SERVICE_PORT,
    SKIP_AWAIT,
    canary_weight,
    selected_color,
    weights_from_colors,
)
from components.kubernetes.selector_service import cluster_url, selector_service, service_name

INGRESS_ANNOTATIONS = {
    # pulumi-kubernetes' Ingress await waits for `.status.loadBalancer.ingress` (the Ingress API docs of
    # pulumi_kubernetes.networking.v1.Ingress, condition 3), which many ingress-nginx installs never publish
    # (no `--publish-service`, a NodePort or hostNetwork controller): every update would hang for the
    # 10-minute await timeout and then fail. Readiness is not lost: the Services behind these Ingresses
    # select only colors whose Deployment (await on) reported ready first, and the Ingresses depend on them.
    **SKIP_AWAIT,
    # The canary weight is an annotation of this object: a hand edit (`kubectl annotate --overwrite`) takes
    # it over, and the next server-side apply, the abort included, would fail with a conflict without force.
    **PATCH_FORCE,
}


@dataclass(frozen=True)
class NginxCanaryArgs:
    service: str
    """Service name (the `app` label)."""
    namespace: str
    """Namespace of the Ingresses and Services."""
    ingress_class: str
    """IngressClass of the ingress-nginx controller."""
    stable_color: str
    """Color the main Ingress reaches (through the stable Service)."""
    candidate_color: str | None
    """Color the canary Ingress reaches (through the candidate Service); None: no canary (rolling)."""
    candidate_percent: int
    """canary-weight, 0..100."""
    deployments: Mapping[str, pulumi.Resource]
    """Color -> that color's TwinDeployment."""
    ready_first: tuple[str, ...] = ()
    """Colors whose Deployments the router waits for: their share, image or capacity rises this run."""
    gate: tuple[pulumi.Resource, ...] = ()
    """Other resources the weights wait for (the candidate's expand migration Job in the run that gives it traffic)."""
    host: str | None = None
    """Host the Ingresses match; None: any host."""
    path_prefix: str = "/"
    """Path prefix the Ingresses match."""
    decision: pulumi.Input[dict[str, str]] = field(default_factory=dict)
    """Decision record, written as annotations on the Ingress that carries the weight."""
    sticky_seconds: int | None = None
    """stickySessions: cookie affinity on both Ingresses for this long (see `affinity_annotations`)."""
    mirror: bool = False
    """Shadow phase: the main Ingress copies every request to the candidate Service (`mirror_annotations`)."""


class NginxCanary(pulumi.ComponentResource):
    """ingress-nginx weighted canary: the weight is one annotation of the canary Ingress."""

    applied_weights: pulumi.Output[dict]
    """Weights read back from the applied selectors and canary-weight: {"blue": int, "green": int}."""
    ingress_names: pulumi.Output[dict]
    """{"main": name, "canary": name or None}."""
    service_names: pulumi.Output[dict]
    """{"stable": name, "candidate": name or None}: the Services whose selectors carry the colors."""
    preview_url: pulumi.Output[str | None]
    """In-cluster URL of the candidate Service (the candidate while there is one), or None."""

    def __init__(self, name: str, args: NginxCanaryArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("cutover:kubernetes:NginxCanary", name, None, opts)
        if not 0 <= args.candidate_percent <= 100:
            raise ValueError(f"canary-weight must be 0..100, got {args.candidate_percent}")
        waits = [*(args.deployments[c] for c in args.ready_first if c in args.deployments), *args.gate]
        stable = selector_service(
            f"{name}-stable",
            namespace=args.namespace,
            app=args.service,
            color=args.stable_color,
            role="stable",
            wait_for_pods=True,
            # Selects a color only once its Deployment reports ready (promotion moves it).
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(dict.fromkeys([*(args.deployments[c] for c in (args.stable_color,) if c in args.deployments), *waits]))),
        )
        has_canary = args.candidate_color is not None
        sticky = affinity_annotations(args.sticky_seconds)
        candidate = self._candidate_service(name, args) if has_canary else None
        mirror = (pulumi.Output.from_input(mirror_annotations(cluster_url(candidate, args.namespace)))
                  if args.mirror and candidate is not None else pulumi.Output.from_input({}))
        main = self._ingress(f"{name}-main", args, stable, annotations=pulumi.Output.all(
            pulumi.Output.from_input({} if has_canary else args.decision), mirror)
                             .apply(lambda values: {**values[0], **sticky, **values[1]}), depends_on=waits)
        shares = [(stable.spec, None)]
        self.preview_url = pulumi.Output.from_input(None)
        canary_name: pulumi.Input[str | None] = None
        candidate_service: pulumi.Input[str | None] = None
        if candidate is not None:
            canary = self._ingress(
                f"{name}-canary",
                args,
                candidate,
                annotations=pulumi.Output.from_input(args.decision).apply(lambda record: {
                    **record,
                    **sticky,
                    **({AFFINITY_CANARY_BEHAVIOR: "sticky"} if sticky else {}),
                    CANARY_ANNOTATION: "true",
                    CANARY_WEIGHT_ANNOTATION: str(args.candidate_percent),
                }),
                # After the stable Service: at promotion the main path takes over before the canary drops to 0.
                depends_on=[*waits, stable],
            )
            shares.append((candidate.spec, canary.metadata))
            canary_name = canary.metadata.apply(lambda m: m.name if m else None)
            candidate_service = service_name(candidate)
            self.preview_url = cluster_url(candidate, args.namespace)
        self.ingress_names = pulumi.Output.all(main=main.metadata.apply(lambda m: m.name if m else None), canary=canary_name)
        self.applied_weights = pulumi.Output.all(*[value for pair in shares for value in pair]).apply(_applied_weights)
        self.service_names = pulumi.Output.all(stable=service_name(stable), candidate=candidate_service)
        self.register_outputs({"applied_weights": self.applied_weights, "ingress_names": self.ingress_names,
                               "service_names": self.service_names, "preview_url": self.preview_url})

    def _candidate_service(self, name: str, args: NginxCanaryArgs) -> k8s.core.v1.Service:
        return selector_service(
            f"{name}-candidate",
            namespace=args.namespace,
            app=args.service,
            color=args.candidate_color,
            role="candidate",
            wait_for_pods=True,
            # Its own color's pods must be ready before it selects them (a color losing capacity is
            # updated after the router instead, and is then already selected).
            opts=pulumi.ResourceOptions(parent=self, depends_on=[args.deployments[c] for c in (args.candidate_color,) if c in args.deployments]),
        )

    def _ingress(
        self,
        resource_name: str,
        args: NginxCanaryArgs,
        backend: k8s.core.v1.Service,
        annotations: pulumi.Input[Mapping[str, str]],
        depends_on: list[pulumi.Resource],
    ) -> k8s.networking.v1.Ingress:
        return k8s.networking.v1.Ingress(
            resource_name,
            metadata=k8s.meta.v1.ObjectMetaArgs(
                namespace=args.namespace,
                labels={APP_LABEL: args.service},
                annotations=pulumi.Output.from_input(annotations).apply(lambda values: {**values, **INGRESS_ANNOTATIONS}),
            ),
            spec=k8s.networking.v1.IngressSpecArgs(
                ingress_class_name=args.ingress_class,
                rules=[
                    k8s.networking.v1.IngressRuleArgs(
                        host=args.host,
                        http=k8s.networking.v1.HTTPIngressRuleValueArgs(
                            paths=[
                                k8s.networking.v1.HTTPIngressPathArgs(
                                    path=args.path_prefix,
                                    path_type="Prefix",
                                    backend=k8s.networking.v1.IngressBackendArgs(
                                        service=k8s.networking.v1.IngressServiceBackendArgs(
                                            name=service_name(backend),
                                            port=k8s.networking.v1.ServiceBackendPortArgs(number=SERVICE_PORT),
                                        )
                                    ),
                                )
                            ]
                        ),
                    )
                ],
            ),
            # Traffic moves onto a color only after its Deployment reports ready.
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on),
        )


AFFINITY_ANNOTATION = "nginx.ingress.kubernetes.io/affinity"
SESSION_COOKIE_MAX_AGE = "nginx.ingress.kubernetes.io/session-cookie-max-age"
AFFINITY_CANARY_BEHAVIOR = "nginx.ingress.kubernetes.io/affinity-canary-behavior"


def affinity_annotations(seconds: int | None) -> dict[str, str]:
    """Cookie affinity of ingress-nginx for `seconds`, or {}.

    A canary Ingress ignores the non-canary annotations it carries (they come from the main Ingress) except
    load-balance, upstream-hash-by and the session-affinity ones, and with `affinity-canary-behavior: sticky`
    (the default since kubernetes/ingress-nginx#7371) a request whose cookie names the canary's upstream stays
    on the canary: so both Ingresses carry them, and the canary says `sticky` explicitly
    (https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/#canary,
    https://kubernetes.github.io/ingress-nginx/examples/affinity/cookie/)."""
    if not seconds:
        return {}
    return {AFFINITY_ANNOTATION: "cookie", SESSION_COOKIE_MAX_AGE: str(seconds)}


MIRROR_TARGET = "nginx.ingress.kubernetes.io/mirror-target"
MIRROR_REQUEST_BODY = "nginx.ingress.kubernetes.io/mirror-request-body"


def mirror_annotations(candidate_url: pulumi.Input[str]) -> pulumi.Output[dict[str, str]]:
    """The main Ingress' mirror of a shadow phase: every request of the Ingress (all methods, all paths; there
    is no sampling) is copied to the candidate Service and its response discarded. The body is copied too
    (`on`, the default, said explicitly): the config accepts nginx only when every method is mirrored, and a
    POST copied without its body would be a different request. The original request waits for its mirror
    subrequest, so a slow candidate slows stable's answers
    (https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/#mirror,
    https://nginx.org/en/docs/http/ngx_http_mirror_module.html)."""
    return pulumi.Output.from_input(candidate_url).apply(
        lambda url: {MIRROR_TARGET: f"{url}$request_uri", MIRROR_REQUEST_BODY: "on"})


def _applied_weights(values: list) -> dict[str, int]:
    """[stable spec, None] or [stable spec, None, candidate spec, canary metadata] -> weights."""
    stable_color = selected_color(values[0])
    if len(values) == 2:
        return weights_from_colors([(stable_color, 100)])
    metadata = values[3]
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else getattr(metadata, "annotations", None)
    weight = canary_weight(annotations)
    return weights_from_colors([(stable_color, 100 - weight), (selected_color(values[2]), weight)])
