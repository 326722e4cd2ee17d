"""The mirroring proxy's nginx configuration (pure) and the shadow config on AWS."""

from __future__ import annotations

import pytest

from components.aws.mirror_proxy_config import mirror_proxy_config
from components.config import CutoverConfigError, load_config
from tests.builders import aws_config, service


def config(**overrides) -> str:
    args = dict(listen="8080", stable_origin="https://alb.example", candidate_origin="https://alb.example", percent=25,
                methods=("GET", "HEAD"))
    return mirror_proxy_config(**{**args, **overrides})


@pytest.mark.parametrize("methods, body", [
    pytest.param(("GET", "HEAD"), "off", id="only idempotent methods: the body is not mirrored and requests stream"),
    pytest.param(("GET", "POST"), "on", id="a listed POST: its body is mirrored"),
])
def test_mirror_request_body_follows_the_listed_methods(methods, body):
    assert f"mirror_request_body {body};" in config(methods=methods)


def test_every_request_is_sampled_at_100_percent_and_some_at_less():
    assert "100% 1;" in config(percent=100) and "* 0;" not in config(percent=100)
    assert "25% 1;\n    * 0;" in config(percent=25)


def test_https_origins_send_the_clients_host_as_sni_and_the_mirror_has_tight_timeouts():
    text = config()
    assert text.count("proxy_ssl_name $host;") == 2
    assert "proxy_connect_timeout 1s;" in text and "proxy_read_timeout 1s;" in text


@pytest.mark.parametrize("overrides", [
    pytest.param({"percent": 0}, id="percent 0"),
    pytest.param({"methods": ()}, id="no method"),
    pytest.param({"stable_origin": "http://a/b"}, id="an origin with a path"),
])
def test_invalid_input_is_refused(overrides):
    with pytest.raises(ValueError):
        config(**overrides)


def test_shadow_on_aws_alb_is_accepted_and_its_proxy_rules_sit_just_below_the_service_rule():
    cfg = load_config({k.split(":", 1)[1]: v for k, v in aws_config({"web": {
        **service("shadow", then="blue-green"), "priority": 100}}).items() if k.startswith("cutover:")})
    assert cfg.mirror_rule_priorities("web") == {"blue": 99, "green": 98}


@pytest.mark.parametrize("services, expected", [
    pytest.param({"web": {**service("shadow", then="blue-green"), "priority": 2}}, "priority above 2", id="no room below"),
    pytest.param({"web": {**service("shadow", then="blue-green"), "priority": 100}, "api": {**service(), "priority": 99}},
                 "listener rule priority 99", id="another service's rule in the way"),
    pytest.param({"web": {**service("shadow", then="blue-green", router="route53")}}, "router route53", id="route53 cannot copy"),
])
def test_config_refuses_a_shadow_service_whose_proxy_cannot_be_placed(services, expected):
    with pytest.raises(CutoverConfigError) as caught:
        load_config({k.split(":", 1)[1]: v for k, v in aws_config(services).items() if k.startswith("cutover:")})
    assert expected in str(caught.value)
