"""One color of a service: its task definition and ECS service, registered into the color's target group."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.aws.fargate import load_balanced_fargate_service
from components.rollout.live import image_tag
from components.rollout.model import WorkloadSpec


@dataclass(frozen=True)
class ColorAutoscaling:
    """Application Auto Scaling of one color: the program sets the bounds each run, the autoscaler the count."""

    min_capacity: int
    max_capacity: int
    target_cpu_percent: int
    cluster_name: pulumi.Input[str]
    """The cluster's name (the scalable target is `service/<cluster>/<service>`)."""
    target_requests_per_target: int | None = None
    """ALBRequestCountPerTarget target, when set."""
    request_count_label: pulumi.Input[str] | None = None
    """`app/<alb>/<id>/targetgroup/<tg>/<id>`: the ALB and target group the request count is measured on."""


@dataclass(frozen=True)
class TwinServiceArgs:
    service: str
    """Service name (container name too)."""
    color: str
    """`blue` or `green`."""
    image: str
    """Image without tag."""
    version: str
    """Image tag this color runs."""
    port: int
    """Container port the target group sends traffic to."""
    desired_count: int
    """Tasks to run; 0 keeps the color's resources but no tasks (scaled down, not deleted)."""
    cluster_arn: pulumi.Input[str]
    """ECS cluster."""
    target_group_arn: pulumi.Input[str]
    """This color's target group."""
    subnet_ids: pulumi.Input[list[str]]
    """Private subnets of the tasks."""
    security_group_id: pulumi.Input[str]
    """Task security group (traffic from the load balancer only)."""
    execution_role_arn: pulumi.Input[str]
    """Role ECS pulls images, writes logs and reads secrets with."""
    log_group_name: pulumi.Input[str]
    """CloudWatch log group of the service."""
    region: str
    """Region of the log configuration."""
    cpu: int = 256
    """Fargate CPU units this color runs (its pinned spec: see `app.color_specs`)."""
    memory: int = 512
    """Fargate memory, MiB, this color runs."""
    environment: dict[str, str] = field(default_factory=dict)
    """Plain environment variables this color runs."""
    secrets: dict[str, str] = field(default_factory=dict)
    """Env var -> Secrets Manager / SSM ARN this color runs, resolved by ECS at start (never plaintext)."""
    autoscaling: ColorAutoscaling | None = None
    """When set, the autoscaler owns the task count within these bounds; `desired_count` is the initial count."""


class TwinService(pulumi.ComponentResource):
    """A color's ECS service. Updating `version` registers a new task definition revision and
    ECS replaces tasks in place (min healthy 100 %, max 200 %, circuit breaker rolls back);
    the ECS service and its target group are never replaced."""

    service_name: pulumi.Output[str]
    """Physical ECS service name (autonamed)."""
    service_arn: pulumi.Output[str]
    """ECS service id/ARN."""
    task_definition_arn: pulumi.Output[str]
    """Task definition revision this color runs."""
    applied_version: pulumi.Output[str | None]
    """Image tag of the applied task definition (read back from its container definitions)."""
    applied_replicas: pulumi.Output[int]
    """Desired count the ECS service applied."""
    applied_spec: pulumi.Output[WorkloadSpec | None]
    """Environment, secret references, cpu and memory of the applied task definition."""

    def __init__(self, name: str, args: TwinServiceArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("cutover:aws:TwinService", name, None, opts)
        # The component's own ordering (after the router, for a color losing capacity) holds for each
        # child too: a child does not inherit its parent's depends_on, so it is passed on explicitly.
        child = pulumi.ResourceOptions(parent=self, depends_on=list(opts.depends_on or []) if opts else [])
        labels = {"cutover:service": args.service, "cutover:color": args.color}
        task = aws.ecs.TaskDefinition(
            f"{name}-task",
            family=f"{pulumi.get_stack()}-{args.service}-{args.color}",
            network_mode="awsvpc",
            requires_compatibilities=["FARGATE"],
            cpu=str(args.cpu),
            memory=str(args.memory),
            execution_role_arn=args.execution_role_arn,
            container_definitions=pulumi.Output.from_input(args.log_group_name).apply(lambda group: self._containers(args, group)),
            tags={**labels, "cutover:version": args.version},
            opts=child,
        )
        service = load_balanced_fargate_service(
            f"{name}-svc", cluster_arn=args.cluster_arn, task_definition_arn=task.arn, desired_count=args.desired_count,
            subnet_ids=args.subnet_ids, security_group_id=args.security_group_id, target_group_arn=args.target_group_arn,
            container_name=args.service, container_port=args.port, tags={**labels, "cutover:version": args.version},
            # With an autoscaler the count is its to change: sending desiredCount on every update would reset
            # what it scaled to (and fight it on every run). The program owns the bounds instead (below).
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(ignore_changes=["desiredCount"])) if args.autoscaling else child,
        )
        self.service_name = service.name
        self.service_arn = service.id
        self.task_definition_arn = task.arn
        # Read back from the applied resources, so the record never claims an image or capacity that did not take.
        self.applied_version = task.container_definitions.apply(_image_tag)
        self.applied_spec = pulumi.Output.all(task.container_definitions, task.cpu, task.memory).apply(lambda v: _spec(*v))
        if args.autoscaling:
            self.applied_replicas = self._autoscale(name, args, args.autoscaling, service, child, labels)
        else:
            self.applied_replicas = service.desired_count.apply(lambda n: int(n or 0))
        self.register_outputs(
            {
                "service_name": self.service_name,
                "service_arn": self.service_arn,
                "task_definition_arn": self.task_definition_arn,
                "applied_version": self.applied_version,
                "applied_replicas": self.applied_replicas,
                # Not `applied_spec`: a value object for the record (`rollouts.<service>.specs` carries it), which
                # the engine cannot serialize as a component output.
            }
        )

    @staticmethod
    def _autoscale(name: str, args: TwinServiceArgs, scaling: ColorAutoscaling, service: aws.ecs.Service,
                   child: pulumi.ResourceOptions, labels: dict[str, str]) -> pulumi.Output[int]:
        """A scalable target with this run's bounds and target-tracking policies; the applied count the record
        keeps is the planned one only when the target applied the planned bounds."""
        target = aws.appautoscaling.Target(
            f"{name}-scaling",
            service_namespace="ecs",
            scalable_dimension="ecs:service:DesiredCount",
            resource_id=pulumi.Output.all(scaling.cluster_name, service.name).apply(lambda v: f"service/{v[0]}/{v[1]}"),
            # Raising the minimum above the current count makes Application Auto Scaling scale out to it at once;
            # a 0/0 target scales the color in to zero (RegisterScalableTarget, "MinCapacity"/"MaxCapacity").
            min_capacity=scaling.min_capacity,
            max_capacity=scaling.max_capacity,
            tags=labels,
            opts=child,
        )
        metrics = [("cpu", "ECSServiceAverageCPUUtilization", scaling.target_cpu_percent, None)]
        if scaling.target_requests_per_target is not None and scaling.request_count_label is not None:
            metrics.append(("requests", "ALBRequestCountPerTarget", scaling.target_requests_per_target, scaling.request_count_label))
        for suffix, metric, value, label in metrics:
            aws.appautoscaling.Policy(
                f"{name}-scale-on-{suffix}",
                policy_type="TargetTrackingScaling",
                service_namespace=target.service_namespace,
                scalable_dimension=target.scalable_dimension,
                resource_id=target.resource_id,
                target_tracking_scaling_policy_configuration=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs(
                    target_value=value,
                    predefined_metric_specification=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs(
                        predefined_metric_type=metric, resource_label=label,
                    ),
                    scale_in_cooldown=300,
                    scale_out_cooldown=60,
                ),
                opts=child,
            )
        planned = (scaling.min_capacity, scaling.max_capacity)
        return pulumi.Output.all(target.min_capacity, target.max_capacity).apply(
            lambda b: args.desired_count if (int(b[0] or 0), int(b[1] or 0)) == planned else int(b[0] or 0))

    @staticmethod
    def _containers(args: TwinServiceArgs, log_group: str) -> str:
        return json.dumps(
            [
                {
                    "name": args.service,
                    "image": f"{args.image}:{args.version}",
                    "essential": True,
                    "privileged": False,
                    "portMappings": [{"containerPort": args.port, "protocol": "tcp"}],
                    "environment": [{"name": k, "value": v} for k, v in sorted(args.environment.items())],
                    "secrets": [{"name": k, "valueFrom": v} for k, v in sorted(args.secrets.items())],
                    "logConfiguration": {
                        "logDriver": "awslogs",
                        "options": {
                            "awslogs-group": log_group,
                            "awslogs-region": args.region,
                            "awslogs-stream-prefix": args.color,
                        },
                    },
                }
            ],
            sort_keys=True,
        )


def _image_tag(container_definitions: str | None) -> str | None:
    try:
        return image_tag(json.loads(container_definitions or "[]")[0].get("image"))
    except (ValueError, IndexError, AttributeError):
        return None


def _spec(container_definitions: str | None, cpu: str | None, memory: str | None) -> WorkloadSpec | None:
    """The workload spec a task definition holds; None when it cannot be read (then nothing is recorded for it)."""
    try:
        container = json.loads(container_definitions or "[]")[0]
        return WorkloadSpec(
            int(cpu), int(memory),
            {e["name"]: e["value"] for e in container.get("environment") or []},
            {e["name"]: e["valueFrom"] for e in container.get("secrets") or []},
        )
    except (ValueError, IndexError, KeyError, TypeError, AttributeError):
        return None
