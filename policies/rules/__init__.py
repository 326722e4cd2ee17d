"""cutover's policies, grouped by area. Importing this package is side-effect free; only
`policies/__main__.py` constructs the PolicyPack (which starts the analyzer server)."""

from pulumi_policy import Policy

from . import discipline, ecs, kubernetes, naming, route53, security, weights

PACK_NAME = "cutover-guardrails"

ALL_POLICIES: list[Policy] = [
    *weights.POLICIES,
    *naming.POLICIES,
    *route53.POLICIES,
    *ecs.POLICIES,
    *kubernetes.POLICIES,
    *discipline.POLICIES,
    *security.POLICIES,
]
