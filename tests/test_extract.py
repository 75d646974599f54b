from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from auditor.baselines import load_baseline_file, load_bundled_baselines
from auditor.extract import (
    extract_file,
    extract_text,
    find_placeholders,
    group_blocks,
    guess_policy_kind,
    run_extract,
    write_baselines,
)

DOCS = Path(__file__).resolve().parents[1] / "fixtures" / "docs"


@pytest.fixture(scope="module")
def seeds_dir() -> Path:
    shared = Path(__file__).resolve().parents[1].parent / "shared"
    if not shared.is_dir():
        pytest.skip("no ../shared next to the repository")
    return shared / "seeds"


def summary(path: Path) -> list[tuple[int, str | None, bool]]:
    return [(b.line, b.kind, b.error is not None) for b in extract_file(path).blocks]


# --------------------------------------------------------------------------- the seed documents

SEED_BLOCKS = {
    "000_47c5c1b424b9070c.txt": [(49, "identity", True), (158, "identity", False)],
    "001_79a0f7ecc5e73f2e.txt": [(85, "identity", False), (190, "trust", False), (246, "identity", False)],
    "002_1564a8151ff12dd6.txt": [(50, "trust", False)],
    "003_490ddbd6cfeee02b.txt": [
        (27, "trust", False),
        (51, "trust", False),
        (68, "identity", False),
        (307, "trust", False),
        (326, "identity", False),
        (347, "trust", False),
        (366, "identity", False),
        (409, None, False),
        (438, "resource", False),
    ],
    "004_3cc048cf01de6d62.txt": [(26, "identity", False)],
}


@pytest.mark.parametrize("name", sorted(SEED_BLOCKS))
def test_every_block_of_each_seed_is_found_and_classified(seeds_dir, name):
    assert summary(seeds_dir / name) == SEED_BLOCKS[name]


def test_malformed_management_block_is_located_and_repaired(seeds_dir):
    extraction = extract_file(seeds_dir / "000_47c5c1b424b9070c.txt")
    (broken,) = extraction.malformed
    assert (broken.line, broken.column, broken.language) == (49, 1, "http")
    assert broken.error is not None
    assert (broken.error.line, broken.error.column) == (51, 13)
    assert broken.repair is not None
    assert broken.repair.description == "inserted '{' at 51:5"
    assert broken.document is None
    assert broken.is_policy
    plaintext = extract_file(seeds_dir / "001_79a0f7ecc5e73f2e.txt").blocks[0].document
    added = {"iam:CreateServiceLinkedRole", "sts:DecodeAuthorizationMessage"}
    repaired_first = broken.repair.document["Statement"][0]
    plaintext_first = plaintext["Statement"][0]
    assert repaired_first["Action"] == [a for a in plaintext_first["Action"] if a not in added]
    assert repaired_first["Resource"] == plaintext_first["Resource"] == ["*"]
    assert broken.repair.document["Statement"][2:] == plaintext["Statement"][2:]


def test_extraction_reproduces_every_bundled_policy_document(seeds_dir):
    documents: dict[str, list[object]] = {}
    for baseline in load_bundled_baselines():
        if baseline.provenance.document not in documents:
            blocks = extract_file(seeds_dir / baseline.provenance.document).policies
            documents[baseline.provenance.document] = [b.effective_document for b in blocks]
        extracted = documents[baseline.provenance.document]
        for policy in baseline.all_policies:
            assert policy.document in extracted, f"{baseline.ref}: {policy.name}"


def test_extraction_finds_the_bundled_placeholders(seeds_dir):
    for baseline in load_bundled_baselines():
        blocks = extract_file(seeds_dir / baseline.provenance.document).policies
        wanted = [b for b in blocks if any(p.document == b.effective_document for p in baseline.all_policies)]
        detected = {token for block in wanted for token in block.placeholders}
        declared = {p.token for p in baseline.placeholders if p.kind == "placeholder"}
        assert detected == declared, baseline.ref


def test_the_event_rule_is_not_a_policy(seeds_dir):
    rule = [b for b in extract_file(seeds_dir / "003_490ddbd6cfeee02b.txt").blocks if not b.is_policy]
    assert [b.line for b in rule] == [409]
    assert rule[0].document["source"][0] == "aws.apigateway"


def test_seed_documents_group_like_the_bundled_baselines(seeds_dir, tmp_path):
    counts = {}
    for name in sorted(SEED_BLOCKS):
        text = (seeds_dir / name).read_text(encoding="utf-8")
        extraction = extract_text(text, source=name)
        counts[name] = [[b.line for b in group] for group in group_blocks(extraction.blocks, text)]
    assert counts == {
        "000_47c5c1b424b9070c.txt": [[49], [158]],
        "001_79a0f7ecc5e73f2e.txt": [[85, 190], [246]],
        "002_1564a8151ff12dd6.txt": [[50]],
        "003_490ddbd6cfeee02b.txt": [[27, 51, 68], [307, 326], [347, 366], [438]],
        "004_3cc048cf01de6d62.txt": [[26]],
    }


def test_extract_command_on_the_seeds_writes_loadable_baselines(seeds_dir, tmp_path):
    out, err = io.StringIO(), io.StringIO()
    paths = [seeds_dir / name for name in sorted(SEED_BLOCKS)]
    assert run_extract(paths, tmp_path, "console", stdout=out, stderr=err) == 1
    report = out.getvalue()
    assert "000_47c5c1b424b9070c.txt:51:13: malformed JSON in block at" in report
    assert "000_47c5c1b424b9070c.txt:51:5: repair: inserted '{' at 51:5" in report
    assert err.getvalue() == ""
    written = sorted(tmp_path.rglob("*.yaml"))
    assert len(written) == 10
    loaded = load_bundled_baselines([tmp_path])
    eventbridge = loaded.get("stackstate/stackstateeventbridgerole")
    bundled = loaded.get("stackstate/eventbridge-role")
    assert eventbridge.principal.name_patterns == ("StackStateEventBridgeRole-*",)
    assert eventbridge.trust_policy is not None
    assert bundled.trust_policy is not None
    assert eventbridge.trust_policy.document == bundled.trust_policy.document
    assert [p.document for p in eventbridge.policies] == [p.document for p in bundled.policies]
    management = loaded.get("upsolver/upsolvermanagementrole")
    assert any("inserted '{' at 51:5" in defect for defect in management.defects)
    assert management.provenance.vendor_url == loaded.get("upsolver/management-role").provenance.vendor_url
    s3_access = loaded.get("004-3cc048cf01de6d62/aws-s3-permissions")
    assert s3_access.principal.kind == loaded.get("upsolver/s3-access").principal.kind == "user"
    assert "block at line 26: 's3:ListObject' is not an IAM action (it grants nothing)" in s3_access.defects


# --------------------------------------------------------------------------- the project's fixtures


def test_markdown_fences_of_any_tag_and_several_objects_in_one_fence():
    extraction = extract_file(DOCS / "fenced.md")
    blocks = extraction.blocks
    assert [(b.line, b.column, b.language, b.kind) for b in blocks] == [
        (12, 1, "json", "trust"),
        (28, 1, None, "identity"),
        (51, 1, "JavaScript", "trust"),
        (55, 1, "JavaScript", "identity"),
    ]
    assert blocks[0].placeholders == ("<vendor_account_id>", "${ExternalId}")
    assert blocks[1].placeholders == ("${BucketName}",)
    assert blocks[3].placeholders == ("UPLOAD_BUCKET",)
    assert extraction.malformed == ()


def test_html_pre_blocks_are_unescaped_and_located_in_the_html():
    extraction = extract_file(DOCS / "page.html")
    policy, broken = extraction.blocks
    assert (policy.line, policy.column, policy.container, policy.kind) == (10, 34, "pre", "resource")
    assert policy.document["Statement"][0]["Resource"] == "arn:aws:s3:::<your_bucket>/*"
    assert policy.placeholders == ("<vendor_account>", "<your_bucket>")
    assert policy.heading == "Bucket policy"
    assert extraction.vendor_url == "https://docs.example-vendor.com/setup/bucket-policy"
    assert broken.error is not None
    assert (broken.error.line, broken.error.column) == (26, 51)
    assert broken.repair is not None
    assert broken.repair.description == "inserted ',' at 26:51"


def test_plain_text_objects_in_running_text():
    blocks = extract_file(DOCS / "plain.txt").blocks
    assert [(b.line, b.column, b.end_line, b.container, b.kind) for b in blocks] == [
        (9, 1, 18, "text", "identity"),
        (20, 38, 21, "text", "trust"),
    ]
    assert blocks[1].placeholders == ("ACCOUNT_ID",)


def test_json_that_is_not_a_policy():
    blocks = extract_file(DOCS / "not-policies.md").blocks
    assert [(b.line, b.is_policy, b.error) for b in blocks] == [
        (6, False, None),
        (15, False, None),
        (21, False, None),
    ]


def test_broken_blocks_get_a_repair_only_when_one_edit_is_unambiguous():
    repairable, hopeless = extract_file(DOCS / "broken.md").blocks
    assert repairable.error is not None
    assert repairable.repair is not None
    assert repairable.repair.description == "inserted '{' at 11:7"
    assert [s["Action"] for s in repairable.repair.document["Statement"]] == [
        "ec2:DescribeInstances",
        "ec2:StartInstances",
    ]
    assert hopeless.error is not None
    assert (hopeless.error.line, hopeless.error.column) == (36, 7)
    assert hopeless.repair is None
    assert hopeless.repair_note == "no single-character edit makes it a valid policy"
    assert not hopeless.is_policy


def test_a_repair_that_would_hide_a_duplicate_key_is_not_offered():
    text = '{"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*" "Effect": "Deny"}]}'
    (block,) = extract_text(text).blocks
    assert block.error is not None
    assert block.repair is None


def test_a_huge_broken_block_is_reported_without_a_repair_search():
    statement = '{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}'
    statements = ", ".join(statement for _ in range(400))
    text = '{"Statement": [' + statements.replace("}, {", "} {", 1) + "]}"
    (block,) = extract_text(text).blocks
    assert block.error is not None
    assert block.repair is None
    assert block.repair_note is not None
    assert block.repair_note.startswith("not searched for a repair")


def test_extract_command_exit_codes_and_json(tmp_path):
    out, err = io.StringIO(), io.StringIO()
    assert run_extract([DOCS / "fenced.md", DOCS / "plain.txt"], None, "console", stdout=out, stderr=err) == 0
    assert re.search(r"^.*fenced\.md:12:1: trust policy \(```json\), 1 statement", out.getvalue(), re.M)
    assert run_extract([DOCS / "broken.md"], None, "console", stdout=io.StringIO(), stderr=err) == 1
    missing = tmp_path / "missing.md"
    err = io.StringIO()
    assert run_extract([missing, DOCS / "broken.md"], None, "console", stdout=io.StringIO(), stderr=err) == 2
    assert err.getvalue().startswith(f"iam-audit: error: {missing}: cannot read: No such file")
    latin = tmp_path / "latin.md"
    latin.write_bytes(b"# Policy\n\ncaf\xe9\n")
    err = io.StringIO()
    assert run_extract([latin], None, "console", stdout=io.StringIO(), stderr=err) == 2
    assert err.getvalue() == f"iam-audit: error: {latin}:3:4: not valid UTF-8 (byte 0xe9): save the file as UTF-8\n"
    out = io.StringIO()
    assert run_extract([DOCS / "page.html"], None, "json", stdout=out, stderr=io.StringIO()) == 1
    data = json.loads(out.getvalue())
    blocks = data["documents"][0]["blocks"]
    assert [(b["line"], b["kind"], b["error"] is not None) for b in blocks] == [
        (10, "resource", False),
        (23, "identity", True),
    ]


def test_written_baselines_load_back(tmp_path):
    text = (DOCS / "fenced.md").read_text(encoding="utf-8")
    extraction = extract_text(text, source=str(DOCS / "fenced.md"))
    paths = write_baselines(extraction.blocks, tmp_path, vendor="Example Vendor", text=text)
    assert [p.relative_to(tmp_path).as_posix() for p in paths] == [
        "example-vendor/readerrole.yaml",
        "example-vendor/writerrole.yaml",
    ]
    reader = load_baseline_file(paths[0])
    assert reader.id == "example-vendor/readerrole"
    assert reader.trust_policy is not None
    assert reader.trust_policy.document == extraction.blocks[0].document
    assert [p.document for p in reader.policies] == [extraction.blocks[1].document]
    assert {(p.token, p.name) for p in reader.placeholders} == {
        ("<vendor_account_id>", "VendorAccountId"),
        ("${ExternalId}", "ExternalId"),
        ("${BucketName}", "BucketName"),
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("arn:aws:iam::${AccountId}:user/${aws:username}", ("${AccountId}",)),
        ("arn:aws:s3:::us-east-1-upsolver-UPSOLVER_ORG_ID/*", ("UPSOLVER_ORG_ID",)),
        ("arn:aws:iam::ACCOUNTID:role/x", ("ACCOUNTID",)),
        ("<get_from_upsolver>", ("<get_from_upsolver>",)),
        ("s3.${Region}.amazonaws.com", ("${Region}",)),
        ("arn:aws:s3:::bucket/${aws:PrincipalTag/team}/*", ()),
        ("AES256", ()),
    ],
)
def test_placeholder_detection(value, expected):
    policy = {
        "Statement": [{"Sid": "NOT_A_TOKEN", "Effect": "Allow", "Action": "s3:GetObject", "Resource": value}]
    }
    assert find_placeholders(policy) == expected


def test_policy_kind_guess():
    trust = {
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "x"}, "Action": "sts:AssumeRoleWithSAML"}]
    }
    resource = {
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}]
    }
    identity = {"Statement": {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}}
    assert [guess_policy_kind(d) for d in (trust, resource, identity)] == ["trust", "resource", "identity"]
