"""The cloud as it stands between runs: every resource as last applied, and what users are served.

The mock engine echoes inputs as outputs, so comparing "planned" with "applied" inside one run
cannot fail. This module keeps what a real account or cluster keeps *across* runs, with the
engine's semantics for a failed `pulumi up` (pulumi/pulumi#15754): what resolved is kept, the
failed resource keeps its previous state, resources that depend on it are not touched, and
nothing is deleted. Provider reads (data-source invokes and resource `get`s) are answered from it,
as the provider would answer them from the cloud.

`serving(service)` is the user's view — which version serves which share, with how much
capacity — read from the applied router and workloads independently of the program's code.
Tests assert on it; faults (a circuit breaker that rolled a color back, a hand edit of the
router) are planted on it between runs.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping

LISTENER_RULE = "aws:lb/listenerRule:ListenerRule"
LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer"
LISTENER = "aws:lb/listener:Listener"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
ECS_SERVICE = "aws:ecs/service:Service"
SCALABLE_TARGET = "aws:appautoscaling/target:Target"
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
ROUTE53_RECORD = "aws:route53/record:Record"
SSM_PARAMETER = "aws:ssm/parameter:Parameter"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
K8S_SERVICE = "kubernetes:core/v1:Service"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
HTTPROUTE = "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute"
JOB = "kubernetes:batch/v1:Job"
CANARY_ANNOTATION = "nginx.ingress.kubernetes.io/canary"
CANARY_WEIGHT_ANNOTATION = "nginx.ingress.kubernetes.io/canary-weight"
MIRROR_COLOR = "mirror"
"""`cutover:color` of a mirroring proxy's target group (components/aws/mirror_proxy_config.py)."""


class NotFound(Exception):
    """What a provider read answers for an object that does not exist (the message says NotFound)."""


@dataclass(frozen=True)
class Applied:
    """One resource as the cloud holds it."""

    type: str
    name: str
    inputs: Mapping[str, Any]
    outputs: Mapping[str, Any]
    ignore_changes: frozenset[str] = frozenset()
    """Properties registered with `ignore_changes`: once created, the engine never sends their changes."""

    @property
    def key(self) -> str:
        return f"{self.type}::{self.name}"


@dataclass(frozen=True)
class Share:
    """What one color gives users right now."""

    weight: int
    """Percent of production traffic the router sends it."""
    version: str | None
    """Image tag its workload runs (None: no workload)."""
    capacity: int
    """Tasks / pods it runs."""
    environment: Mapping[str, str] = field(default_factory=dict)
    """Plain environment variables its task definition / pod template runs with."""


@dataclass
class LiveWorld:
    """Applied resources by key (`type::name`), plus what ECS keeps on its own (task definition revisions)."""

    region: str = "us-east-1"
    resources: dict[str, Applied] = field(default_factory=dict)
    task_definitions: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    """Every task definition revision ever registered, by ARN (ECS keeps them; a rollback returns to one)."""
    revisions: dict[str, int] = field(default_factory=dict)
    """Task definition family -> latest revision number."""
    migration_exit_codes: dict[str, int] = field(default_factory=dict)
    """Planted outcomes of one-off migration tasks: resource name (`web-expand-2`) -> the exit code its task
    stops with (default 0)."""
    migration_runs: list[str] = field(default_factory=list)
    """Resource names of the migration tasks that ran, in order (one entry per ECS RunTask)."""
    job_outcomes: dict[str, str] = field(default_factory=dict)
    """Planted outcomes of Kubernetes migration Jobs: `<service>-<phase>-<version>` (`api-expand-1.28`) -> `failed`
    or `running` (not finished by the next run; see `finish_job`). Default: the Job succeeds before the next run."""
    job_runs: list[str] = field(default_factory=list)
    """`<service>-<phase>-<version>` of every migration Job that ran, in order (one entry per Job created)."""

    def migration_outcome(self, key: str, name: str, inputs: Mapping[str, Any], preview: bool) -> dict[str, Any]:
        """What a MigrationRun's dynamic provider leaves as outputs: a finished run keeps its outcome (its `diff`
        never re-runs a success, nor a failure of the same attempt); a new one runs its task — except in a
        preview, where the engine does not call the provider and the outcome is unknown."""
        outcome_keys = ("status", "exitCode", "taskArn", "reason")
        old = self.resources.get(key)
        if old is not None and (old.outputs.get("status") == "succeeded" or old.outputs.get("attempt") == inputs.get("attempt")):
            return {**inputs, **{k: old.outputs.get(k) for k in outcome_keys}}
        if preview:
            return {k: v for k, v in inputs.items() if k not in outcome_keys}
        code = self.migration_exit_codes.get(name, 0)
        self.migration_runs.append(name)
        arn = f"arn:aws:ecs:{self.region}:123456789012:task/cutover/{name}-{len(self.migration_runs)}"
        return {**inputs, "status": "succeeded" if code == 0 else "failed", "exitCode": code, "taskArn": arn,
                "reason": "" if code == 0 else f"exit code {code}; Essential container in task exited"}

    # --- what the engine does at the end of a run -------------------------------------------

    def commit(self, applied: Iterable[Applied], *, completed: bool) -> None:
        """Keep what a run applied. A completed run also deletes what the program no longer declares;
        a failed run deletes nothing (the engine stops before its deletes).

        Like the engine without `--refresh`, an update sends only the inputs that differ from the last
        applied ones: a field changed outside Pulumi (a rollback, a hand edit) stays as the cloud has it
        unless this run changes that very field.
        """
        applied = list(applied)
        keys = {a.key for a in applied}
        if completed:
            self.resources = {k: v for k, v in self.resources.items() if k in keys}
        for resource in applied:
            previous = self.resources.get(resource.key)
            outputs = self._updated(previous, resource)
            if outputs is None:
                continue
            if resource.type == ECS_SERVICE:
                outputs = self._deploy(previous, outputs)
            elif resource.type == JOB and (previous is None or _template(previous.inputs) != _template(resource.inputs)):
                # Created, or replaced (a Job's pod template is immutable: pulumi-kubernetes replaces it): it runs.
                outputs = self._run_job(outputs)
            elif resource.type == DEPLOYMENT:
                outputs["status"] = _rolled_out(outputs)
            inputs = dict(resource.inputs)
            if previous is not None:  # the state keeps the old value of an ignored input, as the engine does
                inputs.update({k: previous.inputs[k] for k in resource.ignore_changes if k in previous.inputs})
            self.resources[resource.key] = Applied(resource.type, resource.name, inputs, outputs, resource.ignore_changes)
        self._autoscale()
        self._hold_deployments_at_their_autoscaler()
        self._gateway_accepts_routes()

    def _run_job(self, outputs: dict[str, Any]) -> dict[str, Any]:
        """A Job created in this run runs (the run itself did not wait: `pulumi.com/skipAwait`); by the next run it
        has finished as planted in `job_outcomes`, with the status the Job controller writes."""
        label = _job_label(outputs)
        self.job_runs.append(label)
        return {**outputs, "status": _job_status(self.job_outcomes.get(label, "succeeded"))}

    def finish_job(self, label: str, outcome: str = "succeeded") -> None:
        """A Job planted as `running` finishes now (`succeeded` or `failed`)."""
        job = next(j for j in reversed(self.of_type(JOB)) if _job_label(j.outputs) == label)
        self.edit(job.key, status=_job_status(outcome))

    def _hold_deployments_at_their_autoscaler(self) -> None:
        """What the API server and kube-controller-manager do: a Deployment applied without `spec.replicas` gets
        a count anyway (the API server's default, 1), and the HPA that targets it holds it at the HPA's
        minReplicas (no load here); the Deployment then rolls out that many pods."""
        floors = {hpa.outputs["spec"]["scaleTargetRef"]["name"]: int(hpa.outputs["spec"]["minReplicas"])
                  for hpa in self.of_type(HPA)}
        for deployment in self.of_type(DEPLOYMENT):
            spec = dict(deployment.outputs.get("spec") or {})
            if spec.get("replicas") is not None:
                continue
            count = floors.get(deployment.outputs["metadata"]["name"], 1)
            self.edit(deployment.key, spec={**spec, "replicas": count}, status=_rolled_out({"spec": {"replicas": count}}))

    def _gateway_accepts_routes(self) -> None:
        """The Gateway controller accepts every route it is handed (a refusal is planted with `edit`)."""
        for route in self.of_type(HTTPROUTE):
            if (route.outputs.get("status") or {}).get("parents") is not None:
                continue
            parents = [{"parentRef": ref, "controllerName": "rehearsal/gateway", "conditions": [
                {"type": kind, "status": "True", "reason": kind} for kind in ("Accepted", "ResolvedRefs")]}
                for ref in (route.outputs.get("spec") or {}).get("parentRefs") or []]
            self.edit(route.key, status={"parents": parents})

    def _autoscale(self) -> None:
        """Application Auto Scaling keeps each ECS service it targets within the target's bounds: raising the
        minimum scales out to it, lowering the maximum scales in (RegisterScalableTarget)."""
        for target in self.of_type(SCALABLE_TARGET):
            _, cluster, name = str(target.outputs.get("resourceId", "//")).split("/", 2)
            service = self.find(ECS_SERVICE, name=name)
            if service is None:
                continue
            low, high = int(target.outputs.get("minCapacity") or 0), int(target.outputs.get("maxCapacity") or 0)
            desired = int(service.outputs.get("desiredCount") or 0)
            if not low <= desired <= high:
                self.scale(service.name, min(max(desired, low), high))

    def scale(self, ecs_service_name: str, desired: int) -> None:
        """The service's task count changed outside Pulumi (an autoscaler, `aws ecs update-service`)."""
        key = f"{ECS_SERVICE}::{ecs_service_name}"
        service = self.resources[key]
        deployments = [{**d, "desiredCount": desired, "runningCount": desired} for d in service.outputs.get("deployments") or []]
        self.resources[key] = replace(service, outputs={**service.outputs, "desiredCount": desired, "runningCount": desired,
                                                         "deployments": deployments})

    @staticmethod
    def _updated(previous: Applied | None, resource: Applied) -> dict[str, Any] | None:
        """The outputs after this update; None when the engine sends nothing (inputs unchanged)."""
        if previous is None or resource.type == TASK_DEFINITION:
            return dict(resource.outputs)
        changed = {k for k in set(resource.inputs) | set(previous.inputs)
                   if resource.inputs.get(k) != previous.inputs.get(k)} - resource.ignore_changes
        if not changed:
            return None
        outputs = dict(previous.outputs)
        for key in changed:
            if key in resource.outputs:
                outputs[key] = resource.outputs[key]
            else:
                outputs.pop(key, None)
        return outputs

    def task_definition_arn(self, family: str, container_definitions: Any) -> str:
        """ARN of the revision with these containers: the same one when unchanged, a new one otherwise."""
        for arn, containers in self.task_definitions.items():
            if arn.rsplit("/", 1)[1].rsplit(":", 1)[0] == family and containers == container_definitions:
                latest = self.revisions.get(family)
                if latest is not None and arn.endswith(f":{latest}"):
                    return arn
        revision = self.revisions.get(family, 0) + 1
        self.revisions[family] = revision
        arn = f"arn:aws:ecs:{self.region}:123456789012:task-definition/{family}:{revision}"
        self.task_definitions[arn] = container_definitions
        return arn

    @staticmethod
    def _deploy(previous: Applied | None, outputs: dict[str, Any]) -> dict[str, Any]:
        """An ECS update that reached steady state: one PRIMARY deployment of the new task definition."""
        desired = int(outputs.get("desiredCount") or 0)
        history = list((previous.outputs.get("history") if previous else None) or [])
        if not history or history[-1] != outputs.get("taskDefinition"):
            history.append(outputs.get("taskDefinition"))
        outputs["history"] = history
        outputs["runningCount"] = desired
        outputs["deployments"] = [
            {"status": "PRIMARY", "taskDefinition": outputs.get("taskDefinition"), "desiredCount": desired,
             "runningCount": desired, "pendingCount": 0, "rolloutState": "COMPLETED"}
        ]
        return outputs

    # --- faults planted between runs ------------------------------------------------------------

    def roll_back(self, ecs_service_name: str) -> None:
        """The ECS deployment circuit breaker returned this service to its previous task definition
        and still reported steady state (terraform-provider-aws #19519, #20858)."""
        key = f"{ECS_SERVICE}::{ecs_service_name}"
        service = self.resources[key]
        history = list(service.outputs.get("history") or [])
        if len(history) < 2:
            raise ValueError(f"{ecs_service_name} has no earlier task definition to roll back to")
        previous_td = history[-2]
        outputs = {**service.outputs, "taskDefinition": previous_td, "history": history[:-1]}
        desired = int(outputs.get("desiredCount") or 0)
        outputs["deployments"] = [
            {"status": "PRIMARY", "taskDefinition": previous_td, "desiredCount": desired, "runningCount": desired,
             "pendingCount": 0, "rolloutState": "COMPLETED"}
        ]
        self.resources[key] = replace(service, outputs=outputs)

    def edit(self, key: str, **outputs: Any) -> None:
        """A change made outside Pulumi (console, kubectl): the cloud holds it, Pulumi's state does not."""
        resource = self.resources[key]
        self.resources[key] = replace(resource, outputs={**resource.outputs, **outputs})

    # --- provider reads -------------------------------------------------------------------------

    def invoke(self, token: str, args: Mapping[str, Any]) -> dict[str, Any]:
        """A data-source invoke, answered as the provider would from the cloud; raises NotFound."""
        handler = _INVOKES.get(token)
        if handler is None:
            raise KeyError(token)
        return handler(self, args)

    def read(self, type_token: str, resource_id: str) -> Mapping[str, Any]:
        """A resource `get` by provider id (Kubernetes: "namespace/name"); raises NotFound."""
        for resource in self.resources.values():
            if resource.type == type_token and _provider_id(resource) == resource_id:
                return resource.outputs
        raise NotFound(f"{type_token} {resource_id!r} NotFound")

    def of_type(self, type_token: str) -> list[Applied]:
        return [r for r in self.resources.values() if r.type == type_token]

    def find(self, type_token: str, **outputs: Any) -> Applied | None:
        for resource in self.of_type(type_token):
            if all(resource.outputs.get(k) == v for k, v in outputs.items()):
                return resource
        return None

    # --- what users get -------------------------------------------------------------------------

    def serving(self, service: str) -> dict[str, Share]:
        """Color -> what it serves now, read from the applied router and workloads."""
        rule = self.resources.get(f"{LISTENER_RULE}::{service}-route-rule")
        if rule is not None:
            return self._aws_shares(service, _rule_weights(rule, self))
        records = [r for r in self.of_type(ROUTE53_RECORD) if r.name.startswith(f"{service}-dns-")]
        if records:
            weights = {r.outputs["setIdentifier"]: int(r.outputs["weightedRoutingPolicies"][0]["weight"]) for r in records}
            return self._aws_shares(service, weights)
        return self._kubernetes_shares(service)

    def _aws_shares(self, service: str, weights: Mapping[str, int]) -> dict[str, Share]:
        total = sum(weights.values())
        if total != 100:
            # Route53 weights are relative (100:10 is 91/9), and all-zero splits evenly.
            weights = {c: round(100 * w / total) if total else 50 for c, w in weights.items()}
            if weights and sum(weights.values()) != 100:  # rounding: give the remainder to the larger share
                big = max(weights, key=weights.get)
                weights[big] += 100 - sum(weights.values())
        shares = {}
        for color in ("blue", "green"):
            ecs = self.resources.get(f"{ECS_SERVICE}::{service}-{color}-svc")
            version, capacity, environment = None, 0, {}
            if ecs is not None:
                capacity = int(ecs.outputs.get("desiredCount") or 0)
                containers = self.task_definitions.get(ecs.outputs.get("taskDefinition"))
                container = json.loads(containers)[0] if containers else {}
                version = _tag(container["image"]) if container else None
                environment = {e["name"]: e["value"] for e in container.get("environment") or []}
            shares[color] = Share(int(weights.get(color, 0)), version, capacity, environment)
        mirrored = int(weights.get(MIRROR_COLOR, 0))
        if mirrored:
            color, proxy_tasks = self._mirror_proxy(service)
            # Users get what the color behind the proxy serves, and nothing when the proxy has no tasks.
            if color in shares:
                share = shares[color]
                shares[color] = Share(share.weight + mirrored, share.version, share.capacity if proxy_tasks else 0, share.environment)
        return shares

    def _mirror_proxy(self, service: str) -> tuple[str | None, int]:
        """(the color the mirroring proxy answers from, its tasks), read from its applied ECS service and task
        definition (the container's CUTOVER_STABLE_COLOR) and the per-color rule that color's requests take."""
        ecs = self.resources.get(f"{ECS_SERVICE}::{service}-mirror-svc")
        containers = self.task_definitions.get(ecs.outputs.get("taskDefinition")) if ecs is not None else None
        if not containers:
            return None, 0
        environment = {e["name"]: e["value"] for e in json.loads(containers)[0].get("environment") or []}
        color = environment.get("CUTOVER_STABLE_COLOR")
        if self.resources.get(f"{LISTENER_RULE}::{service}-mirror-via-{color}") is None:
            return None, 0  # the proxy's requests would come back to the proxy: nothing is served
        return color, int(ecs.outputs.get("desiredCount") or 0)

    def _kubernetes_shares(self, service: str) -> dict[str, Share]:
        weights = _kubernetes_weights(self, service)
        shares = {}
        for color in ("blue", "green"):
            deployment = next((d for d in self.of_type(DEPLOYMENT)
                               if (d.outputs.get("metadata") or {}).get("labels", {}).get("app") == service
                               and d.outputs["metadata"]["labels"].get("color") == color), None)
            version, capacity, environment = None, 0, {}
            if deployment is not None:
                spec = deployment.outputs["spec"]
                capacity = int(spec.get("replicas") or 0)
                container = spec["template"]["spec"]["containers"][0]
                version = _tag(container["image"])
                environment = {e["name"]: e["value"] for e in container.get("env") or [] if "value" in e}
            shares[color] = Share(int(weights.get(color, 0)), version, capacity, environment)
        return shares


def _tag(image: str) -> str:
    return image.rsplit(":", 1)[1]


def _provider_id(resource: Applied) -> str:
    if resource.type.startswith("kubernetes:"):
        metadata = resource.outputs.get("metadata") or {}
        return f"{metadata.get('namespace')}/{metadata.get('name')}"
    return str(resource.outputs.get("id") or resource.outputs.get("arn"))


def _template(inputs: Mapping[str, Any]) -> Any:
    return (inputs.get("spec") or {}).get("template")


def _job_label(outputs: Mapping[str, Any]) -> str:
    labels = (outputs.get("metadata") or {}).get("labels") or {}
    return f"{labels.get('app')}-{labels.get('cutover.dev/migration')}-{labels.get('version')}"


def _job_status(outcome: str) -> dict[str, Any]:
    """A batch/v1 Job's status as the Job controller leaves it (backoffLimit 0: one pod)."""
    started = {"startTime": "2025-03-01T09:00:00Z"}
    if outcome == "running":
        return {**started, "active": 1}
    if outcome == "failed":
        return {**started, "failed": 1, "conditions": [
            {"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"},
            {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]}
    return {**started, "succeeded": 1, "completionTime": "2025-03-01T09:01:00Z", "conditions": [
        {"type": "SuccessCriteriaMet", "status": "True"}, {"type": "Complete", "status": "True"}]}


def _rolled_out(outputs: Mapping[str, Any]) -> dict[str, Any]:
    replicas = int((outputs.get("spec") or {}).get("replicas") or 0)
    return {"observedGeneration": 1, "replicas": replicas, "updatedReplicas": replicas,
            "readyReplicas": replicas, "availableReplicas": replicas}


def _rule_weights(rule: Applied, world: LiveWorld) -> dict[str, int]:
    color_of = {tg.outputs.get("arn"): (tg.outputs.get("tags") or {}).get("cutover:color") for tg in world.of_type(TARGET_GROUP)}
    weights: dict[str, int] = {}
    for action in rule.outputs.get("actions") or []:
        for group in (action.get("forward") or {}).get("targetGroups") or []:
            color = color_of.get(group["arn"])
            if color:
                weights[color] = int(group.get("weight") or 0)
    return weights


def _kubernetes_weights(world: LiveWorld, service: str) -> dict[str, int]:
    """Gateway: backendRef weights by the color their Service selects; nginx: stable and candidate
    Services plus canary-weight; service router: the stable Service's selector takes 100 %."""
    services = {(r.outputs.get("metadata") or {}).get("name"): r for r in world.of_type(K8S_SERVICE)}

    def color_of(service_name: str) -> str | None:
        found = services.get(service_name)
        return ((found.outputs.get("spec") or {}).get("selector") or {}).get("color") if found else None

    for route in world.of_type(HTTPROUTE):
        if (route.outputs.get("metadata") or {}).get("labels", {}).get("app") == service:
            weights: dict[str, int] = {}
            for ref in route.outputs["spec"]["rules"][0]["backendRefs"]:
                color = color_of(ref["name"])
                if color:
                    weights[color] = weights.get(color, 0) + int(ref.get("weight", 1))
            return weights
    ingresses = [i for i in world.of_type(INGRESS) if (i.outputs.get("metadata") or {}).get("labels", {}).get("app") == service]
    if ingresses:
        weights = {}
        canary_weight = 0
        for ingress in ingresses:
            annotations = (ingress.outputs.get("metadata") or {}).get("annotations") or {}
            backend = ingress.outputs["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"]
            if annotations.get(CANARY_ANNOTATION) == "true":
                canary_weight = int(annotations.get(CANARY_WEIGHT_ANNOTATION, "0"))
                canary_color = color_of(backend)
            else:
                main_color = color_of(backend)
        weights[main_color] = 100 - canary_weight
        if canary_weight:
            weights[canary_color] = weights.get(canary_color, 0) + canary_weight
        return weights
    for svc in services.values():
        labels = (svc.outputs.get("metadata") or {}).get("labels") or {}
        if labels.get("app") == service and labels.get("cutover.dev/role") == "stable":
            return {color_of(svc.outputs["metadata"]["name"]): 100}
    return {}


# --- invokes, in the shapes the pulumi-aws data sources return (camelCase, nested blocks as lists) ---

def _get_listener_rule(world: LiveWorld, args: Mapping[str, Any]) -> dict[str, Any]:
    rule = None
    if args.get("arn"):
        rule = world.find(LISTENER_RULE, arn=args["arn"])
    elif args.get("listenerArn"):
        rule = next((r for r in world.of_type(LISTENER_RULE) if r.outputs.get("listenerArn") == args["listenerArn"]
                     and int(r.outputs.get("priority") or 0) == int(args.get("priority") or -1)), None)
    if rule is None:
        raise NotFound(f"RuleNotFound: listener rule {args.get('arn') or args.get('priority')} not found")
    actions = []
    for order, action in enumerate(rule.outputs.get("actions") or [], start=1):
        forward = action.get("forward")
        entry: dict[str, Any] = {"order": order, "type": action.get("type", "forward")}
        if forward:
            entry["forwards"] = [{"targetGroups": [{"arn": g["arn"], "weight": int(g.get("weight") or 0)} for g in forward["targetGroups"]],
                                  "stickinesses": [forward.get("stickiness") or {"enabled": False, "duration": 1}]}]
        actions.append(entry)
    return {"arn": rule.outputs["arn"], "listenerArn": rule.outputs.get("listenerArn"), "priority": rule.outputs.get("priority"),
            "actions": actions, "conditions": [], "tags": dict(rule.outputs.get("tags") or {})}


def _get_load_balancer(world: LiveWorld, args: Mapping[str, Any]) -> dict[str, Any]:
    wanted = args.get("tags") or {}
    matches = [lb for lb in world.of_type(LOAD_BALANCER) if all((lb.outputs.get("tags") or {}).get(k) == v for k, v in wanted.items())]
    if args.get("arn"):
        matches = [lb for lb in matches if lb.outputs.get("arn") == args["arn"]]
    if len(matches) != 1:
        raise NotFound(f"LoadBalancerNotFound: {len(matches)} load balancers match {dict(wanted)}")
    lb = matches[0].outputs
    return {"arn": lb["arn"], "dnsName": lb.get("dnsName"), "zoneId": lb.get("zoneId"), "tags": dict(lb.get("tags") or {})}


def _get_listener(world: LiveWorld, args: Mapping[str, Any]) -> dict[str, Any]:
    listener = next((l for l in world.of_type(LISTENER) if l.outputs.get("loadBalancerArn") == args.get("loadBalancerArn")
                     and int(l.outputs.get("port") or 0) == int(args.get("port") or -1)), None)
    if listener is None:
        raise NotFound(f"ListenerNotFound: no listener on port {args.get('port')}")
    return {"arn": listener.outputs["arn"], "loadBalancerArn": listener.outputs["loadBalancerArn"], "port": listener.outputs["port"]}


def _get_target_group(world: LiveWorld, args: Mapping[str, Any]) -> dict[str, Any]:
    group = world.find(TARGET_GROUP, arn=args.get("arn"))
    if group is None:
        raise NotFound(f"TargetGroupNotFound: {args.get('arn')}")
    return {"arn": group.outputs["arn"], "name": group.outputs.get("name"), "port": group.outputs.get("port"),
            "tags": dict(group.outputs.get("tags") or {})}


def _get_service(world: LiveWorld, args: Mapping[str, Any]) -> dict[str, Any]:
    service = next((s for s in world.of_type(ECS_SERVICE) if s.outputs.get("name") == args.get("serviceName")
                    and s.outputs.get("cluster") == args.get("clusterArn")), None)
    if service is None:
        raise NotFound(f"ServiceNotFoundException: {args.get('serviceName')} not found")
    out = service.outputs
    return {"arn": out.get("id"), "serviceName": out.get("name"), "clusterArn": out.get("cluster"),
            "desiredCount": int(out.get("desiredCount") or 0), "runningCount": int(out.get("runningCount") or 0),
            "taskDefinition": out.get("taskDefinition"), "launchType": out.get("launchType"),
            "schedulingStrategy": "REPLICA", "deployments": copy.deepcopy(list(out.get("deployments") or [])),
            "tags": dict(out.get("tags") or {})}


def _get_container_definition(world: LiveWorld, args: Mapping[str, Any]) -> dict[str, Any]:
    containers = world.task_definitions.get(args.get("taskDefinition"))
    if containers is None:
        raise NotFound(f"ClientException: task definition {args.get('taskDefinition')} not found")
    container = next((c for c in json.loads(containers) if c["name"] == args.get("containerName")), None)
    if container is None:
        raise NotFound(f"container {args.get('containerName')} not found")
    return {"containerName": container["name"], "image": container["image"], "taskDefinition": args["taskDefinition"]}


def _get_parameter(world: LiveWorld, args: Mapping[str, Any]) -> dict[str, Any]:
    parameter = world.find(SSM_PARAMETER, name=args.get("name"))
    if parameter is None:
        raise NotFound(f"ParameterNotFound: {args.get('name')}")
    return {"arn": parameter.outputs.get("arn"), "name": parameter.outputs["name"], "type": parameter.outputs.get("type"),
            "value": parameter.outputs.get("value"), "insecureValue": parameter.outputs.get("value"), "version": 1}


def _get_records(world: LiveWorld, args: Mapping[str, Any]) -> dict[str, Any]:
    pattern = re.compile(args.get("nameRegex") or ".*")
    sets = []
    for record in world.of_type(ROUTE53_RECORD):
        out = record.outputs
        if out.get("zoneId") != args.get("zoneId") or not pattern.fullmatch(str(out.get("name", "")).rstrip(".") + "."):
            continue
        policies = out.get("weightedRoutingPolicies") or []
        sets.append({"name": str(out["name"]).rstrip(".") + ".", "type": out.get("type"), "ttl": out.get("ttl"),
                     "setIdentifier": out.get("setIdentifier"), "weight": int(policies[0]["weight"]) if policies else None,
                     "resourceRecords": [{"value": v} for v in out.get("records") or []]})
    return {"zoneId": args.get("zoneId"), "nameRegex": args.get("nameRegex"), "resourceRecordSets": sets}


def _availability_zones(world: LiveWorld, args: Mapping[str, Any]) -> dict[str, Any]:
    return {"names": [f"{world.region}a", f"{world.region}b", f"{world.region}c"], "zoneIds": ["use1-az1", "use1-az2", "use1-az3"]}


_INVOKES = {
    "aws:index/getAvailabilityZones:getAvailabilityZones": _availability_zones,
    "aws:lb/getListenerRule:getListenerRule": _get_listener_rule,
    "aws:lb/getLoadBalancer:getLoadBalancer": _get_load_balancer,
    "aws:lb/getListener:getListener": _get_listener,
    "aws:lb/getTargetGroup:getTargetGroup": _get_target_group,
    "aws:ecs/getService:getService": _get_service,
    "aws:ecs/getContainerDefinition:getContainerDefinition": _get_container_definition,
    "aws:ssm/getParameter:getParameter": _get_parameter,
    "aws:route53/getRecords:getRecords": _get_records,
}
