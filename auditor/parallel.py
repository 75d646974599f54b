"""``check --jobs N``: load and check files in N worker processes, with the same findings as one process.

The parent discovers the files and cuts the list into contiguous chunks of similar
size; each worker loads and checks its chunks and sends back plain data (findings as
dicts, the bookkeeping of what was loaded), never the parsed documents. The parent
joins the chunks in file order, so after the usual sort the report is identical to a
single-process run. One file is never split: a single large export runs in one worker.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditor.engine import Selection
from auditor.loaders import (
    STDIN,
    LoadOptions,
    discover,
    display_path,
    in_terraform_module,
    load_file,
    standard_input_bytes,
)
from auditor.loaders.parse import ParseError, decode_bytes
from auditor.loaders.result import InlineSuppression, LoadResult
from auditor.model import Finding, InputError, Location, Policy, PolicyKind, Problem, Severity, StatementRef
from auditor.report import Verdict, excerpt_line_numbers
from auditor.run import DriftSettings
from auditor.source import Source

if TYPE_CHECKING:
    from auditor.catalog import Catalog
    from auditor.engine import CheckContext
    from auditor.result_cache import ResultStore

CHUNKS_PER_WORKER = 4
AUTO_MIN_FILES = 200
"""Without --jobs, this many files to check (after stored results), or one of SPLIT_BYTES, are checked in one
process per core: below it, starting the workers costs more than they save."""
AUTO_MAX_JOBS = 8
SPLIT_BYTES = 4 * 1024 * 1024
"""With several processes, a file this large (an account export) is checked by all of them, each taking a
share of its policies and principals; smaller files go whole to one process."""
SPLIT_MAX_BYTES = 64 * 1024 * 1024
"""Unless --jobs asks for it, a file larger than this is not shared out: every process holds the whole file,
and at this size the memory of several copies (about 0.5 GB each for a 160 MB export) outweighs the time."""


def usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


def effective_jobs(jobs: int | None, sizes: Mapping[Path, int]) -> int:
    """``0``: one worker per core; ``None``: one per core (up to 8) for many files or a large one, else one.

    ``sizes``: the files to check and their sizes in bytes.
    """
    if jobs is None:
        many = len(sizes) >= AUTO_MIN_FILES or any(_shared_out(size, any_size=False) for size in sizes.values())
        return min(usable_cores(), AUTO_MAX_JOBS) if many else 1
    return usable_cores() if jobs <= 0 else jobs


class FileSource(Source):
    """A source known by its path only: the lines a worker sent for excerpts, else the file read again."""

    __slots__ = ("_loaded", "known_lines")

    def __init__(self, display_path: str) -> None:
        super().__init__(display_path)
        self._loaded = False
        self.known_lines: dict[int, str | None] = {}

    def document_text(self) -> str | None:
        if not self._loaded:
            self._loaded = True
            try:
                if self.display_path == STDIN:
                    self.text = decode_bytes(standard_input_bytes(SPLIT_MAX_BYTES))  # read already: kept
                else:
                    with open(self.display_path, "rb") as handle:
                        self.text = decode_bytes(handle.read())
            except (OSError, ParseError):
                self.text = None
        return self.text

    def line_text(self, line: int) -> str | None:
        if line in self.known_lines:
            return self.known_lines[line]
        self.document_text()
        return super().line_text(line)


def chunk_files(files: Sequence[Path], sizes: Mapping[Path, int], pieces: int) -> list[list[str]]:
    """Contiguous runs of ``files`` with similar byte totals (order kept)."""
    weights = [max(sizes[path], 1) for path in files]
    target = sum(weights) / max(pieces, 1)
    chunks: list[list[str]] = [[]]
    filled = 0
    for path, size in zip(files, weights, strict=True):
        if chunks[-1] and filled + size > target:
            chunks.append([])
            filled = 0
        chunks[-1].append(str(path))
        filled += size
    return [chunk for chunk in chunks if chunk]


def finding_to_dict(finding: Finding) -> dict[str, Any]:
    location = finding.location
    return {
        "rule_id": finding.rule_id,
        "slug": finding.slug,
        "category": finding.category,
        "severity": finding.severity.value,
        "title": finding.title,
        "message": finding.message,
        "location": [location.path, location.line, location.column, location.pointer],
        "subject": dict(finding.subject) if finding.subject is not None else None,
        "statement": [finding.statement.index, finding.statement.sid, finding.statement.signature]
        if finding.statement else None,
        "baseline": finding.baseline,
        "details": dict(finding.details),
        "suppressed": finding.suppressed,
    }


def finding_from_dict(data: Mapping[str, Any]) -> Finding:
    statement = data["statement"]
    return Finding(
        rule_id=data["rule_id"],
        slug=data["slug"],
        category=data["category"],
        severity=Severity(data["severity"]),
        title=data["title"],
        message=data["message"],
        location=Location(*data["location"]),
        subject=data["subject"],
        statement=StatementRef(*statement) if statement is not None else None,
        baseline=data["baseline"],
        details=data["details"],
        suppressed=data["suppressed"],
    )


Unit = tuple[str, int, int]
"""A file to check, and which of how many shares of its policies and principals (see ``run_rules``)."""


def check_chunk(units: Sequence[Unit], options: LoadOptions, selection: Selection, use_cache: bool,
                context_options: Mapping[str, Any], drift: DriftSettings, fingerprints: bool = False,
                ) -> list[dict[str, Any]]:
    """Load and check some files (or shares of one) in this process; the outcome of each as plain data.

    The files share one ``CheckContext``, so what a rule memoises for one file serves the next. With
    ``fingerprints``, each file's outcome says under which fingerprint it may be stored, and as what JSON
    (``"stored"``), so the parent need neither read the file nor encode the outcome itself.
    """
    from auditor.catalog import load_catalog
    from auditor.run import check_loaded

    catalog = load_catalog(use_cache=use_cache)
    context = _worker_context(catalog, context_options)
    outcomes = []
    # Loading every file first and then checking them is faster than alternating the two, file by file.
    reads = [_CheckedRead(fingerprints) if part == 0 else None for _, part, _ in units]
    loads = [load_file(Path(name), options, on_read=read) for (name, _, _), read in zip(units, reads, strict=True)]
    for (_, part, shares), loaded, read in zip(units, loads, reads, strict=True):
        findings, verdicts = check_loaded(loaded, selection, catalog, context_options, drift, context,
                                          (part, shares))
        outcome = _outcome(loaded, findings, verdicts) if part == 0 else _share_outcome(findings)
        if read is not None:
            outcome["lines"] = read.excerpt_lines(findings)
        if read is not None and read.fingerprint is not None and shares == 1:
            from auditor.result_cache import store_text

            # encoded here, in parallel, for the store the main process writes: its largest serial cost
            with contextlib.suppress(TypeError, ValueError):  # not plain data: not stored rather than wrong
                outcome["stored"] = (read.fingerprint, store_text(outcome))
        outcomes.append(outcome)
    return outcomes


class _CheckedRead:
    """Given to ``load_file``: of the very bytes that were checked, their fingerprint (see ``_fingerprint_of``),
    when one is wanted for the store, and the bytes themselves (of a file below SPLIT_BYTES) for the lines the
    report shows."""

    def __init__(self, fingerprint_wanted: bool) -> None:
        self.fingerprint_wanted = fingerprint_wanted
        self.fingerprint: tuple[str, str, list[int] | None] | None = None
        self.shown = ""
        self.data: bytes | None = None

    def __call__(self, shown: str, info: os.stat_result, data: bytes) -> None:
        if self.fingerprint_wanted:
            self.fingerprint = _fingerprint_of(shown, info, data)
        self.shown = shown
        self.data = data if len(data) < SPLIT_BYTES else None

    def excerpt_lines(self, findings: Sequence[Finding]) -> list[tuple[str, int, str | None]]:
        """(path, line, text or None past the end) of every line an excerpt around a finding in this file shows,
        as ``FileSource`` would read them, so that the main process need not read the file again."""
        data, self.data = self.data, None
        return _lines_shown(self.shown, (lambda: data) if data is not None else None, findings)


_contexts: list[tuple[Catalog, dict[str, Any], CheckContext]] = []


def _worker_context(catalog: Catalog, context_options: Mapping[str, Any]) -> CheckContext:
    """One ``CheckContext`` for every chunk this process checks with the same settings: what the rules
    memoise for one chunk serves the next (a worker checks several)."""
    from auditor.engine import CheckContext

    for known_catalog, known_options, context in _contexts:
        if known_catalog is catalog and known_options == context_options:
            return context
    context = CheckContext(catalog, context_options)
    _contexts[:] = [(catalog, dict(context_options), context)]
    return context


def _share_outcome(findings: Sequence[Finding]) -> dict[str, Any]:
    """What a share other than the first adds to a file's outcome: its findings (share 0 has the rest)."""
    return {"findings": [finding_to_dict(f) for f in findings]}


def _joined(shares: Sequence[dict[str, Any]]) -> dict[str, Any]:
    outcome = dict(shares[0])
    outcome["findings"] = [finding for share in shares for finding in share["findings"]]
    return outcome


def _outcome(loaded: LoadResult, findings: Sequence[Finding], verdicts: Sequence[Verdict]) -> dict[str, Any]:
    return {
        "findings": [finding_to_dict(f) for f in findings],
        "verdicts": [list(v) for v in verdicts],
        "suppressions": [asdict(s) for s in loaded.suppressions],
        "policies": [p.source.display_path for p in loaded.policies],
        "document_problems": [(source.display_path, asdict(problem)) for source, problem in loaded.document_problems],
        "errors": [asdict(error) for error in loaded.errors],
        "skipped": [list(s) for s in loaded.skipped],
        "not_checked": loaded.not_checked,
        "files": loaded.files,
        "counts": dict(loaded.counts),
    }


Job = tuple[list[Unit], LoadOptions, Selection, bool, dict[str, Any], DriftSettings, bool]
"""The arguments of ``check_chunk``."""


def _run_chunk(job: Job) -> list[dict[str, Any]]:
    return check_chunk(*job)


def load_and_check(paths: Sequence[str], options: LoadOptions, selection: Selection, jobs: int | None,
                   use_cache: bool = True, context_options: Mapping[str, Any] | None = None,
                   drift: DriftSettings | None = None, reuse_results: bool = False,
                   ) -> tuple[LoadResult, list[Finding], list[Verdict]]:
    """What ``load_paths`` and ``run_rules`` give together, computed by ``jobs`` processes (see ``effective_jobs``).

    Checked in this process with nothing to store, the ``LoadResult`` holds the documents themselves.
    Otherwise it stands in for them: one placeholder policy per policy (for counting and for the file it
    came from) whose source reads the file again only if a reporter shows one of its lines.

    With ``reuse_results``, files whose bytes and settings are unchanged since a run that
    stored them are not checked again (see :mod:`auditor.result_cache`).
    """
    from auditor.catalog import load_catalog

    result = LoadResult()
    files = discover(paths, options, result)
    catalog = load_catalog(use_cache=use_cache)  # once, before the workers start: none of them builds the cache
    drift = drift or DriftSettings()
    context_options = dict(context_options or {})
    stats = {path: _stat(path) for path in files}
    sizes = {path: info.st_size if info is not None else 0 for path, info in stats.items()}
    store = _result_store(sizes, catalog.version, options, selection, context_options, drift) \
        if reuse_results and use_cache else None
    outcomes, pending = _stored_outcomes(files, stats, store)
    processes = effective_jobs(jobs, {path: sizes[path] for path in pending})
    if processes > 1 and any(os.fspath(path) == STDIN for path in pending):  # workers have no standard input
        pending = [path for path in pending if os.fspath(path) != STDIN]
        outcomes[STDIN] = check_chunk([(STDIN, 0, 1)], options, selection, use_cache, context_options, drift)[0]
    if store is None and processes <= 1:
        # Nothing to store and no worker to hear from: check in this process, keeping the documents
        # (and their sources, for excerpts) instead of a plain-data copy of the outcome.
        findings: list[Finding] = []
        verdicts: list[Verdict] = []
        for loaded, file_findings, file_verdicts in _checked_files(pending, options, selection, catalog,
                                                                   context_options, drift).values():
            result.extend(loaded)
            findings += file_findings
            verdicts += file_verdicts
        return result, findings, verdicts
    modules = [path for path in pending if in_terraform_module(path)]
    if modules:  # checked here, each module's files together: a worker given one of them would miss the others
        for path, (loaded, file_findings, file_verdicts) in _checked_files(
                modules, options, selection, catalog, context_options, drift).items():
            outcome = outcomes[str(path)] = _outcome(loaded, file_findings, file_verdicts)
            outcome["lines"] = _lines_shown(display_path(path), Path(path).read_bytes, file_findings)
        pending = [path for path in pending if path not in set(modules)]
    chunks = _work_chunks(pending, sizes, processes, share_out_any_size=jobs is not None)
    computed = _run_chunks([(chunk, options, selection, use_cache, context_options, drift, store is not None)
                            for chunk in chunks], processes)
    shares: dict[str, list[dict[str, Any]]] = {}
    for chunk, chunk_outcomes in zip(chunks, computed, strict=True):
        for (name, _, _), outcome in zip(chunk, chunk_outcomes, strict=True):
            shares.setdefault(name, []).append(outcome)  # share 0 comes first: chunks are in share order
    for name, parts in shares.items():
        outcome = outcomes[name] = _joined(parts)
        stored = outcome.pop("stored", None)
        if store is not None and stored is not None:
            (shown, digest, signature), text = stored
            store.put(os.path.abspath(name), shown, digest, signature, outcome, text)
    if store is not None:
        store.save()
    findings, verdicts = _merge(files, outcomes, result)
    return result, findings, verdicts


def _checked_files(files: Sequence[Path], options: LoadOptions, selection: Selection, catalog: Catalog,
                   context_options: Mapping[str, Any], drift: DriftSettings
                   ) -> dict[Path, tuple[LoadResult, list[Finding], list[Verdict]]]:
    """Each file loaded and checked on its own, as a worker checks it, but the files of a Terraform module (the
    ``.tf`` files of one folder given in this run) together: a role of one file, its policy in another. A finding
    a module's reading locates in a file of the folder not given (left out, or not named) is not reported. By file,
    in the order of ``files``."""
    from auditor.run import check_loaded

    context = _worker_context(catalog, context_options)
    modules: dict[str, list[Path]] = {}
    for path in files:
        if in_terraform_module(path):
            modules.setdefault(os.path.dirname(os.path.abspath(path)), []).append(path)
    checked: dict[Path, tuple[LoadResult, list[Finding], list[Verdict]]] = {}
    for module in modules.values():
        loads = {path: load_file(path, options) for path in module}
        loaded = LoadResult()
        for each in loads.values():
            loaded.extend(each)
        findings, verdicts = check_loaded(loaded, selection, catalog, context_options, drift, context)
        shown = {display_path(path): path for path in module}
        added = loaded.not_checked[sum(len(each.not_checked) for each in loads.values()):]  # by the check itself
        for name, path in shown.items():
            loads[path].not_checked.extend(line for line in added if line.startswith(name + ":"))
            checked[path] = (loads[path], [f for f in findings if f.location.path == name],
                             [v for v in verdicts if v.path == name])
    for path in files:
        if path not in checked:
            loaded = load_file(path, options)
            checked[path] = (loaded, *check_loaded(loaded, selection, catalog, context_options, drift, context))
    return {path: checked[path] for path in files}


def _lines_shown(shown: str, read: Callable[[], bytes] | None, findings: Sequence[Finding]
                 ) -> list[tuple[str, int, str | None]]:
    """(path, line, text or None past the end) of every line an excerpt around a finding of the file ``shown`` shows,
    as ``FileSource`` would read them; ``read``: the file's bytes (None: not kept)."""
    wanted = sorted({line for finding in findings if finding.location.path == shown and finding.location.line
                     for line in excerpt_line_numbers(finding.location.line)})
    if read is None or not wanted:
        return []
    try:
        source = Source(shown, decode_bytes(read()))
    except (OSError, ParseError):
        return []
    return [(shown, line, source.line_text(line)) for line in wanted]


def _stored_outcomes(files: Sequence[Path], stats: Mapping[Path, os.stat_result | None], store: ResultStore | None
                     ) -> tuple[dict[str, dict[str, Any]], list[Path]]:
    """(outcomes read back from the store by file, files still to check).

    A file whose ``stat`` signature is unchanged is not read; one with a stored outcome and another
    signature is read and compared by digest; one the store does not know is left to the check.
    """
    if store is None:
        return {}, list(files)
    from auditor.loaders import display_path
    from auditor.result_cache import file_signature

    outcomes: dict[str, dict[str, Any]] = {}
    pending: list[Path] = []
    for path in files:
        if os.fspath(path) == STDIN or in_terraform_module(path):  # never stored (a module: its other files count)
            pending.append(path)
            continue
        name = os.path.abspath(path)
        if not store.has(name):
            pending.append(path)
            continue
        shown, info = display_path(path), stats[path]
        found = store.get(name, shown, file_signature(info) if info is not None else None)
        if found is None and store.knows(name, shown):
            fingerprint = _file_fingerprint(path)
            found = store.get_by_digest(name, *fingerprint) if fingerprint is not None else None
        if found is not None:
            outcomes[str(path)] = found
        else:
            pending.append(path)
    return outcomes, pending


def _work_chunks(pending: Sequence[Path], sizes: Mapping[Path, int], processes: int, share_out_any_size: bool
                 ) -> list[list[Unit]]:
    """Files cut into chunks of similar size, and each large file as one unit per process (one share each)."""
    large = [path for path in pending if processes > 1 and _shared_out(sizes[path], share_out_any_size)]
    whole = [path for path in pending if path not in large]
    pieces = processes * CHUNKS_PER_WORKER if processes > 1 else 1
    chunks: list[list[Unit]] = [[(name, 0, 1) for name in chunk] for chunk in chunk_files(whole, sizes, pieces)]
    chunks += [[(str(path), part, processes)] for path in large for part in range(processes)]
    return chunks


def _run_chunks(jobs_list: list[Job], processes: int) -> list[list[dict[str, Any]]]:
    """The outcomes of every chunk, in order: in this process, or in a pool of ``processes`` workers."""
    if len(jobs_list) <= 1 or processes <= 1:
        return [_run_chunk(job) for job in jobs_list]
    import multiprocessing  # only here: a one-process run does not pay for importing the pool
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    try:
        with ProcessPoolExecutor(max_workers=min(processes, len(jobs_list)),
                                 mp_context=multiprocessing.get_context(method),
                                 initializer=_leave_interrupts_to_the_parent) as pool:
            try:
                return list(pool.map(_run_chunk, jobs_list))
            except KeyboardInterrupt:
                _stop_workers(pool)
                raise
    except BrokenProcessPool:
        sys.stderr.write("iam-audit: warning: a worker process stopped unexpectedly (out of memory?); "
                         "checking again in this process (--jobs 1 avoids the workers)\n")
        return [_run_chunk(job) for job in jobs_list]


def _leave_interrupts_to_the_parent() -> None:
    """In a worker: Ctrl-C (SIGINT to the whole process group) is the parent's to handle, which stops the workers;
    a worker interrupted mid-chunk would print a traceback and leave the pool waiting for it."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _stop_workers(pool: Any) -> None:
    """End the pool's workers now, their chunks unfinished, and let the pool go without waiting for them."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        with contextlib.suppress(Exception):
            process.terminate()
    pool.shutdown(wait=False, cancel_futures=True)


def _merge(files: Sequence[Path], outcomes: dict[str, dict[str, Any]], result: LoadResult
           ) -> tuple[list[Finding], list[Verdict]]:
    """Fold the outcomes into ``result`` (placeholders for the documents) in file order; the findings and verdicts."""
    sources: dict[str, FileSource] = {}

    def source(path: str) -> FileSource:
        found = sources.get(path)
        if found is None:
            found = sources[path] = FileSource(path)
        return found

    findings: list[Finding] = []
    verdicts: list[Verdict] = []
    for outcome in (outcomes.pop(str(path)) for path in files):  # each freed once merged
        findings.extend(finding_from_dict(data) for data in outcome["findings"])
        verdicts.extend(Verdict(*v) for v in outcome["verdicts"])
        result.suppressions.extend(InlineSuppression(**{**item, "lines": tuple(item.get("lines") or (0, 0))})
                                   for item in outcome["suppressions"])  # a stored outcome's JSON made it a list
        result.policies.extend(Policy(PolicyKind.IDENTITY, source(path), "", ()) for path in outcome["policies"])
        for path, line, text in outcome.get("lines", ()):
            source(path).known_lines[line] = text
        result.document_problems.extend((source(path), Problem(**problem))
                                        for path, problem in outcome["document_problems"])
        result.errors.extend(InputError(**error) for error in outcome["errors"])
        result.skipped.extend(tuple(item) for item in outcome["skipped"])
        result.not_checked.extend(outcome["not_checked"])
        result.files += outcome["files"]
        result.counts.update(outcome["counts"])
    return findings, verdicts


def _shared_out(size: int, any_size: bool) -> bool:
    """Whether a file of ``size`` bytes is shared out between the processes (see SPLIT_BYTES, SPLIT_MAX_BYTES)."""
    return size >= SPLIT_BYTES and (any_size or size <= SPLIT_MAX_BYTES)


def _stat(path: Path) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None


def _file_fingerprint(path: Path) -> tuple[str, str, list[int] | None] | None:
    """The fingerprint of a file as it is now (see ``_fingerprint_of``); None when it cannot be read."""
    try:
        with open(path, "rb") as handle:
            info = os.fstat(handle.fileno())
            data = handle.read()
    except OSError:
        return None
    from auditor.loaders import display_path

    return _fingerprint_of(display_path(path), info, data)


def _fingerprint_of(shown: str, info: os.stat_result, data: bytes) -> tuple[str, str, list[int] | None] | None:
    """(display path, digest of the bytes, ``stat`` signature) under which an outcome may be stored; None when
    it may not (a time window, or a Terraform file read with the other files of its folder, whose outcome those
    files change too). ``info`` is taken before ``data`` is read: a later change gives a new signature."""
    from auditor.result_cache import file_digest, file_signature, time_dependent

    if time_dependent(data) or in_terraform_module(shown):
        return None
    return shown, file_digest(data), file_signature(info)


def _result_store(sizes: Mapping[Path, int], catalog_version: str, options: LoadOptions, selection: Selection,
                  context_options: Mapping[str, Any], drift: DriftSettings) -> ResultStore | None:
    """The store for these settings, or None when the input is too small to gain from one."""
    from auditor.result_cache import MIN_INPUT_BYTES, MIN_INPUT_FILES, ResultStore, settings_key

    if len(sizes) < MIN_INPUT_FILES or sum(sizes.values()) < MIN_INPUT_BYTES:
        return None
    # the folders globs are anchored at, as names: as inputs they would stand for every file below them
    anchors = {name: getattr(options, name) for name in ("include_root", "exclude_root", "kinds_root")}
    unanchored = dataclasses.replace(options, include_root=None, exclude_root=None, kinds_root=None)
    key = settings_key(catalog_version, (unanchored, f"glob anchors {anchors!r}", selection, context_options, drift))
    return ResultStore(key)
