"""All Kubernetes services of a run: check what Kubernetes would reject, then one KubernetesService each.

The Kubernetes twin of `components/aws/build.py`. The namespace (`cutover:kubernetes.namespace`)
is assumed to exist: it is owned by the platform team (quotas, RBAC, network policies, Pod Security
labels live there), and a namespace created here would be deleted, with everything in it, by a
`pulumi destroy` of this stack.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pulumi

from components.app import ServiceDecision, color_plan, needs_preview, routing_host
from components.config import CONFIG_NAMESPACE, AutoscalingConfig, CutoverConfig, Router, ServiceConfig
from components.gates.migration_verdict import migration_plan
from components.kubernetes.manifest import HorizontalScaling, max_surge
from components.kubernetes.service import KubernetesService, KubernetesServiceArgs


def build_kubernetes(config: CutoverConfig, decisions: dict[str, ServiceDecision], records: dict, endpoints: dict,
                     previous_endpoints: dict | None = None) -> None:
    """Register every Kubernetes service; fill `records[name]` (from what was applied) and `endpoints[name]`.
    `previous_endpoints`: the previous run's `endpoints`, with the migration outcomes this run read back."""
    kube = config.kubernetes
    if kube is None:  # config validation already requires it; kept so the message names the key
        raise pulumi.RunError(f"{CONFIG_NAMESPACE}:kubernetes: required by services on platform kubernetes")
    for name, decision in decisions.items():
        service = config.services[name]
        host = routing_host(config, name)
        component = KubernetesService(
            name,
            KubernetesServiceArgs(
                service=name,
                namespace=kube.namespace,
                kubernetes_version=kube.version,
                image=service.image,
                port=service.port,
                health_check_path=service.health_check_path,
                router=service.effective_router.value,
                plan=color_plan(decision, service),
                max_surge=max_surge(service.strategy.max_surge),
                preview=service.effective_router is Router.SERVICE or needs_preview(service),
                host=host,
                path_prefix=service.path_prefix or ("/" if host else f"/{name}"),
                gateway_name=kube.gateway.name if kube.gateway else None,
                gateway_namespace=kube.gateway.namespace if kube.gateway else None,
                ingress_class=kube.ingress_class,
                cpu=service.cpu,
                memory=service.memory,
                environment=dict(service.environment),
                secrets=dict(service.secrets),
                decision=decision,
                autoscaling=_autoscaling(service.autoscaling),
                sticky_seconds=service.sticky_sessions.duration_seconds if service.sticky_sessions else None,
                **_migrations(decision, service, (previous_endpoints or {}).get(name)),
            ),
        )
        records[name] = component.record
        endpoints[name] = component.endpoints


def _autoscaling(settings: AutoscalingConfig | None) -> HorizontalScaling | None:
    """The config's `autoscaling` as plain values (its `targetRequestsPerTarget` is refused on Kubernetes by the config)."""
    if settings is None:
        return None
    return HorizontalScaling(settings.min_replicas, settings.max_replicas, settings.target_cpu_percent)


def _migrations(decision: ServiceDecision, service: ServiceConfig, previous: Any) -> dict[str, Any]:
    """The service's migration Jobs this run (`KubernetesServiceArgs` fields); nothing without `hooks.migrations`.

    As `migration_plan` decides on AWS, except that a restart never gives a *succeeded* expand a new attempt:
    the AWS provider's diff keeps a succeeded run whatever its attempt, here the attempt is the Job's name."""
    migrations = service.hooks.migrations if service.hooks else None
    if migrations is None:
        return {}
    records = previous.get("migrations") if isinstance(previous, dict) else None
    plan = migration_plan(decision.previous, decision.state, migrations.expand is not None, migrations.contract is not None, records)
    expand = records.get("expand") if isinstance(records, dict) else None
    if (plan.expand_version is not None and isinstance(expand, dict) and expand.get("version") == plan.expand_version
            and expand.get("status") == "succeeded"):
        plan = replace(plan, expand_attempt=str(expand.get("attempt") or ""))
    commands = {phase: tuple(run.command) for phase, run in (("expand", migrations.expand), ("contract", migrations.contract)) if run}
    return {"migrations": plan, "migration_commands": commands, "migration_records": records if isinstance(records, dict) else {}}
