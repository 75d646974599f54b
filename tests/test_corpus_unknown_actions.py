"""On every AWS managed policy, no unknown-action finding above info unless Access Analyzer agrees."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_json

ACCESS_ANALYZER_ACTION_CODES = {"INVALID_ACTION", "INVALID_SERVICE", "INVALID_SERVICE_IN_ACTION"}


def test_no_false_unknown_actions_on_aws_managed_policies(corpus_dir: Path) -> None:
    _, report = run_json(str(corpus_dir / "aws-managed"), "--select", "unknown-action")
    assert report["summary"]["files"] == 1452 and report["summary"]["policies"] == 1452
    flagged_by_aws: set[str] = set()
    for path in (corpus_dir / "aws-managed-findings").glob("*.json"):
        if any(f["issueCode"] in ACCESS_ANALYZER_ACTION_CODES for f in json.loads(path.read_text())):
            flagged_by_aws.add(path.stem)
    above_info = [f for f in report["findings"] if f["severity"] != "info"]
    for finding in above_info:
        assert Path(finding["location"]["path"]).stem in flagged_by_aws, finding
    retired = [f for f in report["findings"] if f["rule_id"] == "IAM203"]
    assert len(retired) >= 200
    assert all(f["severity"] == "info" for f in retired)
