"""A service's listener rule: the one resource that carries its production weights on a shared ALB."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.applied import field_of
from components.rollout.model import Weights


@dataclass(frozen=True)
class WeightedListenerRuleArgs:
    listener_arn: pulumi.Input[str]
    """Production listener of the shared ALB."""
    priority: int
    """Rule priority; stable per service so adding a service touches no other rule."""
    target_group_arns: dict[str, pulumi.Input[str]]
    """Color -> target group ARN; both stay in the forward action (weight 0 keeps them attached)."""
    weights: Weights
    """Percent per color this run applies."""
    host: str | None = None
    """Match requests by host header ..."""
    path_prefix: str | None = None
    """... or by path prefix."""
    decision: pulumi.Input[dict[str, str]] = field(default_factory=dict)
    """Decision record (tags): the rollout's state, read back by the next run, by policies and by people."""
    sticky_seconds: int | None = None
    """Group stickiness: a user stays on the target group (color) they were sent to for this long; None: each
    request is weighted on its own."""
    mirror_target_group_arn: pulumi.Input[str] | None = None
    """The mirroring proxy's target group (shadow services): always in the forward action, so it stays attached."""
    mirrored_color: str | None = None
    """While mirroring: the color whose share goes through the proxy instead of its own target group; None: none."""


class WeightedListenerRule(pulumi.ComponentResource):
    """Weights live on the rule, so a step is one ModifyRule call on this service alone."""

    rule_arn: pulumi.Output[str]
    """ARN of the listener rule."""
    applied_weights: pulumi.Output[dict]
    """Weights read back from the rule's applied forward action: {"blue": int, "green": int}."""

    def __init__(self, name: str, args: WeightedListenerRuleArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("cutover:aws:WeightedListenerRule", name, None, opts)
        colors = sorted(args.target_group_arns)
        groups = [(c, args.target_group_arns[c], 0 if c == args.mirrored_color else args.weights.of_name(c)) for c in colors]
        if args.mirror_target_group_arn is not None:
            groups.append((args.mirrored_color, args.mirror_target_group_arn,
                           args.weights.of_name(args.mirrored_color) if args.mirrored_color else 0))
        rule = aws.lb.ListenerRule(
            f"{name}-rule",
            listener_arn=args.listener_arn,
            priority=args.priority,
            conditions=[routing_condition(args.host, args.path_prefix)],
            actions=[
                aws.lb.ListenerRuleActionArgs(
                    type="forward",
                    forward=aws.lb.ListenerRuleActionForwardArgs(
                        target_groups=[aws.lb.ListenerRuleActionForwardTargetGroupArgs(arn=arn, weight=weight)
                                       for _, arn, weight in groups],
                        # Without stickySessions each request picks a color by weight; with it a user keeps the
                        # color (version) they started on, and the target groups' own stickiness holds them to a task.
                        stickiness=aws.lb.ListenerRuleActionForwardStickinessArgs(enabled=True, duration=args.sticky_seconds)
                        if args.sticky_seconds else aws.lb.ListenerRuleActionForwardStickinessArgs(enabled=False, duration=1),
                    ),
                )
            ],
            tags=args.decision,
            # What the component waits for (ready colors, an expand migration) the rule waits for: a child does
            # not inherit its parent's depends_on, so it is passed on explicitly.
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(opts.depends_on or []) if opts else []),
        )
        self.rule_arn = rule.arn
        # The proxy's share counts for the color it answers from (a mirrored stable keeps its 100 %). The applied
        # actions are read in a nested apply: `Output.all` would unwrap them value by value, one Output object each.
        self.applied_weights = pulumi.Output.all(*[arn for _, arn, _ in groups]).apply(lambda arns: rule.actions.apply(
            lambda actions: _weights_by_color(actions, [(color, arn) for (color, _, _), arn in zip(groups, arns)], colors)))
        self.register_outputs({"rule_arn": self.rule_arn, "applied_weights": self.applied_weights})


def routing_condition(host: str | None, path_prefix: str | None) -> aws.lb.ListenerRuleConditionArgs:
    if host:
        return aws.lb.ListenerRuleConditionArgs(host_header=aws.lb.ListenerRuleConditionHostHeaderArgs(values=[host]))
    prefix = (path_prefix or "/").rstrip("/")
    return aws.lb.ListenerRuleConditionArgs(
        path_pattern=aws.lb.ListenerRuleConditionPathPatternArgs(values=[prefix or "/", f"{prefix}/*"])
    )


def _weights_by_color(actions, color_arns: list[tuple[str | None, str]], colors: list[str]) -> dict[str, int]:
    color_of = {arn: color for color, arn in color_arns if color is not None}
    weights = {color: 0 for color in colors}
    for action in actions or []:
        for group in field_of(field_of(action, "forward"), "target_groups", "targetGroups") or []:
            arn = field_of(group, "arn")
            if arn in color_of:
                weights[color_of[arn]] += int(field_of(group, "weight") or 0)
    return weights
