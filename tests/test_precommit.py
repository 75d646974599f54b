"""The pre-commit hook, with the real pre-commit: a bad policy blocks the commit, a clean one passes.

pre-commit clones the hook repository at a commit and pip-installs it into its own virtualenv
(dependencies come from PyPI), so the test snapshots this checkout, uncommitted changes included,
into a temporary git repository first.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow

BAD = {"Version": "2012-10-17",
       "Statement": [{"Sid": "Reports", "Effect": "Allow", "Action": "s3:GetObjekt",
                      "Resource": "arn:aws:s3:::reports/*"}]}
CLEAN = {"Version": "2012-10-17",
         "Statement": [{"Sid": "Reports", "Effect": "Allow", "Action": "s3:GetObject",
                        "Resource": "arn:aws:s3:::reports/*"}]}


def git(*args: str, cwd: Path, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    if check and result.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} in {cwd} exited {result.returncode}: {result.stderr.strip()}")
    return result


@pytest.fixture(scope="module")
def git_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    pytest.importorskip("pre_commit")
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)  # the hook must run the installed package, not this checkout
    env.update({
        "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "iam-audit tests", "GIT_AUTHOR_EMAIL": "tests@example.com",
        "GIT_COMMITTER_NAME": "iam-audit tests", "GIT_COMMITTER_EMAIL": "tests@example.com",
        "PRE_COMMIT_HOME": str(tmp_path_factory.mktemp("pre-commit-home")),
        "PRE_COMMIT_COLOR": "never",
    })
    return env


def snapshot_of_this_checkout(target: Path, env: dict[str, str]) -> str:
    """A git repository holding the working tree as it is now; returns its commit."""
    listed = git("ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=REPO, env=env).stdout
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():
            destination = target / name
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination)
    git("init", "-q", cwd=target, env=env)
    git("add", "-A", cwd=target, env=env)
    git("commit", "-q", "-m", "snapshot", cwd=target, env=env)
    return git("rev-parse", "HEAD", cwd=target, env=env).stdout.strip()


TERRAFORM = """resource "aws_iam_policy" "reports" {
  name = "reports"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{ Effect = "Allow",
      Action = ["ACTION"], Resource = "arn:aws:s3:::reports/*" }]
  })
}
"""


def test_bad_policy_blocks_the_commit_and_a_clean_one_passes(tmp_path: Path, git_env: dict[str, str]) -> None:
    hook_repo = tmp_path / "iam-audit"
    rev = snapshot_of_this_checkout(hook_repo, git_env)
    project = tmp_path / "project"
    (project / "iam").mkdir(parents=True)
    git("init", "-q", cwd=project, env=git_env)
    (project / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {json.dumps(str(hook_repo))}\n    rev: {rev}\n    hooks:\n      - id: iam-audit\n"
    )
    pre_commit = [sys.executable, "-m", "pre_commit"]
    installed = subprocess.run([*pre_commit, "install"], cwd=project, env=git_env, capture_output=True, text=True,
                               timeout=300)
    assert installed.returncode == 0, installed.stdout + installed.stderr

    (project / "iam" / "reports.json").write_text(json.dumps(BAD, indent=2) + "\n")
    (project / "package.json").write_text('{"name": "not-a-policy"}\n')
    (project / "iam" / "main.tf").write_text(TERRAFORM.replace("ACTION", "s3:GetObjekt"))
    git("add", "-A", cwd=project, env=git_env)
    blocked = git("commit", "-m", "add reports policy", cwd=project, env=git_env, check=False)
    output = blocked.stdout + blocked.stderr
    assert blocked.returncode != 0, output
    assert "iam-audit" in output and "Failed" in output
    assert "iam/reports.json:7:17: high IAM201 unknown-action 's3:GetObjekt' is not an action of Amazon S3" in output
    assert "iam/main.tf:6:17: high IAM201 unknown-action 's3:GetObjekt'" in output, output  # .tf files reach it too
    assert git("rev-list", "--all", cwd=project, env=git_env).stdout == ""  # nothing was committed

    (project / "iam" / "reports.json").write_text(json.dumps(CLEAN, indent=2) + "\n")
    (project / "iam" / "main.tf").write_text(TERRAFORM.replace("ACTION", "s3:GetObject"))
    git("add", "-A", cwd=project, env=git_env)
    passed = git("commit", "-m", "add reports policy", cwd=project, env=git_env, check=False)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "iam-audit" in passed.stdout + passed.stderr and "Passed" in passed.stdout + passed.stderr
    assert len(git("rev-list", "--all", cwd=project, env=git_env).stdout.split()) == 1
