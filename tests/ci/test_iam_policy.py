"""iam/cutover-deployer.json (issue 14): the least-privilege policy for the identity that runs `pulumi up` and the
gates. It holds exactly what the program needs, found from the code:

- every boto3 call in components/ (an AST walk: `<client>.<method>(` on clients made with `.client("<service>")`,
  passed on as arguments or kept in a dict of clients), named as IAM names it: the service's IAM prefix and the
  operation botocore maps the method to (`get_metric_data` -> `cloudwatch:GetMetricData`, elbv2 -> `elasticloadbalancing:`);
- every pulumi-aws resource type components/aws/ registers and every provider read (invoke) components/ makes, through
  the table below: the actions the provider calls to create, read, update and delete that type (and tag it);
- sts:AssumeRole for the gates' identity (`aws:assumeRoles`, components/gates/aws_identity.py).

The table is this repository's reading of the provider's CRUD calls (terraform-provider-aws under pulumi-aws 7); it
has not been run against a real account here, where an AccessDenied would name a missing action."""

from __future__ import annotations

import ast
import json
from collections import defaultdict
from pathlib import Path
from typing import Iterator

import boto3
import pytest

from rehearsal.engine import PROJECT_ROOT

POLICY = PROJECT_ROOT / "iam" / "cutover-deployer.json"
COMPONENTS = PROJECT_ROOT / "components"
ELB = "elasticloadbalancing"

IAM_PREFIX = {"elbv2": ELB}
"""boto3 service name -> IAM service prefix, where they differ (cloudwatch signs as `monitoring` but IAM says `cloudwatch`)."""
ACTION_EXCEPTIONS = {("s3", "list_objects_v2"): "s3:ListBucket"}
"""Calls whose IAM action is not the API operation's name (none in components/ today; the mechanism for the next)."""

# One line per pulumi-aws resource type components/aws/ registers: create, read, update, delete (and tags).
RESOURCE_ACTIONS: dict[str, set[str]] = {
    "aws:ec2/vpc:Vpc": {"ec2:CreateVpc", "ec2:DescribeVpcs", "ec2:DescribeVpcAttribute", "ec2:ModifyVpcAttribute", "ec2:DeleteVpc", "ec2:DescribeNetworkAcls", "ec2:DescribeRouteTables", "ec2:DescribeSecurityGroups", "ec2:CreateTags", "ec2:DeleteTags"},
    "aws:ec2/internetGateway:InternetGateway": {"ec2:CreateInternetGateway", "ec2:AttachInternetGateway", "ec2:DescribeInternetGateways", "ec2:DetachInternetGateway", "ec2:DeleteInternetGateway", "ec2:CreateTags"},
    "aws:ec2/subnet:Subnet": {"ec2:CreateSubnet", "ec2:DescribeSubnets", "ec2:ModifySubnetAttribute", "ec2:DeleteSubnet", "ec2:DescribeNetworkInterfaces", "ec2:CreateTags"},
    "aws:ec2/routeTable:RouteTable": {"ec2:CreateRouteTable", "ec2:DescribeRouteTables", "ec2:CreateRoute", "ec2:ReplaceRoute", "ec2:DeleteRoute", "ec2:DeleteRouteTable", "ec2:CreateTags"},
    "aws:ec2/routeTableAssociation:RouteTableAssociation": {"ec2:AssociateRouteTable", "ec2:DescribeRouteTables", "ec2:ReplaceRouteTableAssociation", "ec2:DisassociateRouteTable"},
    "aws:ec2/eip:Eip": {"ec2:AllocateAddress", "ec2:DescribeAddresses", "ec2:DescribeAddressesAttribute", "ec2:DisassociateAddress", "ec2:ReleaseAddress", "ec2:CreateTags"},
    "aws:ec2/natGateway:NatGateway": {"ec2:CreateNatGateway", "ec2:DescribeNatGateways", "ec2:DeleteNatGateway", "ec2:CreateTags"},
    "aws:ec2/securityGroup:SecurityGroup": {"ec2:CreateSecurityGroup", "ec2:DescribeSecurityGroups", "ec2:AuthorizeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupEgress", "ec2:RevokeSecurityGroupIngress", "ec2:RevokeSecurityGroupEgress", "ec2:UpdateSecurityGroupRuleDescriptionsIngress", "ec2:UpdateSecurityGroupRuleDescriptionsEgress", "ec2:DeleteSecurityGroup", "ec2:DescribeNetworkInterfaces", "ec2:CreateTags", "ec2:DeleteTags"},
    "aws:lb/loadBalancer:LoadBalancer": {f"{ELB}:CreateLoadBalancer", f"{ELB}:DescribeLoadBalancers", f"{ELB}:DescribeLoadBalancerAttributes", f"{ELB}:ModifyLoadBalancerAttributes", f"{ELB}:SetSecurityGroups", f"{ELB}:SetSubnets", f"{ELB}:SetIpAddressType", f"{ELB}:DeleteLoadBalancer", f"{ELB}:AddTags", f"{ELB}:RemoveTags", f"{ELB}:DescribeTags", "ec2:DescribeNetworkInterfaces", "iam:CreateServiceLinkedRole"},
    "aws:lb/listener:Listener": {f"{ELB}:CreateListener", f"{ELB}:DescribeListeners", f"{ELB}:DescribeListenerAttributes", f"{ELB}:ModifyListener", f"{ELB}:ModifyListenerAttributes", f"{ELB}:DeleteListener", f"{ELB}:AddTags", f"{ELB}:RemoveTags", f"{ELB}:DescribeTags"},
    "aws:lb/listenerRule:ListenerRule": {f"{ELB}:CreateRule", f"{ELB}:DescribeRules", f"{ELB}:ModifyRule", f"{ELB}:SetRulePriorities", f"{ELB}:DeleteRule", f"{ELB}:AddTags", f"{ELB}:RemoveTags", f"{ELB}:DescribeTags"},
    "aws:lb/targetGroup:TargetGroup": {f"{ELB}:CreateTargetGroup", f"{ELB}:DescribeTargetGroups", f"{ELB}:DescribeTargetGroupAttributes", f"{ELB}:ModifyTargetGroup", f"{ELB}:ModifyTargetGroupAttributes", f"{ELB}:DeleteTargetGroup", f"{ELB}:AddTags", f"{ELB}:RemoveTags", f"{ELB}:DescribeTags"},
    "aws:ecs/cluster:Cluster": {"ecs:CreateCluster", "ecs:DescribeClusters", "ecs:UpdateCluster", "ecs:DeleteCluster", "ecs:TagResource", "ecs:UntagResource", "ecs:ListTagsForResource"},
    "aws:ecs/taskDefinition:TaskDefinition": {"ecs:RegisterTaskDefinition", "ecs:DescribeTaskDefinition", "ecs:DeregisterTaskDefinition", "ecs:TagResource", "ecs:ListTagsForResource", "iam:PassRole"},
    "aws:ecs/service:Service": {"ecs:CreateService", "ecs:DescribeServices", "ecs:UpdateService", "ecs:DeleteService", "ecs:TagResource", "ecs:UntagResource", "ecs:ListTagsForResource", "iam:CreateServiceLinkedRole"},
    "aws:appautoscaling/target:Target": {"application-autoscaling:RegisterScalableTarget", "application-autoscaling:DescribeScalableTargets", "application-autoscaling:DeregisterScalableTarget", "application-autoscaling:TagResource", "application-autoscaling:UntagResource", "application-autoscaling:ListTagsForResource", "ecs:DescribeServices", "ecs:UpdateService", "iam:CreateServiceLinkedRole"},
    "aws:appautoscaling/policy:Policy": {"application-autoscaling:PutScalingPolicy", "application-autoscaling:DescribeScalingPolicies", "application-autoscaling:DeleteScalingPolicy", "cloudwatch:PutMetricAlarm", "cloudwatch:DescribeAlarms", "cloudwatch:DeleteAlarms"},
    "aws:cloudwatch/logGroup:LogGroup": {"logs:CreateLogGroup", "logs:DescribeLogGroups", "logs:PutRetentionPolicy", "logs:DeleteRetentionPolicy", "logs:DeleteLogGroup", "logs:TagResource", "logs:UntagResource", "logs:ListTagsForResource"},
    "aws:iam/role:Role": {"iam:CreateRole", "iam:GetRole", "iam:UpdateRole", "iam:UpdateAssumeRolePolicy", "iam:DeleteRole", "iam:TagRole", "iam:UntagRole", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies", "iam:ListInstanceProfilesForRole"},
    "aws:iam/rolePolicy:RolePolicy": {"iam:PutRolePolicy", "iam:GetRolePolicy", "iam:DeleteRolePolicy"},
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": {"iam:AttachRolePolicy", "iam:ListAttachedRolePolicies", "iam:DetachRolePolicy"},
    "aws:route53/record:Record": {"route53:GetHostedZone", "route53:ChangeResourceRecordSets", "route53:ListResourceRecordSets", "route53:GetChange"},
    "aws:ssm/parameter:Parameter": {"ssm:PutParameter", "ssm:GetParameter", "ssm:DescribeParameters", "ssm:DeleteParameter", "ssm:AddTagsToResource", "ssm:RemoveTagsFromResource", "ssm:ListTagsForResource"},
}

# One line per provider read (invoke) components/ makes: the calls behind the data source.
INVOKE_ACTIONS: dict[str, set[str]] = {
    "aws.get_availability_zones": {"ec2:DescribeAvailabilityZones"},
    "aws.lb.get_listener_rule": {f"{ELB}:DescribeRules", f"{ELB}:DescribeTags"},
    "aws.lb.get_load_balancer": {f"{ELB}:DescribeLoadBalancers", f"{ELB}:DescribeLoadBalancerAttributes", f"{ELB}:DescribeTags"},
    "aws.lb.get_listener": {f"{ELB}:DescribeListeners", f"{ELB}:DescribeTags"},
    "aws.lb.get_target_group": {f"{ELB}:DescribeTargetGroups", f"{ELB}:DescribeTargetGroupAttributes", f"{ELB}:DescribeTags"},
    "aws.ssm.get_parameter": {"ssm:GetParameter"},
    "aws.route53.get_records": {"route53:ListResourceRecordSets"},
    "aws.ecs.get_service": {"ecs:DescribeServices"},
    "aws.ecs.get_container_definition": {"ecs:DescribeTaskDefinition"},
}

GATE_IDENTITY = {"sts:AssumeRole"}
"""The gates' and migration runs' identity: roles of `aws:assumeRoles`, assumed in order (aws_identity.py's own AssumeRole)."""


def policy() -> dict:
    return json.loads(POLICY.read_text())


def allowed() -> set[str]:
    statements = policy()["Statement"]
    assert all(s["Effect"] == "Allow" for s in statements)
    return {action for s in statements for action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}


# --- what the code uses ------------------------------------------------------------------------------------------------------

def python_files() -> list[Path]:
    return sorted(p for p in COMPONENTS.rglob("*.py") if "__pycache__" not in p.parts)


def _scopes(tree: ast.Module) -> dict[ast.AST, ast.AST | None]:
    """Each node's innermost enclosing function (None: the module)."""
    owner: dict[ast.AST, ast.AST | None] = {}

    def visit(node: ast.AST, scope: ast.AST | None) -> None:
        owner[node] = scope
        inner = node if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) else scope
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(tree, None)
    return owner


def _client_service(value: ast.AST) -> str | set[str] | None:
    """`<anything>.client("svc", ...)` -> "svc"; `{n: s.client(n) for n in ("a", "b")}` -> {"a", "b"}."""
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr == "client" and value.args:
        first = value.args[0]
        return first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None
    if isinstance(value, ast.DictComp) and _is_client_call(value.value) and len(value.generators) == 1:
        names = value.generators[0].iter
        if isinstance(names, (ast.Tuple, ast.List)) and all(isinstance(e, ast.Constant) for e in names.elts):
            return {e.value for e in names.elts}
    return None


def _is_client_call(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "client"


def boto3_calls(path: Path) -> Iterator[tuple[str, str, int]]:
    """(boto3 service, method, line) of every call on a boto3 client in one module."""
    tree = ast.parse(path.read_text(), str(path))
    owner = _scopes(tree)
    functions = {node.name: node for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    bound: dict[tuple[ast.AST | None, str], str | set[str]] = {}

    def lookup(node: ast.AST) -> str | set[str] | None:
        text = ast.unparse(node)
        scope = owner.get(node)
        if text.startswith("self."):  # an attribute set in __init__ and used in other methods of the class
            return next((svc for (_, name), svc in bound.items() if name == text), None)
        while True:
            if (scope, text) in bound:
                return bound[(scope, text)]
            if scope is None:
                return None
            scope = owner.get(scope)

    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and (service := _client_service(node.value)) is not None:
            for target in node.targets:
                bound[(owner[node], ast.unparse(target))] = service
    changed = True
    while changed:  # a client passed as an argument to a function of the same module binds that parameter
        changed = False
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in functions:
                params = functions[node.func.id].args.args
                for index, argument in enumerate(node.args[:len(params)]):
                    service = lookup(argument)
                    key = (functions[node.func.id], params[index].arg)
                    if service is not None and bound.get(key) != service:
                        bound[key], changed = service, True
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)) or node.func.attr == "client":
            continue
        receiver = node.func.value
        if isinstance(receiver, ast.Subscript) and isinstance(receiver.slice, ast.Constant):
            services = lookup(receiver.value)
            if isinstance(services, set) and receiver.slice.value in services:
                yield receiver.slice.value, node.func.attr, node.lineno
            continue
        service = lookup(receiver)
        if isinstance(service, str):
            yield service, node.func.attr, node.lineno


def iam_action(service: str, method: str) -> str:
    if (service, method) in ACTION_EXCEPTIONS:
        return ACTION_EXCEPTIONS[(service, method)]
    client = boto3.client(service, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    assert method in client.meta.method_to_api_mapping, f"{service}.{method} is not an operation of boto3's {service} client"
    return f"{IAM_PREFIX.get(service, service)}:{client.meta.method_to_api_mapping[method]}"


def all_boto3_calls() -> dict[str, list[str]]:
    """IAM action -> where it is called (file:line)."""
    calls: dict[str, list[str]] = defaultdict(list)
    for path in python_files():
        for service, method, line in boto3_calls(path):
            calls[iam_action(service, method)].append(f"{path.relative_to(PROJECT_ROOT)}:{line}")
    return dict(calls)


def _aws_module_alias(tree: ast.Module) -> str | None:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "pulumi_aws":
                    return alias.asname or alias.name
    return None


def _dotted(node: ast.AST) -> list[str] | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return [node.id, *reversed(parts)] if isinstance(node, ast.Name) else None


def provider_uses(folder: Path) -> tuple[set[str], set[str]]:
    """(resource type tokens registered, invokes called) through `pulumi_aws` in the modules under `folder`."""
    resources, invokes = set(), set()
    for path in sorted(folder.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        alias = _aws_module_alias(tree)
        if alias is None:
            continue
        for node in ast.walk(tree):
            dotted = _dotted(node.func) if isinstance(node, ast.Call) else None
            if not dotted or dotted[0] != alias:
                continue
            name = dotted[-1]
            if len(dotted) == 3 and name[0].isupper() and not name.endswith("Args"):
                module, cls = dotted[1], name
                resources.add(f"aws:{module}/{cls[0].lower()}{cls[1:]}:{cls}")
            elif name.startswith("get_"):
                invokes.add(".".join(["aws", *dotted[1:]]))
        # Invokes passed as a function to a reader helper: `read(aws.lb.get_listener_rule, ...)`.
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                for argument in node.args:
                    dotted = _dotted(argument)
                    if dotted and dotted[0] == alias and dotted[-1].startswith("get_"):
                        invokes.add(".".join(["aws", *dotted[1:]]))
    return resources, invokes


# --- the tests ----------------------------------------------------------------------------------------------------------------

def test_the_document_is_an_iam_policy_with_one_sid_per_statement():
    document = policy()
    assert document["Version"] == "2012-10-17"
    sids = [s["Sid"] for s in document["Statement"]]
    assert len(sids) == len(set(sids)) and all(sid.isalnum() for sid in sids)
    actions = [a for s in document["Statement"] for a in s["Action"]]
    assert len(actions) == len(set(actions)), "each action in one statement"
    assert not [a for a in actions if "*" in a], "no wildcard actions"


def test_the_ast_walk_finds_the_boto3_calls_it_must():
    found = all_boto3_calls()
    assert {"cloudwatch:GetMetricData", "cloudwatch:DescribeAlarms", f"{ELB}:DescribeTargetHealth", f"{ELB}:DescribeRules",
            "route53:ListResourceRecordSets", "route53:GetChange", "ecs:RunTask", "ecs:DescribeTasks", "ecs:StopTask",
            "sts:AssumeRole"} <= set(found), found


def test_every_boto3_call_in_components_is_allowed():
    found = all_boto3_calls()
    missing = {action: where for action, where in found.items() if action not in allowed()}
    assert not missing, f"add to {POLICY.name}: {missing}"


def test_every_resource_type_components_aws_registers_has_its_actions_allowed():
    resources, _ = provider_uses(COMPONENTS / "aws")
    assert len(resources) >= 20
    unmapped = resources - set(RESOURCE_ACTIONS)
    assert not unmapped, f"new resource types: add a line to RESOURCE_ACTIONS and the actions to {POLICY.name}: {unmapped}"
    for token in sorted(resources):
        missing = RESOURCE_ACTIONS[token] - allowed()
        assert not missing, f"{token}: {sorted(missing)}"


@pytest.mark.parametrize("token", sorted(RESOURCE_ACTIONS))
def test_each_type_token_in_the_table_is_the_one_pulumi_aws_registers(token):
    import importlib
    import inspect

    module, cls = token.split(":")[1].split("/")[0], token.rsplit(":", 1)[1]
    resource = getattr(importlib.import_module(f"pulumi_aws.{module}"), cls)
    assert f"'{token}'" in inspect.getsource(resource)


def test_every_provider_read_components_make_has_its_actions_allowed():
    _, invokes = provider_uses(COMPONENTS)
    assert {"aws.lb.get_listener_rule", "aws.ecs.get_service", "aws.get_availability_zones"} <= invokes, invokes
    unmapped = invokes - set(INVOKE_ACTIONS)
    assert not unmapped, f"new invokes: add a line to INVOKE_ACTIONS: {unmapped}"
    for invoke in sorted(invokes):
        assert not INVOKE_ACTIONS[invoke] - allowed(), invoke


def test_the_document_allows_nothing_the_program_does_not_use():
    resources, invokes = provider_uses(COMPONENTS / "aws")
    _, all_invokes = provider_uses(COMPONENTS)
    needed = set(all_boto3_calls()) | GATE_IDENTITY
    needed |= {a for token in resources for a in RESOURCE_ACTIONS[token]}
    needed |= {a for invoke in all_invokes for a in INVOKE_ACTIONS[invoke]}
    assert allowed() - needed == set(), "least privilege: every allowed action has a use"
    assert not needed - allowed()


@pytest.mark.parametrize(("sid", "condition_key"), [("PassRolesOnlyToEcsTasks", "iam:PassedToService"),
                                                    ("OnlyTheEcsTaskExecutionManagedPolicy", "iam:PolicyARN"),
                                                    ("ServiceLinkedRolesOfEcsElbAndAutoscaling", "iam:AWSServiceName")])
def test_the_iam_actions_that_could_escalate_are_narrowed_by_a_condition(sid, condition_key):
    statement = next(s for s in policy()["Statement"] if s["Sid"] == sid)
    assert any(condition_key in keys for keys in statement["Condition"].values())
    others = [s for s in policy()["Statement"] if s["Sid"] != sid]
    assert not set(statement["Action"]) & {a for s in others for a in s["Action"]}, "granted nowhere without the condition"


def test_the_gate_identity_may_assume_only_cutover_roles():
    statement = next(s for s in policy()["Statement"] if "sts:AssumeRole" in s["Action"])
    assert statement["Action"] == ["sts:AssumeRole"] and statement["Resource"] == "arn:aws:iam::*:role/cutover-*"
