"""Collect check outcomes from pytest as CheckResults (never by parsing pytest's text output)."""

import re
from pathlib import Path

import pytest

from grader.checks import REVIEW
from grader.results import CheckResult

STATUS = {"passed": "pass", "failed": "fail", "skipped": "skip"}
HYPOTHESIS_NOTES = re.compile(r"\n(Failing test case|Falsifying example|Failing explicit example"
                              r"|Falsifying explicit example)")


def check_id(nodeid: str) -> str:
    """'student_tests/<id>/test_file.py::test_x[1]' -> 'test_file.py::test_x[1]'."""
    path, sep, rest = nodeid.partition("::")
    return f"{Path(path).name}{sep}{rest}"


def title_of(item: pytest.Item) -> str:
    """The first line of the test's docstring, else its name in words."""
    doc = (getattr(item, "obj", None).__doc__ or "").strip() if hasattr(item, "obj") else ""
    return doc.splitlines()[0] if doc else item.name.removeprefix("test_").replace("_", " ")


def message_of(report: pytest.TestReport) -> str:
    """The failure or skip message a student reads, without pytest's traceback decoration."""
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message.removeprefix("Failed: ") if crash is not None else str(report.longrepr or "")[-3000:]
    return HYPOTHESIS_NOTES.split(text)[0].rstrip()  # checks name their inputs in the message


class Collector:
    """A pytest plugin object: one CheckResult per test; the executed notebook's cells too."""

    def __init__(self) -> None:
        self.results: dict[str, CheckResult] = {}
        self.meta: dict[str, tuple[str, str | None, str | None]] = {}
        self.execution = None
        self.plots: list = []  # grader.report.Plot, added by checks through the `nb` fixture
        self.bindings: dict = {}  # component -> grader.report.BindingRecord, filled by the `nb` fixture
        self.notes: list[str] = []  # what the grader did to the notebook's state (a stand-in model, ...)
        self.collection_errors: list[str] = []

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            marker = item.get_closest_marker("check")
            component = marker.kwargs.get("component", (marker.args or [None])[0]) if marker else None
            section = marker.kwargs.get("section") if marker else None
            self.meta[item.nodeid] = (title_of(item), component, section)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collection_errors.append(f"{report.nodeid}: {str(report.longrepr)[-1500:]}")

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call" and report.passed:
            return  # set-up and tear-down that went fine say nothing
        status = "error" if report.failed and report.when != "call" else STATUS[report.outcome]
        previous = self.results.get(report.nodeid)
        if previous is not None and previous.status != "pass":
            return  # keep the first problem (a tear-down error must not hide a failure)
        title, component, section = self.meta.get(report.nodeid, (report.nodeid, None, None))
        message = "" if status == "pass" else message_of(report)
        if status == "skip" and message.startswith(REVIEW):
            status, message = "review", message.removeprefix(REVIEW)
        self.results[report.nodeid] = CheckResult(check_id(report.nodeid), title, status, message, component, section)

    def checks(self) -> list[CheckResult]:
        return list(self.results.values())
