"""The kernel zygote's half (grader/zygote.py): runs inside one bubblewrap sandbox per grading slot, as its PID 1.

It imports what every notebook kernel imports (torch, numpy, tiktoken, ipykernel, torch._dynamo) once, then
answers requests (one JSON object per SOCK_SEQPACKET message on the file descriptor named in argv) by forking
kernels that skip those imports. Between two kernels nothing of the first survives:
- "kernel" and "sweep" kill every other process of the sandbox (`kill(-1, SIGKILL)`: the whole PID namespace
  but its init), remove its System V IPC objects and empty /tmp and /dev/shm; "kernel" then forks one
  ipykernel, which says its own pid (the grader reads the host's pid from the message's credentials) and
  closes the zygote's socket before any notebook code runs;
- "reset" (before each submission) also empties the slot folder, the only writable folder the sandbox binds,
  keeping one empty folder for the submission.
As the namespace's init the zygote ignores every signal sent from inside it, and it is not dumpable: a
notebook can neither kill, stop, trace nor read it. Standard library only, besides the preloaded modules.
"""

import ctypes
import json
import os
import signal
import socket
import stat
import sys
import time
import traceback

# what notebooks import (matplotlib: 98 of the 104 samples; pandas: chapter 6's data), and what torch loads on its
# first use of the meta device (torch._dynamo, sympy: 1 s)
PRELOAD = ("torch", "numpy.random", "tiktoken", "ipykernel.kernelapp", "torch._dynamo", "matplotlib.pyplot", "pandas")
PR_SET_DUMPABLE = 4
IPC_RMID = 0
SCRATCH_DIRS = ("/tmp", "/dev/shm")
MAX_REQUEST = 1 << 20


def _prctl(option: int, value: int) -> None:
    ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)


def _preload() -> None:
    for name in PRELOAD:
        try:
            __import__(name)
        except Exception as err:  # noqa: BLE001 - a kernel imports it again and reports it there
            print(f"zygote: could not preload {name}: {err}", file=sys.stderr)


def _others() -> list[int]:
    """The live processes of the namespace other than this one (zombies are reaped: SIGCHLD is ignored)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                with open(f"/proc/{entry}/stat", "rb") as stat_file:
                    state = stat_file.read().rsplit(b")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            if state not in (b"Z", b"X"):
                pids.append(int(entry))
    return pids


def _remove_ipc_objects() -> None:
    """System V shared memory, message queues and semaphores outlive their processes: remove the sandbox's."""
    libc = ctypes.CDLL(None, use_errno=True)
    for table, remove in (("shm", lambda i: libc.shmctl(i, IPC_RMID, None)),
                          ("msg", lambda i: libc.msgctl(i, IPC_RMID, None)),
                          ("sem", lambda i: libc.semctl(i, 0, IPC_RMID))):
        try:
            with open(f"/proc/sysvipc/{table}") as listing:
                rows = listing.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            if remove(int(row.split()[1])) != 0:
                raise RuntimeError(f"could not remove System V {table} object {row.split()[1]}")


def sweep(timeout: float = 10.0) -> None:
    """Kill every other process of the sandbox and wait until none is left; RuntimeError if one stays."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass
        left = _others()
        if not left:
            _remove_ipc_objects()
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"processes {left[:5]} survived SIGKILL")
        time.sleep(0.01)


def _remove(path: str) -> None:
    """Remove a file or a whole tree, whatever the modes a notebook left on its folders."""
    if os.path.isdir(path) and not os.path.islink(path):
        os.chmod(path, stat.S_IRWXU)
        for entry in os.scandir(path):
            _remove(entry.path)
        os.rmdir(path)
    else:
        os.unlink(path)


def _mount_points() -> set[str]:
    with open("/proc/self/mountinfo") as table:
        return {line.split()[4].replace("\\040", " ") for line in table}


def empty(folder: str, keep: str | None = None, mounts: set[str] | None = None) -> None:
    """Remove everything inside `folder` but the sandbox's mount points (the slot folder lies under /tmp) and the
    folders above them, which are emptied instead; so is `keep`, a folder directly inside `folder`."""
    mounts = _mount_points() if mounts is None else mounts
    for entry in os.listdir(folder):
        path = os.path.join(folder, entry)
        if path in mounts:
            continue
        if (path == keep or any(m.startswith(path + "/") for m in mounts)) and os.path.isdir(path) \
                and not os.path.islink(path):
            empty(path, mounts=mounts)
        else:
            _remove(path)


def _serve_one(ctl: socket.socket, request: dict) -> None:
    op = request.get("op")
    if op not in ("reset", "sweep", "kernel"):
        raise ValueError(f"unknown request {op!r}")
    sweep()
    for folder in SCRATCH_DIRS:
        if os.path.isdir(folder):
            empty(folder)
    if op == "reset":
        keep = os.path.join(request["slot"], os.path.basename(request["keep"]))
        empty(request["slot"], keep)
        os.makedirs(keep, exist_ok=True)
    if op != "kernel":
        ctl.send(json.dumps({"ok": True, "id": request.get("id")}).encode())
        return
    if os.fork() == 0:
        _kernel(ctl, request)  # never returns


def become_child(log_path: str) -> None:
    """In a freshly forked child (a kernel here, a grading child in grader/forkserver.py): its children are waited
    for, it leads a session of its own, reads nothing, and writes to the log."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.setsid()
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)


def _kernel(ctl: socket.socket, request: dict) -> None:
    """In the forked child: become the notebook's kernel (its folder, environment, limits, log), say so, run."""
    status = 1
    try:
        become_child(request["log"])
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        import resource
        import tempfile

        tempfile.tempdir = None
        for kind, value in request["rlimits"]:
            resource.setrlimit(kind, (value, value))
        _prctl(PR_SET_DUMPABLE, 1)  # an ordinary process again (the zygote is not dumpable)
        ctl.send(json.dumps({"pid": os.getpid(), "id": request.get("id")}).encode())
        ctl.close()
        sys.argv = ["ipykernel_launcher", "-f", request["connection_file"]]
        sys.path[0] = request["cwd"]  # as `python -m ipykernel_launcher` started there
        from ipykernel import kernelapp

        kernelapp.launch_new_instance(argv=sys.argv[1:])
        status = 0
    except BaseException:  # noqa: BLE001 - the log says why; the grader sees the kernel gone
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


def serve(fd: int) -> None:
    ctl = socket.socket(fileno=fd)
    _preload()
    _prctl(PR_SET_DUMPABLE, 0)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # PID 1: orphans are reaped as they end
    while True:
        message = ctl.recv(MAX_REQUEST)
        if not message:
            return  # the grader closed its end
        request = {}
        try:
            request = json.loads(message)
            _serve_one(ctl, request)
        except Exception as err:  # noqa: BLE001 - the grader stops using this zygote
            ctl.send(json.dumps({"ok": False, "id": request.get("id"),
                                 "error": f"{type(err).__name__}: {err}"}).encode())


if __name__ == "__main__":
    serve(int(sys.argv[1]))
