"""create_dataloader_v1 (section 2.6): batches of sliding windows of GPT-2 tokens, in order or shuffled.

The grader calls `create_dataloader_v1(txt=..., batch_size=..., max_length=..., stride=...,
shuffle=..., drop_last=..., num_workers=0)` under `torch.manual_seed(0)` and reads `len(loader)`
and its batches of (inputs, targets). A loader without `drop_last`/`num_workers` (the book's first
version) is called without them: its batches are compared with either drop_last reading, and the
drop_last check is informational (the signature check in Completeness counts the parameter). On a
text too short for one window, no batches or a ValueError/AssertionError are both correct. A
shuffling loader must draw a new order each time it is iterated (each epoch), as DataLoader does.

Run: pytest student_tests/a1 --submission assignments/a1/<you>/
"""

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from grader.checks import expect
from reference.ch02 import create_dataloader_v1
from student_tests.a1.common import (
    GPT2,
    RAW_TEXT,
    TWO_TEXTS,
    expect_integer_ids,
    expect_windows,
    first_difference,
    loader_batches,
)

pytestmark = pytest.mark.check(component="create_dataloader_v1", section="2.6")
ONE_WINDOW = RAW_TEXT[:24]  # "I HAD always thought Jac": max_length = its token count - 1 leaves exactly one window


@st.composite
def loader_settings(draw, *, max_chars=600, max_batch_size=6, max_window=10):
    """(txt, batch_size, max_length, stride, drop_last): a prefix of the story and loader arguments."""
    txt = RAW_TEXT[: draw(st.integers(0, max_chars))]
    return (txt, draw(st.integers(1, max_batch_size)), draw(st.integers(1, max_window)),
            draw(st.integers(1, max_window)), draw(st.booleans()))


def _rows(batches):
    return [[x.tolist(), y.tolist()] for x, y in batches]


def _windows(data):
    return [(tuple(x), tuple(y)) for inputs, targets in data["batches"]
            for x, y in zip(inputs.tolist(), targets.tolist())]


def test_book_batches_with_stride_1(nb):
    """batch_size=1, max_length=4, stride=1, shuffle=False: the book's first two batches."""
    component, data, args = loader_batches(nb, txt=RAW_TEXT, batch_size=1, max_length=4, stride=1, shuffle=False,
                                           max_batches=2)
    expected = [[[[40, 367, 2885, 1464]], [[367, 2885, 1464, 1807]]],
                [[[367, 2885, 1464, 1807]], [[2885, 1464, 1807, 3619]]]]
    expect(_rows(data["batches"]) == expected, f"{component.display}(the-verdict.txt, {args}) gave first batches "
           f"{_rows(data['batches'])} as [inputs, targets]; the book prints {expected} (section 2.6).")


def test_batches_are_integer_token_ids(nb):
    """The inputs and targets of its batches are integer tensors, ready for nn.Embedding and the loss."""
    component, data, _ = loader_batches(nb, txt=RAW_TEXT, batch_size=2, max_length=4, stride=4, shuffle=False,
                                        max_batches=1)
    first = [rows[0] for rows in _rows(data["batches"])[0]] if data["batches"] else None
    book = [[40, 367, 2885, 1464], [367, 2885, 1464, 1807]]
    expect(first == book, f"{component.display}(the-verdict.txt, batch_size=2, max_length=4, stride=4, "
           f"shuffle=False): the first [inputs, targets] rows are {first}; the book's are {book} (section 2.6).")
    batches = [t for pair in data["batches"] for t in pair]
    expect_integer_ids(batches, component, "the inputs and targets of its batches")


def test_book_batch_with_stride_4(nb):
    """batch_size=8, max_length=4, stride=4, shuffle=False: the book's first batch."""
    component, data, args = loader_batches(nb, txt=RAW_TEXT, batch_size=8, max_length=4, stride=4, shuffle=False,
                                           max_batches=1)
    inputs = [[40, 367, 2885, 1464], [1807, 3619, 402, 271], [10899, 2138, 257, 7026], [15632, 438, 2016, 257],
              [922, 5891, 1576, 438], [568, 340, 373, 645], [1049, 5975, 284, 502], [284, 3285, 326, 11]]
    [[got_inputs, got_targets]] = _rows(data["batches"])
    expect(got_inputs == inputs and got_targets[-1] == [3285, 326, 11, 287],
           f"{component.display}(the-verdict.txt, {args}) "
           f"gave inputs {got_inputs} and last target row {got_targets[-1]}; the book prints inputs {inputs} and last "
           f"target row [3285, 326, 11, 287] (section 2.6).")


@given(case=loader_settings())
@example(case=(ONE_WINDOW, 1, len(GPT2.encode(ONE_WINDOW)) - 1, 1, True))
@example(case=(TWO_TEXTS, 2, 3, 2, False))  # the separator between texts is one token, 50256 (section 2.4)
@settings(max_examples=12)
def test_matches_the_reference_batches(nb, case):
    """With shuffle=False, gives the reference's batches on generated texts and settings."""
    txt, batch_size, max_length, stride, drop_last = case
    kwargs = {"batch_size": batch_size, "max_length": max_length, "stride": stride, "shuffle": False,
              "drop_last": drop_last}
    if (found := loader_batches(nb, txt=txt, num_workers=0, **kwargs)) is None:
        return
    component, data, args = found
    readings = [drop_last, not drop_last] if "drop_last" in data["dropped"] else [drop_last]
    allowed = [_rows(create_dataloader_v1(txt, **{**kwargs, "drop_last": d})) for d in readings]
    got, expected = _rows(data["batches"]), allowed[0]
    expect(got in allowed, f"{component.display}(the first {len(txt)} characters of the-verdict.txt, {args}) gave "
           f"{len(got)} batches where the reference gives {len(expected)}; {first_difference(got, expected, 'batch')} "
           f"as [inputs, targets] (section 2.6: GPTDatasetV1 windows with this max_length and stride, in order).")


@given(case=loader_settings())
@settings(max_examples=10)
def test_drop_last_keeps_only_full_batches(nb, case):
    """drop_last=True: every batch holds batch_size windows of the text and a short last one is dropped."""
    txt, batch_size, max_length, stride, _ = case
    if (found := loader_batches(nb, txt=txt, batch_size=batch_size, max_length=max_length, stride=stride,
                                shuffle=False, drop_last=True, num_workers=0)) is None:
        return
    component, data, args = found
    if "drop_last" in data["dropped"]:
        pytest.skip(f"informational: {component.display} has no drop_last parameter (the book's current "
                    f"create_dataloader_v1 takes drop_last=True; the signature check counts the parameter)")
    ids = GPT2.encode(txt)
    n_windows = len(range(0, len(ids) - max_length, stride))
    sizes = sorted({len(x) for x, _ in data["batches"]})
    expect(sizes in ([], [batch_size]) and len(data["batches"]) == n_windows // batch_size,
           f"{component.display}(the first {len(txt)} characters of the-verdict.txt, {args}) "
           f"gave {len(data['batches'])} batches of {sizes} windows; "
           f"{n_windows} windows with drop_last=True give {n_windows // batch_size} batches "
           f"of {batch_size} (section 2.6).")
    expect_windows(_windows(data), ids=ids, max_length=max_length, component=component,
                   what=f"a batch of create_dataloader_v1(the first {len(txt)} characters, {args})")


def test_shuffles_by_default(nb):
    """Without a shuffle argument (the book's default shuffle=True), gives the same windows in another order."""
    kwargs = {"txt": RAW_TEXT, "batch_size": 4, "max_length": 8, "stride": 8, "drop_last": False, "num_workers": 0}
    component, shuffled, args = loader_batches(nb, **kwargs)
    _, ordered, _ = loader_batches(nb, shuffle=False, **kwargs)
    got, in_order = _windows(shuffled), _windows(ordered)
    expect_windows(got, ids=GPT2.encode(RAW_TEXT), max_length=8, component=component,
                   what=f"a batch of create_dataloader_v1(the-verdict.txt, {args})")
    problem = "the windows in text order" if got == in_order else "other windows than with shuffle=False"
    expect(sorted(got) == sorted(in_order) and got != in_order, f"{component.display}(the-verdict.txt, {args}) gave "
           f"{problem}; expected the same windows shuffled, since the book's create_dataloader_v1 has shuffle=True "
           f"by default (section 2.6).")


def test_reshuffles_every_epoch(nb):
    """Two passes over one shuffling loader give the same windows in two different orders (a new order per epoch)."""
    kwargs = {"txt": RAW_TEXT, "batch_size": 4, "max_length": 8, "stride": 8, "shuffle": True, "drop_last": False,
              "num_workers": 0}
    component, data, args = loader_batches(nb, epochs=2, **kwargs)
    first, second = (_windows({"batches": batches}) for batches in data["epochs"])
    expect_windows(first + second, ids=GPT2.encode(RAW_TEXT), max_length=8, component=component,
                   what=f"a batch of create_dataloader_v1(the-verdict.txt, {args})")
    expect(sorted(first) == sorted(second) and first != second, f"{component.display}(the-verdict.txt, {args}): "
           f"iterating the same loader twice gave {'the same order' if first == second else 'different windows'}; "
           f"a shuffling loader draws a new order for every epoch (DataLoader(shuffle=True) does; section 2.6).")
