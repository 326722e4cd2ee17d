"""Successive `pulumi up`s on Kubernetes, told as the user's story; each run reads the previous outputs."""

from __future__ import annotations

from tests.builders import BLUE_GREEN, CANARY, ROLLING, kubernetes_config, kubernetes_service
from tests.kubernetes.harness import (
    CANARY_WEIGHT,
    DEPLOYMENT,
    HTTPROUTE,
    INGRESS,
    SERVICE,
    Rollout,
    only,
    replicas,
    route_weights,
    selector_color,
)


def started(router: str, strategy: dict) -> Rollout:
    rollout = Rollout(kubernetes_config({"api": kubernetes_service(router, strategy)}))
    rollout.up()
    return rollout


def canary_weight(run) -> int:
    return int(only(run, INGRESS, "-canary").inputs["metadata"]["annotations"][CANARY_WEIGHT])


def test_a_gateway_canary_moves_the_httproute_weights_one_step_per_run():
    rollout = started("gateway", CANARY)
    assert route_weights(rollout.last) == {"blue": 100, "green": 0}
    deployed = rollout.up(version="1.28")
    assert route_weights(deployed) == {"blue": 100, "green": 0}, "the candidate is deployed at 0 % first"
    assert {k.split("::")[1] for k in rollout.changes().updated} == {"api-green-deployment", "api-gateway-route"}
    seen = [route_weights(rollout.up()) for _ in range(3)]
    assert seen == [{"blue": 90, "green": 10}, {"blue": 50, "green": 50}, {"blue": 0, "green": 100}]
    assert rollout.record()["stableColor"] == "green" and rollout.record()["weights"] == {"blue": 0, "green": 100}


def test_the_recorded_weights_are_the_ones_the_route_applied():
    rollout = started("gateway", CANARY)
    rollout.up(version="1.28")
    rollout.up()
    assert rollout.record()["weights"] == route_weights(rollout.last) == {"blue": 90, "green": 10}


def test_the_httproute_carries_the_decision_record():
    rollout = started("gateway", CANARY)
    rollout.up(version="1.28")
    route = only(rollout.up(), HTTPROUTE, "-route")
    annotations = route.inputs["metadata"]["annotations"]
    assert annotations["cutover.dev/weights-before"] == "100/0"
    assert annotations["cutover.dev/weights"] == "90/10"
    assert annotations["cutover.dev/candidate-color"] == "green"


def test_an_nginx_canary_weight_follows_the_steps_and_the_main_ingress_never_changes():
    rollout = started("nginx", CANARY)
    main = only(rollout.last, INGRESS, "-main").inputs
    weights = [canary_weight(rollout.up(version="1.28"))]
    weights += [canary_weight(rollout.up()) for _ in range(3)]
    assert weights == [0, 10, 50, 0]  # deployed at 0 %; at 100 the candidate is promoted: the stable Service selects it
    assert selector_color(rollout.last, "-stable") == "green"
    for run in rollout.runs:
        assert only(run, INGRESS, "-main").inputs == main, "the main Ingress must keep its backend"
    assert rollout.record()["weights"] == {"blue": 0, "green": 100}


def test_nginx_promotion_switches_the_stable_service_and_drops_the_canary_without_moving_the_candidate_service():
    rollout = started("nginx", CANARY)
    rollout.up(version="1.28")
    rollout.up()
    rollout.up()
    assert selector_color(rollout.last, "-candidate") == "green"
    rollout.up()  # promotion
    changes = rollout.changes()
    assert sorted(changes.updated) == [f"{SERVICE}::api-nginx-stable", f"{INGRESS}::api-nginx-canary"]
    order = rollout.last.order
    assert order.index(f"{SERVICE}::api-nginx-stable") < order.index(f"{INGRESS}::api-nginx-canary"), (
        "the main path must take green over before the canary weight drops"
    )
    assert selector_color(rollout.last, "-candidate") == "green", "it still carried 50 % a moment ago"
    assert replicas(rollout.last) == {"blue": 2, "green": 2}, "blue stays warm"


def test_the_next_nginx_rollout_moves_the_candidate_service_while_its_weight_is_zero():
    rollout = started("nginx", CANARY)
    for _ in range(4):
        rollout.up(version="1.28")
    rollout.up(version="1.29")
    assert selector_color(rollout.last, "-candidate") == "blue"
    assert canary_weight(rollout.last) == 0, "the candidate Service moved while the canary carried nothing"
    rollout.up()
    assert canary_weight(rollout.last) == 10
    assert rollout.record()["weights"] == {"blue": 10, "green": 90}


def test_blue_green_with_the_service_router_switches_only_after_approval():
    rollout = started("service", BLUE_GREEN)
    rollout.up(version="1.28")
    assert selector_color(rollout.last, "-stable") == "blue"
    assert selector_color(rollout.last, "-preview") == "green", "the preview reaches the candidate"
    assert replicas(rollout.last) == {"blue": 2, "green": 2}
    rollout.up()
    rollout.up(approve="1.27")  # approving another version changes nothing
    assert selector_color(rollout.last, "-stable") == "blue"
    assert rollout.record()["phase"] == "paused"
    rollout.up(approve="1.28")
    assert selector_color(rollout.last, "-stable") == "green"
    assert rollout.changes().updated == (f"{SERVICE}::api-switch-stable",)
    assert rollout.record()["weights"] == {"blue": 0, "green": 100}


def test_the_stable_service_carries_the_decision_record():
    rollout = started("service", BLUE_GREEN)
    rollout.up(version="1.28")
    rollout.up(approve="1.28")
    annotations = only(rollout.last, SERVICE, "-stable").inputs["metadata"]["annotations"]
    assert annotations["cutover.dev/weights"] == "0/100"
    assert "pulumi.com/skipAwait" not in annotations, "the switch waits for ready endpoints"


def test_abort_returns_all_traffic_in_one_run_and_changes_only_the_route():
    rollout = started("gateway", CANARY)
    rollout.up(version="1.28")
    rollout.up()
    rollout.up(abort="1.28")
    assert route_weights(rollout.last) == {"blue": 100, "green": 0}
    assert rollout.changes().updated == (f"{HTTPROUTE}::api-gateway-route",)
    assert rollout.changes().created == rollout.changes().replaced == rollout.changes().deleted == ()
    assert rollout.record()["phase"] == "aborted"


def test_abort_of_an_nginx_canary_changes_only_the_canary_ingress():
    rollout = started("nginx", CANARY)
    rollout.up(version="1.28")
    rollout.up(abort="1.28")
    assert canary_weight(rollout.last) == 0
    assert rollout.changes().updated == (f"{INGRESS}::api-nginx-canary",)
    assert rollout.record()["weights"] == {"blue": 100, "green": 0}


def test_a_middle_step_updates_only_the_router_resource():
    rollout = started("gateway", CANARY)
    rollout.up(version="1.28")
    rollout.up()
    changes = rollout.changes()
    assert changes.updated == (f"{HTTPROUTE}::api-gateway-route",)
    assert changes.created == changes.replaced == changes.deleted == ()


def test_nothing_is_replaced_during_any_rollout():
    for router, strategy in [("gateway", CANARY), ("nginx", CANARY), ("service", BLUE_GREEN), ("gateway", ROLLING)]:
        rollout = started(router, strategy)
        rollout.up(version="1.28")
        for _ in range(3):
            rollout.up(approve="1.28")
            changes = rollout.changes()
            assert changes.replaced == () and changes.deleted == (), f"{router}/{strategy['kind']}: {changes}"
        rollout.up(minutes=31)
        assert rollout.changes().replaced == () and rollout.changes().deleted == ()


def test_the_candidate_starts_on_ready_pods_before_its_first_traffic():
    """The route depends on the candidate's Deployment: registered after it (the engine orders by dependency)."""
    rollout = started("gateway", CANARY)
    run = rollout.up(version="1.28")
    order = run.order
    assert order.index(f"{DEPLOYMENT}::api-green-deployment") < order.index(f"{HTTPROUTE}::api-gateway-route")


def test_a_rolling_update_changes_one_deployment_in_place():
    rollout = started("gateway", ROLLING)
    assert len(rollout.last.of_type(DEPLOYMENT)) == 1
    rollout.up(version="1.28")
    changes = rollout.changes()
    # The Deployment rolls in place; the route's record (annotations) says so, its weights do not move.
    assert sorted(changes.updated) == [f"{DEPLOYMENT}::api-blue-deployment", f"{HTTPROUTE}::api-gateway-route"]
    assert changes.created == changes.replaced == changes.deleted == ()
    deployment = rollout.last.named(DEPLOYMENT, "api-blue-deployment").inputs["spec"]
    assert deployment["template"]["spec"]["containers"][0]["image"] == "nginxinc/nginx-unprivileged:1.28"
    assert deployment["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}
    assert route_weights(rollout.last) == {"blue": 100}


def test_the_old_color_is_scaled_to_zero_after_the_delay_not_deleted():
    rollout = started("gateway", CANARY)
    for _ in range(4):
        rollout.up(version="1.28")
    assert replicas(rollout.last) == {"blue": 2, "green": 2}
    rollout.up(minutes=10)
    assert replicas(rollout.last) == {"blue": 2, "green": 2}, "still inside scaleDownDelayMinutes"
    rollout.up(minutes=25)
    assert replicas(rollout.last) == {"blue": 0, "green": 2}
    changes = rollout.changes()
    assert sorted(changes.updated) == [f"{DEPLOYMENT}::api-blue-deployment", f"{HTTPROUTE}::api-gateway-route"]
    assert route_weights(rollout.last) == {"blue": 0, "green": 100}, "the route only records the scale-down"
    assert changes.deleted == ()


def test_a_run_with_nothing_to_do_changes_nothing():
    rollout = started("nginx", CANARY)
    rollout.up()
    changes = rollout.changes()
    assert changes.created == changes.updated == changes.replaced == changes.deleted == ()
