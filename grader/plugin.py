"""The pytest plugin (entry point `pytest11`) that runs a submission's notebook for the check suites.

    pytest student_tests/<assignment> --submission assignments/<assignment>/<you>/

`--submission` runs the notebook once per test session in its own kernel; the check
suites reach it through the `nb` fixture (grader.notebook.Notebook). Without
`--submission` the suites skip and say how to run them. With it, Hypothesis runs the
derandomized "grading" profile, so a submission always gets the same verdict.
The grader runs the same suites through `pytest.main(..., plugins=[Collector()])`.
"""

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, settings

from grader import sandbox
from grader.assignments import ManifestError, all_assignments, find
from grader.collect import Collector
from grader.execute import KernelSession, SessionOptions, prepare_workdir
from grader.load import discover, load_notebook
from grader.notebook import Notebook
from grader.report import resolve_device
from grader.settings import add_options, read_options
from reference.ch06 import write_synthetic_spam_tsv

settings.register_profile(
    "grading", derandomize=True, database=None, deadline=None, max_examples=15, print_blob=False,
    suppress_health_check=list(HealthCheck), phases=(Phase.explicit, Phase.generate),  # checks name their inputs
)
HOW_TO_RUN = "no submission given: run `pytest student_tests/<assignment> --submission <your folder>`"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("llm-grader", "MAI5301 check suites")
    group.addoption("--submission", metavar="PATH", help="submission folder (or notebook) to check")
    add_options(group.addoption)  # the options `grade` has too (grader/settings.py)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "check(component, section): the book component and section a check is about")
    config.addinivalue_line("markers", "exercise(name): a check of a course exercise; skipped when not attempted")
    if config.getoption("--submission", default=None):
        try:
            all_assignments()
        except ManifestError as err:  # said once, before any check runs, not as a fixture's traceback per check
            raise pytest.UsageError(f"{err}\nThe check suites cannot run until that manifest is fixed "
                                    f"(students: tell your instructor).") from None
        settings.load_profile("grading")
        draw_without_local_constants()


def draw_without_local_constants() -> None:
    """Hypothesis (6.131 on) mixes literals found in the "local" modules loaded (not in site-packages: the
    grader's own when it is installed editable) into its draws, so a check's examples would change with the
    grader's code, the modules a run happened to import and the way the grader is installed. Grading draws
    without them: the same examples everywhere, for the grader and for a student's own run."""
    try:
        from hypothesis.internal.conjecture import providers
    except ImportError:  # another Hypothesis layout: nothing to switch off
        return
    if hasattr(providers, "_get_local_constants") and hasattr(providers, "Constants"):
        providers._get_local_constants = providers.Constants  # Constants(): the empty set


def _collector(config: pytest.Config) -> Collector | None:
    return next((p for p in config.pluginmanager.get_plugins() if isinstance(p, Collector)), None)


def _extra_data_files(scratch: Path) -> dict[str, Path]:
    """A synthetic SMS spam set where chapter 6's download cell looks, so it finds a file and skips the download."""
    spam = write_synthetic_spam_tsv(scratch / "SMSSpamCollection.tsv")
    return {"sms_spam_collection/SMSSpamCollection.tsv": spam}


@pytest.fixture(scope="session")
def nb(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """The submission's executed notebook, shared by every check in the session."""
    path = request.config.getoption("--submission")
    if not path:
        pytest.skip(HOW_TO_RUN)
    [submission, *_] = discover([Path(path)])
    if submission.notebook is None:
        pytest.fail(submission.problem, pytrace=False)
    loaded = load_notebook(submission.notebook)
    if loaded.problem:
        pytest.fail(loaded.problem, pytrace=False)
    chosen = read_options(request.config.getoption)
    weights = chosen["weights"]
    try:
        isolation = sandbox.resolve(chosen["sandbox"])
    except sandbox.SandboxUnavailable as err:
        pytest.fail(str(err), pytrace=False)
    options = SessionOptions(cell_timeout=chosen["cell_timeout"], heavy_after=chosen["heavy_after"],
                             budget=chosen["budget"], weights=weights, sandbox=isolation)
    scratch = Path(tempfile.mkdtemp(prefix="llm-grader-"))
    data_files = {**_extra_data_files(scratch), **dict(find(submission.assignment, submission.option).data_files)}
    workdir = prepare_workdir(submission.folder, scratch, data_files, weights=Path(weights) if weights else None)
    session = KernelSession(loaded.notebook, workdir, options=options)
    try:
        session.start()
        execution = session.run_all()
        notebook = Notebook(session, execution, device=resolve_device(chosen["device"]),
                            original=loaded.notebook)
        if isolation == "none":
            notebook.notes.append(sandbox.not_isolated_note(chosen["sandbox"]))
        collector = _collector(request.config)
        if collector is not None:  # the grader's run: hand it the cells and the figures checks add
            collector.execution, collector.plots = execution, notebook.plots
            collector.bindings, collector.notes = notebook.bindings, notebook.notes
        yield notebook
    finally:
        session.close()
        shutil.rmtree(scratch, ignore_errors=True)
