"""The DESIGN's invariants, checked on the resources the real program registers, over random sequences
of what users do between runs (new versions, approvals, aborts, waiting, editing the steps)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rehearsal.engine import TRAFFIC_CARRIERS
from rehearsal.scenario import Stack
from tests.builders import aws_config, service

RULE = "aws:lb/listenerRule:ListenerRule::web-route-rule"
RECORD = "aws:route53/record:Record"

EDITS = st.one_of(
    st.tuples(st.just("cutover:services.web.version"), st.sampled_from(["1", "2", "3"])),
    st.tuples(st.just("cutover:services.web.approve"), st.sampled_from([None, "2", "3"])),
    st.tuples(st.just("cutover:services.web.abort"), st.sampled_from([None, "2", "3"])),
    st.tuples(st.just("cutover:services.web.strategy.steps"), st.sampled_from([[10, 50, 100], [5, 100], [20, 40, 60, 80, 100]])),
    st.tuples(st.just("wait"), st.integers(0, 45)),
)


def production_weights(run, router: str) -> tuple[int, int]:
    if router == "alb":
        rule = run.result.resources[RULE].inputs
        arns = run.result.outputs["endpoints"]["web"]["targetGroupArns"]
        by_arn = {g["arn"]: g["weight"] for g in rule["actions"][0]["forward"]["targetGroups"]}
        return by_arn[arns["blue"]], by_arn[arns["green"]]
    records = {r.inputs["setIdentifier"]: r.inputs["weightedRoutingPolicies"][0]["weight"] for r in run.result.of_type(RECORD)}
    return records["blue"], records["green"]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(router=st.sampled_from(["alb", "route53"]), edits=st.lists(EDITS, min_size=1, max_size=8))
def test_every_run_keeps_traffic_safe(router, edits):
    stack = Stack(aws_config({"web": service(router=router, bakeMinutes=10)}))
    previous = stack.up()
    for key, value in edits:
        if key == "wait":
            stack.advance(value)
            continue
        stack.set(key, value)
        run = stack.up()
        assert run.result.error is None, run.result.error
        blue, green = production_weights(run, router)
        record = run.rollout("web")
        # The router carries exactly what is recorded, the weights are valid and never all zero.
        assert (blue, green) == run.weights("web") and blue + green == 100
        # Zero downtime: nothing that carries traffic is replaced or deleted.
        carriers = [k for k in run.changes.replaced + run.changes.deleted if k.split("::")[0] in TRAFFIC_CARRIERS]
        assert carriers == [], carriers
        # A color that receives traffic has tasks.
        for color, weight in (("blue", blue), ("green", green)):
            if weight:
                assert record["replicas"][color] > 0
        # Abort or a version set back returns everything to the stable color in this very run.
        if record["candidateVersion"] and stack.config["cutover:services"]["web"].get("abort") == record["candidateVersion"]:
            assert record["phase"] == "aborted" and run.weights("web") == ((100, 0) if record["stableColor"] == "blue" else (0, 100))
        if stack.config["cutover:services"]["web"]["version"] == previous.rollout("web")["stableVersion"]:
            stable = previous.rollout("web")["stableColor"]
            assert run.weights("web") == ((100, 0) if stable == "blue" else (0, 100))
        previous = run
