"""a5 option B (instruction fine-tuning, chapter 7): Ivy's book-style notebook, one-bug copies, Gus's with his
own names (GRADER_NAMES), and Kim's, correct but training for hours whatever LLM_GRADER says (executed with a
lighter settings line, saved with hers). Each hands in previous_chapters.py, the GPT code of assignments 3 and 4.
The notebooks run as the student ran them (no LLM_GRADER) on a small random GPT: no GPT-2 weights offline."""

from .core import Run, Sample, own_names, variant, with_bug, word_renames
from .snippets import EVALUATE_MODEL, PREVIOUS_CHAPTERS_GPT_AND_GENERATE

NOTEBOOK = "assignment5_instruction.ipynb"
RUN = Run(data=("instruction-data.json",), timeout=900)
PREVIOUS = {"previous_chapters.py": PREVIOUS_CHAPTERS_GPT_AND_GENERATE}

# ---------------------------------------------------------------- the correct notebook

CELLS = [
    ("md", """\
# Assignment 5 (option B): instruction fine-tuning

This notebook follows chapter 7: I turn a GPT into a model that follows instructions. The steps
are (1) load the 1,100 instruction-response pairs and format them with the Alpaca prompt
template, (2) tokenize them and batch them with a custom collate function that pads, shifts and
masks, (3) load a GPT and fine-tune it with the ordinary next-token loss, where masked targets
(-100) do not count, and (4) generate responses for held-out instructions and compare them with
the base model's.

My GPT code from assignments 3 and 4 lives in `previous_chapters.py` beside this notebook.
The course grader sets `LLM_GRADER=1`; with it the heavy cells train on a few batches only."""),
    ("code", """\
import json
import os
import time
import urllib.request
from functools import partial

import matplotlib.pyplot as plt
import tiktoken
import torch
from torch.utils.data import DataLoader, Dataset

from previous_chapters import GPTModel, generate, text_to_token_ids, token_ids_to_text

GRADER_RUN = os.environ.get("LLM_GRADER") == "1"
print("torch", torch.__version__, "| tiktoken", tiktoken.__version__, "| grader run:", GRADER_RUN)"""),
    ("md", """\
## 7.2 The instruction dataset

The data set is a JSON list of entries with the keys `instruction`, `input` (often empty) and
`output`. The download only happens when the file is not there yet."""),
    ("code", """\
def download_and_load_file(file_path, url):
    \"\"\"Download the JSON file once, then read it from disk.\"\"\"
    if not os.path.exists(file_path):
        with urllib.request.urlopen(url) as response:
            text_data = response.read().decode("utf-8")
        with open(file_path, "w", encoding="utf-8") as file:
            file.write(text_data)
    with open(file_path, "r", encoding="utf-8") as file:
        return json.load(file)


file_path = "instruction-data.json"
url = ("https://raw.githubusercontent.com/rasbt/LLMs-from-scratch"
       "/main/ch07/01_main-chapter-code/instruction-data.json")
data = download_and_load_file(file_path, url)
print("Number of entries:", len(data))
print("Example entry:\\n", data[50])"""),
    ("md", """\
### The Alpaca prompt template

Every entry becomes a prompt with a fixed preamble, the instruction, and an `### Input:`
section only when the entry has an input; otherwise the template would contain an empty,
misleading section. The response header is not part of `format_input`: during training the
dataset appends it together with the desired output, and at inference time the model is asked
to continue after it."""),
    ("code", """\
def format_input(entry):
    \"\"\"The Alpaca-style prompt for one entry (everything before the response).\"\"\"
    instruction_text = (
        "Below is an instruction that describes a task. "
        "Write a response that appropriately completes the request."
        f"\\n\\n### Instruction:\\n{entry['instruction']}"
    )
    # The input section is optional: many instructions need no extra input
    input_text = f"\\n\\n### Input:\\n{entry['input']}" if entry["input"] else ""
    return instruction_text + input_text"""),
    ("code", """\
model_input = format_input(data[50])
desired_response = f"\\n\\n### Response:\\n{data[50]['output']}"
print(model_input + desired_response)
print("-" * 40)
print(format_input(data[999]) + f"\\n\\n### Response:\\n{data[999]['output']}")"""),
    ("md", """\
The second entry has no input, and its prompt has no `### Input:` section, as intended.

### Train, validation and test split

85 % for training, 10 % for testing and the remaining 5 % for validation, in the file's order
(the book does the same, so my numbers can be compared)."""),
    ("code", """\
train_portion = int(len(data) * 0.85)
test_portion = int(len(data) * 0.1)

train_data = data[:train_portion]
test_data = data[train_portion:train_portion + test_portion]
val_data = data[train_portion + test_portion:]
print("Training set length:", len(train_data))
print("Validation set length:", len(val_data))
print("Test set length:", len(test_data))"""),
    ("md", """\
## 7.3 Tokenizing and batching

`InstructionDataset` tokenizes every entry once, up front: the prompt, the response header
`\\n\\n### Response:\\n` and the output, as one text."""),
    ("code", """\
class InstructionDataset(Dataset):
    \"\"\"Pre-tokenized prompt + response of every entry.\"\"\"

    def __init__(self, data, tokenizer):
        self.data = data
        self.encoded_texts = []
        for entry in data:
            instruction_plus_input = format_input(entry)
            response_text = f"\\n\\n### Response:\\n{entry['output']}"
            full_text = instruction_plus_input + response_text
            self.encoded_texts.append(tokenizer.encode(full_text))

    def __getitem__(self, index):
        return self.encoded_texts[index]

    def __len__(self):
        return len(self.data)"""),
    ("md", """\
### The collate function

The texts in a batch have different lengths, so the collate function

1. appends one `<|endoftext|>` (id 50256) to every text and pads all of them to the same length
   with the same id,
2. builds inputs (all tokens but the last) and targets (the same tokens shifted by one),
3. replaces every padding target *except the first* with -100. The first `<|endoftext|>` stays a
   target, so the model learns to stop after its response; -100 is the default `ignore_index`
   of PyTorch's cross-entropy, so the other padding positions add nothing to the loss,
4. optionally cuts inputs and targets to `allowed_max_length` (the model's context length),
5. moves the batch to the device, so the data loader already hands out tensors on the GPU."""),
    ("code", """\
def custom_collate_fn(batch, pad_token_id=50256, ignore_index=-100, allowed_max_length=None, device="cpu"):
    \"\"\"Pad, shift and mask a list of token-id lists into (inputs, targets) tensors.\"\"\"
    # +1 because every text gets one extra <|endoftext|> token
    batch_max_length = max(len(item) + 1 for item in batch)

    inputs_lst, targets_lst = [], []
    for item in batch:
        new_item = item.copy()
        new_item += [pad_token_id]
        padded = new_item + [pad_token_id] * (batch_max_length - len(new_item))
        inputs = torch.tensor(padded[:-1])  # drop the last token: nothing to predict after it
        targets = torch.tensor(padded[1:])  # shift by one: the next token at every position

        # Every padding target except the first <|endoftext|> is replaced by ignore_index
        mask = targets == pad_token_id
        indices = torch.nonzero(mask).squeeze()
        if indices.numel() > 1:
            targets[indices[1:]] = ignore_index

        # Optionally cut both to the model's context length
        if allowed_max_length is not None:
            inputs = inputs[:allowed_max_length]
            targets = targets[:allowed_max_length]

        inputs_lst.append(inputs)
        targets_lst.append(targets)

    inputs_tensor = torch.stack(inputs_lst).to(device)
    targets_tensor = torch.stack(targets_lst).to(device)
    return inputs_tensor, targets_tensor"""),
    ("code", """\
inputs_1 = [0, 1, 2, 3, 4]
inputs_2 = [5, 6]
inputs_3 = [7, 8, 9]
inputs, targets = custom_collate_fn([inputs_1, inputs_2, inputs_3])
print(inputs)
print(targets)

book_inputs = [[0, 1, 2, 3, 4], [5, 6, 50256, 50256, 50256], [7, 8, 9, 50256, 50256]]
book_targets = [[1, 2, 3, 4, 50256], [6, 50256, -100, -100, -100], [8, 9, 50256, -100, -100]]
print("inputs as in the book: ", inputs.tolist() == book_inputs)
print("targets as in the book:", targets.tolist() == book_targets)"""),
    ("md", """\
### Checking the pipeline against tiktoken

The dataset should hold exactly what tiktoken's GPT-2 encoding gives for the formatted text, and
decoding an item should give the text back. `<|endoftext|>` is token 50256."""),
    ("code", """\
tokenizer = tiktoken.get_encoding("gpt2")
print("<|endoftext|> ->", tokenizer.encode("<|endoftext|>", allowed_special={"<|endoftext|>"}))

check_set = InstructionDataset(data[:20], tokenizer)
same_ids = all(
    check_set[i] == tokenizer.encode(format_input(e) + f"\\n\\n### Response:\\n{e['output']}")
    for i, e in enumerate(data[:20])
)
print("items equal tiktoken's encoding:", same_ids)
print("decoding item 0 gives the text back:",
      tokenizer.decode(check_set[0]) == format_input(data[0]) + f"\\n\\n### Response:\\n{data[0]['output']}")
lengths = [len(item) for item in InstructionDataset(data, tokenizer)]
print("tokens per entry: min", min(lengths), "max", max(lengths))"""),
    ("md", """\
## Exercise 7.2: masking the instruction

With the collate function above the model is also trained to predict the instruction and the
input, which it is given at inference time anyway. For this exercise the dataset also records
how many tokens each prompt has, and a second collate function sets the targets that predict
prompt tokens to -100 too. The target at position `prompt_length - 1` predicts the first token
of the response header and is kept, so the loss covers the header, the response and the final
`<|endoftext|>`."""),
    ("code", """\
class InstructionDatasetMasked(Dataset):
    \"\"\"Items are (prompt_length, token_ids), so a collate function can mask the prompt.\"\"\"

    def __init__(self, data, tokenizer):
        self.data = data
        self.items = []
        for entry in data:
            prompt = format_input(entry)
            full = prompt + f"\\n\\n### Response:\\n{entry['output']}"
            self.items.append((len(tokenizer.encode(prompt)), tokenizer.encode(full)))

    def __getitem__(self, index):
        return self.items[index]

    def __len__(self):
        return len(self.items)


def custom_collate_fn_masked(batch, pad_token_id=50256, ignore_index=-100, allowed_max_length=None, device="cpu"):
    \"\"\"Like custom_collate_fn, for (prompt_length, ids) items, and the prompt's targets become ignore_index.\"\"\"
    longest = max(len(ids) for _, ids in batch) + 1
    rows_in, rows_out = [], []
    for prompt_length, ids in batch:
        padded = ids + [pad_token_id] * (longest - len(ids))  # at least one <|endoftext|>
        row_inputs = torch.tensor(padded[:-1])
        row_targets = torch.tensor(padded[1:])
        row_targets[len(ids):] = ignore_index  # padding after the first <|endoftext|>
        row_targets[:prompt_length - 1] = ignore_index  # targets that predict prompt tokens
        rows_in.append(row_inputs[:allowed_max_length])
        rows_out.append(row_targets[:allowed_max_length])
    return torch.stack(rows_in).to(device), torch.stack(rows_out).to(device)"""),
    ("code", """\
masked_set = InstructionDatasetMasked(data[:3], tokenizer)
m_inputs, m_targets = custom_collate_fn_masked([masked_set[i] for i in range(3)])
u_inputs, u_targets = custom_collate_fn([InstructionDataset(data[:3], tokenizer)[i] for i in range(3)])
print("same inputs as without masking:", torch.equal(m_inputs, u_inputs))
for row in range(3):
    kept = (m_targets[row] != -100).sum().item()
    print(f"row {row}: {kept} of {(u_targets[row] != -100).sum().item()} targets still count;",
          "they decode to", repr(tokenizer.decode(m_targets[row][m_targets[row] != -100].tolist())[:60]))"""),
    ("md", """\
## Data loaders

`partial` fixes the device and the maximum length, so the loader can call the collate function
with the batch only. The grader run uses a small slice of the data."""),
    ("code", """\
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print("Device:", device)
customized_collate_fn = partial(custom_collate_fn, device=device, allowed_max_length=1024)

# Training settings. With LLM_GRADER=1 the grader only needs to see the pipeline run.
if GRADER_RUN:
    train_subset, val_subset, num_epochs, eval_freq, eval_iter = train_data[:16], val_data[:8], 1, 1, 1
else:
    train_subset, val_subset, num_epochs, eval_freq, eval_iter = train_data[:240], val_data, 2, 5, 2

torch.manual_seed(123)
batch_size = 8
train_loader = DataLoader(InstructionDataset(train_subset, tokenizer), batch_size=batch_size,
                          collate_fn=customized_collate_fn, shuffle=True, drop_last=True, num_workers=0)
val_loader = DataLoader(InstructionDataset(val_subset, tokenizer), batch_size=batch_size,
                        collate_fn=customized_collate_fn, shuffle=False, drop_last=False, num_workers=0)
test_loader = DataLoader(InstructionDataset(test_data, tokenizer), batch_size=batch_size,
                         collate_fn=customized_collate_fn, shuffle=False, drop_last=False, num_workers=0)
for i, (inputs, targets) in enumerate(train_loader):
    print(inputs.shape, targets.shape)
    if i == 2:
        break"""),
    ("md", """\
## 7.5 The model

The book fine-tunes the pretrained 355M GPT-2. I downloaded its weights from Hugging Face as
`gpt2-medium-355M.safetensors`; when that file is not there (the grader, or a machine without
the download) I fall back to a small, randomly initialised GPT with GPT-2's vocabulary. The
pipeline is the same; only the quality of the responses differs."""),
    ("code", """\
def assign(left, right):
    if left.shape != right.shape:
        raise ValueError(f"Shape mismatch. Left: {left.shape}, Right: {right.shape}")
    return torch.nn.Parameter(right.clone().detach())


def load_weights_into_gpt(gpt, state):
    \"\"\"Copy a Hugging Face GPT-2 state dict into my GPTModel (its Conv1D weights are transposed).\"\"\"
    sd = {k.removeprefix("transformer."): v for k, v in state.items()}
    gpt.pos_emb.weight = assign(gpt.pos_emb.weight, sd["wpe.weight"])
    gpt.tok_emb.weight = assign(gpt.tok_emb.weight, sd["wte.weight"])
    for b, block in enumerate(gpt.trf_blocks):
        p = f"h.{b}."
        q_w, k_w, v_w = sd[p + "attn.c_attn.weight"].chunk(3, dim=-1)
        q_b, k_b, v_b = sd[p + "attn.c_attn.bias"].chunk(3)
        for layer, w, bias in ((block.att.W_query, q_w, q_b), (block.att.W_key, k_w, k_b),
                               (block.att.W_value, v_w, v_b)):
            layer.weight, layer.bias = assign(layer.weight, w.T), assign(layer.bias, bias)
        block.att.out_proj.weight = assign(block.att.out_proj.weight, sd[p + "attn.c_proj.weight"].T)
        block.att.out_proj.bias = assign(block.att.out_proj.bias, sd[p + "attn.c_proj.bias"])
        block.ff.layers[0].weight = assign(block.ff.layers[0].weight, sd[p + "mlp.c_fc.weight"].T)
        block.ff.layers[0].bias = assign(block.ff.layers[0].bias, sd[p + "mlp.c_fc.bias"])
        block.ff.layers[2].weight = assign(block.ff.layers[2].weight, sd[p + "mlp.c_proj.weight"].T)
        block.ff.layers[2].bias = assign(block.ff.layers[2].bias, sd[p + "mlp.c_proj.bias"])
        block.norm1.scale = assign(block.norm1.scale, sd[p + "ln_1.weight"])
        block.norm1.shift = assign(block.norm1.shift, sd[p + "ln_1.bias"])
        block.norm2.scale = assign(block.norm2.scale, sd[p + "ln_2.weight"])
        block.norm2.shift = assign(block.norm2.shift, sd[p + "ln_2.bias"])
    gpt.final_norm.scale = assign(gpt.final_norm.scale, sd["ln_f.weight"])
    gpt.final_norm.shift = assign(gpt.final_norm.shift, sd["ln_f.bias"])
    gpt.out_head.weight = assign(gpt.out_head.weight, sd["wte.weight"])  # GPT-2 ties the output head"""),
    ("code", """\
WEIGHTS_FILE = "gpt2-medium-355M.safetensors"
if not GRADER_RUN and os.path.exists(WEIGHTS_FILE):
    from safetensors.torch import load_file

    BASE_CONFIG = {"vocab_size": 50257, "context_length": 1024, "emb_dim": 1024, "n_heads": 16,
                   "n_layers": 24, "drop_rate": 0.0, "qkv_bias": True}
    model = GPTModel(BASE_CONFIG)
    load_weights_into_gpt(model, load_file(WEIGHTS_FILE))
    print("Loaded the pretrained GPT-2 medium (355M) weights")
else:
    BASE_CONFIG = {"vocab_size": 50257, "context_length": 256, "emb_dim": 64, "n_heads": 4,
                   "n_layers": 2, "drop_rate": 0.0, "qkv_bias": False}
    torch.manual_seed(123)
    model = GPTModel(BASE_CONFIG)
    print("No GPT-2 weights here: using a small randomly initialised GPT instead")
model.to(device)
model.eval()
print(f"{sum(p.numel() for p in model.parameters()):,} parameters")"""),
    ("md", """\
### The base model before fine-tuning

To compare later, I let the model continue three test prompts before any fine-tuning."""),
    ("code", """\
def extract_response(generated_text, input_text):
    \"\"\"The part of the generated text after the prompt, without the response header.\"\"\"
    return generated_text[len(input_text):].replace("### Response:", "").strip()


def respond(model, entry, max_new_tokens):
    \"\"\"Greedy response of the model to one entry, stopping at <|endoftext|>.\"\"\"
    input_text = format_input(entry)
    token_ids = generate(model=model, idx=text_to_token_ids(input_text, tokenizer).to(device),
                         max_new_tokens=max_new_tokens, context_size=BASE_CONFIG["context_length"],
                         eos_id=50256)
    return extract_response(token_ids_to_text(token_ids, tokenizer), input_text)


max_new_tokens = 10 if GRADER_RUN else 40
base_responses = [respond(model, entry, max_new_tokens) for entry in test_data[:3]]
for entry, response in zip(test_data[:3], base_responses):
    print(entry["instruction"], "->", repr(response[:100]))"""),
    ("md", """\
## 7.6 Fine-tuning

The loss is the chapter 5 loss unchanged: cross-entropy of the logits against the targets.
`torch.nn.functional.cross_entropy` skips every target equal to its `ignore_index`, -100 by
default, so padding (and, with the masked collate function, the prompt) adds nothing. First a
check of that claim on one batch."""),
    ("code", """\
def calc_loss_batch(input_batch, target_batch, model, device):
    \"\"\"Mean next-token cross-entropy of one batch; targets equal to -100 are ignored.\"\"\"
    input_batch, target_batch = input_batch.to(device), target_batch.to(device)
    logits = model(input_batch)  # (b, T, vocab_size)
    return torch.nn.functional.cross_entropy(logits.flatten(0, 1), target_batch.flatten())


def calc_loss_loader(data_loader, model, device, num_batches=None):
    \"\"\"Average loss over the first num_batches batches (all by default).\"\"\"
    if len(data_loader) == 0:
        return float("nan")
    num_batches = len(data_loader) if num_batches is None else min(num_batches, len(data_loader))
    total_loss = 0.0
    for i, (input_batch, target_batch) in enumerate(data_loader):
        if i >= num_batches:
            break
        total_loss += calc_loss_batch(input_batch, target_batch, model, device).item()
    return total_loss / num_batches


inputs, targets = next(iter(val_loader))
with torch.no_grad():
    logits = model(inputs)
    keep = targets != -100
    by_hand = torch.nn.functional.cross_entropy(logits[keep], targets[keep])
    print("loss:", calc_loss_batch(inputs, targets, model, device).item(),
          "| cross-entropy over the unmasked targets:", by_hand.item())"""),
    ("code", EVALUATE_MODEL + """


def generate_and_print_sample(model, tokenizer, device, start_context):
    model.eval()
    context_size = model.pos_emb.weight.shape[0]
    encoded = text_to_token_ids(start_context, tokenizer).to(device)
    token_ids = generate(model=model, idx=encoded, max_new_tokens=35, context_size=context_size)
    print(token_ids_to_text(token_ids, tokenizer).replace("\\n", " "))
    model.train()


def train_model_simple(model, train_loader, val_loader, optimizer, device, num_epochs,
                       eval_freq, eval_iter, start_context, tokenizer):
    \"\"\"The chapter 5 training loop: returns train losses, val losses and tokens seen.\"\"\"
    train_losses, val_losses, track_tokens_seen = [], [], []
    tokens_seen, global_step = 0, -1
    for epoch in range(num_epochs):
        model.train()
        for input_batch, target_batch in train_loader:
            optimizer.zero_grad()
            loss = calc_loss_batch(input_batch, target_batch, model, device)
            loss.backward()
            optimizer.step()
            tokens_seen += input_batch.numel()
            global_step += 1
            if global_step % eval_freq == 0:
                train_loss, val_loss = evaluate_model(model, train_loader, val_loader, device, eval_iter)
                train_losses.append(train_loss)
                val_losses.append(val_loss)
                track_tokens_seen.append(tokens_seen)
                print(f"Ep {epoch + 1} (Step {global_step:06d}): Train loss {train_loss:.3f}, Val loss {val_loss:.3f}")
        generate_and_print_sample(model, tokenizer, device, start_context)
    return train_losses, val_losses, track_tokens_seen"""),
    ("code", """\
start_time = time.time()
torch.manual_seed(123)
optimizer = torch.optim.AdamW(model.parameters(), lr=5e-3 if BASE_CONFIG["emb_dim"] < 256 else 5e-5,
                              weight_decay=0.1)
train_losses, val_losses, tokens_seen = train_model_simple(
    model, train_loader, val_loader, optimizer, device, num_epochs=num_epochs, eval_freq=eval_freq,
    eval_iter=eval_iter, start_context=format_input(val_data[0]), tokenizer=tokenizer,
)
print(f"Training completed in {(time.time() - start_time) / 60:.2f} minutes.")"""),
    ("code", """\
epochs_seen = torch.linspace(0, num_epochs, len(train_losses))
fig, ax1 = plt.subplots(figsize=(5, 3), dpi=80)
ax1.plot(epochs_seen, train_losses, label="Training loss")
ax1.plot(epochs_seen, val_losses, linestyle="-.", label="Validation loss")
ax1.set_xlabel("Epochs")
ax1.set_ylabel("Loss")
ax1.legend(loc="upper right")
ax2 = ax1.twiny()  # a second x-axis for the tokens seen
ax2.plot(tokens_seen, train_losses, alpha=0)
ax2.set_xlabel("Tokens seen")
fig.tight_layout()
plt.show()"""),
    ("md", """\
## 7.7 Responses after fine-tuning, compared with the base model"""),
    ("code", """\
model.eval()
torch.manual_seed(123)
for entry, before in zip(test_data[:3], base_responses):
    print(format_input(entry))
    print(f"\\nCorrect response:\\n>> {entry['output']}")
    print(f"\\nBase model response:\\n>> {before[:200]}")
    print(f"\\nModel response:\\n>> {respond(model, entry, max_new_tokens)}")
    print("-" * 40)"""),
    ("code", """\
# Save the responses of the first test entries for a later evaluation (section 7.8)
saved_entries = test_data[:2] if GRADER_RUN else test_data[:5]
with_responses = [{**entry, "model_response": respond(model, entry, max_new_tokens)} for entry in saved_entries]
with open("instruction-data-with-response.json", "w") as file:
    json.dump(with_responses, file, indent=4)
print(f"saved {len(with_responses)} responses")
print("Test loss:", calc_loss_loader(test_loader, model, device, num_batches=eval_iter))"""),
    ("md", """\
## Summary

The data pipeline reproduces the book's numbers (935/55/110 split, the collate example, the
Alpaca prompt of entry 50). The loss ignores every -100 target, as the check above shows. The
small model I could train here learns the *format* (it starts to produce text after the
response header and to end with `<|endoftext|>`) long before it produces useful answers; the
README discusses the results and the comparison with the base model."""),
]

README = """\
# Assignment 5, option B: instruction fine-tuning

Everything is in `assignment5_instruction.ipynb`; my GPT code from assignments 3 and 4 is in
`previous_chapters.py`. The notebook runs top to bottom on a CPU.

## Approach

I followed chapter 7 step by step and checked each step against the book before moving on:
the 935/55/110 split, the Alpaca prompt of entry 50, the collate function on the book's three
short lists, and the dataset items against tiktoken's encoding. For exercise 7.2 I wrote a
second dataset and collate function that also mask the prompt. Training uses the chapter 5 loop
and loss unchanged. Settings of the saved run: batch size 8, AdamW (weight decay 0.1,
learning rate 5e-3 for the small model, 5e-5 for GPT-2 medium), evaluation every 5 steps on 2
batches, greedy decoding that stops at `<|endoftext|>`.

## How instruction formatting affects training

Every example is turned into the same Alpaca template: a fixed preamble, `### Instruction:`,
an optional `### Input:` section (left out when the input is empty, rather than left empty) and
`### Response:`. Because the template is identical everywhere, the model quickly learns where
the instruction ends and where its answer has to begin, and at inference time the prompt ends
exactly where the training texts continued with the answer. Changing the template between
training and inference (or adding an empty `### Input:` section) would show the model text it
never saw during training.

## Why masking is crucial

Padding: the collate function pads every batch to its longest text with `<|endoftext|>` and
sets all padding targets except the first to -100, which the cross-entropy ignores. Without
this the loss would be dominated by "predict another end-of-text token after an end-of-text
token" for the short texts of a batch. The first `<|endoftext|>` is kept as a target so the
model learns to stop after its response.

Instruction masking (exercise 7.2): with `InstructionDatasetMasked` and
`custom_collate_fn_masked` the targets that predict prompt tokens are -100 as well, so the loss
measures only how well the model writes the response. In my check on the first three entries,
64 % to 75 % of the targets belonged to the prompt, so the unmasked loss mostly rewards
predicting the (fixed) preamble and the instruction. The book reports that masking does not clearly help on this \
small data set;
with the random model here the masked loss is higher at first because the easy preamble
tokens no longer pull the average down.

## Results: quality of the instruction following

I could not use the pretrained GPT-2 355M weights for the run saved in the notebook, so it uses
a small GPT (64-dimensional, two layers) trained from scratch on 240 examples for two epochs
(about a minute and a half on my laptop's CPU). The training loss falls from about 10.4 to 2.4
and the validation loss from 10.5 to 3.5, so the model learns the template (everything up to
the response header is predictable) and common words, but its answers ("The the sentence.")
do not follow the instructions; with pretrained weights the book's model gives mostly correct
short answers after two epochs. The base (untrained) model produces random tokens and never
stops on its own, while the fine-tuned one writes a short answer after the response header and
ends it with `<|endoftext|>`.

## Differences from classification fine-tuning

Classification fine-tuning replaces the output head with a two-class layer and trains on the
last token's logits only; the loss is a two-way cross-entropy and accuracy is easy to measure.
Instruction fine-tuning keeps the vocabulary head and the next-token loss over the whole
response, so the model stays a generator; judging the output needs a person or another model
(section 7.8), not an accuracy number.

## Challenges

Getting the first `<|endoftext|>` right in the collate function took me two tries (I first
masked all padding). Compute was the other limit: fine-tuning the 355M model on a CPU takes
hours, so the saved run uses the small model.
"""

# ---------------------------------------------------------------- the flawed samples (one bug each)

BUGS = {
    # All padding targets masked, the first <|endoftext|> too: the model never learns to stop.
    "ben-instruction-eot-masked": [(
        "        if indices.numel() > 1:\n            targets[indices[1:]] = ignore_index",
        "        if indices.numel() > 0:\n            targets[indices] = ignore_index",
    )],
    # allowed_max_length cuts the inputs only; the targets keep their full length.
    "cara-instruction-truncate-inputs-only": [(
        "            inputs = inputs[:allowed_max_length]\n            targets = targets[:allowed_max_length]",
        "            inputs = inputs[:allowed_max_length]",
    )],
    # The "### Input:" section is always added, also when the input is empty.
    "dev-instruction-always-input": [(
        ("    # The input section is optional: many instructions need no extra input\n"
         "    input_text = f\"\\n\\n### Input:\\n{entry['input']}\" if entry[\"input\"] else \"\""),
        "    input_text = f\"\\n\\n### Input:\\n{entry['input']}\"",
    )],
    # Targets are not shifted: the model is trained to copy its input.
    "eli-instruction-unshifted-targets": [(
        "        targets = torch.tensor(padded[1:])  # shift by one: the next token at every position",
        "        targets = torch.tensor(padded[:-1])  # the targets are the tokens of the same text",
    )],
    # The dataset joins prompt and output without the "### Response:" header.
    "fay-instruction-no-response-header": [(
        "            response_text = f\"\\n\\n### Response:\\n{entry['output']}\"",
        "            response_text = f\"\\n\\n{entry['output']}\"",
    )],
}

# ---------------------------------------------------------------- correct variants
GUS_NAMES = {
    "format_input": "build_prompt",
    "InstructionDataset": "AlpacaDataset",
    "custom_collate_fn": "pad_batch",
    "InstructionDatasetMasked": "AlpacaDatasetWithPromptLengths",
    "custom_collate_fn_masked": "pad_batch_hiding_prompt",
    "calc_loss_batch": "batch_loss",
    "extract_response": "response_from_generation",
}

# Kim trains on the full training set for 30 epochs and never looks at LLM_GRADER; in the grader
# the per-cell time limit cuts that cell. The build runs the lighter cell and keeps Kim's source.
KIM_SETTINGS = (
    ("# Training settings. With LLM_GRADER=1 the grader only needs to see the pipeline run.\n"
     "if GRADER_RUN:\n"
     "    train_subset, val_subset, num_epochs, eval_freq, eval_iter = train_data[:16], val_data[:8], 1, 1, 1\n"
     "else:\n"
     "    train_subset, val_subset, num_epochs, eval_freq, eval_iter = train_data[:240], val_data, 2, 5, 2"),
    ("# Training settings: the full training set; 30 epochs took about two hours on a Colab T4\n"
     "train_subset, val_subset, num_epochs, eval_freq, eval_iter = train_data, val_data, 30, 50, 5"),
)
KIM_BUILD_SETTINGS = "train_subset, val_subset, num_epochs, eval_freq, eval_iter = train_data[:240], val_data, 2, 5, 2"
KIM_README = README + """
## A note on the saved outputs

My real run (the settings in the notebook: all 935 training examples, 30 epochs) took about two
hours on a Colab T4 and the session died before I could save the notebook. The outputs saved
in the notebook come from a shorter run on my laptop (240 examples, 2 epochs) with the same
code, so the printed losses and responses are those of the short run.
"""
KIM_CELLS = with_bug(CELLS, [KIM_SETTINGS])

IVY = Sample("a5", "ivy-instruction-correct", NOTEBOOK, CELLS, README, PREVIOUS, run=RUN)
SAMPLES = [IVY, variant(IVY, "gus-instruction-own-names", cells=own_names(
    CELLS, word_renames(GUS_NAMES), GUS_NAMES, "def build_prompt(", "class AlpacaDataset(", "def pad_batch(",
    "def pad_batch_hiding_prompt(", "class AlpacaDatasetWithPromptLengths(", "def batch_loss(",
    "def response_from_generation(")),
    variant(IVY, "kim-instruction-long-training", cells=KIM_CELLS, readme=KIM_README,
            run_cells=with_bug(KIM_CELLS, [(KIM_SETTINGS[1].splitlines()[1], KIM_BUILD_SETTINGS)]))]
SAMPLES += [variant(IVY, student, replacements) for student, replacements in BUGS.items()]
