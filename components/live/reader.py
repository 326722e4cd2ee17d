"""Every service's live router and workloads, read before the run decides anything."""

from __future__ import annotations

import asyncio
from typing import Any, Mapping

from pulumi.runtime.sync_await import _sync_await  # the documented sync bridge for plain values at run time

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

    async def observe(name: str) -> LiveService:
        service = config.services[name]
        where = previous.get(name) if isinstance(previous.get(name), Mapping) else {}
        if service.platform is Platform.KUBERNETES:
            # A `get` of an object that may not exist fails the update: with `recover` set, nothing is read.
            return LiveService.unread() if service.recover else await kubernetes.observe(name, where)
        route53 = service.effective_router is Router.ROUTE53
        return await aws_reader.observe(
            name,
            router=service.effective_router.value,
            endpoints=where,
            priority=config.rule_priority(name) if not route53 else 0,
            https=https,
            zone_id=config.dns.zone_id if config.dns else None,
            record_name=routing_host(config, name) if route53 else None,
        )

    async def observe_all() -> list[LiveService | BaseException]:
        return await asyncio.gather(*(observe(name) for name in config.services), return_exceptions=True)

    # Every service's reads in flight together, waited for once: each wait pumps the event loop from inside the
    # program, at a cost that grows with the waits before it in the run (quadratic in reads when waited one by one).
    observed = dict(zip(config.services, _sync_await(observe_all())))
    failed = next((found for found in observed.values() if isinstance(found, BaseException)), None)
    if failed is not None:  # the first service in config order that could not be read, as when read one by one
        raise failed
    return observed
