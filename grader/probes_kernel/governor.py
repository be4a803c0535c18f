"""Heavy work in the notebook's own cells, kept short (kernel side; loaded by path like baseline.py).

The grader does not re-run a student's training or a whole-dataset evaluation: its checks call the
student's functions on small inputs, and the notebook's saved outputs are the evidence that the
training ran. kernel_side.preload() installs one `Governor` per kernel. It watches the notebook's
cells (IPython's pre/post_run_cell events; the grader's own code is never watched):

* once a cell has run `after` seconds, every torch DataLoader it iterates ends early, as an empty
  loader would, so training and evaluation loops finish quickly and the names they bind exist;
* if that cell still runs `grace` seconds after its first shortened loader (a per-epoch sample
  generation, say), the cell is interrupted (KeyboardInterrupt), as the cell timeout would later.

A cell that never iterates a DataLoader is left alone (the grader's cell timeout still holds).
`report(digest)` says what happened to the cell whose source has that sha1, for the report.
"""

import _thread
import hashlib
import threading
import time

GRADER_CODE = '(lambda sys: (sys.modules.get("_llm_grader_kernel_side")'  # grader.execute.BOOT's start


def digest(source):
    return hashlib.sha1(source.encode("utf-8", "replace")).hexdigest()


class _Shortened:
    """A DataLoader's iterator that ends once the governor says the cell has run long enough."""

    def __init__(self, inner, governor, serial):
        self._inner, self._governor, self._serial = inner, governor, serial

    def __iter__(self):
        return self

    def __next__(self):
        if self._governor.stop_now(self._serial):
            raise StopIteration
        return next(self._inner)

    def __len__(self):
        return len(self._inner)

    def __getattr__(self, name):
        return getattr(self._inner, name)


class Governor:
    def __init__(self, after, grace):
        self.after, self.grace = float(after), float(grace)
        self.serial, self.started, self.source = 0, None, None  # the notebook cell running now (None: none)
        self.timer = None
        self.cells = {}  # sha1 of a cell's source -> {"stopped": loaders ended early, "interrupted": bool}

    def install(self, shell, loader_class):
        shell.events.register("pre_run_cell", self.pre_run_cell)
        shell.events.register("post_run_cell", self.post_run_cell)
        original, governor = loader_class.__iter__, self

        def __iter__(loader):
            inner = original(loader)
            serial = governor.serial
            return _Shortened(inner, governor, serial) if governor.started is not None else inner

        __iter__.__wrapped__ = original
        loader_class.__iter__ = __iter__

    def pre_run_cell(self, info):
        raw = getattr(info, "raw_cell", "") or ""
        self.serial += 1
        self.started, self.source = (None, None) if raw.startswith(GRADER_CODE) else (time.monotonic(), raw)

    def post_run_cell(self, result=None):
        self.started = None
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def stop_now(self, serial):
        """Whether a loader of cell `serial` must end now (and start the interrupt's clock the first time)."""
        if self.started is None or serial != self.serial or time.monotonic() - self.started < self.after:
            return False
        record = self.cells.setdefault(digest(self.source), {"stopped": 0, "interrupted": False})
        record["stopped"] += 1
        if self.timer is None and self.grace > 0:
            self.timer = threading.Timer(self.grace, self._interrupt, args=(serial, record))
            self.timer.daemon = True
            self.timer.start()
        return True

    def _interrupt(self, serial, record):
        if self.started is not None and serial == self.serial:
            record["interrupted"] = True
            _thread.interrupt_main()

    def report(self, cell_digest):
        return self.cells.get(cell_digest)
