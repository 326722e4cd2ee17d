"""One color of a service on Kubernetes: its Deployment, the PodDisruptionBudget that guards it and, with
`autoscaling`, the HorizontalPodAutoscaler that owns its replica count while the color runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import pulumi
import pulumi_kubernetes as k8s

from components.applied import field_of
from components.live.workloads import deployment_workload
from components.kubernetes.manifest import (
    PATCH_FORCE,
    PORT_NAME,
    HorizontalScaling,
    compute_resources,
    container_env,
    hpa_bounds,
    pod_labels,
    selector,
    supports_sleep_action,
)
from components.rollout.model import WorkloadSpec

MIN_READY_SECONDS = 10
"""A new pod counts as available only after it stayed ready this long (catches crash-after-start)."""
PROGRESS_DEADLINE_SECONDS = 300
"""A stuck rollout is reported failed after 5 minutes, before Pulumi's own 10-minute await timeout,
so `pulumi up` fails with Kubernetes' reason (ProgressDeadlineExceeded) and the router is not touched."""
PRE_STOP_SECONDS = 5
"""A terminating pod keeps serving while endpoints, kube-proxy and the ingress drop it."""


@dataclass(frozen=True)
class TwinDeploymentArgs:
    service: str
    """Service name: the `app` label and the container name."""
    namespace: str
    """Namespace the objects live in (owned by the platform team, not created here)."""
    color: str
    """`blue` or `green`."""
    image: str
    """Image without tag."""
    version: str
    """Image tag this color runs."""
    port: int
    """Container port; named `http` so Services target it by name."""
    replicas: int
    """Pods to run; 0 keeps the Deployment (scaled down, never deleted)."""
    health_check_path: str
    """Readiness probe path: a pod joins Services only once it answers here."""
    max_surge: int | str
    """Extra pods a rolling update may start (maxUnavailable is always 0)."""
    kubernetes_version: str
    """Kubernetes minor version the manifests target, e.g. "1.32"."""
    cpu: int = 256
    """AWS-style CPU units (1024 = one core), turned into millicores: this color's pinned spec (`app.color_specs`)."""
    memory: int = 512
    """MiB this color's pods get."""
    environment: dict[str, str] = field(default_factory=dict)
    """Plain environment variables this color's pods run with."""
    secrets: dict[str, str] = field(default_factory=dict)
    """Env var -> "secret-name:key" (a Secret in the same namespace) this color's pods run with."""
    autoscaling: HorizontalScaling | None = None
    """HPA settings; None: `replicas` is the Deployment's count. With them, a color with replicas > 0 gets an HPA
    with minReplicas >= replicas, and the Deployment leaves `spec.replicas` to it."""


class TwinDeployment(pulumi.ComponentResource):
    """A color's Deployment (selector app+color, immutable) plus its PodDisruptionBudget.

    Changing `version` rolls the pods in place (RollingUpdate, maxUnavailable 0); changing
    `replicas` scales. Neither replaces the Deployment: it is autonamed and its selector never
    holds the version. Pulumi's await logic stays on, so an update returns only once the new
    pods are ready, and a router that depends on this component moves traffic only onto ready pods.
    """

    deployment_name: pulumi.Output[str]
    """Physical (autonamed) Deployment name."""
    disruption_budget_name: pulumi.Output[str]
    """Physical (autonamed) PodDisruptionBudget name."""
    applied_version: pulumi.Output[str | None]
    """Image tag of the applied pod template."""
    applied_replicas: pulumi.Output[int]
    """Replicas the Deployment applied; with an HPA, `replicas` once the HPA's applied minReplicas guarantees them."""
    applied_spec: pulumi.Output[WorkloadSpec | None]
    """Environment, secret references, cpu and memory of the applied pod template."""
    autoscaler_name: pulumi.Output[str | None]
    """Physical (autonamed) HorizontalPodAutoscaler name, or None when the color has none this run."""

    def __init__(self, name: str, args: TwinDeploymentArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("cutover:kubernetes:TwinDeployment", name, None, opts)
        # The component's own ordering (after the router, for a color losing capacity) holds for each
        # child too: a child does not inherit its parent's depends_on, so it is passed on explicitly.
        child = pulumi.ResourceOptions(parent=self, depends_on=list(opts.depends_on or []) if opts else [])
        labels = pod_labels(args.service, args.color, args.version)
        # No metadata.name: Pulumi autonames, so a replacement (should one ever be forced) is created
        # before the old one is deleted instead of delete-then-create with a gap.
        bounds = hpa_bounds(args.replicas, args.autoscaling)
        deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                namespace=args.namespace,
                labels=labels,
                # Server-side apply with force: the program always wins what it declares. Without an HPA that
                # includes `replicas` (an idle color back to 0 after a `kubectl scale`, an HPA left from an
                # earlier run that took the field), and always the pod template, so the planned image is the one
                # applied (pulumi-kubernetes#2491). With an HPA the manifest declares no `replicas`, and force
                # only applies to declared fields: the HPA keeps the count (Kubernetes, Server-Side Apply).
                annotations=PATCH_FORCE,
            ),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                # Left out where an HPA owns it: a declared count would be reset by every update, or conflict with
                # the HPA's field manager (kube-controller-manager, subresource scale).
                replicas=None if bounds else args.replicas,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector(args.service, args.color)),
                strategy=k8s.apps.v1.DeploymentStrategyArgs(
                    type="RollingUpdate",
                    rolling_update=k8s.apps.v1.RollingUpdateDeploymentArgs(max_unavailable=0, max_surge=args.max_surge),
                ),
                min_ready_seconds=MIN_READY_SECONDS,
                progress_deadline_seconds=PROGRESS_DEADLINE_SECONDS,
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                    spec=self._pod_spec(args),
                ),
            ),
            opts=child,
        )
        # maxUnavailable 1 rather than a minAvailable: it needs no arithmetic on `replicas`, so the
        # budget never changes while a color scales between 0 and N; it never blocks a node drain
        # (minAvailable 1 on a 1-replica color would, forever); and on a 0-replica color it is moot.
        # A drain still takes at most one pod of a color at a time; run 2+ replicas to ride it out.
        budget = k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata=k8s.meta.v1.ObjectMetaArgs(namespace=args.namespace, labels=selector(args.service, args.color)),
            spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                max_unavailable=1,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector(args.service, args.color)),
            ),
            opts=child,
        )
        self.deployment_name = deployment.metadata.apply(lambda m: m.name if m else None)
        self.disruption_budget_name = budget.metadata.apply(lambda m: m.name if m else None)
        # Read back from the applied Deployment, so the record never claims an image or capacity that did not take.
        applied = deployment.spec.apply(lambda spec: deployment_workload(spec, None))
        self.applied_version = applied.apply(lambda workload: workload.version)
        self.applied_replicas = applied.apply(lambda workload: workload.desired)
        self.applied_spec = deployment.spec.apply(lambda spec: workload_spec_of(spec, args))
        self.autoscaler_name = pulumi.Output.from_input(None)
        if bounds is not None:
            autoscaler = self._create_autoscaler(name, args, bounds, deployment, child)
            self.autoscaler_name = autoscaler.metadata.apply(lambda m: m.name if m else None)
            # The Deployment reads back whatever the HPA chose; what this run guarantees is the HPA's floor.
            self.applied_replicas = autoscaler.spec.apply(lambda spec: _guaranteed(args.replicas, spec))
        self.register_outputs({
            "deployment_name": self.deployment_name,
            "disruption_budget_name": self.disruption_budget_name,
            "applied_version": self.applied_version,
            "applied_replicas": self.applied_replicas,
            # Not `applied_spec`: a value object for the record (`rollouts.<service>.specs` carries it), which the
            # engine cannot serialize as a component output.
            "autoscaler_name": self.autoscaler_name,
        })

    @staticmethod
    def _create_autoscaler(name: str, args: TwinDeploymentArgs, bounds: tuple[int, int], deployment: k8s.apps.v1.Deployment,
                           child: pulumi.ResourceOptions) -> k8s.autoscaling.v2.HorizontalPodAutoscaler:
        """The color's HPA (autoscaling/v2): CPU utilisation of the pods' requests, within bounds set each run."""
        scaling = args.autoscaling
        return k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{name}-hpa",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                namespace=args.namespace,
                labels=selector(args.service, args.color),
                # The bounds are the rollout's capacity plan, rewritten every run: a hand edit of min/max must
                # not turn the next update (an abort included) into a server-side apply conflict.
                annotations=PATCH_FORCE,
            ),
            spec=k8s.autoscaling.v2.HorizontalPodAutoscalerSpecArgs(
                scale_target_ref=k8s.autoscaling.v2.CrossVersionObjectReferenceArgs(
                    api_version="apps/v1", kind="Deployment", name=deployment.metadata.apply(lambda m: m.name if m else None)
                ),
                min_replicas=bounds[0],
                max_replicas=bounds[1],
                metrics=[
                    k8s.autoscaling.v2.MetricSpecArgs(
                        type="Resource",
                        resource=k8s.autoscaling.v2.ResourceMetricSourceArgs(
                            name="cpu",
                            target=k8s.autoscaling.v2.MetricTargetArgs(type="Utilization", average_utilization=scaling.target_cpu_percent),
                        ),
                    )
                ],
            ),
            opts=child,
        )

    @staticmethod
    def _pod_spec(args: TwinDeploymentArgs) -> k8s.core.v1.PodSpecArgs:
        lifecycle = None
        if supports_sleep_action(args.kubernetes_version):
            lifecycle = k8s.core.v1.LifecycleArgs(pre_stop=k8s.core.v1.LifecycleHandlerArgs(sleep=k8s.core.v1.SleepActionArgs(seconds=PRE_STOP_SECONDS)))
        return k8s.core.v1.PodSpecArgs(
            # The Pod Security "restricted" profile: non-root, no escalation, no capabilities, default seccomp.
            security_context=restricted_pod_security(),
            automount_service_account_token=False,
            containers=[
                k8s.core.v1.ContainerArgs(
                    name=args.service,
                    image=f"{args.image}:{args.version}",
                    ports=[k8s.core.v1.ContainerPortArgs(name=PORT_NAME, container_port=args.port, protocol="TCP")],
                    env=env_vars(args.environment, args.secrets),
                    readiness_probe=k8s.core.v1.ProbeArgs(
                        http_get=k8s.core.v1.HTTPGetActionArgs(path=args.health_check_path, port=PORT_NAME),
                        period_seconds=5,
                        timeout_seconds=2,
                        failure_threshold=3,
                    ),
                    resources=k8s.core.v1.ResourceRequirementsArgs(**compute_resources(args.cpu, args.memory)),
                    security_context=restricted_container_security(),
                    lifecycle=lifecycle,
                )
            ],
        )


def workload_spec_of(spec, args: TwinDeploymentArgs) -> WorkloadSpec | None:
    """The workload spec of an applied Deployment's container (typed outputs or camelCase dicts); None when unreadable.
    cpu and memory are the planned ones when the applied requests are what they render to (millicores do not
    convert back exactly), else converted back."""
    template = field_of(spec, "template")
    containers = field_of(field_of(template, "spec"), "containers") or []
    if not containers:
        return None
    container = containers[0]
    environment, secrets = {}, {}
    for item in field_of(container, "env") or []:
        reference = field_of(field_of(item, "value_from", "valueFrom"), "secret_key_ref", "secretKeyRef")
        if reference is not None:
            secrets[field_of(item, "name")] = f"{field_of(reference, 'name')}:{field_of(reference, 'key')}"
        else:
            environment[field_of(item, "name")] = field_of(item, "value") or ""
    requests = dict(field_of(field_of(container, "resources"), "requests") or {})
    planned = compute_resources(args.cpu, args.memory)["requests"]
    try:
        cpu = args.cpu if requests.get("cpu") == planned["cpu"] else round(int(str(requests["cpu"]).rstrip("m")) * 1024 / 1000)
        memory = args.memory if requests.get("memory") == planned["memory"] else int(str(requests["memory"]).removesuffix("Mi"))
    except (KeyError, ValueError):
        return None
    return WorkloadSpec(cpu, memory, environment, secrets)


def _guaranteed(planned: int, applied_spec) -> int | None:
    """`planned` when the applied HPA keeps at least that many pods, else its applied floor (a record mismatch)."""
    floor = field_of(applied_spec, "min_replicas", "minReplicas")
    return None if floor is None else min(planned, int(floor))


def _env_var(item: dict) -> k8s.core.v1.EnvVarArgs:
    if "valueFrom" in item:
        ref = item["valueFrom"]["secretKeyRef"]
        return k8s.core.v1.EnvVarArgs(
            name=item["name"],
            value_from=k8s.core.v1.EnvVarSourceArgs(secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(name=ref["name"], key=ref["key"])),
        )
    return k8s.core.v1.EnvVarArgs(name=item["name"], value=item["value"])


def restricted_pod_security() -> k8s.core.v1.PodSecurityContextArgs:
    """The Pod Security "restricted" profile at pod level: non-root, default seccomp (Deployments and Jobs alike)."""
    return k8s.core.v1.PodSecurityContextArgs(run_as_non_root=True, seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"))


def restricted_container_security() -> k8s.core.v1.SecurityContextArgs:
    """The "restricted" profile at container level: no escalation, not privileged, no capabilities."""
    return k8s.core.v1.SecurityContextArgs(run_as_non_root=True, allow_privilege_escalation=False, privileged=False,
                                           capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]))


def env_vars(environment: Mapping[str, str], secrets: Mapping[str, str]) -> list:
    """Plain variables and secret references of a container."""
    return [_env_var(item) for item in container_env(environment, secrets)]
