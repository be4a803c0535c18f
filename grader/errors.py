"""Typed grader errors whose messages come from class-level templates.

Each error is built from keyword fields, e.g. `CellTimeout(cell="cell 4", seconds=60)`;
the fields become attributes (`err.seconds`) and fill the class's `template`.
Places are human labels ("cell 4" counts cells from 1 at the top, markdown included).
"""


class GraderError(Exception):
    """Base of every error the grading engine raises on purpose."""

    template = "{message}"

    def __init__(self, **fields):
        self.fields = {**self.derived(fields), **fields}
        for key, value in self.fields.items():
            setattr(self, key, value)
        super().__init__(self.template.format(**self.fields))

    @staticmethod
    def derived(fields: dict) -> dict:
        """Extra template fields computed from the given ones (none by default)."""
        return {}

    @property
    def message(self) -> str:
        return str(self)


class KernelDied(GraderError):
    template = (
        "the kernel died while running {where}, so nothing more can run in it; look there for "
        "exit(), os._exit, a crash in native code, or memory running out"
    )


class CellTimeout(GraderError):
    template = "{cell} ran longer than {seconds:g} s and was interrupted"


class ProbeTimeout(GraderError):
    """A probe ran past its timeout; `where` is the notebook's function it was interrupted in (if known) and
    `components` the book names it had looked up."""

    template = (
        "the probe `{probe}` did not finish within {seconds:g} s and was interrupted{place}; "
        "the code it called may loop forever or be far too slow"
    )

    @staticmethod
    def derived(fields: dict) -> dict:
        where = fields.get("where")
        return {"where": where, "components": tuple(fields.get("components") or ()),
                "place": f" in `{where}`" if where else ""}


class ProbeFailed(GraderError):
    template = "the probe `{probe}` failed: {reason}"


class ComponentMissing(GraderError):
    """A name the probe looked up is not defined in the notebook."""

    template = (
        "`{component}` is not defined in your notebook{mapping_note}. Define it with the book's "
        'name, or map your own name in a cell: GRADER_NAMES = {{"{component}": "<your name>"}}'
    )

    @staticmethod
    def derived(fields: dict) -> dict:
        mapped = fields.get("mapped")
        note = f" (GRADER_NAMES maps it to `{mapped}`, which is not defined)" if mapped else ""
        return {"mapped": mapped, "mapping_note": note}


class ComponentImported(ComponentMissing):
    """The name resolves, but to an object defined outside the submission (an installed package)."""

    template = (
        "`{component}`{yours} is imported from `{module}`, not defined in your submission; only "
        "code written in your notebook or in .py files beside it is graded"
    )

    @staticmethod
    def derived(fields: dict) -> dict:
        mapped = fields.get("mapped")
        return {"mapped": mapped, "yours": f" (your `{mapped}`)" if mapped else ""}


class BudgetExhausted(GraderError):
    template = "the grading time budget of {seconds:g} s was spent before {cell} could run"


class HeavyWorkShortened(GraderError):
    """A cell's loops over DataLoaders were ended early by the grader (grader/probes_kernel/governor.py)."""

    template = (
        "{cell} is heavy work (it was still looping over DataLoaders after {seconds:g} s): the grader ended "
        "its loops there instead of re-running your training; the checks test your functions on small "
        "inputs and your saved outputs show the full run"
    )


class HeavyWorkInterrupted(HeavyWorkShortened):
    template = (
        "{cell} is heavy work: the grader ended its loops over DataLoaders after {seconds:g} s and "
        "interrupted it {grace:g} s later instead of re-running your training; the checks test your "
        "functions on small inputs and your saved outputs show the full run"
    )


class HeavyWorkFailed(HeavyWorkShortened):
    template = (
        "{cell} is heavy work: the grader ended its loops over DataLoaders after {seconds:g} s instead of "
        "re-running your training, and the cell then raised {error} on what the shortened loops computed; "
        "not counted as an error (your saved outputs show the full run)"
    )


class NeedsHeavyWork(GraderError):
    template = (
        "not run: it uses `{name}`, which {cell} sets in the heavy work the grader did not re-run; "
        "your saved outputs show this cell's results"
    )


class LacksWhatItNeeds(GraderError):
    """A cell that needs what the grading machine does not have; the saved outputs show it ran for the student."""

    template = (
        "not counted as an error: it needs {what}, which the grading machine does not have ({error}){hint}. Your "
        "saved outputs show it ran for you; its functions and classes were defined again, and the cells that "
        "use the rest of what it sets are not counted either"
    )


class FollowsWhatWasLacking(GraderError):
    template = (
        "not counted as an error: it raised {error} here but not in your saved run, after {cell} could not run "
        "on the grading machine for want of {what}"
    )
