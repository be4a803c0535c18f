"""Adding an assignment is adding one folder (CONTRIBUTING.md): a throw-away sixth assignment, written to a
temporary folder named by LLM_GRADER_SUITES (manifest, one check, one probe, a rubric), is found by
discovery, passes the consistency checks, and grades a correct and a broken notebook through `grade`."""

import json
import re
import textwrap

import pytest

from grader.assignments import ManifestError, all_assignments, find
from grader.cli import main
from grader.load import discover
from notebooks import student_pytest, write_notebook
from test_consistency import collect, probe_problems, rubric_problems

FILES = {
    "assignment.toml": """\
        assignment = "a6"
        notebook = "assignment6.ipynb"
        probes = "a6"
        book = "a chapter of another book"
        sections = ["9.1"]
        data_files = ["words.txt"]
        """,
    "words.txt": "grader\ncourse\n",
    "probes.py": '''\
        def probe_shout(req):
            """The student's shout() on each of the grader's words (words.txt, placed beside the notebook)."""
            from pathlib import Path

            shout = req.resolve_own("shout")
            words = (Path(req.workdir) / "words.txt").read_text().split()
            return {"pairs": [[word, shout(word)] for word in words]}
        ''',
    "test_shout.py": '''\
        import pytest

        from grader.checks import expect


        @pytest.mark.check(component="shout", section="9.1")
        def test_shout_upper_cases_and_exclaims(nb):
            """shout(word) is the word in capitals followed by '!'."""
            for word, out in nb.run("a6.shout", {}, what="calling shout")["pairs"]:
                expect(out == word.upper() + "!", f"shout({word!r}) returned {out!r}; expected {word.upper() + '!'!r}")
        ''',
    "rubric.toml": """\
        title = "Shouting (a throw-away assignment)"

        [[categories]]
        name = "Correctness"
        points = 10

        [[categories.items]]
        id = "shout"
        title = "shout() upper-cases and exclaims"
        kind = "checks"
        points = 10
        checks = ["test_shout.py::test_shout_upper_cases_and_exclaims"]
        """,
}
CORRECT = "def shout(word):\n    return word.upper() + '!'"
BROKEN = "def shout(word):\n    return word.upper()"


@pytest.fixture
def sixth(tmp_path, monkeypatch):
    folder = tmp_path / "suites" / "a6"
    folder.mkdir(parents=True)
    for name, text in FILES.items():
        (folder / name).write_text(textwrap.dedent(text), encoding="utf-8")
    monkeypatch.setenv("LLM_GRADER_SUITES", str(tmp_path / "suites"))
    return folder


def test_a_sixth_assignment_is_discovered_and_consistent(sixth):
    entry = find("a6")
    assert entry.folder == sixth and entry.probe_file == sixth / "probes.py"
    assert [e.name for e in all_assignments()][-1] == "a6" and len(all_assignments()) == 8
    assert rubric_problems(entry, collect([sixth], sixth.parent)[sixth]) == []
    assert probe_problems([entry], [sixth / "test_shout.py"]) == []
    [submission] = discover([write_notebook(sixth.parent.parent / "subs" / "ada" / "Assignment_6.ipynb", CORRECT)])
    assert (submission.assignment, submission.option) == ("a6", None) and "assignment6.ipynb" in submission.warnings[0]


def test_a_renamed_check_fails_the_consistency_check(sixth):
    test = sixth / "test_shout.py"
    test.write_text(test.read_text().replace("def test_shout_upper_cases", "def test_shouts_upper_cases"))
    problems = rubric_problems(find("a6"), collect([sixth], sixth.parent)[sixth])
    assert any("matches no check" in p for p in problems) and any("feeds no rubric item" in p for p in problems)


def test_a_sixth_assignment_grades_a_correct_and_a_broken_notebook(sixth, tmp_path):
    subs = tmp_path / "subs" / "a6"
    write_notebook(subs / "ada" / "assignment6.ipynb", CORRECT)
    write_notebook(subs / "bob" / "assignment6.ipynb", BROKEN)
    out = tmp_path / "reports"
    assert main([str(subs), "--out", str(out), "-j", "1", "--cell-timeout", "30"]) == 0
    reports = {s: json.loads((out / "a6" / s / "report.json").read_text()) for s in ("ada", "bob")}
    assert [(c["id"], c["status"]) for c in reports["ada"]["checks"]] == [
        ("test_shout.py::test_shout_upper_cases_and_exclaims", "pass")]
    assert reports["ada"]["score"] == reports["ada"]["max_score"] == 10
    [check] = reports["bob"]["checks"]
    assert check["status"] == "fail" and "shout('grader') returned 'GRADER'" in check["message"]
    assert reports["bob"]["score"] == 0


@pytest.mark.parametrize(("change", "message"), [
    (lambda text: text.replace('notebook = "assignment6.ipynb"\n', ""), "missing ['notebook']"),
    (lambda text: text + 'due = "friday"\n', "unknown keys ['due']"),
    (lambda text: text.replace('"assignment6.ipynb"', '"assignment1.ipynb"'), "both declare notebook"),
    (lambda text: text.replace('assignment = "a6"', 'assignment = "A 6"'), "lower-case letters"),
])
def test_a_bad_manifest_is_named_with_what_is_wrong(sixth, change, message, capsys):
    manifest = sixth / "assignment.toml"
    manifest.write_text(change(manifest.read_text()))
    with pytest.raises(ManifestError, match=re.escape(message)) as raised:
        all_assignments()
    assert str(manifest) in str(raised.value)
    assert main([str(sixth)]) == 2 and message in capsys.readouterr().err  # `grade` says so, no traceback


def test_a_bad_manifest_stops_a_students_pytest_run_with_its_message(sixth, tmp_path):
    """`pytest student_tests/... --submission ...` says what is wrong with the manifest once, with no traceback."""
    manifest = sixth / "assignment.toml"
    manifest.write_text(manifest.read_text() + 'due = "friday"\n')
    notebook = write_notebook(tmp_path / "subs" / "ada" / "assignment6.ipynb", CORRECT)
    result = student_pytest(sixth, notebook.parent, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, output[-2000:]
    assert "unknown keys ['due']" in output and str(manifest) in output and "Traceback" not in output
