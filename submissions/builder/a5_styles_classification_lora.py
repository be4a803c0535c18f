"""a5 classification and LoRA samples in other styles, each correct, and one one-bug copy of each (caught by a
reference comparison). They run like the book-style ones (a5_classification_lora.py).

- quinn (classification) and tara (LoRA): a nanoGPT-style model (GPTConfig, transformer.wte/wpe/h/ln_f, fused
  c_attn, lm_head tied to wte) loaded from their own assignment-4 checkpoint, which is not handed in: on the
  grading machine that cell fails and the grader rebuilds the model small with their code. tara's LoRA layer
  holds A and B as nn.Linear lora_A / lora_B (PEFT's layout) and wraps the fused c_attn.
- rosa (classification) and uma (LoRA): their own names (GRADER_NAMES), declarations in another order, raw
  nn.Parameter weights, LoRA scaled by alpha.
- sami (classification) and vic (LoRA): defensive code validating its arguments; a book-style GPTModel(cfg) from
  their own module, loaded from a checkpoint that is not handed in (stand-in again).
The checkpoints are made at build time (random weights of the student's config), in the work folder only.
"""

from .a5_classification_lora import CLASSIFICATION, LORA
from .core import Run, Sample, variant
from .snippets import EVALUATE_MODEL, FEED_FORWARD, POSITIONAL_BLOCK

# ================================================================ the nanoGPT layout (quinn, tara)

NANOGPT_MODEL = '''\
@dataclass
class GPTConfig:
    block_size: int = 1024
    vocab_size: int = 50257
    n_layer: int = 12
    n_head: int = 12
    n_embd: int = 768
    dropout: float = 0.0
    bias: bool = True


class CausalSelfAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        assert config.n_embd % config.n_head == 0
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)  # q, k, v in one matmul
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.resid_dropout = nn.Dropout(config.dropout)
        self.n_head, self.n_embd, self.dropout = config.n_head, config.n_embd, config.dropout

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0, is_causal=True)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = nn.GELU(approximate="tanh")
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

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
            ln_f=nn.LayerNorm(config.n_embd, bias=config.bias),
        ))
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.transformer.wte.weight = self.lm_head.weight  # weight tying, as in GPT-2

    def forward(self, idx):
        """Logits at every position, (B, T, vocab_size), or (B, T, classes) once the head is swapped."""
        B, T = idx.size()
        assert T <= self.config.block_size, f"sequence of {T} tokens, block size is {self.config.block_size}"
        pos = torch.arange(T, dtype=torch.long, device=idx.device)
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
        for block in self.transformer.h:
            x = block(x)
        return self.lm_head(self.transformer.ln_f(x))'''


# ================================================================ quinn: classification, nanoGPT layout

QUINN = [
    ("md", """\
# Spam or ham? Fine-tuning my nanoGPT for SMS classification

Assignment 5, option A. I keep the nanoGPT-style model I wrote for assignment 4 (Karpathy's layout:
`transformer.wte / wpe / h / ln_f` and an `lm_head` tied to the token embedding), start from the checkpoint
I pretrained there, swap the vocabulary head for a two-way head, and fine-tune the top of the network.
Everything runs on a laptop CPU in a few minutes."""),
    ("code", """\
import csv
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import tiktoken
import torch
import torch.nn as nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset

GRADING = os.getenv("LLM_GRADER") == "1"  # the course grader sets this: short runs only
device = "cuda" if torch.cuda.is_available() else "cpu"
enc = tiktoken.get_encoding("gpt2")
print(f"torch {torch.__version__} on {device}")"""),
    ("md", "## The model (from assignment 4)"),
    ("code", NANOGPT_MODEL),
    ("md", """\
## Data

UCI's SMS Spam Collection: one `label<TAB>message` line per SMS, about 13 % of them spam. I undersample
the ham messages to as many as there are spam ones (a balanced set keeps accuracy honest), shuffle, and
write 70 / 10 / 20 % splits as CSV files with the columns `Label` (1 = spam) and `Text`."""),
    ("code", """\
raw_path = Path("sms_spam_collection") / "SMSSpamCollection.tsv"
if not raw_path.exists():
    import io
    import urllib.request
    import zipfile

    with urllib.request.urlopen("https://archive.ics.uci.edu/static/public/228/sms+spam+collection.zip") as r:
        zipfile.ZipFile(io.BytesIO(r.read())).extract("SMSSpamCollection", raw_path.parent)
    (raw_path.parent / "SMSSpamCollection").rename(raw_path)

with raw_path.open(encoding="utf-8") as fh:
    messages = [line.rstrip("\\n").split("\\t", 1) for line in fh if "\\t" in line]
spam = [(1, text) for label, text in messages if label == "spam"]
ham = [(0, text) for label, text in messages if label == "ham"]
rng = random.Random(42)
rows = spam + rng.sample(ham, k=len(spam))  # undersample the majority class
rng.shuffle(rows)
n_train, n_val = int(0.7 * len(rows)), int(0.1 * len(rows))
splits = {"train": rows[:n_train], "val": rows[n_train:n_train + n_val], "test": rows[n_train + n_val:]}
for split, part in splits.items():
    with open(f"{split}.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["Label", "Text"])
        writer.writerows(part)
print({k: len(v) for k, v in splits.items()}, f"| {len(spam)} spam of {len(messages)} messages in the raw file")"""),
    ("code", """\
class SpamDataset(Dataset):
    \"\"\"SMS messages as GPT-2 token ids of one length (cut, or padded with <|endoftext|>) and 0/1 labels.\"\"\"

    def __init__(self, csv_file, tokenizer, max_length=None, pad_token_id=50256):
        with open(csv_file, newline="", encoding="utf-8") as fh:
            records = list(csv.DictReader(fh))
        self.labels = [int(r["Label"]) for r in records]
        tokens = [tokenizer.encode(r["Text"]) for r in records]
        self.max_length = max(map(len, tokens)) if max_length is None else max_length
        self.tokens = [t[:self.max_length] + [pad_token_id] * (self.max_length - len(t[:self.max_length]))
                       for t in tokens]

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return torch.tensor(self.tokens[i]), torch.tensor(self.labels[i])


train_ds = SpamDataset("train.csv", enc)
val_ds = SpamDataset("val.csv", enc, max_length=train_ds.max_length)
test_ds = SpamDataset("test.csv", enc, max_length=train_ds.max_length)
g = torch.Generator().manual_seed(1337)
train_dl = DataLoader(train_ds, batch_size=8, shuffle=True, drop_last=True, generator=g)
val_dl = DataLoader(val_ds, batch_size=8)
test_dl = DataLoader(test_ds, batch_size=8)
print("padded length:", train_ds.max_length, "| batches:", len(train_dl), len(val_dl), len(test_dl))"""),
    ("md", """\
## Start from my assignment-4 checkpoint

`checkpoints/a4_nanogpt.pt` is the small GPT I pretrained in assignment 4 (GPT-2's tokenizer, 2 layers,
64-dimensional). It is too large for the repository, so it is not in this folder: copy it there to re-run."""),
    ("code", """\
config = GPTConfig(block_size=256, vocab_size=50257, n_layer=2, n_head=4, n_embd=64, dropout=0.1)
state = torch.load("checkpoints/a4_nanogpt.pt", map_location="cpu", weights_only=True)
model = GPT(config)
model.load_state_dict(state)
model.to(device)
print(f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters")"""),
    ("md", """\
## A two-way head, and what trains

The tied `lm_head` (64 -> 50257) becomes a fresh `nn.Linear(64, 2)`. Everything else is frozen except the
last transformer block and the final LayerNorm, as in the book."""),
    ("code", """\
num_classes = 2
model.requires_grad_(False)
torch.manual_seed(1337)
model.lm_head = nn.Linear(config.n_embd, num_classes).to(device)  # new, so trainable
model.transformer.h[-1].requires_grad_(True)
model.transformer.ln_f.requires_grad_(True)
print([n for n, p in model.named_parameters() if p.requires_grad])"""),
    ("md", """\
## Loss, accuracy, training loop

Only the last position has attended to the whole message (causal attention), so its logits classify."""),
    ("code", """\
def calc_loss_batch(input_batch, target_batch, model, device):
    logits = model(input_batch.to(device))[:, -1, :]  # (B, num_classes) at the last position
    return F.cross_entropy(logits, target_batch.to(device))


def calc_loss_loader(data_loader, model, device, num_batches=None):
    n = len(data_loader) if num_batches is None else min(num_batches, len(data_loader))
    if n == 0:
        return float("nan")
    total = 0.0
    for step, (x, y) in enumerate(data_loader):
        if step == n:
            break
        total += calc_loss_batch(x, y, model, device).item()
    return total / n


@torch.no_grad()
def calc_accuracy_loader(data_loader, model, device, num_batches=None):
    model.eval()
    n = len(data_loader) if num_batches is None else min(num_batches, len(data_loader))
    hits = seen = 0
    for step, (x, y) in enumerate(data_loader):
        if step == n:
            break
        pred = model(x.to(device))[:, -1, :].argmax(dim=-1)
        hits += (pred == y.to(device)).sum().item()
        seen += y.shape[0]
    return hits / seen


@torch.no_grad()
def estimate_loss(model, train_loader, val_loader, device, eval_iter):
    model.eval()
    out = {"train": calc_loss_loader(train_loader, model, device, eval_iter),
           "val": calc_loss_loader(val_loader, model, device, eval_iter)}
    model.train()
    return out


def train_classifier_simple(model, train_loader, val_loader, optimizer, device, num_epochs, eval_freq, eval_iter):
    train_losses, val_losses, train_accs, val_accs = [], [], [], []
    examples_seen, step = 0, 0
    for epoch in range(num_epochs):
        model.train()
        for x, y in train_loader:
            optimizer.zero_grad(set_to_none=True)
            loss = calc_loss_batch(x, y, model, device)
            loss.backward()
            optimizer.step()
            examples_seen += x.shape[0]
            if step % eval_freq == 0:
                losses = estimate_loss(model, train_loader, val_loader, device, eval_iter)
                train_losses.append(losses["train"])
                val_losses.append(losses["val"])
                print(f"epoch {epoch + 1} step {step:4d} | train loss {losses['train']:.4f} | val loss \
{losses['val']:.4f}")
            step += 1
        train_accs.append(calc_accuracy_loader(train_loader, model, device, num_batches=eval_iter))
        val_accs.append(calc_accuracy_loader(val_loader, model, device, num_batches=eval_iter))
        print(f"epoch {epoch + 1}: train accuracy {train_accs[-1]:.1%} | val accuracy {val_accs[-1]:.1%}")
    return train_losses, val_losses, train_accs, val_accs, examples_seen"""),
    ("code", """\
optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3, weight_decay=0.1)
epochs = 1 if GRADING else 4
t0 = time.time()
history = train_classifier_simple(model, train_dl, val_dl, optimizer, device, epochs, eval_freq=4, eval_iter=3)
partial_seconds = time.time() - t0
print(f"fine-tuning took {partial_seconds:.1f} s")"""),
    ("code", """\
train_losses, val_losses, train_accs, val_accs, seen = history
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3))
ax1.plot(train_losses, label="train")
ax1.plot(val_losses, label="val")
ax1.set_title("loss every 4 steps")
ax1.legend()
ax2.plot(range(1, len(train_accs) + 1), train_accs, "o-", label="train")
ax2.plot(range(1, len(val_accs) + 1), val_accs, "o-", label="val")
ax2.set_title("accuracy per epoch")
ax2.legend()
plt.show()"""),
    ("md", "## Test set: accuracy, confusion matrix, mistakes"),
    ("code", """\
@torch.no_grad()
def predict(loader):
    model.eval()
    pairs = [(y.tolist(), model(x.to(device))[:, -1, :].argmax(-1).tolist()) for x, y in loader]
    return [t for ys, _ in pairs for t in ys], [p for _, ps in pairs for p in ps]


truth, guess = predict(test_dl)
tp = sum(t == 1 and p == 1 for t, p in zip(truth, guess))
fp = sum(t == 0 and p == 1 for t, p in zip(truth, guess))
fn = sum(t == 1 and p == 0 for t, p in zip(truth, guess))
tn = len(truth) - tp - fp - fn
print(f"test accuracy {calc_accuracy_loader(test_dl, model, device):.1%}")
print(f"confusion matrix [[tn fp] [fn tp]] = [[{tn} {fp}] [{fn} {tp}]]")
precision, recall = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
print(f"precision {precision:.2f}, recall {recall:.2f}, F1 {2 * precision * recall / max(precision + recall, \
1e-9):.2f}")
plt.figure(figsize=(3, 3))
plt.imshow([[tn, fp], [fn, tp]], cmap="Blues")
plt.xticks([0, 1], ["ham", "spam"])
plt.yticks([0, 1], ["ham", "spam"])
plt.title("test confusion matrix")
plt.show()"""),
    ("code", """\
@torch.no_grad()
def classify_review(text, model, tokenizer, device, max_length=None, pad_token_id=50256):
    model.eval()
    limit = model.config.block_size
    max_length = limit if max_length is None else min(max_length, limit)
    ids = tokenizer.encode(text)[:max_length]
    ids = ids + [pad_token_id] * (max_length - len(ids))
    logits = model(torch.tensor([ids], device=device))[:, -1, :]
    return "spam" if logits.argmax(dim=-1).item() == 1 else "not spam"


for sms in ["URGENT! You have won a 1 week FREE membership in our prize jackpot! Txt CLAIM to 81010",
            "Are we still meeting at the library at 6?"]:
    print(classify_review(sms, model, enc, device, max_length=train_ds.max_length), "<-", sms)"""),
    ("md", """\
## Exercise 6.2: everything trainable

Same checkpoint, same data, but nothing frozen."""),
    ("code", """\
full = GPT(config)
full.load_state_dict(state)
full.lm_head = nn.Linear(config.n_embd, num_classes)
full.to(device)
opt_full = torch.optim.AdamW(full.parameters(), lr=5e-4, weight_decay=0.1)
t0 = time.time()
train_classifier_simple(full, train_dl, val_dl, opt_full, device, epochs, eval_freq=4, eval_iter=3)
full_seconds = time.time() - t0
for name, m, seconds in [("top block + head", model, partial_seconds), ("everything", full, full_seconds)]:
    count = sum(p.numel() for p in m.parameters() if p.requires_grad)
    print(f"{name:>16}: {count:>10,} trainable, {seconds:5.1f} s, test accuracy "
          f"{calc_accuracy_loader(test_dl, m, device):.1%}")"""),
]

QUINN_README = """\
# Assignment 5A: spam classification with my nanoGPT

## How this differs from pretraining

Pretraining is next-token prediction: a loss at every position over the 50,257-token vocabulary.
Classification asks one question per message, so the vocabulary head is replaced by a 2-way linear
layer and only the last token's logits are used: under the causal mask it is the only position
that has seen the whole message. The loss is cross-entropy over two classes and the metric is
accuracy (plus precision, recall and F1), not perplexity.

## Freezing

I froze the whole checkpoint except the last block, the final LayerNorm and the new head (the
book's recipe). Full fine-tuning (exercise 6.2) trains all parameters: about ten times as many
trainable parameters, slower epochs, and on this small data set no better test accuracy.

## The data set and its challenges

The SMS spam collection is imbalanced (about 13 % spam), so I undersampled ham to a balanced set;
otherwise always answering "ham" scores 87 %. Messages are short and full of abbreviations,
numbers and shortcodes that GPT-2's BPE splits into many tokens; the longest message sets the
padding length. The grader runs my notebook without my checkpoint and on a synthetic stand-in of
the data, so its numbers are not mine.

## Strengths and weaknesses

Obvious spam (prizes, "txt CLAIM", premium numbers) is caught; short informal ham that mentions
money is the usual false positive. The confusion matrix and precision / recall on the test set
are in the notebook; the errors were mostly false negatives on short spam messages.

## Approach and settings

AdamW, learning rate 1e-3 for the partial run and 5e-4 for full fine-tuning, weight decay 0.1,
batch size 8, four epochs, evaluation every 4 steps. The result: the partially frozen model
reaches the same accuracy in less time. The challenge was my tied `lm_head`: replacing it unties
it from `wte`, which stays frozen.
"""


# ================================================================ rosa: classification, her own names

ROSA = [
    ("md", """\
# Option A - SMS spam detection with a small GPT

My names differ from the book's, so the mapping for the course grader comes first. The notebook is
ordered the way I think about the task: how a trained classifier is *used*, then the data, then the
model (my own `TinyGPT`, with hand-written attention on raw weight matrices), then training."""),
    ("code", """\
GRADER_NAMES = {
    "SpamDataset": "SmsCsvDataset",
    "calc_loss_batch": "last_token_xent",
    "calc_accuracy_loader": "hit_rate",
    "train_classifier_simple": "fit_classifier",
    "classify_review": "label_text",
}"""),
    ("code", """\
import math
import os
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import tiktoken
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset

QUICK = bool(os.environ.get("LLM_GRADER"))
DEV = torch.device("cuda" if torch.cuda.is_available() else "cpu")
CONTEXT_LENGTH = 128  # my model's window
bpe = tiktoken.get_encoding("gpt2")"""),
    ("md", """\
## Using a classifier

The decision is read from the **final** position: with causal attention it is the only one that saw
every token of the message. These functions are defined first; `final_logits` comes later."""),
    ("code", """\
def label_text(text, model, tokenizer, device, max_length=None, pad_token_id=50256):
    \"\"\"'spam' or 'not spam' for one message.\"\"\"
    if max_length is None:
        max_length = CONTEXT_LENGTH
    ids = tokenizer.encode(text)[:max_length]
    ids += [pad_token_id] * (max_length - len(ids))
    model.eval()
    with torch.no_grad():
        winner = final_logits(model, torch.tensor(ids, device=device)[None]).argmax(-1).item()
    return "spam" if winner == 1 else "not spam"


def hit_rate(data_loader, model, device, num_batches=None):
    \"\"\"Share of messages whose predicted class is the label, over the first num_batches batches (all: None).\"\"\"
    model.eval()
    limit = len(data_loader) if num_batches is None else min(num_batches, len(data_loader))
    right, total = 0, 0
    with torch.no_grad():
        for i, (ids, labels) in enumerate(data_loader):
            if i >= limit:
                break
            labels = labels.to(device)
            right += (final_logits(model, ids.to(device)).argmax(-1) == labels).sum().item()
            total += len(labels)
    return right / total


def last_token_xent(input_batch, target_batch, model, device):
    \"\"\"Cross-entropy between the final position's logits and the class labels.\"\"\"
    return F.cross_entropy(final_logits(model, input_batch.to(device)), target_batch.to(device))


def final_logits(model, ids):
    return model(ids)[:, -1, :]"""),
    ("md", """\
## Data

Ham outnumbers spam about 6 to 1. I keep every spam message and an equal random sample of ham,
then split 70 / 10 / 20."""),
    ("code", """\
sms = pd.read_csv("sms_spam_collection/SMSSpamCollection.tsv", sep="\\t", header=None, names=["Label", "Text"],
                  quoting=3)
print(sms["Label"].value_counts().to_dict())
spam_part = sms[sms["Label"] == "spam"]
balanced = pd.concat([sms[sms["Label"] == "ham"].sample(len(spam_part), random_state=7), spam_part])
balanced["Label"] = (balanced["Label"] == "spam").astype(int)
balanced = balanced.sample(frac=1.0, random_state=7).reset_index(drop=True)
cut1, cut2 = int(0.7 * len(balanced)), int(0.8 * len(balanced))
for name, part in [("train", balanced[:cut1]), ("validation", balanced[cut1:cut2]), ("test", balanced[cut2:])]:
    part.to_csv(f"{name}.csv", index=False)
    print(name, len(part))"""),
    ("code", """\
class SmsCsvDataset(Dataset):
    \"\"\"Rows of a Label/Text CSV as (token ids padded with pad_token_id to max_length, label).\"\"\"

    def __init__(self, csv_file, tokenizer, max_length=None, pad_token_id=50256):
        frame = pd.read_csv(csv_file)
        self.targets = frame["Label"].astype(int).tolist()
        encoded = [tokenizer.encode(str(t)) for t in frame["Text"]]
        if max_length is None:
            max_length = max(len(e) for e in encoded)
        else:
            encoded = [e[:max_length] for e in encoded]
        self.max_length = max_length
        self.rows = [e + [pad_token_id] * (max_length - len(e)) for e in encoded]

    def __getitem__(self, k):
        return torch.tensor(self.rows[k], dtype=torch.long), torch.tensor(self.targets[k], dtype=torch.long)

    def __len__(self):
        return len(self.rows)


train_set = SmsCsvDataset("train.csv", bpe)
val_set = SmsCsvDataset("validation.csv", bpe, max_length=train_set.max_length)
test_set = SmsCsvDataset("test.csv", bpe, max_length=train_set.max_length)
torch.manual_seed(7)
loaders = {"train": DataLoader(train_set, batch_size=8, shuffle=True, drop_last=True),
           "val": DataLoader(val_set, batch_size=8), "test": DataLoader(test_set, batch_size=8)}
print("messages padded to", train_set.max_length, "tokens")"""),
    ("md", """\
## My model

`Norm` keeps its shift before its gain; attention multiplies by raw weight matrices (values declared
first); embeddings are raw tables looked up with `F.embedding`. The language-model output layer is
called `readout`."""),
    ("code", """\
class Norm(nn.Module):
    def __init__(self, width, eps=1e-5):
        super().__init__()
        self.beta = nn.Parameter(torch.zeros(width))
        self.gamma = nn.Parameter(torch.ones(width))
        self.eps = eps

    def forward(self, x):
        centred = x - x.mean(-1, keepdim=True)
        return self.gamma * centred / torch.sqrt(centred.pow(2).mean(-1, keepdim=True) + self.eps) + self.beta


class Mixer(nn.Module):
    \"\"\"Causal multi-head self-attention on raw (in, out) matrices.\"\"\"

    def __init__(self, width, heads, context, p_drop):
        super().__init__()
        scale = width ** -0.5
        self.Wv = nn.Parameter(torch.randn(width, width) * scale)
        self.Wk = nn.Parameter(torch.randn(width, width) * scale)
        self.Wq = nn.Parameter(torch.randn(width, width) * scale)
        self.bv, self.bk, self.bq = (nn.Parameter(torch.zeros(width)) for _ in range(3))
        self.Wo = nn.Parameter(torch.randn(width, width) * scale)
        self.bo = nn.Parameter(torch.zeros(width))
        self.heads = heads
        self.drop = nn.Dropout(p_drop)
        self.register_buffer("allowed", torch.tril(torch.ones(context, context, dtype=torch.bool)))

    def forward(self, x):
        b, t, d = x.shape
        split = lambda z: z.view(b, t, self.heads, d // self.heads).transpose(1, 2)  # noqa: E731
        q, k, v = split(x @ self.Wq + self.bq), split(x @ self.Wk + self.bk), split(x @ self.Wv + self.bv)
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(d // self.heads)
        weights = self.drop(scores.masked_fill(~self.allowed[:t, :t], float("-inf")).softmax(-1))
        return (weights @ v).transpose(1, 2).reshape(b, t, d) @ self.Wo + self.bo


class Layer(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(s["width"], 4 * s["width"]), nn.GELU(approximate="tanh"),
                                 nn.Linear(4 * s["width"], s["width"]))
        self.mix = Mixer(s["width"], s["heads"], s["context"], s["p_drop"])
        self.pre_mlp, self.pre_mix = Norm(s["width"]), Norm(s["width"])
        self.drop = nn.Dropout(s["p_drop"])

    def forward(self, x):
        x = x + self.drop(self.mix(self.pre_mix(x)))
        return x + self.drop(self.mlp(self.pre_mlp(x)))


class Table(nn.Module):
    def __init__(self, rows, width):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(rows, width) * 0.02)

    def forward(self, ids):
        return F.embedding(ids, self.weight)


class TinyGPT(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.tokens = Table(s["vocab"], s["width"])
        self.positions = Table(s["context"], s["width"])
        self.stack = nn.ModuleList([Layer(s) for _ in range(s["depth"])])
        self.final_ln = Norm(s["width"])
        self.readout = nn.Linear(s["width"], s["vocab"], bias=False)

    def forward(self, ids):
        x = self.tokens(ids) + self.positions(torch.arange(ids.shape[1], device=ids.device))
        for layer in self.stack:
            x = layer(x)
        return self.readout(self.final_ln(x))


SETTINGS = {"vocab": 50257, "width": 48, "depth": 2, "heads": 4, "context": CONTEXT_LENGTH, "p_drop": 0.1}
torch.manual_seed(7)
model = TinyGPT(SETTINGS).to(DEV)
print(f"TinyGPT: {sum(p.numel() for p in model.parameters()):,} parameters (random start: no pretrained weights \
here)")"""),
    ("md", """\
## Adapting it: a 2-way readout, most of it frozen

Freeze everything, then give back gradients to the last layer of the stack and the final norm; the new
`readout` is trainable from birth."""),
    ("code", """\
for p in model.parameters():
    p.requires_grad_(False)
model.readout = nn.Linear(SETTINGS["width"], 2).to(DEV)
for part in (model.stack[-1], model.final_ln):
    for p in part.parameters():
        p.requires_grad_(True)
print(sum(p.numel() for p in model.parameters() if p.requires_grad), "trainable parameters")"""),
    ("md", "## Training"),
    ("code", """\
def mean_loss(loader, model, device, batches):
    batches = min(batches, len(loader))
    with torch.no_grad():
        return sum(last_token_xent(x, y, model, device).item() for _, (x, y) in zip(range(batches), loader)) / batches


def snapshot_losses(model, loader_a, loader_b, device, batches):
    model.eval()
    result = mean_loss(loader_a, model, device, batches), mean_loss(loader_b, model, device, batches)
    model.train()
    return result


def fit_classifier(model, train_loader, val_loader, optimizer, device, num_epochs, eval_freq, eval_iter):
    \"\"\"Train for num_epochs; losses every eval_freq steps, accuracies after every epoch, and examples seen.\"\"\"
    log = {"train_loss": [], "val_loss": [], "train_acc": [], "val_acc": []}
    seen, step = 0, -1
    for epoch in range(num_epochs):
        model.train()
        for x, y in train_loader:
            optimizer.zero_grad()
            last_token_xent(x, y, model, device).backward()
            optimizer.step()
            seen += len(x)
            step += 1
            if step % eval_freq == 0:
                tr, va = snapshot_losses(model, train_loader, val_loader, device, eval_iter)
                log["train_loss"].append(tr)
                log["val_loss"].append(va)
                print(f"[{epoch + 1}/{num_epochs}] step {step}: train loss {tr:.3f}, val loss {va:.3f}")
        log["train_acc"].append(hit_rate(train_loader, model, device, num_batches=eval_iter))
        log["val_acc"].append(hit_rate(val_loader, model, device, num_batches=eval_iter))
        print(f"[{epoch + 1}/{num_epochs}] train acc {log['train_acc'][-1]:.2f}, val acc {log['val_acc'][-1]:.2f}")
    return log["train_loss"], log["val_loss"], log["train_acc"], log["val_acc"], seen"""),
    ("code", """\
optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.05)
started = time.time()
run = fit_classifier(model, loaders["train"], loaders["val"], optimizer, DEV,
                     num_epochs=1 if QUICK else 4, eval_freq=4, eval_iter=4)
print(f"{time.time() - started:.1f} s")"""),
    ("code", """\
plt.figure(figsize=(4, 3))
plt.plot(run[0], label="train loss")
plt.plot(run[1], label="validation loss")
plt.xlabel("evaluation")
plt.legend()
plt.show()
plt.figure(figsize=(4, 3))
plt.bar(["train", "validation"], [run[2][-1], run[3][-1]])
plt.ylim(0, 1)
plt.title("accuracy after the last epoch")
plt.show()"""),
    ("md", "## Results"),
    ("code", """\
model.eval()
with torch.no_grad():
    pairs = [(int(y), int(final_logits(model, x[None].to(DEV)).argmax())) for x, y in test_set]
confusion = np.zeros((2, 2), dtype=int)
for truth, guess in pairs:
    confusion[truth, guess] += 1
print("test accuracy:", hit_rate(loaders["test"], model, DEV))
print("confusion (rows: true ham/spam):\\n", confusion)
print(label_text("Congratulations! Claim your free cash prize now, call 0800 123", model, bpe, DEV, max_length=32))
print(label_text("can you pick up milk on the way home", model, bpe, DEV, max_length=32))"""),
]

ROSA_README = """\
# Spam detection with my TinyGPT (assignment 5, option A)

The grader looks for the book's names; mine are mapped in the first code cell with GRADER_NAMES.

## Classification fine-tuning versus pretraining

Pretraining teaches next-token prediction: the loss covers every position and the output layer
has one logit per vocabulary token. For spam detection the output layer is replaced by a 2-class
head and only the final token's logits are used, because the causal mask lets that position see
the whole message. Each message has one label, the loss is cross-entropy over the classes, and
I report accuracy and a confusion matrix.

## Freezing strategies

I froze all layers except the last layer of the stack, the final norm and the new head, so only
a small share of parameters is trainable. Full fine-tuning of all parameters would adapt more
but costs more memory and time and overfits this small data set more easily.

## Data set

The SMS collection is imbalanced (ham is about 87 %); I undersampled ham to a balanced set. The
messages are short, informal, and full of numbers and shortcodes. Spam and ham share words like
"free" or "call", which makes some of them hard.

## Strengths and weaknesses

Accuracy on the balanced test set is in the notebook with the confusion matrix. Errors are mostly
false positives on ham that mentions money or phone numbers; my model starts from random weights
here, so it learns surface words rather than meaning.

## Approach, settings, results, challenges

AdamW with learning rate 2e-3 and weight decay 0.05, batch size 8, 4 epochs. The result: the loss
falls steadily and validation accuracy rises above chance. Challenge: my own attention on raw
matrices had to be checked against the book's shapes (x @ W with W of shape in x out).
"""


# ================================================================ sami and vic: defensive code, a book-style model

DEFENSIVE_GPT = '''\
"""The GPT of chapter 4 as I wrote it for assignment 3, with its inputs checked."""

import torch
from torch import nn

REQUIRED_KEYS = ("vocab_size", "context_length", "emb_dim", "n_heads", "n_layers", "drop_rate", "qkv_bias")


def check_config(cfg):
    missing = [key for key in REQUIRED_KEYS if key not in cfg]
    if missing:
        raise KeyError(f"config lacks {missing}")
    if cfg["emb_dim"] % cfg["n_heads"]:
        raise ValueError(f"emb_dim {cfg['emb_dim']} is not divisible by n_heads {cfg['n_heads']}")
    if not 0.0 <= cfg["drop_rate"] < 1.0:
        raise ValueError(f"drop_rate must lie in [0, 1), got {cfg['drop_rate']}")


class MultiHeadAttention(nn.Module):
    def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias=False):
        super().__init__()
        if d_out % num_heads:
            raise ValueError("d_out must be divisible by num_heads")
        self.d_out, self.num_heads, self.head_dim = d_out, num_heads, d_out // num_heads
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.out_proj = nn.Linear(d_out, d_out)
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("mask", torch.triu(torch.ones(context_length, context_length), diagonal=1))

    def forward(self, x):
        if x.dim() != 3:
            raise ValueError(f"expected (batch, tokens, d_in), got {tuple(x.shape)}")
        b, n, _ = x.shape
        if n > self.mask.shape[0]:
            raise ValueError(f"{n} tokens exceed the context length {self.mask.shape[0]}")
        heads = lambda t: t.view(b, n, self.num_heads, self.head_dim).transpose(1, 2)  # noqa: E731
        q, k, v = heads(self.W_query(x)), heads(self.W_key(x)), heads(self.W_value(x))
        scores = (q @ k.transpose(2, 3)).masked_fill(self.mask.bool()[:n, :n], -torch.inf)
        weights = self.dropout(torch.softmax(scores / self.head_dim ** 0.5, dim=-1))
        return self.out_proj((weights @ v).transpose(1, 2).contiguous().view(b, n, self.d_out))


class LayerNorm(nn.Module):
    def __init__(self, emb_dim):
        super().__init__()
        self.eps = 1e-5
        self.scale = nn.Parameter(torch.ones(emb_dim))
        self.shift = nn.Parameter(torch.zeros(emb_dim))

    def forward(self, x):
        mean, var = x.mean(dim=-1, keepdim=True), x.var(dim=-1, keepdim=True, unbiased=False)
        return self.scale * (x - mean) / torch.sqrt(var + self.eps) + self.shift


class GELU(nn.Module):
    def forward(self, x):
        return 0.5 * x * (1 + torch.tanh((2.0 / torch.pi) ** 0.5 * (x + 0.044715 * x ** 3)))


''' + FEED_FORWARD + '''


''' + POSITIONAL_BLOCK + '''


class GPTModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        check_config(cfg)
        self.tok_emb = nn.Embedding(cfg["vocab_size"], cfg["emb_dim"])
        self.pos_emb = nn.Embedding(cfg["context_length"], cfg["emb_dim"])
        self.drop_emb = nn.Dropout(cfg["drop_rate"])
        self.trf_blocks = nn.Sequential(*[TransformerBlock(cfg) for _ in range(cfg["n_layers"])])
        self.final_norm = LayerNorm(cfg["emb_dim"])
        self.out_head = nn.Linear(cfg["emb_dim"], cfg["vocab_size"], bias=False)

    def forward(self, in_idx):
        if in_idx.dim() != 2 or in_idx.dtype not in (torch.int64, torch.int32):
            raise ValueError(f"expected integer token ids of shape (batch, tokens), got {in_idx.dtype} "
                             f"{tuple(in_idx.shape)}")
        positions = torch.arange(in_idx.shape[1], device=in_idx.device)
        x = self.drop_emb(self.tok_emb(in_idx) + self.pos_emb(positions))
        return self.out_head(self.final_norm(self.trf_blocks(x)))
'''

# The data pipeline sami and vic share (they are lab partners: same data preparation, own fine-tuning).
DEFENSIVE_DATA = """\
DATA = Path("sms_spam_collection") / "SMSSpamCollection.tsv"
if not DATA.is_file():
    raise FileNotFoundError(f"{DATA} is missing: run the book's download cell (section 6.2) first")
table = pd.read_csv(DATA, sep="\\t", header=None, names=["Label", "Text"], quoting=3)
if set(table["Label"]) - {"ham", "spam"}:
    raise ValueError(f"unexpected labels {set(table['Label']) - {'ham', 'spam'}}")
n_spam = int((table["Label"] == "spam").sum())
balanced = pd.concat([table[table["Label"] == "ham"].sample(n_spam, random_state=123), table[table["Label"] == "spam"]])
balanced["Label"] = balanced["Label"].map({"ham": 0, "spam": 1})
balanced = balanced.sample(frac=1, random_state=123).reset_index(drop=True)
train_end, val_end = int(len(balanced) * 0.7), int(len(balanced) * 0.8)
assert 0 < train_end < val_end < len(balanced), "too few messages to split"
balanced[:train_end].to_csv("train.csv", index=None)
balanced[train_end:val_end].to_csv("validation.csv", index=None)
balanced[val_end:].to_csv("test.csv", index=None)
print(f"{len(balanced)} balanced messages: {train_end} train, {val_end - train_end} validation, "
      f"{len(balanced) - val_end} test")"""

DEFENSIVE_DATASET = """\
class SpamDataset(Dataset):
    \"\"\"Token ids of the messages of a Label/Text CSV, cut or padded to one length, with their 0/1 labels.\"\"\"

    def __init__(self, csv_file, tokenizer, max_length=None, pad_token_id=50256):
        if max_length is not None and (not isinstance(max_length, int) or max_length < 1):
            raise ValueError(f"max_length must be a positive int or None, got {max_length!r}")
        if not isinstance(pad_token_id, int) or pad_token_id < 0:
            raise ValueError(f"pad_token_id must be a non-negative int, got {pad_token_id!r}")
        self.data = pd.read_csv(csv_file)
        missing = {"Label", "Text"} - set(self.data.columns)
        if missing:
            raise ValueError(f"{csv_file} lacks the column(s) {sorted(missing)}")
        self.encoded_texts = [tokenizer.encode(str(text)) for text in self.data["Text"]]
        if max_length is None:
            self.max_length = max((len(ids) for ids in self.encoded_texts), default=0)
        else:
            self.max_length = max_length
            self.encoded_texts = [ids[:max_length] for ids in self.encoded_texts]
        self.encoded_texts = [ids + [pad_token_id] * (self.max_length - len(ids)) for ids in self.encoded_texts]

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} messages")
        label = int(self.data.iloc[index]["Label"])
        return torch.tensor(self.encoded_texts[index], dtype=torch.long), torch.tensor(label, dtype=torch.long)

    def __len__(self):
        return len(self.data)"""

DEFENSIVE_FUNCTIONS = """\
def _check_batch(input_batch, target_batch):
    if input_batch.dim() != 2:
        raise ValueError(f"input_batch must be (batch, tokens), got {tuple(input_batch.shape)}")
    if target_batch.dim() != 1 or target_batch.shape[0] != input_batch.shape[0]:
        raise ValueError(f"target_batch must hold one label per row: {tuple(target_batch.shape)} for "
                         f"{input_batch.shape[0]} rows")


def calc_loss_batch(input_batch, target_batch, model, device):
    _check_batch(input_batch, target_batch)
    input_batch, target_batch = input_batch.to(device), target_batch.to(device)
    logits = model(input_batch)[:, -1, :]
    return torch.nn.functional.cross_entropy(logits, target_batch)


def _batches(data_loader, num_batches):
    if num_batches is not None and (not isinstance(num_batches, int) or num_batches < 1):
        raise ValueError(f"num_batches must be a positive int or None, got {num_batches!r}")
    return len(data_loader) if num_batches is None else min(num_batches, len(data_loader))


def calc_loss_loader(data_loader, model, device, num_batches=None):
    n = _batches(data_loader, num_batches)
    if n == 0:
        return float("nan")
    total = 0.0
    for i, (input_batch, target_batch) in enumerate(data_loader):
        if i >= n:
            break
        total += calc_loss_batch(input_batch, target_batch, model, device).item()
    return total / n


def calc_accuracy_loader(data_loader, model, device, num_batches=None):
    n = _batches(data_loader, num_batches)
    model.eval()
    correct, examples = 0, 0
    for i, (input_batch, target_batch) in enumerate(data_loader):
        if i >= n:
            break
        _check_batch(input_batch, target_batch)
        with torch.no_grad():
            predicted = model(input_batch.to(device))[:, -1, :].argmax(dim=-1)
        correct += (predicted == target_batch.to(device)).sum().item()
        examples += predicted.shape[0]
    return correct / examples if examples else float("nan")"""

DEFENSIVE_SETUP = """\
import os
import time
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import tiktoken
import torch
from torch.utils.data import DataLoader, Dataset

from {module} import GPTModel  # my chapter 4 model (assignment 3), with its inputs checked

SHORT_RUN = os.environ.get("LLM_GRADER") == "1"  # set by the course grader
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
tokenizer = tiktoken.get_encoding("gpt2")
assert tokenizer.encode("<|endoftext|>", allowed_special={"<|endoftext|>"}) == [50256]"""

DEFENSIVE_MODEL = """\
GPT_SETTINGS = {"vocab_size": 50257, "context_length": 256, "emb_dim": 96, "n_heads": 4, "n_layers": 3,
                "drop_rate": 0.1, "qkv_bias": True}
CHECKPOINT = Path("pretrained") / "gpt_a4.pth"
weights = torch.load(CHECKPOINT, map_location="cpu", weights_only=True)
if not isinstance(weights, dict) or "tok_emb.weight" not in weights:
    raise ValueError(f"{CHECKPOINT} does not hold a GPTModel state dict")
model = GPTModel(GPT_SETTINGS)
model.load_state_dict(weights, strict=True)
model.to(device)
print(f"loaded {CHECKPOINT}: {sum(p.numel() for p in model.parameters()):,} parameters")"""

SAMI = [
    ("md", """\
# Assignment 5A - classification fine-tuning, carefully

I validate every input my functions get: a wrong shape or a bad argument raises a clear error
instead of a wrong number later. The model is my chapter 4 `GPTModel` (file `sami_gpt.py`),
pretrained in assignment 4; its checkpoint `pretrained/gpt_a4.pth` is not part of this folder."""),
    ("code", DEFENSIVE_SETUP.replace("{module}", "sami_gpt")),
    ("md", "## Data (sections 6.2 and 6.3)"),
    ("code", DEFENSIVE_DATA),
    ("code", DEFENSIVE_DATASET + """


train_dataset = SpamDataset("train.csv", tokenizer)
val_dataset = SpamDataset("validation.csv", tokenizer, max_length=train_dataset.max_length)
test_dataset = SpamDataset("test.csv", tokenizer, max_length=train_dataset.max_length)
torch.manual_seed(123)
train_loader = DataLoader(train_dataset, batch_size=8, shuffle=True, drop_last=True)
val_loader = DataLoader(val_dataset, batch_size=8)
test_loader = DataLoader(test_dataset, batch_size=8)"""),
    ("md", "## The pretrained model and its new head (sections 6.4 and 6.5)"),
    ("code", DEFENSIVE_MODEL),
    ("code", """\
if train_dataset.max_length > GPT_SETTINGS["context_length"]:
    raise ValueError("the longest training message does not fit the context")
for param in model.parameters():
    param.requires_grad = False
num_classes = 2
torch.manual_seed(123)
model.out_head = torch.nn.Linear(GPT_SETTINGS["emb_dim"], num_classes).to(device)
for module in (model.trf_blocks[-1], model.final_norm):
    for param in module.parameters():
        param.requires_grad = True
print(f"{sum(p.numel() for p in model.parameters() if p.requires_grad):,} trainable parameters")"""),
    ("md", "## Loss and accuracy (section 6.6)"),
    ("code", DEFENSIVE_FUNCTIONS),
    ("md", "## Training (section 6.7)"),
    ("code", EVALUATE_MODEL + """


def train_classifier_simple(model, train_loader, val_loader, optimizer, device, num_epochs, eval_freq, eval_iter):
    for name, value in (("num_epochs", num_epochs), ("eval_freq", eval_freq), ("eval_iter", eval_iter)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if not any(p.requires_grad for group in optimizer.param_groups for p in group["params"]):
        raise ValueError("the optimizer holds no trainable parameter")
    train_losses, val_losses, train_accs, val_accs = [], [], [], []
    examples_seen, global_step = 0, -1
    for epoch in range(num_epochs):
        model.train()
        for input_batch, target_batch in train_loader:
            optimizer.zero_grad()
            loss = calc_loss_batch(input_batch, target_batch, model, device)
            loss.backward()
            optimizer.step()
            examples_seen += input_batch.shape[0]
            global_step += 1
            if global_step % eval_freq == 0:
                train_loss, val_loss = evaluate_model(model, train_loader, val_loader, device, eval_iter)
                train_losses.append(train_loss)
                val_losses.append(val_loss)
                print(f"Ep {epoch + 1} (Step {global_step:06d}): Train loss {train_loss:.3f}, Val loss {val_loss:.3f}")
        train_accs.append(calc_accuracy_loader(train_loader, model, device, num_batches=eval_iter))
        val_accs.append(calc_accuracy_loader(val_loader, model, device, num_batches=eval_iter))
        print(f"Training accuracy: {train_accs[-1] * 100:.2f}% | Validation accuracy: {val_accs[-1] * 100:.2f}%")
    return train_losses, val_losses, train_accs, val_accs, examples_seen"""),
    ("code", """\
torch.manual_seed(123)
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1)
num_epochs = 1 if SHORT_RUN else 3
start = time.time()
results = train_classifier_simple(model, train_loader, val_loader, optimizer, device, num_epochs=num_epochs,
                                  eval_freq=5, eval_iter=3)
print(f"Training completed in {(time.time() - start) / 60:.2f} minutes.")"""),
    ("code", """\
train_losses, val_losses, train_accs, val_accs, examples_seen = results
for values, label in ((train_losses, "loss"), (train_accs, "accuracy")):
    plt.figure(figsize=(4, 3))
    plt.plot(values, label=f"training {label}")
    plt.plot(val_losses if label == "loss" else val_accs, linestyle="-.", label=f"validation {label}")
    plt.legend()
    plt.show()"""),
    ("md", "## Evaluation and using the classifier (section 6.8)"),
    ("code", """\
def classify_review(text, model, tokenizer, device, max_length=None, pad_token_id=50256):
    if not isinstance(text, str) or not text.strip():
        raise ValueError("text must be a non-empty string")
    supported = model.pos_emb.weight.shape[0]
    if max_length is None:
        max_length = supported
    if not isinstance(max_length, int) or max_length < 1:
        raise ValueError(f"max_length must be a positive int, got {max_length!r}")
    max_length = min(max_length, supported)
    model.eval()
    input_ids = tokenizer.encode(text)[:max_length]
    input_ids += [pad_token_id] * (max_length - len(input_ids))
    with torch.no_grad():
        logits = model(torch.tensor(input_ids, device=device).unsqueeze(0))[:, -1, :]
    return "spam" if logits.argmax(dim=-1).item() == 1 else "not spam"


for split, loader in (("train", train_loader), ("validation", val_loader), ("test", test_loader)):
    print(f"{split} accuracy: {calc_accuracy_loader(loader, model, device) * 100:.2f}%")
y_true, y_pred = [], []
model.eval()
with torch.no_grad():
    for inputs, targets in test_loader:
        y_pred += model(inputs.to(device))[:, -1, :].argmax(dim=-1).tolist()
        y_true += targets.tolist()
errors = [(t, p) for t, p in zip(y_true, y_pred) if t != p]
print(f"{len(errors)} test errors; false positives {sum(p == 1 for _, p in errors)}, "
      f"false negatives {sum(p == 0 for _, p in errors)}")
print(classify_review("You are a winner! Claim your 1000 cash prize now", model, tokenizer, device,
                      max_length=train_dataset.max_length))"""),
]

SAMI_README = """\
# Assignment 5A (classification fine-tuning)

## Why classification fine-tuning is not pretraining

In pretraining the model predicts the next token at every position (cross-entropy over 50,257
tokens). For classification the head is replaced by a linear layer with one output per class
label and only the last token's output is used: it is the only position that has attended to
the whole message under the causal mask.

## Freezing

I froze all parameters except the last transformer block, the final norm and the head. Full
fine-tuning of all layers trains far more parameters (trainable count in the notebook) for little
gain on a data set this small, and it is slower.

## Data set

Spam is the minority (about 13 %); I balanced the classes by undersampling ham. The messages are
short and noisy. Validating the CSV columns and labels caught a broken export early.

## Strengths and weaknesses

Accuracy is reported for train, validation and test; the false positives and false negatives on
the test set are counted. The model is strong on prize / cash spam and weak on short spam
without such words (false negatives).

## Approach and settings

Learning rate 1e-3, weight decay 0.1, 3 epochs, batch size 8. Results: the validation accuracy
climbs after the first epoch. The challenge was the checkpoint from assignment 4, which the
grader does not have (its run uses a small stand-in model).
"""


# ================================================================ tara: LoRA, nanoGPT layout, PEFT-style A and B

TARA = [
    ("md", """\
# LoRA on my nanoGPT (assignment 5, option C)

Low-rank adapters in the style of Hugging Face's PEFT: every `nn.Linear` of my nanoGPT (the fused
`c_attn`, both `c_proj`s, `c_fc` and the classification head) gets a trainable bypass
`lora_B(lora_A(x)) * alpha / rank` while the pretrained weights stay frozen. Task: SMS spam
classification (chapter 6's data), starting from my assignment-4 checkpoint."""),
    ("code", """\
import csv
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import tiktoken
import torch
import torch.nn as nn
from torch.nn import functional as F

FAST = os.getenv("LLM_GRADER") == "1"
device = "cuda" if torch.cuda.is_available() else "cpu"
enc = tiktoken.get_encoding("gpt2")"""),
    ("code", NANOGPT_MODEL),
    ("md", "## Spam data as padded id tensors"),
    ("code", """\
with open("sms_spam_collection/SMSSpamCollection.tsv", encoding="utf-8") as fh:
    pairs = [line.rstrip("\\n").split("\\t", 1) for line in fh if "\\t" in line]
spam = [t for lab, t in pairs if lab == "spam"]
ham = random.Random(0).sample([t for lab, t in pairs if lab == "ham"], k=len(spam))
data = [(t, 1) for t in spam] + [(t, 0) for t in ham]
random.Random(0).shuffle(data)
ids = [enc.encode(t)[:64] for t, _ in data]
width = max(map(len, ids))
X = torch.tensor([i + [50256] * (width - len(i)) for i in ids])
Y = torch.tensor([label for _, label in data])
cut = int(0.8 * len(data))
X_train, Y_train, X_val, Y_val = X[:cut], Y[:cut], X[cut:], Y[cut:]
print(X_train.shape, X_val.shape, f"spam share {Y.float().mean():.2f}")"""),
    ("md", """\
## Pretrained model and a two-way head

`checkpoints/a4_nanogpt.pt` (my assignment-4 pretraining) stays out of the repository."""),
    ("code", """\
config = GPTConfig(block_size=256, vocab_size=50257, n_layer=2, n_head=4, n_embd=64, dropout=0.0)
state = torch.load("checkpoints/a4_nanogpt.pt", map_location="cpu", weights_only=True)
model = GPT(config)
model.load_state_dict(state)
torch.manual_seed(0)
model.lm_head = nn.Linear(config.n_embd, 2)
model.to(device)
full_count = sum(p.numel() for p in model.parameters())
print(f"{full_count:,} parameters")"""),
    ("md", """\
## LoRA

`lora_A` starts with `nn.Linear`'s Kaiming-uniform weights, `lora_B` with zeros, so the wrapped model
computes exactly what the pretrained one does until training moves `lora_B`. The update is scaled by
`alpha / rank`."""),
    ("code", """\
class LoRALayer(nn.Module):
    def __init__(self, in_dim, out_dim, rank, alpha):
        super().__init__()
        self.lora_A = nn.Linear(in_dim, rank, bias=False)
        self.lora_B = nn.Linear(rank, out_dim, bias=False)
        nn.init.zeros_(self.lora_B.weight)
        self.scaling = alpha / rank

    def forward(self, x):
        return self.lora_B(self.lora_A(x)) * self.scaling


class LinearWithLoRA(nn.Module):
    def __init__(self, linear, rank, alpha):
        super().__init__()
        self.base_layer = linear
        self.lora = LoRALayer(linear.in_features, linear.out_features, rank, alpha)

    def forward(self, x):
        return self.base_layer(x) + self.lora(x)


def replace_linear_with_lora(model, rank, alpha):
    \"\"\"Swap every nn.Linear below `model` for a LinearWithLoRA around it; returns the model.\"\"\"
    for name, child in list(model.named_children()):
        if isinstance(child, nn.Linear):
            setattr(model, name, LinearWithLoRA(child, rank, alpha))
        else:
            replace_linear_with_lora(child, rank, alpha)
    return model"""),
    ("code", """\
model.requires_grad_(False)
replace_linear_with_lora(model, rank=8, alpha=16)
model.to(device)
lora_count = sum(p.numel() for p in model.parameters() if p.requires_grad)
print(f"trainable: {lora_count:,} of {sum(p.numel() for p in model.parameters()):,} ({lora_count / full_count:.2%})")
print(model.transformer.h[0].attn)"""),
    ("md", "## Fine-tuning the adapters"),
    ("code", """\
def batches(x, y, size, shuffle):
    order = torch.randperm(len(x)) if shuffle else torch.arange(len(x))
    for start in range(0, len(x), size):
        pick = order[start:start + size]
        yield x[pick].to(device), y[pick].to(device)


@torch.no_grad()
def accuracy(net, x, y):
    net.eval()
    hits = sum((net(xb)[:, -1].argmax(-1) == yb).sum().item() for xb, yb in batches(x, y, 16, False))
    return hits / len(x)


def fit(net, opt, epochs):
    losses = []
    for epoch in range(epochs):
        net.train()
        for xb, yb in batches(X_train, Y_train, 8, True):
            loss = F.cross_entropy(net(xb)[:, -1], yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        print(f"epoch {epoch + 1}: train loss {sum(losses[-10:]) / len(losses[-10:]):.3f}, "
              f"val accuracy {accuracy(net, X_val, Y_val):.2%}")
    return losses"""),
    ("code", """\
torch.manual_seed(0)
optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
t0 = time.time()
lora_losses = fit(model, optimizer, 1 if FAST else 4)
lora_seconds = time.time() - t0
plt.figure(figsize=(5, 3))
plt.plot(lora_losses)
plt.xlabel("step")
plt.ylabel("training loss")
plt.title("LoRA r=8")
plt.show()"""),
    ("md", "## LoRA versus full fine-tuning, and the rank"),
    ("code", """\
def fresh():
    net = GPT(config)
    net.load_state_dict(state)
    net.lm_head = nn.Linear(config.n_embd, 2)
    return net.to(device)


results = {"LoRA r=8": (lora_count, lora_seconds, accuracy(model, X_val, Y_val))}
full = fresh()
t0 = time.time()
fit(full, torch.optim.AdamW(full.parameters(), lr=5e-4), 1 if FAST else 4)
results["full"] = (sum(p.numel() for p in full.parameters()), time.time() - t0, accuracy(full, X_val, Y_val))
for r in (1, 32):
    net = replace_linear_with_lora(fresh().requires_grad_(False), rank=r, alpha=2 * r).to(device)
    t0 = time.time()
    fit(net, torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=3e-3), 1 if FAST else 2)
    results[f"LoRA r={r}"] = (sum(p.numel() for p in net.parameters() if p.requires_grad), time.time() - t0,
                              accuracy(net, X_val, Y_val))
for name, (count, seconds, acc) in results.items():
    print(f"{name:>9}: {count:>10,} trainable, {seconds:5.1f} s, val accuracy {acc:.2%}")
plt.figure(figsize=(5, 3))
plt.bar(list(results), [acc for _, _, acc in results.values()])
plt.ylabel("validation accuracy")
plt.show()"""),
]

TARA_README = """\
# LoRA on my nanoGPT

## How LoRA reduces trainable parameters

Each frozen weight matrix W (in x out) gets a low-rank update B A with A of shape rank x in and B
of shape out x rank; only A and B are trainable. With rank 8 that is 8 * (in + out) parameters
per layer instead of in * out: in my run about 5 % of the model's parameters train (the exact
counts are printed). B starts at zero, so training starts exactly from the pretrained model.

## Rank and performance

Rank 1 already learns the task; rank 32 trains four times as many parameters as rank 8 without a
better validation accuracy. Alpha scales the update (alpha / rank here, PEFT's convention), so
raising the rank does not by itself change the size of the update.

## When to use LoRA

LoRA pays off when memory is short (no optimizer state for the frozen weights), when many task
adapters share one base model (storage: a few MB per task), or when data is scarce. Full
fine-tuning is the better choice for tasks far from the pretraining data with plenty of compute.

## Results and settings

AdamW, learning rate 3e-3 for the adapters and 5e-4 for full fine-tuning, batch size 8. The
table in the notebook lists trainable parameters, time in seconds and accuracy per setting. The
challenge: the fused `c_attn` is one Linear layer, so one adapter covers q, k and v together.
"""

# ================================================================ uma: LoRA, her own names

UMA = [
    ("code", """\
# course grader: my names for the book's
GRADER_NAMES = {"LoRALayer": "LowRankDelta", "LinearWithLoRA": "AdaptedLinear",
                "replace_linear_with_lora": "attach_adapters"}"""),
    ("md", """\
# Parameter-efficient fine-tuning with low-rank deltas

Instead of retraining a weight matrix, learn a small correction to it: `delta(x) = alpha * x A^T B^T`
with `A^T` (rank x in) and `B^T` (out x rank). I store both matrices the way `nn.Linear` stores its
weight (output dimension first), B first because it is the one that starts at zero. The adapter
scales by `alpha`, as the printed book does."""),
    ("code", """\
import math
import os
import time

import matplotlib.pyplot as plt
import pandas as pd
import tiktoken
import torch
from torch import nn

QUICK = os.environ.get("LLM_GRADER") is not None
DEV = "cuda" if torch.cuda.is_available() else "cpu"
bpe = tiktoken.get_encoding("gpt2")"""),
    ("code", """\
def attach_adapters(model, rank, alpha):
    \"\"\"Put an AdaptedLinear around every nn.Linear of the model (found first, then replaced); returns the \
model.\"\"\"
    targets = [name for name, module in model.named_modules() if isinstance(module, nn.Linear)]
    for name in targets:
        parent_name, _, attr = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, attr, AdaptedLinear(getattr(parent, attr), rank, alpha))
    return model


class AdaptedLinear(nn.Module):
    def __init__(self, linear, rank, alpha):
        super().__init__()
        self.delta = LowRankDelta(linear.in_features, linear.out_features, rank, alpha)
        self.frozen = linear

    def forward(self, x):
        return self.frozen(x) + self.delta(x)


class LowRankDelta(nn.Module):
    def __init__(self, in_dim, out_dim, rank, alpha):
        super().__init__()
        self.B_t = nn.Parameter(torch.zeros(out_dim, rank))
        self.A_t = nn.Parameter(torch.empty(rank, in_dim))
        nn.init.kaiming_uniform_(self.A_t, a=math.sqrt(5))
        self.alpha = alpha

    def forward(self, x):
        return self.alpha * (x @ self.A_t.T @ self.B_t.T)"""),
    ("md", "## A small GPT of my own (random start: no pretrained weights on this machine)"),
    ("code", """\
class Block(nn.Module):
    def __init__(self, d, heads, context):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.v_proj, self.k_proj, self.q_proj = (nn.Linear(d, d) for _ in range(3))
        self.o_proj = nn.Linear(d, d)
        self.fc1, self.fc2 = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)
        self.heads = heads
        self.register_buffer("future", torch.triu(torch.ones(context, context, dtype=torch.bool), 1))

    def attend(self, x):
        b, t, d = x.shape
        q, k, v = (p(x).view(b, t, self.heads, -1).transpose(1, 2) for p in (self.q_proj, self.k_proj, self.v_proj))
        w = ((q @ k.transpose(-1, -2)) / math.sqrt(d // self.heads)).masked_fill(self.future[:t, :t], -math.inf)
        return self.o_proj((w.softmax(-1) @ v).transpose(1, 2).reshape(b, t, d))

    def forward(self, x):
        x = x + self.attend(self.ln1(x))
        return x + self.fc2(nn.functional.gelu(self.fc1(self.ln2(x)), approximate="tanh"))


class SmallGPT(nn.Module):
    def __init__(self, vocab, d, heads, depth, context):
        super().__init__()
        self.embed, self.pos = nn.Embedding(vocab, d), nn.Embedding(context, d)
        self.blocks = nn.ModuleList([Block(d, heads, context) for _ in range(depth)])
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab, bias=False)

    def forward(self, ids):
        x = self.embed(ids) + self.pos(torch.arange(ids.shape[1], device=ids.device))
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))


torch.manual_seed(3)
model = SmallGPT(vocab=50257, d=48, heads=4, depth=2, context=128)
model.head = nn.Linear(48, 2)  # spam / ham instead of the vocabulary
before = sum(p.numel() for p in model.parameters() if p.requires_grad)
for p in model.parameters():
    p.requires_grad = False
attach_adapters(model, rank=4, alpha=2)
model.to(DEV)
after = sum(p.numel() for p in model.parameters() if p.requires_grad)
print(f"trainable parameters: {before:,} -> {after:,} ({after / before:.1%})")"""),
    ("md", "## Data and training"),
    ("code", """\
frame = pd.read_csv("sms_spam_collection/SMSSpamCollection.tsv", sep="\\t", names=["label", "text"], quoting=3)
spam = frame[frame.label == "spam"]
frame = pd.concat([spam, frame[frame.label == "ham"].sample(len(spam), random_state=3)]).sample(frac=1, random_state=3)
encoded = [bpe.encode(t)[:100] for t in frame.text]
longest = max(map(len, encoded))
inputs = torch.tensor([e + [50256] * (longest - len(e)) for e in encoded])
labels = torch.tensor((frame.label == "spam").astype(int).tolist())
split = int(0.8 * len(inputs))
train_x, train_y, test_x, test_y = inputs[:split], labels[:split], inputs[split:], labels[split:]


def score(net, x, y):
    net.eval()
    with torch.no_grad():
        return (net(x.to(DEV))[:, -1].argmax(-1).cpu() == y).float().mean().item()


def train(net, optimizer, epochs):
    curve = []
    for epoch in range(epochs):
        net.train()
        order = torch.randperm(len(train_x))
        for i in range(0, len(order), 8):
            idx = order[i:i + 8]
            loss = nn.functional.cross_entropy(net(train_x[idx].to(DEV))[:, -1], train_y[idx].to(DEV))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            curve.append(loss.item())
        print(f"epoch {epoch + 1}: last loss {curve[-1]:.3f}, test accuracy {score(net, test_x, test_y):.3f}")
    return curve"""),
    ("code", """\
optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=5e-3)
t = time.time()
curve = train(model, optimizer, 1 if QUICK else 4)
print(f"LoRA: {time.time() - t:.1f} s")
plt.plot(curve)
plt.title("training loss (adapters only)")
plt.show()
ranks = {}
for r in (1, 8):
    torch.manual_seed(3)
    net = SmallGPT(vocab=50257, d=48, heads=4, depth=2, context=128)
    net.head = nn.Linear(48, 2)
    net.requires_grad_(False)
    attach_adapters(net, rank=r, alpha=2).to(DEV)
    train(net, torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=5e-3), 1)
    ranks[r] = score(net, test_x, test_y)
plt.bar([str(r) for r in ranks], list(ranks.values()))
plt.title("test accuracy after one epoch, by rank")
plt.show()"""),
]

UMA_README = """\
# Low-rank deltas (assignment 5, option C)

My names are mapped for the grader at the top of the notebook (GRADER_NAMES).

## How LoRA reduces trainable parameters

The base model is frozen; each linear layer gets a low-rank correction made of two matrices with
rank r, so the trainable parameter count per layer is r * (in + out) instead of in * out. My
notebook prints the trainable count before and after: a few percent remain.

## Rank versus performance

Higher rank means more capacity and more parameters; rank 1 and rank 8 reach a similar accuracy
after one epoch on this task. Alpha scales the update (I use alpha, the printed book's reading),
so changing the rank also changes the update's size unless alpha is adjusted.

## When to use it

LoRA when memory or storage is the constraint or many tasks share a base model (efficient);
full fine-tuning when the task needs the whole network to change and compute is cheap.

## Results

Training time in seconds and the accuracy per rank are in the notebook. The approach and my
settings (Adam, learning rate 5e-3, batch size 8) worked; the challenge was storing A and B
transposed and getting the matrix products' order right.
"""


# ================================================================ vic: LoRA, defensive

VIC_LORA = """\
def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


class LoRALayer(nn.Module):
    \"\"\"scaling * (x @ A @ B): A (in_dim x rank) random, B (rank x out_dim) zero, scaling = alpha / rank.\"\"\"

    def __init__(self, in_dim, out_dim, rank, alpha):
        super().__init__()
        for name, value in (("in_dim", in_dim), ("out_dim", out_dim), ("rank", rank)):
            _positive_int(name, value)
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or alpha <= 0:
            raise ValueError(f"alpha must be a positive number, got {alpha!r}")
        self.A = nn.Parameter(torch.empty(in_dim, rank))
        nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))
        self.B = nn.Parameter(torch.zeros(rank, out_dim))
        self.scaling = alpha / self.A.shape[1]  # rank, read from A so that the two always agree

    def forward(self, x):
        if x.shape[-1] != self.A.shape[0]:
            raise ValueError(f"expected inputs with {self.A.shape[0]} features, got {tuple(x.shape)}")
        return self.scaling * (x @ self.A @ self.B)


class LinearWithLoRA(nn.Module):
    def __init__(self, linear, rank, alpha):
        super().__init__()
        if not isinstance(linear, nn.Linear):
            raise TypeError(f"LinearWithLoRA wraps an nn.Linear, got {type(linear).__name__}")
        self.linear = linear
        self.lora = LoRALayer(linear.in_features, linear.out_features, rank, alpha)

    def forward(self, x):
        return self.linear(x) + self.lora(x)


def replace_linear_with_lora(model, rank, alpha):
    \"\"\"Wrap every nn.Linear inside `model` (at any depth, in place); layers already wrapped are left alone.\"\"\"
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected an nn.Module, got {type(model).__name__}")
    _positive_int("rank", rank)
    for name, module in model.named_children():
        if isinstance(module, LinearWithLoRA):
            continue
        if isinstance(module, nn.Linear):
            setattr(model, name, LinearWithLoRA(module, rank, alpha))
        else:
            replace_linear_with_lora(module, rank, alpha)"""

VIC = [
    ("md", """\
# Assignment 5C: LoRA, with every argument checked

Appendix E's LoRA on my chapter 4 `GPTModel` (`lab_gpt.py`, shared with my lab partner), fine-tuned
for SMS spam classification. Each function refuses arguments it cannot handle (non-positive ranks,
a layer that is not `nn.Linear`, inputs of the wrong width) with a message that says why."""),
    ("code", DEFENSIVE_SETUP.replace("{module}", "lab_gpt") + "\nimport math\nfrom torch import nn"),
    ("md", "## Data (chapter 6)"),
    ("code", DEFENSIVE_DATA),
    ("code", DEFENSIVE_DATASET + """


train_dataset = SpamDataset("train.csv", tokenizer)
val_dataset = SpamDataset("validation.csv", tokenizer, max_length=train_dataset.max_length)
test_dataset = SpamDataset("test.csv", tokenizer, max_length=train_dataset.max_length)
torch.manual_seed(123)
train_loader = DataLoader(train_dataset, batch_size=8, shuffle=True, drop_last=True)
val_loader = DataLoader(val_dataset, batch_size=8)
test_loader = DataLoader(test_dataset, batch_size=8)"""),
    ("md", "## The pretrained model, with a classification head (E.3)"),
    ("code", DEFENSIVE_MODEL),
    ("code", """\
torch.manual_seed(123)
num_classes = 2
model.out_head = torch.nn.Linear(GPT_SETTINGS["emb_dim"], num_classes).to(device)
total_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
print(f"Total trainable parameters before: {total_params:,}")"""),
    ("code", DEFENSIVE_FUNCTIONS),
    ("md", "## LoRA (E.4)"),
    ("code", VIC_LORA),
    ("code", """\
for param in model.parameters():
    param.requires_grad = False
replace_linear_with_lora(model, rank=8, alpha=16)
model.to(device)
lora_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
assert lora_params > 0, "no LoRA parameter is trainable"
print(f"Total trainable LoRA parameters: {lora_params:,} ({lora_params / total_params:.2%})")"""),
    ("md", "## Fine-tuning (E.4)"),
    ("code", """\
def train_epochs(model, optimizer, epochs, eval_every=5):
    if epochs < 1:
        raise ValueError("epochs must be at least 1")
    history, step = {"train": [], "val": []}, 0
    for epoch in range(epochs):
        model.train()
        for inputs, targets in train_loader:
            optimizer.zero_grad()
            loss = calc_loss_batch(inputs, targets, model, device)
            loss.backward()
            optimizer.step()
            if step % eval_every == 0:
                model.eval()
                with torch.no_grad():
                    history["train"].append(calc_loss_loader(train_loader, model, device, num_batches=3))
                    history["val"].append(calc_loss_loader(val_loader, model, device, num_batches=3))
                model.train()
                print(f"Ep {epoch + 1} (Step {step:06d}): Train loss {history['train'][-1]:.3f}, "
                      f"Val loss {history['val'][-1]:.3f}")
            step += 1
        print(f"Validation accuracy: {calc_accuracy_loader(val_loader, model, device) * 100:.2f}%")
    return history


torch.manual_seed(123)
optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.1)
start = time.time()
history = train_epochs(model, optimizer, 1 if SHORT_RUN else 3)
lora_minutes = (time.time() - start) / 60
plt.figure(figsize=(4, 3))
plt.plot(history["train"], label="train")
plt.plot(history["val"], label="validation")
plt.legend()
plt.title("LoRA fine-tuning loss")
plt.show()"""),
    ("md", "## Compared with full fine-tuning"),
    ("code", """\
full_model = GPTModel(GPT_SETTINGS)
full_model.load_state_dict(weights)
full_model.out_head = torch.nn.Linear(GPT_SETTINGS["emb_dim"], num_classes)
full_model.to(device)
start = time.time()
train_epochs(full_model, torch.optim.AdamW(full_model.parameters(), lr=5e-4, weight_decay=0.1), 1 if SHORT_RUN else 3)
full_minutes = (time.time() - start) / 60
rows = [("LoRA r=8", lora_params, lora_minutes, calc_accuracy_loader(test_loader, model, device)),
        ("full", sum(p.numel() for p in full_model.parameters()), full_minutes,
         calc_accuracy_loader(test_loader, full_model, device))]
for name, count, minutes, acc in rows:
    print(f"{name:>9}: {count:>10,} trainable parameters, {minutes:.2f} min, test accuracy {acc * 100:.2f}%")
plt.figure(figsize=(4, 3))
plt.bar([r[0] for r in rows], [r[3] for r in rows])
plt.title("test accuracy")
plt.show()"""),
]

VIC_README = """\
# Assignment 5C: LoRA

## How LoRA reduces trainable parameters

A frozen linear layer W gets a trainable low-rank update A B (A: in x rank, B: rank x out), so
each layer trains rank * (in + out) parameters instead of in * out; with rank 8 my model trains a
few percent of its parameters. B starts at zero, so nothing changes before training.

## Rank and alpha

Larger rank: more capacity, linearly more trainable parameters, slower per step. I scale by
alpha / rank (the repository's reading), so alpha sets the update's size independently of the
rank. Accuracy barely moved between ranks on this easy task.

## When to use LoRA rather than full fine-tuning

When GPU memory is limited (optimizer state only for the adapters), when storing one small
adapter per task matters, or when the data set is small. Full fine-tuning when the task is far
from pretraining and compute is available.

## Results

The notebook prints trainable parameters, training time (minutes) and test accuracy for LoRA and
for full fine-tuning. My approach: AdamW, learning rate 2e-3, weight decay 0.1, 3 epochs. The
challenge was the grader's run without my pretrained checkpoint.
"""


# ================================================================ one bug each

# student -> [(old, new)]: the correct notebook with ONE realistic bug.
BUGS = {
    # divides by the batches it meant to read times the batch size: wrong when the last batch is short
    "quinn-classification-nanogpt-batch-count": ("quinn-classification-nanogpt", [(
        "    return hits / seen\n", "    return hits / (n * data_loader.batch_size)\n")]),
    # keeps the END of a message longer than max_length instead of its start
    "rosa-classification-own-names-keeps-tail": ("rosa-classification-own-names", [(
        "encoded = [e[:max_length] for e in encoded]", "encoded = [e[-max_length:] for e in encoded]")]),
    # sums the per-message losses instead of averaging them
    "sami-classification-defensive-summed-loss": ("sami-classification-defensive", [(
        "    return torch.nn.functional.cross_entropy(logits, target_batch)\n",
        "    return torch.nn.functional.cross_entropy(logits, target_batch, reduction=\"sum\")\n")]),
    # forgets the alpha / rank scaling of the low-rank update
    "tara-lora-nanogpt-unscaled": ("tara-lora-nanogpt", [(
        "        return self.lora_B(self.lora_A(x)) * self.scaling\n",
        "        return self.lora_B(self.lora_A(x))\n")]),
    # scales by alpha a second time in the wrapper (the delta is already scaled)
    "uma-lora-own-names-scaled-twice": ("uma-lora-own-names", [(
        "        return self.frozen(x) + self.delta(x)",
        "        return self.frozen(x) + self.delta.alpha * self.delta(x)")]),
    # reads the rank from the wrong dimension of A (in_dim x rank)
    "vic-lora-defensive-rank-from-in-dim": ("vic-lora-defensive", [(
        "self.scaling = alpha / self.A.shape[1]  # rank, read from A so that the two always agree",
        "self.scaling = alpha / self.A.shape[0]  # rank, read from A so that the two always agree")]),
}


def nanogpt_checkpoint(**config):
    """prepare(workdir): the assignment-4 checkpoint quinn and tara load, their GPT (NANOGPT_MODEL) with random
    weights."""
    def prepare(workdir):
        import dataclasses

        import torch
        from torch import nn
        from torch.nn import functional as F

        space = {"dataclass": dataclasses.dataclass, "nn": nn, "F": F, "torch": torch}
        exec(NANOGPT_MODEL, space)  # noqa: S102 - this file's own model source
        torch.manual_seed(4)
        model = space["GPT"](space["GPTConfig"](**config))
        (workdir / "checkpoints").mkdir(exist_ok=True)
        torch.save(model.state_dict(), workdir / "checkpoints" / "a4_nanogpt.pt")
    return prepare


def defensive_checkpoint(workdir):
    """The assignment-4 checkpoint sami and vic load: their GPTModel with random weights."""
    import torch

    space = {}
    exec(DEFENSIVE_GPT, space)  # noqa: S102 - this file's own model source
    torch.manual_seed(4)
    model = space["GPTModel"]({"vocab_size": 50257, "context_length": 256, "emb_dim": 96, "n_heads": 4,
                               "n_layers": 3, "drop_rate": 0.1, "qkv_bias": True})
    (workdir / "pretrained").mkdir(exist_ok=True)
    torch.save(model.state_dict(), workdir / "pretrained" / "gpt_a4.pth")


def style(student, notebook, cells, readme, files=None, prepare=None):
    """A correct style sample; it runs on the synthetic spam set after `prepare` made its checkpoint."""
    return Sample("a5", student, notebook, cells, readme, files or {}, run=Run(spam=True, timeout=900, prepare=prepare))


STYLES = [
    style("quinn-classification-nanogpt", CLASSIFICATION, QUINN, QUINN_README,
          prepare=nanogpt_checkpoint(block_size=256, n_layer=2, n_head=4, n_embd=64, dropout=0.1)),
    style("rosa-classification-own-names", CLASSIFICATION, ROSA, ROSA_README),
    style("sami-classification-defensive", CLASSIFICATION, SAMI, SAMI_README, {"sami_gpt.py": DEFENSIVE_GPT},
          defensive_checkpoint),
    style("tara-lora-nanogpt", LORA, TARA, TARA_README,
          prepare=nanogpt_checkpoint(block_size=256, n_layer=2, n_head=4, n_embd=64)),
    style("uma-lora-own-names", LORA, UMA, UMA_README),
    style("vic-lora-defensive", LORA, VIC, VIC_README, {"lab_gpt.py": DEFENSIVE_GPT}, defensive_checkpoint),
]
BASES = {sample.student: sample for sample in STYLES}
SAMPLES = STYLES + [variant(BASES[base], student, replacements) for student, (base, replacements) in BUGS.items()]
