"""What a run read of a service's live objects before deciding anything: plain values, no I/O.

The readers (`components/live/`) fill these through the provider — data-source invokes on AWS,
resource `get`s on Kubernetes — so they use the stack's own credentials and, in tests, the mock
engine's call hooks. Pure: no pulumi.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from components.rollout.model import Weights


@dataclass(frozen=True)
class LiveRouter:
    """The resource that carries the service's weights, as the cloud holds it."""

    found: bool
    """The router object exists."""
    weights: Weights | None = None
    """Production weights it applies now; None when not found or unreadable."""
    record: Mapping[str, str] | None = None
    """The decision record on it (tags / annotations / parameter value), prefixed keys."""
    problem: str | None = None
    """A read that failed for another reason than "not found" (access denied, throttled)."""
    where: str = ""
    """What was read, for messages: "listener rule arn:...", "HTTPRoute shop/api"."""


@dataclass(frozen=True)
class ColorWorkload:
    """One color's workload (ECS service / Deployment) as the cloud holds it."""

    found: bool
    version: str | None = None
    """Image tag its current task definition / pod template runs."""
    desired: int | None = None
    """Tasks / pods it is asked to run."""
    settled: bool | None = None
    """Its last deployment completed: one primary deployment at its desired count / a finished rollout."""
    detail: str = ""
    """What the platform says, for messages."""


@dataclass(frozen=True)
class LiveService:
    router: LiveRouter
    colors: Mapping[str, ColorWorkload] = field(default_factory=dict)
    """Color -> workload; only colors the reader could locate."""
    migrations: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Phase (`expand`/`contract`) -> the outcome of a migration Job read back (Kubernetes: `status`, `reason`),
    only for runs whose previous record had no outcome yet."""

    @classmethod
    def unread(cls, why: str = "") -> "LiveService":
        return cls(LiveRouter(found=False, where=why))


def image_tag(image: Any) -> str | None:
    """`"public.ecr.aws/nginx/nginx:1.28"` -> `"1.28"` (a registry port is not a tag)."""
    if not isinstance(image, str) or ":" not in image.rsplit("/", 1)[-1]:
        return None
    return image.rsplit(":", 1)[1]
