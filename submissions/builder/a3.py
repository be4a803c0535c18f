"""a3 (chapter 4, the GPT model): the book-style notebook, one-bug copies, Ivy's correct notebook with her own
names (mapped with GRADER_NAMES), and Jon's, correct but creating the feed-forward network before attention (so
weights cannot be transplanted by creation order and seeded outputs differ from the book's)."""

from .core import Sample, own_names, variant

CELLS = [
    ("md", """\
# Assignment 3: the GPT architecture (chapter 4)

In this notebook I assemble a GPT-2-style model piece by piece: layer normalisation, the GELU
activation, the feed-forward network, shortcut connections, the transformer block, and finally
the full model with token and position embeddings. At the end the (untrained) model generates
text, and I count its parameters. Exercises 4.1 (GPT sizes), 4.3 (KV cache) and 4.4 (memory)
are at the bottom."""),
    ("code", """\
import math
import os

import matplotlib.pyplot as plt
import tiktoken
import torch
import torch.nn as nn

print("torch", torch.__version__)"""),
    ("md", """\
## The configuration

All sizes come from one dictionary, so the same classes build the 124M model and the tiny
models I use for quick experiments."""),
    ("code", """\
GPT_CONFIG_124M = {
    "vocab_size": 50257,     # BPE vocabulary of GPT-2
    "context_length": 1024,  # longest sequence the position embedding covers
    "emb_dim": 768,          # width of every token vector
    "n_heads": 12,           # attention heads per block
    "n_layers": 12,          # number of transformer blocks
    "drop_rate": 0.1,        # dropout probability
    "qkv_bias": False,       # GPT-2 style models here use no bias in the q/k/v projections
}"""),
    ("md", """\
## A sample batch

Two short texts, tokenised with GPT-2's BPE tokenizer from `tiktoken`, stacked into a batch of
shape (2, 4). I compare the ids with the ones printed in the book."""),
    ("code", """\
tokenizer = tiktoken.get_encoding("gpt2")
texts = ["Every effort moves you", "Every day holds a"]
batch = torch.stack([torch.tensor(tokenizer.encode(t)) for t in texts])
print(batch)
print("same ids as the book:", batch.tolist() == [[6109, 3626, 6100, 345], [6109, 1110, 6622, 257]])"""),
    ("md", """\
## Multi-head attention (from assignment 2)

The attention module is my chapter 3 implementation. For exercise 4.3 I later added an optional
key/value cache: with `use_cache=True` the keys and values of earlier calls are kept, so a new
token only needs its own query, key and value. Without the cache it behaves exactly as before."""),
    ("code", """\
class MultiHeadAttention(nn.Module):
    \"\"\"Causal multi-head self-attention with an optional key/value cache.\"\"\"

    def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias=False):
        super().__init__()
        assert d_out % num_heads == 0, "d_out must be divisible by num_heads"
        self.d_out = d_out
        self.num_heads = num_heads
        self.head_dim = d_out // num_heads
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.out_proj = nn.Linear(d_out, d_out)  # mixes the heads back together
        self.dropout = nn.Dropout(dropout)
        # 1 above the diagonal marks a future position that must stay hidden
        self.register_buffer("mask", torch.triu(torch.ones(context_length, context_length), diagonal=1))
        self.cache_k, self.cache_v = None, None

    def reset_cache(self):
        self.cache_k, self.cache_v = None, None

    def _heads(self, t, b, num_tokens):
        # (b, T, d_out) -> (b, num_heads, T, head_dim)
        return t.view(b, num_tokens, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(self, x, use_cache=False):
        b, num_tokens, _ = x.shape
        queries = self._heads(self.W_query(x), b, num_tokens)
        keys = self._heads(self.W_key(x), b, num_tokens)
        values = self._heads(self.W_value(x), b, num_tokens)

        start = 0  # position of the first new token
        if use_cache:
            if self.cache_k is not None:
                start = self.cache_k.shape[2]
                keys = torch.cat([self.cache_k, keys], dim=2)
                values = torch.cat([self.cache_v, values], dim=2)
            self.cache_k, self.cache_v = keys, values

        scores = queries @ keys.transpose(2, 3)  # (b, heads, T, start + T)
        mask = self.mask.bool()[start:start + num_tokens, :start + num_tokens]
        scores.masked_fill_(mask, -torch.inf)
        weights = torch.softmax(scores / self.head_dim ** 0.5, dim=-1)
        weights = self.dropout(weights)

        context = (weights @ values).transpose(1, 2)  # (b, T, heads, head_dim)
        context = context.contiguous().view(b, num_tokens, self.d_out)
        return self.out_proj(context)"""),
    ("md", """\
## 4.2 Layer normalisation

Layer normalisation rescales every token vector to mean 0 and variance 1 across its embedding
dimension, then applies a learnable `scale` and `shift`. I use the *biased* variance (divide by
n, not n - 1), as GPT-2 and `torch.nn.LayerNorm` do, and add a small `eps` inside the square
root so that a constant vector does not divide by zero.

GPT-2 places the normalisation *before* attention and the feed-forward network (pre-norm);
the original transformer normalised after the residual addition (post-norm). Pre-norm keeps an
unnormalised residual path through the whole network, which makes deep stacks easier to train."""),
    ("code", """\
class LayerNorm(nn.Module):
    \"\"\"Normalise the last dimension, then scale and shift.\"\"\"

    def __init__(self, emb_dim):
        super().__init__()
        self.eps = 1e-5
        self.scale = nn.Parameter(torch.ones(emb_dim))
        self.shift = nn.Parameter(torch.zeros(emb_dim))

    def forward(self, x):
        mean = x.mean(dim=-1, keepdim=True)
        var = x.var(dim=-1, keepdim=True, unbiased=False)  # biased, like GPT-2 and torch
        norm_x = (x - mean) / torch.sqrt(var + self.eps)
        return self.scale * norm_x + self.shift"""),
    ("code", """\
torch.manual_seed(123)
example = torch.randn(2, 5) * 3 + 1
ln = LayerNorm(emb_dim=5)
out = ln(example)
print("mean per row:", out.mean(dim=-1))
print("variance per row:", out.var(dim=-1, unbiased=False))

torch_ln = nn.LayerNorm(5, eps=1e-5)
print("largest difference to torch.nn.LayerNorm:", (out - torch_ln(example)).abs().max().item())"""),
    ("md", """\
## 4.3 GELU and the feed-forward network

GELU is a smooth alternative to ReLU: it lets small negative values through with a small
negative output, and its gradient is not zero for negative inputs. GPT-2 uses the tanh
approximation below, so I implement that one rather than the exact `erf` form."""),
    ("code", """\
class GELU(nn.Module):
    \"\"\"GELU in the tanh approximation used by GPT-2.\"\"\"

    def forward(self, x):
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))"""),
    ("code", """\
xs = torch.linspace(-3, 3, 100)
fig, axes = plt.subplots(1, 2, figsize=(7, 2.5), dpi=80)
for ax, (name, fn) in zip(axes, [("GELU", GELU()), ("ReLU", nn.ReLU())]):
    ax.plot(xs, fn(xs))
    ax.set_title(name)
    ax.grid(True)
plt.tight_layout()
plt.show()

tanh_vs_torch = (GELU()(xs) - torch.nn.functional.gelu(xs, approximate="tanh")).abs().max().item()
print("largest difference to torch's tanh GELU:", tanh_vs_torch)"""),
    ("md", """\
The feed-forward network works on every position separately: it expands the embedding to four
times its width, applies GELU, and projects back. The expansion gives the model a wider space
in which to combine features before compressing them again."""),
    ("code", """\
class FeedForward(nn.Module):
    \"\"\"Position-wise MLP: emb_dim -> 4 * emb_dim -> emb_dim with GELU in between.\"\"\"

    def __init__(self, cfg):
        super().__init__()
        hidden = 4 * cfg["emb_dim"]  # GPT-2 expands by a factor of four
        self.layers = nn.Sequential(
            nn.Linear(cfg["emb_dim"], hidden),
            GELU(),
            nn.Linear(hidden, cfg["emb_dim"]),
        )

    def forward(self, x):
        return self.layers(x)


ffn = FeedForward(GPT_CONFIG_124M)
print(ffn(torch.rand(2, 3, 768)).shape)"""),
    ("md", """\
## 4.4 Shortcut connections

To see why shortcuts matter, I train nothing but compare gradient sizes in a deep stack of
small layers, once without and once with shortcuts. Without them the gradient shrinks on its
way back to the first layer; with them it stays large."""),
    ("code", """\
class DeepStack(nn.Module):
    def __init__(self, sizes, use_shortcut):
        super().__init__()
        self.use_shortcut = use_shortcut
        self.layers = nn.ModuleList(
            nn.Sequential(nn.Linear(a, b), GELU()) for a, b in zip(sizes[:-1], sizes[1:])
        )

    def forward(self, x):
        for layer in self.layers:
            out = layer(x)
            x = x + out if self.use_shortcut and out.shape == x.shape else out
        return x


def first_and_last_gradients(model):
    model(torch.tensor([[1.0, 0.0, -1.0]])).sum().backward()
    grads = [layer[0].weight.grad.abs().mean().item() for layer in model.layers]
    return grads[0], grads[-1]


sizes = [3, 3, 3, 3, 3, 1]
for use_shortcut in (False, True):
    torch.manual_seed(123)
    first, last = first_and_last_gradients(DeepStack(sizes, use_shortcut))
    print(f"shortcut={use_shortcut}: first layer {first:.2e}, last layer {last:.2e}")"""),
    ("md", """\
## 4.5 The transformer block

A block applies attention and then the feed-forward network, each wrapped the same way:
normalise (pre-norm), run the sub-layer, apply dropout, and add the input back (shortcut)."""),
    ("code", """\
class TransformerBlock(nn.Module):
    \"\"\"Pre-norm transformer block: attention and feed-forward, each with a shortcut.\"\"\"

    def __init__(self, cfg):
        super().__init__()
        self.att = MultiHeadAttention(
            d_in=cfg["emb_dim"],
            d_out=cfg["emb_dim"],
            context_length=cfg["context_length"],
            dropout=cfg["drop_rate"],
            num_heads=cfg["n_heads"],
            qkv_bias=cfg["qkv_bias"],
        )
        self.ff = FeedForward(cfg)
        self.norm1 = LayerNorm(cfg["emb_dim"])
        self.norm2 = LayerNorm(cfg["emb_dim"])
        self.drop_shortcut = nn.Dropout(cfg["drop_rate"])

    def forward(self, x, use_cache=False):
        shortcut = x
        x = self.norm1(x)
        x = self.att(x, use_cache=use_cache)
        x = self.drop_shortcut(x)
        x = x + shortcut

        shortcut = x
        x = self.norm2(x)
        x = self.ff(x)
        x = self.drop_shortcut(x)
        x = x + shortcut
        return x"""),
    ("code", """\
torch.manual_seed(123)
block = TransformerBlock(GPT_CONFIG_124M)
x = torch.rand(2, 4, 768)
print("input shape: ", x.shape)
print("output shape:", block(x).shape)"""),
    ("md", """\
## 4.6 The GPT model

Token embeddings say *what* a token is, position embeddings say *where* it is; their sum goes
through dropout, the stack of blocks, a final layer norm, and a linear head that gives one
logit per vocabulary entry. The position counter `current_pos` is only used with the KV cache
(exercise 4.3)."""),
    ("code", """\
class GPTModel(nn.Module):
    \"\"\"GPT-2 style decoder: embeddings, n_layers blocks, final norm, vocabulary head.\"\"\"

    def __init__(self, cfg):
        super().__init__()
        self.tok_emb = nn.Embedding(cfg["vocab_size"], cfg["emb_dim"])
        self.pos_emb = nn.Embedding(cfg["context_length"], cfg["emb_dim"])
        self.drop_emb = nn.Dropout(cfg["drop_rate"])
        self.trf_blocks = nn.ModuleList([TransformerBlock(cfg) for _ in range(cfg["n_layers"])])
        self.final_norm = LayerNorm(cfg["emb_dim"])
        self.out_head = nn.Linear(cfg["emb_dim"], cfg["vocab_size"], bias=False)
        self.current_pos = 0

    def reset_kv_cache(self):
        self.current_pos = 0
        for block in self.trf_blocks:
            block.att.reset_cache()

    def forward(self, in_idx, use_cache=False):
        batch_size, seq_len = in_idx.shape
        tok_embeds = self.tok_emb(in_idx)  # (b, T, emb_dim)
        if use_cache:
            positions = torch.arange(self.current_pos, self.current_pos + seq_len, device=in_idx.device)
            self.current_pos += seq_len
        else:
            positions = torch.arange(seq_len, device=in_idx.device)
        x = tok_embeds + self.pos_emb(positions)  # broadcast over the batch
        x = self.drop_emb(x)
        for block in self.trf_blocks:
            x = block(x, use_cache=use_cache)
        x = self.final_norm(x)
        logits = self.out_head(x)  # (b, T, vocab_size)
        return logits"""),
    ("code", """\
torch.manual_seed(123)
model = GPTModel(GPT_CONFIG_124M)
model.eval()
with torch.no_grad():
    logits = model(batch)
print("input batch:", batch.shape)
print("logits:", logits.shape)
print(logits[0, :2, :5])"""),
    ("md", """\
### Model size

Counting every parameter gives about 163M, more than the "124M" in the model's name: GPT-2
reuses the token embedding matrix as its output head (weight tying), and subtracting the head
gives the familiar number."""),
    ("code", """\
total_params = sum(p.numel() for p in model.parameters())
head_params = model.out_head.weight.numel()
print(f"total parameters:        {total_params:,}")
print(f"with weight tying:       {total_params - head_params:,}")
print(f"size in float32:         {total_params * 4 / 1024 ** 2:.2f} MB")

breakdown = {
    "token embedding": model.tok_emb.weight.numel(),
    "position embedding": model.pos_emb.weight.numel(),
    "attention (all blocks)": sum(p.numel() for b in model.trf_blocks for p in b.att.parameters()),
    "feed-forward (all blocks)": sum(p.numel() for b in model.trf_blocks for p in b.ff.parameters()),
    "layer norms": sum(p.numel() for m in model.modules() if isinstance(m, LayerNorm) for p in m.parameters()),
    "output head": head_params,
}
for name, count in breakdown.items():
    print(f"{name:>26}: {count:>12,}")
print("adds up:", sum(breakdown.values()) == total_params)"""),
    ("md", """\
## 4.7 Generating text

Generation repeats one step: run the model on the current sequence (cropped to the last
`context_size` tokens, because the position embedding covers no more), take the logits of the
last position, pick the most likely token, and append it."""),
    ("code", """\
def generate_text_simple(model, idx, max_new_tokens, context_size):
    \"\"\"Greedy decoding: append the most likely next token max_new_tokens times.\"\"\"
    for _ in range(max_new_tokens):
        idx_cond = idx[:, -context_size:]  # keep only what fits into the context
        with torch.no_grad():
            logits = model(idx_cond)
        logits = logits[:, -1, :]  # the last position predicts the next token
        probas = torch.softmax(logits, dim=-1)
        idx_next = torch.argmax(probas, dim=-1, keepdim=True)  # (b, 1)
        idx = torch.cat((idx, idx_next), dim=1)
    return idx"""),
    ("code", """\
# The grader sets LLM_GRADER=1; generating all ten tokens with the 124M model is slow on its CPUs.
new_tokens = 2 if os.environ.get("LLM_GRADER") else 10
start_ids = torch.tensor([tokenizer.encode("Hello, I am")])
out = generate_text_simple(model=model, idx=start_ids, max_new_tokens=new_tokens,
                           context_size=GPT_CONFIG_124M["context_length"])
book = [15496, 11, 314, 716, 27018, 24086, 47843, 30961, 42348, 7267, 49706, 43231, 47062, 34657]
print(out.tolist())
print("matches the book's ids:", out[0].tolist() == book[:out.shape[1]])
print(repr(tokenizer.decode(out[0].tolist())))"""),
    ("md", """\
The continuation is gibberish, as expected: the weights are random, so every token is as good
as any other. The numbers match the book because I create the layers in the same order under
the same seed."""),
    ("md", """\
## Exercise 4.1: GPT-2 sizes

The four released GPT-2 models differ only in width, depth and number of heads. I count their
parameters on PyTorch's `meta` device, which records shapes without allocating memory, so even
the 1.5B model is counted instantly."""),
    ("code", """\
GPT2_SIZES = {
    "gpt2-small": {"emb_dim": 768, "n_layers": 12, "n_heads": 12},
    "gpt2-medium": {"emb_dim": 1024, "n_layers": 24, "n_heads": 16},
    "gpt2-large": {"emb_dim": 1280, "n_layers": 36, "n_heads": 20},
    "gpt2-xl": {"emb_dim": 1600, "n_layers": 48, "n_heads": 25},
}


def count_params(cfg):
    with torch.device("meta"):
        m = GPTModel(cfg)
    return sum(p.numel() for p in m.parameters())


size_counts = {}
for name, size in GPT2_SIZES.items():
    size_counts[name] = count_params({**GPT_CONFIG_124M, **size})
    print(f"{name:>12}: {size_counts[name]:>14,} parameters, {size_counts[name] * 4 / 1024 ** 3:.2f} GB in \
float32")"""),
    ("md", """\
## Exercise 4.4: memory

Parameters are only part of the memory: the optimizer keeps two more tensors per parameter
(AdamW), and gradients another one. The plot shows the float32 memory of the weights alone and
of weights + gradients + AdamW states."""),
    ("code", """\
names = list(size_counts)
weights_gb = [size_counts[n] * 4 / 1024 ** 3 for n in names]
training_gb = [w * 4 for w in weights_gb]  # weights, gradients and two AdamW moments
fig, ax = plt.subplots(figsize=(6, 2.8), dpi=80)
ax.bar([i - 0.2 for i in range(len(names))], weights_gb, width=0.4, label="weights")
ax.bar([i + 0.2 for i in range(len(names))], training_gb, width=0.4, label="training (AdamW)")
ax.set_xticks(range(len(names)), names)
ax.set_ylabel("GB (float32)")
ax.legend()
plt.tight_layout()
plt.show()"""),
    ("md", """\
## Exercise 4.3: a KV cache

The cache makes each step after the first process only the newest token. I check it against
`generate_text_simple` on a small model: both must produce exactly the same ids."""),
    ("code", """\
def generate_text_simple_cached(model, idx, max_new_tokens, context_size=None):
    \"\"\"Greedy decoding like generate_text_simple, reusing cached keys and values.\"\"\"
    context_size = context_size or model.pos_emb.num_embeddings
    model.reset_kv_cache()
    with torch.no_grad():
        logits = model(idx[:, -context_size:], use_cache=True)  # fill the cache with the prompt
        for _ in range(max_new_tokens):
            idx_next = torch.argmax(logits[:, -1, :], dim=-1, keepdim=True)
            idx = torch.cat((idx, idx_next), dim=1)
            logits = model(idx_next, use_cache=True)  # only the new token goes through the model
    model.reset_kv_cache()
    return idx"""),
    ("code", """\
SMALL_CFG = {**GPT_CONFIG_124M, "vocab_size": 500, "context_length": 64, "emb_dim": 64,
             "n_heads": 4, "n_layers": 2, "drop_rate": 0.0}
torch.manual_seed(0)
small = GPTModel(SMALL_CFG).eval()
prompt = torch.randint(0, 500, (2, 5))
plain = generate_text_simple(small, prompt, max_new_tokens=12, context_size=64)
cached = generate_text_simple_cached(small, prompt, max_new_tokens=12)
print("same ids with and without the cache:", torch.equal(plain, cached))"""),
]

README = """\
# Assignment 3: GPT architecture

All code is in `assignment3.ipynb`; it runs top to bottom on a CPU in well under a minute.

## The role of each component

- **Token embedding** turns each token id into a learned vector; **position embedding** adds a
  learned vector per position, because attention by itself ignores order.
- **Multi-head attention** (causal) lets each position gather information from itself and the
  positions before it; several heads look for different relations at once.
- **Feed-forward network** processes each position on its own: it widens the vector to four
  times the embedding size, applies GELU, and projects back.
- **LayerNorm** keeps the activations entering attention and the feed-forward network at mean 0
  and variance 1 (pre-norm), which stabilises training; a final LayerNorm precedes the head.
- **GELU** is a smooth ReLU-like non-linearity; GPT-2 uses its tanh approximation.
- **Output head** maps every final vector to one logit per vocabulary entry.

## Why residual connections are critical

In my shortcut experiment the mean gradient of the first layer of a five-layer stack was
orders of magnitude smaller than that of the last layer without shortcuts, and of the same
order with them. The shortcut gives the gradient a path that skips every layer, so deep stacks
(12 to 48 blocks in GPT-2) still receive a useful training signal in their first layers. In a
pre-norm block the residual stream itself is never normalised, which keeps that path clean.

## Parameter count by component (GPT-2 124M configuration)

| component | parameters |
|---|---:|
| token embedding (50257 x 768) | 38,597,376 |
| position embedding (1024 x 768) | 786,432 |
| attention, 12 blocks | 28,320,768 |
| feed-forward, 12 blocks | 56,669,184 |
| layer norms (25 x 2 x 768) | 38,400 |
| output head (768 x 50257) | 38,597,376 |
| **total** | **163,009,536** |

Without the output head (GPT-2 ties it to the token embedding) this is 124,412,160, and the
weights take 621.83 MB in float32. The feed-forward networks hold about twice as many
parameters as the attention layers. For exercise 4.1 the same recipe gives 406,212,608
(medium), 838,220,800 (large) and 1,637,792,000 (xl) parameters.

## Sample generation before training

Starting from "Hello, I am" with seed 123, the model appends the ids
27018, 24086, 47843, ... exactly as in the book; decoded they are random word pieces. That is
expected: with random weights the logits carry no knowledge of language, so greedy decoding
just follows whichever token happens to score highest.

## Challenges

Getting the cached generation to match the plain one took a while: the position embedding has
to continue from the number of cached tokens, and the causal mask has to be sliced at an
offset. Checking both versions for identical ids on a small model made the bugs easy to see.
"""

# ---------------------------------------------------------------- the samples

# student -> [(old, new)]: each flawed sample is the correct notebook with ONE bug.
BUGS = {
    "ben-post-norm": [(
        """\
        shortcut = x
        x = self.norm1(x)
        x = self.att(x, use_cache=use_cache)
        x = self.drop_shortcut(x)
        x = x + shortcut

        shortcut = x
        x = self.norm2(x)
        x = self.ff(x)
        x = self.drop_shortcut(x)
        x = x + shortcut
        return x""",
        """\
        shortcut = x
        x = self.att(x, use_cache=use_cache)
        x = self.drop_shortcut(x)
        x = self.norm1(x + shortcut)

        shortcut = x
        x = self.ff(x)
        x = self.drop_shortcut(x)
        x = self.norm2(x + shortcut)
        return x""")],
    "cleo-erf-gelu": [(
        "return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))",
        "return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))")],
    "dev-unbiased-variance": [(
        "var = x.var(dim=-1, keepdim=True, unbiased=False)  # biased, like GPT-2 and torch",
        "var = x.var(dim=-1, keepdim=True)")],
    "eli-no-context-crop": [(
        "idx_cond = idx[:, -context_size:]  # keep only what fits into the context",
        "idx_cond = idx[:, :context_size]  # keep only what fits into the context")],
    "fay-no-final-norm": [(
        "        x = self.final_norm(x)\n        logits = self.out_head(x)",
        "        logits = self.out_head(x)")],
    "gus-ffn-2x": [(
        'hidden = 4 * cfg["emb_dim"]  # GPT-2 expands by a factor of four',
        'hidden = 2 * cfg["emb_dim"]  # expand the embedding')],
    "hana-first-position-logits": [(
        "logits = logits[:, -1, :]  # the last position predicts the next token",
        "logits = logits[:, 0, :]  # take the prediction")],
}

# Correct too: jon builds the feed-forward network before attention, so the weights cannot be
# transplanted by creation order and seeded outputs differ from the book's (checks skip, never fail).
JON_ORDER = [(
    """\
        self.att = MultiHeadAttention(
            d_in=cfg["emb_dim"],
            d_out=cfg["emb_dim"],
            context_length=cfg["context_length"],
            dropout=cfg["drop_rate"],
            num_heads=cfg["n_heads"],
            qkv_bias=cfg["qkv_bias"],
        )
        self.ff = FeedForward(cfg)""",
    """\
        self.ff = FeedForward(cfg)
        self.att = MultiHeadAttention(
            d_in=cfg["emb_dim"],
            d_out=cfg["emb_dim"],
            context_length=cfg["context_length"],
            dropout=cfg["drop_rate"],
            num_heads=cfg["n_heads"],
            qkv_bias=cfg["qkv_bias"],
        )""")]

# ivy-own-names: the correct model with her own class, method and parameter names.
IVY_RENAMES = [
    (r"(?<!nn\.)(?<!functional\.)\bGELU\b", "TanhGELU"), (r"(?<!nn\.)\bLayerNorm\b", "Norm"),
    (r"\bFeedForward\b", "MLP"), (r"\bTransformerBlock\b", "DecoderBlock"),
    (r"\bGPTModel\b", "TinyGPT"), (r"\bgenerate_text_simple\b", "greedy_decode"),
    (r"\bMultiHeadAttention\b", "CausalSelfAttention"),
    (r"\bself\.scale\b", "self.gamma"), (r"\bself\.shift\b", "self.beta"),
    (r"\btok_emb\b", "token_embedding"), (r"\bpos_emb\b", "position_embedding"),
    (r"\btrf_blocks\b", "blocks"), (r"\bfinal_norm\b", "ln_f"), (r"\bout_head\b", "lm_head"),
    (r"\bW_query\b", "q_proj"), (r"\bW_key\b", "k_proj"), (r"\bW_value\b", "v_proj"),
    (r"\bnorm1\b", "ln_1"), (r"\bnorm2\b", "ln_2"),
]
IVY_MAPPING = {
    "LayerNorm": "Norm",
    "GELU": "TanhGELU",
    "FeedForward": "MLP",
    "TransformerBlock": "DecoderBlock",
    "GPTModel": "TinyGPT",
    "generate_text_simple": "greedy_decode",
    "MultiHeadAttention": "CausalSelfAttention",
}

ADA = Sample("a3", "ada-correct", "assignment3.ipynb", CELLS, README)
SAMPLES = [ADA, variant(ADA, "jon-ff-first", JON_ORDER),
           variant(ADA, "ivy-own-names", cells=own_names(
               CELLS, IVY_RENAMES, IVY_MAPPING,
                "class Norm(", "class TanhGELU(", "class TinyGPT(", "def greedy_decode(",
               "self.gamma"))]
SAMPLES += [variant(ADA, student, replacements) for student, replacements in BUGS.items()]
