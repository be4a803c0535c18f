"""a5 options A (classification, chapter 6) and C (LoRA, appendix E): Ada's and Lena's book-style notebooks,
one-bug copies, Noor's and Omar's with their own names (Omar also scales LoRA by alpha, the printed book's
reading), and Kai's, correct but with a training cell that ignores LLM_GRADER and runs for hours (executed short,
saved with his long source). Each hands in previous_chapters.py, its GPT from assignment 3. The notebooks run
as a student would (no LLM_GRADER): without GPT-2 weights offline they fall back to a small random GPT, and a
synthetic SMS spam set stands in for the real one (the book's download cell finds it)."""

from .core import Run, Sample, own_names, variant, with_bug, word_renames
from .snippets import EVALUATE_MODEL, PREVIOUS_CHAPTERS_GPT

CLASSIFICATION, LORA = "assignment5_classification.ipynb", "assignment5_lora.ipynb"
RUN = Run(spam=True, timeout=600)
PREVIOUS = {"previous_chapters.py": PREVIOUS_CHAPTERS_GPT}

# ---------------------------------------------------------------- cells both options share

SETUP = [
    ("code", """\
import csv
import math
import os
import random
import time
import urllib.request
import zipfile
from pathlib import Path

import matplotlib.pyplot as plt
import tiktoken
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from previous_chapters import GPTModel  # my chapter 4 model from assignment 3

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
QUICK = os.environ.get("LLM_GRADER") == "1"  # the autograder sets this: keep the heavy cells short
print("torch", torch.__version__, "| device:", device, "| quick mode:", QUICK)"""),
    ("md", """\
## The SMS spam data set (section 6.2)

The download cell is the book's: it skips the download when the file is already there. The file
has one `label<TAB>text` line per message. There are far more "ham" than "spam" messages, so
I undersample "ham" to get a balanced set, then split it 70 / 10 / 20 into training, validation
and test sets, and save each as a CSV file with the columns `Label` (0 = ham, 1 = spam) and `Text`."""),
    ("code", """\
url = "https://archive.ics.uci.edu/static/public/228/sms+spam+collection.zip"
zip_path = Path("sms_spam_collection.zip")
extracted_path = Path("sms_spam_collection")
data_file_path = extracted_path / "SMSSpamCollection.tsv"


def download_and_unzip_spam_data(url, zip_path, extracted_path, data_file_path):
    if data_file_path.exists():
        print(f"{data_file_path} already exists. Skipping download and extraction.")
        return
    with urllib.request.urlopen(url) as response, open(zip_path, "wb") as out_file:
        out_file.write(response.read())
    with zipfile.ZipFile(zip_path, "r") as zip_ref:
        zip_ref.extractall(extracted_path)
    os.rename(extracted_path / "SMSSpamCollection", data_file_path)
    print(f"File downloaded and saved as {data_file_path}")


download_and_unzip_spam_data(url, zip_path, extracted_path, data_file_path)

with open(data_file_path, encoding="utf-8") as f:
    rows = [line.rstrip("\\n").split("\\t", 1) for line in f if line.strip()]
counts = {label: sum(r[0] == label for r in rows) for label in ("ham", "spam")}
print(len(rows), "messages:", counts)"""),
    ("code", """\
def create_balanced_dataset(rows, seed=123):
    \"\"\"Undersample 'ham' to as many messages as there are 'spam' messages.\"\"\"
    spam = [r for r in rows if r[0] == "spam"]
    ham = [r for r in rows if r[0] == "ham"]
    return random.Random(seed).sample(ham, len(spam)) + spam


def random_split(rows, train_frac, validation_frac, seed=123):
    \"\"\"Shuffle, then cut into training, validation and test parts (the rest).\"\"\"
    rows = list(rows)
    random.Random(seed).shuffle(rows)
    train_end = int(len(rows) * train_frac)
    validation_end = train_end + int(len(rows) * validation_frac)
    return rows[:train_end], rows[train_end:validation_end], rows[validation_end:]


def write_csv(rows, path):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["Label", "Text"])
        writer.writerows(rows)


label_ids = {"ham": 0, "spam": 1}
balanced = [(label_ids[label], text) for label, text in create_balanced_dataset(rows)]
train_rows, validation_rows, test_rows = random_split(balanced, 0.7, 0.1)
for name, part in [("train.csv", train_rows), ("validation.csv", validation_rows), ("test.csv", test_rows)]:
    write_csv(part, name)
    print(f"{name}: {len(part)} messages")"""),
    ("md", """\
## Data loaders (section 6.3)

Messages have different lengths, but a batch must be one tensor. `SpamDataset` pads every
message with the `<|endoftext|>` token (id 50256) to the longest training message; the
validation and test sets reuse that length and cut longer messages."""),
    ("code", """\
class SpamDataset(Dataset):
    \"\"\"Token ids of every message, padded (or cut) to one length, with the 0/1 label.\"\"\"

    def __init__(self, csv_file, tokenizer, max_length=None, pad_token_id=50256):
        with open(csv_file, newline="", encoding="utf-8") as f:
            self.data = list(csv.DictReader(f))
        self.encoded_texts = [tokenizer.encode(row["Text"]) for row in self.data]
        if max_length is None:
            self.max_length = self._longest_encoded_length()
        else:
            self.max_length = max_length
            # messages longer than max_length keep their first max_length tokens
            self.encoded_texts = [ids[:self.max_length] for ids in self.encoded_texts]
        # pad with <|endoftext|> so that every message has max_length tokens
        self.encoded_texts = [ids + [pad_token_id] * (self.max_length - len(ids)) for ids in self.encoded_texts]

    def __getitem__(self, index):
        label = int(self.data[index]["Label"])
        return torch.tensor(self.encoded_texts[index], dtype=torch.long), torch.tensor(label, dtype=torch.long)

    def __len__(self):
        return len(self.data)

    def _longest_encoded_length(self):
        return max(len(ids) for ids in self.encoded_texts)


tokenizer = tiktoken.get_encoding("gpt2")
print("<|endoftext|> is", tokenizer.encode("<|endoftext|>", allowed_special={"<|endoftext|>"}))

train_dataset = SpamDataset("train.csv", tokenizer, max_length=None)
val_dataset = SpamDataset("validation.csv", tokenizer, max_length=train_dataset.max_length)
test_dataset = SpamDataset("test.csv", tokenizer, max_length=train_dataset.max_length)
print("longest training message:", train_dataset.max_length, "tokens")

batch_size = 8
torch.manual_seed(123)
train_loader = DataLoader(train_dataset, batch_size=batch_size, shuffle=True, num_workers=0, drop_last=True)
val_loader = DataLoader(val_dataset, batch_size=batch_size, shuffle=False, num_workers=0, drop_last=False)
test_loader = DataLoader(test_dataset, batch_size=batch_size, shuffle=False, num_workers=0, drop_last=False)
print(f"{len(train_loader)} training, {len(val_loader)} validation, {len(test_loader)} test batches")
input_batch, target_batch = next(iter(train_loader))
print("one batch:", tuple(input_batch.shape), "labels", target_batch.tolist())"""),
    ("md", """\
## The pretrained model (section 6.4)

I converted the GPT-2 small (124M) weights once with the book's `gpt_download.py` and
`load_weights_into_gpt`, and saved them as `gpt2-small-124M.pth` (500 MB, so not in this
folder). Without that file, or when the autograder runs the notebook (`LLM_GRADER=1`), a small
randomly initialised GPT with the same structure stands in, so every cell below still runs;
its numbers then say nothing about GPT-2, only that the pipeline works."""),
    ("code", """\
BASE_CONFIG = {"vocab_size": 50257, "context_length": 1024, "drop_rate": 0.0, "qkv_bias": True,
               "emb_dim": 768, "n_layers": 12, "n_heads": 12}  # gpt2-small (124M)
WEIGHTS = Path("gpt2-small-124M.pth")
PRETRAINED = not QUICK and WEIGHTS.exists()
if not PRETRAINED:
    BASE_CONFIG.update({"emb_dim": 64, "n_layers": 2, "n_heads": 4, "context_length": 128})
assert train_dataset.max_length <= BASE_CONFIG["context_length"], "messages longer than the context"


def build_model():
    \"\"\"GPT-2 small with the pretrained weights, or the small stand-in (same structure).\"\"\"
    torch.manual_seed(123)
    gpt = GPTModel(BASE_CONFIG)
    if PRETRAINED:
        gpt.load_state_dict(torch.load(WEIGHTS, map_location="cpu", weights_only=True))
    return gpt.eval()


model = build_model()
print("pretrained GPT-2 small" if PRETRAINED else "small random GPT (no pretrained weights here)",
      f"with {sum(p.numel() for p in model.parameters()):,} parameters")"""),
]

FUNCTIONS = [
    ("md", """\
## Loss and accuracy (section 6.6)

The causal mask lets only the **last** token attend to every token of the message, so its
output row is the one used for classification: `logits[:, -1, :]` has one logit per class.
`class_logits` is that choice in one place; the loss is the cross-entropy of those logits
against the labels, and the accuracy counts how often their argmax is the label."""),
    ("code", """\
def class_logits(model, input_batch):
    \"\"\"The logits that classify each message: those of its last token.\"\"\"
    return model(input_batch)[:, -1, :]  # (batch, num_classes)


def calc_accuracy_loader(data_loader, model, device, num_batches=None):
    model.eval()
    correct_predictions, num_examples = 0, 0
    num_batches = len(data_loader) if num_batches is None else min(num_batches, len(data_loader))
    for i, (input_batch, target_batch) in enumerate(data_loader):
        if i >= num_batches:
            break
        input_batch, target_batch = input_batch.to(device), target_batch.to(device)
        with torch.no_grad():
            predicted_labels = torch.argmax(class_logits(model, input_batch), dim=-1)
        num_examples += predicted_labels.shape[0]
        correct_predictions += (predicted_labels == target_batch).sum().item()
    return correct_predictions / num_examples


def calc_loss_batch(input_batch, target_batch, model, device):
    input_batch, target_batch = input_batch.to(device), target_batch.to(device)
    return torch.nn.functional.cross_entropy(class_logits(model, input_batch), target_batch)


def calc_loss_loader(data_loader, model, device, num_batches=None):
    if len(data_loader) == 0:
        return float("nan")
    num_batches = len(data_loader) if num_batches is None else min(num_batches, len(data_loader))
    total_loss = 0.0
    for i, (input_batch, target_batch) in enumerate(data_loader):
        if i >= num_batches:
            break
        total_loss += calc_loss_batch(input_batch, target_batch, model, device).item()
    return total_loss / num_batches"""),
    ("md", """\
## Training loop (section 6.7)

The loop of chapter 5 with two changes: it counts examples instead of tokens, and it measures
the accuracy on a few batches after every epoch instead of printing generated text."""),
    ("code", EVALUATE_MODEL + """


def train_classifier_simple(model, train_loader, val_loader, optimizer, device, num_epochs, eval_freq, eval_iter):
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
        train_accuracy = calc_accuracy_loader(train_loader, model, device, num_batches=eval_iter)
        val_accuracy = calc_accuracy_loader(val_loader, model, device, num_batches=eval_iter)
        print(f"Training accuracy: {train_accuracy * 100:.2f}% | Validation accuracy: {val_accuracy * 100:.2f}%")
        train_accs.append(train_accuracy)
        val_accs.append(val_accuracy)
    return train_losses, val_losses, train_accs, val_accs, examples_seen


def plot_values(epochs_seen, examples_seen, train_values, val_values, label="loss"):
    \"\"\"Training and validation curves over epochs, with examples seen on a second x axis.\"\"\"
    fig, ax1 = plt.subplots(figsize=(5, 3))
    ax1.plot(epochs_seen, train_values, label=f"Training {label}")
    ax1.plot(epochs_seen, val_values, linestyle="-.", label=f"Validation {label}")
    ax1.set_xlabel("Epochs")
    ax1.set_ylabel(label.capitalize())
    ax1.legend()
    ax2 = ax1.twiny()
    ax2.plot(examples_seen, train_values, alpha=0)  # invisible: only sets the second axis' ticks
    ax2.set_xlabel("Examples seen")
    fig.tight_layout()
    plt.show()


def plot_run(results, num_epochs):
    train_losses, val_losses, train_accs, val_accs, examples_seen = results
    epochs = torch.linspace(0, num_epochs, len(train_losses))
    plot_values(epochs, torch.linspace(0, examples_seen, len(train_losses)), train_losses, val_losses)
    epochs = torch.linspace(0, num_epochs, len(train_accs))
    plot_values(epochs, torch.linspace(0, examples_seen, len(train_accs)), train_accs, val_accs, label="accuracy")"""),
]

EVALUATION = [
    ("md", """\
## Evaluation (section 6.7 and the assignment's metrics)

Accuracy on the full training, validation and test sets, then a confusion matrix, precision,
recall and F1 for the "spam" class on the test set, and the test messages the model gets wrong."""),
    ("code", """\
def predict_all(data_loader, model, device):
    model.eval()
    y_true, y_pred = [], []
    with torch.no_grad():
        for input_batch, target_batch in data_loader:
            y_pred += torch.argmax(class_logits(model, input_batch.to(device)), dim=-1).tolist()
            y_true += target_batch.tolist()
    return y_true, y_pred


def confusion_and_scores(y_true, y_pred):
    \"\"\"2 x 2 confusion matrix (rows: true ham/spam, columns: predicted), precision, recall and F1 of spam.\"\"\"
    matrix = [[sum(t == i and p == j for t, p in zip(y_true, y_pred)) for j in (0, 1)] for i in (0, 1)]
    tp, fp, fn = matrix[1][1], matrix[0][1], matrix[1][0]
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return matrix, precision, recall, f1


for name, loader in [("Training", train_loader), ("Validation", val_loader), ("Test", test_loader)]:
    print(f"{name} accuracy: {calc_accuracy_loader(loader, model, device) * 100:.2f}%")

y_true, y_pred = predict_all(test_loader, model, device)
matrix, precision, recall, f1 = confusion_and_scores(y_true, y_pred)
print("confusion matrix (rows true ham/spam, columns predicted):", matrix)
print(f"spam precision {precision:.3f}, recall {recall:.3f}, F1 {f1:.3f}")
wrong = [(row[1], "spam" if p == 1 else "ham") for row, t, p in zip(test_rows, y_true, y_pred) if t != p]
print(f"{len(wrong)} misclassified test messages")
for text, predicted in wrong[:5]:
    print(f"  predicted {predicted}: {text[:70]}")"""),
    ("md", """\
## Classifying new messages (section 6.8)

`classify_review` encodes a text, cuts it to `max_length` (at most the context length), pads
it like the training data, and reads the last token's prediction."""),
    ("code", """\
def classify_review(text, model, tokenizer, device, max_length=None, pad_token_id=50256):
    model.eval()
    input_ids = tokenizer.encode(text)
    supported_context_length = model.pos_emb.weight.shape[0]
    max_length = supported_context_length if max_length is None else min(max_length, supported_context_length)
    input_ids = input_ids[:max_length]
    input_ids += [pad_token_id] * (max_length - len(input_ids))
    input_tensor = torch.tensor(input_ids, device=device).unsqueeze(0)  # (1, max_length)
    with torch.no_grad():
        predicted_label = torch.argmax(class_logits(model, input_tensor), dim=-1).item()
    return "spam" if predicted_label == 1 else "not spam"


for text in ["You are a winner you have been specially selected to receive $1000 cash or a $2000 award.",
             "Hey, just wanted to check if we're still on for dinner tonight? Let me know!"]:
    print(classify_review(text, model, tokenizer, device, max_length=train_dataset.max_length), "<-", text)"""),
]

# ---------------------------------------------------------------- option A: classification

CLASSIFICATION_CELLS = [
    ("md", """\
# Assignment 5, option A: classification fine-tuning (chapter 6)

I fine-tune a GPT model to tell spam SMS messages from normal ones ("ham"): prepare the data
set, replace the language-model head with a two-class head, freeze most of the network, train
with the last token's logits, and evaluate with accuracy, a confusion matrix and F1. At the end
I compare the book's partial fine-tuning with full fine-tuning (exercise 6.2) and try padding
every message to the full context length (exercise 6.1)."""),
    *SETUP,
    ("md", """\
## A classification head and what to train (section 6.5)

The vocabulary head (768 -> 50257) is replaced with a new `nn.Linear(emb_dim, 2)`. I freeze the
whole pretrained model first, so that only the parts I switch back on are trained: the new head
(a fresh layer is trainable), the last transformer block and the final LayerNorm, as in the
book. Training more layers helps little on this easy task and costs much more."""),
    ("code", """\
for param in model.parameters():  # freeze the pretrained model ...
    param.requires_grad = False

torch.manual_seed(123)
num_classes = 2
model.out_head = nn.Linear(in_features=BASE_CONFIG["emb_dim"], out_features=num_classes)  # new head

for param in model.trf_blocks[-1].parameters():  # ... except the last block
    param.requires_grad = True
for param in model.final_norm.parameters():  # ... and the final LayerNorm
    param.requires_grad = True

trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
print(f"trainable parameters: {trainable:,} of {sum(p.numel() for p in model.parameters()):,}")

inputs = torch.tensor(tokenizer.encode("Do you have time")).unsqueeze(0)
with torch.no_grad():
    outputs = model(inputs)
print("outputs:", tuple(outputs.shape), "(batch, tokens, num_classes); last token:", outputs[:, -1, :])"""),
    *FUNCTIONS,
    ("code", """\
model.to(device)
torch.manual_seed(123)
print(f"before training: train accuracy {calc_accuracy_loader(train_loader, model, device, num_batches=10) * \
100:.1f}%, "
      f"val accuracy {calc_accuracy_loader(val_loader, model, device, num_batches=10) * 100:.1f}%")
with torch.no_grad():
    print(f"before training: train loss {calc_loss_loader(train_loader, model, device, num_batches=5):.3f}, "
          f"val loss {calc_loss_loader(val_loader, model, device, num_batches=5):.3f}")"""),
    ("code", """\
start_time = time.time()
torch.manual_seed(123)
optimizer = torch.optim.AdamW(model.parameters(), lr=5e-5 if PRETRAINED else 1e-3, weight_decay=0.1)
num_epochs = 2 if QUICK else 5
results = train_classifier_simple(model, train_loader, val_loader, optimizer, device, num_epochs=num_epochs,
                                  eval_freq=5, eval_iter=5)
partial_minutes = (time.time() - start_time) / 60
print(f"Training completed in {partial_minutes:.2f} minutes.")"""),
    ("code", """\
plot_run(results, num_epochs)"""),
    *EVALUATION,
    ("code", """\
torch.save(model.state_dict(), "review_classifier.pth")"""),
    ("md", """\
## Exercise 6.2: full fine-tuning versus the book's partial fine-tuning

The same recipe, but every parameter stays trainable. I compare trainable parameters, training
time and test accuracy with the partially frozen model above."""),
    ("code", """\
full_model = build_model()
full_model.out_head = nn.Linear(BASE_CONFIG["emb_dim"], num_classes)  # everything stays trainable
full_model.to(device)
torch.manual_seed(123)
full_optimizer = torch.optim.AdamW(full_model.parameters(), lr=5e-5 if PRETRAINED else 1e-3, weight_decay=0.1)
start_time = time.time()
full_results = train_classifier_simple(full_model, train_loader, val_loader, full_optimizer, device,
                                       num_epochs=2 if QUICK else 5, eval_freq=5, eval_iter=5)
full_minutes = (time.time() - start_time) / 60
for name, m, minutes in [("partial (book)", model, partial_minutes), ("full", full_model, full_minutes)]:
    count = sum(p.numel() for p in m.parameters() if p.requires_grad)
    print(f"{name:>15}: {count:>11,} trainable, {minutes:.2f} min, "
          f"test accuracy {calc_accuracy_loader(test_loader, m, device) * 100:.2f}%")"""),
    ("md", """\
## Exercise 6.1: padding to the full context length

Instead of the longest training message, every message is padded to the model's context length.
The last token is then almost always padding, so the model must carry the message's content to
the end through attention alone."""),
    ("code", """\
long_train = SpamDataset("train.csv", tokenizer, max_length=BASE_CONFIG["context_length"])
long_test = SpamDataset("test.csv", tokenizer, max_length=BASE_CONFIG["context_length"])
torch.manual_seed(123)
long_train_loader = DataLoader(long_train, batch_size=batch_size, shuffle=True, drop_last=True)
long_test_loader = DataLoader(long_test, batch_size=batch_size)
long_model = build_model()
for param in long_model.parameters():
    param.requires_grad = False
long_model.out_head = nn.Linear(BASE_CONFIG["emb_dim"], num_classes)
for module in (long_model.trf_blocks[-1], long_model.final_norm):
    for param in module.parameters():
        param.requires_grad = True
long_model.to(device)
long_optimizer = torch.optim.AdamW(long_model.parameters(), lr=5e-5 if PRETRAINED else 1e-3, weight_decay=0.1)
train_classifier_simple(long_model, long_train_loader, long_test_loader, long_optimizer, device,
                        num_epochs=1 if QUICK else 3, eval_freq=5, eval_iter=2)
print(f"padded to {long_train.max_length} tokens: test accuracy "
      f"{calc_accuracy_loader(long_test_loader, long_model, device) * 100:.2f}% "
      f"(longest-message padding: {calc_accuracy_loader(test_loader, model, device) * 100:.2f}%)")"""),
]

# ---------------------------------------------------------------- option C: LoRA

LORA_CELLS = [
    ("md", """\
# Assignment 5, option C: parameter-efficient fine-tuning with LoRA (appendix E)

I add low-rank adapters (LoRA) to every linear layer of a GPT model, freeze everything else,
and fine-tune it on the SMS spam classification task of chapter 6. Then I compare trainable
parameters, time and accuracy with full fine-tuning, and try several ranks."""),
    *SETUP,
    ("md", """\
## The classification head (section 6.5, appendix E.3)

As in chapter 6 the vocabulary head is replaced with a two-class head; the model is otherwise
unchanged. LoRA decides below which weights are trained."""),
    ("code", """\
torch.manual_seed(123)
num_classes = 2
model.out_head = nn.Linear(in_features=BASE_CONFIG["emb_dim"], out_features=num_classes)
total_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
print(f"trainable parameters before LoRA: {total_params:,}")"""),
    *FUNCTIONS,
    ("md", """\
## LoRA layers (appendix E.4)

A LoRA layer learns a low-rank update `x @ A @ B` of shape in_dim x out_dim from two small
matrices, A (in_dim x rank) and B (rank x out_dim). A starts random (Kaiming, as nn.Linear's
weights) and B starts at zero, so the adapted model starts out exactly as the pretrained one.
The update is scaled by alpha / rank (the book's repository; the printed book uses alpha), so
that a larger rank does not by itself make the update larger."""),
    ("code", """\
class LoRALayer(nn.Module):
    def __init__(self, in_dim, out_dim, rank, alpha):
        super().__init__()
        self.A = nn.Parameter(torch.empty(in_dim, rank))
        nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))  # like nn.Linear's weights
        self.B = nn.Parameter(torch.zeros(rank, out_dim))  # zero: training starts from the pretrained model
        self.rank = rank
        self.alpha = alpha

    def forward(self, x):
        # (..., in_dim) @ (in_dim, rank) @ (rank, out_dim) -> (..., out_dim)
        return (self.alpha / self.rank) * (x @ self.A @ self.B)


class LinearWithLoRA(nn.Module):
    \"\"\"A frozen linear layer plus a trainable low-rank update: linear(x) + lora(x).\"\"\"

    def __init__(self, linear, rank, alpha):
        super().__init__()
        self.linear = linear
        self.lora = LoRALayer(linear.in_features, linear.out_features, rank, alpha)

    def forward(self, x):
        return self.linear(x) + self.lora(x)


def replace_linear_with_lora(model, rank, alpha):
    \"\"\"Wrap every nn.Linear of the model, at any depth, in LinearWithLoRA (in place).\"\"\"
    for name, module in model.named_children():
        if isinstance(module, nn.Linear):
            setattr(model, name, LinearWithLoRA(module, rank, alpha))
        else:
            replace_linear_with_lora(module, rank, alpha)  # recurse into blocks, attention, feed-forward"""),
    ("code", """\
layer = nn.Linear(6, 4)
wrapped = LinearWithLoRA(layer, rank=2, alpha=4)
x = torch.randn(3, 6)
print("starts equal to the linear layer:", torch.allclose(wrapped(x), layer(x)))"""),
    ("code", """\
for param in model.parameters():  # freeze every pretrained weight first ...
    param.requires_grad = False
replace_linear_with_lora(model, rank=16, alpha=16)  # ... then add trainable LoRA layers
lora_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
print(f"trainable parameters after LoRA: {lora_params:,} ({lora_params / total_params:.1%} of {total_params:,})")
model.to(device)
print(model.trf_blocks[0].att)"""),
    ("code", """\
torch.manual_seed(123)
print(f"before training: train accuracy {calc_accuracy_loader(train_loader, model, device, num_batches=10) * \
100:.1f}%, "
      f"val accuracy {calc_accuracy_loader(val_loader, model, device, num_batches=10) * 100:.1f}%")"""),
    ("md", """\
## Fine-tuning with LoRA (appendix E.4)

The optimizer gets all parameters; only the LoRA matrices have gradients, so only they change."""),
    ("code", """\
start_time = time.time()
torch.manual_seed(123)
optimizer = torch.optim.AdamW(model.parameters(), lr=5e-5 if PRETRAINED else 1e-3, weight_decay=0.1)
num_epochs = 2 if QUICK else 5
results = train_classifier_simple(model, train_loader, val_loader, optimizer, device, num_epochs=num_epochs,
                                  eval_freq=5, eval_iter=5)
lora_minutes = (time.time() - start_time) / 60
print(f"Training completed in {lora_minutes:.2f} minutes.")"""),
    ("code", """\
plot_run(results, num_epochs)"""),
    *EVALUATION,
    ("md", """\
## LoRA versus full fine-tuning

Full fine-tuning of the same model (every weight trainable, no LoRA) with the same data and
epochs. On the small stand-in model the times are tiny; on GPT-2 small the LoRA run needed
about a third less time per epoch and far less optimizer memory."""),
    ("code", """\
full_model = build_model()
full_model.out_head = nn.Linear(BASE_CONFIG["emb_dim"], num_classes)
full_model.to(device)
torch.manual_seed(123)
full_optimizer = torch.optim.AdamW(full_model.parameters(), lr=5e-5 if PRETRAINED else 1e-3, weight_decay=0.1)
start_time = time.time()
train_classifier_simple(full_model, train_loader, val_loader, full_optimizer, device,
                        num_epochs=num_epochs, eval_freq=5, eval_iter=5)
full_minutes = (time.time() - start_time) / 60
for name, m, minutes in [("LoRA r=16", model, lora_minutes), ("full", full_model, full_minutes)]:
    count = sum(p.numel() for p in m.parameters() if p.requires_grad)
    print(f"{name:>10}: {count:>11,} trainable, {minutes:.2f} min, "
          f"test accuracy {calc_accuracy_loader(test_loader, m, device) * 100:.2f}%")"""),
    ("md", """\
## Different ranks

One short run per rank (alpha = rank, so the scale is 1): trainable parameters grow linearly
with the rank."""),
    ("code", """\
rank_results = {}
for rank in (1, 4, 16):
    rank_model = build_model()
    rank_model.out_head = nn.Linear(BASE_CONFIG["emb_dim"], num_classes)
    for param in rank_model.parameters():
        param.requires_grad = False
    replace_linear_with_lora(rank_model, rank=rank, alpha=rank)
    rank_model.to(device)
    rank_optimizer = torch.optim.AdamW(rank_model.parameters(), lr=5e-5 if PRETRAINED else 1e-3, weight_decay=0.1)
    torch.manual_seed(123)
    train_classifier_simple(rank_model, train_loader, val_loader, rank_optimizer, device,
                            num_epochs=1 if QUICK else 3, eval_freq=100, eval_iter=2)
    count = sum(p.numel() for p in rank_model.parameters() if p.requires_grad)
    rank_results[rank] = (count, calc_accuracy_loader(val_loader, rank_model, device))
for rank, (count, accuracy) in rank_results.items():
    print(f"rank {rank:>2}: {count:>9,} trainable parameters, validation accuracy {accuracy * 100:.2f}%")"""),
]

# ---------------------------------------------------------------- READMEs

CLASSIFICATION_README = """\
# Assignment 5, option A: classification fine-tuning

## Why classification fine-tuning differs from pretraining

Pretraining predicts the next token at every position over a 50,257-way vocabulary. Here the
model answers one question per message with one of two labels, so the vocabulary head is
replaced by a 2-way linear layer and only one position's output is used: the last token's,
because under the causal mask it is the only one that has attended to the whole message. The
loss is still cross-entropy, but over classes, and success is measured by accuracy, precision,
recall and F1 instead of perplexity.

## Freezing strategies

The book freezes the network except the last transformer block, the final LayerNorm and the
new head. The lower layers hold general language features the task does not need to change;
freezing them makes each step cheaper and protects against overfitting a small data set. In my
comparison (exercise 6.2) full fine-tuning trained about 20 times more parameters, took longer
per epoch, and did not beat the partial fine-tuning on the test set.

## Data set characteristics and challenges

The SMS Spam Collection is imbalanced (about 13 % spam). I undersampled "ham" to a balanced
set, which throws data away but keeps accuracy meaningful; with the imbalanced set a model that
always says "ham" already scores 87 %. Messages are short (the longest training message decides
the padding length), full of abbreviations, numbers and phone numbers, which GPT-2's BPE splits
into many tokens. The grader runs the notebook on a synthetic stand-in of the data set and a
small random GPT (no pretrained weights offline), so the numbers in its run are not GPT-2's.

## Strengths and weaknesses

Strong: obvious spam (prize, cash, "txt WIN", premium phone numbers) is recognised reliably.
Weak: short, informal ham messages that mention money or numbers are sometimes called spam, and
since only the last token is read, padding to a much longer length (exercise 6.1) made training
slower to converge: the message's content has to travel through attention to the padding.
"""

LORA_README = """\
# Assignment 5, option C: LoRA

## How LoRA reduces trainable parameters

Instead of updating a weight matrix W (in_dim x out_dim), LoRA learns an update A @ B with A
(in_dim x rank) and B (rank x out_dim). For GPT-2 small with rank 16 that is 2.67 million
trainable parameters instead of 124 million: about 2 %. B starts at zero, so training starts
exactly from the pretrained model; the base weights stay frozen, and after training the update
can be merged into W, so inference costs nothing extra.

## Rank versus performance

The number of LoRA parameters grows linearly with the rank. On the spam task a rank of 4 was
already close to rank 16; rank 1 learned more slowly. I scale the update by alpha / rank (the
book's repository; the printed book scales by alpha); with alpha = rank both give a scale of 1.

## When to use LoRA

LoRA is worth it when memory is the limit (optimizer state only for the small matrices), when
many task-specific adapters must be stored for one base model, or when the data set is small
and full fine-tuning would overfit. Full fine-tuning can still win when the task is far from
the pretraining data and there is enough data and compute.

## Results

On GPT-2 small the LoRA model reached about the same test accuracy as full fine-tuning with a
fraction of the trainable parameters and less time per epoch. The grader runs the notebook
with a small random GPT (no pretrained weights offline) and a synthetic spam set, so the
numbers in its run only show that the pipeline works.
"""

# ---------------------------------------------------------------- the samples

# student -> [(old, new)]: each flawed sample is a correct notebook with ONE bug.
CLASSIFICATION_BUGS = {
    "ben-first-token-logits": [(
        "return model(input_batch)[:, -1, :]  # (batch, num_classes)",
        "return model(input_batch)[:, 0, :]  # (batch, num_classes)")],
    "cara-pads-with-zero": [(
        "self.encoded_texts = [ids + [pad_token_id] * (self.max_length - len(ids)) for ids in self.encoded_texts]",
        "self.encoded_texts = [ids + [0] * (self.max_length - len(ids)) for ids in self.encoded_texts]")],
    "dev-vocab-head": [(
        'model.out_head = nn.Linear(in_features=BASE_CONFIG["emb_dim"], out_features=num_classes)  # new head',
        'model.out_head.requires_grad_(True)  # train the output head')],
    "eve-head-frozen": [(
        """\
for param in model.parameters():  # freeze the pretrained model ...
    param.requires_grad = False

torch.manual_seed(123)
num_classes = 2
model.out_head = nn.Linear(in_features=BASE_CONFIG["emb_dim"], out_features=num_classes)  # new head
""",
        """\
torch.manual_seed(123)
num_classes = 2
model.out_head = nn.Linear(in_features=BASE_CONFIG["emb_dim"], out_features=num_classes)  # new head

for param in model.parameters():  # freeze the pretrained model ...
    param.requires_grad = False
""")],
}

LORA_BUGS = {
    "max-lora-b-random": [(
        "self.B = nn.Parameter(torch.zeros(rank, out_dim))  # zero: training starts from the pretrained model",
        "self.B = nn.Parameter(torch.randn(rank, out_dim) * 0.1)  # small random values, like A")],
    "nia-lora-rank-over-alpha": [(
        "return (self.alpha / self.rank) * (x @ self.A @ self.B)",
        "return (self.rank / self.alpha) * (x @ self.A @ self.B)")],
    "otto-lora-top-level-only": [(
        """\
        if isinstance(module, nn.Linear):
            setattr(model, name, LinearWithLoRA(module, rank, alpha))
        else:
            replace_linear_with_lora(module, rank, alpha)  # recurse into blocks, attention, feed-forward""",
        """\
        if isinstance(module, nn.Linear):
            setattr(model, name, LinearWithLoRA(module, rank, alpha))""")],
    "pia-lora-frozen": [(
        """\
for param in model.parameters():  # freeze every pretrained weight first ...
    param.requires_grad = False
replace_linear_with_lora(model, rank=16, alpha=16)  # ... then add trainable LoRA layers""",
        """\
replace_linear_with_lora(model, rank=16, alpha=16)  # add LoRA layers ...
for param in model.parameters():  # ... and freeze the pretrained weights
    param.requires_grad = False""")],
}

# kai: correct, but the training cell ignores LLM_GRADER and runs for hours (cut by the grader's cell time limit).
# The saved outputs come from a short run (the build cannot wait hours), as if the student had run it elsewhere.
KAI_LONG = [("num_epochs = 2 if QUICK else 5", "num_epochs = 20_000  # a long run: about 2 hours on my laptop")]
KAI_SHORT = [("num_epochs = 2 if QUICK else 5", "num_epochs = 5")]

NOOR_NAMES = {  # noor: correct, her own names
    "SpamDataset": "SMSDataset",
    "calc_loss_batch": "last_token_loss",
    "calc_accuracy_loader": "accuracy_over",
    "train_classifier_simple": "fine_tune",
    "classify_review": "predict_message",
}
OMAR_NAMES = {  # omar: correct, his own names, LoRA scaled by alpha (the printed book)
    "LoRALayer": "LowRankUpdate",
    "LinearWithLoRA": "LoRALinear",
    "replace_linear_with_lora": "add_lora_adapters",
}
OMAR_RENAMES = word_renames(OMAR_NAMES) + [
    (r"\bself\.A\b", "self.down"), (r"\bself\.B\b", "self.up"), (r"\(self\.alpha / self\.rank\) \* ", "self.alpha * ")]

ADA = Sample("a5", "ada-classification-correct", CLASSIFICATION, CLASSIFICATION_CELLS, CLASSIFICATION_README,
             PREVIOUS, run=RUN)
LENA = Sample("a5", "lena-lora-correct", LORA, LORA_CELLS, LORA_README, PREVIOUS, run=RUN)
SAMPLES = [
    ADA, LENA,
    variant(ADA, "kai-classification-long-run", KAI_LONG, run_cells=with_bug(CLASSIFICATION_CELLS, KAI_SHORT)),
    variant(ADA, "noor-classification-own-names", cells=own_names(
        CLASSIFICATION_CELLS, word_renames(NOOR_NAMES), NOOR_NAMES, "class SMSDataset(", "def predict_message(")),
    variant(LENA, "omar-lora-own-names", cells=own_names(
        LORA_CELLS, OMAR_RENAMES, OMAR_NAMES, "class LowRankUpdate(", "self.alpha * (x @ self.down")),
]
SAMPLES += [variant(ADA, student, replacements) for student, replacements in CLASSIFICATION_BUGS.items()]
# pia's bug stops her training cell with an error (nothing is trainable); she hands it in like that.
SAMPLES += [variant(LENA, student, replacements, may_fail=student == "pia-lora-frozen")
            for student, replacements in LORA_BUGS.items()]
