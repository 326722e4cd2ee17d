"""Mocks whose load balancers, target groups, rules, ECS tasks and records also exist in moto.

The gates read live AWS state (target health, rule weights, records, metrics) by
the ARNs the program exported. With these mocks those ARNs are real in a moto
backend (in-process `mock_aws` or a `moto_server`), so the program's gate I/O is
exercised against an AWS API emulator across successive runs:

- a load balancer, target group, listener or rule is created in moto the first
  time the program registers it, and a rule's weights are modified on later runs;
- an ECS service with desiredCount N has N targets registered in its target
  group (moto reports them healthy at once, like tasks that passed their checks);
- weighted records are UPSERTed into the hosted zone (create it first; put its id in `cutover:dns.zoneId`).
"""

from __future__ import annotations

import ipaddress
from typing import Any, Mapping

import boto3

from rehearsal.engine import RecordingMocks


class MotoBackedMocks(RecordingMocks):
    def __init__(self, previous_outputs: Mapping[str, Any] | None, region: str, moto: "MotoAws"):
        super().__init__(previous_outputs, region)
        self.moto = moto

    def new_resource(self, args):
        resource_id, outputs = super().new_resource(args)
        handler = self.moto.handlers.get(args.typ)
        if handler is not None:
            outputs = {**outputs, **handler(args.name, outputs)}
            key = f"{args.typ}::{args.name}"
            recorded = self.resources[key]
            self.resources[key] = type(recorded)(recorded.type, recorded.name, recorded.inputs, outputs, recorded.custom)
        return resource_id, outputs


class MotoAws:
    """The moto side: keeps, across runs, which logical resource is which moto ARN."""

    def __init__(self, region: str = "us-east-1", endpoint_url: str | None = None):
        session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region)
        self.elbv2 = session.client("elbv2", endpoint_url=endpoint_url)
        self.route53 = session.client("route53", endpoint_url=endpoint_url)
        ec2 = session.client("ec2", endpoint_url=endpoint_url)
        vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
        self.vpc_id = vpc
        self.subnets = [
            ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.42.{i}.0/24", AvailabilityZone=f"{region}{zone}")["Subnet"]["SubnetId"]
            for i, zone in enumerate("ab")
        ]
        self.arns: dict[str, str] = {}
        self.targets: dict[str, list[str]] = {}
        self._next_ip = iter(ipaddress.ip_network("10.42.128.0/17").hosts())
        self.handlers = {
            "aws:lb/loadBalancer:LoadBalancer": self._load_balancer,
            "aws:lb/targetGroup:TargetGroup": self._target_group,
            "aws:lb/listener:Listener": self._listener,
            "aws:lb/listenerRule:ListenerRule": self._rule,
            "aws:ecs/service:Service": self._ecs_service,
            "aws:route53/record:Record": self._record,
        }

    def create_zone(self, domain: str) -> str:
        zone = self.route53.create_hosted_zone(Name=domain, CallerReference=domain)["HostedZone"]["Id"]
        return zone.rsplit("/", 1)[-1]

    def _load_balancer(self, name: str, outputs: dict) -> dict:
        key = f"lb::{name}"
        if key not in self.arns:
            lb = self.elbv2.create_load_balancer(Name=outputs["name"][:32].rstrip("-"), Subnets=self.subnets, Type="application")
            self.arns[key] = lb["LoadBalancers"][0]["LoadBalancerArn"]
            self.arns[f"dns::{name}"] = lb["LoadBalancers"][0]["DNSName"]
        return {"arn": self.arns[key], "dnsName": self.arns[f"dns::{name}"]}

    def _target_group(self, name: str, outputs: dict) -> dict:
        key = f"tg::{name}"
        if key not in self.arns:
            tg = self.elbv2.create_target_group(
                Name=outputs["name"][:32].rstrip("-"), Protocol="HTTP", Port=int(outputs["port"]), VpcId=self.vpc_id,
                TargetType="ip", HealthCheckPath=outputs.get("healthCheck", {}).get("path", "/"),
            )
            self.arns[key] = tg["TargetGroups"][0]["TargetGroupArn"]
        return {"arn": self.arns[key]}

    def _listener(self, name: str, outputs: dict) -> dict:
        key = f"listener::{name}"
        if key not in self.arns:
            # Plain HTTP in the emulator: certificates are not what the gates look at.
            listener = self.elbv2.create_listener(
                LoadBalancerArn=outputs["loadBalancerArn"], Protocol="HTTP", Port=int(outputs["port"]),
                DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],
            )
            self.arns[key] = listener["Listeners"][0]["ListenerArn"]
        return {"arn": self.arns[key]}

    def _rule(self, name: str, outputs: dict) -> dict:
        actions = [_action(a) for a in outputs["actions"]]
        key = f"rule::{name}"
        if key not in self.arns:
            rule = self.elbv2.create_rule(
                ListenerArn=outputs["listenerArn"], Priority=int(outputs["priority"]),
                Conditions=[_condition(c) for c in outputs["conditions"]], Actions=actions,
            )
            self.arns[key] = rule["Rules"][0]["RuleArn"]
        else:
            self.elbv2.modify_rule(RuleArn=self.arns[key], Actions=actions)
        return {"arn": self.arns[key]}

    def _ecs_service(self, name: str, outputs: dict) -> dict:
        group = outputs["loadBalancers"][0]["targetGroupArn"]
        current = self.targets.setdefault(group, [])
        wanted = int(outputs.get("desiredCount") or 0)
        port = int(outputs["loadBalancers"][0]["containerPort"])
        if wanted > len(current):
            new = [str(next(self._next_ip)) for _ in range(wanted - len(current))]
            self.elbv2.register_targets(TargetGroupArn=group, Targets=[{"Id": ip, "Port": port} for ip in new])
            current.extend(new)
        elif wanted < len(current):
            gone, self.targets[group] = current[wanted:], current[:wanted]
            self.elbv2.deregister_targets(TargetGroupArn=group, Targets=[{"Id": ip, "Port": port} for ip in gone])
        return {}

    def _record(self, name: str, outputs: dict) -> dict:
        if outputs.get("aliases"):
            alias = outputs["aliases"][0]
            self.route53.change_resource_record_sets(HostedZoneId=outputs["zoneId"], ChangeBatch={"Changes": [{
                "Action": "UPSERT", "ResourceRecordSet": {"Name": outputs["name"], "Type": outputs["type"], "AliasTarget": {
                    "HostedZoneId": alias["zoneId"], "DNSName": alias["name"], "EvaluateTargetHealth": alias["evaluateTargetHealth"]}}}]})
            return {}
        self.route53.change_resource_record_sets(
            HostedZoneId=outputs["zoneId"],
            ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": {
                "Name": outputs["name"], "Type": outputs["type"], "TTL": int(outputs["ttl"]),
                "SetIdentifier": outputs["setIdentifier"], "Weight": int(outputs["weightedRoutingPolicies"][0]["weight"]),
                "ResourceRecords": [{"Value": v} for v in outputs["records"]],
            }}]},
        )
        return {}


def _action(action: Mapping[str, Any]) -> dict:
    forward = action.get("forward")
    if forward:
        return {"Type": "forward", "ForwardConfig": {"TargetGroups": [
            {"TargetGroupArn": g["arn"], "Weight": int(g["weight"])} for g in forward["targetGroups"]
        ]}}
    return {"Type": "forward", "TargetGroupArn": action["targetGroupArn"]}


def _condition(condition: Mapping[str, Any]) -> dict:
    if "hostHeader" in condition:
        return {"Field": "host-header", "HostHeaderConfig": {"Values": condition["hostHeader"]["values"]}}
    if "httpHeader" in condition:  # the mirror proxy's way back to one color
        header = condition["httpHeader"]
        return {"Field": "http-header", "HttpHeaderConfig": {"HttpHeaderName": header["httpHeaderName"], "Values": header["values"]}}
    return {"Field": "path-pattern", "PathPatternConfig": {"Values": condition["pathPattern"]["values"]}}
