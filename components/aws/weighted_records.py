"""Route53 weighted records: one per color, each pointing at that color's own load balancer."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.applied import field_of
from components.rollout.model import Weights


@dataclass(frozen=True)
class WeightedRecordsArgs:
    zone_id: str
    """Hosted zone of the records."""
    record_name: str
    """Fully qualified name, e.g. web.example.com."""
    targets: dict[str, pulumi.Input[str]]
    """Color -> DNS name of that color's load balancer."""
    weights: Weights
    """Percent per color; Route53 reads 0..255, and all-zero would mean an equal split, so weights sum to 100."""
    ttl: int = 60
    """CNAME TTL: low, so resolvers pick up a new weight within a minute (alias records carry no TTL)."""
    decision: pulumi.Input[dict[str, str]] = field(default_factory=dict)
    """Decision record, kept on an SSM parameter because records have no tags."""
    decision_parameter: str | None = None
    """Fixed name of that parameter (a run finds it without outputs); None autonames it."""
    update_first: str | None = None
    """The color whose share rises: its record is written first, the other one after it."""


class WeightedRecords(pulumi.ComponentResource):
    """Two weighted CNAMEs with set identifiers `blue` and `green`; a step is an UPSERT of their weights."""

    fqdn: pulumi.Output[str]
    """The record name clients resolve."""
    applied_weights: pulumi.Output[dict]
    """Weights read back from the applied records: {"blue": int, "green": int}."""
    decision_parameter: pulumi.Output[str]
    """Name of the SSM parameter holding the decision record."""

    def __init__(self, name: str, args: WeightedRecordsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("cutover:aws:WeightedRecords", name, None, opts)
        # The decision record's carrier, written BEFORE the records: two records and a parameter can never
        # change in one call, so the record is an intent. A failure after it leaves the live weights at the
        # previous state (which the stack output still describes) or half way; the next run tells which by
        # comparing the weights it reads with both (components/rollout/trust.py). Written after the records,
        # a failed parameter write would leave a record that lags weights already applied, and the next run
        # would move traffic back to where the lagging record says. A fixed name lets the next run read it
        # even when the stack outputs are lost; it is never replaced (only its value and tags change).
        decision = aws.ssm.Parameter(
            f"{name}-decision",
            name=args.decision_parameter,
            type="String",
            value=pulumi.Output.from_input(args.decision).apply(lambda record: json.dumps(record, sort_keys=True)),
            tags=args.decision,
            # The component's depends_on (ready colors, an expand migration) is passed on: a child does not inherit
            # it, and both records are written after this parameter.
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(opts.depends_on or []) if opts else []),
        )
        records: dict[str, aws.route53.Record] = {}
        # Two records cannot change in one call either. Writing the gaining color's record first keeps every
        # partial state between the old and the new shares: a failure before the second write leaves the
        # gaining color with less than its new share, never more (weights are relative: 100:10 is 91/9).
        order = sorted(args.targets, key=lambda c: c != args.update_first)
        for color in order:
            earlier = [records[c] for c in order[:order.index(color)]] if args.update_first else []
            records[color] = aws.route53.Record(
                f"{name}-{color}",
                zone_id=args.zone_id,
                name=args.record_name,
                type="CNAME",
                ttl=args.ttl,
                records=[args.targets[color]],
                set_identifier=color,
                weighted_routing_policies=[aws.route53.RecordWeightedRoutingPolicyArgs(weight=args.weights.of_name(color))],
                opts=pulumi.ResourceOptions(parent=self, depends_on=[decision, *earlier]),
            )
        self.fqdn = pulumi.Output.from_input(args.record_name)
        self.applied_weights = pulumi.Output.all(*[records[c].weighted_routing_policies for c in sorted(records)]).apply(
            lambda policies: {c: int(field_of(p[0], "weight") if p else 0) for c, p in zip(sorted(records), policies)}
        )
        self.decision_parameter = decision.name
        self.register_outputs({"fqdn": self.fqdn, "applied_weights": self.applied_weights, "decision_parameter": self.decision_parameter})
