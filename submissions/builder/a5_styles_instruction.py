"""a5 instruction samples in three other styles, each correct, and one one-bug copy of each. They run like the
book-style ones (a5_instruction.py).

- quin: torch/nanoGPT idioms: the prompt joined from blocks, a dataset packing every record into one LongTensor,
  a collate function on pad_sequence with a length mask, a nanoGPT-style model in nanogpt.py, exercise 7.2 as
  MaskedInstructionDataset + collate_with_prompt_mask. Bug: the collate function writes -100, not ignore_index.
- rosa: own names (GRADER_NAMES); the prompt builder and the loss in alpaca_tools.py, the loss only as
  tools.calc_loss_batch. Bug (in the module): the two sentences of the preamble are joined without a space.
- sami: every function validates its arguments. Bug: the collate function appends <|endoftext|> to the
  caller's lists (no copy), so the next epoch sees longer texts.
"""

from .a5_instruction import NOTEBOOK, PREVIOUS, RUN
from .core import Sample, variant

# ================================================================ style (a): quin, torch idioms

NANOGPT = '''\
"""A small GPT in the style of nanoGPT: fused qkv projection, pre-norm blocks, tied embeddings."""

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class GPTConfig:
    vocab_size: int = 50257
    block_size: int = 256
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 64
    dropout: float = 0.0
    bias: bool = True


class CausalSelfAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        assert config.n_embd % config.n_head == 0
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.n_head, self.dropout = config.n_head, config.dropout

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))  # (B, nh, T, hs)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=self.dropout if self.training else 0.0)
        return self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C))


class MLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(F.gelu(self.c_fc(x), approximate="tanh")))


class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.ln_1, self.attn = nn.LayerNorm(config.n_embd), CausalSelfAttention(config)
        self.ln_2, self.mlp = nn.LayerNorm(config.n_embd), MLP(config)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(config.vocab_size, config.n_embd),
            wpe=nn.Embedding(config.block_size, config.n_embd),
            drop=nn.Dropout(config.dropout),
            h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
            ln_f=nn.LayerNorm(config.n_embd),
        ))
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.transformer.wte.weight  # weight tying, as GPT-2
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module):
        """GPT-2's initialisation: normal(0, 0.02) weights, zero biases."""
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(self, idx):
        pos = torch.arange(idx.size(1), device=idx.device)
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
        for block in self.transformer.h:
            x = block(x)
        return self.lm_head(self.transformer.ln_f(x))  # (B, T, vocab_size)

    @torch.no_grad()
    def generate(self, idx, max_new_tokens, eos_id=None):
        """Greedy continuation of idx (1, T); stops early at eos_id."""
        for _ in range(max_new_tokens):
            logits = self(idx[:, -self.config.block_size:])[:, -1, :]
            next_id = logits.argmax(dim=-1, keepdim=True)
            if eos_id is not None and next_id.item() == eos_id:
                break
            idx = torch.cat([idx, next_id], dim=1)
        return idx
'''

QUIN_CELLS = [
    ("md", """\
# Assignment 5B: teaching a GPT to follow instructions

I wrote this the way I write PyTorch at work: tokenise once into flat tensors, pad with
`pad_sequence`, build label masks from lengths instead of searching for padding tokens. The
model is my nanoGPT-style implementation in `nanogpt.py` (fused `c_attn`, tied `lm_head`).
When the course grader runs the notebook (`LLM_GRADER=1`) the training cell only takes a few steps."""),
    ("code", """\
import json
import os
from functools import partial

import matplotlib.pyplot as plt
import tiktoken
import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import DataLoader, Dataset

from nanogpt import GPT, GPTConfig

FAST = os.environ.get("LLM_GRADER") == "1"
enc = tiktoken.get_encoding("gpt2")
EOT = enc.eot_token  # 50256, GPT-2's <|endoftext|>
print("torch", torch.__version__, "| fast mode:", FAST)"""),
    ("md", "## Records and the Alpaca template"),
    ("code", """\
with open("instruction-data.json", encoding="utf-8") as fh:
    records = json.load(fh)
print(len(records), "records with keys", sorted(records[0]))"""),
    ("code", """\
SYSTEM_LINE = ("Below is an instruction that describes a task. "
               "Write a response that appropriately completes the request.")


def format_input(entry):
    \"\"\"Alpaca prompt: the system line, the instruction block, and an input block when there is an input.\"\"\"
    blocks = [SYSTEM_LINE, f"### Instruction:\\n{entry['instruction']}"]
    if entry["input"]:
        blocks.append(f"### Input:\\n{entry['input']}")
    return "\\n\\n".join(blocks)


def format_target(entry):
    \"\"\"The text the model learns to write after the prompt: the response tag and the output.\"\"\"
    return "\\n\\n### Response:\\n" + entry["output"]


print(format_input(records[50]) + format_target(records[50]))
print("=" * 30)
print(format_input(records[999]) + format_target(records[999]))"""),
    ("code", """\
perm = torch.randperm(len(records), generator=torch.Generator().manual_seed(42)).tolist()
n_train, n_test = int(0.85 * len(records)), int(0.10 * len(records))
train_recs = [records[i] for i in perm[:n_train]]
test_recs = [records[i] for i in perm[n_train:n_train + n_test]]
val_recs = [records[i] for i in perm[n_train + n_test:]]
print(f"train {len(train_recs)} | val {len(val_recs)} | test {len(test_recs)}")"""),
    ("md", """\
## Tokenised once, stored flat

Every record becomes `prompt + target` token ids; all of them live in one LongTensor and
`offsets[i]:offsets[i+1]` is record *i*. Items are tensor views, no copies."""),
    ("code", """\
class InstructionDataset(Dataset):
    \"\"\"All records tokenised once into one flat LongTensor; item i is a view of record i's token ids.\"\"\"

    def __init__(self, data, tokenizer):
        pieces = [tokenizer.encode(format_input(e) + format_target(e)) for e in data]
        lengths = torch.tensor([len(p) for p in pieces], dtype=torch.long)
        self.offsets = torch.cat([torch.zeros(1, dtype=torch.long), lengths.cumsum(0)])
        self.buffer = torch.tensor([t for p in pieces for t in p], dtype=torch.long)

    def __len__(self):
        return len(self.offsets) - 1

    def __getitem__(self, i):
        return self.buffer[self.offsets[i]:self.offsets[i + 1]]"""),
    ("md", """\
## Collate: pad_sequence plus a length mask

Each sequence gets one end-of-text token, then `pad_sequence` right-pads the batch. Labels are
the inputs shifted left. A label at position `j >= len(item)` predicts padding and is set to
`ignore_index`; the label at `len(item) - 1` is the first end-of-text token and stays, so the
model learns where a response ends."""),
    ("code", """\
def custom_collate_fn(batch, pad_token_id=50256, ignore_index=-100, allowed_max_length=None, device="cpu"):
    \"\"\"Token sequences -> (input_ids, labels), right-padded; labels after each first end-of-text are ignored.\"\"\"
    seqs = [torch.cat([torch.as_tensor(s, dtype=torch.long), torch.tensor([pad_token_id])]) for s in batch]
    n_tokens = torch.tensor([len(s) - 1 for s in seqs])  # tokens of each item, without the end-of-text
    padded = pad_sequence(seqs, batch_first=True, padding_value=pad_token_id)  # (B, T + 1)
    input_ids, labels = padded[:, :-1], padded[:, 1:].clone()  # (B, T) each
    positions = torch.arange(labels.size(1)).unsqueeze(0)  # (1, T)
    labels[positions > n_tokens.unsqueeze(1) - 1] = ignore_index
    if allowed_max_length is not None:
        input_ids, labels = input_ids[:, :allowed_max_length], labels[:, :allowed_max_length]
    return input_ids.to(device), labels.to(device)


x, y = custom_collate_fn([[0, 1, 2, 3, 4], [5, 6], [7, 8, 9]])
print(x)
print(y)"""),
    ("md", """\
### Exercise 7.2: only the response counts

`MaskedInstructionDataset` items are dicts with the ids and the prompt's token count;
`collate_with_prompt_mask` ignores every label that predicts a prompt token."""),
    ("code", """\
class MaskedInstructionDataset(InstructionDataset):
    \"\"\"InstructionDataset whose items are {"input_ids": ids, "prompt_len": number of prompt tokens}.\"\"\"

    def __init__(self, data, tokenizer):
        super().__init__(data, tokenizer)
        self.prompt_lens = [len(tokenizer.encode(format_input(e))) for e in data]

    def __getitem__(self, i):
        return {"input_ids": super().__getitem__(i), "prompt_len": self.prompt_lens[i]}


def collate_with_prompt_mask(batch, pad_token_id=50256, ignore_index=-100, allowed_max_length=None, device="cpu"):
    \"\"\"custom_collate_fn for MaskedInstructionDataset items; labels that predict prompt tokens are ignored too.\"\"\"
    input_ids, labels = custom_collate_fn([b["input_ids"] for b in batch], pad_token_id, ignore_index)
    positions = torch.arange(labels.size(1)).unsqueeze(0)
    prompt_len = torch.tensor([b["prompt_len"] for b in batch]).unsqueeze(1)
    labels[positions < prompt_len - 1] = ignore_index
    if allowed_max_length is not None:
        input_ids, labels = input_ids[:, :allowed_max_length], labels[:, :allowed_max_length]
    return input_ids.to(device), labels.to(device)


demo = MaskedInstructionDataset(records[:2], enc)
_, masked_labels = collate_with_prompt_mask([demo[0], demo[1]])
print("labels that still count per row:", (masked_labels != -100).sum(dim=1).tolist())"""),
    ("md", "## Loaders, model, loss"),
    ("code", """\
device = "cuda" if torch.cuda.is_available() else "cpu"
cfg = GPTConfig(block_size=256, n_layer=2, n_head=4, n_embd=64)
collate = partial(custom_collate_fn, allowed_max_length=cfg.block_size, device=device)
n_fit = 16 if FAST else 64
train_dl = DataLoader(InstructionDataset(train_recs[:n_fit], enc), batch_size=8, shuffle=True, collate_fn=collate,
                      generator=torch.Generator().manual_seed(0))
val_dl = DataLoader(InstructionDataset(val_recs[:16], enc), batch_size=8, collate_fn=collate)
torch.manual_seed(0)
model = GPT(cfg).to(device)
print(f"{sum(p.numel() for p in model.parameters()):,} parameters")"""),
    ("code", """\
def calc_loss_batch(input_batch, target_batch, model, device):
    \"\"\"Token-level cross-entropy of one batch; labels equal to -100 are skipped by F.cross_entropy.\"\"\"
    input_batch, target_batch = input_batch.to(device), target_batch.to(device)
    logits = model(input_batch)  # (B, T, vocab)
    return F.cross_entropy(logits.view(-1, logits.size(-1)), target_batch.view(-1), ignore_index=-100)


@torch.no_grad()
def mean_loss(loader, max_batches=2):
    \"\"\"Average batch loss over the first max_batches batches, in eval mode.\"\"\"
    model.eval()
    losses = [calc_loss_batch(x, y, model, device).item() for (x, y), _ in zip(loader, range(max_batches))]
    model.train()
    return sum(losses) / len(losses)"""),
    ("md", "## Fine-tuning"),
    ("code", """\
opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.1)
history = {"step": [], "train": [], "val": []}
step = 0
model.train()
for epoch in range(1 if FAST else 2):
    for x, y in train_dl:
        opt.zero_grad(set_to_none=True)
        loss = calc_loss_batch(x, y, model, device)
        loss.backward()
        opt.step()
        if step % 2 == 0:
            history["step"].append(step)
            history["train"].append(loss.item())
            history["val"].append(mean_loss(val_dl))
            print(f"epoch {epoch} step {step:3d} | train loss {history['train'][-1]:.3f} | "
                  f"val loss {history['val'][-1]:.3f}")
        step += 1"""),
    ("code", """\
plt.figure(figsize=(5, 3), dpi=80)
plt.plot(history["step"], history["train"], label="train loss")
plt.plot(history["step"], history["val"], label="val loss")
plt.xlabel("step")
plt.legend()
plt.show()"""),
    ("md", "## Responses"),
    ("code", """\
model.eval()
for rec in test_recs[:2]:
    prompt = format_input(rec)
    ids = torch.tensor([enc.encode(prompt)], device=device)
    out = model.generate(ids, max_new_tokens=12 if FAST else 30, eos_id=EOT)
    text = enc.decode(out[0, ids.size(1):].tolist()).replace("### Response:", "").strip()
    print(prompt)
    print("Expected:", rec["output"])
    print("Model response:", text)
    print("-" * 30)"""),
]

QUIN_README = """\
# Assignment 5B: instruction fine-tuning

`assignment5_instruction.ipynb` is the notebook; `nanogpt.py` is my small GPT (nanoGPT layout:
`transformer.wte`, `h[i].attn.c_attn`, `lm_head` tied to `wte`).

## Approach and implementation

I kept the chapter's pipeline but used the tools PyTorch has for it. `InstructionDataset`
tokenises every record once into a single flat LongTensor with offsets, so an item is a tensor
view. `custom_collate_fn` appends one end-of-text token per sequence, pads with `pad_sequence`
and builds the label mask from the lengths (positions after the first end-of-text get
`ignore_index`). The Alpaca template is built by joining blocks with blank lines, and the input
block is only added when a record has an input. Exercise 7.2 is `MaskedInstructionDataset` with
`collate_with_prompt_mask`. Settings: AdamW, learning rate 3e-3, weight decay 0.1, batch size 8,
a 64-dimensional two-layer model.

## How instruction formatting affects training

The Alpaca format gives every example the same skeleton (system line, `### Instruction:`,
optional `### Input:`, `### Response:`). The model learns that the answer starts after the
response tag, and at inference time the prompt stops exactly there, so the template is the
interface between training and use. An input block that is empty would be noise the model
never needs, so it is left out.

## Why masking is crucial

Sequences in a batch have different lengths and are padded. The padding labels are set to -100,
the `ignore_index` of the cross-entropy, so the loss is not dominated by predicting padding
after padding; the first end-of-text label is kept so the model learns to stop. With exercise
7.2's prompt mask the loss covers only the response tokens, not the instruction the model is
given anyway.

## Results: quality of the responses

The run in the notebook is short and starts from random weights: the training loss falls from
about 10.8 to 6.8 in 16 steps, but the responses are not correct answers. The model has only
learned that a response ends with the end-of-text token, and it emits that token first, so its
answers are empty. I did not keep generations of the base model before fine-tuning; untuned and
randomly initialised it can only produce random tokens. A pretrained GPT-2 would follow the
instructions far better after the same number of steps.

## Differences from classification fine-tuning

Classification replaces the output layer with a small head and trains on the last token only.
Instruction fine-tuning keeps the vocabulary-sized head and trains next-token prediction over the
response, so the model stays a text generator and quality has to be judged on generated text.

## Challenges

Getting the label mask right with `pad_sequence`: the first end-of-text position must stay a
label. I compared my collate output with the chapter's three-sequence example to be sure.
"""

QUIN_BUG = [(  # labels always get -100, whatever ignore_index the caller asked for
    "    labels[positions > n_tokens.unsqueeze(1) - 1] = ignore_index\n",
    "    labels[positions > n_tokens.unsqueeze(1) - 1] = -100  # -100 is what cross_entropy ignores\n",
)]

# ================================================================ style (b): rosa, own names and a module

ALPACA_TOOLS = '''\
"""Prompt building and the training loss for my instruction-tuning notebook (assignment 5)."""

import torch

PROMPT = ("Below is an instruction that describes a task. "
          "Write a response that appropriately completes the request."
          "\\n\\n### Instruction:\\n{instruction}")
INPUT_BLOCK = "\\n\\n### Input:\\n{input}"
ANSWER_BLOCK = "\\n\\n### Response:\\n{output}"


def render_prompt(entry):
    """The Alpaca prompt of one example: preamble, instruction and, only when it is not empty, the input."""
    text = PROMPT.format(instruction=entry["instruction"])
    if entry["input"]:
        text += INPUT_BLOCK.format(input=entry["input"])
    return text


def calc_loss_batch(input_batch, target_batch, model, device):
    """Mean cross-entropy over the targets that are not -100 (padding, masked prompt)."""
    logits = model(input_batch.to(device))
    return torch.nn.functional.cross_entropy(logits.flatten(0, 1), target_batch.to(device).flatten())
'''

ROSA_CELLS = [
    ("md", """\
# Instruction tuning (assignment 5, option B)

Names in this notebook are my own; the mapping for the grader is in the first code cell. Helper
code is in two modules: `alpaca_tools.py` (prompt template, loss) and `previous_chapters.py`
(my GPT from assignments 3-4)."""),
    ("code", """\
GRADER_NAMES = {
    "format_input": "render_prompt",
    "InstructionDataset": "PromptResponsePairs",
    "custom_collate_fn": "pad_and_shift",
    "InstructionDatasetMasked": "PromptResponsePairsWithSplit",
    "custom_collate_fn_masked": "pad_and_shift_response_only",
}"""),
    ("code", """\
import json
import os

import matplotlib.pyplot as plt
import tiktoken
import torch
from torch.utils.data import DataLoader, Dataset

import alpaca_tools as tools
from alpaca_tools import ANSWER_BLOCK, render_prompt
from previous_chapters import GPTModel, generate, text_to_token_ids, token_ids_to_text

SHORT_RUN = os.environ.get("LLM_GRADER") == "1"  # the grader's run: a couple of batches
print("short run:", SHORT_RUN)"""),
    ("md", """\
## Batching first

I start with the batching because it decides what the dataset has to give back: lists of token
ids. `pad_and_shift` fills preallocated tensors: inputs start as padding, targets as the ignore
value; row by row the tokens go in, the targets get the next token, and the position after the
last token gets the end-of-text id as its target."""),
    ("code", """\
def pad_and_shift(batch, pad_token_id=50256, ignore_index=-100, allowed_max_length=None, device="cpu"):
    \"\"\"Token lists -> (inputs, targets): padded, targets shifted by one, end-of-text kept once, rest ignored.\"\"\"
    width = max(len(ids) for ids in batch)  # len + 1 tokens with the end-of-text, minus the shift
    inputs = torch.full((len(batch), width), pad_token_id, dtype=torch.long)
    targets = torch.full((len(batch), width), ignore_index, dtype=torch.long)
    for row, ids in enumerate(batch):
        n = len(ids)
        inputs[row, :n] = torch.as_tensor(ids, dtype=torch.long)
        targets[row, :n - 1] = inputs[row, 1:n]
        targets[row, n - 1] = pad_token_id  # the end-of-text token is a target once
    if allowed_max_length is not None:
        inputs, targets = inputs[:, :allowed_max_length], targets[:, :allowed_max_length]
    return inputs.to(device), targets.to(device)


def pad_and_shift_response_only(batch, pad_token_id=50256, ignore_index=-100, allowed_max_length=None,
                                device="cpu"):
    \"\"\"pad_and_shift for (prompt size, token ids) pairs; targets that predict prompt tokens are ignored too.\"\"\"
    inputs, targets = pad_and_shift([ids for _, ids in batch], pad_token_id, ignore_index)
    for row, (prompt_size, _) in enumerate(batch):
        targets[row, :prompt_size - 1] = ignore_index
    if allowed_max_length is not None:
        inputs, targets = inputs[:, :allowed_max_length], targets[:, :allowed_max_length]
    return inputs.to(device), targets.to(device)


print(*pad_and_shift([[0, 1, 2, 3, 4], [5, 6], [7, 8, 9]]), sep="\\n")"""),
    ("md", "## The examples"),
    ("code", """\
with open("instruction-data.json", "r", encoding="utf-8") as handle:
    examples = json.load(handle)
cut_train, cut_test = int(len(examples) * 0.85), int(len(examples) * 0.95)
train_examples, test_examples, val_examples = examples[:cut_train], examples[cut_train:cut_test], examples[cut_test:]
print(len(train_examples), len(val_examples), len(test_examples))
print(render_prompt(examples[50]) + ANSWER_BLOCK.format(output=examples[50]["output"]))"""),
    ("code", """\
class PromptResponsePairs(Dataset):
    \"\"\"Token ids of prompt + response for each example, computed once.\"\"\"

    def __init__(self, data, tokenizer):
        self.examples = list(data)
        self.token_ids = [tokenizer.encode(render_prompt(ex) + ANSWER_BLOCK.format(output=ex["output"]))
                          for ex in self.examples]

    def __len__(self):
        return len(self.token_ids)

    def __getitem__(self, idx):
        return self.token_ids[idx]


class PromptResponsePairsWithSplit(PromptResponsePairs):
    \"\"\"Items are (number of prompt tokens, token ids), for pad_and_shift_response_only.\"\"\"

    def __init__(self, data, tokenizer):
        super().__init__(data, tokenizer)
        self.prompt_sizes = [len(tokenizer.encode(render_prompt(ex))) for ex in self.examples]

    def __getitem__(self, idx):
        return self.prompt_sizes[idx], self.token_ids[idx]"""),
    ("code", """\
gpt2 = tiktoken.get_encoding("gpt2")
pairs = PromptResponsePairsWithSplit(examples[:3], gpt2)
_, masked = pad_and_shift_response_only([pairs[i] for i in range(3)])
print("targets left after masking the prompt:", (masked != -100).sum(dim=1).tolist())"""),
    ("md", """\
## Training

The loss is `tools.calc_loss_batch` from my module: plain cross-entropy, whose default
`ignore_index=-100` drops the masked targets. I train on the masked variant (exercise 7.2)."""),
    ("code", """\
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
settings = {"vocab_size": 50257, "context_length": 256, "emb_dim": 64, "n_heads": 4, "n_layers": 2,
            "drop_rate": 0.0, "qkv_bias": False}
size = 16 if SHORT_RUN else 48


def loader(data, shuffle):
    return DataLoader(PromptResponsePairsWithSplit(data, gpt2), batch_size=8, shuffle=shuffle,
                      collate_fn=lambda b: pad_and_shift_response_only(b, allowed_max_length=256, device=device))


torch.manual_seed(7)
train_loader, val_loader = loader(train_examples[:size], True), loader(val_examples[:16], False)
net = GPTModel(settings).to(device)
optimizer = torch.optim.AdamW(net.parameters(), lr=4e-3, weight_decay=0.1)"""),
    ("code", """\
log = []
for epoch in range(2):
    net.train()
    for inputs, targets in train_loader:
        optimizer.zero_grad()
        loss = tools.calc_loss_batch(inputs, targets, net, device)
        loss.backward()
        optimizer.step()
    net.eval()
    with torch.no_grad():
        val = sum(tools.calc_loss_batch(x, y, net, device).item() for x, y in val_loader) / len(val_loader)
    log.append((loss.item(), val))
    print(f"epoch {epoch + 1}: train loss {loss.item():.3f}, val loss {val:.3f}")
plt.plot([t for t, _ in log], label="train")
plt.plot([v for _, v in log], label="val")
plt.legend()
plt.show()"""),
    ("code", """\
for ex in test_examples[:2]:
    prompt = render_prompt(ex)
    out = generate(net, text_to_token_ids(prompt, gpt2).to(device), max_new_tokens=20,
                   context_size=settings["context_length"], eos_id=50256)
    reply = token_ids_to_text(out, gpt2)[len(prompt):].replace("### Response:", "").strip()
    print(f"{ex['instruction']}\\n  Model response: {reply!r}\\n  Reference: {ex['output']!r}")"""),
]

ROSA_README = """\
# Assignment 5, option B (instruction fine-tuning)

Files: `assignment5_instruction.ipynb`, `alpaca_tools.py` (prompt template and loss),
`previous_chapters.py` (my GPT). My names differ from the book's; the notebook's first cell maps
them with `GRADER_NAMES`.

## Approach

I built the batching first (`pad_and_shift`), then the data (`PromptResponsePairs`), then trained
with the masked variant of exercise 7.2 (`PromptResponsePairsWithSplit` +
`pad_and_shift_response_only`). Hyperparameters: AdamW, learning rate 4e-3, weight decay 0.1,
batch size 8, two epochs on a short slice of the training data.

## Instruction formatting

Each example is rendered with the Alpaca template: preamble, `### Instruction:`, an `### Input:`
section only when there is an input, then `### Response:` and the output. The fixed format tells
the model where the task ends and where its response starts; at generation time I stop the
prompt right before the response, exactly like in training.

## Masking

Padding targets after the first end-of-text are -100, which the cross-entropy ignores, so short
examples in a batch do not add loss for padding. Masking the prompt as well means the loss only
measures the response: the model is not rewarded for copying the instruction text.

## Results

The model here is tiny and starts from random weights. After two epochs the training loss has
dropped from about 9.3 to 6.5, but the model does not follow the instructions: it ends every
answer at once with the end-of-text token, so the generated responses are empty. Compared with
the base model before fine-tuning, which outputs random tokens, it has learned where a response
stops, nothing more; the quality needs pretrained weights and longer training.

## Classification vs. instruction fine-tuning

Classification trains a new small output head on the last token and is measured by accuracy.
Here the model keeps generating next tokens over the whole vocabulary, and its quality has to be
judged from the generated text.

## Challenges

Keeping the grader happy with my own names (GRADER_NAMES) and deciding what goes into modules.
"""

ROSA_BUG = [(  # the two sentences of the preamble run together: "...a task.Write a response..."
    '''PROMPT = ("Below is an instruction that describes a task. "''',
    '''PROMPT = ("Below is an instruction that describes a task."''',
)]

# ================================================================ style (c): sami, defensive

SAMI_CELLS = [
    ("md", """\
# Assignment 5 - instruction fine-tuning (chapter 7)

I validate every input of my functions and fail with a clear message: most of my debugging time
in earlier assignments went into shape errors that surfaced three calls later."""),
    ("code", """\
import json
import math
import os

import matplotlib.pyplot as plt
import tiktoken
import torch
from torch.utils.data import DataLoader, Dataset

from previous_chapters import GPTModel, generate, text_to_token_ids, token_ids_to_text

QUICK = os.environ.get("LLM_GRADER") == "1"
PREAMBLE = "Below is an instruction that describes a task. Write a response that appropriately completes the request."
REQUIRED_KEYS = ("instruction", "input", "output")"""),
    ("code", """\
def check_entry(entry):
    \"\"\"Raise TypeError/ValueError unless entry is a dict with str instruction, input and output.\"\"\"
    if not isinstance(entry, dict):
        raise TypeError(f"an entry must be a dict, got {type(entry).__name__}")
    missing = [key for key in REQUIRED_KEYS if key not in entry]
    if missing:
        raise ValueError(f"entry is missing the key(s) {missing}: {entry!r:.120}")
    for key in REQUIRED_KEYS:
        if not isinstance(entry[key], str):
            raise TypeError(f"entry[{key!r}] must be a str, got {type(entry[key]).__name__}")


def format_input(entry):
    \"\"\"Alpaca prompt (preamble, instruction, optional input) of a validated entry.\"\"\"
    check_entry(entry)
    prompt = f"{PREAMBLE}\\n\\n### Instruction:\\n{entry['instruction']}"
    if entry["input"]:
        prompt += f"\\n\\n### Input:\\n{entry['input']}"
    return prompt


with open("instruction-data.json", encoding="utf-8") as f:
    data = json.load(f)
for e in data:
    check_entry(e)
print(f"{len(data)} valid entries")
print(format_input(data[50]) + "\\n\\n### Response:\\n" + data[50]["output"])"""),
    ("code", """\
n_train, n_test = int(len(data) * 0.85), int(len(data) * 0.1)
train_data, test_data, val_data = data[:n_train], data[n_train:n_train + n_test], data[n_train + n_test:]
assert len(train_data) + len(val_data) + len(test_data) == len(data)"""),
    ("code", """\
class InstructionDataset(Dataset):
    \"\"\"Validated entries, each tokenised once as prompt + response header + output.\"\"\"

    def __init__(self, data, tokenizer):
        if not hasattr(tokenizer, "encode"):
            raise TypeError("tokenizer needs an encode(text) method")
        self.data = list(data)
        self.encoded = []
        for entry in self.data:
            check_entry(entry)
            self.encoded.append(tokenizer.encode(format_input(entry) + "\\n\\n### Response:\\n" + entry["output"]))

    def __len__(self):
        return len(self.encoded)

    def __getitem__(self, index):
        if not -len(self.encoded) <= index < len(self.encoded):
            raise IndexError(f"index {index} out of range for {len(self.encoded)} items")
        return self.encoded[index]"""),
    ("code", """\
def check_collate_args(batch, ignore_index, allowed_max_length):
    \"\"\"Raise ValueError/TypeError on an empty batch, empty items, a non-negative ignore_index or a bad length.\"\"\"
    if len(batch) == 0:
        raise ValueError("the batch is empty")
    if any(len(item) == 0 for item in batch):
        raise ValueError("every item needs at least one token")
    if ignore_index >= 0:
        raise ValueError(f"ignore_index must be negative so it is never a real token id, got {ignore_index}")
    if allowed_max_length is not None and (not isinstance(allowed_max_length, int) or allowed_max_length < 1):
        raise ValueError(f"allowed_max_length must be a positive int or None, got {allowed_max_length!r}")


def custom_collate_fn(batch, pad_token_id=50256, ignore_index=-100, allowed_max_length=None, device="cpu"):
    \"\"\"Pad, shift and mask a batch of token lists into (inputs, targets) on `device` (validated first).\"\"\"
    check_collate_args(batch, ignore_index, allowed_max_length)
    device = torch.device(device)  # raises on an unknown device name
    longest = max(len(item) for item in batch) + 1
    rows_in, rows_out = [], []
    for item in batch:
        n = len(item)
        tokens = list(item)  # a copy: the DataLoader passes the dataset's own lists
        tokens.append(pad_token_id)  # every text ends with one end-of-text token
        tokens.extend([pad_token_id] * (longest - len(tokens)))
        targets = torch.tensor(tokens[1:])
        targets[n:] = ignore_index  # padding after the first end-of-text
        rows_in.append(torch.tensor(tokens[:-1]))
        rows_out.append(targets)
    inputs, targets = torch.stack(rows_in), torch.stack(rows_out)
    if allowed_max_length is not None:
        inputs, targets = inputs[:, :allowed_max_length], targets[:, :allowed_max_length]
    return inputs.to(device), targets.to(device)


inputs, targets = custom_collate_fn([[0, 1, 2, 3, 4], [5, 6], [7, 8, 9]])
print(inputs, targets, sep="\\n")
for bad in ([], [[1, 2], []]):
    try:
        custom_collate_fn(bad)
    except ValueError as err:
        print("rejected:", err)"""),
    ("md", "### Exercise 7.2: masking the prompt"),
    ("code", """\
class InstructionDatasetMasked(InstructionDataset):
    \"\"\"Items are (prompt_length, token_ids).\"\"\"

    def __init__(self, data, tokenizer):
        super().__init__(data, tokenizer)
        self.prompt_lengths = [len(tokenizer.encode(format_input(entry))) for entry in self.data]

    def __getitem__(self, index):
        return self.prompt_lengths[index], super().__getitem__(index)


def custom_collate_fn_masked(batch, pad_token_id=50256, ignore_index=-100, allowed_max_length=None, device="cpu"):
    \"\"\"custom_collate_fn for (prompt_length, ids) pairs that also ignores the targets predicting prompt tokens.\"\"\"
    if not all(isinstance(pair, (tuple, list)) and len(pair) == 2 for pair in batch):
        raise TypeError("custom_collate_fn_masked expects (prompt_length, token_ids) pairs")
    inputs, targets = custom_collate_fn([ids for _, ids in batch], pad_token_id, ignore_index)
    for row, (prompt_length, ids) in enumerate(batch):
        if not 0 < prompt_length <= len(ids):
            raise ValueError(f"prompt_length {prompt_length} does not fit an item of {len(ids)} tokens")
        targets[row, :prompt_length - 1] = ignore_index
    if allowed_max_length is not None:
        inputs, targets = inputs[:, :allowed_max_length], targets[:, :allowed_max_length]
    return inputs.to(device), targets.to(device)"""),
    ("code", """\
def calc_loss_batch(input_batch, target_batch, model, device):
    \"\"\"Cross-entropy over the targets that are not -100; checks shapes and that something is left to learn.\"\"\"
    if input_batch.shape != target_batch.shape:
        raise ValueError(f"inputs {tuple(input_batch.shape)} and targets {tuple(target_batch.shape)} differ in shape")
    if not bool((target_batch != -100).any()):
        raise ValueError("every target is -100: the loss would be NaN")
    input_batch, target_batch = input_batch.to(device), target_batch.to(device)
    logits = model(input_batch)
    return torch.nn.functional.cross_entropy(logits.flatten(0, 1), target_batch.flatten())


def calc_loss_loader(data_loader, model, device, num_batches=None):
    \"\"\"Mean batch loss over the first num_batches batches (all when None); NaN for an empty loader.\"\"\"
    if len(data_loader) == 0:
        return float("nan")
    num_batches = len(data_loader) if num_batches is None else min(num_batches, len(data_loader))
    total = 0.0
    for i, (x, y) in enumerate(data_loader):
        if i == num_batches:
            break
        total += calc_loss_batch(x, y, model, device).item()
    return total / num_batches"""),
    ("code", """\
device = "cuda" if torch.cuda.is_available() else "cpu"
tokenizer = tiktoken.get_encoding("gpt2")
GPT_CONFIG = {"vocab_size": 50257, "context_length": 256, "emb_dim": 64, "n_heads": 4, "n_layers": 2,
              "drop_rate": 0.0, "qkv_bias": False}


def make_loader(entries, shuffle):
    \"\"\"A loader of masked batches, cut to the model's context length.\"\"\"
    def collate(batch):
        return custom_collate_fn_masked(batch, allowed_max_length=GPT_CONFIG["context_length"], device=device)
    return DataLoader(InstructionDatasetMasked(entries, tokenizer), batch_size=8, shuffle=shuffle, collate_fn=collate)


torch.manual_seed(123)
train_loader = make_loader(train_data[:16 if QUICK else 48], shuffle=True)
val_loader = make_loader(val_data[:16], shuffle=False)
model = GPTModel(GPT_CONFIG).to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=4e-3, weight_decay=0.1)"""),
    ("code", """\
train_losses, val_losses = [], []
global_step = 0
for epoch in range(1 if QUICK else 2):
    for input_batch, target_batch in train_loader:
        model.train()
        optimizer.zero_grad()
        loss = calc_loss_batch(input_batch, target_batch, model, device)
        loss.backward()
        optimizer.step()
        if global_step % 2 == 0:
            model.eval()
            with torch.no_grad():
                train_losses.append(calc_loss_loader(train_loader, model, device, num_batches=1))
                val_losses.append(calc_loss_loader(val_loader, model, device, num_batches=1))
            print(f"Ep {epoch + 1} (Step {global_step:06d}): Train loss {train_losses[-1]:.3f}, "
                  f"Val loss {val_losses[-1]:.3f}")
        global_step += 1
assert all(math.isfinite(v) for v in train_losses + val_losses), "a loss is not finite"
plt.figure(figsize=(5, 3), dpi=80)
plt.plot(train_losses, label="Training loss")
plt.plot(val_losses, label="Validation loss")
plt.legend()
plt.show()"""),
    ("code", """\
model.eval()
for entry in test_data[:2]:
    prompt = format_input(entry)
    ids = generate(model, text_to_token_ids(prompt, tokenizer).to(device), max_new_tokens=20,
                   context_size=GPT_CONFIG["context_length"], eos_id=50256)
    response = token_ids_to_text(ids, tokenizer)[len(prompt):].replace("### Response:", "").strip()
    print(prompt, f"\\n\\nCorrect response:\\n>> {entry['output']}\\n\\nModel response:\\n>> {response}\\n")"""),
]

SAMI_README = """\
# Assignment 5 (B): instruction fine-tuning

Notebook: `assignment5_instruction.ipynb`; my GPT code from earlier assignments:
`previous_chapters.py`.

## Approach

Same steps as chapter 7, written defensively: `check_entry` validates every record (dict, the
three keys, strings), the collate function rejects empty batches, empty items, a non-negative
`ignore_index` and a bad `allowed_max_length`, and the loss checks that inputs and targets have the
same shape and that at least one target is not masked. Training uses the prompt-masked variant
(exercise 7.2). Hyperparameters: AdamW with learning rate 4e-3 and weight decay 0.1, batch size 8.

## How the instruction format affects training

The Alpaca template gives every example the same structure (preamble, instruction, optional
input, response). The model learns to produce its response after `### Response:`; if the format
changed between training and generation it would see prompts it was never trained on.

## Why masking matters

Padding targets are set to -100 (the cross-entropy's ignore index) except the first end-of-text,
so the loss ignores padding but still teaches the model to stop. Masking the prompt targets
too means the loss only measures the response.

## Results

With a tiny randomly initialised model and a short CPU run the training loss falls from 10.6 to
about 6.3, but the responses do not follow the instructions: the base model before fine-tuning
only produced random tokens, the fine-tuned one stops right after the response header, so its
answers are empty. Correct responses need the pretrained GPT-2 weights.

## Compared with classification fine-tuning

Classification fine-tuning swaps the output head for a class head and uses only the last token;
instruction fine-tuning keeps generating over the full vocabulary (next-token prediction).

## Challenges

Deciding what to validate without rejecting valid data: an empty `input` is valid (it just means
no input section), so only the types are checked.
"""

SAMI_BUG = [(  # no copy: the dataset's own lists grow by an end-of-text token (and padding) at every call
    "        tokens = list(item)  # a copy: the DataLoader passes the dataset's own lists\n",
    "        tokens = item\n",
)]

QUIN = Sample("a5", "quin-instruction-packed-tensors", NOTEBOOK, QUIN_CELLS, QUIN_README, {"nanogpt.py": NANOGPT},
              run=RUN)
ROSA = Sample("a5", "rosa-instruction-own-modules", NOTEBOOK, ROSA_CELLS, ROSA_README,
              {"alpaca_tools.py": ALPACA_TOOLS, **PREVIOUS}, run=RUN)
SAMI = Sample("a5", "sami-instruction-defensive", NOTEBOOK, SAMI_CELLS, SAMI_README, PREVIOUS, run=RUN)
SAMPLES = [QUIN, variant(QUIN, "quin-instruction-hardcoded-ignore-index", QUIN_BUG),
           ROSA, variant(ROSA, "rosa-instruction-preamble-no-space", ROSA_BUG),
           SAMI, variant(SAMI, "sami-instruction-collate-mutates-batch", SAMI_BUG)]
