"""Probe: call small functions inside the notebook's kernel against the student's own code.

The protocol, one call:
1. The grader makes a fresh folder under the request root (in the workdir) and writes
   `request.json` ({"probe", "payload", "workdir"}) and, when there are tensors,
   `inputs.safetensors`. Payload values may refer to tensors as {"$tensor": key}.
2. kernel_side's `run(<folder>)` answers it in the kernel (grader.execute.kernel_side_code:
   kernel_side.py is loaded by path when the kernel starts, so a student's own `grader.py` cannot
   stand in for it). The folder's path reaches it through the kernel's fast lane
   (KernelSession.run_probe, grader/kernel.py): one execute request runs kernel_side's `serve`,
   which reads request folders from a Unix socket until the grader runs other code.
   kernel_side restores the grader's baseline of torch (what the notebook patched) before the
   probe and before writing results.
3. kernel_side resolves book names in the notebook's globals (a `GRADER_NAMES` entry wins
   over the book's name), runs the probe, and writes `response.json`:
   {"ok": true, "data": {...}, "components": [...], "restored": [...]} or {"ok": false, "error":
   {"kind", "name", "message", "traceback"...}, "components": [...]}, plus `outputs.safetensors`
   for tensors, which `data` refers to as {"$tensor": key}. "components" says, per name looked
   up, the name used and where it was defined (module, source file, in_submission, and for the
   submission's own code the foreign code it uses and whether it was compiled from a string);
   "restored" names what the notebook had patched.
4. The grader reads them with `json` and `safetensors.torch.load` only, never pickle, through
   O_NOFOLLOW opens with size caps. No response, a garbled one or a failed probe -> ProbeFailed;
   error kinds "missing" -> ComponentMissing, "imported" -> ComponentImported.
Every call has a timeout: the kernel is interrupted (ProbeTimeout, naming the notebook's function
it was interrupted in and the components the probe had looked up) and killed if it ignores that.
Once the kernel is dead, calls raise KernelDied naming the cell or probe it died in.
"""

import json
import os
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save_file

from grader.errors import ComponentImported, ComponentMissing, KernelDied, ProbeFailed, ProbeTimeout
from grader.execute import KernelSession, grader_dir
from grader.probes_kernel import wire

MiB = 2**20
_WHOLE = object()


@dataclass(frozen=True)
class ResponseLimits:
    json_bytes: int = 8 * MiB
    tensor_bytes: int = 1024 * MiB


@dataclass(frozen=True)
class ProbeResult:
    data: dict
    tensors: dict[str, torch.Tensor] = field(default_factory=dict)
    components: tuple[dict, ...] = ()  # per name looked up: component, used_name, module, in_submission
    restored: tuple[str, ...] = ()  # what the notebook had patched and kernel_side put back (torch.manual_seed)

    def decoded(self, value=_WHOLE):
        """`data` (or a part of it) with every {"$tensor": key} replaced by its tensor."""
        value = self.data if value is _WHOLE else value
        return wire.decode(value, lambda name, content: self.tensors[content] if name == wire.TENSOR
                           else {name: content})


def _read_capped(path: Path, limit: int, probe: str) -> bytes | None:
    """A regular file's bytes (None if absent); links, special files and big files fail."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError as err:
        raise ProbeFailed(probe=probe, reason=f"cannot open {path.name} ({err.strerror})") from None
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            raise ProbeFailed(probe=probe, reason=f"{path.name} is not a regular file under {limit} bytes")
        return file.read(limit + 1)[:limit]


def _parse_json(raw: bytes, probe: str) -> dict:
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ProbeFailed(probe=probe, reason="response.json is not valid JSON") from None
    if not isinstance(body, dict) or not isinstance(body.get("ok"), bool):
        raise ProbeFailed(probe=probe, reason="response.json has no boolean `ok` field")
    return body


def _parse_tensors(raw: bytes | None, probe: str) -> dict[str, torch.Tensor]:
    if raw is None:
        return {}
    try:
        return load_safetensors(raw)
    except Exception:  # safetensors raises its own error types for bad headers
        raise ProbeFailed(probe=probe, reason="outputs.safetensors is not a valid safetensors file") from None


def _raise_for(probe: str, body: dict) -> None:
    error = body.get("error") if isinstance(body.get("error"), dict) else {}
    kind, message = error.get("kind"), str(error.get("message", "no message"))[:2000]
    if kind == "missing":
        raise ComponentMissing(component=error.get("component"), mapped=error.get("mapped"))
    if kind == "imported":
        mapped = error.get("used_name") if error.get("used_name") != error.get("component") else None
        raise ComponentImported(component=error.get("component"), mapped=mapped, module=error.get("module"))
    name = error.get("name", "error")
    reason = message if kind != "exception" else f"{name}: {message}"
    raise ProbeFailed(probe=probe, reason=reason, error_name=name, kind=kind,
                      traceback=str(error.get("traceback", ""))[-4000:], details=error)


def read_response(folder: Path, probe: str, limits: ResponseLimits = ResponseLimits()) -> ProbeResult:
    """Read and check what kernel_side wrote; raise the matching GraderError on failure."""
    raw = _read_capped(folder / "response.json", limits.json_bytes, probe)
    if raw is None:
        raise ProbeFailed(probe=probe, reason="the kernel wrote no response")
    body = _parse_json(raw, probe)
    if not body["ok"]:
        _raise_for(probe, body)
    components = _dicts(body.get("components"))
    restored = body.get("restored")
    restored = tuple(str(r)[:200] for r in restored[:50]) if isinstance(restored, list) else ()
    tensors = _parse_tensors(_read_capped(folder / "outputs.safetensors", limits.tensor_bytes, probe), probe)
    data = body.get("data")
    if not isinstance(data, dict):
        raise ProbeFailed(probe=probe, reason="response.json has no `data` object")
    _check_refs(data, tensors, probe)
    return ProbeResult(data, tensors, components, restored)


def _dicts(value) -> tuple[dict, ...]:
    return tuple(c for c in value if isinstance(c, dict)) if isinstance(value, list) else ()


def interruption(folder: Path, probe: str, limits: ResponseLimits = ResponseLimits()) -> dict:
    """What an interrupted probe said before it stopped: {"where": the notebook's function it was in,
    "components": the book names it had looked up}; empty when it said nothing readable."""
    try:
        raw = _read_capped(folder / "response.json", limits.json_bytes, probe)
        body = _parse_json(raw, probe) if raw is not None else {}
    except ProbeFailed:
        return {}
    error = body.get("error") if isinstance(body.get("error"), dict) else {}
    if error.get("kind") != "interrupted":
        return {}
    where = error.get("where")
    names = tuple(str(c.get("component"))[:200] for c in _dicts(body.get("components")) if c.get("component"))
    return {"where": str(where)[:200] if where else None, "components": names}


def _check_refs(value, tensors: dict, probe: str) -> None:
    missing = next((key for key in wire.tensor_keys(value) if key not in tensors), None)
    if missing is not None:
        raise ProbeFailed(probe=probe, reason=f"the response names a missing tensor {missing!r}")


class Probe:
    """Calls kernel-side probes in a live KernelSession."""

    def __init__(self, session: KernelSession, request_root: Path | None = None, *,
                 limits: ResponseLimits = ResponseLimits()):
        self.session, self.limits = session, limits
        self.request_root = Path(request_root or grader_dir(session.workdir) / "probes")
        self.request_root.mkdir(parents=True, exist_ok=True)

    def call(self, name: str, payload: dict | None = None, tensors: dict[str, torch.Tensor] | None = None,
             *, timeout: float = 30.0) -> ProbeResult:
        """Run the probe `name` in the kernel and return its checked result."""
        if not self.session.alive:
            raise KernelDied(where=self.session.where_it_died())
        folder = self._write_request(name, payload or {}, tensors or {})
        reply = self.session.run_probe(folder, timeout, label=f"the probe `{name}`")
        if reply.status == "timeout":
            raise ProbeTimeout(probe=name, seconds=timeout, **interruption(folder, name, self.limits))
        if reply.status == "kernel_died":
            raise KernelDied(where=self.session.where_it_died())
        if reply.status == "error":
            raise ProbeFailed(probe=name, reason=f"the probe runner raised {reply.error_name}: {reply.error_message}")
        return read_response(folder, name, self.limits)

    def _write_request(self, name: str, payload: dict, tensors: dict[str, torch.Tensor]) -> Path:
        folder = Path(tempfile.mkdtemp(prefix=f"{name.replace('.', '-')}-", dir=self.request_root))
        request = {"probe": name, "payload": payload, "workdir": str(self.session.workdir)}
        (folder / "request.json").write_text(json.dumps(request), encoding="utf-8")
        if tensors:
            save_file({k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()},
                      str(folder / "inputs.safetensors"))
        return folder
