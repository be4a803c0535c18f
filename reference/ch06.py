"""Chapter 6: fine-tuning GPT to classify SMS messages as spam or not spam.

The book reads the SMS Spam Collection with pandas; here rows are plain `(label, text)`
pairs (or dicts with the book's `Label`/`Text` columns), files are read with the `csv`
module, and `make_synthetic_spam` stands in for the real data set, which is not shipped.
"""

import csv
import numbers
import random
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import Dataset

from reference.ch05 import mean_batch_loss

LABELS = {"ham": 0, "spam": 1}  # the book's `df["Label"].map({"ham": 0, "spam": 1})`


# ---------------------------------------------------------------- rows and files (6.2)

def _as_pair(row) -> tuple:
    """One row as (label, text), from a pair or a dict with Label/Text (or label/text) keys."""
    if isinstance(row, dict):
        return row["Label"] if "Label" in row else row["label"], row["Text"] if "Text" in row else row["text"]
    label, text = row
    return label, text


def as_rows(rows) -> list[tuple]:
    """A list of (label, text) pairs from pairs or dicts."""
    return [_as_pair(row) for row in rows]


def encode_label(label) -> int:
    """Class index of a label: "ham" -> 0, "spam" -> 1; integers and digit strings pass through."""
    if isinstance(label, bool) or not isinstance(label, (numbers.Integral, str)):
        raise TypeError(f"a label is 'ham', 'spam' or an integer class index, not {label!r}")
    if isinstance(label, numbers.Integral):
        return int(label)
    if label.strip().lower() in LABELS:
        return LABELS[label.strip().lower()]
    if label.strip().isdigit():
        return int(label)
    raise ValueError(f"unknown label {label!r}; expected 'ham', 'spam' or a class index")


def read_sms_tsv(path) -> list[tuple[str, str]]:
    """Rows of the SMS Spam Collection format: one `label<TAB>text` line per message, no header."""
    rows = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            if "\t" not in line:
                raise ValueError(f"{path}:{number}: expected 'label<TAB>text', got {line[:40]!r}")
            rows.append(tuple(line.split("\t", 1)))
    return rows


def write_sms_tsv(rows, path) -> Path:
    """Write (label, text) rows as `label<TAB>text` lines; texts may not hold tabs or newlines."""
    lines = []
    for label, text in as_rows(rows):
        if any(ch in str(text) for ch in "\t\r\n"):
            raise ValueError(f"text {text[:40]!r} holds a tab or newline, which the TSV format cannot store")
        lines.append(f"{label}\t{text}\n")
    Path(path).write_text("".join(lines), encoding="utf-8")
    return Path(path)


def read_csv(path) -> list[tuple[str, str]]:
    """Rows of a CSV file with the header `Label,Text`, as the book's `to_csv` writes them."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or not {"Label", "Text"} <= set(reader.fieldnames):
            raise ValueError(f"{path}: expected a header with columns Label and Text, got {reader.fieldnames}")
        return [(row["Label"], row["Text"]) for row in reader]


def write_csv(rows, path) -> Path:
    """Write (label, text) rows as a CSV file with the header `Label,Text` (the book's train.csv)."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["Label", "Text"])
        writer.writerows(as_rows(rows))
    return Path(path)


def create_balanced_dataset(df_or_rows, seed: int = 123) -> list[tuple]:
    """Undersample "ham" to the number of "spam" rows: the sampled ham rows, then all spam rows (6.2)."""
    rows = as_rows(df_or_rows)
    spam = [row for row in rows if encode_label(row[0]) == 1]
    ham = [row for row in rows if encode_label(row[0]) == 0]
    if len(ham) < len(spam):
        raise ValueError(f"cannot undersample: {len(ham)} ham rows but {len(spam)} spam rows")
    return random.Random(seed).sample(ham, len(spam)) + spam


def random_split(rows, train_frac: float, validation_frac: float, seed: int = 123):
    """Shuffle, then cut into (train, validation, test); test gets the rest (6.2)."""
    rows = as_rows(rows)
    random.Random(seed).shuffle(rows)
    train_end = int(len(rows) * train_frac)
    validation_end = train_end + int(len(rows) * validation_frac)
    return rows[:train_end], rows[train_end:validation_end], rows[validation_end:]


# ---------------------------------------------------------------- synthetic data

_HAM_OPENERS = ["hey", "hi", "ok", "sorry", "yeah", "lol", "morning", "thanks"]
_HAM_PHRASES = [
    "are you coming to lunch", "i will be home late tonight", "see you at the station",
    "can you pick up some milk", "running a bit late", "call me when you wake up",
    "did you finish the homework", "lets watch a movie later", "the meeting moved to three",
    "happy birthday to your mum", "where did you park the car", "i left my keys at work",
]
_SPAM_OPENERS = ["WINNER!!", "URGENT!", "FREE entry", "Congratulations!", "Final notice:", "SIX chances"]
_SPAM_PHRASES = [
    "you have won a 1000 cash prize", "claim your free ringtone now", "txt WIN to 80086 to claim",
    "your mobile is selected for a bonus", "call 09061701461 to collect your reward",
    "guaranteed 2000 award reply YES", "win a brand new phone today", "unsubscribe text STOP to 87239",
]


def make_synthetic_spam(num_rows: int = 200, spam_frac: float = 0.25, seed: int = 123) -> list[tuple[str, str]]:
    """A small, imbalanced, deterministic stand-in for the SMS Spam Collection: (label, text) rows."""
    rng = random.Random(seed)
    num_spam = round(num_rows * spam_frac)
    labels = ["spam"] * num_spam + ["ham"] * (num_rows - num_spam)
    rng.shuffle(labels)
    rows = []
    for label in labels:
        openers, phrases = (_SPAM_OPENERS, _SPAM_PHRASES) if label == "spam" else (_HAM_OPENERS, _HAM_PHRASES)
        rows.append((label, " ".join([rng.choice(openers), *rng.sample(phrases, rng.randint(1, 2))])))
    return rows


def write_synthetic_spam_tsv(path, num_rows: int = 200, spam_frac: float = 0.25, seed: int = 123) -> Path:
    """Write `make_synthetic_spam(...)` to `path` in the SMS Spam Collection's TSV format."""
    return write_sms_tsv(make_synthetic_spam(num_rows, spam_frac, seed), path)


# ---------------------------------------------------------------- dataset (6.3)

class SpamDataset(Dataset):
    """Token ids of each message, truncated or padded to one length, with its class index (6.3)."""

    def __init__(self, csv_file, tokenizer, max_length=None, pad_token_id: int = 50256):
        rows = read_csv(csv_file) if isinstance(csv_file, (str, Path)) else as_rows(csv_file)
        self.data = rows
        self.labels = [encode_label(label) for label, _ in rows]
        self.encoded_texts = [tokenizer.encode(text) for _, text in rows]
        if max_length is None:
            self.max_length = self._longest_encoded_length()
        else:
            self.max_length = max_length
            self.encoded_texts = [ids[:max_length] for ids in self.encoded_texts]
        self.encoded_texts = [ids + [pad_token_id] * (self.max_length - len(ids)) for ids in self.encoded_texts]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        ids = torch.tensor(self.encoded_texts[index], dtype=torch.long)  # (max_length,)
        return ids, torch.tensor(self.labels[index], dtype=torch.long)

    def __len__(self) -> int:
        return len(self.data)

    def _longest_encoded_length(self) -> int:
        return max((len(ids) for ids in self.encoded_texts), default=0)


# ---------------------------------------------------------------- model surgery (6.5)

def replace_head_for_classification(model: nn.Module, num_classes: int = 2, emb_dim=None) -> nn.Module:
    """Swap the vocabulary head for a trainable `nn.Linear(emb_dim, num_classes)` (6.5)."""
    emb_dim = emb_dim or model.out_head.in_features
    model.out_head = nn.Linear(in_features=emb_dim, out_features=num_classes)
    return model


def freeze_for_classification(model: nn.Module) -> nn.Module:
    """The book's strategy: freeze everything, then train out_head, the last block and final_norm (6.5)."""
    for param in model.parameters():
        param.requires_grad = False
    for module in (model.out_head, model.trf_blocks[-1], model.final_norm):
        for param in module.parameters():
            param.requires_grad = True
    return model


def unfreeze_all(model: nn.Module) -> nn.Module:
    """Make every parameter trainable, for full fine-tuning."""
    for param in model.parameters():
        param.requires_grad = True
    return model


# ---------------------------------------------------------------- loss and accuracy (6.6)

def calc_loss_batch(input_batch, target_batch, model, device) -> torch.Tensor:
    """Cross-entropy of the last token's logits against the class labels (6.6)."""
    logits = model(input_batch.to(device))[:, -1, :]  # (B, num_classes)
    return nn.functional.cross_entropy(logits, target_batch.to(device))


def _batches_to_use(data_loader, num_batches) -> int:
    return len(data_loader) if num_batches is None else min(num_batches, len(data_loader))


def calc_loss_loader(data_loader, model, device, num_batches=None) -> float:
    """Mean of calc_loss_batch over the first `num_batches` batches; nan for an empty loader (6.6)."""
    return mean_batch_loss(data_loader, lambda x, y: calc_loss_batch(x, y, model, device), num_batches)


def calc_accuracy_loader(data_loader, model, device, num_batches=None) -> float:
    """Share of examples whose last-token argmax equals the label, in eval mode (6.6)."""
    model.eval()
    num_batches = _batches_to_use(data_loader, num_batches)
    correct, num_examples = 0, 0
    for i, (input_batch, target_batch) in enumerate(data_loader):
        if i >= num_batches:
            break
        with torch.no_grad():
            logits = model(input_batch.to(device))[:, -1, :]  # (B, num_classes)
        predicted_labels = torch.argmax(logits, dim=-1)
        num_examples += predicted_labels.shape[0]
        correct += (predicted_labels == target_batch.to(device)).sum().item()
    return correct / num_examples


def evaluate_model(model, train_loader, val_loader, device, eval_iter) -> tuple[float, float]:
    """Train and validation loss over `eval_iter` batches, without gradients; leaves train mode on (6.7)."""
    model.eval()
    with torch.no_grad():
        train_loss = calc_loss_loader(train_loader, model, device, num_batches=eval_iter)
        val_loss = calc_loss_loader(val_loader, model, device, num_batches=eval_iter)
    model.train()
    return train_loss, val_loss


# ---------------------------------------------------------------- training (6.7)

def train_classifier_simple(model, train_loader, val_loader, optimizer, device, num_epochs, eval_freq, eval_iter):
    """The book's loop: losses every `eval_freq` steps, accuracies after each epoch (6.7).

    Returns (train_losses, val_losses, train_accs, val_accs, examples_seen).
    """
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
    return train_losses, val_losses, train_accs, val_accs, examples_seen


# ---------------------------------------------------------------- using the classifier (6.8)

def classify_review(text, model, tokenizer, device, max_length=None, pad_token_id: int = 50256) -> str:
    """Classify one message as "spam" or "not spam": truncate, pad, argmax of the last token's logits (6.8).

    The ids are cut to min(max_length, context_length) and padded to that length;
    `max_length=None` means the model's context length.
    """
    model.eval()
    context_length = model.pos_emb.weight.shape[0]
    length = context_length if max_length is None else min(max_length, context_length)
    input_ids = tokenizer.encode(text)[:length]
    input_ids += [pad_token_id] * (length - len(input_ids))
    input_tensor = torch.tensor(input_ids, device=device).unsqueeze(0)  # (1, length)
    with torch.no_grad():
        logits = model(input_tensor)[:, -1, :]  # (1, num_classes)
    return "spam" if torch.argmax(logits, dim=-1).item() == 1 else "not spam"


# ---------------------------------------------------------------- metrics (assignment 5A)

def predict_labels(data_loader, model, device) -> tuple[list[int], list[int]]:
    """(y_true, y_pred) over a whole loader, predicting the last token's argmax."""
    model.eval()
    y_true, y_pred = [], []
    with torch.no_grad():
        for input_batch, target_batch in data_loader:
            logits = model(input_batch.to(device))[:, -1, :]  # (B, num_classes)
            y_pred += torch.argmax(logits, dim=-1).tolist()
            y_true += target_batch.tolist()
    return y_true, y_pred


def _check_same_length(y_true, y_pred) -> None:
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} labels but y_pred has {len(y_pred)}")


def precision_recall_f1(y_true, y_pred, positive: int = 1) -> tuple[float, float, float]:
    """Precision, recall and F1 of the `positive` class; 0.0 where a denominator is 0."""
    _check_same_length(y_true, y_pred)
    pairs = list(zip(y_true, y_pred))
    tp = sum(t == positive and p == positive for t, p in pairs)
    fp = sum(t != positive and p == positive for t, p in pairs)
    fn = sum(t == positive and p != positive for t, p in pairs)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def confusion_matrix(y_true, y_pred, num_classes: int = 2) -> list[list[int]]:
    """Counts with rows = true class and columns = predicted class (sklearn's layout)."""
    _check_same_length(y_true, y_pred)
    matrix = [[0] * num_classes for _ in range(num_classes)]
    for t, p in zip(y_true, y_pred):
        if not (0 <= t < num_classes and 0 <= p < num_classes):
            raise ValueError(f"label pair ({t}, {p}) is outside 0..{num_classes - 1}")
        matrix[t][p] += 1
    return matrix
