"""The built wheel carries rules/ and works on its own, outside the source tree."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO


@pytest.mark.slow
def test_wheel_ships_rules_and_runs_from_an_install(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(REPO)],
                   check=True, capture_output=True, timeout=300)
    (wheel,) = wheels.glob("iam_audit-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in ("auditor/py.typed", "auditor/rules/retired-actions.json", "auditor/rules/sensitive.yaml",
                     "auditor/rules/global-condition-keys.json", "auditor/rules/controls.yaml",
                     "auditor/rules/aws-managed-policies/AmazonAthenaFullAccess.json"):
        assert required in names
    assert any(n.startswith("auditor/rules/escalation/") for n in names)
    assert any(n.startswith("auditor/rules/baselines/") and n.endswith(".yaml") for n in names)
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    probe = (
        "import auditor, auditor.knowledge as k, auditor.knowledge_catalog as kc;"
        "from pathlib import Path;"
        f"assert Path(auditor.__file__).resolve().parent.parent == Path({str(target)!r}).resolve(), auditor.__file__;"
        "assert k.rules_dir() == Path(auditor.__file__).resolve().parent / 'rules', k.rules_dir();"
        "assert kc.load_retired_actions().is_retired_service('codestar');"
        "assert len(k.load_escalation_paths()) > 20;"
        "print('ok')"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=tmp_path,
                            timeout=120)
    assert result.stdout.strip() == "ok", result.stderr
