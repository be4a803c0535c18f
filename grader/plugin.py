"""The pytest plugin (entry point `pytest11`) that runs a submission's notebook for the check suites.

    pytest student_tests/a2 --submission assignments/a2/<you>/

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
from grader.collect import Collector
from grader.execute import KernelSession, SessionOptions, prepare_workdir
from grader.kernel import HEAVY_AFTER_HELP
from grader.load import discover, load_notebook
from grader.notebook import Notebook
from grader.report import resolve_device
from reference.ch06 import write_synthetic_spam_tsv

settings.register_profile(
    "grading", derandomize=True, database=None, deadline=None, max_examples=15, print_blob=False,
    suppress_health_check=list(HealthCheck), phases=(Phase.explicit, Phase.generate),  # checks name their inputs
)
HOW_TO_RUN = "no submission given: run `pytest student_tests/<assignment> --submission <your folder>`"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("llm-grader", "MAI5301 check suites")
    group.addoption("--submission", metavar="PATH", help="submission folder (or notebook) to check")
    group.addoption("--cell-timeout", type=float, default=60.0, help="seconds per notebook cell (default 60)")
    group.addoption("--heavy-after", type=float, default=4.0, metavar="SECONDS",
                    help=HEAVY_AFTER_HELP)
    group.addoption("--budget", type=float, default=600.0, help="seconds for the whole notebook (default 600)")
    group.addoption("--device", default="auto", choices=("cpu", "cuda", "auto"),
                    help="device for training checks (default auto: CUDA when available)")
    group.addoption("--weights", metavar="DIR", default=None,
                    help="pretrained-weights cache for notebooks that load GPT-2 (see README: Pretrained weights)")
    group.addoption("--sandbox", default="auto", choices=sandbox.MODES,
                    help="run the notebook's kernel in bubblewrap: auto (default) where it works, bwrap, or none")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "check(component, section): the book component and section a check is about")
    config.addinivalue_line("markers", "exercise(name): a check of a course exercise; skipped when not attempted")
    if config.getoption("--submission", default=None):
        settings.load_profile("grading")


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
    weights = request.config.getoption("--weights")
    try:
        isolation = sandbox.resolve(request.config.getoption("--sandbox"))
    except sandbox.SandboxUnavailable as err:
        pytest.fail(str(err), pytrace=False)
    options = SessionOptions(cell_timeout=request.config.getoption("--cell-timeout"),
                             heavy_after=request.config.getoption("--heavy-after"),
                             budget=request.config.getoption("--budget"), weights=weights, sandbox=isolation)
    scratch = Path(tempfile.mkdtemp(prefix="llm-grader-"))
    workdir = prepare_workdir(submission.folder, scratch, _extra_data_files(scratch),
                              weights=Path(weights) if weights else None)
    session = KernelSession(loaded.notebook, workdir, options=options)
    try:
        session.start()
        execution = session.run_all()
        notebook = Notebook(session, execution, device=resolve_device(request.config.getoption("--device")),
                            original=loaded.notebook)
        if isolation == "none":
            notebook.notes.append(sandbox.not_isolated_note(request.config.getoption("--sandbox")))
        collector = _collector(request.config)
        if collector is not None:  # the grader's run: hand it the cells and the figures checks add
            collector.execution, collector.plots = execution, notebook.plots
            collector.bindings, collector.notes = notebook.bindings, notebook.notes
        yield notebook
    finally:
        session.close()
        shutil.rmtree(scratch, ignore_errors=True)
