"""Who the gate's AWS reads run as: the identity the stack's `aws:*` config gives the provider.

The provider authenticates from the stack's config (`aws:region`, `aws:profile`,
`aws:assumeRoles`); boto3 knows nothing of it and reads the environment only. A
stack that reaches its account through a profile or an assumed role would deploy
fine and then get AccessDenied on every gate read. `gate_identity` turns those
settings into a `GateIdentity` (pure: no pulumi, no boto3); `build_session` makes
the boto3 session from it (the one place boto3 is imported, and only when called).

Shapes read (the provider's config keys, values as `pulumi.Config("aws").get_object` returns them):
- `aws:assumeRoles` (pulumi-aws 6 and 7): a list of objects `{roleArn, sessionName, externalId,
  duration ("1h", Go duration syntax), policy, policyArns, sourceIdentity, tags, transitiveTagKeys}`.
  The provider assumes them in order, each with the credentials of the one before (role chaining,
  hashicorp/terraform-provider-aws#39255); entries without a `roleArn` are skipped, as it does.
- `aws:assumeRole` (pulumi-aws 5 and older): one such object, `durationSeconds` (a number) accepted too.
When neither is set, and no profile, the session follows the default chain (environment,
shared files, container or instance role), as before. `AWS_ENDPOINT_URL` keeps applying to every
client, STS included.

Worked example:
    >>> gate_identity({"region": "eu-west-1", "profile": "ops",
    ...                "assumeRoles": [{"roleArn": "arn:aws:iam::111122223333:role/deployer", "duration": "1h"}]})
    ... # doctest: +NORMALIZE_WHITESPACE
    GateIdentity(region='eu-west-1', profile='ops',
                 roles=(RoleToAssume(role_arn='arn:aws:iam::111122223333:role/deployer', session_name='cutover-gate',
                                     external_id=None, duration_seconds=3600, policy=None, policy_arns=(),
                                     source_identity=None, tags=(), transitive_tag_keys=()),))
    >>> gate_identity({}).uses_default_chain
    True
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Sequence

if TYPE_CHECKING:  # boto3 only where a session is built
    import boto3
    from botocore.config import Config

DEFAULT_SESSION_NAME = "cutover-gate"
"""RoleSessionName when the config names none (STS requires one); shows in CloudTrail as who read."""

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_SECONDS_PER_UNIT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


class AwsSettingsError(ValueError):
    """An `aws:*` setting the gate cannot use; the message names the key, e.g. `aws:assumeRoles[0].duration`."""


@dataclass(frozen=True)
class RoleToAssume:
    """One entry of `aws:assumeRoles` (or the older `aws:assumeRole`): the parameters of one STS AssumeRole call."""

    role_arn: str
    """The role to assume, e.g. `arn:aws:iam::111122223333:role/deployer`."""
    session_name: str = DEFAULT_SESSION_NAME
    """RoleSessionName (`sessionName`)."""
    external_id: str | None = None
    """ExternalId (`externalId`), when the role's trust policy asks for one."""
    duration_seconds: int | None = None
    """DurationSeconds (`duration` "1h" or `durationSeconds` 3600); None leaves STS's default (1 h)."""
    policy: str | None = None
    """Session policy JSON (`policy`): it can only narrow the role's permissions."""
    policy_arns: tuple[str, ...] = ()
    """Managed session policies (`policyArns`)."""
    source_identity: str | None = None
    """SourceIdentity (`sourceIdentity`)."""
    tags: tuple[tuple[str, str], ...] = ()
    """Session tags (`tags`), as sorted (key, value) pairs."""
    transitive_tag_keys: tuple[str, ...] = ()
    """TransitiveTagKeys (`transitiveTagKeys`)."""

    def assume_role_args(self) -> dict[str, Any]:
        """The STS AssumeRole parameters, without the ones not set.

        >>> RoleToAssume("arn:aws:iam::111122223333:role/r", external_id="x", duration_seconds=900).assume_role_args()
        {'RoleArn': 'arn:aws:iam::111122223333:role/r', 'RoleSessionName': 'cutover-gate', 'ExternalId': 'x', 'DurationSeconds': 900}
        """
        args: dict[str, Any] = {"RoleArn": self.role_arn, "RoleSessionName": self.session_name}
        optional = {
            "ExternalId": self.external_id,
            "DurationSeconds": self.duration_seconds,
            "Policy": self.policy,
            "PolicyArns": [{"arn": arn} for arn in self.policy_arns] or None,
            "SourceIdentity": self.source_identity,
            "Tags": [{"Key": k, "Value": v} for k, v in self.tags] or None,
            "TransitiveTagKeys": list(self.transitive_tag_keys) or None,
        }
        args.update({key: value for key, value in optional.items() if value is not None})
        return args


@dataclass(frozen=True)
class GateIdentity:
    """Region, profile and the roles to assume in order; all empty = the default environment chain."""

    region: str | None = None
    """`aws:region`: the region of every client (STS included)."""
    profile: str | None = None
    """`aws:profile`: the shared-config profile the source credentials come from."""
    roles: tuple[RoleToAssume, ...] = ()
    """`aws:assumeRoles`, in order: each assumed with the credentials of the one before."""

    @property
    def uses_default_chain(self) -> bool:
        """True when neither a profile nor a role is set: credentials come from the environment chain."""
        return self.profile is None and not self.roles

    def describe(self) -> str:
        """The identity in words, for messages.

        >>> GateIdentity(profile="ops", roles=(RoleToAssume("arn:aws:iam::1:role/a"),)).describe()
        "profile 'ops', then role arn:aws:iam::1:role/a"
        >>> GateIdentity().describe()
        'the default AWS credential chain'
        """
        parts = [f"profile {self.profile!r}"] if self.profile else []
        parts += [f"role {role.role_arn}" for role in self.roles]
        return ", then ".join(parts) or "the default AWS credential chain"


def gate_identity(settings: Mapping[str, Any]) -> GateIdentity:
    """The gate's identity from the provider's settings: keys `region`, `profile`, `assumeRoles`,
    `assumeRole` (the `aws:` config keys without the namespace). Raises `AwsSettingsError`.

    >>> [r.role_arn for r in gate_identity({"assumeRole": {"roleArn": "arn:aws:iam::1:role/old"}}).roles]
    ['arn:aws:iam::1:role/old']
    >>> gate_identity({"assumeRoles": [{"roleArn": ""}, {"roleArn": "arn:aws:iam::1:role/b"}]}).roles[0].role_arn
    'arn:aws:iam::1:role/b'
    """
    region = _optional_text(settings.get("region"), "aws:region")
    profile = _optional_text(settings.get("profile"), "aws:profile")
    if settings.get("assumeRoles") is not None:
        entries, key = settings["assumeRoles"], "aws:assumeRoles"
        if not isinstance(entries, Sequence) or isinstance(entries, (str, bytes)):
            raise AwsSettingsError(f"{key}: expected a list of objects with roleArn, got {type(entries).__name__}")
        located = [(f"{key}[{i}]", entry) for i, entry in enumerate(entries)]
    elif settings.get("assumeRole") is not None:
        located = [("aws:assumeRole", settings["assumeRole"])]
    else:
        located = []
    roles = tuple(role for role in (_role(where, entry) for where, entry in located) if role is not None)
    return GateIdentity(region=region, profile=profile, roles=roles)


def parse_duration(text: str, key: str = "duration") -> int:
    """Seconds of a Go duration string, the provider's syntax for `duration`.

    >>> [parse_duration(t) for t in ("1h", "15m", "1h30m", "900s", "2700000ms")]
    [3600, 900, 5400, 900, 2700]
    """
    position, seconds = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != position:
            break
        seconds += float(match.group(1)) * _SECONDS_PER_UNIT[match.group(2)]
        position = match.end()
    if not text or position != len(text):
        raise AwsSettingsError(f"{key}: {text!r} is not a duration (e.g. \"1h\", \"15m\", \"1h30m\")")
    return int(seconds)


def build_session(identity: GateIdentity, *, client_config: "Config | None" = None) -> "boto3.Session":
    """A boto3 session that acts as `identity`.

    The source credentials come from the profile (or the default chain); each role is then
    assumed with the credentials of the one before. Role credentials are fetched lazily, on
    the first call that needs them, and refreshed before they expire (botocore's
    DeferredRefreshableCredentials): a refused AssumeRole therefore surfaces as that call's
    ClientError, which the reader records as a problem, never as a crash of the run.
    `client_config` (timeouts, retries) applies to the STS clients too, so an unreachable STS
    cannot stretch a gate read. Raises botocore's ProfileNotFound for a profile that does not exist.
    """
    import boto3

    session = boto3.Session(profile_name=identity.profile, region_name=identity.region)
    for role in identity.roles:
        session = _assumed(session, role, identity, client_config)
    return session


def _assumed(source: "boto3.Session", role: RoleToAssume, identity: GateIdentity, client_config: "Config | None") -> "boto3.Session":
    import boto3
    import botocore.session
    from botocore.credentials import CredentialProvider, CredentialResolver, DeferredRefreshableCredentials

    # Made now, on the caller's thread (sessions are not thread-safe, clients are).
    sts = source.client("sts", region_name=identity.region, config=client_config)

    def fetch() -> dict[str, str]:
        answer = sts.assume_role(**role.assume_role_args())["Credentials"]
        return {
            "access_key": answer["AccessKeyId"],
            "secret_key": answer["SecretAccessKey"],
            "token": answer["SessionToken"],
            "expiry_time": answer["Expiration"].isoformat(),
        }

    class AssumedRoleProvider(CredentialProvider):
        METHOD = "assume-role"

        def load(self) -> DeferredRefreshableCredentials:
            return DeferredRefreshableCredentials(refresh_using=fetch, method=self.METHOD)

    target = botocore.session.Session(profile=identity.profile)  # the profile's other settings (endpoint, retries) still apply
    # The only credential source of this session: the assumed role (never the environment's keys).
    target.register_component("credential_provider", CredentialResolver([AssumedRoleProvider()]))
    return boto3.Session(botocore_session=target, region_name=identity.region)


def _role(where: str, entry: Any) -> RoleToAssume | None:
    if not isinstance(entry, Mapping):
        raise AwsSettingsError(f"{where}: expected an object with roleArn, got {type(entry).__name__}")
    role_arn = _optional_text(entry.get("roleArn"), f"{where}.roleArn")
    if role_arn is None:
        return None  # an entry without a role is skipped, as the provider does
    duration = None
    if entry.get("duration") not in (None, ""):
        duration = parse_duration(_optional_text(entry["duration"], f"{where}.duration") or "", f"{where}.duration")
    elif entry.get("durationSeconds") is not None:
        raw = entry["durationSeconds"]
        if isinstance(raw, bool) or not isinstance(raw, (int, float)) or raw <= 0:
            raise AwsSettingsError(f"{where}.durationSeconds: expected a number of seconds, got {raw!r}")
        duration = int(raw)
    tags = entry.get("tags") or {}
    if not isinstance(tags, Mapping):
        raise AwsSettingsError(f"{where}.tags: expected an object of tag names to values")
    return RoleToAssume(
        role_arn=role_arn,
        session_name=_optional_text(entry.get("sessionName"), f"{where}.sessionName") or DEFAULT_SESSION_NAME,
        external_id=_optional_text(entry.get("externalId"), f"{where}.externalId"),
        duration_seconds=duration,
        policy=_optional_text(entry.get("policy"), f"{where}.policy"),
        policy_arns=_texts(entry.get("policyArns"), f"{where}.policyArns"),
        source_identity=_optional_text(entry.get("sourceIdentity"), f"{where}.sourceIdentity"),
        tags=tuple(sorted((str(k), str(v)) for k, v in tags.items())),
        transitive_tag_keys=_texts(entry.get("transitiveTagKeys"), f"{where}.transitiveTagKeys"),
    )


def _optional_text(value: Any, key: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise AwsSettingsError(f"{key}: expected a string, got {type(value).__name__}")
    return value


def _texts(value: Any, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, Sequence) or not all(isinstance(v, str) for v in value):
        raise AwsSettingsError(f"{key}: expected a list of strings")
    return tuple(value)
