"""Stored results: a file checked before with the same bytes and settings is read back, never a stale one."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from auditor import result_cache
from auditor.result_cache import (
    MIN_INPUT_BYTES,
    MIN_INPUT_FILES,
    RACY_NANOSECONDS,
    ResultStore,
    file_signature,
    settings_key,
)
from tests.conftest import run_cli

FILES = MIN_INPUT_FILES + 4


def _policy(number: int) -> dict[str, Any]:
    """A policy of some 40 KB with one unknown action, so that every file has a finding of its own."""
    actions = ["s3:GetObject", "s3:GetObjectVersion", f"s3:GetObjekt{number}"]
    resources = [f"arn:aws:s3:::bucket-{number}/prefix-{i:05d}/*" for i in range(1000)]
    return {"Version": "2012-10-17", "Statement": [{"Sid": f"Read{number}", "Effect": "Allow", "Action": actions,
                                                    "Resource": resources}]}


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "policies"
    folder.mkdir()
    for number in range(FILES):
        (folder / f"p{number:02d}.json").write_text(json.dumps(_policy(number), indent=2), encoding="utf-8")
    assert sum(p.stat().st_size for p in folder.iterdir()) >= MIN_INPUT_BYTES
    return tmp_path


def _check(project: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    result = run_cli("check", "--format", "json", *extra, "policies", cwd=project,
                     env={"IAM_AUDIT_CACHE_DIR": str(project / "cache")})
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)


def _stores(project: Path) -> list[Path]:
    folder = project / "cache" / "results"
    return sorted(folder.glob("results-*.json")) if folder.is_dir() else []


def _mark_stored_message(store: Path, file_name: str, text: str) -> None:
    """Change what the store says about one file, to tell a read-back outcome from a recomputed one."""
    data = json.loads(store.read_text(encoding="utf-8"))
    [entry] = [e for name, e in data["entries"].items() if name.endswith(file_name)]
    entry[3]["findings"][0]["message"] = text
    store.write_text(json.dumps(data), encoding="utf-8")


def _messages(document: dict[str, Any], file_name: str) -> list[str]:
    return [f["message"] for f in document["findings"] if f["location"]["path"].endswith(file_name)]


def test_second_run_reads_the_stored_outcome_and_reports_the_same(project: Path) -> None:
    first = _check(project)
    [store] = _stores(project)
    assert len(json.loads(store.read_text(encoding="utf-8"))["entries"]) == FILES
    assert _check(project) == first
    assert _check(project, "--no-cache") == first
    _mark_stored_message(store, "p03.json", "read back from the store")
    assert "read back from the store" in _messages(_check(project)[1], "p03.json")


def test_a_changed_file_is_checked_again_and_the_others_are_not(project: Path) -> None:
    _check(project)
    [store] = _stores(project)
    _mark_stored_message(store, "p01.json", "stored")
    _mark_stored_message(store, "p02.json", "stored")
    changed = _policy(2)
    changed["Statement"][0]["Action"].append("s4:GetObject")
    (project / "policies" / "p02.json").write_text(json.dumps(changed, indent=2), encoding="utf-8")
    _, document = _check(project)
    assert "stored" in _messages(document, "p01.json")
    fresh = _messages(document, "p02.json")
    assert "stored" not in fresh and any("'s4' is not an AWS service prefix" in m for m in fresh)
    assert [f for f in document["findings"] if f["location"]["path"].endswith("p02.json")] == [
        f for f in _check(project, "--no-cache")[1]["findings"] if f["location"]["path"].endswith("p02.json")
    ]


def test_other_settings_use_another_store(project: Path) -> None:
    everything = _check(project)
    _check(project, "--select", "IAM201")
    assert len(_stores(project)) == 2
    (project / ".iam-audit.toml").write_text('[severity]\nIAM201 = "low"\n', encoding="utf-8")
    code, lowered = _check(project)
    assert len(_stores(project)) == 3
    assert code == 0 and everything[0] == 1
    assert {f["severity"] for f in lowered["findings"] if f["rule_id"] == "IAM201"} == {"low"}
    assert lowered == _check(project, "--no-cache")[1]


@pytest.mark.parametrize("config", ['exclude = ["vendor/*"]\n', '[kinds]\n"scps/*" = "organization"\n'])
def test_globs_of_the_configuration_keep_the_store(project: Path, config: str) -> None:
    """Their folder is where globs are anchored, not an input: the files below it (the checked policies, the
    store itself) changing does not make another store."""
    (project / ".iam-audit.toml").write_text(config, encoding="utf-8")
    first = _check(project)
    [store] = _stores(project)
    _mark_stored_message(store, "p03.json", "read back from the store")
    assert "read back from the store" in _messages(_check(project)[1], "p03.json")
    assert _stores(project) == [store]
    assert _check(project, "--no-cache") == first


def _age(folder: Path) -> None:
    """Wait until every file in ``folder`` was last changed longer ago than a timestamp tick."""
    newest = max(max(p.stat().st_mtime_ns, p.stat().st_ctime_ns) for p in folder.iterdir())
    time.sleep(max(0.0, (newest + RACY_NANOSECONDS - time.time_ns()) / 1e9) + 0.05)


def test_a_file_rewritten_with_its_old_size_and_time_is_checked_again(project: Path) -> None:
    """The change time gives it away: ``cp -p``, ``rsync -t`` and editors that restore times cannot set it."""
    folder = project / "policies"
    _age(folder)
    _check(project)
    [store] = _stores(project)
    signatures = [entry[2] for entry in json.loads(store.read_text(encoding="utf-8"))["entries"].values()]
    assert all(signature is not None for signature in signatures), "files older than a tick are kept by stat"
    _mark_stored_message(store, "p04.json", "stored")
    _mark_stored_message(store, "p05.json", "stored")
    target = folder / "p05.json"
    before = target.stat()
    text = target.read_text(encoding="utf-8")
    assert "GetObjekt5" in text
    target.write_text(text.replace("GetObjekt5", "GetObjekx5"), encoding="utf-8")  # same size
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert target.stat().st_size == before.st_size and target.stat().st_mtime_ns == before.st_mtime_ns
    _, document = _check(project)
    assert "stored" in _messages(document, "p04.json")
    fresh = _messages(document, "p05.json")
    assert "stored" not in fresh and any("GetObjekx5" in message for message in fresh)


def test_store_lookup_by_signature_and_by_digest(tmp_path: Path) -> None:
    policy = tmp_path / "p.json"
    policy.write_text("{}", encoding="utf-8")
    info = policy.stat()
    assert file_signature(info, now_ns=info.st_ctime_ns + RACY_NANOSECONDS - 1) is None, "changed within a tick"
    signature = file_signature(info, now_ns=info.st_ctime_ns + RACY_NANOSECONDS)
    assert signature == [info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino]
    store = ResultStore("k", tmp_path)
    outcome: dict[str, Any] = {"findings": []}
    store.put("/abs/p.json", "p.json", "d1", None, outcome)
    assert store.get("/abs/p.json", "p.json", signature) is None, "a racy entry is found by digest only"
    assert store.knows("/abs/p.json", "p.json") and not store.knows("/abs/p.json", "elsewhere/p.json")
    assert store.get_by_digest("/abs/p.json", "p.json", "d2", signature) is None
    assert store.get_by_digest("/abs/p.json", "p.json", "d1", signature) is outcome
    assert store.get("/abs/p.json", "p.json", signature) is outcome, "the digest match kept the new signature"
    assert signature is not None
    assert store.get("/abs/p.json", "p.json", [*signature[:2], signature[2] + 1, signature[3]]) is None
    assert store.get("/abs/p.json", "p.json", None) is None
    store.save()
    assert ResultStore("k", tmp_path).get("/abs/p.json", "p.json", signature) == outcome


def test_results_with_a_time_window_are_never_stored(project: Path) -> None:
    timed = _policy(7)
    timed["Statement"][0]["Condition"] = {"DateLessThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}
    (project / "policies" / "p07.json").write_text(json.dumps(timed, indent=2), encoding="utf-8")
    _check(project)
    [store] = _stores(project)
    names = json.loads(store.read_text(encoding="utf-8"))["entries"]
    assert len(names) == FILES - 1 and not any(name.endswith("p07.json") for name in names)


def test_no_cache_stores_nothing_and_a_damaged_store_is_replaced(project: Path) -> None:
    _check(project, "--no-cache")
    assert _stores(project) == []
    reference = _check(project)
    [store] = _stores(project)
    for damage in ("not json", '{"format": 1, "entries": {"x": "y"}}', '[1, 2]', '{"format": 99, "entries": {}}'):
        store.write_text(damage, encoding="utf-8")
        assert _check(project) == reference
        assert len(json.loads(store.read_text(encoding="utf-8"))["entries"]) == FILES


def test_jobs_share_the_store(project: Path) -> None:
    reference = _check(project, "--jobs", "2")
    assert len(_stores(project)) == 1
    assert _check(project) == reference
    assert _check(project, "--jobs", "2") == reference


def test_small_inputs_use_no_store(project: Path) -> None:
    result = run_cli("check", "--format", "json", "policies/p00.json", "policies/p01.json", cwd=project,
                     env={"IAM_AUDIT_CACHE_DIR": str(project / "cache")})
    assert result.returncode == 1
    assert _stores(project) == []


def test_settings_key_follows_the_code_the_catalogue_and_the_settings(tmp_path: Path) -> None:
    key = settings_key("1", ("a",))
    assert settings_key("1", ("a",)) == key
    assert settings_key("2", ("a",)) != key
    assert settings_key("1", ("b",)) != key
    baseline = tmp_path / "baseline.json"
    baseline.write_text("{}", encoding="utf-8")
    with_file = settings_key("1", (str(baseline),))
    baseline.write_text('{"changed": true}', encoding="utf-8")
    assert settings_key("1", (str(baseline),)) != with_file, "a settings file stands for its contents"
    module = Path(result_cache.__file__)
    info = module.stat()
    try:
        os.utime(module, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000_000))
        assert settings_key("1", ("a",)) != key, "an edited module starts a new store"
    finally:
        os.utime(module, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert settings_key("1", ("a",)) == key
