"""A route the Gateway refused still "applies" any weights written to its spec: the run reads the route's
status (per parent, `status.parents[].conditions`) and holds while the Gateway does not serve it."""

from __future__ import annotations

import pytest

from tests.builders import CANARY, kubernetes_config, kubernetes_service
from tests.kubernetes.harness import ACCEPTED, BACKEND_MISSING, HTTPROUTE, NOT_ALLOWED, Rollout, route_weights

ROUTE_KEY = f"{HTTPROUTE}::api-gateway-route"


def mid_canary() -> Rollout:
    """A gateway canary at its first step (90/10), the Gateway having accepted the route so far."""
    rollout = Rollout(kubernetes_config({"api": kubernetes_service("gateway", CANARY)}))
    rollout.up()
    rollout.up(version="1.28")
    rollout.stack.world.edit(ROUTE_KEY, status={"parents": [ACCEPTED]})
    rollout.up()
    assert route_weights(rollout.last) == {"blue": 90, "green": 10}
    return rollout


def test_an_accepted_route_advances_as_usual():
    rollout = mid_canary()
    rollout.up()
    assert route_weights(rollout.last) == {"blue": 50, "green": 50}


@pytest.mark.parametrize("refused, words", [(NOT_ALLOWED, "Accepted=False (NotAllowedByListeners"),
                                             (BACKEND_MISSING, "ResolvedRefs=False (BackendNotFound")],
                         ids=["the Gateway refused the route", "the Gateway cannot resolve a backend"])
def test_a_route_its_gateway_does_not_serve_holds_the_canary_until_it_does(refused, words):
    rollout = mid_canary()
    rollout.stack.world.edit(ROUTE_KEY, status={"parents": [refused]})
    rollout.up()
    assert route_weights(rollout.last) == {"blue": 90, "green": 10}, "a refused route must not advance"
    record = rollout.record()
    assert record["weights"] == {"blue": 90, "green": 10}
    assert "holding" in record["reason"] and words in record["reason"], record["reason"]
    rollout.up()
    assert route_weights(rollout.last) == {"blue": 90, "green": 10}, "still refused: still holding"
    rollout.stack.world.edit(ROUTE_KEY, status={"parents": [ACCEPTED]})
    rollout.up()
    assert route_weights(rollout.last) == {"blue": 50, "green": 50}, "accepted again: the canary moves on"


def test_an_abort_still_returns_all_traffic_in_one_run_while_the_route_is_refused():
    rollout = mid_canary()
    rollout.stack.world.edit(ROUTE_KEY, status={"parents": [NOT_ALLOWED]})
    rollout.up(abort="1.28")
    assert route_weights(rollout.last) == {"blue": 100, "green": 0}
    assert rollout.record()["phase"] == "aborted"
