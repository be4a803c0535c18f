"""`grade --shard K/N` and `grade merge`: a class graded in shares on several machines, then joined.

The submissions here are broken notebooks (a zero with the reason, no kernel), and `grade` grades
them in this process (`grade_isolated` stood in for by what its child process runs), so each test
takes seconds."""

import csv
import json
import random
from pathlib import Path

import pytest

from grader import cli
from grader.cli import main
from grader.grade import grade_submission, report_dir, write_reports
from grader.load import discover
from grader.results import CategoryScore, Report
from grader.shard import in_shard, parse_shard, report_name, shard_of

CLASS = {"a1": ("ann", "bo", "cy"), "a2": ("dee", "eli", "fay")}  # shards of 2: 3 and 3; of 3: 2, 1 and 3


@pytest.fixture
def submissions(tmp_path) -> Path:
    """Six students over two assignments, each with a notebook that is not valid JSON."""
    root = tmp_path / "submissions"
    for assignment, students in CLASS.items():
        for student in students:
            (root / assignment / student).mkdir(parents=True)
            (root / assignment / student / f"assignment{assignment[1]}.ipynb").write_text('{"cells": [')
    return root


@pytest.fixture
def in_process(monkeypatch):
    """Grade in this process what the grading child would: no child start-up per submission."""
    def grade_here(submission, out, options, *, timeout):
        folder = report_dir(out, submission)
        write_reports(grade_submission(submission, options), folder, options.formats)
        return folder

    monkeypatch.setattr(cli, "grade_isolated", grade_here)


def _names(submissions) -> set[str]:
    return {report_name(s) for s in submissions}


def _rows(out: Path) -> set[tuple[str, ...]]:
    with (out / "gradebook.csv").open(encoding="utf-8") as stream:
        return {tuple(row) for row in csv.reader(stream)}


def _reports(out: Path) -> dict[str, dict]:
    """Every report.json under out by its folder, less the time it took (which differs between runs)."""
    return {path.parent.relative_to(out).as_posix(): {k: v for k, v in json.loads(path.read_text()).items()
                                                     if k != "duration_s"}
            for path in out.glob("*/*/report.json")}


def _saved_report(out: Path, assignment: str, student: str, score: float) -> None:
    report = Report(student, assignment, None, score, 100.0, (CategoryScore("Correctness", score, 40.0),), ())
    write_reports(report, out / assignment / student, ("json",))


@pytest.mark.parametrize("count", [1, 2, 3])
def test_every_submission_is_in_exactly_one_shard(submissions, count):
    found = discover([submissions])
    shares = [_names(in_shard(found, (number, count))) for number in range(1, count + 1)]
    assert sum(map(len, shares)) == len(found) == 6
    assert set().union(*shares) == _names(found)
    assert all(shares), "six submissions fill every shard of up to three"


def test_the_share_does_not_depend_on_the_order_of_the_paths_or_the_machine(submissions):
    folders = [submissions / a / s for a, students in CLASS.items() for s in students]
    share = _names(in_shard(discover(folders), (2, 3)))
    random.Random(0).shuffle(folders)
    assert _names(in_shard(discover(folders), (2, 3))) == share
    assert share == {name for folder in folders for name in _names(in_shard(discover([folder]), (2, 3)))}
    ann = discover([submissions / "a1" / "ann"])[0]
    assert [shard_of(ann, n) for n in (1, 2, 3, 4)] == [1, 1, 1, 3]  # sha256 of "a1/ann", never a salted hash()


@pytest.mark.parametrize("text", ["0/2", "3/2", "2", "1/0", "a/b", "-1/2"])
def test_a_bad_shard_is_a_usage_error(text, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["submissions", f"--shard={text}"])
    assert exit_.value.code == 2 and "1 <= K <= N" in capsys.readouterr().err
    assert parse_shard(" 2 / 4 ") == (2, 4)


def test_two_shards_merged_equal_one_unsharded_run(submissions, tmp_path, in_process, capsys):
    whole, merged = tmp_path / "whole", tmp_path / "merged"
    shards = [tmp_path / "shard-1", tmp_path / "shard-2"]
    assert main([str(submissions), "--out", str(whole)]) == 0
    for number, out in enumerate(shards, 1):
        assert main([str(submissions), "--shard", f"{number}/2", "--out", str(out)]) == 0
    assert all(len(_reports(out)) == 3 for out in shards)
    capsys.readouterr()

    assert main(["merge", *map(str, shards), "--out", str(merged)]) == 0

    assert _rows(merged) == _rows(whole) and len(_rows(merged)) == 7  # a header and six students
    assert _reports(merged) == _reports(whole) and len(_reports(merged)) == 6
    printed = capsys.readouterr().out
    assert "a1/ann" in printed and "a2/fay" in printed and "6 report(s) merged from 2 folder(s)" in printed


def test_merge_refuses_different_reports_of_one_submission_unless_forced(tmp_path, capsys):
    first, second, out = tmp_path / "shard-1", tmp_path / "shard-2", tmp_path / "reports"
    _saved_report(first, "a1", "ann", 40)
    _saved_report(second, "a1", "ann", 10)
    _saved_report(first, "a2", "bo", 30)
    _saved_report(second, "a2", "bo", 30)  # the same report twice is no conflict

    assert main(["merge", str(first), str(second), "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert "a1/ann" in error and "a2/bo" not in error and "--force" in error
    assert not list(out.glob("*/*/report.json")), "a refused merge copies nothing"

    assert main(["merge", str(first), str(second), "--out", str(out), "--force"]) == 0
    assert {row[0]: row[-3] for row in _rows(out)} == {"student": "total", "ann": "10", "bo": "30"}


def test_merge_of_a_missing_folder_is_refused(tmp_path, capsys):
    assert main(["merge", str(tmp_path / "shard-9"), "--out", str(tmp_path / "reports")]) == 2
    assert "not a folder" in capsys.readouterr().err


def test_an_empty_shard_exits_0_and_grades_nothing(submissions, tmp_path, monkeypatch, capsys):
    (submissions / "a1").rename(submissions / "merge")  # a folder named merge is graded as ./merge
    monkeypatch.chdir(submissions)
    out = tmp_path / "reports"

    assert main(["./merge/ann", "--shard", "2/2", "--out", str(out)]) == 0  # a1/ann is in shard 1 of 2

    assert "shard 2/2 holds none of the 1 submission(s) found" in capsys.readouterr().out
    assert not out.exists()
    (submissions / "empty").mkdir()
    assert main(["empty", "--shard", "1/2", "--out", str(out)]) == 1  # nothing found at all is still an error
