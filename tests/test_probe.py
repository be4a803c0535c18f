"""The probe protocol: grader-chosen inputs run against the student's code inside the kernel."""

import json
import pickle

import pytest
import torch

from grader.errors import ComponentImported, ComponentMissing, KernelDied, ProbeFailed, ProbeTimeout
from grader.execute import KernelSession, SessionOptions
from grader.probe import Probe, read_response
from notebooks import write_notebook

OPTIONS = SessionOptions(cell_timeout=20, grace=1, max_restarts=0)

STUDENT = '''
import torch
from torch import nn

class MultiHeadAttention(nn.Module):  # an old draft with the book's name
    pass

class MyAttention(nn.Module):
    def __init__(self, d_in, d_out, qkv_bias=False):
        super().__init__()
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.register_buffer("mask", torch.ones(2, 2))

    def forward(self, x):
        return self.W_query(x) * 2, x.sum()

def scale(x, factor=2.0):
    return x * factor

def spin():
    while True:
        pass
'''
IMPORTS = "from torch.nn import Linear as SelfAttention_v1\nfrom reference.ch03 import CausalAttention"
NAMES = 'GRADER_NAMES = {"MultiHeadAttention": "MyAttention", "LayerNorm": "MyLayerNorm", "hang": "spin"}'


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    """One kernel that ran the student's notebook, shared by the module's tests."""
    workdir = tmp_path_factory.mktemp("probe")
    notebook = write_notebook(workdir / "assignment2.ipynb", STUDENT, IMPORTS, NAMES)
    with KernelSession(notebook, workdir, options=OPTIONS) as session:
        assert all(c.status == "ok" for c in session.run_all().cells)
        yield Probe(session)


def test_describe_follows_grader_names(probe):
    data = probe.call("describe", {"name": "MultiHeadAttention"}).data
    assert (data["kind"], data["used_name"]) == ("class", "MyAttention")
    assert data["params"] == ["d_in", "d_out", "qkv_bias"] and data["defaults"] == {"qkv_bias": False}
    assert data["origin"]["in_submission"] and data["origin"]["module"] == "__main__"


def test_describe_function(probe):
    data = probe.call("describe", {"name": "scale"}).data
    assert (data["kind"], data["params"], data["defaults"]) == ("function", ["x", "factor"], {"factor": 2.0})


def test_state_shapes_lists_parameters_then_buffers(probe):
    state = probe.call("state_shapes", {"name": "MultiHeadAttention", "init_kwargs": {"d_in": 3, "d_out": 2}}).data
    assert [(e["name"], e["shape"], e["buffer"]) for e in state["state"]] == [
        ("W_query.weight", [2, 3], False), ("mask", [2, 2], True)]


def test_module_forward_uses_the_given_weights(probe):
    weight, x = torch.randn(2, 3), torch.randn(4, 3)
    payload = {"name": "MultiHeadAttention", "init_kwargs": {"d_in": 3, "d_out": 2},
               "state_dict": {"W_query.weight": "w", "mask": "m"}, "inputs": ["x"]}
    result = probe.call("module_forward", payload, {"w": weight, "m": torch.ones(2, 2), "x": x})
    scaled, total = result.decoded()["output"]
    torch.testing.assert_close(scaled, x @ weight.T * 2)
    torch.testing.assert_close(total, x.sum())


def test_module_forward_reports_state_dict_mismatch(probe):
    payload = {"name": "MultiHeadAttention", "init_kwargs": {"d_in": 3, "d_out": 2},
               "state_dict": {"W_q.weight": "w"}, "inputs": []}
    with pytest.raises(ProbeFailed, match="missing keys .*W_query.weight.*unexpected keys .*W_q.weight"):
        probe.call("module_forward", payload, {"w": torch.zeros(2, 3)})


def test_call_function_with_tensors_and_json(probe):
    x = torch.arange(3.0)
    result = probe.call("call_function", {"name": "scale", "args": [{"$tensor": "x"}], "kwargs": {"factor": 3}},
                        {"x": x})
    torch.testing.assert_close(result.decoded()["result"], x * 3)
    assert probe.call("call_function", {"name": "scale", "args": [2]}).data["result"] == 4.0


def test_student_exception_becomes_probe_failed(probe):
    with pytest.raises(ProbeFailed, match="TypeError") as failure:
        probe.call("call_function", {"name": "scale", "args": [None]})
    assert failure.value.error_name == "TypeError" and "scale" in failure.value.traceback


def test_missing_mapped_name_gives_hint(probe):
    with pytest.raises(ComponentMissing, match="MyLayerNorm") as missing:
        probe.call("describe", {"name": "LayerNorm"})
    assert 'GRADER_NAMES = {"LayerNorm": "<your name>"}' in str(missing.value)


def test_missing_book_name_gives_hint(probe):
    with pytest.raises(ComponentMissing, match='`GELU` is not defined.*GRADER_NAMES = {"GELU"'):
        probe.call("state_shapes", {"name": "GELU"})


@pytest.mark.parametrize("name, module", [("SelfAttention_v1", "torch.nn.modules.linear"),
                                          ("CausalAttention", "reference.ch03")])
def test_imported_component_is_not_the_students(probe, name, module):
    origin = probe.call("describe", {"name": name}).data["origin"]
    assert not origin["in_submission"] and origin["module"] == module
    with pytest.raises(ComponentImported, match=f"imported from `{module}`"):
        probe.call("state_shapes", {"name": name, "init_kwargs": {}})


def test_hanging_probe_times_out_and_session_survives(probe):
    with pytest.raises(ProbeTimeout, match="call_function"):
        probe.call("call_function", {"name": "hang"}, timeout=1)
    assert probe.call("describe", {"name": "scale"}).data["kind"] == "function"


def test_extension_probe_round_trips_tensors(probe):
    x = torch.randn(2, 2, dtype=torch.float64)
    result = probe.call("generic.echo", {"a": [1, "b", None]}, {"x": x})
    assert result.decoded()["payload"] == {"a": [1, "b", None]}
    torch.testing.assert_close(result.decoded()["tensors"]["x"], x)


def test_unknown_probe_fails_clearly(probe):
    with pytest.raises(ProbeFailed, match="unknown probe"):
        probe.call("nonexistent.thing")


def test_probes_after_kernel_death_name_the_cell(tmp_path):
    notebook = write_notebook(tmp_path / "nb.ipynb", "x = 1", "import os\nos._exit(1)", "y = 2")
    with KernelSession(notebook, tmp_path, options=OPTIONS) as session:
        result = session.run_all()
        assert [c.status for c in result.cells] == ["ok", "kernel_died", "skipped"]
        with pytest.raises(KernelDied, match="while running cell 2"):
            Probe(session).call("describe", {"name": "x"})


def test_probe_that_kills_the_kernel_is_reported_and_restart_revives(tmp_path):
    notebook = write_notebook(tmp_path / "nb.ipynb", "import os, signal\nx = 5",
                              "def stubborn():\n    signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                              "    while True:\n        pass",
                              "def boom():\n    os._exit(3)")
    with KernelSession(notebook, tmp_path, options=SessionOptions(grace=1, max_restarts=1)) as session:
        session.run_all()
        probe = Probe(session)
        with pytest.raises(ProbeTimeout):
            probe.call("call_function", {"name": "stubborn"}, timeout=1)
        with pytest.raises(KernelDied, match="probe `call_function` .killed after it ignored the interrupt"):
            probe.call("describe", {"name": "x"})
        assert session.restart() and probe.call("describe", {"name": "x"}).data["type"] == "int"
        with pytest.raises(KernelDied, match="while running the probe `call_function`"):
            probe.call("call_function", {"name": "boom"})


LANE = """
from IPython import get_ipython
RUNS = [0]
get_ipython().events.register("pre_run_cell", lambda info: RUNS.__setitem__(0, RUNS[0] + 1))

def runs():
    return RUNS[0]

def shout(n):
    for _ in range(n):
        print("x" * 1000)
    return n

def close_sockets():
    import gc, os, socket
    for found in [o for o in gc.get_objects() if isinstance(o, socket.socket) and o.family == socket.AF_UNIX]:
        if found.fileno() >= 0 and str(found.getpeername()).endswith("lane"):
            os.close(found.fileno())  # the grader's lane, under the serving loop
    return 1
"""


def test_one_execute_request_serves_many_probes_and_other_code_interleaves(tmp_path):
    """The fast lane: consecutive probes share one execute request; grader code between them still runs."""
    notebook = write_notebook(tmp_path / "nb.ipynb", LANE)
    with KernelSession(notebook, tmp_path, options=OPTIONS) as session:
        session.run_all()
        probe = Probe(session)
        first = probe.call("call_function", {"name": "runs"}).data["result"]
        for _ in range(5):
            probe.call("describe", {"name": "shout"})
        assert probe.call("call_function", {"name": "runs"}).data["result"] == first  # no new execute request
        assert session.run_code("z = 3", 10).status == "ok"
        assert probe.call("describe", {"name": "z"}).data["type"] == "int"
        assert probe.call("call_function", {"name": "runs"}).data["result"] == first + 2  # run_code, then a new lane


def test_a_probe_that_floods_its_output_still_answers(tmp_path):
    notebook = write_notebook(tmp_path / "nb.ipynb", LANE)
    with KernelSession(notebook, tmp_path, options=OPTIONS) as session:
        session.run_all()
        probe = Probe(session)
        assert probe.call("call_function", {"name": "shout", "args": [40_000]}, timeout=60).data["result"] == 40_000
        assert probe.call("describe", {"name": "runs"}).data["kind"] == "function"


def respond(folder, body: bytes, tensors: bytes | None = None):
    (folder / "response.json").write_bytes(body)
    if tensors is not None:
        (folder / "outputs.safetensors").write_bytes(tensors)
    return folder


def test_reader_rejects_a_pickled_response(tmp_path):
    with pytest.raises(ProbeFailed, match="not valid JSON"):
        read_response(respond(tmp_path, pickle.dumps({"ok": True, "data": {}})), "describe")


def test_reader_never_unpickles_tensor_files(tmp_path, monkeypatch):
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: pytest.fail("unpickled"))
    body = json.dumps({"ok": True, "data": {"t": {"$tensor": "t0"}}}).encode()
    torch.save({"t0": torch.zeros(1)}, tmp_path / "outputs.safetensors")
    with pytest.raises(ProbeFailed, match="not a valid safetensors"):
        read_response(respond(tmp_path, body), "describe")


def test_reader_rejects_links_and_missing_responses(tmp_path):
    with pytest.raises(ProbeFailed, match="no response"):
        read_response(tmp_path, "describe")
    (tmp_path / "response.json").symlink_to("/etc/passwd")
    with pytest.raises(ProbeFailed, match="cannot open response.json"):
        read_response(tmp_path, "describe")


def test_a_probe_that_closes_the_lane_fails_and_the_next_probe_gets_a_new_lane(tmp_path):
    notebook = write_notebook(tmp_path / "nb.ipynb", LANE)
    with KernelSession(notebook, tmp_path, options=OPTIONS) as session:
        session.run_all()
        probe = Probe(session)
        with pytest.raises(ProbeFailed, match="probe socket"):
            probe.call("call_function", {"name": "close_sockets"})
        assert probe.call("describe", {"name": "runs"}).data["kind"] == "function"
        assert session.alive
