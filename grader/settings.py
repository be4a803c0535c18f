"""The run settings a person can choose, declared once.

`grade` (grader/cli.py) and the pytest plugin (grader/plugin.py, `pytest student_tests/aN
--submission ...`) both declare their options from RUN_OPTIONS (`add_options`); a grading child
hands them to pytest as flags (`as_flags`) and the plugin reads them back (`read_options`). Their
defaults are the defaults of grader.grade.GradeOptions and grader.kernel.SessionOptions (`DEFAULTS`).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from grader.sandbox import MODES as SANDBOX_MODES


@dataclass(frozen=True)
class Option:
    flag: str
    field: str
    type: type
    default: Any
    help: str
    metavar: str | None = None
    choices: tuple[str, ...] | None = None


RUN_OPTIONS = (
    Option("--cell-timeout", "cell_timeout", float, 60.0, "seconds per notebook cell (default 60)", "SECONDS"),
    Option("--heavy-after", "heavy_after", float, 4.0,
           "seconds a notebook cell may loop over DataLoaders before the grader ends its loops (training is not "
           "re-run; default 4; 0 runs every cell in full)", "SECONDS"),
    Option("--budget", "budget", float, 600.0, "seconds for the whole notebook (default 600)", "SECONDS"),
    Option("--device", "device", str, "auto", "device for training checks (default auto: CUDA when available)",
           choices=("cpu", "cuda", "auto")),
    Option("--weights", "weights", str, None,
           "pretrained GPT-2 weights the notebooks may load offline (see the README: Pretrained weights)", "DIR"),
    Option("--sandbox", "sandbox", str, "auto",
           "isolate each notebook's kernel with bubblewrap: auto (default) uses it where it works, bwrap requires "
           "it, none runs without isolation", choices=SANDBOX_MODES),
)
DEFAULTS = {option.field: option.default for option in RUN_OPTIONS}


def add_options(add: Callable[..., Any]) -> None:
    """Declare RUN_OPTIONS with `add` (argparse's add_argument or a pytest option group's addoption)."""
    for option in RUN_OPTIONS:
        extra = {k: v for k, v in (("metavar", option.metavar), ("choices", option.choices)) if v is not None}
        add(option.flag, type=option.type, default=option.default, help=option.help, **extra)


def read_options(get: Callable[[str], Any]) -> dict[str, Any]:
    """{field: value} of RUN_OPTIONS read with `get(flag)` (pytest's config.getoption)."""
    return {option.field: get(option.flag) for option in RUN_OPTIONS}


def as_flags(values: object) -> list[str]:
    """RUN_OPTIONS of an object with those fields (GradeOptions) as command-line flags; None ones left out."""
    return [f"{option.flag}={getattr(values, option.field)}" for option in RUN_OPTIONS
            if getattr(values, option.field) is not None]
