import time
from tests.gates.test_cloudwatch_reader import *
def test_x(aws_env, monkeypatch):
    w = AlbWorld("arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/web/5","l","arn:aws:elasticloadbalancing:us-east-1:1:listener-rule/app/web/5/f/9",{"blue":"arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web-blue/1","green":"arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web-green/2"})
    with throttling_server() as url:
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        r = reader(timeout_seconds=2, max_attempts=2)
        for i in range(3):
            t=time.monotonic(); res = evaluate_gate(r, w.request(alarms=("a",)), THRESHOLDS); print(round(time.monotonic()-t,2), res.reason)
