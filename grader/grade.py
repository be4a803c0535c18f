"""Grade one submission: run its check suite through pytest, score it, write its reports.

`grade_submission` runs in the calling process; `grade_isolated` runs it in a child
process (`python -m grader.grade`), so one submission that crashes the grader's own
machinery still leaves a report and never stops a batch.
"""

import json
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest

from grader.collect import Collector
from grader.load import Submission, load_notebook
from grader.render import render_markdown
from grader.report import Report, environment, write_json
from grader.rubric import load_rubric
from grader.score import score



@dataclass(frozen=True)
class GradeOptions:
    cell_timeout: float = 60.0
    budget: float = 600.0
    device: str = "auto"
    seed: int = 0


def suite_dir(assignment: str, option: str | None = None) -> Path:
    """student_tests/a3, or student_tests/a5/lora for an a5 option."""
    import student_tests

    root = Path(student_tests.__file__).parent
    return root / assignment / option if option else root / assignment


def report_dir(out: Path, submission: Submission) -> Path:
    name = f"{submission.assignment or 'unknown'}{'-' + submission.option if submission.option else ''}"
    return out / name / submission.student


def _pytest_args(submission: Submission, options: GradeOptions) -> list[str]:
    suite = suite_dir(submission.assignment, submission.option)
    return [str(suite), "--submission", str(submission.notebook), "--rootdir", str(suite),
            "-p", "no:cacheprovider", "-o", "addopts=", "-o", "testpaths=", "-q", "--no-header",
            f"--cell-timeout={options.cell_timeout}", f"--budget={options.budget}", f"--device={options.device}"]


def _problem_report(submission: Submission, problems: list[str], options: GradeOptions, started: float) -> Report:
    rubric = load_rubric(submission.assignment, submission.option) if submission.assignment else None
    scored = score(rubric, []) if rubric else None
    return Report(submission.student, submission.assignment, submission.option, 0.0,
                  rubric.max_score if rubric else 0.0, scored.categories if scored else (), (),
                  duration_s=round(time.monotonic() - started, 2),
                  environment=environment(options.device, options.seed), problems=tuple(problems),
                  warnings=submission.warnings)


def grade_submission(submission: Submission, options: GradeOptions = GradeOptions()) -> Report:
    """The scored report of one submission; problems with the submission are reported, not raised."""
    started = time.monotonic()
    if submission.problem or submission.notebook is None:
        return _problem_report(submission, [submission.problem or "no notebook"], options, started)
    loaded = load_notebook(submission.notebook)
    if loaded.problem:
        return _problem_report(submission, [loaded.problem], options, started)
    collector = Collector()
    pytest.main(_pytest_args(submission, options), plugins=[collector])
    rubric = load_rubric(submission.assignment, submission.option)
    scored = score(rubric, collector.checks())
    execution = collector.execution
    problems = [f"a check module failed to load (a grader bug; please report it): {e}" for e in collector.collection_errors]
    return Report(submission.student, submission.assignment, submission.option, scored.score, rubric.max_score,
                  scored.categories, scored.checks, execution.cells if execution else (),
                  duration_s=round(time.monotonic() - started, 2),
                  environment=environment(options.device, options.seed), problems=tuple(problems),
                  warnings=submission.warnings + _cell_warnings(execution))


def _cell_warnings(execution) -> tuple[str, ...]:
    if execution is None:
        return ()
    cut = [str(c.index + 1) for c in execution.cells if c.status == "timeout"]
    died = [str(c.index + 1) for c in execution.cells if c.status == "kernel_died"]
    notes = []
    if cut:
        notes.append(f"cell(s) {', '.join(cut)} ran past the time limit and were cut; checks ran on what the notebook had defined")
    if died:
        notes.append(f"the kernel died in cell(s) {', '.join(died)}; the grader restarted it and replayed the cells before")
    if execution.budget_exhausted:
        notes.append("the notebook used up its time budget; later cells were skipped")
    return tuple(notes)


def write_reports(report: Report, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    write_json(report, folder / "report.json")
    (folder / "report.md").write_text(render_markdown(report), encoding="utf-8")


def grade_isolated(submission: Submission, out: Path, options: GradeOptions, *, timeout: float) -> Path:
    """Grade in a child process; whatever happens there, a report is written. Returns its folder."""
    folder = report_dir(out, submission)
    folder.mkdir(parents=True, exist_ok=True)
    request = folder / "request.json"
    request.write_text(json.dumps({"submission": asdict(submission), "options": asdict(options)}, default=str))
    log = folder / "grader.log"
    with log.open("w") as stream:
        try:
            returncode = subprocess.run([sys.executable, "-m", "grader.grade", str(request), str(folder)],
                                        stdout=stream, stderr=subprocess.STDOUT, timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            returncode = "timeout"
    request.unlink(missing_ok=True)
    if returncode != 0 or not (folder / "report.json").exists():
        why = f"the grader stopped after {timeout:.0f} s" if returncode == "timeout" else f"the grader crashed (exit {returncode})"
        report = _problem_report(submission, [f"{why} while grading this submission; see grader.log"], options, time.monotonic())
        write_reports(report, folder)
    return folder


def _main(request_path: str, folder: str) -> int:
    request = json.loads(Path(request_path).read_text())
    fields = request["submission"]
    submission = Submission(**{**fields, "folder": Path(fields["folder"]),
                               "notebook": Path(fields["notebook"]) if fields["notebook"] else None,
                               "warnings": tuple(fields["warnings"])})
    report = grade_submission(submission, GradeOptions(**request["options"]))
    write_reports(report, Path(folder))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(*sys.argv[1:3]))
