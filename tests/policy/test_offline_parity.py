"""The offline evaluator agrees with pulumi-policy's own analyzer servicer (what the CLI talks to over gRPC).

Uses the servicer class directly (private API of the pinned pulumi-policy==1.21.0) without starting a server.
"""

from __future__ import annotations

from google.protobuf import struct_pb2
from pulumi.output import Unknown
from pulumi.runtime import proto
from pulumi_policy import EnforcementLevel
from pulumi_policy.policy import _PolicyAnalyzerServicer

from policies.offline import PACK_VERSION, _plain, evaluate, load_stack_config, resolve_config
from policies.rules import ALL_POLICIES, PACK_NAME

from .builders import decision, deployment, ecs_service, listener_rule, pdb, record, target_group

LEVELS = {proto.ADVISORY: "advisory", proto.MANDATORY: "mandatory"}
PROTO_LEVELS = {EnforcementLevel.ADVISORY: proto.ADVISORY, EnforcementLevel.MANDATORY: proto.MANDATORY,
                EnforcementLevel.DISABLED: proto.DISABLED, EnforcementLevel.REMEDIATE: proto.REMEDIATE}
DESCRIPTIONS = {p.name: p.description for p in ALL_POLICIES}


def struct(values: dict) -> struct_pb2.Struct:
    result = struct_pb2.Struct()
    result.update(_plain(values))
    return result


def servicer_findings(resources, config) -> set[tuple[str, str, str, str]]:
    servicer = _PolicyAnalyzerServicer(PACK_NAME, PACK_VERSION, ALL_POLICIES, EnforcementLevel.ADVISORY)
    servicer.Configure(proto.ConfigureAnalyzerRequest(policyConfig={
        name: proto.PolicyConfig(enforcementLevel=PROTO_LEVELS[c.enforcement_level], properties=struct(c.properties))
        for name, c in resolve_config(config).items()}), None)
    diagnostics = []
    for r in resources:
        response = servicer.Analyze(proto.AnalyzeRequest(type=r.type, properties=struct(dict(r.props)),
                                                         urn=r.resolved_urn, name=r.name), None)
        diagnostics += [(d, r.resolved_urn) for d in response.diagnostics]  # the engine attaches the resource's urn
    stack = servicer.AnalyzeStack(proto.AnalyzeStackRequest(resources=[
        proto.AnalyzerResource(type=r.type, properties=struct(dict(r.outputs if r.outputs is not None else r.props)),
                               urn=r.resolved_urn, name=r.name) for r in resources]), None)
    diagnostics += [(d, d.urn) for d in stack.diagnostics]
    found = set()
    for d, urn in diagnostics:
        prefix = DESCRIPTIONS[d.policyName] + "\n"
        message = d.message[len(prefix):] if d.message.startswith(prefix) else d.message
        found.add((d.policyName, LEVELS[d.enforcementLevel], urn or "", message))
    return found


def offline_findings(resources, config) -> set[tuple[str, str, str, str]]:
    return {(v.policy_name, v.enforcement_level, v.urn or "", v.message) for v in evaluate(resources, config)}


def test_a_mixed_stack_gives_the_same_findings_both_ways() -> None:
    resources = [
        listener_rule(weights=[0, 0], arns=["arn:tg/b", "arn:tg/g"],
                      tags=decision(weights_before="90/10", weights="20/80", verdict="hold")),
        target_group("tg-blue", "arn:tg/b", delay=None),
        target_group("tg-green", "arn:tg/g", path=None),
        record("api-blue", 0, ttl=300),
        ecs_service(deploymentMinimumHealthyPercent=50, healthCheckGracePeriodSeconds=None),
        deployment(containers=[{"name": "app", "image": "x", "env": [{"name": "API_TOKEN", "value": "t"}]}]),
        pdb("other", {"app": "other"}),
    ]
    for stack in ("dev", "prod"):
        config = load_stack_config(stack)
        offline = offline_findings(resources, config)
        assert offline == servicer_findings(resources, config)
        assert len(offline) > 10


def test_preview_notes_match_the_analyzer() -> None:
    resources = [listener_rule(weights=[Unknown(), 10]), record("api-blue", ttl=Unknown()),
                 deployment(namespace=Unknown())]
    config = load_stack_config("prod")
    offline = offline_findings(resources, config)
    servicer = servicer_findings(resources, config)
    # The analyzer leaves a stack policy's note without a urn, and so does the evaluator.
    assert offline == servicer
    assert {level for _, level, _, m in offline if "during preview" in m} == {"advisory"}
