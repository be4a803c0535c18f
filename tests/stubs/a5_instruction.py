"""a5 instruction stubs: format_input, InstructionDataset, custom_collate_fn, the exercise 7.2 masked collate
and calc_loss_batch with the book's signatures, returning zeros, their input, or a constant of the right shape."""

SAMPLE = "a5/ivy-instruction-correct"

_FORMAT = {"zeros": '""', "input": "entry", "constant": '"Below is an instruction that describes a task."'}
_ITEM = {"zeros": "[0] * 8", "input": "self.data[index]", "constant": "[464, 318, 257]"}
_BATCH = {  # (inputs, targets) of a batch of id lists `rows`, padded to `width`
    "zeros": "x = torch.zeros(len(rows), width, dtype=torch.long)",
    "input": "x = torch.tensor([list(r) + [pad_token_id] * (width - len(r)) for r in rows])",
    "constant": "x = torch.full((len(rows), width), 7)",
}
_LOSS = {"zeros": "torch.zeros(())", "input": "input_batch", "constant": "torch.tensor(0.25)"}
_COLLATE_SIGNATURE = "batch, pad_token_id=50256, ignore_index=-100, allowed_max_length=None, device=\"cpu\""


def _collate(name: str, flavour: str, rows: str) -> str:
    return (f"def {name}({_COLLATE_SIGNATURE}):\n"
            f"    rows = {rows}\n"
            f"    width = max(len(r) for r in rows)\n"
            f"    {_BATCH[flavour]}\n"
            f"    return x.to(device), x.clone().to(device)\n")


def _stubs(flavour: str) -> dict[str, str]:
    return {
        "format_input": f"def format_input(entry):\n    return {_FORMAT[flavour]}\n",
        "InstructionDataset": ("from torch.utils.data import Dataset\n\n\n"
                               "class InstructionDataset(Dataset):\n"
                               "    def __init__(self, data, tokenizer):\n"
                               "        self.data = data\n\n"
                               "    def __getitem__(self, index):\n"
                               f"        return {_ITEM[flavour]}\n\n"
                               "    def __len__(self):\n"
                               "        return len(self.data)\n"),
        "custom_collate_fn": _collate("custom_collate_fn", flavour, "batch"),
        # ivy's InstructionDatasetMasked gives (prompt_length, ids) items
        "custom_collate_fn_masked": _collate("custom_collate_fn_masked", flavour,
                                             "[item[1] if isinstance(item, tuple) else item for item in batch]"),
        "calc_loss_batch": (f"def calc_loss_batch(input_batch, target_batch, model, device):\n"
                            f"    return {_LOSS[flavour]}\n"),
    }


_BY_FLAVOUR = {flavour: _stubs(flavour) for flavour in _FORMAT}
STUBS = {name: {flavour: _BY_FLAVOUR[flavour][name] for flavour in _BY_FLAVOUR} for name in _BY_FLAVOUR["zeros"]}
