"""Entry point the Pulumi CLI runs for `--policy-pack policies`. Constructing the PolicyPack starts the
analyzer's gRPC server and blocks, so nothing else may import this module."""

from pulumi_policy import EnforcementLevel, PolicyPack
from rules import ALL_POLICIES, PACK_NAME

PolicyPack(
    name=PACK_NAME,
    policies=ALL_POLICIES,
    # Advisory unless a stack's policy config says otherwise (config/staging.json and config/prod.json
    # make every policy mandatory).
    enforcement_level=EnforcementLevel.ADVISORY,
)
