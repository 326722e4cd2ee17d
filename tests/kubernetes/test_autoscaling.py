"""`autoscaling` on Kubernetes: a HorizontalPodAutoscaler per running color, its bounds set each run from the
rollout's plan, and Deployments that leave `spec.replicas` to it."""

from __future__ import annotations

from tests.builders import AUTOSCALING, CANARY, kubernetes_config, kubernetes_service
from tests.kubernetes.harness import DEPLOYMENT, HPA, Rollout, autoscalers, replicas, route_weights


def autoscaled_canary() -> Rollout:
    return Rollout(kubernetes_config({"api": kubernetes_service("gateway", CANARY, replicas=3, autoscaling=AUTOSCALING)}))


def hpa_targets(run) -> dict[str, str]:
    """Color -> name of the Deployment its HPA scales."""
    return {h.inputs["metadata"]["labels"]["color"]: h.inputs["spec"]["scaleTargetRef"]["name"] for h in run.of_type(HPA)}


def deployment_names(run) -> dict[str, str]:
    return {d.inputs["metadata"]["labels"]["color"]: d.outputs["metadata"]["name"] for d in run.of_type(DEPLOYMENT)}


def test_an_autoscaled_canary_gives_each_running_color_an_hpa_and_none_to_a_scaled_down_one():
    rollout = autoscaled_canary()
    story = [
        # (what happens, run, colors with an HPA and its bounds, Deployment replicas: None = left to the HPA)
        ("first deploy: blue serves, green is scaled down", rollout.up(), {"blue": (3, 6)}, {"blue": None, "green": 0}),
        ("the candidate is deployed at 0 %", rollout.up(version="1.28"), {"blue": (3, 6), "green": (3, 6)}, {"blue": None, "green": None}),
        ("step 10 %", rollout.up(), {"blue": (3, 6), "green": (3, 6)}, {"blue": None, "green": None}),
        ("step 50 %", rollout.up(), {"blue": (3, 6), "green": (3, 6)}, {"blue": None, "green": None}),
        ("promoted: blue stays warm", rollout.up(), {"blue": (3, 6), "green": (3, 6)}, {"blue": None, "green": None}),
        ("after the scale-down delay blue goes to 0", rollout.up(minutes=31), {"green": (3, 6)}, {"blue": 0, "green": None}),
    ]
    for what, run, bounds, counts in story:
        assert autoscalers(run) == bounds, what
        assert replicas(run) == counts, what
        names = deployment_names(run)
        assert hpa_targets(run) == {color: names[color] for color in bounds}, f"{what}: each HPA scales its own color"
    assert route_weights(rollout.last) == {"blue": 0, "green": 100}
    assert rollout.record()["replicas"] == {"blue": 0, "green": 3}, "the record keeps the planned counts, not the HPA's"


def test_the_hpa_scales_on_cpu_utilisation_of_its_own_colors_deployment():
    run = autoscaled_canary().up()
    hpa = run.named(HPA, "api-blue-hpa").inputs
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                             "name": run.named(DEPLOYMENT, "api-blue-deployment").outputs["metadata"]["name"]}
    assert hpa["spec"]["metrics"] == [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]
    assert "name" not in hpa["metadata"], "autonamed, like everything else"


def test_scaling_a_color_down_deletes_its_hpa_and_keeps_its_deployment():
    rollout = autoscaled_canary()
    rollout.up()
    for _ in range(4):
        rollout.up(version="1.28")
    rollout.up(minutes=31)
    changes = rollout.changes()
    assert changes.deleted == (f"{HPA}::api-blue-hpa",)
    assert f"{DEPLOYMENT}::api-blue-deployment" in changes.updated
    assert changes.replaced == ()


def test_an_autoscaled_rollout_moves_traffic_like_a_fixed_one():
    rollout = autoscaled_canary()
    rollout.up()
    seen = [route_weights(rollout.up(version="1.28"))] + [route_weights(rollout.up()) for _ in range(3)]
    assert seen == [{"blue": 100, "green": 0}, {"blue": 90, "green": 10}, {"blue": 50, "green": 50}, {"blue": 0, "green": 100}]
