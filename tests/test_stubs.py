"""A stub earns nothing: no check of a component replaced by a stub (returning zeros, its input, or a
constant of the right shape, with the book's constructor and parameters) earns Correctness or
Implementation points, for every component of every assignment (tests/stubs/<suite>.py).

Each suite's correct sample is graded three times with all its components stubbed at once in a
cell appended at the end, the flavours rotated so that every component meets every flavour.
"""

import importlib
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from grader.assignments import all_assignments
from grader.grade import GradeOptions, grade_isolated
from grader.load import discover
from notebooks import with_cell_appended
from tests.stubs import FLAVOURS

ROOT = Path(__file__).resolve().parent.parent
SUITES = sorted(p.stem for p in (Path(__file__).parent / "stubs").glob("*.py") if p.stem != "__init__")
SCORED = ("Correctness", "Implementation")
PRELUDE = "import torch\nfrom torch import nn\n\n"


def stub_cell(stubs: dict, rotation: int) -> str:
    """One cell redefining every component, component i with flavour (i + rotation) % 3."""
    parts = [sources[FLAVOURS[(i + rotation) % len(FLAVOURS)]] for i, sources in enumerate(stubs.values())]
    return PRELUDE + "\n\n".join(parts)


@pytest.fixture(scope="module")
def stubbed_reports(request, tmp_path_factory):
    """report.json of the selected suites' samples with all components stubbed, per rotation; graded two at a time."""
    jobs = {}
    selected = {item.callspec.params["suite"] for item in request.session.items
                if "suite" in getattr(getattr(item, "callspec", None), "params", {})}
    for suite in [s for s in SUITES if s in selected]:
        module = importlib.import_module(f"tests.stubs.{suite}")
        for rotation in range(len(FLAVOURS)):
            folder = tmp_path_factory.mktemp(f"{suite}-{rotation}") / Path(module.SAMPLE).name
            jobs[(suite, rotation)] = with_cell_appended(ROOT / "submissions" / module.SAMPLE,
                                                         stub_cell(module.STUBS, rotation), folder)
    out = tmp_path_factory.mktemp("reports")

    def grade(folder: Path) -> dict:
        [submission] = discover([folder])
        report = grade_isolated(submission, out / folder.parent.name, GradeOptions(cell_timeout=60, budget=300),
                                timeout=600)
        return json.loads((report / "report.json").read_text())

    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {key: pool.submit(grade, folder) for key, folder in jobs.items()}
        return {key: future.result() for key, future in futures.items()}


@pytest.mark.parametrize("rotation", range(len(FLAVOURS)))
@pytest.mark.parametrize("suite", SUITES)
def test_stubbed_components_earn_no_correctness_points(stubbed_reports, suite, rotation):
    stubs = importlib.import_module(f"tests.stubs.{suite}").STUBS
    report = stubbed_reports[(suite, rotation)]
    assert not report["problems"], report["problems"]
    earning = [(c["id"], c["status"], c["points"]) for c in report["checks"]
               if c["component"] in stubs and c["category"] in SCORED and c["points"] > 0]
    assert earning == [], earning
    ran = [c for c in report["checks"] if c["component"] in stubs and c["status"] in ("fail", "error")]
    assert {c["component"] for c in ran} == set(stubs), "every stubbed component fails at least one check"


SUITE_RUBRICS = {entry.name.replace("-", "_"): (entry.assignment, entry.option) for entry in all_assignments()}


@pytest.mark.parametrize("suite", sorted(SUITE_RUBRICS))
def test_every_component_of_the_rubric_has_a_stub(suite):
    from grader.rubric import load_rubric

    assert suite in SUITES, f"tests/stubs/{suite}.py is missing"
    stubs = importlib.import_module(f"tests.stubs.{suite}").STUBS
    assert set(load_rubric(*SUITE_RUBRICS[suite]).components) <= set(stubs)
