"""Speed and memory of iam-audit against its peers, whole process, on the same inputs.

Run by ``make bench`` (never by ``make test``)::

    python tests/bench/run_bench.py [--runs 3] [--json out.json] [--only folder,small]

Each workload runs every tool once per round, rounds interleaved, so a burst of load
on the machine hits all tools alike. Times are whole-process wall-clock seconds and
CPU seconds (user + system, steadier than wall time on a shared machine); peak memory
is ``ru_maxrss`` from ``os.wait4`` (the largest of the process and its workers) and, on
Linux, the largest sum over the process tree sampled every 20 ms (of PSS, so that pages the
forked workers share with their parent count once). The table shows medians and the
peer's median divided by iam-audit's (``12.3x`` = iam-audit is 12.3 times faster).

iam-audit runs cold (its stored results of earlier runs emptied before each run, the
catalogue cache kept, as on a CI runner that restores only the catalogue); on the folder it
also runs as "(stored results)", as a second run on a developer's machine does. Without
``--jobs`` it picks its own number of processes (one per core for 200 files or more); the
``jobs`` workload pins ``--jobs 1`` and ``--jobs 2``. CPU seconds include the workers.

A workload whose input is missing is skipped, and the table says so. A peer that is
not installed is skipped the same way.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
CORPUS = SHARED / "corpus"
TEN_X = Path(tempfile.gettempdir()) / "account-large-10x.json"

# parliament's own `--directory` loop stops at the first policy it cannot analyse (1.6.4 raises "Unknown data
# format: ArrayOfARN" on two AWS managed policies, about half-way in directory order), so timing it would time
# a run of an arbitrary part of the folder. This is that loop, going on past such a file as a user would have
# to, with parliament's defaults (its configuration, findings of severity LOW and above, printed as JSON).
PARLIAMENT_FOLDER_DRIVER = """
import sys
import parliament.cli as cli
from parliament import analyze_policy_string
failed, findings = [], []
for path in cli.find_files(directory=sys.argv[1]):
    with open(path) as handle:
        contents = handle.read()
    try:
        findings.extend(analyze_policy_string(contents, path, config=cli.config).findings)
    except Exception as exc:
        failed.append(f"{path}: {type(exc).__name__}: {exc}")
for finding in map(cli.enhance_finding, findings):
    if not cli.is_finding_filtered(finding, "LOW"):
        cli.print_finding(finding, False, True)
sys.stderr.write("".join(f"parliament failed on {line}\\n" for line in failed))
sys.exit(1 if findings else 0)
"""

CLOUDSPLAINING_FOLDER_DRIVER = """
import json, sys
from pathlib import Path
from cloudsplaining.command.scan_policy_file import scan_policy
from cloudsplaining.shared.constants import DEFAULT_EXCLUSIONS_CONFIG
found = 0
for path in sorted(Path(sys.argv[1]).rglob("*.json")):
    results = scan_policy(json.loads(path.read_text(encoding="utf-8")), DEFAULT_EXCLUSIONS_CONFIG)
    found += sum(len(v.get("findings", [])) for v in results.values() if isinstance(v, dict))
print(found)
"""


@dataclass
class Command:
    tool: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path = REPO
    peer: bool = False
    fresh_results: bool = False
    """Empty iam-audit's stored results before each run (a cold run: every file checked)."""


@dataclass
class Sample:
    wall: float
    cpu: float
    rss_mb: float
    exit_code: int
    tree_mb: float = 0.0
    """Largest sum of the resident memory of the process and its workers, sampled every 20 ms (Linux)."""
    failed: bool = False
    """The run crashed (a traceback) or gave an exit code other than 0 or 1: its time is not a full run's."""


def _tree_rss_kb(pid: int) -> int:
    """Memory of ``pid`` and all its descendants, from /proc (0 where unavailable): the sum of their PSS, in which
    a page that forked workers still share with their parent counts once (the sum of VmRSS where the kernel has
    no smaps_rollup)."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            total += _pss_kb(current)
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children", encoding="ascii") as children:
                    pending.extend(int(child) for child in children.read().split())
        except (OSError, ValueError):
            continue
    return total


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii", errors="replace") as rollup:
            return next((int(line.split()[1]) for line in rollup if line.startswith("Pss:")), 0)
    except OSError:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
            return next((int(line.split()[1]) for line in status if line.startswith("VmRSS:")), 0)


class _TreeSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak_kb = pid, 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.02):
            self.peak_kb = max(self.peak_kb, _tree_rss_kb(self.pid))


@dataclass
class Workload:
    name: str
    description: str
    inputs: tuple[Path, ...]
    commands: list[Command]
    skipped: str | None = None
    samples: dict[str, list[Sample]] = field(default_factory=dict)


def run_once(command: Command, scratch: Path) -> Sample:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(command.env)
    if command.fresh_results and "IAM_AUDIT_CACHE_DIR" in command.env:
        shutil.rmtree(Path(command.env["IAM_AUDIT_CACHE_DIR"]) / "results", ignore_errors=True)
    start = time.perf_counter()
    with open(scratch / "stdout.txt", "wb") as out, open(scratch / "stderr.txt", "wb") as err:
        process = subprocess.Popen(command.argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env,
                                   cwd=command.cwd)
        sampler = _TreeSampler(process.pid)
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        sampler.done.set()
        sampler.join()
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    rss_kb = usage.ru_maxrss if sys.platform != "darwin" else usage.ru_maxrss / 1024
    return Sample(wall, usage.ru_utime + usage.ru_stime, rss_kb / 1024, process.returncode,
                  max(sampler.peak_kb, rss_kb) / 1024)


def iam_audit(root: Path, label: str, args: Sequence[str], cache: Path, fresh_results: bool = True) -> Command:
    return Command(label, [sys.executable, "-m", "auditor", "check", *args],
                   env={"PYTHONPATH": str(root), "IAM_AUDIT_CACHE_DIR": str(cache)}, cwd=root,
                   fresh_results=fresh_results)


def have_module(name: str) -> bool:
    probe = subprocess.run([sys.executable, "-c", f"import {name}"], capture_output=True)
    return probe.returncode == 0


def supports_jobs(root: Path) -> bool:
    probe = subprocess.run([sys.executable, "-m", "auditor", "check", "--help"], capture_output=True, text=True,
                           env={**os.environ, "PYTHONPATH": str(root)}, cwd=root)
    return "--jobs" in probe.stdout


def build_workloads(args: argparse.Namespace, scratch: Path) -> list[Workload]:
    roots = [(REPO, "iam-audit")] + [(Path(p).resolve(), f"iam-audit@{Path(p).name}") for p in args.compare]
    cache = scratch / "catalog-cache"
    have_parliament = have_module("parliament")
    have_cloudsplaining = have_module("cloudsplaining")
    cloudsplaining_bin = shutil.which("cloudsplaining", path=str(Path(sys.executable).parent)) or "cloudsplaining"
    parliament_bin = shutil.which("parliament", path=str(Path(sys.executable).parent)) or "parliament"
    small = CORPUS / "aws-managed" / "AmazonS3ReadOnlyAccess.json"
    folder = CORPUS / "aws-managed"
    account = CORPUS / "account-large.json"
    workloads: list[Workload] = []
    out = scratch / "out"
    out.mkdir(exist_ok=True)

    def ours(extra: Sequence[str], target: Path) -> list[Command]:
        return [iam_audit(root, label, [*extra, str(target)], cache) for root, label in roots]

    commands = ours([], small)
    if have_parliament:
        commands.append(Command("parliament", [parliament_bin, "--files", str(small)], peer=True))
    if have_cloudsplaining:
        commands.append(Command("cloudsplaining", [cloudsplaining_bin, "scan-policy-file", "--input-file",
                                                   str(small)], peer=True))
    workloads.append(Workload("small", "one small policy file (start-up)", (small,), commands))

    commands = []
    for root, label in roots:  # each tree's second run reads what its cold run just stored
        commands.append(iam_audit(root, label, [str(folder)], cache))
        commands.append(iam_audit(root, f"{label} (stored results)", [str(folder)], cache, fresh_results=False))
    if have_parliament:
        commands.append(Command("parliament", [sys.executable, "-c", PARLIAMENT_FOLDER_DRIVER, str(folder)],
                                peer=True))
    if have_cloudsplaining:
        commands.append(Command("cloudsplaining", [sys.executable, "-c", CLOUDSPLAINING_FOLDER_DRIVER,
                                                   str(folder)], peer=True))
    workloads.append(Workload("folder", "1,452 AWS managed policies, every rule", (folder,), commands))

    commands = ours([], account)
    if have_cloudsplaining and not args.no_slow_peers:
        commands.append(Command("cloudsplaining", [cloudsplaining_bin, "scan", "--input-file", str(account),
                                                   "--output", str(out), "--skip-open-report"], peer=True))
    workloads.append(Workload("account", "account-large.json: 2,000 roles, 300 users", (account,), commands))

    ten_x = Path(args.ten_x)
    if args.make_10x and not ten_x.exists() and (CORPUS / "make_account.py").exists():
        subprocess.run([sys.executable, str(CORPUS / "make_account.py"), "--roles", "20000", "--users", "3000",
                        "--groups", "500", "--policies", "5000", "--out", str(ten_x)], check=True)
    workloads.append(Workload("account-10x", "10x account (make_account.py, ~160 MB)", (ten_x,), ours([], ten_x)))

    jobs_commands = []
    for root, label in roots:
        if not supports_jobs(root):
            continue
        for count in (1, 2):
            jobs_commands.append(iam_audit(root, f"{label} --jobs {count}", ["--jobs", str(count), str(folder)],
                                           cache))
        jobs_commands.append(iam_audit(root, f"{label} --jobs 1 (account)", ["--jobs", "1", str(account)], cache))
        jobs_commands.append(iam_audit(root, f"{label} --jobs 2 (account)", ["--jobs", "2", str(account)], cache))
    jobs_workload = Workload("jobs", "--jobs 1 against --jobs 2: aws-managed folder, account-large", (folder,),
                             jobs_commands)
    if not jobs_commands:
        jobs_workload.skipped = "this iam-audit has no --jobs option"
    workloads.append(jobs_workload)

    for workload in workloads:
        missing = [p for p in workload.inputs if not p.exists()]
        if missing:
            workload.skipped = f"input missing: {', '.join(str(p) for p in missing)}"
    if args.only:
        wanted = set(args.only.split(","))
        for workload in workloads:
            if workload.name not in wanted and not workload.skipped:
                workload.skipped = "not selected (--only)"
    return workloads


def median(samples: list[Sample], attribute: str) -> float:
    return statistics.median(getattr(s, attribute) for s in samples)


def summarise(workloads: list[Workload]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for workload in workloads:
        if workload.skipped:
            rows.append({"workload": workload.name, "skipped": workload.skipped})
            continue
        reference = workload.commands[0].tool
        ref_wall = median(workload.samples[reference], "wall")
        ref_cpu = median(workload.samples[reference], "cpu")
        for command in workload.commands:
            samples = workload.samples[command.tool]
            wall, cpu = median(samples, "wall"), median(samples, "cpu")
            rows.append({
                "workload": workload.name,
                "tool": command.tool,
                "runs": len(samples),
                "wall_median_s": round(wall, 3),
                "wall_all_s": [round(s.wall, 3) for s in samples],
                "cpu_median_s": round(cpu, 3),
                "peak_rss_mb": round(max(s.rss_mb for s in samples), 1),
                "peak_tree_mb": round(max(s.tree_mb for s in samples), 1),
                "exit_codes": sorted({s.exit_code for s in samples}),
                "failed_runs": sum(s.failed for s in samples),
                "wall_ratio": round(wall / ref_wall, 2) if ref_wall else None,
                "cpu_ratio": round(cpu / ref_cpu, 2) if ref_cpu else None,
            })
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    header = (f"{'workload':<12} {'tool':<34} {'wall s':>8} {'cpu s':>8} {'peak MB':>8} {'all MB':>8} {'x wall':>8} "
              f"{'x cpu':>7}  runs")
    print(header)
    print("-" * len(header))
    for row in rows:
        if "skipped" in row:
            print(f"{row['workload']:<12} skipped: {row['skipped']}")
            continue
        failed = f"  FAILED {row['failed_runs']} run(s)" if row["failed_runs"] else ""
        print(f"{row['workload']:<12} {row['tool']:<34} {row['wall_median_s']:>8.3f} {row['cpu_median_s']:>8.3f} "
              f"{row['peak_rss_mb']:>8.1f} {row['peak_tree_mb']:>8.1f} {row['wall_ratio']:>7.2f}x "
              f"{row['cpu_ratio']:>6.2f}x  "
              f"{' '.join(f'{w:.2f}' for w in row['wall_all_s'])}"
              f"{failed}")
    print("\npeak MB: the largest single process; all MB: the largest sum over the process and its workers "
          "(PSS: pages they share count once).")
    print("x wall / x cpu: the tool's median over the first row's median of the same workload "
          "(above 1 = slower than iam-audit).")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="timed runs per tool and workload (default 3)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--only", help="comma-separated workloads: small,folder,account,account-10x,jobs")
    parser.add_argument("--compare", action="append", default=[], metavar="ROOT",
                        help="another iam-audit source tree to time beside this one (e.g. an older checkout)")
    parser.add_argument("--ten-x", default=str(TEN_X), help=f"the 10x account file (default {TEN_X})")
    parser.add_argument("--make-10x", action="store_true", help="generate the 10x account file when missing")
    parser.add_argument("--no-slow-peers", action="store_true",
                        help="leave out cloudsplaining scan on the account (about a minute per run)")
    parser.add_argument("--no-warmup", action="store_true", help="skip the untimed first run of every command")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="iam-audit-bench-") as tmp:
        scratch = Path(tmp)
        workloads = build_workloads(args, scratch)
        active = [w for w in workloads if not w.skipped]
        if not args.no_warmup:
            for workload in active:
                for command in workload.commands:
                    if not command.peer:
                        run_once(command, scratch)
        for round_number in range(args.runs):
            for workload in active:
                for command in workload.commands:
                    sample = run_once(command, scratch)
                    errors = (scratch / "stderr.txt").read_text(errors="replace")
                    # exit code 1 is "findings" for every tool here, and also what an uncaught exception gives
                    if sample.exit_code not in (0, 1) or "Traceback (most recent call last)" in errors:
                        sample.failed = True
                        print(f"{workload.name}/{command.tool}: FAILED, exit code {sample.exit_code}\n"
                              f"{errors[-2000:]}", file=sys.stderr)
                    elif "parliament failed on" in errors:
                        print(f"{workload.name}/{command.tool}: {errors.count('parliament failed on')} file(s) "
                              "it could not analyse were passed over", file=sys.stderr)
                    workload.samples.setdefault(command.tool, []).append(sample)
                    print(f"round {round_number + 1}/{args.runs} {workload.name:<12} {command.tool:<34} "
                          f"{sample.wall:7.2f} s {sample.rss_mb:8.1f} MB", file=sys.stderr, flush=True)
        rows = summarise(workloads)
    print_table(rows)
    if args.json:
        args.json.write_text(json.dumps({"cpus": os.cpu_count(), "load": os.getloadavg(), "rows": rows}, indent=2)
                             + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
