"""The bubblewrap sandbox: a notebook cannot read, write, connect to or outlive anything outside its scratch folder.

Each attempt is a cell of one hostile notebook run in a sandboxed kernel; the cell must fail (or
find nothing), and the grading machine must show no trace of it afterwards. The batch test
grades a correct sample beside a hostile one and checks the correct one's report is exactly
what it is when graded alone. Skipped, with the reason, where bwrap cannot run.
"""

import json
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

import reference
from grader import sandbox
from grader.execute import KernelSession, SessionOptions, prepare_workdir
from notebooks import processes_with, write_notebook

needs_bwrap = pytest.mark.skipif(sandbox.bwrap_problem() is not None,
                                 reason=f"bubblewrap cannot run here: {sandbox.bwrap_problem()}")
SAMPLES = Path(__file__).resolve().parent.parent / "submissions"
MARKER = "31337.25"  # a child process's unusual argument, to find it in the host's process table
SECRET = "hunter2-sandbox"


def _attempts(paths: dict[str, str], port: int) -> dict[str, str]:
    """Cell name -> code that prints ESCAPED when the attempt got through."""
    return {
        "sibling": f"print('ESCAPED', open({paths['sibling']!r}).read())",
        "grader_source": f"print('ESCAPED', len(open({paths['grader']!r}).read()))",
        "reports": f"open({paths['out']!r} + '/report.json', 'w').write('{{}}'); print('ESCAPED')",
        "home": f"open({paths['home']!r} + '/planted-by-notebook.txt', 'w').write('x'); print('ESCAPED')",
        "localhost": f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=3); print('ESCAPED')",
        "environ": ("import glob\nfor p in glob.glob('/proc/*/environ'):\n"
                    f"    try:\n        if {SECRET!r} in open(p).read(): print('ESCAPED', p)\n"
                    "    except OSError: pass"),
        "child": f"import subprocess\nsubprocess.Popen(['sleep', {MARKER!r}], start_new_session=True); "
                 "print('started')",
        "fill_tmp": ("for i in range(10):\n    with open(f'/tmp/filler-by-notebook-{i}', 'wb') as f:\n"
                     "        for _ in range(100): f.write(b'0' * 2**20)\nprint('ESCAPED')"),
        # run as root, bwrap kept every capability: a read-only view could be remounted writable
        "remount": ("import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
                    f"if libc.mount(None, {paths['readonly']!r}.encode(), None, 32 | 4096, None) != 0:\n"
                    "    raise PermissionError(ctypes.get_errno(), 'remount refused')\n"
                    f"open({paths['readonly']!r} + '/planted-by-notebook.txt', 'w').write('x'); print('ESCAPED')"),
        "capabilities": ("caps = [l for l in open('/proc/self/status') if l.startswith('CapEff')]\n"
                         "if int(caps[0].split()[1], 16): print('ESCAPED', caps)"),
        "still_works": "import torch\nprint('works', torch.ones(2).sum().item())",
    }


@pytest.fixture
def listener():
    """A service on the grading machine's localhost; records whether anyone connected."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    reached = []

    def serve():
        while not stop.is_set():
            try:
                reached.append(server.accept())
            except OSError:
                pass
    stop = threading.Event()
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], reached
    stop.set()
    thread.join()
    server.close()


@needs_bwrap
def test_every_escape_attempt_fails(tmp_path, listener, monkeypatch):
    port, reached = listener
    sibling = tmp_path / "submissions" / "someone-else"
    sibling.mkdir(parents=True)
    (sibling / "answers.txt").write_text("their work")
    out = tmp_path / "reports"
    out.mkdir()
    paths = {"sibling": str(sibling / "answers.txt"), "grader": sandbox.__file__, "out": str(out),
             "home": str(Path.home()), "readonly": str(Path(reference.__file__).parent)}
    cells = _attempts(paths, port)
    write_notebook(tmp_path / "hostile" / "assignment1.ipynb", *cells.values())
    workdir = prepare_workdir(tmp_path / "hostile", tmp_path / "scratch")
    monkeypatch.setenv("LLM_GRADER_TEST_SECRET", SECRET)
    options = SessionOptions(cell_timeout=30, grace=1, budget=300, sandbox="bwrap")
    with KernelSession(workdir / "assignment1.ipynb", workdir, options=options) as session:
        results = dict(zip(cells, session.run_all().cells))
    escaped = {n: r.output[-300:] for n, r in results.items() if re.search("^ESCAPED", r.output, re.M)}
    assert escaped == {}
    assert results["still_works"].output == "works 2.0\n"
    assert results["child"].status == "ok"
    assert {n for n, r in results.items() if r.status == "error"} == {
        "sibling", "grader_source", "reports", "home", "localhost", "fill_tmp", "remount"}
    assert results["fill_tmp"].error_name == "OSError" and "space" in results["fill_tmp"].error_message
    assert reached == [] and list(out.iterdir()) == []
    assert not (Path.home() / "planted-by-notebook.txt").exists()
    assert not (Path(reference.__file__).parent / "planted-by-notebook.txt").exists()
    assert not list(Path("/tmp").glob("filler-by-notebook*"))
    assert processes_with(MARKER) == [], "a process the notebook started outlived its kernel"


@pytest.fixture
def short_scratch():
    """A scratch root with a short path, as the grader's own (worker processes' sockets live under TMPDIR)."""
    root = Path(tempfile.mkdtemp(prefix="sbx-", dir="/tmp"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


@needs_bwrap
def test_the_kernel_still_gets_what_notebooks_need(tmp_path, short_scratch):
    """The book's data files, the GPT-2 tokenizer offline, a DataLoader with worker processes, an interrupt."""
    cells = {
        "data": "print(len(open('the-verdict.txt').read()) > 1000)",
        "tiktoken": "import tiktoken\nprint(tiktoken.get_encoding('gpt2').encode('Hello, world'))",
        "workers": ("import torch\nfrom torch.utils.data import DataLoader\n"
                    "print(sum(len(b) for b in DataLoader(list(range(10)), batch_size=3, num_workers=2)))"),
        "loops": "while True:\n    pass",
        "after": "print('after the interrupt')",
    }
    write_notebook(tmp_path / "student" / "assignment1.ipynb", *cells.values())
    workdir = prepare_workdir(tmp_path / "student", short_scratch)
    options = SessionOptions(cell_timeout=20, grace=2, budget=300, sandbox="bwrap")
    with KernelSession(workdir / "assignment1.ipynb", workdir, options=options) as session:
        results = dict(zip(cells, session.run_all().cells))
    assert [results[n].output for n in ("data", "tiktoken", "workers", "after")] == [
        "True\n", "[15496, 11, 995]\n", "10\n", "after the interrupt\n"]
    assert results["loops"].status == "timeout" and session.restarts == 0  # interrupted, not killed


def test_a_requested_sandbox_that_cannot_run_is_refused(monkeypatch):
    monkeypatch.setattr(sandbox, "bwrap_problem", lambda: "bwrap is not installed")
    with pytest.raises(sandbox.SandboxUnavailable, match="bwrap is not installed.*--sandbox none"):
        sandbox.resolve("bwrap")
    assert sandbox.resolve("auto") == "none"
    assert "bwrap is not installed" in sandbox.not_isolated_note("auto")


def _grade(paths: list[Path], out: Path, mode: str) -> dict[str, dict]:
    subprocess.run([sys.executable, "-m", "grader.cli", *map(str, paths), "--out", str(out), "-j", "2",
                    "--sandbox", mode, "--format", "json"], check=True, capture_output=True, timeout=900)
    return {p.parent.name: json.loads(p.read_text()) for p in out.glob("a1/*/report.json")}


def _verdicts(report: dict) -> list[tuple]:
    return [(c["id"], c["status"], c["message"], c["points"]) for c in report["checks"]]


@needs_bwrap
def test_a_hostile_neighbour_changes_nothing_in_the_batch(tmp_path):
    """The hostile notebook aims at its neighbour's report and the gradebook; the neighbour's report is unchanged."""
    correct = SAMPLES / "a1" / "ada-correct"
    hostile = tmp_path / "batch" / "a1" / "mallory"
    notebook = json.loads((correct / "assignment1.ipynb").read_text())
    attack = (f"import glob, os\nfor p in glob.glob({str(tmp_path)!r} + '/**/report.json', recursive=True) "
              f"+ glob.glob({str(tmp_path)!r} + '/**/gradebook*.csv', recursive=True):\n"
              "    try: open(p, 'w').write('{}')\n    except OSError: pass")
    notebook["cells"].insert(0, {"cell_type": "code", "metadata": {}, "source": attack, "outputs": [],
                                 "execution_count": None})
    hostile.mkdir(parents=True)
    (hostile / "assignment1.ipynb").write_text(json.dumps(notebook))
    alone = _grade([correct], tmp_path / "alone", "none")
    batch = _grade([correct, hostile], tmp_path / "together", "bwrap")
    assert _verdicts(batch["ada-correct"]) == _verdicts(alone["ada-correct"])
    assert batch["ada-correct"]["score"] == alone["ada-correct"]["score"]
    assert any("without a sandbox (--sandbox none)" in w for w in alone["ada-correct"]["warnings"])
    assert not any("without a sandbox" in w for w in batch["ada-correct"]["warnings"])
    assert batch["mallory"]["problems"] == []


@needs_bwrap
def test_a_weights_cache_is_readable_not_writable_in_the_sandbox(tmp_path, short_scratch):
    cache = tmp_path / "weights"
    (cache / "gpt2" / "124M").mkdir(parents=True)
    (cache / "gpt2" / "124M" / "hparams.json").write_text('{"n_embd": 768}')
    cells = ["import json\nprint(json.load(open('gpt2/124M/hparams.json')))",
             "open('gpt2/124M/hparams.json', 'w').write('{}')"]
    write_notebook(tmp_path / "student" / "assignment5_classification.ipynb", *cells)
    workdir = prepare_workdir(tmp_path / "student", short_scratch, weights=cache)
    options = SessionOptions(cell_timeout=30, budget=120, sandbox="bwrap", weights=str(cache))
    with KernelSession(workdir / "assignment5_classification.ipynb", workdir, options=options) as session:
        read, write = session.run_all().cells
    assert read.output == "{'n_embd': 768}\n"
    assert write.status == "error" and "Read-only file system" in write.error_message
    assert json.loads((cache / "gpt2" / "124M" / "hparams.json").read_text()) == {"n_embd": 768}


@needs_bwrap
def test_auto_falls_back_when_the_full_layout_cannot_be_built(monkeypatch):
    """bwrap that runs but cannot build this sandbox (e.g. a mount the machine forbids) is found before grading."""
    real = sandbox.Bubblewrap.argv
    monkeypatch.setattr(sandbox.Bubblewrap, "argv",
                        lambda self, command: real(self, command)[:1] + ["--bind", "/no/such/folder", "/x"]
                        + real(self, command)[1:])
    sandbox.bwrap_problem.cache_clear()
    try:
        assert "cannot build the sandbox" in sandbox.bwrap_problem()
        assert sandbox.resolve("auto") == "none"
    finally:
        sandbox.bwrap_problem.cache_clear()


@needs_bwrap
def test_the_sandbox_works_when_python_is_run_by_a_path_with_dots(tmp_path):
    """`../.venv/bin/python -m grader.cli ...` from a folder the sandbox does not show still sandboxes: the
    interpreter is named by an absolute path without "..", which bwrap can execute inside the sandbox."""
    python = Path(sys.executable)
    here = tmp_path / "elsewhere"
    here.mkdir()
    dotted = Path("..") / Path(*[".."] * (len(here.parts) - 2)) / python.relative_to("/")
    code = "from grader import sandbox; print(sandbox.PYTHON); print(sandbox.bwrap_problem())"
    result = subprocess.run([str(dotted), "-c", code], cwd=here, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == [str(python.parent / python.name).replace("/./", "/"), "None"], result.stdout
