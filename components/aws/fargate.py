"""The one way cutover runs a load-balanced Fargate service (a color, the mirroring proxy): rolled with the
deployment circuit breaker (rollback on), minimum healthy 100 % / maximum 200 %, and an update that returns
only once the new tasks are steady, so whatever depends on the service moves traffic only onto ready tasks."""

from __future__ import annotations

from typing import Mapping

import pulumi
import pulumi_aws as aws


def load_balanced_fargate_service(
    name: str, *, cluster_arn: pulumi.Input[str], task_definition_arn: pulumi.Input[str], desired_count: int,
    subnet_ids: pulumi.Input[list[str]], security_group_id: pulumi.Input[str], target_group_arn: pulumi.Input[str],
    container_name: str, container_port: int, tags: Mapping[str, str], opts: pulumi.ResourceOptions,
) -> aws.ecs.Service:
    return aws.ecs.Service(
        name,
        cluster=cluster_arn,
        launch_type="FARGATE",
        task_definition=task_definition_arn,
        desired_count=desired_count,
        network_configuration=aws.ecs.ServiceNetworkConfigurationArgs(
            subnets=subnet_ids, security_groups=[security_group_id], assign_public_ip=False
        ),
        load_balancers=[aws.ecs.ServiceLoadBalancerArgs(target_group_arn=target_group_arn, container_name=container_name,
                                                        container_port=container_port)],
        deployment_circuit_breaker=aws.ecs.ServiceDeploymentCircuitBreakerArgs(enable=True, rollback=True),
        deployment_minimum_healthy_percent=100,
        deployment_maximum_percent=200,
        health_check_grace_period_seconds=60,
        wait_for_steady_state=True,
        propagate_tags="SERVICE",
        tags=dict(tags),
        opts=opts,
    )
