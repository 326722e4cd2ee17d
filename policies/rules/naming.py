"""Autonaming: resources Pulumi may replace must not carry a fixed physical name.

With a fixed name the replacement can't exist next to the original, so Pulumi deletes first
(ResourceInUse or downtime). After the provider's Check, autonamed values do appear in the inputs
the analyzer sees; they are recognised by the provider's own markers: the Terraform bridge lists
defaulted inputs in `__defaults`, and pulumi-kubernetes annotates `pulumi.com/autonamed: "true"`.
"""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from ._common import (
    ALB_LOAD_BALANCER,
    ALB_TARGET_GROUP,
    ECS_SERVICE,
    K8S_DEPLOYMENT,
    PreviewUnknowns,
    dig,
    is_list,
    is_map,
)

AWS_NAMED_KINDS = {
    ALB_TARGET_GROUP: "Target group",
    ALB_LOAD_BALANCER: "Load balancer",
    ECS_SERVICE: "ECS service",
}
BRIDGE_DEFAULTS_KEY = "__defaults"
K8S_AUTONAMED_ANNOTATION = "pulumi.com/autonamed"


def autonamed_replaceable_resources_validator(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    unknowns = PreviewUnknowns()
    if args.resource_type in AWS_NAMED_KINDS:
        with unknowns.guard():
            if args.props.get("name") is None:
                return
            defaults = args.props.get(BRIDGE_DEFAULTS_KEY)
            if is_list(defaults) and "name" in list(defaults):
                return  # the provider autonamed it
            report_violation(
                f"{AWS_NAMED_KINDS[args.resource_type]} '{args.name}' sets a fixed `name`; a replacement would "
                "have to delete it first. Drop `name` (or use `namePrefix`) and let Pulumi autoname it.", None)
    elif args.resource_type == K8S_DEPLOYMENT:
        with unknowns.guard():
            metadata = dig(args.props, "metadata")
            if not is_map(metadata) or metadata.get("name") is None:
                return
            if dig(metadata, "annotations", K8S_AUTONAMED_ANNOTATION) == "true":
                return
            report_violation(
                f"Deployment '{args.name}' sets a fixed metadata.name; a replacement would have to delete it "
                "first. Omit metadata.name and let Pulumi autoname it.", None)
    unknowns.reraise()


autonamed_replaceable_resources = ResourceValidationPolicy(
    name="autonamed-replaceable-resources",
    description="Target groups, load balancers, ECS services and Kubernetes Deployments are autonamed (no fixed "
                "`name` / metadata.name; `namePrefix` is fine), so Pulumi can create a replacement before "
                "deleting the original.",
    validate=autonamed_replaceable_resources_validator,
    enforcement_level=EnforcementLevel.ADVISORY,
)

POLICIES = [autonamed_replaceable_resources]
