"""a3 samples in three other styles, each correct, and one-bug copies of them.

- kai: GPT-2/nanoGPT naming and structure (transformer.{wte, wpe, drop, h, ln_f}, lm_head; fused c_attn), a
  LayerNorm with weight/bias, F.scaled_dot_product_attention, a KV cache passed in and out. kai-nanogpt-tied
  ties lm_head to wte (124M parameters, not 163M). Bug kai-nanogpt-ln1-twice: the MLP is fed through ln_1.
- lin: her own names (GRADER_NAMES), raw nn.Parameter weights used as x @ W, the feed-forward network declared
  before attention. Bug lin-raw-params-normed-shortcut: the shortcut carries the normalised input.
- max: the book's names and layer order with validation everywhere and a stateful KV cache. Bugs
  max-defensive-dropout-after-add (dropout on x + shortcut) and max-defensive-stale-cache (the cache is not
  emptied when a new generation starts).
"""

from .core import Run, Sample, variant

# ================================================================ (a) kai: nanoGPT style

KAI = [
    ("md", """\
# Assignment 3 - a GPT-2 model, nanoGPT style

I learned transformers from Karpathy's nanoGPT, so my model keeps GPT-2's own module names
(`wte`, `wpe`, `h`, `ln_f`, `lm_head`, and `c_attn` / `c_proj` / `c_fc` inside the blocks).
The course wants the book's class names, so the ones that differ are mapped for the grader at
the end of the notebook. Everything is driven by the book's config dictionary."""),
    ("code", """\
import math
import os

import tiktoken
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_printoptions(precision=4, sci_mode=False)

GPT_CONFIG_124M = dict(vocab_size=50257, context_length=1024, emb_dim=768, n_heads=12, n_layers=12,
                       drop_rate=0.1, qkv_bias=False)
TINY = dict(GPT_CONFIG_124M, vocab_size=300, context_length=32, emb_dim=48, n_heads=4, n_layers=2)"""),
    ("md", """\
## LayerNorm and GELU

Layer norm centres every token vector and divides by its standard deviation (population
variance, eps = 1e-5 inside the root), then applies `weight` and `bias`. For GELU I use the
tanh approximation (minGPT calls it `NewGELU`), because that is what GPT-2 was trained with;
`nn.GELU()` defaults to the exact erf version."""),
    ("code", """\
class LayerNorm(nn.Module):
    def __init__(self, emb_dim, eps=1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(emb_dim))
        self.bias = nn.Parameter(torch.zeros(emb_dim))
        self.eps = eps

    def forward(self, x):
        mu = x.mean(-1, keepdim=True)
        var = ((x - mu) ** 2).mean(-1, keepdim=True)  # population variance
        return (x - mu) / torch.sqrt(var + self.eps) * self.weight + self.bias


class NewGELU(nn.Module):
    def forward(self, x):
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


x = torch.randn(3, 7) * 4 + 2
print(LayerNorm(7)(x).mean(-1), LayerNorm(7)(x).var(-1, unbiased=False))
print("vs torch LayerNorm:", (LayerNorm(7)(x) - F.layer_norm(x, (7,))).abs().max().item())
print("vs torch tanh GELU:", (NewGELU()(x) - F.gelu(x, approximate="tanh")).abs().max().item())"""),
    ("md", """\
## Attention, MLP and Block

`c_attn` produces queries, keys and values in one matmul. Attention itself goes through
`F.scaled_dot_product_attention`, which applies the causal mask, the 1/sqrt(head_dim) scale and
the attention dropout. For the KV cache (exercise 4.3) the layer can take the keys/values of
earlier positions (`past`) and hands back its own; new queries then see every cached key, so
the causal mask is shifted by the number of cached positions."""),
    ("code", """\
class CausalSelfAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        assert cfg["emb_dim"] % cfg["n_heads"] == 0
        self.n_head, self.n_embd = cfg["n_heads"], cfg["emb_dim"]
        self.c_attn = nn.Linear(self.n_embd, 3 * self.n_embd, bias=cfg["qkv_bias"])
        self.c_proj = nn.Linear(self.n_embd, self.n_embd)
        self.resid_dropout = nn.Dropout(cfg["drop_rate"])
        self.dropout = cfg["drop_rate"]

    def forward(self, x, past=None):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))  # (B, nh, T, hs)
        if past is not None:
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)
        p = self.dropout if self.training else 0.0
        if past is None:
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
        else:
            seen = k.size(2) - T  # cached positions come first
            mask = torch.ones(T, k.size(2), dtype=torch.bool, device=x.device).tril(diagonal=seen)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_dropout(self.c_proj(y)), (k, v)


class MLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.c_fc = nn.Linear(cfg["emb_dim"], 4 * cfg["emb_dim"])
        self.gelu = NewGELU()
        self.c_proj = nn.Linear(4 * cfg["emb_dim"], cfg["emb_dim"])
        self.dropout = nn.Dropout(cfg["drop_rate"])

    def forward(self, x):
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.ln_1 = LayerNorm(cfg["emb_dim"])
        self.attn = CausalSelfAttention(cfg)
        self.ln_2 = LayerNorm(cfg["emb_dim"])
        self.mlp = MLP(cfg)

    def forward(self, x, past=None, return_kv=False):
        a, present = self.attn(self.ln_1(x), past)
        x = x + a
        x = x + self.mlp(self.ln_2(x))
        return (x, present) if return_kv else x


print(Block(TINY)(torch.randn(2, 5, 48)).shape)"""),
    ("md", """\
## The model

Token embedding plus position embedding (offset by the cached length when a cache is passed),
dropout, the blocks, the final norm, and the `lm_head` that maps back to the vocabulary.
Weights start from N(0, 0.02) like GPT-2's."""),
    ("code", """\
class GPTModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(cfg["vocab_size"], cfg["emb_dim"]),
            wpe=nn.Embedding(cfg["context_length"], cfg["emb_dim"]),
            drop=nn.Dropout(cfg["drop_rate"]),
            h=nn.ModuleList([Block(cfg) for _ in range(cfg["n_layers"])]),
            ln_f=LayerNorm(cfg["emb_dim"]),
        ))
        self.lm_head = nn.Linear(cfg["emb_dim"], cfg["vocab_size"], bias=False)
        self.apply(self._init_weights)

    def _init_weights(self, module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(self, idx, past=None, return_kv=False):
        B, T = idx.size()
        start = 0 if past is None else past[0][0].size(2)
        pos = torch.arange(start, start + T, dtype=torch.long, device=idx.device)
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
        presents = []
        for i, block in enumerate(self.transformer.h):
            x, kv = block(x, None if past is None else past[i], return_kv=True)
            presents.append(kv)
        logits = self.lm_head(self.transformer.ln_f(x))
        return (logits, presents) if return_kv else logits


torch.manual_seed(123)
tokenizer = tiktoken.get_encoding("gpt2")
batch = torch.tensor([tokenizer.encode("Every effort moves you"), tokenizer.encode("Every day holds a")])
tiny = GPTModel(dict(TINY, vocab_size=50257))
print(batch)
print("logits:", tiny(batch).shape)"""),
    ("md", """\
## How big is GPT-2 small?

Counting on the `meta` device costs no memory. Without weight tying the 124M config has 163M
parameters; the head alone is as big as the token embedding."""),
    ("code", """\
def n_params(cfg):
    with torch.device("meta"):
        m = GPTModel(cfg)
    total = sum(p.numel() for p in m.parameters())
    return total, m


total, meta_model = n_params(GPT_CONFIG_124M)
head = meta_model.lm_head.weight.numel()
per_part = {
    "wte": meta_model.transformer.wte.weight.numel(),
    "wpe": meta_model.transformer.wpe.weight.numel(),
    "attention": sum(p.numel() for b in meta_model.transformer.h for p in b.attn.parameters()),
    "mlp": sum(p.numel() for b in meta_model.transformer.h for p in b.mlp.parameters()),
    "layer norms": sum(p.numel() for n, p in meta_model.named_parameters() if "ln_" in n),
    "lm_head": head,
}
for k, v in per_part.items():
    print(f"{k:>12}: {v:>12,}")
print(f"total: {total:,}; without the head: {total - head:,}; {total * 4 / 2**20:.2f} MB in float32")"""),
    ("md", """\
## Greedy generation

Crop to the context window, take the last position's logits, pick the arg-max, append."""),
    ("code", """\
@torch.no_grad()
def generate_text_simple(model, idx, max_new_tokens, context_size):
    for _ in range(max_new_tokens):
        logits = model(idx[:, -context_size:])
        next_id = logits[:, -1, :].argmax(dim=-1, keepdim=True)
        idx = torch.cat([idx, next_id], dim=1)
    return idx


tiny.eval()
start = torch.tensor([tokenizer.encode("Hello, I am")])
out = generate_text_simple(tiny, start, max_new_tokens=6, context_size=TINY["context_length"])
print(out)
print(repr(tokenizer.decode(out[0].tolist())))"""),
    ("md", """\
The text is nonsense: the weights are random, so the arg-max token is arbitrary.

## Exercise 4.3: generation with a KV cache

The prompt goes through once and leaves its keys and values in `past`; every later step feeds
only the newest token. Nothing is stored on the model, so each call starts with an empty cache.
Once the sequence is longer than the context, I start over from the last `context_size` tokens,
exactly like the uncached loop does."""),
    ("code", """\
@torch.no_grad()
def generate_text_simple_cached(model, idx, max_new_tokens, context_size=None):
    context_size = context_size or model.cfg["context_length"]
    logits, past = model(idx[:, -context_size:], return_kv=True)
    for _ in range(max_new_tokens):
        next_id = logits[:, -1, :].argmax(dim=-1, keepdim=True)
        idx = torch.cat([idx, next_id], dim=1)
        if past[0][0].size(2) >= context_size:  # the window is full: recompute over the cropped window
            logits, past = model(idx[:, -context_size:], return_kv=True)
        else:
            logits, past = model(next_id, past=past, return_kv=True)
    return idx


for prompt in (start, torch.tensor([[11, 22, 33], [44, 55, 66]])):
    a = generate_text_simple(tiny, prompt, 40, TINY["context_length"])
    b = generate_text_simple_cached(tiny, prompt, 40, TINY["context_length"])
    print("cache gives the same ids:", torch.equal(a, b))"""),
    ("md", """\
## Exercise 4.1: the GPT-2 family

Same recipe, different width/depth/heads."""),
    ("code", """\
MODEL_SIZES = {
    "gpt2": dict(emb_dim=768, n_layers=12, n_heads=12),
    "gpt2-medium": dict(emb_dim=1024, n_layers=24, n_heads=16),
    "gpt2-large": dict(emb_dim=1280, n_layers=36, n_heads=20),
    "gpt2-xl": dict(emb_dim=1600, n_layers=48, n_heads=25),
}
for name, size in MODEL_SIZES.items():
    count, _ = n_params(dict(GPT_CONFIG_124M, **size))
    print(f"{name:>12}: {count:>14,}")"""),
    ("code", """\
# the grader looks for the book's names
GRADER_NAMES = {"GELU": "NewGELU", "FeedForward": "MLP", "TransformerBlock": "Block"}"""),
]

KAI_TIE = [(
    """\
        self.lm_head = nn.Linear(cfg["emb_dim"], cfg["vocab_size"], bias=False)
        self.apply(self._init_weights)""",
    """\
        self.lm_head = nn.Linear(cfg["emb_dim"], cfg["vocab_size"], bias=False)
        self.transformer.wte.weight = self.lm_head.weight  # weight tying, as in GPT-2
        self.apply(self._init_weights)"""), (
    """\
Counting on the `meta` device costs no memory. Without weight tying the 124M config has 163M
parameters; the head alone is as big as the token embedding.""",
    """\
Counting on the `meta` device costs no memory. My head shares its matrix with `wte` (weight
tying, like the released GPT-2), so the 124M config really has 124M parameters; the book's
untied version has one more 50257 x 768 matrix, 163M in total."""), (
    """\
print(f"total: {total:,}; without the head: {total - head:,}; {total * 4 / 2**20:.2f} MB in float32")""",
    """\
print(f"total (tied): {total:,}; untied it would be {total + head:,}; {total * 4 / 2**20:.2f} MB in float32")""")]

KAI_BUG = [(
    "        x = x + self.mlp(self.ln_2(x))",
    "        x = x + self.mlp(self.ln_1(x))")]

KAI_README = """\
# Assignment 3 (nanoGPT-style GPT-2)

Notebook: `assignment3.ipynb`. My modules use GPT-2's names; `GRADER_NAMES` maps `NewGELU`,
`MLP` and `Block` to the book's `GELU`, `FeedForward` and `TransformerBlock`.

## What each component does

- `wte` (token embedding) gives every token id a learned vector; `wpe` (position embedding)
  adds one per position, since attention alone cannot tell positions apart.
- Causal self-attention (`c_attn` makes q, k, v in one matmul, `c_proj` mixes the heads) lets
  each position read from earlier positions only.
- The MLP / feed-forward block (`c_fc` to 4x width, GELU, `c_proj` back) transforms each
  position on its own.
- LayerNorm before attention and before the MLP (pre-norm) keeps the inputs of each sub-layer
  normalised; `ln_f` normalises before the head. GELU is the smooth non-linearity (tanh form).
- `lm_head` turns the final vectors into one logit per vocabulary entry.

## Residual connections

Each block adds its sub-layer's output to its input (`x = x + attn(ln_1(x))`). The gradient of
a sum flows unchanged to both terms, so even a 48-layer stack passes a strong gradient back to
its first layers; without the shortcuts it would vanish through the many layers.

## Parameters

| part | parameters (124M config) |
|---|---:|
| wte | 38,597,376 |
| wpe | 786,432 |
| attention (12 blocks) | 28,320,768 |
| MLP (12 blocks) | 56,669,184 |
| layer norms | 38,400 |
| lm_head | 38,597,376 |
| total | 163,009,536 |

Tying `lm_head` to `wte` (weight tying, as in the released GPT-2) gives 124,412,160. In
float32 the untied model takes 621.83 MB of memory (4 bytes per parameter).

## Generation before training

Greedy decoding with random weights produces random word pieces: the model has learned
nothing, so the arg-max token is arbitrary gibberish. The cached generation returns exactly the
same ids as the plain loop, for several prompts in a row.
"""

KAI_TIED_README = KAI_README.replace("""\
Tying `lm_head` to `wte` (weight tying, as in the released GPT-2) gives 124,412,160. In
float32 the untied model takes 621.83 MB of memory (4 bytes per parameter).""", """\
My model ties `lm_head` to `wte` (weight tying, as in the released GPT-2), so it has
124,412,160 parameters: the table above minus the head. The book's untied model takes 621.83 MB
in float32 (4 bytes per parameter); mine about 475 MB.""")

# ================================================================ (b) lin: own names, raw parameters

LIN = [
    ("md", """\
# A3: a small GPT written with raw parameters

I wanted to see every matrix multiplication, so no `nn.Linear` and no `nn.Embedding` here: all
weights are `nn.Parameter` tensors stored as (inputs, outputs) and applied as `x @ W`. My class
names are my own; the last cell tells the grader which is which."""),
    ("code", """\
import math

import matplotlib.pyplot as plt
import tiktoken
import torch
from torch import nn

cfg_124m = {"vocab_size": 50257, "context_length": 1024, "emb_dim": 768, "n_heads": 12,
            "n_layers": 12, "drop_rate": 0.1, "qkv_bias": False}
small_cfg = {**cfg_124m, "vocab_size": 1000, "context_length": 24, "emb_dim": 32, "n_heads": 4, "n_layers": 2}


def weight(*shape):
    \"\"\"A trainable matrix with GPT-2's N(0, 0.02) start.\"\"\"
    return nn.Parameter(torch.randn(*shape) * 0.02)"""),
    ("md", """\
### The feed-forward part first

I started with the easy parts: the activation and the position-wise MLP."""),
    ("code", """\
class TanhGelu(nn.Module):
    \"\"\"GELU, tanh approximation (GPT-2).\"\"\"

    def forward(self, x):
        c = math.sqrt(2 / math.pi)
        return 0.5 * x * (1 + torch.tanh(c * (x + 0.044715 * x.pow(3))))


class PositionwiseMLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg["emb_dim"]
        self.w_in, self.b_in = weight(d, 4 * d), nn.Parameter(torch.zeros(4 * d))
        self.w_out, self.b_out = weight(4 * d, d), nn.Parameter(torch.zeros(d))
        self.act = TanhGelu()

    def forward(self, x):
        return self.act(x @ self.w_in + self.b_in) @ self.w_out + self.b_out


xs = torch.linspace(-4, 4, 200)
plt.figure(figsize=(4, 2.5))
plt.plot(xs, TanhGelu()(xs), label="GELU (tanh)")
plt.plot(xs, torch.relu(xs), "--", label="ReLU")
plt.legend()
plt.show()"""),
    ("md", """\
### Normalisation

`gamma` and `beta` are the learnable scale and shift. Dividing by the population standard
deviation (with eps inside the square root) is what `torch.nn.LayerNorm` does."""),
    ("code", """\
class ScaleShiftNorm(nn.Module):
    def __init__(self, emb_dim):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(emb_dim))
        self.beta = nn.Parameter(torch.zeros(emb_dim))

    def forward(self, x):
        centred = x - x.mean(dim=-1, keepdim=True)
        inv_std = torch.rsqrt(centred.pow(2).mean(dim=-1, keepdim=True) + 1e-5)
        return self.gamma * centred * inv_std + self.beta


sample = torch.randn(4, 10) * 5
print(torch.allclose(ScaleShiftNorm(10)(sample), nn.LayerNorm(10)(sample), atol=1e-5))"""),
    ("md", """\
### Masked self-attention with raw matrices"""),
    ("code", """\
class MaskedSelfAttention(nn.Module):
    def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias=False):
        super().__init__()
        self.heads, self.head_size = num_heads, d_out // num_heads
        self.Wq, self.Wk, self.Wv = weight(d_in, d_out), weight(d_in, d_out), weight(d_in, d_out)
        if qkv_bias:
            self.bq, self.bk, self.bv = (nn.Parameter(torch.zeros(d_out)) for _ in range(3))
        else:
            self.bq = self.bk = self.bv = None
        self.Wo, self.bo = weight(d_out, d_out), nn.Parameter(torch.zeros(d_out))
        self.drop = nn.Dropout(dropout)
        self.register_buffer("future", torch.ones(context_length, context_length).triu(1).bool())

    def split(self, t):
        n, length, _ = t.shape
        return t.reshape(n, length, self.heads, self.head_size).permute(0, 2, 1, 3)

    def forward(self, x):
        n, length, _ = x.shape
        q, k, v = (x @ w if b is None else x @ w + b for w, b in ((self.Wq, self.bq), (self.Wk, self.bk),
                                                                  (self.Wv, self.bv)))
        q, k, v = self.split(q), self.split(k), self.split(v)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(self.head_size)
        att = att.masked_fill(self.future[:length, :length], float("-inf")).softmax(dim=-1)
        out = self.drop(att) @ v  # (n, heads, length, head_size)
        out = out.permute(0, 2, 1, 3).reshape(n, length, self.heads * self.head_size)
        return out @ self.Wo + self.bo"""),
    ("md", """\
### One decoder layer

Pre-norm: normalise, run the sub-layer, drop out, add back to the layer's input."""),
    ("code", """\
class DecoderLayer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.mlp = PositionwiseMLP(cfg)
        self.attention = MaskedSelfAttention(cfg["emb_dim"], cfg["emb_dim"], cfg["context_length"],
                                             cfg["drop_rate"], cfg["n_heads"], cfg["qkv_bias"])
        self.pre_attention = ScaleShiftNorm(cfg["emb_dim"])
        self.pre_mlp = ScaleShiftNorm(cfg["emb_dim"])
        self.drop = nn.Dropout(cfg["drop_rate"])

    def forward(self, x):
        x = x + self.drop(self.attention(self.pre_attention(x)))
        x = x + self.drop(self.mlp(self.pre_mlp(x)))
        return x"""),
    ("md", """\
### The whole model"""),
    ("code", """\
class MiniGPT(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.layers = nn.ModuleList([DecoderLayer(cfg) for _ in range(cfg["n_layers"])])
        self.norm_out = ScaleShiftNorm(cfg["emb_dim"])
        self.token_table = weight(cfg["vocab_size"], cfg["emb_dim"])
        self.position_table = weight(cfg["context_length"], cfg["emb_dim"])
        self.unembed = weight(cfg["emb_dim"], cfg["vocab_size"])
        self.drop = nn.Dropout(cfg["drop_rate"])

    def forward(self, ids):
        h = self.token_table[ids] + self.position_table[: ids.shape[1]]
        h = self.drop(h)
        for layer in self.layers:
            h = layer(h)
        return self.norm_out(h) @ self.unembed


torch.manual_seed(0)
gpt = MiniGPT(small_cfg)
print(gpt(torch.randint(0, 1000, (2, 9))).shape)"""),
    ("md", """\
### Size of GPT-2 small

Built on the meta device so no memory is allocated."""),
    ("code", """\
with torch.device("meta"):
    big = MiniGPT(cfg_124m)
sizes = {name: p.numel() for name, p in big.named_parameters()}
total = sum(sizes.values())
print(f"{total:,} parameters, {total * 4 / 1024**2:.1f} MB as float32")
print(f"embedding tables: {sizes['token_table'] + sizes['position_table']:,}; unembedding: {sizes['unembed']:,}")
print(f"without the unembedding (tied as in GPT-2): {total - sizes['unembed']:,}")"""),
    ("md", """\
### Greedy decoding"""),
    ("code", """\
def greedy_generate(model, idx, max_new_tokens, context_size):
    model.eval()
    while max_new_tokens > 0:
        with torch.no_grad():
            scores = model(idx[:, -context_size:])[:, -1]
        idx = torch.cat([idx, scores.argmax(-1, keepdim=True)], dim=1)
        max_new_tokens -= 1
    return idx


enc = tiktoken.get_encoding("gpt2")
ids = torch.tensor([enc.encode("Hello, I am")]) % small_cfg["vocab_size"]
print(greedy_generate(gpt, ids, 8, small_cfg["context_length"]))"""),
    ("md", """\
Random weights, random tokens: there is nothing to see in the output yet.

### Exercises 4.1 and 4.4"""),
    ("code", """\
size_table = {
    "gpt2-small": {"emb_dim": 768, "n_layers": 12, "n_heads": 12},
    "gpt2-medium": {"emb_dim": 1024, "n_layers": 24, "n_heads": 16},
    "gpt2-large": {"emb_dim": 1280, "n_layers": 36, "n_heads": 20},
}
for label, dims in size_table.items():
    with torch.device("meta"):
        n = sum(p.numel() for p in MiniGPT({**cfg_124m, **dims}).parameters())
    print(f"{label}: {n:,} parameters, {n * 4 / 1024**3:.2f} GB of weights, ~{n * 16 / 1024**3:.1f} GB to train with \
AdamW")"""),
    ("code", """\
GRADER_NAMES = {
    "LayerNorm": "ScaleShiftNorm",
    "GELU": "TanhGelu",
    "FeedForward": "PositionwiseMLP",
    "TransformerBlock": "DecoderLayer",
    "GPTModel": "MiniGPT",
    "generate_text_simple": "greedy_generate",
    "MultiHeadAttention": "MaskedSelfAttention",
}"""),
]

LIN_BUG = [(
    """\
        x = x + self.drop(self.attention(self.pre_attention(x)))
        x = x + self.drop(self.mlp(self.pre_mlp(x)))
        return x""",
    """\
        x = self.pre_attention(x)
        x = x + self.drop(self.attention(x))
        x = self.pre_mlp(x)
        x = x + self.drop(self.mlp(x))
        return x""")]

LIN_README = """\
# A3 - GPT from raw parameters

Everything is in `assignment3.ipynb` (names mapped with `GRADER_NAMES` in its last cell).

**Components.** The token table (embedding) gives each id a vector and the position table
adds where it stands. Masked self-attention mixes information from earlier tokens; the
feed-forward MLP (4x wider, GELU in between) then works on each token separately. The
LayerNorm (`ScaleShiftNorm`, gamma/beta) before each of them keeps activations at a stable scale.
GELU is a smooth ReLU, and the unembedding matrix produces the logits.

**Residual connections.** The layer adds each sub-layer's output to its own input. In a deep
network the gradient otherwise has to pass through every layer and tends to vanish; the skip
path carries it straight back to the early layers.

**Parameter count (124M config).** 163,009,536 in total: embedding tables 39,383,808,
unembedding 38,597,376 (GPT-2 ties it to the token table, weight tying, which leaves 124,412,160),
attention 28,320,768 and MLPs 56,669,184 across the 12 layers, norms 38,400. That is about
621.8 MB of float32 memory for the weights alone.

**Generation before training.** Greedy (argmax) generation from the untrained model gives a
random, meaningless continuation; after training the same loop produces text.
"""

# ================================================================ (c) max: defensive

MAX = [
    ("md", """\
# Assignment 3 - GPT model with input validation

I follow the book's structure and names, but every public class and function checks what it is
given and fails with a clear message (wrong config, too many tokens, wrong tensor shapes)
instead of an obscure indexing error deep inside PyTorch."""),
    ("code", """\
import math

import tiktoken
import torch
import torch.nn as nn

GPT_CONFIG_124M = {
    "vocab_size": 50257,
    "context_length": 1024,
    "emb_dim": 768,
    "n_heads": 12,
    "n_layers": 12,
    "drop_rate": 0.1,
    "qkv_bias": False,
}
REQUIRED_KEYS = tuple(GPT_CONFIG_124M)


def validate_config(cfg):
    \"\"\"Raise ValueError unless cfg has every key of GPT_CONFIG_124M with sensible values.\"\"\"
    missing = [key for key in REQUIRED_KEYS if key not in cfg]
    if missing:
        raise ValueError(f"config is missing {missing}")
    for key in ("vocab_size", "context_length", "emb_dim", "n_heads", "n_layers"):
        if not isinstance(cfg[key], int) or cfg[key] < 1:
            raise ValueError(f"cfg[{key!r}] must be a positive int, got {cfg[key]!r}")
    if cfg["emb_dim"] % cfg["n_heads"] != 0:
        raise ValueError(f"emb_dim {cfg['emb_dim']} is not divisible by n_heads {cfg['n_heads']}")
    if not 0.0 <= cfg["drop_rate"] < 1.0:
        raise ValueError(f"drop_rate must be in [0, 1), got {cfg['drop_rate']}")


def expect_last_dim(x, size, who):
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{who} expects a tensor, got {type(x).__name__}")
    if x.shape[-1] != size:
        raise ValueError(f"{who} expects last dimension {size}, got shape {tuple(x.shape)}")


validate_config(GPT_CONFIG_124M)
try:
    validate_config({**GPT_CONFIG_124M, "n_heads": 7})
except ValueError as err:
    print("rejected:", err)"""),
    ("md", """\
## Multi-head attention (chapter 3) with a KV cache

The cache stores keys and values of earlier calls when `use_cache=True`; `reset_cache()`
empties it. It refuses to grow beyond the context length."""),
    ("code", """\
class MultiHeadAttention(nn.Module):
    def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias=False):
        super().__init__()
        if d_out % num_heads != 0:
            raise ValueError("d_out must be divisible by num_heads")
        self.d_in, self.d_out, self.num_heads = d_in, d_out, num_heads
        self.head_dim = d_out // num_heads
        self.context_length = context_length
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.out_proj = nn.Linear(d_out, d_out)
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("mask", torch.triu(torch.ones(context_length, context_length), diagonal=1))
        self.reset_cache()

    def reset_cache(self):
        self.cache_k = self.cache_v = None

    def forward(self, x, use_cache=False):
        if x.dim() != 3:
            raise ValueError(f"expected (batch, tokens, d_in), got shape {tuple(x.shape)}")
        expect_last_dim(x, self.d_in, "MultiHeadAttention")
        b, num_tokens, _ = x.shape
        past = self.cache_k.shape[2] if (use_cache and self.cache_k is not None) else 0
        if past + num_tokens > self.context_length:
            raise ValueError(f"{past + num_tokens} positions exceed context_length {self.context_length}")

        def heads(t):
            return t.view(b, num_tokens, self.num_heads, self.head_dim).transpose(1, 2)

        queries, keys, values = heads(self.W_query(x)), heads(self.W_key(x)), heads(self.W_value(x))
        if use_cache:
            if self.cache_k is not None:
                keys = torch.cat([self.cache_k, keys], dim=2)
                values = torch.cat([self.cache_v, values], dim=2)
            self.cache_k, self.cache_v = keys, values
        scores = queries @ keys.transpose(2, 3)
        blocked = self.mask.bool()[past:past + num_tokens, :past + num_tokens]
        scores = scores.masked_fill(blocked, -torch.inf)
        weights = self.dropout(torch.softmax(scores / self.head_dim ** 0.5, dim=-1))
        context = (weights @ values).transpose(1, 2).reshape(b, num_tokens, self.d_out)
        return self.out_proj(context)"""),
    ("md", """\
## LayerNorm, GELU, FeedForward"""),
    ("code", """\
class LayerNorm(nn.Module):
    def __init__(self, emb_dim):
        super().__init__()
        if emb_dim < 1:
            raise ValueError("emb_dim must be positive")
        self.emb_dim = emb_dim
        self.eps = 1e-5
        self.scale = nn.Parameter(torch.ones(emb_dim))
        self.shift = nn.Parameter(torch.zeros(emb_dim))

    def forward(self, x):
        expect_last_dim(x, self.emb_dim, "LayerNorm")
        mean = x.mean(dim=-1, keepdim=True)
        var = x.var(dim=-1, keepdim=True, unbiased=False)
        return self.scale * (x - mean) / torch.sqrt(var + self.eps) + self.shift


class GELU(nn.Module):
    def forward(self, x):
        if not torch.is_floating_point(x):
            raise TypeError("GELU needs a floating point tensor")
        return 0.5 * x * (1 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


class FeedForward(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        validate_config(cfg)
        self.emb_dim = cfg["emb_dim"]
        self.layers = nn.Sequential(
            nn.Linear(cfg["emb_dim"], 4 * cfg["emb_dim"]),
            GELU(),
            nn.Linear(4 * cfg["emb_dim"], cfg["emb_dim"]),
        )

    def forward(self, x):
        expect_last_dim(x, self.emb_dim, "FeedForward")
        return self.layers(x)


ln = LayerNorm(6)
print(ln(torch.randn(2, 6)).var(dim=-1, unbiased=False))
try:
    ln(torch.randn(2, 5))
except ValueError as err:
    print("rejected:", err)"""),
    ("md", """\
## Transformer block and model"""),
    ("code", """\
class TransformerBlock(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        validate_config(cfg)
        self.att = MultiHeadAttention(d_in=cfg["emb_dim"], d_out=cfg["emb_dim"],
                                      context_length=cfg["context_length"], dropout=cfg["drop_rate"],
                                      num_heads=cfg["n_heads"], qkv_bias=cfg["qkv_bias"])
        self.ff = FeedForward(cfg)
        self.norm1 = LayerNorm(cfg["emb_dim"])
        self.norm2 = LayerNorm(cfg["emb_dim"])
        self.drop_shortcut = nn.Dropout(cfg["drop_rate"])

    def forward(self, x, use_cache=False):
        shortcut = x
        x = self.drop_shortcut(self.att(self.norm1(x), use_cache=use_cache))
        x = x + shortcut
        shortcut = x
        x = self.drop_shortcut(self.ff(self.norm2(x)))
        x = x + shortcut
        return x


class GPTModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        validate_config(cfg)
        self.context_length = cfg["context_length"]
        self.vocab_size = cfg["vocab_size"]
        self.tok_emb = nn.Embedding(cfg["vocab_size"], cfg["emb_dim"])
        self.pos_emb = nn.Embedding(cfg["context_length"], cfg["emb_dim"])
        self.drop_emb = nn.Dropout(cfg["drop_rate"])
        self.trf_blocks = nn.ModuleList(TransformerBlock(cfg) for _ in range(cfg["n_layers"]))
        self.final_norm = LayerNorm(cfg["emb_dim"])
        self.out_head = nn.Linear(cfg["emb_dim"], cfg["vocab_size"], bias=False)
        self.next_position = 0

    def reset_kv_cache(self):
        self.next_position = 0
        for block in self.trf_blocks:
            block.att.reset_cache()

    def forward(self, in_idx, use_cache=False):
        if in_idx.dim() != 2:
            raise ValueError(f"expected token ids of shape (batch, tokens), got {tuple(in_idx.shape)}")
        if in_idx.dtype not in (torch.int32, torch.int64):
            raise TypeError(f"token ids must be integers, got {in_idx.dtype}")
        num_tokens = in_idx.shape[1]
        start = self.next_position if use_cache else 0
        if start + num_tokens > self.context_length:
            raise ValueError(f"{start + num_tokens} tokens exceed context_length {self.context_length}; "
                             f"crop the input to the last {self.context_length} tokens")
        if num_tokens and (in_idx.min() < 0 or in_idx.max() >= self.vocab_size):
            raise ValueError("token id outside the vocabulary")
        positions = torch.arange(start, start + num_tokens, device=in_idx.device)
        if use_cache:
            self.next_position += num_tokens
        x = self.drop_emb(self.tok_emb(in_idx) + self.pos_emb(positions))
        for block in self.trf_blocks:
            x = block(x, use_cache=use_cache)
        return self.out_head(self.final_norm(x))"""),
    ("code", """\
torch.manual_seed(123)
model = GPTModel(GPT_CONFIG_124M).eval()
tokenizer = tiktoken.get_encoding("gpt2")
batch = torch.tensor([tokenizer.encode("Every effort moves you"), tokenizer.encode("Every day holds a")])
with torch.no_grad():
    print(model(batch).shape)
try:
    model(torch.zeros(1, 1025, dtype=torch.long))
except ValueError as err:
    print("rejected:", err)

total = sum(p.numel() for p in model.parameters())
print(f"parameters: {total:,}; with weight tying: {total - model.out_head.weight.numel():,}; "
      f"{total * 4 / 1024 ** 2:.2f} MB")"""),
    ("md", """\
## Generating text"""),
    ("code", """\
def generate_text_simple(model, idx, max_new_tokens, context_size):
    if not isinstance(idx, torch.Tensor) or idx.dim() != 2:
        raise ValueError("idx must be a (batch, tokens) tensor of token ids")
    if max_new_tokens < 0:
        raise ValueError("max_new_tokens must be >= 0")
    if context_size < 1:
        raise ValueError("context_size must be >= 1")
    for _ in range(max_new_tokens):
        with torch.no_grad():
            logits = model(idx[:, -context_size:])
        next_token = torch.argmax(logits[:, -1, :], dim=-1, keepdim=True)
        idx = torch.cat((idx, next_token), dim=1)
    return idx


hello = torch.tensor([tokenizer.encode("Hello, I am")])
out = generate_text_simple(model, hello, max_new_tokens=3, context_size=GPT_CONFIG_124M["context_length"])
print(out.tolist(), repr(tokenizer.decode(out[0].tolist())))"""),
    ("md", """\
The untrained model continues with random tokens (gibberish), as expected. With seed 123 the
first ids are the book's.

## Exercise 4.3: KV cache

The cache lives in the attention modules, so it must be emptied before a new prompt: otherwise
the second generation would attend to the first one's keys."""),
    ("code", """\
def generate_text_simple_cached(model, idx, max_new_tokens, context_size=None):
    context_size = context_size or model.context_length
    if max_new_tokens < 0 or context_size < 1 or idx.dim() != 2:
        raise ValueError("bad arguments for generate_text_simple_cached")
    model.reset_kv_cache()
    try:
        with torch.no_grad():
            logits = model(idx[:, -context_size:], use_cache=True)
            for _ in range(max_new_tokens):
                next_token = torch.argmax(logits[:, -1, :], dim=-1, keepdim=True)
                idx = torch.cat((idx, next_token), dim=1)
                if model.next_position >= context_size:  # window full: start over on the last tokens
                    model.reset_kv_cache()
                    logits = model(idx[:, -context_size:], use_cache=True)
                else:
                    logits = model(next_token, use_cache=True)
    finally:
        model.reset_kv_cache()
    return idx


small = GPTModel({**GPT_CONFIG_124M, "vocab_size": 200, "context_length": 16, "emb_dim": 32, "n_heads": 4,
                  "n_layers": 2}).eval()
for prompt in (torch.tensor([[5, 6, 7]]), torch.tensor([[9, 8], [7, 6]])):
    same = torch.equal(generate_text_simple(small, prompt, 20, 16), generate_text_simple_cached(small, prompt, 20, 16))
    print("same ids with the cache:", same)"""),
    ("md", """\
## Exercise 4.1: model sizes"""),
    ("code", """\
GPT2_MEDIUM = {**GPT_CONFIG_124M, "emb_dim": 1024, "n_layers": 24, "n_heads": 16}
GPT2_LARGE = {**GPT_CONFIG_124M, "emb_dim": 1280, "n_layers": 36, "n_heads": 20}
for name, cfg in [("medium", GPT2_MEDIUM), ("large", GPT2_LARGE)]:
    with torch.device("meta"):
        print(name, f"{sum(p.numel() for p in GPTModel(cfg).parameters()):,}")"""),
]

MAX_DROPOUT_BUG = [(
    """\
        shortcut = x
        x = self.drop_shortcut(self.att(self.norm1(x), use_cache=use_cache))
        x = x + shortcut
        shortcut = x
        x = self.drop_shortcut(self.ff(self.norm2(x)))
        x = x + shortcut
        return x""",
    """\
        shortcut = x
        x = self.att(self.norm1(x), use_cache=use_cache)
        x = self.drop_shortcut(x + shortcut)
        shortcut = x
        x = self.ff(self.norm2(x))
        x = self.drop_shortcut(x + shortcut)
        return x""")]

MAX_CACHE_BUG = [(
    """\
    model.reset_kv_cache()
    try:
        with torch.no_grad():""",
    """\
    try:
        with torch.no_grad():"""), (
    """\
    finally:
        model.reset_kv_cache()
    return idx""",
    """\
    finally:
        pass
    return idx"""), (
    "for prompt in (torch.tensor([[5, 6, 7]]), torch.tensor([[9, 8], [7, 6]])):",
    "for prompt in (torch.tensor([[5, 6, 7]]),):")]

MAX_README = """\
# Assignment 3: GPT architecture (with input validation)

Notebook: `assignment3.ipynb`. Book names and structure; every component validates its inputs.

## Role of each component
* **Embeddings**: token embedding (what) + positional embedding (where).
* **Attention** (multi-head, causal): each token gathers context from the tokens before it.
* **Feed-forward** network: per-token MLP, 4x expansion with GELU.
* **LayerNorm**: normalises inputs to attention / feed-forward (pre-norm) and before the output.
* **GELU**: smooth activation, tanh approximation as in GPT-2.
* **Output head**: projects to vocabulary logits.

## Why residual (shortcut) connections are critical
They give gradients a direct path through deep stacks of layers, preventing vanishing
gradients, and let each block learn a correction to its input instead of a full mapping.

## Parameter count
GPT-2 124M config: 163,009,536 parameters (621.83 MB memory in float32); the output head is
38,597,376 of them, so with weight tying (head shared with the token embedding) 124,412,160.
Per block: attention 2,360,064, feed-forward 4,722,432, two LayerNorms 3,072.

## Generation before training
Greedy generation (argmax) from the untrained model produces random tokens, i.e. gibberish;
with `torch.manual_seed(123)` the ids match the book's.
"""

KAI_SAMPLE, LIN_SAMPLE, MAX_SAMPLE = (Sample("a3", student, "assignment3.ipynb", cells, readme, run=Run(agg=True))
                                      for student, cells, readme in [("kai-nanogpt", KAI, KAI_README),
                                                                     ("lin-raw-params", LIN, LIN_README),
                                                                     ("max-defensive", MAX, MAX_README)])
SAMPLES = [KAI_SAMPLE, variant(KAI_SAMPLE, "kai-nanogpt-tied", KAI_TIE, readme=KAI_TIED_README),
           variant(KAI_SAMPLE, "kai-nanogpt-ln1-twice", KAI_BUG),
           LIN_SAMPLE, variant(LIN_SAMPLE, "lin-raw-params-normed-shortcut", LIN_BUG),
           MAX_SAMPLE, variant(MAX_SAMPLE, "max-defensive-dropout-after-add", MAX_DROPOUT_BUG),
           variant(MAX_SAMPLE, "max-defensive-stale-cache", MAX_CACHE_BUG)]
