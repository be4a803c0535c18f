"""Checks on variants of a correct sample (a cell appended that redefines one component), each passing the
correct way and failing the flawed one:

* the signature check takes the loader of the book's early versions, `create_dataloader_v1(txt, batch_size=4,
  max_length=256, stride=128, shuffle=True)` (no drop_last, no num_workers; the loader checks already call it
  without them), and still fails a loader that declares drop_last with a default other than the book's True;
* a GPTDatasetV1 that encodes without allowed_special fails on two texts joined by <|endoftext|> (section 2.4),
  which the book's encodes as one token;
* a2: a CausalAttention that drops the scores as well as the weights fails (same shape, same rate);
* a5 LoRA: a LoRALayer whose A (input side) starts at zero and B random fails, though its update is zero at the
  start and a gradient still reaches one of them."""

import json
import subprocess
from pathlib import Path

import pytest

from notebooks import student_pytest, with_cell_appended

ROOT = Path(__file__).resolve().parent.parent
EARLY = '''\
def create_dataloader_v1(txt, batch_size=4, max_length=256, stride=128, shuffle=True):
    tokenizer = tiktoken.get_encoding("gpt2")
    dataset = GPTDatasetV1(txt, tokenizer, max_length, stride)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle)
'''
DROP_LAST_FALSE = (EARLY.replace("shuffle=True):", "shuffle=True, drop_last=False):")
                   .replace("shuffle=shuffle)", "shuffle=shuffle, drop_last=drop_last)"))


DATASET = '''\
class GPTDatasetV1(Dataset):
    def __init__(self, txt, tokenizer, max_length, stride):
        ids = tokenizer.encode(txt{allowed})
        starts = range(0, len(ids) - max_length, stride)
        self.input_ids = [torch.tensor(ids[i:i + max_length]) for i in starts]
        self.target_ids = [torch.tensor(ids[i + 1:i + max_length + 1]) for i in starts]

    def __len__(self):
        return len(self.input_ids)

    def __getitem__(self, idx):
        return self.input_ids[idx], self.target_ids[idx]
'''


def _check(tmp_path, cell: str, selected: str, sample: str = "a1/ada-correct", suite: str = "a1",
           imports: str = "import tiktoken\nimport torch\nfrom torch.utils.data import DataLoader, Dataset\n\n",
           ) -> subprocess.CompletedProcess:
    """`pytest student_tests/<suite> -k selected` on a copy of the sample with `imports + cell` appended."""
    folder = with_cell_appended(ROOT / "submissions" / sample, imports + cell, tmp_path / "copy")
    return student_pytest(ROOT / "student_tests" / suite, folder, "-k", selected, timeout=300)


@pytest.mark.parametrize(("allowed", "passes"), [(', allowed_special={"<|endoftext|>"}', True), ("", False)],
                         ids=["allowed-special", "disallowed"])
def test_the_dataset_must_encode_the_end_of_text_separator(tmp_path, allowed, passes):
    result = _check(tmp_path, DATASET.format(allowed=allowed), "test_gpt_dataset_v1 and test_matches_the_reference")
    assert ("1 passed" in result.stdout) == passes, result.stdout[-3000:]
    if not passes:
        assert "raised ValueError" in result.stdout and "<|endoftext|>" in result.stdout


@pytest.mark.parametrize(("loader", "passes"), [(EARLY, True), (DROP_LAST_FALSE, False)],
                         ids=["early", "drop-last-false"])
def test_signature_check_on_the_early_loader(tmp_path, loader, passes):
    result = _check(tmp_path, loader, "test_defined_with_the_book_signature")
    assert "4 passed" in result.stdout if passes else "3 passed" in result.stdout, result.stdout[-3000:]
    if not passes:
        assert "defaults {'drop_last': False}" in result.stdout and "missing" not in result.stdout


LORA_LAYER = '''\
class LoRALayer(nn.Module):
    def __init__(self, in_dim, out_dim, rank, alpha):
        super().__init__()
        self.A = nn.Parameter({a})
        self.B = nn.Parameter({b})
        self.alpha = alpha

    def forward(self, x):
        return self.alpha * (x @ self.A @ self.B)
'''
RANDOM = "nn.init.kaiming_uniform_(torch.empty({shape}), a=math.sqrt(5))"


@pytest.mark.parametrize(("a", "b", "passes"), [
    (RANDOM.format(shape="in_dim, rank"), "torch.zeros(rank, out_dim)", True),
    ("torch.zeros(in_dim, rank)", RANDOM.format(shape="rank, out_dim"), False),
], ids=["book", "swapped"])
def test_lora_a_starts_random_and_b_at_zero(tmp_path, a, b, passes):
    result = _check(tmp_path, LORA_LAYER.format(a=a, b=b), "test_a_starts_random_not_zero",
                    sample="a5/lena-lora-correct", suite="a5/lora",
                    imports="import math\nimport torch\nfrom torch import nn\n\n")
    assert ("1 passed" in result.stdout) == passes, result.stdout[-3000:]
    if not passes:
        assert "starts its input-side weight [('A', (7, 3))] at zero" in result.stdout


CAUSAL_ATTENTION = '''\
class CausalAttention(nn.Module):
    def __init__(self, d_in, d_out, context_length, dropout, qkv_bias=False):
        super().__init__()
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("mask", torch.triu(torch.ones(context_length, context_length), diagonal=1))

    def forward(self, x):
        num_tokens = x.shape[1]
        queries, keys, values = self.W_query(x), self.W_key(x), self.W_value(x)
        scores = queries @ keys.transpose(1, 2)
        {extra}scores = scores.masked_fill(self.mask.bool()[:num_tokens, :num_tokens], -torch.inf)
        weights = self.dropout(torch.softmax(scores / keys.shape[-1] ** 0.5, dim=-1))
        return weights @ values
'''


@pytest.mark.parametrize(("extra", "passes"), [("", True), ("scores = self.dropout(scores)\n        ", False)],
                         ids=["book", "scores-dropped-too"])
def test_dropout_on_the_scores_as_well_as_the_weights_fails(tmp_path, extra, passes):
    """Dropout on the scores has the weights' shape and rate; only what it drops (rows not summing to 1) tells."""
    result = _check(tmp_path, CAUSAL_ATTENTION.format(extra=extra), "test_causal_attention and test_dropout_acts_on",
                    sample="a2/ada-correct", suite="a2", imports="import torch\nfrom torch import nn\n\n")
    assert ("1 passed" in result.stdout) == passes, result.stdout[-3000:]
    if not passes:
        assert "whose rows do not each sum to 1" in result.stdout


@pytest.mark.parametrize(("make", "passes"), [("torch.tensor", True), ("torch.Tensor", False)],
                         ids=["book", "float-windows"])
def test_token_id_windows_must_be_integers(tmp_path, make, passes):
    """torch.Tensor(ids) makes float32 windows with the right values, which only their dtype tells apart."""
    dataset = DATASET.format(allowed=', allowed_special={"<|endoftext|>"}').replace("torch.tensor(", f"{make}(")
    result = _check(tmp_path, dataset, "integer_token_ids")
    assert ("2 passed" if passes else "2 failed") in result.stdout, result.stdout[-3000:]
    if not passes:
        assert "torch.float32 tensors; token ids must be integer tensors" in result.stdout


FREQUENCIES = "def token_frequencies(token_ids):\n    return {result}\n"
CHARS = '''\
class CharTokenizer:
    def __init__(self, text):
        self.stoi = {{}}
        for ch in text:
            self.stoi.setdefault(ch, len(self.stoi)){shift}
        self.itos = {{i: ch for ch, i in self.stoi.items()}}

    def encode(self, text):
        return [self.stoi[ch] for ch in text]

    def decode(self, ids):
        return "".join(self.itos[i] for i in ids)
'''


@pytest.mark.parametrize(("cell", "selected", "passes"), [
    (FREQUENCIES.format(result="Counter(token_ids).most_common()"), "test_token_frequencies", True),
    (FREQUENCIES.format(result="sorted(Counter(token_ids).values())"), "test_token_frequencies", False),
    (CHARS.format(shift=""), "test_char_tokenizer", True),
    (CHARS.format(shift="\n        self.stoi = {ch: i % 3 for ch, i in self.stoi.items()}"), "test_char_tokenizer",
     False),
], ids=["most-common-pairs", "counts-without-ids", "chars-first-seen", "chars-sharing-ids"])
def test_exercises_accept_other_correct_forms(tmp_path, cell, selected, passes):
    """Exercise 2.3 may return (id, count) pairs, exercise 2.1 may number characters as first seen; counts without
    their ids and characters sharing an id fail."""
    result = _check(tmp_path, cell, selected, imports="from collections import Counter\n\n")
    assert ("failed" not in result.stdout and "2 passed" in result.stdout) == passes, result.stdout[-3000:]


def _redefined(sample: str, notebook: str, start: str, old: str, new: str) -> str:
    """The source of the sample's cell that starts with `start`, with `old` replaced by `new` (once)."""
    cells = json.loads((ROOT / "submissions" / sample / notebook).read_text())["cells"]
    source = next("".join(c["source"]) for c in cells if "".join(c["source"]).startswith(start))
    assert source.count(old) == 1, old
    return source.replace(old, new)


@pytest.mark.parametrize("in_place", [False, True], ids=["new-tensor", "in-place"])
def test_a_layer_norm_that_changes_its_input_in_place_fails(tmp_path, in_place):
    """Its output is right, but the caller's tensor (a block's shortcut) is changed with it."""
    old = "        norm_x = (x - mean) / torch.sqrt(var + self.eps)"
    new = "        x -= mean\n        norm_x = x / torch.sqrt(var + self.eps)" if in_place else old
    cell = _redefined("a3/ada-correct", "assignment3.ipynb", "class LayerNorm(", old, new)
    result = _check(tmp_path, cell, "test_layer_norm and test_matches", sample="a3/ada-correct", suite="a3",
                    imports="import torch\nfrom torch import nn\n\n")
    assert ("1 failed" if in_place else "1 passed") in result.stdout, result.stdout[-3000:]
    if in_place:
        assert "changed the tensor it was given in place" in result.stdout


A5_CASES = {  # id: (sample, notebook, cell start, old, new (the bug), selected checks, message of the failure)
    "spam-dataset-capped": ("a5/ada-classification-correct", "assignment5_classification.ipynb", "class SpamDataset",
                            "self.max_length = max_length\n",
                            "self.max_length = min(max_length, self._longest_encoded_length())\n",
                            "test_spam_dataset and longer_than_every", "also when it is longer than the longest"),
    "dataset-writes-entries": ("a5/ivy-instruction-correct", "assignment5_instruction.ipynb",
                               "class InstructionDataset(", "            response_text = f\"\\n\\n### Response:\\n"
                               "{entry['output']}\"\n", "            entry['output'] = f\"\\n\\n### Response:\\n"
                               "{entry['output']}\"\n            response_text = entry['output']\n",
                               "test_leaves_the_entries", "changed the entries it was given"),
    "loss-loader-divides-by-all": ("a5/ada-classification-correct", "assignment5_classification.ipynb",
                                   "def class_logits(", "    return total_loss / num_batches",
                                   "    return total_loss / len(data_loader)", "test_calc_loss_loader and first-2",
                                   "the reference gives"),
    "collate-ignores-device": ("a5/ivy-instruction-correct", "assignment5_instruction.ipynb",
                               "def custom_collate_fn(", "torch.stack(targets_lst).to(device)",
                               "torch.stack(targets_lst)", "test_returns_token_tensors_on_the_requested_device",
                               "returned inputs and targets on ['meta', 'cpu']"),
}


@pytest.mark.parametrize("buggy", [False, True], ids=["book", "bug"])
@pytest.mark.parametrize("case", sorted(A5_CASES))
def test_a5_checks_pass_the_book_and_fail_the_bug(tmp_path, case, buggy):
    """SpamDataset pads to a max_length above every message; calc_loss_loader divides by the batches it read;
    InstructionDataset leaves its entries alone;
    custom_collate_fn moves both tensors to the device it is given (tried on "meta" when grading on a CPU)."""
    sample, notebook, start, old, new, selected, message = A5_CASES[case]
    cell = _redefined(sample, notebook, start, old, new if buggy else old)
    suite = "a5/classification" if "classification" in sample else "a5/instruction"
    folder = with_cell_appended(ROOT / "submissions" / sample, cell, tmp_path / "copy")
    result = student_pytest(ROOT / "student_tests" / suite, folder, "-k", selected, timeout=600)
    if buggy:
        assert "1 failed" in result.stdout and message in result.stdout, result.stdout[-3000:]
    else:
        assert "failed" not in result.stdout and "passed" in result.stdout, result.stdout[-3000:]


@pytest.mark.parametrize("buffer", [True, False], ids=["buffer", "plain-attribute"])
def test_a_causal_mask_kept_as_a_plain_attribute_does_not_move_with_the_module(tmp_path, buffer):
    """A mask stored as self.mask = ... stays on the CPU when the module moves to a GPU (meta stands for one)."""
    cell = CAUSAL_ATTENTION.format(extra="")
    if not buffer:
        cell = cell.replace('self.register_buffer("mask", torch.triu(torch.ones(context_length, context_length), '
                            'diagonal=1))', "self.mask = torch.triu(torch.ones(context_length, context_length), "
                                            "diagonal=1)")
    result = _check(tmp_path, cell, "test_causal_attention and test_moves", sample="a2/ada-correct", suite="a2",
                    imports="import torch\nfrom torch import nn\n\n")
    assert ("1 passed" if buffer else "1 failed") in result.stdout, result.stdout[-3000:]
    if not buffer:
        assert "register_buffer" in result.stdout and "keeps `mask` (8, 8) as a plain tensor attribute" in result.stdout
