"""Shared fixtures: the reference material in ../shared (skipped when absent) and CLI runners."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
FIXTURES = REPO / "fixtures"


@pytest.fixture(scope="session", autouse=True)
def _catalog_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Tests share one catalogue cache of their own, never the user's."""
    if "IAM_AUDIT_CACHE_DIR" not in os.environ:
        os.environ["IAM_AUDIT_CACHE_DIR"] = str(tmp_path_factory.getbasetemp() / "catalog-cache")
    yield


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared (reference corpus and seeds) is not available")
    return SHARED


@pytest.fixture(scope="session")
def corpus_dir(shared_dir: Path) -> Path:
    return shared_dir / "corpus"


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``iam-audit`` as a real process, as users and CI do."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    # the checkout first: a relative PYTHONPATH=. from the caller would not survive another cwd
    full_env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), full_env.get("PYTHONPATH", "")) if p)
    return subprocess.run(
        [sys.executable, "-m", "auditor", *args],
        capture_output=True, text=True, cwd=cwd or REPO, env=full_env, input=stdin, timeout=600,
    )


def run_json(*args: str, cwd: Path | None = None) -> tuple[int, dict[str, Any]]:
    result = run_cli("check", "--format", "json", *args, cwd=cwd)
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)
