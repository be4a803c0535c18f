"""Chapter 7: fine-tuning GPT to follow instructions (Alpaca prompts, padding and masking collate).

The training loss is ch05's `calc_loss_batch`: cross-entropy over all positions, where
targets equal to `ignore_index` (-100) add nothing.
"""

import torch
from torch.utils.data import Dataset

PREAMBLE = (
    "Below is an instruction that describes a task. "
    "Write a response that appropriately completes the request."
)
RESPONSE_HEADER = "\n\n### Response:\n"


# ---------------------------------------------------------------- prompts and data (7.2)

def format_input(entry: dict) -> str:
    """The Alpaca prompt: preamble, instruction, and an input section only when input is not empty (7.2)."""
    instruction_text = f"{PREAMBLE}\n\n### Instruction:\n{entry['instruction']}"
    input_text = f"\n\n### Input:\n{entry['input']}" if entry.get("input") else ""
    return instruction_text + input_text


def format_response(entry: dict) -> str:
    """The text after the prompt during training: the response header and the output (7.2)."""
    return f"{RESPONSE_HEADER}{entry['output']}"


def split_instruction_data(data: list, train_frac: float = 0.85, test_frac: float = 0.1):
    """The book's unshuffled split, returned as (train, val, test) (7.2).

    train = first int(0.85 n), test = next int(0.1 n), val = the rest:
    935 / 110 / 55 for the 1100 entries of instruction-data.json.
    """
    train_portion = int(len(data) * train_frac)
    test_portion = int(len(data) * test_frac)
    train_data = data[:train_portion]
    test_data = data[train_portion:train_portion + test_portion]
    val_data = data[train_portion + test_portion:]
    return train_data, val_data, test_data


class InstructionDataset(Dataset):
    """Token ids of each entry's prompt followed by its response (7.3)."""

    def __init__(self, data: list, tokenizer):
        self.data = data
        self.encoded_texts = [tokenizer.encode(format_input(entry) + format_response(entry)) for entry in data]

    def __getitem__(self, index: int) -> list[int]:
        return self.encoded_texts[index]

    def __len__(self) -> int:
        return len(self.data)


# ---------------------------------------------------------------- batching (7.3)

def _pad_and_shift(item, batch_max_length: int, pad_token_id: int, ignore_index: int):
    """One row: append an end-of-text token, pad, shift by one; keep the first pad target only."""
    new_item = list(item) + [pad_token_id]
    padded = new_item + [pad_token_id] * (batch_max_length - len(new_item))
    inputs = torch.tensor(padded[:-1])  # (batch_max_length - 1,)
    targets = torch.tensor(padded[1:])
    indices = torch.nonzero(targets == pad_token_id).flatten()
    if indices.numel() > 1:
        targets[indices[1:]] = ignore_index
    return inputs, targets


def _stack(inputs_lst, targets_lst, device):
    return torch.stack(inputs_lst).to(device), torch.stack(targets_lst).to(device)


def custom_collate_fn(batch, pad_token_id=50256, ignore_index=-100, allowed_max_length=None, device="cpu"):
    """Pad to the longest item + 1, shift targets by one, mask all but the first padding target (7.3).

    Returns (inputs, targets), each (B, L) on `device`, where L = longest + 1 - 1 = longest,
    cut to `allowed_max_length` when given.
    """
    batch_max_length = max(len(item) + 1 for item in batch)
    inputs_lst, targets_lst = [], []
    for item in batch:
        inputs, targets = _pad_and_shift(item, batch_max_length, pad_token_id, ignore_index)
        inputs_lst.append(inputs[:allowed_max_length])
        targets_lst.append(targets[:allowed_max_length])
    return _stack(inputs_lst, targets_lst, device)


# ---------------------------------------------------------------- exercise 7.2: mask the prompt

class InstructionDatasetMasked(InstructionDataset):
    """InstructionDataset that also records each prompt's token count; items are (prompt_length, ids)."""

    def __init__(self, data: list, tokenizer):
        super().__init__(data, tokenizer)
        self.instruction_lengths = [len(tokenizer.encode(format_input(entry))) for entry in data]

    def __getitem__(self, index: int) -> tuple[int, list[int]]:
        return self.instruction_lengths[index], self.encoded_texts[index]


def custom_collate_fn_masked(batch, pad_token_id=50256, ignore_index=-100, allowed_max_length=None, device="cpu"):
    """custom_collate_fn over (prompt_length, ids) items that also ignores the prompt's targets (ex 7.2).

    Target t predicts token t + 1, so targets[:prompt_length - 1] are the predictions of
    prompt tokens; the first response token's target (at prompt_length - 1) is kept.
    """
    batch_max_length = max(len(item) + 1 for _, item in batch)
    inputs_lst, targets_lst = [], []
    for instruction_length, item in batch:
        inputs, targets = _pad_and_shift(item, batch_max_length, pad_token_id, ignore_index)
        targets[:max(instruction_length - 1, 0)] = ignore_index
        inputs_lst.append(inputs[:allowed_max_length])
        targets_lst.append(targets[:allowed_max_length])
    return _stack(inputs_lst, targets_lst, device)


# ---------------------------------------------------------------- responses (7.5)

def extract_response(generated_text: str, input_text: str) -> str:
    """The generated text after the prompt, without the "### Response:" header (7.5)."""
    return generated_text[len(input_text):].replace("### Response:", "").strip()
