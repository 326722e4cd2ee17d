"""Security: modern TLS, HTTPS-only entry, workloads reachable only through the load balancer, no plaintext
secrets, no privileged or root containers."""

from __future__ import annotations

import json
import re
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from ._common import (
    ALB_LISTENER,
    ALB_LISTENER_RULE,
    ECS_TASK_DEFINITION,
    K8S_POD_OWNERS,
    SECURITY_GROUP,
    SECURITY_GROUP_INGRESS_RULE,
    PreviewUnknowns,
    as_number,
    check_pod_containers,
    dig,
    is_map,
    items,
    pod_containers,
    pod_spec,
    preview_checks,
    schema,
    setting,
    show,
)

# ---------------------------------------------------------------------------------------------- TLS

MODERN_TLS_POLICIES = [
    "ELBSecurityPolicy-TLS13-1-2-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-Ext1-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-Ext2-2021-06",
    "ELBSecurityPolicy-TLS13-1-3-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-FIPS-2023-04",
    "ELBSecurityPolicy-TLS13-1-2-Res-FIPS-2023-04",
    "ELBSecurityPolicy-TLS13-1-3-FIPS-2023-04",
]

TLS_SCHEMA = schema(
    allowedSslPolicies={
        "type": "array",
        "items": {"type": "string"},
        "default": MODERN_TLS_POLICIES,
        "description": "ALB security policies an HTTPS listener may use (TLS 1.3 family by default).",
    },
)


def _protocol(listener_props: Any) -> str:
    protocol = listener_props.get("protocol")
    if isinstance(protocol, str):
        return protocol.upper()
    return "HTTP" if as_number(listener_props.get("port")) == 80 else ""


def alb_modern_tls_validator(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != ALB_LISTENER:
        return
    allowed = list(setting(args, TLS_SCHEMA, "allowedSslPolicies") or [])
    with preview_checks():
        if _protocol(args.props) != "HTTPS":
            return
        policy = args.props.get("sslPolicy")
        if policy not in allowed:
            shown = "unset (the AWS default ELBSecurityPolicy-2016-08 allows TLS 1.0)" if policy is None else repr(policy)
            report_violation(f"HTTPS listener '{args.name}' has sslPolicy {shown}; use one of: "
                             f"{', '.join(allowed)}.", None)


alb_modern_tls = ResourceValidationPolicy(
    name="alb-modern-tls-policy",
    description="HTTPS listeners use a modern TLS security policy from the configured allow-list (the TLS 1.3 "
                "family by default).",
    validate=alb_modern_tls_validator,
    enforcement_level=EnforcementLevel.ADVISORY,
    config_schema=TLS_SCHEMA,
)


def _redirects_to_https(action: Any) -> bool:
    return dig(action, "type") == "redirect" and str(dig(action, "redirect", "protocol") or "").upper() == "HTTPS"


def alb_http_redirects_validator(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    unknowns = PreviewUnknowns()
    listeners: list[tuple[Any, str, str]] = []  # (resource, load balancer arn, protocol)
    for resource in args.resources:
        if resource.resource_type == ALB_LISTENER:
            with unknowns.guard(resource.name):
                lb_arn = resource.props.get("loadBalancerArn")
                if not isinstance(lb_arn, str):
                    unknowns.note(["loadBalancerArn"], resource.name)
                    continue
                listeners.append((resource, lb_arn, _protocol(resource.props)))
    secured = {lb for _, lb, protocol in listeners if protocol == "HTTPS"}
    plain = [(r, lb) for r, lb, protocol in listeners if protocol == "HTTP" and lb in secured]
    plain_by_arn: dict[str, Any] = {}
    for listener, _ in plain:
        with unknowns.guard(listener.name):
            actions = items(listener.props.get("defaultActions"))
            if not actions or not all(_redirects_to_https(a) for a in actions):
                report_violation(
                    f"HTTP listener '{listener.name}' shares its load balancer with an HTTPS listener but does not "
                    "redirect to HTTPS; make its default action a redirect with protocol HTTPS.", listener.urn)
            arn = listener.props.get("arn")
            if isinstance(arn, str):
                plain_by_arn[arn] = listener
    for resource in args.resources:
        if resource.resource_type != ALB_LISTENER_RULE or not plain_by_arn:
            continue
        with unknowns.guard(resource.name):
            listener = plain_by_arn.get(resource.props.get("listenerArn"))
            if listener is not None and not all(_redirects_to_https(a) for a in items(resource.props.get("actions"))):
                report_violation(
                    f"Listener rule '{resource.name}' serves traffic on HTTP listener '{listener.name}' instead of "
                    "redirecting to HTTPS.", resource.urn)
    unknowns.reraise()


alb_http_redirects = StackValidationPolicy(
    name="alb-http-redirects-to-https",
    description="On a load balancer that has an HTTPS listener, HTTP listeners (and their rules) only redirect "
                "to HTTPS and never serve traffic in plaintext.",
    validate=alb_http_redirects_validator,
    enforcement_level=EnforcementLevel.ADVISORY,
)

# ---------------------------------------------------------------------------------------------- ingress

WORLD = {"0.0.0.0/0", "::/0"}
WEB_PORTS = {80, 443}
ROLE_TAG = "cutover:role"
LOAD_BALANCER_ROLE = "load-balancer"
LB_NAME_TOKENS = {"lb", "alb", "elb"}


def _is_load_balancer_group(name: str, tags: Any) -> bool:
    """The program tags `cutover:role`; without the tag, the logical name is the hint (`web-alb-sg`)."""
    role = dig(tags, ROLE_TAG)
    if isinstance(role, str):
        return role == LOAD_BALANCER_ROLE
    lowered = name.lower()
    tokens = set(re.split(r"[-_.\s]+", lowered))
    return bool(tokens & LB_NAME_TOKENS) or "load-balancer" in lowered or "loadbalancer" in lowered


def _port_range(rule: Any, protocol_key: str) -> str:
    protocol, low, high = rule.get(protocol_key), rule.get("fromPort"), rule.get("toPort")
    if str(protocol) in ("-1", "all"):
        return "all ports"
    return f"ports {show(low)}..{show(high)}" if low != high else f"port {show(low)}"


def _web_ports_only(rule: Any, protocol_key: str) -> bool:
    if str(rule.get(protocol_key)) in ("-1", "all"):
        return False
    low, high = as_number(rule.get("fromPort")), as_number(rule.get("toPort"))
    return low is not None and low == high and int(low) in WEB_PORTS


def _inline_ingress(props: Any) -> list[tuple[int, Any, set[str]]]:
    """(index, rule, CIDRs) for a security group's inline ingress rules."""
    found = []
    for i, rule in enumerate(items(props.get("ingress"))):
        cidrs = {*(items(rule.get("cidrBlocks"))), *(items(rule.get("ipv6CidrBlocks")))}
        found.append((i, rule, cidrs))
    return found


def _opens_more_than_web_ports(rule: Any, protocol_key: str, cidrs: set[Any]) -> str | None:
    """What `rule` opens to the internet beyond ports 80 and 443, for a message; None if nothing."""
    if not cidrs & WORLD or _web_ports_only(rule, protocol_key):
        return None
    return (f"opens {_port_range(rule, protocol_key)} to {', '.join(sorted(cidrs & WORLD))}; only ports 80 and 443 "
            "may be open to the internet.")


def public_ingress_web_ports_validator(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in (SECURITY_GROUP, SECURITY_GROUP_INGRESS_RULE):
        return
    with preview_checks() as unknowns:
        if args.resource_type == SECURITY_GROUP:
            for i, rule, cidrs in _inline_ingress(args.props):
                with unknowns.guard():
                    opened = _opens_more_than_web_ports(rule, "protocol", cidrs)
                    if opened:
                        report_violation(f"Security group '{args.name}': ingress[{i}] {opened}", None)
        else:
            opened = _opens_more_than_web_ports(
                args.props, "ipProtocol", {args.props.get("cidrIpv4"), args.props.get("cidrIpv6")})
            if opened:
                report_violation(f"Security group ingress rule '{args.name}' {opened}", None)


public_ingress_web_ports = ResourceValidationPolicy(
    name="public-ingress-web-ports-only",
    description="Security group ingress open to the internet (0.0.0.0/0 or ::/0) is limited to ports 80 and 443.",
    validate=public_ingress_web_ports_validator,
    enforcement_level=EnforcementLevel.ADVISORY,
)


def workload_ingress_validator(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in (SECURITY_GROUP, SECURITY_GROUP_INGRESS_RULE):
        return
    with preview_checks() as unknowns:
        if _is_load_balancer_group(args.name, args.props.get("tags")):
            return
        if args.resource_type == SECURITY_GROUP:
            for i, rule, cidrs in _inline_ingress(args.props):
                with unknowns.guard():
                    prefix_lists = items(rule.get("prefixListIds"))
                    if cidrs or prefix_lists:
                        sources = ", ".join(sorted(map(str, cidrs)) + sorted(map(str, prefix_lists)))
                        report_violation(
                            f"Security group '{args.name}' is not the load balancer's, but ingress[{i}] admits "
                            f"address ranges ({sources}); workloads must admit only the load balancer's security "
                            "group (ingress `securityGroups`).", None)
        else:
            sources = [args.props.get(k) for k in ("cidrIpv4", "cidrIpv6", "prefixListId")]
            sources = [s for s in sources if s]
            if sources:
                report_violation(
                    f"Security group ingress rule '{args.name}' admits address ranges ({', '.join(map(str, sources))}) into a "
                    "security group that is not the load balancer's; use referencedSecurityGroupId instead.", None)


workload_ingress = ResourceValidationPolicy(
    name="workload-ingress-from-load-balancer-only",
    description="Security groups other than the load balancer's (tag cutover:role=load-balancer, or a name "
                "hint such as '-alb-' without the tag) admit traffic only from other security groups, never "
                "from address ranges, so tasks and pods are reachable only through the load balancer.",
    validate=workload_ingress_validator,
    enforcement_level=EnforcementLevel.ADVISORY,
)

# ---------------------------------------------------------------------------------------------- containers

SECRET_NAME_PATTERN = r"(SECRET|PASSWORD|PASSWD|TOKEN|API_KEY|PRIVATE_KEY|CREDENTIAL)"

SECRETS_SCHEMA = schema(
    secretNamePattern={
        "type": "string",
        "default": SECRET_NAME_PATTERN,
        "description": "Case-insensitive regular expression for environment variable names that hold secrets.",
    },
)


def _ecs_containers(args: ResourceValidationArgs, report_violation: ReportViolation) -> list[Any] | None:
    raw = args.props.get("containerDefinitions")
    try:
        containers = json.loads(raw) if isinstance(raw, str) else None
    except json.JSONDecodeError as error:
        report_violation(f"Task definition '{args.name}': containerDefinitions is not valid JSON ({error}).", None)
        return None
    return containers if isinstance(containers, list) else None


def _ecs_environment(container: Any) -> list[dict[str, Any]]:
    environment = container.get("environment") if isinstance(container, dict) else None
    return [e for e in environment if isinstance(e, dict)] if isinstance(environment, list) else []


def _has_literal_value(entry: Any) -> bool:
    """`env[].value` is set. A value unknown during preview still ends up as plaintext in the pod spec."""
    if not is_map(entry) or "value" not in list(entry):  # iterating keys never reads (or raises on) a value
        return False
    try:
        return entry["value"] not in (None, "")
    except UnknownValueError:
        return True


def _container_label(container: Any, field: str = "containers", index: int = 0) -> str:
    """"container 'app'" / "init container 'app'" (`index` is unused: the shape `check_pod_containers` calls)."""
    name = dig(container, "name")
    return f"{'init container' if field == 'initContainers' else 'container'} {name!r}"


def no_plaintext_secrets_validator(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != ECS_TASK_DEFINITION and args.resource_type not in K8S_POD_OWNERS:
        return
    pattern = re.compile(str(setting(args, SECRETS_SCHEMA, "secretNamePattern")), re.IGNORECASE)
    with preview_checks() as unknowns:
        if args.resource_type == ECS_TASK_DEFINITION:
            for container in _ecs_containers(args, report_violation) or []:
                for entry in _ecs_environment(container):
                    name, value = entry.get("name"), entry.get("value")
                    if isinstance(name, str) and pattern.search(name) and value not in (None, ""):
                        report_violation(
                            f"Task definition '{args.name}': {_container_label(container)} sets {name} as a plaintext "
                            "environment value; move it to `secrets` with valueFrom (Secrets Manager or SSM).", None)
        else:
            for field, container in pod_containers(args.props):
                for entry in items(dig(container, "env")):
                    with unknowns.guard():
                        name = dig(entry, "name")
                        if isinstance(name, str) and pattern.search(name) and _has_literal_value(entry):
                            report_violation(
                                f"{K8S_POD_OWNERS[args.resource_type]} '{args.name}': {_container_label(container, field)} sets {name} as a "
                                "plaintext env value; use valueFrom.secretKeyRef.", None)


no_plaintext_secrets = ResourceValidationPolicy(
    name="no-plaintext-secrets-in-env",
    description="Container environment variables whose names look secret (SECRET, PASSWORD, TOKEN, API_KEY, ...) "
                "come from a secret store (ECS `secrets` valueFrom, Kubernetes secretKeyRef), never as literal values.",
    validate=no_plaintext_secrets_validator,
    enforcement_level=EnforcementLevel.ADVISORY,
    config_schema=SECRETS_SCHEMA,
)


def _privileged(container: Any) -> str | None:
    return "sets securityContext.privileged true." if dig(container, "securityContext", "privileged") is True else None


def containers_not_privileged_validator(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    with preview_checks() as unknowns:
        if args.resource_type == ECS_TASK_DEFINITION:
            for container in _ecs_containers(args, report_violation) or []:
                if isinstance(container, dict) and container.get("privileged") is True:
                    report_violation(f"Task definition '{args.name}': {_container_label(container)} runs privileged.",
                                     None)
        elif args.resource_type in K8S_POD_OWNERS:
            check_pod_containers(args, report_violation, unknowns, _privileged, _container_label)


containers_not_privileged = ResourceValidationPolicy(
    name="containers-not-privileged",
    description="No ECS or Kubernetes container runs privileged (full access to the host).",
    validate=containers_not_privileged_validator,
    enforcement_level=EnforcementLevel.ADVISORY,
)


def k8s_run_as_non_root_validator(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in K8S_POD_OWNERS:
        return
    with preview_checks() as unknowns:
        pod_level = dig(pod_spec(args.props), "securityContext", "runAsNonRoot")

        def may_run_as_root(container: Any) -> str | None:
            own = dig(container, "securityContext", "runAsNonRoot")
            effective = own if own is not None else pod_level
            if effective is True:
                return None
            return "may run as root; set runAsNonRoot: true in the pod or container securityContext."

        check_pod_containers(args, report_violation, unknowns, may_run_as_root, _container_label)


k8s_run_as_non_root = ResourceValidationPolicy(
    name="k8s-run-as-non-root",
    description="Every Kubernetes container runs with runAsNonRoot: true (set on the pod or the container, and "
                "not switched off by the container).",
    validate=k8s_run_as_non_root_validator,
    enforcement_level=EnforcementLevel.ADVISORY,
)

POLICIES = [
    alb_modern_tls,
    alb_http_redirects,
    public_ingress_web_ports,
    workload_ingress,
    no_plaintext_secrets,
    containers_not_privileged,
    k8s_run_as_non_root,
]
