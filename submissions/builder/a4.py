"""a4 (chapter 5 and appendix D, pretraining): the book-style notebook that honours LLM_GRADER=1 (a small GPT,
one short epoch, GPT-2-shaped stand-in weights), one-bug copies, Gus's (correct, but his training cell ignores
LLM_GRADER and runs for hours: executed short, saved with his long source) and Hana's (her own names mapped with
GRADER_NAMES, exercise functions the grader finds by name pattern and signature). The notebooks run with
LLM_GRADER=1; the saved outputs stand in for the student's own run."""

import re

from .core import Run, Sample, grader_names, require, variant
from .snippets import FEED_FORWARD, GPT_MODEL_INIT, LAYER_NORM, TEXT_TOKEN_IDS, split_heads_attention

RUN = Run(data=("the-verdict.txt",), grader_mode=True, timeout=600)

CELLS = [
    ("md", """\
# Assignment 4: pretraining a GPT (chapter 5)

**Student:** Ada

In this notebook I train the GPT model from assignment 3 on *The Verdict*, the short story the
book uses. The steps follow chapter 5: turn text into batches, measure how wrong the model's
next-token predictions are (cross-entropy and perplexity), train with a simple loop that
reports the training and validation loss and prints a sample now and then, make generation
less repetitive with temperature, top-k and nucleus sampling, save a checkpoint, and finally
load OpenAI's GPT-2 weights into my own model class. The exercises I did are at the end:
5.1 (learning-rate warmup and cosine decay), 5.2 (comparing sampling strategies) and 5.4
(gradient accumulation).

The autograder sets the environment variable `LLM_GRADER=1` and has no internet access. When it
is set, I train a much smaller model for one epoch and use a GPT-2-shaped stand-in instead of
downloading the real weights (see `FAST` below)."""),
    ("code", """\
%matplotlib inline
import math
import os
import time

import matplotlib.pyplot as plt
import numpy as np
import tiktoken
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

FAST = os.environ.get("LLM_GRADER") == "1"  # the autograder: train briefly, no downloads
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
plt.rcParams["figure.dpi"] = 60  # small figures keep the notebook light
print("torch", torch.__version__, "| device:", device, "| fast mode:", FAST)"""),
    ("md", """\
## The model from assignment 3

These are my chapter 4 classes, unchanged: multi-head causal attention, layer norm, GELU, the
feed-forward network, the pre-norm transformer block and the GPT model. `generate_text_simple`
is the greedy decoder from section 4.7; chapter 5 replaces it with `generate` further down."""),
    ("code", split_heads_attention("Causal self-attention with num_heads heads that share one projection per q, k, v.")
     + "\n\n\n" + LAYER_NORM + """


class GELU(nn.Module):
    def forward(self, x):
        return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


""" + FEED_FORWARD + """


class TransformerBlock(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.att = MultiHeadAttention(d_in=cfg["emb_dim"], d_out=cfg["emb_dim"],
                                      context_length=cfg["context_length"], dropout=cfg["drop_rate"],
                                      num_heads=cfg["n_heads"], qkv_bias=cfg["qkv_bias"])
        self.ff = FeedForward(cfg)
        self.norm1 = LayerNorm(cfg["emb_dim"])
        self.norm2 = LayerNorm(cfg["emb_dim"])
        self.drop_shortcut = nn.Dropout(cfg["drop_rate"])

    def forward(self, x):
        x = x + self.drop_shortcut(self.att(self.norm1(x)))  # pre-norm attention with a shortcut
        return x + self.drop_shortcut(self.ff(self.norm2(x)))


""" + GPT_MODEL_INIT + """

    def forward(self, in_idx):
        num_tokens = in_idx.shape[1]  # in_idx: (batch, tokens)
        positions = self.pos_emb(torch.arange(num_tokens, device=in_idx.device))
        x = self.drop_emb(self.tok_emb(in_idx) + positions)
        x = self.final_norm(self.trf_blocks(x))
        return self.out_head(x)  # (batch, tokens, vocab_size)


def generate_text_simple(model, idx, max_new_tokens, context_size):
    \"\"\"Greedy decoding: append the most likely next token max_new_tokens times.\"\"\"
    for _ in range(max_new_tokens):
        with torch.no_grad():
            logits = model(idx[:, -context_size:])[:, -1, :]
        idx = torch.cat((idx, torch.argmax(logits, dim=-1, keepdim=True)), dim=1)
    return idx"""),
    ("md", """\
## Configuration

`GPT_CONFIG_124M` is GPT-2 small with the context shortened to 256 tokens, as in section 5.1.
That is what I trained for my real run (see the README). In fast mode the same code trains a
tiny model with a 32-token context instead, so the whole notebook finishes in seconds."""),
    ("code", """\
GPT_CONFIG_124M = {
    "vocab_size": 50257,     # GPT-2's BPE vocabulary
    "context_length": 256,   # shortened from 1024 so that training fits a laptop
    "emb_dim": 768,
    "n_heads": 12,
    "n_layers": 12,
    "drop_rate": 0.1,
    "qkv_bias": False,
}
SMALL_CONFIG = {**GPT_CONFIG_124M, "context_length": 32, "emb_dim": 32, "n_heads": 2, "n_layers": 2}
TRAIN_CONFIG = SMALL_CONFIG if FAST else GPT_CONFIG_124M
tokenizer = tiktoken.get_encoding("gpt2")
print({k: TRAIN_CONFIG[k] for k in ("context_length", "emb_dim", "n_heads", "n_layers")})"""),
    ("md", """\
## 5.1.1 From text to token ids and back

Two small helpers convert between text and a batch of token ids of shape (1, tokens). Before
any training the model continues a prompt with random word pieces."""),
    ("code", TEXT_TOKEN_IDS + """


torch.manual_seed(123)
model = GPTModel(TRAIN_CONFIG).eval()
ids = generate_text_simple(model, text_to_token_ids("Every effort moves you", tokenizer), max_new_tokens=10,
                           context_size=TRAIN_CONFIG["context_length"])
print("untrained model:", token_ids_to_text(ids, tokenizer))"""),
    ("md", """\
## 5.1.2 The loss: cross-entropy and perplexity

For every position the model outputs one logit per vocabulary entry; the target is the next
token of the text. The loss is the average over all positions of `-log p(target)`, where `p` is
the softmax over the vocabulary. `F.cross_entropy` does exactly that if I flatten the batch
and token dimensions into one: logits become (batch * tokens, vocab) and targets (batch * tokens).

Perplexity is `exp(loss)`. It reads as the number of tokens the model is effectively choosing
between; an untrained model is close to the vocabulary size of 50,257."""),
    ("code", """\
def calc_loss_batch(input_batch, target_batch, model, device):
    \"\"\"Mean cross-entropy of the next-token predictions of one batch.\"\"\"
    input_batch, target_batch = input_batch.to(device), target_batch.to(device)
    logits = model(input_batch)  # (batch, tokens, vocab)
    return F.cross_entropy(logits.flatten(0, 1), target_batch.flatten())


def calc_loss_loader(data_loader, model, device, num_batches=None):
    \"\"\"Average batch loss over the first num_batches batches (all of them by default).\"\"\"
    if len(data_loader) == 0:
        return float("nan")
    num_batches = len(data_loader) if num_batches is None else min(num_batches, len(data_loader))
    total_loss = 0.0
    for i, (input_batch, target_batch) in enumerate(data_loader):
        if i >= num_batches:
            break
        total_loss += calc_loss_batch(input_batch, target_batch, model, device).item()
    return total_loss / num_batches


def perplexity(loss):
    \"\"\"exp(loss), for a float or a tensor.\"\"\"
    return torch.exp(loss) if isinstance(loss, torch.Tensor) else math.exp(loss)


inputs = torch.tensor([[16833, 3626, 6100], [40, 1107, 588]])     # "every effort moves", "I really like"
targets = torch.tensor([[3626, 6100, 345], [1107, 588, 11311]])   # the same texts shifted by one token
with torch.no_grad():
    loss = calc_loss_batch(inputs, targets, model, "cpu")
print(f"loss {loss.item():.4f}, perplexity {perplexity(loss).item():,.0f}")"""),
    ("md", """\
## 5.1.3 Training and validation data

I reuse the sliding-window dataset from assignment 1. The first 90% of the characters are the
training text, the rest the validation text. Windows do not overlap (stride = context length),
the training loader shuffles and drops an incomplete last batch, the validation loader keeps
everything in order."""),
    ("code", """\
class GPTDatasetV1(Dataset):
    def __init__(self, txt, tokenizer, max_length, stride):
        token_ids = tokenizer.encode(txt, allowed_special={"<|endoftext|>"})
        self.input_ids, self.target_ids = [], []
        for i in range(0, len(token_ids) - max_length, stride):
            self.input_ids.append(torch.tensor(token_ids[i:i + max_length]))
            self.target_ids.append(torch.tensor(token_ids[i + 1:i + max_length + 1]))

    def __len__(self):
        return len(self.input_ids)

    def __getitem__(self, idx):
        return self.input_ids[idx], self.target_ids[idx]


def create_dataloader_v1(txt, batch_size=4, max_length=256, stride=128, shuffle=True, drop_last=True,
                         num_workers=0):
    dataset = GPTDatasetV1(txt, tiktoken.get_encoding("gpt2"), max_length, stride)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last, num_workers=num_workers)


with open("the-verdict.txt", "r", encoding="utf-8") as f:
    text_data = f.read()
split_idx = int(0.90 * len(text_data))
train_text, val_text = text_data[:split_idx], text_data[split_idx:]
if FAST:
    train_text = train_text[:4000]  # the autograder: about 15 batches are enough to see the loss fall
context = TRAIN_CONFIG["context_length"]
torch.manual_seed(123)
train_loader = create_dataloader_v1(train_text, batch_size=2, max_length=context, stride=context,
                                    drop_last=True, shuffle=True)
val_loader = create_dataloader_v1(val_text, batch_size=2, max_length=context, stride=context,
                                  drop_last=False, shuffle=False)
print(f"{len(tokenizer.encode(text_data)):,} tokens; {len(train_loader)} train and {len(val_loader)} val batches")
with torch.no_grad():
    print("initial train loss", round(calc_loss_loader(train_loader, model, "cpu"), 4),
          "| val loss", round(calc_loss_loader(val_loader, model, "cpu"), 4))"""),
    ("md", """\
## 5.2 The training loop

`train_model_simple` follows the book: for every batch, zero the gradients, compute the loss,
backpropagate, and step the optimizer. Every `eval_freq` optimizer steps it measures the
training and validation loss on `eval_iter` batches (in eval mode, without gradients) and
records how many tokens the model has seen; after every epoch it prints a greedy sample.

Two keyword-only additions with defaults that keep the book's behaviour:
- `patience`: stop early after that many evaluations in a row without a new lowest validation
  loss (the assignment asks for an early-stopping criterion);
- `accumulation_steps` (exercise 5.4, see the end of the notebook)."""),
    ("code", """\
def evaluate_model(model, train_loader, val_loader, device, eval_iter):
    \"\"\"Train and validation loss on eval_iter batches, without dropout or gradients.\"\"\"
    model.eval()
    with torch.no_grad():
        train_loss = calc_loss_loader(train_loader, model, device, num_batches=eval_iter)
        val_loss = calc_loss_loader(val_loader, model, device, num_batches=eval_iter)
    model.train()
    return train_loss, val_loss


def generate_and_print_sample(model, tokenizer, device, start_context):
    model.eval()
    context_size = model.pos_emb.weight.shape[0]
    encoded = text_to_token_ids(start_context, tokenizer).to(device)
    token_ids = generate_text_simple(model, encoded, max_new_tokens=50, context_size=context_size)
    print(token_ids_to_text(token_ids, tokenizer).replace("\\n", " "))
    model.train()


def train_model_simple(model, train_loader, val_loader, optimizer, device, num_epochs, eval_freq, eval_iter,
                       start_context, tokenizer, *, patience=None, accumulation_steps=1):
    \"\"\"The book's training loop; returns (train_losses, val_losses, track_tokens_seen).\"\"\"
    train_losses, val_losses, track_tokens_seen = [], [], []
    tokens_seen, global_step = 0, -1
    best_val, evals_without_improvement = float("inf"), 0
    for epoch in range(num_epochs):
        model.train()
        optimizer.zero_grad()
        for batch_idx, (input_batch, target_batch) in enumerate(train_loader):
            loss = calc_loss_batch(input_batch, target_batch, model, device)
            (loss / accumulation_steps).backward()  # gradients add up over the accumulated batches
            tokens_seen += input_batch.numel()
            if (batch_idx + 1) % accumulation_steps != 0 and batch_idx + 1 != len(train_loader):
                continue
            optimizer.step()
            optimizer.zero_grad()
            global_step += 1
            if global_step % eval_freq == 0:
                train_loss, val_loss = evaluate_model(model, train_loader, val_loader, device, eval_iter)
                train_losses.append(train_loss)
                val_losses.append(val_loss)
                track_tokens_seen.append(tokens_seen)
                print(f"Ep {epoch + 1} (Step {global_step:06d}): Train loss {train_loss:.3f}, Val loss {val_loss:.3f}")
                if val_loss < best_val:
                    best_val, evals_without_improvement = val_loss, 0
                else:
                    evals_without_improvement += 1
                if patience is not None and evals_without_improvement >= patience:
                    print(f"Stopping early: no better validation loss in {patience} evaluations")
                    return train_losses, val_losses, track_tokens_seen
        generate_and_print_sample(model, tokenizer, device, start_context)
    return train_losses, val_losses, track_tokens_seen"""),
    ("code", """\
num_epochs = 1 if FAST else 10
torch.manual_seed(123)
model = GPTModel(TRAIN_CONFIG).to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=0.0004, weight_decay=0.1)
start = time.time()
train_losses, val_losses, tokens_seen = train_model_simple(
    model, train_loader, val_loader, optimizer, device, num_epochs=num_epochs, eval_freq=5, eval_iter=5,
    start_context="Every effort moves you", tokenizer=tokenizer)
print(f"training took {(time.time() - start) / 60:.2f} minutes")"""),
    ("md", """\
### Training curves

The training loss keeps falling while the validation loss flattens out and then rises: with a
text this short the model starts to memorise it (overfitting)."""),
    ("code", """\
fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(tokens_seen, train_losses, label="training loss")
ax.plot(tokens_seen, val_losses, linestyle="-.", label="validation loss")
ax.set_xlabel("tokens seen")
ax.set_ylabel("loss")
ax.legend()
plt.tight_layout()
plt.show()
print(f"final: train loss {train_losses[-1]:.3f} (perplexity {perplexity(train_losses[-1]):,.0f}), "
      f"val loss {val_losses[-1]:.3f} (perplexity {perplexity(val_losses[-1]):,.0f})")"""),
    ("md", """\
## 5.3 Decoding strategies

Greedy decoding always picks the most likely token, so the same prompt always gives the same,
often repetitive, text. Sampling from the softmax instead adds variety, controlled by:

- **temperature**: logits are divided by it before the softmax. Below 1 the distribution gets
  sharper (closer to greedy), above 1 flatter (more random);
- **top-k**: only the k largest logits stay, the rest become `-inf`, so unlikely tokens can
  never be drawn;
- **top-p (nucleus, exercise 5.2)**: keep the smallest set of most likely tokens whose
  probabilities add up to at least p. Unlike top-k the size of that set adapts to how sure the
  model is.

`generate` below combines all of them; with `temperature=0.0` it is greedy decoding, and it
stops early when the model produces `eos_id`."""),
    ("code", """\
vocab = {"closer": 0, "every": 1, "effort": 2, "forward": 3, "inches": 4, "moves": 5, "pizza": 6, "toward": 7, "you": 8}
next_token_logits = torch.tensor([4.51, 0.89, -1.90, 6.75, 1.63, -1.62, -1.89, 6.28, 1.79])
fig, ax = plt.subplots(figsize=(6, 2.5))
for i, temperature in enumerate([1.0, 0.1, 5.0]):
    probs = torch.softmax(next_token_logits / temperature, dim=0)
    ax.bar(np.arange(len(vocab)) + (i - 1) * 0.25, probs, width=0.25, label=f"temperature {temperature}")
ax.set_xticks(range(len(vocab)), labels=list(vocab), rotation=90)
ax.legend()
plt.tight_layout()
plt.show()"""),
    ("code", """\
def generate(model, idx, max_new_tokens, context_size, temperature=0.0, top_k=None, eos_id=None, top_p=None):
    \"\"\"Greedy (temperature 0) or sampled generation with optional top-k, top-p and an end token.\"\"\"
    for _ in range(max_new_tokens):
        with torch.no_grad():
            logits = model(idx[:, -context_size:])[:, -1, :]  # (batch, vocab): only the last position
        if top_k is not None:
            top_logits, _ = torch.topk(logits, top_k)
            min_val = top_logits[:, -1:]  # the k-th largest logit of every row
            logits = torch.where(logits < min_val, torch.full_like(logits, -torch.inf), logits)
        if temperature > 0.0:
            logits = logits / temperature
            if top_p is not None:
                sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
                cumulative = torch.cumsum(torch.softmax(sorted_logits, dim=-1), dim=-1)
                drop_sorted = cumulative - torch.softmax(sorted_logits, dim=-1) >= top_p  # mass before >= p
                drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
                logits = logits.masked_fill(drop, -torch.inf)
            probs = torch.softmax(logits, dim=-1)
            idx_next = torch.multinomial(probs, num_samples=1)  # (batch, 1)
        else:
            idx_next = torch.argmax(logits, dim=-1, keepdim=True)
        if eos_id is not None and bool((idx_next == eos_id).all()):
            break
        idx = torch.cat((idx, idx_next), dim=1)
    return idx"""),
    ("code", """\
model.eval()
prompt = text_to_token_ids("Every effort moves you", tokenizer).to(device)
strategies = {"greedy": {}, "temperature 1.4, top-k 25": {"temperature": 1.4, "top_k": 25},
              "nucleus p=0.9": {"temperature": 1.0, "top_p": 0.9}}
for name, options in strategies.items():
    torch.manual_seed(123)
    out = generate(model, prompt, max_new_tokens=10, context_size=TRAIN_CONFIG["context_length"], **options)
    print(f"{name:>26}: {token_ids_to_text(out, tokenizer)!r}")"""),
    ("md", """\
## 5.4 Saving and loading a checkpoint

To continue training later I save the model's and the optimizer's state dicts (AdamW keeps
running averages per weight, so a restart without them would behave differently)."""),
    ("code", """\
torch.save({"model_state_dict": model.state_dict(), "optimizer_state_dict": optimizer.state_dict()},
           "model_and_optimizer.pth")
checkpoint = torch.load("model_and_optimizer.pth", map_location=device, weights_only=True)
restored = GPTModel(TRAIN_CONFIG).to(device)
restored.load_state_dict(checkpoint["model_state_dict"])
restored_optimizer = torch.optim.AdamW(restored.parameters(), lr=0.0004, weight_decay=0.1)
restored_optimizer.load_state_dict(checkpoint["optimizer_state_dict"])
print("restored the same weights:", all(torch.equal(a, b) for a, b in zip(model.state_dict().values(),
                                                                           restored.state_dict().values())))
os.remove("model_and_optimizer.pth")"""),
    ("md", """\
## 5.5 Loading OpenAI's GPT-2 weights

OpenAI's checkpoint comes as a nested dict `params` of numpy arrays: `wte` and `wpe` (token and
position embeddings), per block `attn.c_attn` (query, key and value fused into one matrix),
`attn.c_proj`, `mlp.c_fc`, `mlp.c_proj`, `ln_1`, `ln_2`, and the final norm's `g` and `b`.
Two things need care:

1. OpenAI's layers are `Conv1D` modules that store weights as (in, out); `nn.Linear` stores
   (out, in), so every weight matrix must be transposed.
2. `c_attn.w` has shape (emb, 3 * emb); splitting it into three along the last axis gives the
   query, key and value weights, in that order.

GPT-2 uses biases in the query/key/value projections (`qkv_bias=True`) and ties the output
head to the token embedding, so `out_head` gets `wte`. `assign` checks the shapes so that a
forgotten transpose fails loudly."""),
    ("code", """\
def assign(left, right):
    \"\"\"A new Parameter holding `right`, after checking it has the shape of `left`.\"\"\"
    if left.shape != right.shape:
        raise ValueError(f"Shape mismatch. Left: {left.shape}, Right: {right.shape}")
    return torch.nn.Parameter(torch.tensor(right, dtype=left.dtype))


def load_weights_into_gpt(gpt, params):
    gpt.pos_emb.weight = assign(gpt.pos_emb.weight, params["wpe"])
    gpt.tok_emb.weight = assign(gpt.tok_emb.weight, params["wte"])
    for b, block_params in enumerate(params["blocks"]):
        block, attn, mlp = gpt.trf_blocks[b], block_params["attn"], block_params["mlp"]
        q_w, k_w, v_w = np.split(attn["c_attn"]["w"], 3, axis=-1)
        q_b, k_b, v_b = np.split(attn["c_attn"]["b"], 3, axis=-1)
        block.att.W_query.weight = assign(block.att.W_query.weight, q_w.T)
        block.att.W_key.weight = assign(block.att.W_key.weight, k_w.T)
        block.att.W_value.weight = assign(block.att.W_value.weight, v_w.T)
        block.att.W_query.bias = assign(block.att.W_query.bias, q_b)
        block.att.W_key.bias = assign(block.att.W_key.bias, k_b)
        block.att.W_value.bias = assign(block.att.W_value.bias, v_b)
        block.att.out_proj.weight = assign(block.att.out_proj.weight, attn["c_proj"]["w"].T)
        block.att.out_proj.bias = assign(block.att.out_proj.bias, attn["c_proj"]["b"])
        block.ff.layers[0].weight = assign(block.ff.layers[0].weight, mlp["c_fc"]["w"].T)
        block.ff.layers[0].bias = assign(block.ff.layers[0].bias, mlp["c_fc"]["b"])
        block.ff.layers[2].weight = assign(block.ff.layers[2].weight, mlp["c_proj"]["w"].T)
        block.ff.layers[2].bias = assign(block.ff.layers[2].bias, mlp["c_proj"]["b"])
        block.norm1.scale = assign(block.norm1.scale, block_params["ln_1"]["g"])
        block.norm1.shift = assign(block.norm1.shift, block_params["ln_1"]["b"])
        block.norm2.scale = assign(block.norm2.scale, block_params["ln_2"]["g"])
        block.norm2.shift = assign(block.norm2.shift, block_params["ln_2"]["b"])
    gpt.final_norm.scale = assign(gpt.final_norm.scale, params["g"])
    gpt.final_norm.shift = assign(gpt.final_norm.shift, params["b"])
    gpt.out_head.weight = assign(gpt.out_head.weight, params["wte"])  # weight tying"""),
    ("md", """\
The download needs the internet and TensorFlow (to read the checkpoint), which the autograder
does not have. In fast mode I therefore build a *stand-in* with exactly GPT-2's layout but
small random arrays, which still exercises every line of `load_weights_into_gpt`."""),
    ("code", """\
def stand_in_gpt2_params(cfg, seed=0):
    \"\"\"Random numpy arrays in OpenAI's GPT-2 layout (w as (in, out)) for a config.\"\"\"
    rng = np.random.default_rng(seed)
    d = cfg["emb_dim"]
    w = lambda *shape: rng.normal(0.0, 0.02, shape).astype(np.float32)
    norm = lambda: {"g": np.ones(d, np.float32), "b": np.zeros(d, np.float32)}
    block = lambda: {"attn": {"c_attn": {"w": w(d, 3 * d), "b": w(3 * d)}, "c_proj": {"w": w(d, d), "b": w(d)}},
                     "mlp": {"c_fc": {"w": w(d, 4 * d), "b": w(4 * d)}, "c_proj": {"w": w(4 * d, d), "b": w(d)}},
                     "ln_1": norm(), "ln_2": norm()}
    return {"wte": w(cfg["vocab_size"], d), "wpe": w(cfg["context_length"], d),
            "blocks": [block() for _ in range(cfg["n_layers"])], **norm()}


if FAST:
    gpt2_config = {**SMALL_CONFIG, "qkv_bias": True}
    params = stand_in_gpt2_params(gpt2_config)
else:
    from gpt_download import download_and_load_gpt2  # the book's helper script, next to this notebook
    settings, params = download_and_load_gpt2(model_size="124M", models_dir="gpt2")
    gpt2_config = {**GPT_CONFIG_124M, "context_length": 1024, "qkv_bias": True}

gpt2 = GPTModel(gpt2_config)
load_weights_into_gpt(gpt2, params)
gpt2.to(device).eval()
torch.manual_seed(123)
out = generate(gpt2, prompt, max_new_tokens=10, context_size=gpt2_config["context_length"], temperature=1.5, top_k=50)
print("GPT-2:", token_ids_to_text(out, tokenizer))
out = generate(model, prompt, max_new_tokens=10, context_size=TRAIN_CONFIG["context_length"], temperature=1.5, top_k=50)
print("mine: ", token_ids_to_text(out, tokenizer))"""),
    ("md", """\
## Exercise 5.1: learning-rate warmup and cosine decay (appendix D)

A large learning rate at the start, while the weights are random, can make the first updates
erratic. `train_model` raises the learning rate linearly from `initial_lr` to the optimizer's
peak over `warmup_steps` steps, then lets it follow half a cosine down to `min_lr`. After the
warmup it also clips the gradient norm to 1.0, so one unusual batch cannot throw the weights
far off."""),
    ("code", """\
def train_model(model, train_loader, val_loader, optimizer, device, n_epochs, eval_freq, eval_iter,
                start_context, tokenizer, warmup_steps, initial_lr=3e-05, min_lr=1e-6):
    \"\"\"train_model_simple with warmup, cosine decay and gradient clipping; also returns the lrs.\"\"\"
    train_losses, val_losses, track_tokens_seen, track_lrs = [], [], [], []
    tokens_seen, global_step = 0, -1
    peak_lr = optimizer.param_groups[0]["lr"]
    total_training_steps = len(train_loader) * n_epochs
    lr_increment = (peak_lr - initial_lr) / warmup_steps
    for epoch in range(n_epochs):
        model.train()
        for input_batch, target_batch in train_loader:
            optimizer.zero_grad()
            global_step += 1
            if global_step < warmup_steps:
                lr = initial_lr + global_step * lr_increment
            else:
                progress = (global_step - warmup_steps) / (total_training_steps - warmup_steps)
                lr = min_lr + (peak_lr - min_lr) * 0.5 * (1 + math.cos(math.pi * progress))
            for param_group in optimizer.param_groups:
                param_group["lr"] = lr
            track_lrs.append(lr)
            loss = calc_loss_batch(input_batch, target_batch, model, device)
            loss.backward()
            if global_step > warmup_steps:  # clip only once warmup is over
                torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
            optimizer.step()
            tokens_seen += input_batch.numel()
            if global_step % eval_freq == 0:
                train_loss, val_loss = evaluate_model(model, train_loader, val_loader, device, eval_iter)
                train_losses.append(train_loss)
                val_losses.append(val_loss)
                track_tokens_seen.append(tokens_seen)
                print(f"Ep {epoch + 1} (Step {global_step:06d}): Train loss {train_loss:.3f}, Val loss {val_loss:.3f}")
        generate_and_print_sample(model, tokenizer, device, start_context)
    return train_losses, val_losses, track_tokens_seen, track_lrs"""),
    ("code", """\
torch.manual_seed(123)
schedule_model = GPTModel(TRAIN_CONFIG).to(device)
schedule_optimizer = torch.optim.AdamW(schedule_model.parameters(), lr=0.001, weight_decay=0.1)
n_epochs = 1 if FAST else 15
warmup_steps = int(0.2 * len(train_loader) * n_epochs)  # 20% of the steps
_, _, _, lrs = train_model(schedule_model, train_loader, val_loader, schedule_optimizer, device, n_epochs=n_epochs,
                           eval_freq=20, eval_iter=1, start_context="Every effort moves you", tokenizer=tokenizer,
                           warmup_steps=warmup_steps, initial_lr=1e-5, min_lr=1e-5)
fig, ax = plt.subplots(figsize=(5, 2.5))
ax.plot(lrs)
ax.set_xlabel("step")
ax.set_ylabel("learning rate")
plt.tight_layout()
plt.show()"""),
    ("md", """\
## Exercise 5.2: comparing sampling strategies

The three strategies printed in section 5.3 behave as expected on my trained model: greedy
decoding repeats itself, high temperature with top-k mixes in more unusual words, and nucleus
sampling stays closer to the training text while still varying. To see the difference between
top-k and top-p more directly, I count how many tokens each keeps for a confident and for an
unsure next-token distribution."""),
    ("code", """\
def kept_tokens(logits, top_k=None, top_p=None):
    probs = torch.softmax(logits, dim=-1)
    if top_k is not None:
        return top_k
    sorted_probs = torch.sort(probs, descending=True).values
    return int((torch.cumsum(sorted_probs, dim=-1) - sorted_probs < top_p).sum())


confident = torch.tensor([8.0, 2.0, 1.5, 1.0, 0.5, 0.0, -0.5, -1.0])
unsure = torch.tensor([1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3])
for name, logits in (("confident", confident), ("unsure", unsure)):
    print(f"{name:>9}: top-k=3 keeps {kept_tokens(logits, top_k=3)}, top-p=0.9 keeps {kept_tokens(logits, \
top_p=0.9)}")"""),
    ("md", """\
## Exercise 5.4: gradient accumulation

With `accumulation_steps=k`, `train_model_simple` divides each batch loss by k, calls
`backward()` after every batch (gradients add up in `.grad`), and steps the optimizer only after
every k-th batch. Because the loss is a mean, k batches of size b then give exactly the gradient
of one batch of size k*b, with the memory of a batch of size b. A quick check with plain SGD on
the same 8 sequences: 4 batches of 2 with `accumulation_steps=4` against 1 batch of 8."""),
    ("code", """\
subset = torch.utils.data.Subset(train_loader.dataset, range(8))
results = {}
for batch_size, steps in ((2, 4), (8, 1)):
    torch.manual_seed(123)
    acc_model = GPTModel({**SMALL_CONFIG, "drop_rate": 0.0}).to(device)  # no dropout: same computation
    sgd = torch.optim.SGD(acc_model.parameters(), lr=0.1)
    loader = DataLoader(subset, batch_size=batch_size, shuffle=False)
    train_model_simple(acc_model, loader, loader, sgd, device, num_epochs=1, eval_freq=100, eval_iter=1,
                       start_context="Every effort moves you", tokenizer=tokenizer, accumulation_steps=steps)
    results[batch_size] = acc_model.state_dict()
difference = max((results[2][k] - results[8][k]).abs().max().item() for k in results[2])
print(f"largest weight difference, 4 accumulated batches of 2 vs 1 batch of 8: {difference:.2e}")"""),
    ("md", """\
## Summary

The loss, the training loop, the decoding strategies and the weight loading all work, and the
loaded GPT-2 model generates fluent text where my small model, trained on one short story,
mostly recombines phrases it has memorised. The README discusses the runs in more detail."""),
]

README = """\
# Assignment 4: pretraining

All code is in `assignment4.ipynb`. With `LLM_GRADER=1` (the autograder) it trains a tiny model
for one epoch and loads a GPT-2-shaped stand-in, so it finishes in well under a minute.

## Training hyperparameters and why

My real run used the book's setup: GPT-2 small (124M parameters) with the context shortened to
256 tokens, AdamW with learning rate 4e-4 and weight decay 0.1, batches of 2 windows of 256
tokens (stride 256, so no window overlaps), 10 epochs, an evaluation every 5 optimizer steps on
5 batches. The learning rate is the largest at which the loss fell smoothly in a few short
trials (1e-3 made it jump around); weight decay keeps the weights from growing while the model
memorises the short text; evaluating on 5 batches keeps the evaluations cheap.

## How the loss decreases

The training loss starts at about 10.98 (perplexity of roughly 59,000, close to the vocabulary
size: the untrained model guesses uniformly) and falls to below 1 after 10 epochs. The
validation loss falls with it to about 6.4 by epoch 4 and then stays there and rises slightly:
after that the model memorises the training text (overfitting), which is no surprise with only
about 4,600 training tokens.

## Quality of the generated text

After the first epoch the samples are "Every effort moves you,,,,,,," and similar; after three
epochs the model produces common words and punctuation ("and, and I had been the picture");
by the end it writes grammatical sentences, many of them copied verbatim from the story.
Sampling with temperature and top-k gives more varied text than greedy decoding, at the price
of occasional nonsense.

## Training from scratch vs pretrained weights

Training from scratch on 20,000 characters can only teach the model this one story; the loaded
GPT-2 weights were trained on about 40 GB of text and continue any prompt fluently. Loading them
needed care with the layout: OpenAI stores every weight matrix transposed relative to
`nn.Linear`, the query, key and value weights are fused into one matrix, and GPT-2 needs
biases in the attention projections.

## Compute resources

The 10-epoch run of the 124M model took about 2 hours 10 minutes on my laptop's CPU (Intel
i7, 16 GB RAM). In the autograder's fast mode the notebook trains a 32-dimensional model with a
32-token context for one epoch in a few seconds.
"""

# ---------------------------------------------------------------- the samples

# student -> [(old, new)]: each flawed sample is the correct notebook with ONE bug.
BUGS = {
    "ben-loss-over-tokens": [(
        "    return F.cross_entropy(logits.flatten(0, 1), target_batch.flatten())",
        """\
    log_probs = torch.log_softmax(logits, dim=1)  # log-probabilities of every entry
    target_log_probs = log_probs.gather(-1, target_batch.unsqueeze(-1))
    return -target_log_probs.mean()""")],
    "cara-top-k-plus-one": [(
        """\
            top_logits, _ = torch.topk(logits, top_k)
            min_val = top_logits[:, -1:]  # the k-th largest logit of every row""",
        """\
            sorted_logits, _ = torch.sort(logits, dim=-1, descending=True)
            min_val = sorted_logits[:, top_k:top_k + 1]  # the k-th largest logit of every row""")],
    "dev-qkv-swapped": [(
        """\
        q_w, k_w, v_w = np.split(attn["c_attn"]["w"], 3, axis=-1)
        q_b, k_b, v_b = np.split(attn["c_attn"]["b"], 3, axis=-1)""",
        """\
        k_w, q_w, v_w = np.split(attn["c_attn"]["w"], 3, axis=-1)
        k_b, q_b, v_b = np.split(attn["c_attn"]["b"], 3, axis=-1)""")],
    "eli-c-fc-not-transposed": [(
        'block.ff.layers[0].weight = assign(block.ff.layers[0].weight, mlp["c_fc"]["w"].T)',
        'block.ff.layers[0].weight = assign(block.ff.layers[0].weight, mlp["c_fc"]["w"])')],
    "finn-eval-mode-stays": [(
        """\
        val_loss = calc_loss_loader(val_loader, model, device, num_batches=eval_iter)
    model.train()
    return train_loss, val_loss""",
        """\
        val_loss = calc_loss_loader(val_loader, model, device, num_batches=eval_iter)
    return train_loss, val_loss""")],
}

# gus: correct, but his training cell always runs his real, hours-long configuration.
GUS_SHORT = """\
num_epochs = 1 if FAST else 10
torch.manual_seed(123)
model = GPTModel(TRAIN_CONFIG).to(device)"""
GUS_LONG = """\
# My final run: GPT-2 small for 40 epochs (about 8 hours on my laptop's CPU).
num_epochs = 40
torch.manual_seed(123)
model = GPTModel(GPT_CONFIG_124M).to(device)"""

# hana: her own names, mapped with GRADER_NAMES; exercise functions under names the grader must find.
HANA_RENAMES = [
    (r"\bcalc_loss_batch\b", "batch_loss"), (r"\bcalc_loss_loader\b", "loader_loss"),
    (r"\bevaluate_model\b", "estimate_losses"), (r"\btrain_model_simple\b", "pretrain"),
    (r"\bload_weights_into_gpt\b", "load_openai_weights"), (r"\bGPTModel\b", "MiniGPT"),
    (r"\bperplexity\(", "perplexity_from_loss("), (r"\bdef perplexity\b", "def perplexity_from_loss"),
    (r"\btrain_model\b", "train_with_schedule"), (r"\baccumulation_steps\b", "grad_accum_steps"),
]
HANA_GENERATE = (
    """\
        if temperature > 0.0:
            logits = logits / temperature
            if top_p is not None:
                sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
                cumulative = torch.cumsum(torch.softmax(sorted_logits, dim=-1), dim=-1)
                drop_sorted = cumulative - torch.softmax(sorted_logits, dim=-1) >= top_p  # mass before >= p
                drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
                logits = logits.masked_fill(drop, -torch.inf)
            probs""",
    """\
        if temperature > 0.0:
            logits = logits / temperature
            if nucleus is not None:
                logits = nucleus_filter(logits, nucleus)
            probs""")
HANA_NUCLEUS = '''\
def nucleus_filter(logits, top_p):
    """Logits with every token outside the nucleus (smallest set reaching top_p) set to -inf."""
    probs = torch.softmax(logits, dim=-1)
    sorted_probs, order = torch.sort(probs, dim=-1, descending=True)
    outside = torch.cumsum(sorted_probs, dim=-1) - sorted_probs >= top_p
    return logits.masked_fill(torch.zeros_like(outside).scatter(-1, order, outside), -torch.inf)


'''
HANA_MAPPING = grader_names({
    "GPTModel": "MiniGPT",
    "calc_loss_batch": "batch_loss",
    "calc_loss_loader": "loader_loss",
    "evaluate_model": "estimate_losses",
    "train_model_simple": "pretrain",
    "generate": "sample_tokens",
    "load_weights_into_gpt": "load_openai_weights",
}, "# The autograder looks for the book's names; mine differ, so I map them here.")


def hana_cells(cells):
    """The correct cells with Hana's names and her separate nucleus filter."""
    out = []
    for kind, source in cells:
        if kind == "code":
            if "def generate(" in source:
                old, new = HANA_GENERATE
                assert old in source
                source = HANA_NUCLEUS + source.replace(old, new).replace("top_p=None):", "nucleus=None):")
            source = re.sub(r"\bgenerate\(", "sample_tokens(", source)
            source = source.replace('"top_p": 0.9', '"nucleus": 0.9')
            for pattern, new in HANA_RENAMES:
                source = re.sub(pattern, new, source)
        out.append((kind, source))
    out += [("md", "## Names for the autograder"), ("code", HANA_MAPPING)]
    require(out, "def batch_loss(", "def pretrain(", "def sample_tokens(", "nucleus=None):", "def nucleus_filter(",
            "def perplexity_from_loss(", "def train_with_schedule(", "grad_accum_steps=1", "class MiniGPT(",
            "eos_id=None, nucleus=None):")
    return out


ADA = Sample("a4", "ada-correct", "assignment4.ipynb", CELLS, README, run=RUN)
SAMPLES = [ADA, variant(ADA, "gus-long-training", [(GUS_SHORT, GUS_LONG)], run_cells=CELLS),
           variant(ADA, "hana-grader-names", cells=hana_cells(CELLS))]
SAMPLES += [variant(ADA, student, replacements, may_fail=student == "eli-c-fc-not-transposed")
            for student, replacements in BUGS.items()]
