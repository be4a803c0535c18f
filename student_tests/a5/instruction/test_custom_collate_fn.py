"""custom_collate_fn(batch, pad_token_id=50256, ignore_index=-100, allowed_max_length=None, device="cpu") (7.3).

Each text gets one <|endoftext|> appended and is padded to the longest; inputs drop the last
token, targets are shifted by one, and every padding target after the first <|endoftext|>
becomes ignore_index. Checks the signature, the book's example, the reference on drawn batches
and pad/ignore values, the shift and the kept end-of-text target as properties,
allowed_max_length cutting inputs and targets alike, the device and dtype of the result, and a
second call on the same token lists (a DataLoader's next epoch) giving the same batch.

Run: pytest student_tests/a5/instruction --submission assignments/a5/<you>/
"""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from grader.checks import expect
from reference.ch07 import custom_collate_fn
from student_tests.a5.instruction.common import PAD, token_batches

NAME, SECTION = "custom_collate_fn", "7.3"
pytestmark = pytest.mark.check(component=NAME, section=SECTION)
BOOK_BATCH = [[0, 1, 2, 3, 4], [5, 6], [7, 8, 9]]
BOOK_INPUTS = [[0, 1, 2, 3, 4], [5, 6, 50256, 50256, 50256], [7, 8, 9, 50256, 50256]]
BOOK_TARGETS = [[1, 2, 3, 4, 50256], [6, 50256, -100, -100, -100], [8, 9, 50256, -100, -100]]
SIGNATURE = "custom_collate_fn(batch, pad_token_id=50256, ignore_index=-100, allowed_max_length=None, device=\"cpu\")"


@st.composite
def collate_cases(draw):
    """(batch, pad_token_id, ignore_index): drawn padding and ignore values, texts that never contain the pad id."""
    pad_token_id = draw(st.sampled_from([PAD, 0, 7, 50000]))
    return draw(token_batches(pad_token_id=pad_token_id)), pad_token_id, draw(st.sampled_from([-100, -1, -7]))


def _collate(nb, batch, **kwargs):
    """(component, inputs, targets, raw probe result) of the student's collate on `batch`."""
    component = nb.require(NAME)
    shown_args = "".join(f", {k}={v!r}" for k, v in kwargs.items())
    result = nb.run("a5_instruction.collate", {"batch": batch, "kwargs": kwargs},
                    what=f"calling {component.display}({batch}{shown_args})")
    return component, result["inputs"].tolist(), result["targets"].tolist(), result


def _call(component, batch, **kwargs) -> str:
    return f"{component.display}({batch}" + "".join(f", {k}={v!r}" for k, v in kwargs.items()) + ")"


def _unshifted(inputs, targets, ignore_index=-100) -> bool:
    """Every target that counts equals the input at its own position (never true of a shifted batch)."""
    pairs = [(i, t) for row_in, row_t in zip(inputs, targets) for i, t in zip(row_in, row_t) if t != ignore_index]
    return bool(pairs) and all(i == t for i, t in pairs)


def _hint(batch, inputs, targets, ignore_index=-100, pad_token_id=PAD) -> str:
    """Names a known mistake the result shows, else ''."""
    if _unshifted(inputs, targets, ignore_index):
        return " Your targets equal your inputs: targets are the padded ids shifted by one (padded[1:])."
    lost = [i for i, item in enumerate(batch) if i < len(targets) and len(item) - 1 < len(targets[i])
            and targets[i][len(item) - 1] == ignore_index]
    if lost:
        return (f" Row {lost[0]}'s first <|endoftext|> target ({pad_token_id}) became {ignore_index}: keep the first "
                f"padding target so the model learns to end its response; only the ones after it are ignored.")
    if ignore_index != -100 and any(-100 in row for row in targets):
        return (f" Your targets hold -100 although ignore_index={ignore_index} was passed: mask with the "
                f"ignore_index argument.")
    longest = max(range(len(batch)), key=lambda i: len(batch[i]))
    if len(targets) == len(batch) and len(targets[longest]) == len(batch[longest]) - 1:
        return (f" Your batch is {len(batch[longest]) - 1} wide, one less than the longest text: append one "
                f"<|endoftext|> ({pad_token_id}) to every text before padding (item.copy() + [pad_token_id]), so "
                f"the longest text also ends with an <|endoftext|> target and the model learns to stop after it.")
    return ""


def _expect_reference(component, batch, inputs, targets, **kwargs):
    expected_inputs, expected_targets = (t.tolist() for t in custom_collate_fn(batch, **kwargs))
    what = _call(component, batch, **kwargs)
    hint = _hint(batch, inputs, targets, kwargs.get("ignore_index", -100), kwargs.get("pad_token_id", PAD))
    expect(inputs == expected_inputs, f"{what} gave inputs {inputs}; expected {expected_inputs}.{hint} "
                                      f"See section {SECTION}.")
    expect(targets == expected_targets, f"{what} gave targets {targets}; expected {expected_targets}.{hint} "
                                        f"See section {SECTION}.")


def _degenerate_batch(batch, inputs, targets) -> str | None:
    """Why (inputs, targets) cannot come from a working collate function on `batch`, or None."""
    starts = [(row[:len(item)], list(item)[:len(row)]) for row, item in zip(inputs, batch)]
    if len(inputs) != len(batch) or not all(row and row == item for row, item in starts):
        return f"its inputs {inputs} do not start with the batch's token ids"
    if targets == inputs:
        return "its targets are its inputs, unchanged"
    if len({t for row in targets for t in row}) <= 1:
        return f"its targets {targets} are one constant"
    return None


def test_exists_with_the_book_signature(nb):
    """custom_collate_fn(batch, pad_token_id=50256, ignore_index=-100, allowed_max_length=None, device="cpu") exists
    and turns a batch into (inputs, targets) that hold its tokens."""
    component = nb.require(NAME)
    defaults = {"pad_token_id": 50256, "ignore_index": -100, "allowed_max_length": None, "device": "cpu"}
    wrong = {k: component.defaults.get(k, "no default") for k, v in defaults.items()
             if k not in component.defaults or component.defaults[k] != v}
    expect(component.kind == "function" and "batch" in component.params and not wrong,
           f"{component.display} should be the function `{SIGNATURE}`; found a {component.kind} taking "
           f"({', '.join(component.params)})" + (f" with defaults {wrong}" if wrong else "")
           + f". The checks pass arguments by these names. See section {SECTION}.")
    _, inputs, targets, _ = _collate(nb, BOOK_BATCH)
    problem = _degenerate_batch(BOOK_BATCH, inputs, targets)
    expect(problem is None, f"{_call(component, BOOK_BATCH)} cannot be a working collate function: {problem}. "
                            f"See section {SECTION}.")


def test_pads_and_masks_the_books_example(nb):
    """The book's batch [0..4], [5, 6], [7, 8, 9] gives the book's inputs and targets."""
    component, inputs, targets, _ = _collate(nb, BOOK_BATCH)
    expect(inputs == BOOK_INPUTS and targets == BOOK_TARGETS,
           f"{_call(component, BOOK_BATCH)} gave inputs {inputs} and targets {targets}; the book prints inputs "
           f"{BOOK_INPUTS} and targets {BOOK_TARGETS}.{_hint(BOOK_BATCH, inputs, targets)} See section {SECTION}.")


@given(case=collate_cases())
def test_matches_the_reference_on_drawn_batches(nb, case):
    """On drawn batches, pad_token_id and ignore_index, inputs and targets equal the reference's."""
    batch, pad_token_id, ignore_index = case
    component, inputs, targets, _ = _collate(nb, batch, pad_token_id=pad_token_id, ignore_index=ignore_index)
    _expect_reference(component, batch, inputs, targets, pad_token_id=pad_token_id, ignore_index=ignore_index)


@given(batch=token_batches())
def test_keeps_the_first_end_of_text_as_a_target(nb, batch):
    """Each text's first <|endoftext|> stays a target; only the padding targets after it are -100."""
    component, inputs, targets, _ = _collate(nb, batch)
    width = max(map(len, batch))
    for row, item in enumerate(batch):
        expected = [PAD] + [-100] * (width - len(item))
        got = targets[row][len(item) - 1:] if row < len(targets) else []
        hint = _hint(batch, inputs, targets) if _unshifted(inputs, targets) else ""
        expect(got == expected, f"{_call(component, batch)}: row {row} ({len(item)} token(s)) has targets {got} from "
                                f"position {len(item) - 1} on; expected {expected}: the first <|endoftext|> (50256) "
                                f"stays, so the model learns to end its response; the padding after it is ignored."
                                f"{hint} See section {SECTION}.")


@given(batch=token_batches())
def test_targets_are_the_inputs_shifted_by_one(nb, batch):
    """Inputs start with each text's tokens; targets are the same tokens shifted one position left."""
    component, inputs, targets, _ = _collate(nb, batch)
    for row, item in enumerate(batch):
        got_inputs = inputs[row][:len(item)] if row < len(inputs) else []
        got_targets = targets[row][:len(item) - 1] if row < len(targets) else []
        expect(got_inputs == item and got_targets == item[1:],
               f"{_call(component, batch)}: row {row} starts with inputs {got_inputs} and targets {got_targets}; "
               f"expected inputs {item} and targets {item[1:]} (the next token at each position)."
               f"{_hint(batch, inputs, targets)} See section {SECTION}.")


@given(batch=token_batches(), limit=st.integers(1, 13))
def test_allowed_max_length_truncates_inputs_and_targets_alike(nb, batch, limit):
    """With allowed_max_length=n, inputs and targets are both cut to their first n positions."""
    component, inputs, targets, _ = _collate(nb, batch, allowed_max_length=limit)
    width = min(max(map(len, batch)), limit)
    shapes = (torch.tensor(inputs).shape, torch.tensor(targets).shape)
    expect(shapes[0] == shapes[1] == (len(batch), width),
           f"{_call(component, batch, allowed_max_length=limit)} gave inputs of shape {tuple(shapes[0])} "
           "and targets of "
           f"shape {tuple(shapes[1])}; expected both ({len(batch)}, {width}): allowed_max_length cuts inputs and "
           f"targets alike (inputs[:allowed_max_length], targets[:allowed_max_length]). See section {SECTION}.")
    _expect_reference(component, batch, inputs, targets, allowed_max_length=limit)


def test_returns_token_tensors_on_the_requested_device(nb):
    """With device=..., the book's batch comes back as integer (torch.long) tensors on that device."""
    component, inputs, targets, result = _collate(nb, BOOK_BATCH, device=nb.device)
    expect(result["devices"] == [nb.device, nb.device] and result["dtypes"] == ["torch.int64", "torch.int64"],
           f"{_call(component, BOOK_BATCH, device=nb.device)} returned inputs and targets on {result['devices']} with "
           f"dtypes {result['dtypes']}; expected both on {nb.device!r} as torch.int64 (move them with .to(device); "
           f"embeddings and cross-entropy need integer ids). See section {SECTION}.")
    expect(inputs == BOOK_INPUTS and targets == BOOK_TARGETS,
           f"{_call(component, BOOK_BATCH, device=nb.device)} gave inputs {inputs} and targets {targets}; expected the "
           f"book's inputs {BOOK_INPUTS} and targets {BOOK_TARGETS} on that device. See section {SECTION}.")
    if nb.device == "cpu":  # on a CPU every tensor is on the requested device: ask for another one, "meta"
        moved = nb.run("a5_instruction.collate", {"batch": BOOK_BATCH, "kwargs": {"device": "meta"},
                                                  "where_only": True},
                       what=f"calling {_call(component, BOOK_BATCH, device='meta')}")
        expect(moved.get("devices", ["meta"]) == ["meta", "meta"],
               f"{_call(component, BOOK_BATCH, device='meta')} returned inputs and targets on {moved.get('devices')}; "
               f"expected both on the device it was given (move them with .to(device), as the book does, so "
               f"training on a GPU gets its batches there). See section {SECTION}.")


def _changed_items(before, after) -> str:
    """Which batch items a call changed and how to avoid it, for the message; '' when none changed."""
    changed = [f"row {i} was {b} and is now {a}" for i, (b, a) in enumerate(zip(before, after)) if a != b]
    return ("changed the token lists it was given (" + ", ".join(changed) + "). A DataLoader hands it the "
            "dataset's own lists every epoch, so copy each item (item.copy() or list(item)) before appending "
            "<|endoftext|>") if changed else ""


def test_gives_the_same_batch_when_called_again(nb):
    """Called twice on the same token lists (as a DataLoader does every epoch), it gives the reference's batch both
    times: it leaves the lists it is given as they were."""
    component = nb.require(NAME)
    result = nb.run("a5_instruction.collate_twice", {"batch": BOOK_BATCH},
                    what=f"calling {component.display} twice on the same lists")
    changed = _changed_items(BOOK_BATCH, result["items_after"])
    for number, call in zip(("first", "second"), result["calls"]):
        inputs, targets = call["inputs"].tolist(), call["targets"].tolist()
        expect(inputs == BOOK_INPUTS and targets == BOOK_TARGETS,
               f"the {number} call of {_call(component, BOOK_BATCH)} on the same lists gave inputs {inputs} and "
               f"targets {targets}; the reference gives inputs {BOOK_INPUTS} and targets {BOOK_TARGETS} every time"
               + (f": your function {changed}" if changed else "") + f". See section {SECTION}.")
    expect(not changed, f"{_call(component, BOOK_BATCH)} {changed}. See section {SECTION}.")
