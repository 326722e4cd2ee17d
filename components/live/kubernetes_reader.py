"""Reading a Kubernetes service's live router and Deployments through pulumi-kubernetes resource `get`s.

pulumi-kubernetes has no data sources, so each object is read with `<Resource>.get(name, "ns/name")`
(the provider's own kubeconfig). A `get` of an object that does not exist fails the whole update in
the engine, so only objects the previous `endpoints` output names are read, and a read that fails
stops the run before anything is registered (the program's caller turns ReadFailed into a RunError).
Without `endpoints`, nothing is read: a Kubernetes stack whose outputs were all lost looks new (see
README, "How a rollout moves").
"""

from __future__ import annotations

import asyncio
from typing import Any, Mapping

import pulumi
import pulumi_kubernetes as k8s

from components.applied import field_of
from components.kubernetes.manifest import (
    CANARY_ANNOTATION,
    backend_ref_weights,
    canary_weight,
    route_refusal,
    selected_color,
    weights_from_colors,
)
from components.kubernetes.migration_job import job_outcome
from components.live.workloads import deployment_workload
from components.rollout.live import ColorWorkload, LiveRouter, LiveService
from components.rollout.model import InvalidWeights, Weights


class ReadFailed(Exception):
    """A Kubernetes object named by the previous outputs could not be read."""


class KubernetesLiveReader:
    async def observe(self, name: str, endpoints: Mapping[str, Any]) -> LiveService:
        namespace = endpoints.get("namespace")
        objects = endpoints.get("routerObjects") or {}
        if not namespace or not objects:
            return LiveService.unread()
        router = endpoints.get("router")
        if router == "gateway":
            found = await self._gateway(name, namespace, objects)
        elif router == "nginx":
            found = await self._nginx(name, namespace, objects)
        else:
            found = await self._switch(name, namespace, objects)
        colors = {color: await self._deployment(name, color, namespace, deployment)
                  for color, deployment in (endpoints.get("deployments") or {}).items() if deployment}
        return LiveService(found, colors, await self._migrations(name, endpoints.get("migrations")))

    @staticmethod
    async def _migrations(name: str, records: Any) -> dict[str, dict[str, Any]]:
        """The outcome of each migration Job whose record has none yet (the run that created it skipped the Job's
        await: `pulumi.com/skipAwait`). A record with an outcome is not read again: it never changes, and the Job
        may be gone by then. A Job that has not finished reads as nothing (the expand verdict holds)."""
        outcomes: dict[str, dict[str, Any]] = {}
        for phase, record in (records.items() if isinstance(records, Mapping) else ()):
            if not isinstance(record, Mapping) or record.get("status") is not None or not record.get("job"):
                continue
            namespace, _, job = str(record["job"]).partition("/")
            found = await _get(k8s.batch.v1.Job.get, f"{name}-live-{phase}-job", namespace, job, ("status",))
            outcome = job_outcome(found["status"])
            if outcome is not None:
                outcomes[phase] = outcome
        return outcomes

    async def _gateway(self, name: str, namespace: str, objects: Mapping[str, Any]) -> LiveRouter:
        """The weights of an HTTPRoute are its spec: what the Gateway does with them is in its status. A route
        the Gateway refused (or whose backendRefs it cannot resolve) still "applies" any weights written to
        it, so a refusal is reported as the router's problem: the run holds (components/rollout/trust.py)."""
        route = await _get(_http_route, f"{name}-live-route", namespace, objects.get("httpRoute"), ("metadata", "spec", "status"))
        color_by_service = {service: color for color, service in (objects.get("colorServices") or {}).items()}
        weights = _weights(backend_ref_weights(route["spec"], color_by_service))
        where = f"HTTPRoute {namespace}/{objects.get('httpRoute')}"
        refusal = route_refusal(route["spec"], route["status"], route["metadata"])
        problem = f"its Gateway does not serve its spec: {refusal}" if refusal else None
        return LiveRouter(True, weights, _annotations(route["metadata"]), problem=problem, where=where)

    async def _switch(self, name: str, namespace: str, objects: Mapping[str, Any]) -> LiveRouter:
        service = await _get(k8s.core.v1.Service.get, f"{name}-live-stable", namespace, objects.get("stableService"), ("metadata", "spec"))
        weights = _weights(weights_from_colors([(selected_color(service["spec"]), 100)]))
        return LiveRouter(True, weights, _annotations(service["metadata"]), where=f"Service {namespace}/{objects.get('stableService')}")

    async def _nginx(self, name: str, namespace: str, objects: Mapping[str, Any]) -> LiveRouter:
        ingresses = objects.get("ingresses") or {}
        services = objects.get("services") or {}
        stable = await _get(k8s.core.v1.Service.get, f"{name}-live-stable", namespace, services.get("stable"), ("spec",))
        shares = [(selected_color(stable["spec"]), 100)]
        main = await _get(k8s.networking.v1.Ingress.get, f"{name}-live-main", namespace, ingresses.get("main"), ("metadata",))
        record, where = _annotations(main["metadata"]), f"Ingress {namespace}/{ingresses.get('main')}"
        if ingresses.get("canary") and services.get("candidate"):
            canary = await _get(k8s.networking.v1.Ingress.get, f"{name}-live-canary", namespace, ingresses["canary"], ("metadata",))
            candidate = await _get(k8s.core.v1.Service.get, f"{name}-live-candidate", namespace, services["candidate"], ("spec",))
            annotations = _annotations(canary["metadata"])
            if annotations.get(CANARY_ANNOTATION) == "true":
                weight = canary_weight(annotations)
                shares = [(selected_color(stable["spec"]), 100 - weight), (selected_color(candidate["spec"]), weight)]
                record, where = annotations, f"Ingress {namespace}/{ingresses['canary']}"
        return LiveRouter(True, _weights(weights_from_colors(shares)), record, where=where)

    @staticmethod
    async def _deployment(name: str, color: str, namespace: str, deployment: str) -> ColorWorkload:
        found = await _get(k8s.apps.v1.Deployment.get, f"{name}-live-{color}", namespace, deployment, ("metadata", "spec", "status"))
        return deployment_workload(found["spec"], found["status"], found["metadata"])


def _http_route(resource_name: str, object_id: str) -> pulumi.CustomResource:
    """`CustomResource.get` declares no properties, so its outputs would be unreachable: read through a
    CustomResource that declares the ones we need (same type token, same provider)."""
    from pulumi_kubernetes import _utilities

    return pulumi.CustomResource(
        "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute",
        resource_name,
        {"apiVersion": None, "kind": None, "metadata": None, "spec": None, "status": None},
        pulumi.ResourceOptions(id=object_id, version=_utilities.get_version()),
    )


async def _get(get, resource_name: str, namespace: str, object_name: str | None, fields: tuple[str, ...]) -> dict[str, Any]:
    """Read one object's fields as plain values, before anything is registered. The reads of every service are
    in flight together and the program waits for all of them once (`read_live`)."""
    if not object_name:
        raise ReadFailed(f"{resource_name}: the previous outputs do not name the object")
    resource = get(resource_name, f"{namespace}/{object_name}")
    values = await asyncio.gather(*(getattr(resource, f).future() for f in fields), return_exceptions=True)
    failed = next((v for v in values if isinstance(v, Exception)), None)
    if failed is not None:  # the read failed; the update is already failing in the engine
        raise ReadFailed(f"{namespace}/{object_name} could not be read: {failed}")
    return dict(zip(fields, values))


def _annotations(metadata: Any) -> dict[str, str]:
    annotations = field_of(metadata, "annotations") or {}
    return dict(annotations) if isinstance(annotations, Mapping) else {}


def _weights(by_color: Mapping[str, int]) -> Weights | None:
    try:
        return Weights(int(by_color.get("blue", 0)), int(by_color.get("green", 0)))
    except InvalidWeights:
        return None

