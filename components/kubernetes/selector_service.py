"""The one shape of Service every router uses: ClusterIP on port 80, selecting one color's pods.

Not a component: the routers create these as their own children (`parent=` the router), so each
router owns the Services it points at and a Service's role never changes with the router's state.
"""

from __future__ import annotations

from typing import Mapping

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes.manifest import APP_LABEL, PATCH_FORCE, PORT_NAME, SERVICE_PORT, SKIP_AWAIT, selector

ROLE_LABEL = "cutover.dev/role"


def selector_service(
    resource_name: str,
    *,
    namespace: str,
    app: str,
    color: str,
    role: str,
    wait_for_pods: bool,
    opts: pulumi.ResourceOptions,
    annotations: pulumi.Input[Mapping[str, str]] | None = None,
    client_ip_affinity_seconds: int | None = None,
) -> k8s.core.v1.Service:
    """A Service selecting `app`+`color`, targeting the container port named `http`.

    `wait_for_pods=False` adds `pulumi.com/skipAwait`: Pulumi's Service await fails after 10 minutes
    when no ready pod is selected, which is the normal state of an idle color (0 replicas) or of a
    candidate before its first step. Readiness is still enforced where it matters: Deployments keep
    their await, and every resource that gives a color traffic depends on that color's Deployment.

    `pulumi.com/patchForce`: the selector is what routes traffic (a color switch, the nginx stable and
    candidate Services), so the program always wins it. Without force, a hand edit of the selector or of the
    record annotations (`kubectl edit`, `kubectl patch`) makes that field another manager's, and the next
    server-side apply fails with a conflict — including the run that aborts (pulumi-kubernetes#2491).

    `client_ip_affinity_seconds`: `sessionAffinity: ClientIP` for that long (stickySessions on the service router).
    """
    pulumi_annotations = {**PATCH_FORCE, **({} if wait_for_pods else SKIP_AWAIT)}
    metadata_annotations = pulumi.Output.from_input(annotations or {}).apply(lambda values: {**values, **pulumi_annotations})
    return k8s.core.v1.Service(
        resource_name,
        metadata=k8s.meta.v1.ObjectMetaArgs(
            namespace=namespace,
            labels={APP_LABEL: app, ROLE_LABEL: role},
            annotations=metadata_annotations,
        ),
        spec=k8s.core.v1.ServiceSpecArgs(
            type="ClusterIP",
            selector=selector(app, color),
            ports=[k8s.core.v1.ServicePortArgs(name=PORT_NAME, port=SERVICE_PORT, target_port=PORT_NAME, protocol="TCP")],
            **(_client_ip_affinity(client_ip_affinity_seconds) if client_ip_affinity_seconds else {}),
        ),
        opts=opts,
    )


def _client_ip_affinity(seconds: int) -> dict:
    return {
        "session_affinity": "ClientIP",
        "session_affinity_config": k8s.core.v1.SessionAffinityConfigArgs(
            client_ip=k8s.core.v1.ClientIPConfigArgs(timeout_seconds=seconds)),
    }


def service_name(service: k8s.core.v1.Service) -> pulumi.Output[str]:
    """Physical (autonamed) name of a Service."""
    return service.metadata.apply(lambda m: m.name if m else None)


def cluster_url(service: k8s.core.v1.Service, namespace: str) -> pulumi.Output[str]:
    """In-cluster URL of a Service."""
    return service_name(service).apply(lambda n: f"http://{n}.{namespace}.svc.cluster.local")
