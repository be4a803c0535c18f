"""Tests of reference/ch07.py: Alpaca prompts, the data split, InstructionDataset and the collate functions.

Run: python -m pytest tests/test_ch07.py -q
"""

from functools import partial

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch.utils.data import DataLoader

from reference import ch07
from reference.assets import gpt2_encoding, load_instruction_data

PAD, IGNORE = 50256, -100
PREAMBLE = ("Below is an instruction that describes a task. "
            "Write a response that appropriately completes the request.")


@pytest.fixture(scope="module")
def data() -> list[dict]:
    return load_instruction_data()


# ---------------------------------------------------------------- book facts

def test_instruction_data_splits_935_110_55(data):
    """Book: 1100 entries; first 85 % train, next 10 % test, the rest validation -> 935 / 110 / 55."""
    train, val, test = ch07.split_instruction_data(data)
    assert len(data) == 1100 and (len(train), len(test), len(val)) == (935, 110, 55)
    assert train == data[:935] and test == data[935:1045] and val == data[1045:]


def test_format_input_of_entry_50_as_printed(data):
    """Book: entry 50's prompt plus its response, character for character."""
    expected = (PREAMBLE + "\n\n### Instruction:\nIdentify the correct spelling of the following word."
                "\n\n### Input:\nOcassion\n\n### Response:\nThe correct spelling is 'Occasion.'")
    assert ch07.format_input(data[50]) + f"\n\n### Response:\n{data[50]['output']}" == expected


def test_empty_input_has_no_input_section(data):
    """Book: an entry whose input is "" has no ### Input: section."""
    entry = next(e for e in data if not e["input"])
    assert "### Input:" not in ch07.format_input(entry)
    assert ch07.format_input(entry) == f"{PREAMBLE}\n\n### Instruction:\n{entry['instruction']}"


def test_collate_of_the_book_batch_as_printed():
    """Book: [0..4], [5, 6], [7, 8, 9] -> inputs padded with 50256, targets shifted, extra pads -100."""
    inputs, targets = ch07.custom_collate_fn([[0, 1, 2, 3, 4], [5, 6], [7, 8, 9]])
    assert inputs.tolist() == [[0, 1, 2, 3, 4], [5, 6, PAD, PAD, PAD], [7, 8, 9, PAD, PAD]]
    assert targets.tolist() == [[1, 2, 3, 4, PAD], [6, PAD, IGNORE, IGNORE, IGNORE], [8, 9, PAD, IGNORE, IGNORE]]


# ---------------------------------------------------------------- format_input properties

texts = st.text(alphabet=st.characters(codec="utf-8"), max_size=30)


@given(instruction=texts, input_text=texts)
def test_format_input_is_preamble_instruction_and_optional_input(instruction, input_text):
    """The prompt is the preamble, the instruction section, and an input section exactly when input is non-empty."""
    prompt = ch07.format_input({"instruction": instruction, "input": input_text, "output": "x"})
    head = f"{PREAMBLE}\n\n### Instruction:\n{instruction}"
    assert prompt == (head + f"\n\n### Input:\n{input_text}" if input_text else head)


# ---------------------------------------------------------------- InstructionDataset

def test_instruction_dataset_encodes_prompt_and_response(data):
    """Each item is the token ids of format_input(entry) + "\\n\\n### Response:\\n" + output."""
    tok = gpt2_encoding()
    dataset = ch07.InstructionDataset(data[:5], tok)
    assert len(dataset) == 5
    for entry, ids in zip(data[:5], dataset):
        assert ids == tok.encode(ch07.format_input(entry) + f"\n\n### Response:\n{entry['output']}")


# ---------------------------------------------------------------- collate properties

token_lists = st.lists(st.lists(st.integers(0, 99), min_size=1, max_size=12), min_size=1, max_size=5)


@given(token_lists)
def test_collate_pads_shifts_and_keeps_one_end_of_text_target(batch):
    """Inputs: item then pads, width = longest; targets: item[1:], one 50256, then -100 to the end."""
    inputs, targets = ch07.custom_collate_fn(batch)
    width = max(len(item) for item in batch)
    assert inputs.shape == targets.shape == (len(batch), width)
    for row, item in enumerate(batch):
        assert inputs[row].tolist() == item + [PAD] * (width - len(item))
        assert targets[row].tolist() == item[1:] + [PAD] + [IGNORE] * (width - len(item))


@given(token_lists, st.integers(1, 14))
def test_allowed_max_length_cuts_inputs_and_targets_alike(batch, allowed):
    """allowed_max_length=k gives the first k columns of the uncut inputs and targets."""
    inputs, targets = ch07.custom_collate_fn(batch)
    cut_inputs, cut_targets = ch07.custom_collate_fn(batch, allowed_max_length=allowed)
    assert torch.equal(cut_inputs, inputs[:, :allowed]) and torch.equal(cut_targets, targets[:, :allowed])


def test_collate_honours_pad_and_ignore_ids():
    """Custom pad_token_id and ignore_index replace 50256 and -100."""
    inputs, targets = ch07.custom_collate_fn([[1, 2], [3]], pad_token_id=0, ignore_index=-1)
    assert inputs.tolist() == [[1, 2], [3, 0]] and targets.tolist() == [[2, 0], [0, -1]]


def test_collate_places_tensors_on_the_device():
    """device= moves both tensors (the meta device stands in for a GPU), as a DataLoader partial would."""
    loader = DataLoader([[1, 2, 3], [4]], batch_size=2, collate_fn=partial(ch07.custom_collate_fn, device="meta"))
    inputs, targets = next(iter(loader))
    assert inputs.device.type == targets.device.type == "meta"
    assert inputs.dtype == targets.dtype == torch.long


def test_masked_targets_are_ignored_by_cross_entropy():
    """torch's cross_entropy with ignore_index=-100 averages only over the unmasked targets (pad id 99)."""
    _, targets = ch07.custom_collate_fn([[0, 1, 2, 3, 4], [5, 6]], pad_token_id=99)
    assert (targets == IGNORE).sum() == 3
    logits = torch.randn(2, 5, 100)
    kept = targets != IGNORE
    expected = torch.nn.functional.cross_entropy(logits[kept], targets[kept])
    torch.testing.assert_close(torch.nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten()), expected)


# ---------------------------------------------------------------- exercise 7.2: masked prompts

def test_masked_dataset_records_prompt_lengths(data):
    """InstructionDatasetMasked items are (len(encode(format_input(entry))), ids), the prompt a prefix of ids."""
    tok = gpt2_encoding()
    for entry, (length, ids) in zip(data[:20], ch07.InstructionDatasetMasked(data[:20], tok)):
        assert length == len(tok.encode(ch07.format_input(entry)))
        assert ids[:length] == tok.encode(ch07.format_input(entry))


@given(st.lists(st.lists(st.integers(0, 99), min_size=2, max_size=12).flatmap(
    lambda ids: st.tuples(st.integers(1, len(ids)), st.just(ids))), min_size=1, max_size=4))
def test_masked_collate_masks_exactly_the_prompt_positions(batch):
    """Targets 0 .. prompt_length - 2 (predictions of prompt tokens) become -100; the rest is unchanged."""
    inputs, targets = ch07.custom_collate_fn_masked(batch)
    plain_inputs, plain_targets = ch07.custom_collate_fn([ids for _, ids in batch])
    assert torch.equal(inputs, plain_inputs)
    for row, (length, _) in enumerate(batch):
        assert (targets[row, :length - 1] == IGNORE).all()
        assert torch.equal(targets[row, length - 1:], plain_targets[row, length - 1:])


def test_masked_collate_on_real_entries_keeps_the_response(data):
    """On real entries the kept targets decode to the response section plus <|endoftext|>."""
    tok = gpt2_encoding()
    dataset = ch07.InstructionDatasetMasked(data[50:52], tok)
    _, targets = ch07.custom_collate_fn_masked([dataset[0], dataset[1]])
    kept = [t for t in targets[0].tolist() if t != IGNORE]
    assert tok.decode(kept) == ch07.format_response(data[50]) + "<|endoftext|>"


# ---------------------------------------------------------------- responses

def test_extract_response_strips_prompt_and_header(data):
    """The text after the prompt, without "### Response:" and surrounding whitespace."""
    prompt = ch07.format_input(data[50])
    generated = prompt + "\n\n### Response:\nThe correct spelling is 'Occasion.'\n"
    assert ch07.extract_response(generated, prompt) == "The correct spelling is 'Occasion.'"
