from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from auditor.baselines import (
    BaselineError,
    PrincipalSpec,
    UnknownBaselineError,
    bundled_baselines_dir,
    diff_revisions,
    load_baseline_file,
    load_bundled_baselines,
    name_is_unknown,
    resolve_baseline,
)
from tests.conftest import SHARED

EXPECTED_IDS = [
    "stackstate/eventbridge-role",
    "stackstate/firehose-role",
    "stackstate/integration-role",
    "stackstate/kms-key",
    "upsolver/connection-trust",
    "upsolver/management-role",
    "upsolver/s3-access",
    "upsolver/server-role",
]

MINIMAL = """\
id: acme/reader-role
revision: r1
title: ACME reader
vendor: ACME
principal: {kind: role, name_patterns: ["AcmeReader*"]}
provenance: {document: acme.md, vendor_url: null, revision: null, blocks: []}
placeholders:
  - {token: ACCOUNT_ID, name: AccountId}
policies:
  - name: reader
    kind: identity
    document:
      Version: "2012-10-17"
      Statement:
        - {Effect: Allow, Action: "s3:GetObject", Resource: "arn:aws:s3:::b/${aws:username}/ACCOUNT_ID"}
"""


@pytest.fixture(scope="module")
def baselines():
    return load_bundled_baselines()


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_all_eight_ids_load_and_every_revision_is_listed(baselines):
    assert baselines.ids() == EXPECTED_IDS
    assert len(baselines) == 9
    assert baselines.revisions("upsolver/management-role") == ["gitbook", "plaintext"]


def test_plain_id_means_the_default_revision(baselines):
    assert baselines.get("upsolver/management-role").ref == "upsolver/management-role@gitbook"
    assert baselines.get("upsolver/management-role@plaintext").revision == "plaintext"
    assert baselines.get("upsolver/management-role@plaintext").default is False


def test_unknown_id_and_unknown_revision_name_what_exists(baselines):
    with pytest.raises(UnknownBaselineError, match="known: stackstate/eventbridge-role"):
        baselines.get("acme/nothing")
    with pytest.raises(UnknownBaselineError, match="known: gitbook, plaintext"):
        baselines.get("upsolver/management-role@2019")
    assert "upsolver/server-role" in baselines
    assert "upsolver/server-role@nope" not in baselines


def test_bundled_baselines_live_in_the_rules_directory():
    assert bundled_baselines_dir() == Path(__file__).resolve().parents[1] / "rules" / "baselines"


def test_policy_kinds_and_trust(baselines):
    kms = baselines.get("stackstate/kms-key")
    assert [(p.name, p.kind) for p in kms.policies] == [("key-policy", "resource")]
    assert kms.principal.kind == "resource"
    integration = baselines.get("stackstate/integration-role")
    assert integration.trust_policy is not None
    assert [p.name for p in integration.alternative_trust_policies] == ["ec2-instance"]
    assert len(integration.trust_policies) == 2
    assert baselines.get("upsolver/connection-trust").policies == ()
    assert baselines.get("upsolver/management-role").trust_policy is None
    assert baselines.get("upsolver/management-role@plaintext").trust_policy is not None


def test_s3_access_keeps_the_documented_invalid_action_and_records_it(baselines):
    s3 = baselines.get("upsolver/s3-access")
    actions = [a for s in s3.policies[0].document["Statement"] for a in s["Action"]]
    assert "s3:ListObject" in actions
    assert any("s3:ListObject" in defect for defect in s3.defects)
    assert s3.principal.kind == "user"
    assert [p.token for p in s3.placeholders] == ["OUTPUT_BUCKET_NAME", "INPUT_BUCKET_NAME", "ACCOUNT_ID"]


def test_gitbook_revision_records_the_missing_brace(baselines):
    gitbook = baselines.get("upsolver/management-role@gitbook")
    assert any("opening brace" in defect for defect in gitbook.defects)
    first = gitbook.policies[0].document["Statement"][0]
    assert first["Effect"] == "Allow"
    assert "iam:PassRole" in first["Action"]


def test_no_iam_policy_variable_is_a_placeholder(baselines):
    for baseline in baselines:
        for placeholder in baseline.placeholders:
            assert not (placeholder.token.startswith("${") and ":" in placeholder.token), baseline.ref


def test_binding_replaces_placeholders_and_keeps_policy_variables(baselines):
    s3 = baselines.get("upsolver/s3-access").bind({"AccountId": "111122223333", "Unused": "x"})
    text = json.dumps(s3.policies[0].document)
    assert "arn:aws:iam::111122223333:user/${aws:username}" in text
    assert "ACCOUNT_ID" not in text
    assert [p.name for p in s3.placeholders] == ["OutputBucketName", "InputBucketName"]
    firehose = baselines.get("stackstate/firehose-role").bind({"Region": "eu-west-1"})
    assert "s3.eu-west-1.amazonaws.com" in json.dumps(firehose.policies[0].document)
    assert "${Region}" not in json.dumps(firehose.trust_policy.document if firehose.trust_policy else {})


def test_a_token_scoped_twice_binds_the_trust_and_the_permissions_apart(baselines):
    integration = baselines.get("stackstate/integration-role")
    bound = integration.bind({"AccountId": "111122223333", "AgentAccountId": "444455556666"})
    trust = json.dumps([p.document for p in bound.trust_policies])
    assert "arn:aws:iam::444455556666:root" in trust and "111122223333" not in trust
    assert "stackstate-logs-111122223333" in json.dumps(bound.policies[0].document)
    assert "444455556666" not in json.dumps(bound.policies[0].document)
    assert [p.name for p in bound.placeholders] == ["ExternalId"]


def test_diff_names_the_actions_the_plaintext_revision_adds(baselines):
    gitbook = baselines.get("upsolver/management-role@gitbook")
    plaintext = baselines.get("upsolver/management-role@plaintext")
    diff = diff_revisions(gitbook, plaintext)
    assert diff.actions_added == ("iam:CreateServiceLinkedRole", "sts:DecodeAuthorizationMessage")
    assert diff.actions_removed == ()
    # ec2 actions moved between statements with the same resources: not a change
    assert diff.grants_changed == ()
    assert diff.managed_added == diff.managed_removed == ()
    assert (diff.trust_before, diff.trust_after) == (False, True)
    assert diff.trust_principals_added == (
        "AWS:arn:aws:iam::428641199958:role/upsolver-api",
        "AWS:arn:aws:iam::922761411349:root",
    )
    assert diff.placeholders_added == ("<get_from_upsolver>",)
    back = diff_revisions(plaintext, gitbook)
    assert back.actions_removed == diff.actions_added
    assert back.actions_added == ()
    assert "+ allow iam:CreateServiceLinkedRole" in diff.lines()
    assert json.loads(json.dumps(diff.to_json()))["actions_added"] == list(diff.actions_added)


def test_diff_sees_changed_resources_and_conditions(tmp_path):
    before = load_baseline_file(write(tmp_path, "reader-role.yaml", MINIMAL))
    changed = MINIMAL.replace("revision: r1", "revision: r2").replace(
        '"arn:aws:s3:::b/${aws:username}/ACCOUNT_ID"', '"arn:aws:s3:::*/ACCOUNT_ID"'
    )
    (tmp_path / "r2").mkdir()
    after = load_baseline_file(write(tmp_path / "r2", "reader-role@r2.yaml", changed))
    diff = diff_revisions(before, after)
    assert diff.actions_added == diff.actions_removed == ()
    assert [c.action for c in diff.grants_changed] == ["s3:GetObject"]
    assert diff.grants_changed[0].after == ('Resource=["arn:aws:s3:::*/ACCOUNT_ID"]',)
    assert diff_revisions(before, before).is_empty


def test_baseline_files_are_found_whatever_the_case_of_their_suffix(tmp_path):
    write(tmp_path, "reader-role.YAML", MINIMAL)
    assert load_bundled_baselines([tmp_path]).get("acme/reader-role").title == "ACME reader"
    assert resolve_baseline(str(tmp_path / "reader-role.YAML")).id == "acme/reader-role"


def test_user_directory_adds_and_overrides(tmp_path):
    write(tmp_path, "reader-role.yaml", MINIMAL)
    override = (bundled_baselines_dir() / "upsolver" / "server-role.yaml").read_text(encoding="utf-8")
    (tmp_path / "upsolver").mkdir()
    write(
        tmp_path / "upsolver",
        "server-role.yaml",
        override.replace("title: Upsolver server role", "title: Ours"),
    )
    loaded = load_bundled_baselines([tmp_path])
    assert loaded.get("acme/reader-role").title == "ACME reader"
    assert loaded.get("upsolver/server-role").title == "Ours"
    assert resolve_baseline(str(tmp_path / "reader-role.yaml")).id == "acme/reader-role"
    assert resolve_baseline("upsolver/server-role").title == "Upsolver server role"


@pytest.mark.parametrize(
    ("change", "line", "message"),
    [
        (("kind: identity", "kind: trust"), 11, "a trust policy goes in 'trust_policy'"),
        (("vendor: ACME", "vendor: ACME\ncolour: blue"), 5, "unknown key 'colour'"),
        (("token: ACCOUNT_ID", "token: ACCOUNT_NR"), 8, "does not occur in any policy"),
        (("{kind: role,", "{kind: robot,"), 5, "principal kind 'robot'"),
        (("name: AccountId}", "name: AccountId, usualy: Region}"), 8, "unknown placeholder key 'usualy'"),
        (("name: AccountId}", "name: AccountId, scope: trusts}"), 8, "scope 'trusts' must be one of trust, policies"),
        (("name: AccountId}", "name: AccountId, scope: trust}"), 8, "that its scope 'trust' covers"),
        (("name: AccountId}", "name: AccountId}\n  - {token: ACCOUNT_ID, name: Other, scope: policies}"), 9,
         "'ACCOUNT_ID' is declared twice for the same documents"),
        (("id: acme/reader-role", "id: acme/writer-role"), 1, "does not match the file name"),
        (("      Statement:\n", "      Statements:\n"), 13, "needs a non-empty 'Statement'"),
        (("title: ACME reader\n", "title: [ACME\n"), 4, "invalid YAML"),
        (
            ("provenance: {document: acme.md,", "provenance: {document: acme.md, document: b,"),
            6,
            "invalid YAML",
        ),
    ],
)
def test_bad_files_fail_with_file_line_and_reason(tmp_path, change, line, message):
    path = write(tmp_path, "reader-role.yaml", MINIMAL.replace(*change, 1))
    with pytest.raises(BaselineError) as caught:
        load_baseline_file(path)
    assert message in str(caught.value)
    assert str(caught.value).startswith(f"{path}:{line}:")


def test_placeholder_cannot_be_an_iam_variable(tmp_path):
    text = MINIMAL.replace("token: ACCOUNT_ID, name: AccountId", "token: '${aws:username}', name: User")
    with pytest.raises(BaselineError, match="IAM policy variable"):
        load_baseline_file(write(tmp_path, "reader-role.yaml", text))


def test_an_example_value_must_match_its_own_shape(tmp_path):
    text = MINIMAL.replace("token: ACCOUNT_ID, name: AccountId",
                           "token: ACCOUNT_ID, name: AccountId, kind: example-value, matches: '[0-9]*'")
    with pytest.raises(BaselineError, match="does not match"):
        load_baseline_file(write(tmp_path, "reader-role.yaml", text))


def test_two_defaults_or_none_for_several_revisions_is_an_error(tmp_path):
    write(tmp_path, "reader-role@r1.yaml", MINIMAL.replace("revision: r1", "revision: r1\ndefault: true"))
    write(tmp_path, "reader-role@r2.yaml", MINIMAL.replace("revision: r1", "revision: r2\ndefault: true"))
    with pytest.raises(BaselineError, match="both 'r1' and 'r2' are marked"):
        load_bundled_baselines([tmp_path])
    write(tmp_path, "reader-role@r1.yaml", MINIMAL)
    write(tmp_path, "reader-role@r2.yaml", MINIMAL.replace("revision: r1", "revision: r2"))
    with pytest.raises(BaselineError, match="none is marked 'default: true'"):
        load_bundled_baselines([tmp_path])


def test_missing_extra_path_is_an_error(tmp_path):
    with pytest.raises(BaselineError, match="no such file or directory"):
        load_bundled_baselines([tmp_path / "nowhere"])


def test_a_checked_baseline_is_read_back_from_the_cache_without_yaml(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The second load gives equal baselines from JSON (ruamel is not even imported); any edit is parsed again."""
    import subprocess
    import sys

    monkeypatch.setenv("IAM_AUDIT_CACHE_DIR", str(tmp_path / "cache"))
    parsed = list(load_bundled_baselines())
    cached_files = sorted((tmp_path / "cache").glob("baseline-*.json"))
    assert len(cached_files) == len(list(_baseline_file_paths()))
    again = list(load_bundled_baselines())
    assert again == parsed and all(a.path == b.path for a, b in zip(again, parsed, strict=True))
    probe = ("import sys; from auditor.baselines import load_bundled_baselines; "
             "assert len(load_bundled_baselines()) > 0; print('ruamel.yaml' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                            env={**os.environ, "IAM_AUDIT_CACHE_DIR": str(tmp_path / "cache")})
    assert result.stdout.strip() == "False", result.stderr
    cached_files[0].write_text('{"not": "a baseline"}', encoding="utf-8")
    assert list(load_bundled_baselines()) == parsed, "a damaged cache entry is parsed again"
    own = tmp_path / "acme" / "reader-role.yaml"
    own.parent.mkdir()
    own.write_text(MINIMAL, encoding="utf-8")
    assert load_baseline_file(own).id == "acme/reader-role"
    own.write_text(MINIMAL.replace("kind: identity", "kind: identiti"), encoding="utf-8")
    with pytest.raises(BaselineError) as raised:
        load_baseline_file(own)
    assert raised.value.line > 0, "an edited file is checked again, with its line"


def _baseline_file_paths() -> list[Path]:
    return sorted(p for p in bundled_baselines_dir().rglob("*.yaml"))


@pytest.mark.parametrize(("name", "pattern", "matches", "could"), [
    # a placeholder where the pattern leaves a run open: the name fits
    ("StackStateEventBridgeRole-{{AWS::Region}}", "StackStateEventBridgeRole-*", True, True),
    ("stackstateeventbridgerole-{{AWS::Region}}", "StackStateEventBridgeRole-*", True, True),
    ("UpsolverServerRole-{{var.region}}", "Upsolver*ServerRole*", True, True),
    ("Upsolver{{var.env}}ServerRole", "Upsolver*ServerRole*", True, True),
    ("Upsolver{{AWS::StackName}}ServerRole", "Upsolver*ServerRole*", True, True),
    ("UpsolverServerRole-{{unique suffix}}", "Upsolver*ServerRole*", True, True),
    # the literal part contradicts the pattern, or would have to come from the placeholder: no match
    ("Other-{{AWS::Region}}", "StackStateEventBridgeRole-*", False, False),
    # a placeholder is never empty: a name that starts with a stack name does not start with the pattern's letters
    ("{{AWS::StackName}}UpsolverServerRole", "Upsolver*ServerRole*", False, True),
    ("{{AWS::StackName}}StackStateEventBridgeRole-x", "StackStateEventBridgeRole-*", False, True),
    ("Role{{x}}", "Role", False, False),
    ("Role{{x}}", "Role?", True, True),
    ("{{AWS::StackName}}-EventBridgeRole", "StackStateEventBridgeRole-*", False, True),
    ("StackStateEventBridgeRole{{AWS::Region}}", "StackStateEventBridgeRole-*", False, True),
    ("Upsolver{{var.x}}", "Upsolver*ServerRole*", False, True),
    ("ab{{x}}", "a?[bc]", False, True),
    # wholly unknown: it could be any baseline's, and is none's
    ("{{Ref:RoleName}}", "Upsolver*ServerRole*", False, True),
    ("{{var.a}}-{{var.b}}", "UpsolverUser*", False, True),
    ("{{var.a}}", "*", True, True),
    # literal names as before
    ("UpsolverServerRole", "Upsolver*ServerRole*", True, True),
    ("Other", "Upsolver*ServerRole*", False, False),
])
def test_a_name_built_at_deploy_time_matches_where_its_placeholders_fall_on_wildcards(
        name: str, pattern: str, matches: bool, could: bool) -> None:
    spec = PrincipalSpec("role", (pattern,))
    assert (spec.matches(name), spec.could_match(name)) == (matches, could)


def test_a_name_is_unknown_when_no_letter_or_digit_is_known() -> None:
    assert name_is_unknown("{{Ref:RoleName}}") and name_is_unknown("{{var.a}}-{{var.b}}")
    assert name_is_unknown("{{format('%s-role', var.name)}}")
    assert not name_is_unknown("UpsolverServerRole-{{var.region}}")
    assert not name_is_unknown("UpsolverServerRole") and not name_is_unknown("aws_iam_role.server")


def test_every_aws_managed_policy_a_baseline_attaches_has_its_document() -> None:
    """drift counts what they grant as documented (rules/aws-managed-policies/); the copy is the corpus's (MAMIP)."""
    from auditor.baselines import load_bundled_baselines
    from auditor.knowledge import load_managed_policy_documents

    documents = load_managed_policy_documents()
    baselines = load_bundled_baselines()
    attached = {arn for ref in baselines.ids() for arn in (*baselines.get(ref).managed_policies,
                                                            *baselines.get(ref).optional_managed_policies)}
    assert attached and attached <= set(documents)
    for arn, entry in documents.items():
        assert entry.arn == arn and entry.version_id.startswith("v") and entry.document.get("Statement")
        corpus = SHARED / "corpus" / "aws-managed" / f"{entry.name}.json"
        if corpus.exists():  # without ../shared: the documents themselves are checked above
            assert json.loads(corpus.read_text(encoding="utf-8")) == entry.document, arn
