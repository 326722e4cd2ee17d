"""The `service` router: one stable Service whose selector switches color, plus a preview Service."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import pulumi

from components.kubernetes.manifest import selected_color, weights_from_colors
from components.kubernetes.selector_service import cluster_url, selector_service, service_name


@dataclass(frozen=True)
class ServiceSwitchArgs:
    service: str
    """Service name (the `app` label)."""
    namespace: str
    """Namespace of the Services."""
    stable_color: str
    """Color the stable Service selects: the one with 100 % (this router cannot split)."""
    preview_color: str | None
    """Color the preview Service selects (the candidate's); None creates no preview Service."""
    deployments: Mapping[str, pulumi.Resource]
    """Color -> that color's TwinDeployment."""
    ready_first: tuple[str, ...] = ()
    """Colors whose Deployments the router waits for: their share, image or capacity rises this run."""
    gate: tuple[pulumi.Resource, ...] = ()
    """Other resources the switch waits for (the candidate's expand migration Job in the run that gives it traffic)."""
    decision: pulumi.Input[dict[str, str]] = field(default_factory=dict)
    """Decision record, written as annotations on the stable Service (it carries the weights)."""
    sticky_seconds: int | None = None
    """stickySessions: ClientIP affinity on the stable Service for this long (kube-proxy keeps a client on one pod)."""


class ServiceSwitch(pulumi.ComponentResource):
    """Blue-green / red-black by selector: switching is one in-place update of the stable Service.

    The selector holds app+color only, so the switch moves every new connection at once; the
    Service keeps its name and ClusterIP, and the old color stays warm until it is scaled down.
    """

    applied_weights: pulumi.Output[dict]
    """Weights read back from the stable Service's applied selector: {"blue": int, "green": int}."""
    stable_service_name: pulumi.Output[str]
    """Physical name of the stable Service (the production entry point)."""
    url: pulumi.Output[str]
    """In-cluster URL of the stable Service."""
    preview_url: pulumi.Output[str | None]
    """In-cluster URL of the preview Service, or None."""

    def __init__(self, name: str, args: ServiceSwitchArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("cutover:kubernetes:ServiceSwitch", name, None, opts)
        ready_first = [*(args.deployments[c] for c in (args.stable_color, *args.ready_first) if c in args.deployments), *args.gate]
        stable = selector_service(
            f"{name}-stable",
            namespace=args.namespace,
            app=args.service,
            color=args.stable_color,
            role="stable",
            # Await on: it always selects the serving color, so its update confirms ready endpoints.
            wait_for_pods=True,
            annotations=args.decision,
            client_ip_affinity_seconds=args.sticky_seconds,
            # The selector moves to a color only after that color's Deployment reports ready.
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(dict.fromkeys(ready_first))),
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
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.preview_url = cluster_url(preview, args.namespace)
        self.stable_service_name = service_name(stable)
        self.url = cluster_url(stable, args.namespace)
        self.applied_weights = stable.spec.apply(lambda spec: weights_from_colors([(selected_color(spec), 100)]))
        self.register_outputs(
            {
                "applied_weights": self.applied_weights,
                "stable_service_name": self.stable_service_name,
                "url": self.url,
                "preview_url": self.preview_url,
            }
        )
