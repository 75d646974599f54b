"""`iam-audit fetch`: a read-only live export of one or several AWS accounts.

The file has exactly the shape of `aws iam get-account-authorization-details` (AWS CLI v2:
all pages merged, ISO 8601 dates, policy documents as JSON objects) plus two top-level keys
of our own: ``iam_audit`` (run metadata and what could not be read) and, with
``--resource-policies``, ``ResourcePolicies``.

Exit codes: 0 when every account could be exported, also when some parts are missing (a
warning names each missing part on stderr and the file lists them under
``iam_audit.incomplete``); 2 for a usage or environment error and when nothing at all could
be exported (no credentials, every AssumeRole denied, the IAM part of no account read). An
account whose IAM part (``GetAccountAuthorizationDetails``) could not be read is not exported,
with or without ``--resource-policies``: its resource policies alone would check clean.

boto3 is imported inside functions: importing it costs more than the rest of the CLI.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timezone
from functools import lru_cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditor.cli_fetch import DEFAULT_SESSION_NAME

if TYPE_CHECKING:
    import boto3
    from rich.console import Console
    from rich.progress import Progress, TaskID

AUTHORIZATION_FILTER = ("User", "Role", "Group", "LocalManagedPolicy", "AWSManagedPolicy")
AUTHORIZATION_LISTS = ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies")
RESOURCE_SERVICES = ("s3", "kms", "sqs", "sns", "lambda", "secretsmanager", "ecr")
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "ProvisionedThroughputExceededException",
    }
)
ACCESS_DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})

# The IAM action that authorises an API operation, where the two names differ.
_PERMISSION_FOR_OPERATION = {"s3:ListBuckets": "s3:ListAllMyBuckets"}


# boto3 sessions are not thread-safe: sessions and clients are created under this lock.
_CLIENT_CREATION = threading.Lock()


class FetchUsageError(Exception):
    """Bad options or environment (exit code 2): the message is one line for stderr."""


LIVE_INSTALL = "pip install 'iam-audit[live]'"
"""How to install boto3 with iam-audit: it is the ``live`` extra, not a dependency of ``check``."""


def require_boto3(what: str = "fetch") -> None:
    """:class:`FetchUsageError` when boto3 (or its botocore) cannot be imported, before anything is created: a
    plain ``pip install iam-audit`` does not install them (``what``: the command or option that needs them)."""
    try:
        import boto3  # noqa: F401
        import botocore.exceptions  # noqa: F401
    except ImportError as error:
        if isinstance(error, ModuleNotFoundError) and (error.name or "").split(".")[0] in ("boto3", "botocore"):
            raise FetchUsageError(f"{what} needs boto3, which is not installed: {LIVE_INSTALL}") from None
        raise FetchUsageError(f"{what} needs boto3, which cannot be imported ({_one_line(str(error))}): "
                              f"reinstall it with {LIVE_INSTALL}") from None


@dataclass(frozen=True)
class FetchOptions:
    output: Path
    profile: str | None = None
    regions: tuple[str, ...] = ()
    role_arns: tuple[str, ...] = ()
    external_id: str | None = None
    session_name: str = DEFAULT_SESSION_NAME
    org_role: str | None = None
    endpoint_url: str | None = None
    resource_policies: bool = False
    max_workers: int = 4
    quiet: bool = False
    # botocore's own adaptive retries per call, then ours on top for throttling codes.
    max_attempts: int = 5
    throttle_retries: int = 4
    retry_base_delay: float = 0.5
    # MaxItems for GetAccountAuthorizationDetails; None lets IAM choose (100).
    page_size: int | None = None

    @property
    def several_accounts(self) -> bool:
        return self.org_role is not None or len(self.role_arns) > 1


@dataclass(frozen=True)
class IncompletePart:
    """One thing that could not be read; the run went on without it."""

    what: str
    error_code: str
    message: str
    names_account: bool = False  # `what` already says which account (AssumeRole, credentials)

    def to_json(self) -> dict[str, str]:
        return {"what": self.what, "error_code": self.error_code, "message": self.message}


@dataclass(frozen=True)
class AccountResult:
    source: str
    account_id: str | None
    file: Path | None
    status: str  # "complete", "partial" or "failed"
    incomplete: tuple[IncompletePart, ...]
    counts: Mapping[str, int]


@dataclass(frozen=True)
class FetchOutcome:
    accounts: tuple[AccountResult, ...]
    run_incomplete: tuple[IncompletePart, ...] = ()
    index_file: Path | None = None
    throttle_retries: int = 0

    @property
    def complete(self) -> bool:
        return not self.run_incomplete and all(a.status == "complete" for a in self.accounts)

    @property
    def exit_code(self) -> int:
        exported = any(account.status != "failed" for account in self.accounts)
        return 0 if exported else 2


@dataclass(frozen=True)
class _Target:
    source: str
    account_id: str | None = None
    role_arn: str | None = None


@dataclass
class _Account:
    """An opened account and its clients (botocore clients are thread-safe once created)."""

    target: _Target
    session: boto3.session.Session
    account_id: str
    partition: str
    options: FetchOptions
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _clients: dict[tuple[str, str], Any] = field(default_factory=dict)

    def client(self, service: str, region: str) -> Any:
        with self._lock:
            if (service, region) not in self._clients:
                self._clients[service, region] = _make_client(self.session, service, region, self.options)
            return self._clients[service, region]


@dataclass
class _AccountAccumulator:
    target: _Target
    account: _Account | None = None
    authorization: dict[str, list[Any]] = field(default_factory=lambda: {k: [] for k in AUTHORIZATION_LISTS})
    resource_policies: list[dict[str, Any]] = field(default_factory=list)
    incomplete: list[IncompletePart] = field(default_factory=list)
    authorization_read: bool = False


class _Retrier:
    """Our bounded retry with exponential backoff and jitter, on top of botocore's adaptive mode."""

    def __init__(self, retries: int, base_delay: float) -> None:
        self.retries = retries
        self.base_delay = base_delay
        self.count = 0
        self._lock = threading.Lock()

    def call(self, client: Any, method: str, /, **kwargs: Any) -> Any:
        from botocore.exceptions import ClientError

        for attempt in range(self.retries + 1):
            try:
                return getattr(client, method)(**kwargs)
            except ClientError as error:
                if _error_code(error) not in THROTTLING_CODES or attempt == self.retries:
                    raise
                with self._lock:
                    self.count += 1
                time.sleep(self.base_delay * (2**attempt) * random.uniform(0.5, 1.0))
        raise AssertionError("unreachable")

    def pages(
        self, client: Any, method: str, token_in: str, token_out: str, /, **kwargs: Any
    ) -> Iterator[dict[str, Any]]:
        while True:
            page = self.call(client, method, **kwargs)
            yield page
            token = page.get(token_out)
            if not token:
                return
            kwargs[token_in] = token


def _error_code(error: Exception) -> str:
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", "")) or type(error).__name__
    return type(error).__name__


def _error_message(error: Exception) -> str:
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        message = response.get("Error", {}).get("Message")
        if message:
            return _one_line(str(message))
    return _one_line(str(error))


def _one_line(text: str) -> str:
    """A message for one line of stderr (botocore's parameter errors span several)."""
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def _operation_name(client: Any, method: str) -> str:
    service = client.meta.service_model
    operation = client.meta.method_to_api_mapping.get(method, method)
    name = f"{service.signing_name}:{operation}"
    return _PERMISSION_FOR_OPERATION.get(name, name)


def _incomplete(what: str, error: Exception) -> IncompletePart:
    return IncompletePart(what=what, error_code=_error_code(error), message=_error_message(error))


def _make_session(
    options: FetchOptions, credentials: Mapping[str, str] | None = None
) -> boto3.session.Session:
    import boto3
    from botocore.exceptions import BotoCoreError, ProfileNotFound

    try:
        if credentials is not None:
            with _CLIENT_CREATION:
                return boto3.session.Session(
                    aws_access_key_id=credentials["AccessKeyId"],
                    aws_secret_access_key=credentials["SecretAccessKey"],
                    aws_session_token=credentials["SessionToken"],
                    region_name=options.regions[0] if options.regions else None,
                )
        return boto3.session.Session(profile_name=options.profile)
    except ProfileNotFound as error:
        raise FetchUsageError(
            f"AWS profile not found: {options.profile!r} "
            "(`aws configure list-profiles` lists the profiles of ~/.aws/config and ~/.aws/credentials)"
        ) from error
    except BotoCoreError as error:  # a configuration file that does not parse
        raise FetchUsageError(f"{_one_line(str(error))}: fix the AWS configuration, or point AWS_CONFIG_FILE "
                              "elsewhere") from error


def _make_client(session: boto3.session.Session, service: str, region: str, options: FetchOptions) -> Any:
    from botocore.config import Config

    config = Config(
        retries={"mode": "adaptive", "max_attempts": options.max_attempts},
        user_agent_extra="iam-audit-fetch",
        s3={"addressing_style": "path"} if options.endpoint_url else None,
    )
    with _CLIENT_CREATION:
        try:
            return session.client(service, region_name=region, endpoint_url=options.endpoint_url, config=config)
        except ValueError as error:  # an endpoint from AWS_ENDPOINT_URL or the profile that is not a URL
            raise FetchUsageError(f"{error}: the AWS endpoint must be a URL such as http://localhost:4566 "
                                  "(check --endpoint-url, AWS_ENDPOINT_URL and the profile's endpoint_url)") \
                from error


def _json_ready(value: Any) -> Any:
    """Dates to ISO 8601 in UTC, as AWS CLI v2 prints them; everything else unchanged."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc)
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _json_ready(item) for key, item in value.items() if key != "ResponseMetadata"}
    if isinstance(value, list):
        return [_json_ready(item) for item in value]
    return value


def _policy_document(text: str | None) -> Any:
    """A resource policy as a JSON object; text that is not JSON stays text for the linter to report."""
    if text is None:
        return None
    try:
        return json.loads(text, parse_constant=_not_json)
    except ValueError:
        return text


def _not_json(token: str) -> Any:
    """``NaN`` and ``Infinity``, which Python's json reads: the export must stay JSON."""
    raise ValueError(f"{token} is not JSON")


def _partition_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[1] if len(parts) > 1 and parts[1] else "aws"


def _account_of(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[4] if len(parts) > 4 and parts[4].isdigit() else None


# --- opening accounts ------------------------------------------------------------------------


def _open_account(
    base: boto3.session.Session, target: _Target, options: FetchOptions, region: str, retrier: _Retrier
) -> _Account:
    session = base
    if target.role_arn is not None:
        sts = _make_client(base, "sts", region, options)
        request: dict[str, Any] = {"RoleArn": target.role_arn, "RoleSessionName": options.session_name}
        if options.external_id:
            request["ExternalId"] = options.external_id
        credentials = retrier.call(sts, "assume_role", **request)["Credentials"]
        session = _make_session(options, credentials)
    identity = retrier.call(_make_client(session, "sts", region, options), "get_caller_identity")
    return _Account(
        target=target,
        session=session,
        account_id=str(identity["Account"]),
        partition=_partition_of(str(identity["Arn"])),
        options=options,
    )


def _organization_targets(
    base: boto3.session.Session, options: FetchOptions, region: str, retrier: _Retrier
) -> list[_Target]:
    assert options.org_role is not None
    caller = retrier.call(_make_client(base, "sts", region, options), "get_caller_identity")
    partition = _partition_of(str(caller["Arn"]))
    organizations = _make_client(base, "organizations", region, options)
    targets = []
    for page in retrier.pages(organizations, "list_accounts", "NextToken", "NextToken"):
        for account in page["Accounts"]:
            if account.get("Status", "ACTIVE") != "ACTIVE":
                continue
            account_id = str(account["Id"])
            source = f"organization account {account_id}"
            if account_id == caller["Account"]:
                # The calling account usually has no such role (it creates them); read it directly.
                targets.append(_Target(source=source, account_id=account_id))
            else:
                role_arn = f"arn:{partition}:iam::{account_id}:role/{options.org_role}"
                targets.append(_Target(source=source, account_id=account_id, role_arn=role_arn))
    return targets


# --- reading one account ---------------------------------------------------------------------

_PartResult = tuple[list[dict[str, Any]], list[IncompletePart]]


def _read_authorization_details(account: _Account, region: str, retrier: _Retrier) -> dict[str, list[Any]]:
    iam = account.client("iam", region)
    request: dict[str, Any] = {"Filter": list(AUTHORIZATION_FILTER)}
    if account.options.page_size is not None:
        request["MaxItems"] = account.options.page_size
    merged: dict[str, list[Any]] = {name: [] for name in AUTHORIZATION_LISTS}
    while True:
        page = retrier.call(iam, "get_account_authorization_details", **request)
        for name in AUTHORIZATION_LISTS:
            merged[name].extend(_json_ready(page.get(name, [])))
        if not page.get("IsTruncated") or not page.get("Marker"):
            break
        request["Marker"] = page["Marker"]
    return merged


def _resource(service: str, arn: str, name: str, region: str, policy: Any) -> dict[str, Any]:
    return {"service": service, "arn": arn, "name": name, "region": region, "policy": policy}


def _bucket_region(location: str | None) -> str:
    if not location:
        return "us-east-1"
    return "eu-west-1" if location == "EU" else location


def _read_s3(account: _Account, regions: tuple[str, ...], retrier: _Retrier) -> _PartResult:
    from botocore.exceptions import ClientError

    s3 = account.client("s3", regions[0])
    found: list[dict[str, Any]] = []
    missing: list[IncompletePart] = []
    for page in retrier.pages(s3, "list_buckets", "ContinuationToken", "ContinuationToken"):
        for bucket in page.get("Buckets", []):
            name = bucket["Name"]
            try:
                location = retrier.call(s3, "get_bucket_location", Bucket=name).get("LocationConstraint")
            except ClientError as error:
                missing.append(_incomplete(f"{_operation_name(s3, 'get_bucket_location')} on {name}", error))
                continue
            region = _bucket_region(location)
            if region not in regions:
                continue
            try:
                policy = retrier.call(s3, "get_bucket_policy", Bucket=name)["Policy"]
            except ClientError as error:
                if _error_code(error) != "NoSuchBucketPolicy":
                    missing.append(
                        _incomplete(f"{_operation_name(s3, 'get_bucket_policy')} on {name}", error)
                    )
                continue
            arn = f"arn:{account.partition}:s3:::{name}"
            found.append(_resource("s3", arn, name, region, _policy_document(policy)))
    return found, missing


def _read_kms(account: _Account, region: str, retrier: _Retrier) -> _PartResult:
    from botocore.exceptions import ClientError

    kms = account.client("kms", region)
    aliases: dict[str, list[str]] = {}
    missing: list[IncompletePart] = []
    try:
        for page in retrier.pages(kms, "list_aliases", "Marker", "NextMarker"):
            for alias in page.get("Aliases", []):
                if alias.get("TargetKeyId"):
                    aliases.setdefault(alias["TargetKeyId"], []).append(alias["AliasName"])
    except ClientError as error:
        missing.append(_incomplete(f"{_operation_name(kms, 'list_aliases')} in {region}", error))
    found: list[dict[str, Any]] = []
    for page in retrier.pages(kms, "list_keys", "Marker", "NextMarker"):
        for key in page.get("Keys", []):
            key_id = key["KeyId"]
            try:
                policy = retrier.call(kms, "get_key_policy", KeyId=key_id, PolicyName="default")["Policy"]
            except ClientError as error:
                what = f"{_operation_name(kms, 'get_key_policy')} on {key_id} in {region}"
                missing.append(_incomplete(what, error))
                continue
            names = sorted(aliases.get(key_id, [key_id]))
            record = _resource("kms", key["KeyArn"], names[0], region, _policy_document(policy))
            record["aliases"] = names[1:]  # baselines match a key by any of its aliases
            found.append(record)
    return found, missing


def _read_sqs(account: _Account, region: str, retrier: _Retrier) -> _PartResult:
    from botocore.exceptions import ClientError

    sqs = account.client("sqs", region)
    found: list[dict[str, Any]] = []
    missing: list[IncompletePart] = []
    for page in retrier.pages(sqs, "list_queues", "NextToken", "NextToken", MaxResults=1000):
        for url in page.get("QueueUrls", []):
            try:
                attributes = retrier.call(
                    sqs, "get_queue_attributes", QueueUrl=url, AttributeNames=["Policy", "QueueArn"]
                ).get("Attributes", {})
            except ClientError as error:
                if _error_code(error) in {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}:
                    continue
                missing.append(_incomplete(f"{_operation_name(sqs, 'get_queue_attributes')} on {url}", error))
                continue
            if "Policy" not in attributes:
                continue
            name = url.rstrip("/").rsplit("/", 1)[-1]
            found.append(
                _resource("sqs", attributes["QueueArn"], name, region, _policy_document(attributes["Policy"]))
            )
    return found, missing


def _read_sns(account: _Account, region: str, retrier: _Retrier) -> _PartResult:
    from botocore.exceptions import ClientError

    sns = account.client("sns", region)
    found: list[dict[str, Any]] = []
    missing: list[IncompletePart] = []
    for page in retrier.pages(sns, "list_topics", "NextToken", "NextToken"):
        for topic in page.get("Topics", []):
            arn = topic["TopicArn"]
            try:
                attributes = retrier.call(sns, "get_topic_attributes", TopicArn=arn).get("Attributes", {})
            except ClientError as error:
                if _error_code(error) == "NotFound":
                    continue
                missing.append(_incomplete(f"{_operation_name(sns, 'get_topic_attributes')} on {arn}", error))
                continue
            if "Policy" in attributes:
                name = arn.rsplit(":", 1)[-1]
                found.append(_resource("sns", arn, name, region, _policy_document(attributes["Policy"])))
    return found, missing


def _read_lambda(account: _Account, region: str, retrier: _Retrier) -> _PartResult:
    from botocore.exceptions import ClientError

    functions = account.client("lambda", region)
    found: list[dict[str, Any]] = []
    missing: list[IncompletePart] = []
    for page in retrier.pages(functions, "list_functions", "Marker", "NextMarker"):
        for function in page.get("Functions", []):
            name = function["FunctionName"]
            try:
                policy = retrier.call(functions, "get_policy", FunctionName=name)["Policy"]
            except ClientError as error:
                if _error_code(error) == "ResourceNotFoundException":
                    continue  # a function without a resource policy
                what = f"{_operation_name(functions, 'get_policy')} on {name} in {region}"
                missing.append(_incomplete(what, error))
                continue
            found.append(_resource("lambda", function["FunctionArn"], name, region, _policy_document(policy)))
    return found, missing


def _read_secretsmanager(account: _Account, region: str, retrier: _Retrier) -> _PartResult:
    from botocore.exceptions import ClientError

    secrets = account.client("secretsmanager", region)
    found: list[dict[str, Any]] = []
    missing: list[IncompletePart] = []
    for page in retrier.pages(secrets, "list_secrets", "NextToken", "NextToken"):
        for secret in page.get("SecretList", []):
            try:
                response = retrier.call(secrets, "get_resource_policy", SecretId=secret["ARN"])
            except ClientError as error:
                what = f"{_operation_name(secrets, 'get_resource_policy')} on {secret['Name']} in {region}"
                missing.append(_incomplete(what, error))
                continue
            if response.get("ResourcePolicy"):
                policy = _policy_document(response["ResourcePolicy"])
                found.append(_resource("secretsmanager", secret["ARN"], secret["Name"], region, policy))
    return found, missing


def _read_ecr(account: _Account, region: str, retrier: _Retrier) -> _PartResult:
    from botocore.exceptions import ClientError

    ecr = account.client("ecr", region)
    found: list[dict[str, Any]] = []
    missing: list[IncompletePart] = []
    for page in retrier.pages(ecr, "describe_repositories", "nextToken", "nextToken"):
        for repository in page.get("repositories", []):
            name = repository["repositoryName"]
            try:
                policy = retrier.call(ecr, "get_repository_policy", repositoryName=name)["policyText"]
            except ClientError as error:
                if _error_code(error) == "RepositoryPolicyNotFoundException":
                    continue
                what = f"{_operation_name(ecr, 'get_repository_policy')} on {name} in {region}"
                missing.append(_incomplete(what, error))
                continue
            arn = repository["repositoryArn"]
            found.append(_resource("ecr", arn, name, region, _policy_document(policy)))
    return found, missing


_REGIONAL_READERS: dict[str, Callable[[_Account, str, _Retrier], _PartResult]] = {
    "kms": _read_kms,
    "sqs": _read_sqs,
    "sns": _read_sns,
    "lambda": _read_lambda,
    "secretsmanager": _read_secretsmanager,
    "ecr": _read_ecr,
}

# The operation each reader starts with: when it fails the whole part is missing.
_LISTING_OPERATION = {
    "s3": "s3:ListAllMyBuckets",
    "kms": "kms:ListKeys",
    "sqs": "sqs:ListQueues",
    "sns": "sns:ListTopics",
    "lambda": "lambda:ListFunctions",
    "secretsmanager": "secretsmanager:ListSecrets",
    "ecr": "ecr:DescribeRepositories",
}


# --- the run ---------------------------------------------------------------------------------


def _resolve_regions(base: boto3.session.Session, options: FetchOptions) -> tuple[str, ...]:
    if options.regions:
        return tuple(dict.fromkeys(options.regions))
    if base.region_name:
        if not _REGION_NAME.match(base.region_name):
            raise FetchUsageError(f"the AWS region {base.region_name!r} (from AWS_DEFAULT_REGION or "
                                  "the profile) is not a region name such as eu-west-1: correct it or pass --region")
        return (base.region_name,)
    if options.resource_policies:
        raise FetchUsageError("no AWS region: pass --region or set AWS_DEFAULT_REGION for --resource-policies")
    return ("us-east-1",)


_REGION_NAME = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\Z")
"""botocore's own test of a region name (it makes the region part of a host name)."""
_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\x21-\x7e]+\Z")
_SESSION_NAME = re.compile(r"[\w+=,.@-]{2,64}\Z", re.ASCII)
"""AssumeRole's pattern for RoleSessionName."""
_EXTERNAL_ID = re.compile(r"[\w+=,.@:/-]{2,1224}\Z", re.ASCII)
"""AssumeRole's pattern for ExternalId."""


def _in_a_partition(region: str) -> bool:
    """Whether the name has the shape of a Region of some AWS partition, as botocore knows them (a Region opened
    after this botocore still has its partition's shape); True when botocore's data cannot be read."""
    shapes = _partition_region_shapes()
    return shapes is None or any(shape.match(region) for shape in shapes)


@lru_cache(maxsize=1)
def _partition_region_shapes() -> tuple[re.Pattern[str], ...] | None:
    """The Region patterns of botocore's partitions, read once; None when they cannot be read."""
    try:
        from botocore.loaders import Loader

        partitions = Loader().load_data("endpoints")["partitions"]
        return tuple(re.compile(partition["regionRegex"]) for partition in partitions)
    except Exception:  # no botocore, or data of another shape: the call itself will say what is wrong
        return None


def _is_endpoint_url(text: str) -> bool:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _validate(options: FetchOptions) -> None:
    if options.org_role and options.role_arns:
        raise FetchUsageError("--org-role and --role-arn cannot be combined")
    if options.max_workers < 1:
        raise FetchUsageError("--max-workers must be at least 1")
    if options.page_size is not None and options.page_size < 1:
        raise FetchUsageError("page size must be at least 1")
    for region in options.regions:
        if not _REGION_NAME.match(region) or (options.endpoint_url is None and not _in_a_partition(region)):
            raise FetchUsageError(f"--region {region!r} is not an AWS Region name such as eu-west-1, us-gov-west-1 "
                                  "or cn-north-1")
    if options.external_id is not None and not _EXTERNAL_ID.match(options.external_id):
        raise FetchUsageError(f"--external-id {options.external_id!r} must be 2 to 1,224 letters, digits or "
                              "characters of +=,.@:/-, as STS accepts")
    if options.endpoint_url is not None and not _is_endpoint_url(options.endpoint_url):
        raise FetchUsageError(f"--endpoint-url {options.endpoint_url!r} is not an http:// or https:// URL: "
                              "give one such as http://localhost:4566")
    for arn in options.role_arns:
        if not _ROLE_ARN.match(arn):
            raise FetchUsageError(f"--role-arn {arn!r} is not a role ARN: give one such as "
                                  "arn:aws:iam::111111111111:role/audit")
    if not _SESSION_NAME.match(options.session_name):
        raise FetchUsageError(f"--session-name {options.session_name!r} must be 2 to 64 letters, digits or "
                              "characters of +=,.@_-")
    if options.output.exists() and options.several_accounts != options.output.is_dir():
        kind = "a directory" if options.several_accounts else "a file"
        raise FetchUsageError(f"--output must be {kind}: {options.output}")
    if options.several_accounts and not options.output.exists() and options.output.suffix.lower() == ".json":
        raise FetchUsageError(f"--output {options.output}: several accounts are written one file each into a "
                              "folder: name a folder (such as exports/)")


def _targets(
    base: boto3.session.Session, options: FetchOptions, region: str, retrier: _Retrier
) -> list[_Target]:
    if options.org_role:
        return _organization_targets(base, options, region, retrier)
    if options.role_arns:
        return [
            _Target(source=arn, account_id=_account_of(arn), role_arn=arn)
            for arn in dict.fromkeys(options.role_arns)
        ]
    return [_Target(source=f"profile {options.profile}" if options.profile else "default credentials")]


def _metadata(
    account_id: str | None, fetched_at: str, regions: tuple[str, ...], incomplete: list[IncompletePart]
) -> dict[str, Any]:
    return {
        "account_id": account_id,
        "fetched_at": fetched_at,
        "regions": list(regions),
        "tool_version": _tool_version(),
        "incomplete": [part.to_json() for part in incomplete],
    }


def _tool_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("iam-audit")
    except PackageNotFoundError:
        return "unknown"


def _write_json(path: Path, document: Mapping[str, Any]) -> None:
    """Written whole or not at all: an interrupted fetch never leaves half an export for ``check`` to read."""
    from auditor.output import write_text

    write_text(path, json.dumps(document, indent=4, ensure_ascii=False) + "\n")


class _Run:
    """Schedules every part of every account on one bounded thread pool."""

    def __init__(
        self,
        options: FetchOptions,
        base: boto3.session.Session,
        regions: tuple[str, ...],
        retrier: _Retrier,
        progress: Progress | None,
    ) -> None:
        self.options = options
        self.base = base
        self.regions = regions
        self.retrier = retrier
        self.progress = progress
        self.task: TaskID | None = progress.add_task("fetching", total=0) if progress else None
        self.fetched_at = datetime.now(timezone.utc).replace(microsecond=0).isoformat()

    def _advance(self, total: int = 0, done: int = 0) -> None:
        if self.progress is not None and self.task is not None:
            if total:
                current = self.progress.tasks[0].total or 0
                self.progress.update(self.task, total=current + total)
            if done:
                self.progress.advance(self.task, done)

    def _parts(self, account: _Account) -> list[tuple[str, Callable[[], Any]]]:
        region = self.regions[0]
        parts: list[tuple[str, Callable[[], Any]]] = [
            (
                "iam:GetAccountAuthorizationDetails",
                partial(_read_authorization_details, account, region, self.retrier),
            ),
        ]
        if self.options.resource_policies:
            parts.append((_LISTING_OPERATION["s3"], partial(_read_s3, account, self.regions, self.retrier)))
            for service, reader in _REGIONAL_READERS.items():
                for each_region in self.regions:
                    parts.append(
                        (
                            f"{_LISTING_OPERATION[service]} in {each_region}",
                            partial(reader, account, each_region, self.retrier),
                        )
                    )
        return parts

    def run(self, targets: list[_Target]) -> list[_AccountAccumulator]:
        from botocore.exceptions import BotoCoreError, ClientError

        accumulators = [_AccountAccumulator(target=target) for target in targets]
        futures: dict[Future[Any], tuple[_AccountAccumulator, str]] = {}
        self._advance(total=len(targets))
        with ThreadPoolExecutor(
            max_workers=self.options.max_workers, thread_name_prefix="iam-audit-fetch"
        ) as pool:
            for accumulator in accumulators:
                future = pool.submit(
                    _open_account, self.base, accumulator.target, self.options, self.regions[0], self.retrier
                )
                futures[future] = (accumulator, "open")
            while futures:
                done, _ = wait(futures, return_when=FIRST_COMPLETED)
                for future in done:
                    accumulator, what = futures.pop(future)
                    self._advance(done=1)
                    try:
                        result: Any = future.result()
                    except (ClientError, BotoCoreError) as error:
                        accumulator.incomplete.append(self._failure(accumulator, what, error))
                        continue
                    if what == "open":
                        accumulator.account = result
                        parts = self._parts(result)
                        self._advance(total=len(parts))
                        for part_name, read in parts:
                            futures[pool.submit(read)] = (accumulator, part_name)
                        continue
                    if what == "iam:GetAccountAuthorizationDetails":
                        accumulator.authorization = result
                        accumulator.authorization_read = True
                    else:
                        found, missing = result
                        accumulator.resource_policies.extend(found)
                        accumulator.incomplete.extend(missing)
        return accumulators

    @staticmethod
    def _failure(accumulator: _AccountAccumulator, what: str, error: Exception) -> IncompletePart:
        if what != "open":
            return _incomplete(what, error)
        verb = "denied" if _error_code(error) in ACCESS_DENIED_CODES else "failed"
        if accumulator.target.role_arn is None:
            what = f"{accumulator.target.source}: GetCallerIdentity {verb}"
        else:
            account = accumulator.target.account_id or accumulator.target.source
            what = f"account {account}: AssumeRole {verb}"
        return replace(_incomplete(what, error), names_account=True)

    def write(self, accumulators: list[_AccountAccumulator]) -> list[AccountResult]:
        results = []
        for accumulator in accumulators:
            account = accumulator.account
            account_id = account.account_id if account else accumulator.target.account_id
            incomplete = sorted(accumulator.incomplete, key=lambda part: part.what)
            if account is None or not accumulator.authorization_read:
                status = "failed"
            else:
                status = "partial" if incomplete else "complete"
            counts = {name: len(items) for name, items in accumulator.authorization.items()}
            counts["ResourcePolicies"] = len(accumulator.resource_policies)
            path: Path | None = None
            if status != "failed":
                document: dict[str, Any] = dict(accumulator.authorization)
                if self.options.resource_policies:
                    document["ResourcePolicies"] = sorted(
                        accumulator.resource_policies, key=lambda r: (r["service"], r["region"], r["arn"])
                    )
                document["iam_audit"] = _metadata(account_id, self.fetched_at, self.regions, incomplete)
                path = (
                    self.options.output / f"{account_id}.json"
                    if self.options.several_accounts
                    else self.options.output
                )
                _write_json(path, document)
            results.append(
                AccountResult(
                    source=accumulator.target.source,
                    account_id=account_id,
                    file=path,
                    status=status,
                    incomplete=tuple(incomplete),
                    counts=counts,
                )
            )
        return results

    def write_index(self, results: list[AccountResult], run_incomplete: list[IncompletePart]) -> Path:
        index = {
            "iam_audit": {
                "fetched_at": self.fetched_at,
                "regions": list(self.regions),
                "tool_version": _tool_version(),
                "incomplete": [part.to_json() for part in run_incomplete],
            },
            "accounts": [
                {
                    "account_id": result.account_id,
                    "source": result.source,
                    "file": result.file.name if result.file else None,
                    "status": result.status,
                    "incomplete": [part.to_json() for part in result.incomplete],
                }
                for result in results
            ],
        }
        path = self.options.output / "index.json"
        _write_json(path, index)
        return path


def fetch_accounts(options: FetchOptions, console: Console | None = None) -> FetchOutcome:
    """Export every account the options name; raises FetchUsageError for exit code 2 before any call."""
    _validate(options)
    require_boto3()
    from botocore.exceptions import BotoCoreError, ClientError
    from rich.progress import Progress

    if console is None:
        from rich.console import Console

        console = Console(stderr=True)
    base = _make_session(options)
    regions = _resolve_regions(base, options)
    retrier = _Retrier(options.throttle_retries, options.retry_base_delay)
    show_progress = console.is_terminal and not options.quiet
    progress = Progress(console=console, transient=True) if show_progress else None
    if options.several_accounts:
        options.output.mkdir(parents=True, exist_ok=True)
    run = _Run(options, base, regions, retrier, progress)
    run_incomplete: list[IncompletePart] = []
    with progress if progress is not None else _nothing():
        try:
            targets = _targets(base, options, regions[0], retrier)
        except (ClientError, BotoCoreError) as error:
            targets = []
            run_incomplete.append(_incomplete("organizations:ListAccounts", error))
        results = run.write(run.run(targets))
    index = run.write_index(results, run_incomplete) if options.several_accounts else None
    return FetchOutcome(
        accounts=tuple(results),
        run_incomplete=tuple(run_incomplete),
        index_file=index,
        throttle_retries=retrier.count,
    )


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _say(console: Console, text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def report_outcome(outcome: FetchOutcome, console: Console, quiet: bool = False) -> None:
    """One line per written file (unless quiet), one warning per missing part (always); when nothing was exported,
    one error line that gives the reasons."""
    gaps = [f"{part.what} ({part.error_code}: {part.message})" for part in outcome.run_incomplete]
    for account in outcome.accounts:
        if account.file is not None and not quiet:
            counts = account.counts
            _say(
                console,
                f"wrote {account.file} (account {account.account_id}: {counts['UserDetailList']} users, "
                f"{counts['GroupDetailList']} groups, {counts['RoleDetailList']} roles, "
                f"{counts['Policies']} managed policies, {counts['ResourcePolicies']} resource policies)",
            )
        for part in account.incomplete:
            where = "" if part.names_account else f"account {account.account_id or account.source}: not exported: "
            gaps.append(f"{where}{part.what} ({part.error_code}: {part.message})")
    if outcome.exit_code == 2:
        hint = ("; give --profile, or set AWS_PROFILE or the AWS_ACCESS_KEY_ID variables"
                if any("NoCredentialsError" in gap for gap in gaps) else "")
        _say(console, f"iam-audit: error: nothing could be exported: {'; '.join(gaps) or 'no account'}{hint}")
        return
    for gap in gaps:
        _say(console, f"iam-audit: warning: {gap}")
    if outcome.index_file is not None and not quiet:
        _say(console, f"wrote {outcome.index_file}")
    if not outcome.complete:
        _say(console, "iam-audit: warning: the export is incomplete; see iam_audit.incomplete in the output")
