"""Every service's live router and workloads, read before the run decides anything."""

from __future__ import annotations

from typing import Any, Mapping

from components.app import routing_host
from components.config import CutoverConfig, Platform, Router
from components.live.aws_reader import AwsLiveReader
from components.live.kubernetes_reader import KubernetesLiveReader
from components.rollout.live import LiveService


def read_live(config: CutoverConfig, endpoints: Any, aws_reader: AwsLiveReader) -> dict[str, LiveService]:
    """Service -> what its live objects say. Raises kubernetes_reader.ReadFailed when an object the
    previous outputs name cannot be read (the engine fails such an update anyway)."""
    previous = endpoints if isinstance(endpoints, Mapping) else {}
    kubernetes = KubernetesLiveReader()
    https = bool(config.network and config.network.certificate_arn)
    observed = {}
    for name, service in config.services.items():
        where = previous.get(name) if isinstance(previous.get(name), Mapping) else {}
        if service.platform is Platform.KUBERNETES:
            # A `get` of an object that may not exist fails the update: with `recover` set, nothing is read.
            observed[name] = LiveService.unread() if service.recover else kubernetes.observe(name, where)
            continue
        route53 = service.effective_router is Router.ROUTE53
        observed[name] = aws_reader.observe(
            name,
            router=service.effective_router.value,
            endpoints=where,
            priority=config.rule_priority(name) if not route53 else 0,
            https=https,
            zone_id=config.dns.zone_id if config.dns else None,
            record_name=routing_host(config, name) if route53 else None,
        )
    return observed
