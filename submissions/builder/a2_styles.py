"""a2 samples in three other styles, each correct, and one one-bug copy of each.

- kai: GPT-2/nanoGPT conventions (fused `c_attn`, a `bias` buffer holding the lower triangle, `c_proj`, heads in
  a ModuleList `h`, F.scaled_dot_product_attention). Bug kai-heads-merged-no-transpose: the heads are merged
  back with a view that skips the transpose.
- lou: her own names mapped with GRADER_NAMES, projections declared value, key, query, raw nn.Parameter
  matrices used as `x @ W`. Bug lou-scale-by-d-in: her causal attention scales the scores by sqrt(d_in).
- max: the book's names with validation everywhere, F.dropout, one `qkv` projection laid out per head. Bug
  max-scale-by-d-out: MultiHeadAttention divides the scores by sqrt(d_out) instead of sqrt(head_dim).
"""

from .core import Run, Sample, variant

TOY = """\
torch.tensor([[0.43, 0.15, 0.89],
              [0.55, 0.87, 0.66],
              [0.57, 0.85, 0.64],
              [0.22, 0.58, 0.33],
              [0.77, 0.25, 0.10],
              [0.05, 0.80, 0.55]])"""

# ================================================================ kai: nanoGPT conventions

KAI = [
    ("md", """\
# Assignment 2 — attention (chapter 3)

Kai's notebook. I learned transformers from Andrej Karpathy's nanoGPT before reading this book,
so my code keeps nanoGPT's habits: a single `c_attn` layer that produces queries, keys and values
in one matrix multiply, a lower-triangular buffer called `bias` for the causal mask, `c_proj`
for the output projection, and PyTorch's fused `scaled_dot_product_attention` once the maths
has been written out by hand. The class names are the book's, so the grader finds them."""),
    ("code", """\
import math
import time

import matplotlib.pyplot as plt
import torch
import torch.nn as nn
import torch.nn.functional as F

plt.rcParams["figure.dpi"] = 55
torch.set_printoptions(precision=4, sci_mode=False)"""),
    ("md", """\
## Warm-up: attention with no parameters (3.3)

Six 3-d vectors stand for "Your journey starts with one step". Each token scores every token
by a dot product, the softmax turns a row of scores into weights, and the weights average the
embeddings."""),
    ("code", f"""\
emb = {TOY}
words = "Your journey starts with one step".split()

sim = emb @ emb.T                # (6, 6) similarity of every pair
att = F.softmax(sim, dim=-1)     # normalise each query's row
ctx = att @ emb                  # (6, 3) context vectors
print(ctx)
print("rows sum to", att.sum(-1))"""),
    ("code", """\
def heatmap(ax, weights, labels, title):
    ax.imshow(weights.detach(), cmap="magma", vmin=0)
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.set_title(title, fontsize=9)


fig, ax = plt.subplots(figsize=(3.2, 3.2))
heatmap(ax, att, words, "no trainable weights")
plt.show()"""),
    ("md", """\
## Trainable projections (3.4)

`SelfAttention_v1` keeps the three projection matrices side by side in one raw parameter of
shape `(d_in, 3 * d_out)`; one product and a `split` give queries, keys and values.
`SelfAttention_v2` does the same with an `nn.Linear` (nanoGPT's `c_attn`). The scores are
scaled by `1/sqrt(head size)` so the softmax does not saturate."""),
    ("code", """\
class SelfAttention_v1(nn.Module):
    def __init__(self, d_in, d_out):
        super().__init__()
        self.d_out = d_out
        self.w_attn = nn.Parameter(torch.rand(d_in, 3 * d_out))  # [W_q | W_k | W_v]

    def forward(self, x):
        q, k, v = (x @ self.w_attn).split(self.d_out, dim=-1)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        return F.softmax(att, dim=-1) @ v


class SelfAttention_v2(nn.Module):
    def __init__(self, d_in, d_out, qkv_bias=False):
        super().__init__()
        self.d_out = d_out
        self.c_attn = nn.Linear(d_in, 3 * d_out, bias=qkv_bias)

    def forward(self, x):
        q, k, v = self.c_attn(x).split(self.d_out, dim=-1)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        return F.softmax(att, dim=-1) @ v


torch.manual_seed(123)
print(SelfAttention_v1(3, 2)(emb))
torch.manual_seed(789)
print(SelfAttention_v2(3, 2)(emb))"""),
    ("md", """\
My numbers differ from the book's printout because my fused matrix draws its random values in
another order than three separate matrices; the computation is the same.

## Causal attention (3.5)

nanoGPT registers the lower triangle of ones as a buffer and fills the scores where it is 0
with `-inf` before the softmax, so a token never sees later tokens. Dropout acts on the
attention weights, only in training."""),
    ("code", """\
class CausalAttention(nn.Module):
    def __init__(self, d_in, d_out, context_length, dropout, qkv_bias=False):
        super().__init__()
        self.d_out = d_out
        self.c_attn = nn.Linear(d_in, 3 * d_out, bias=qkv_bias)
        self.attn_dropout = nn.Dropout(dropout)
        tri = torch.tril(torch.ones(context_length, context_length))
        self.register_buffer("bias", tri.view(1, context_length, context_length))

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(self.d_out, dim=2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))  # (B, T, T)
        att = att.masked_fill(self.bias[:, :T, :T] == 0, float("-inf"))
        att = F.softmax(att, dim=-1)
        att = self.attn_dropout(att)
        return att @ v                                                     # (B, T, d_out)


xb = torch.stack([emb, emb])
torch.manual_seed(123)
print(CausalAttention(3, 2, 6, 0.0)(xb).shape)"""),
    ("md", """\
## Multi-head attention (3.6)

First the naive way: a list of independent heads (`h`, as nanoGPT calls its list of blocks)
whose outputs are concatenated. Then the real thing: one `c_attn` for all heads, reshaped to
`(B, n_head, T, head_size)`, PyTorch's fused kernel for masked softmax attention (with
`is_causal=True` and the dropout rate while training), heads put back side by side and mixed
by `c_proj`."""),
    ("code", """\
class MultiHeadAttentionWrapper(nn.Module):
    def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias=False):
        super().__init__()
        self.h = nn.ModuleList(
            CausalAttention(d_in, d_out, context_length, dropout, qkv_bias) for _ in range(num_heads))

    def forward(self, x):
        return torch.cat([head(x) for head in self.h], dim=-1)


class MultiHeadAttention(nn.Module):
    def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias=False):
        super().__init__()
        assert d_out % num_heads == 0
        self.n_head = num_heads
        self.n_embd = d_out
        self.dropout = dropout
        self.c_attn = nn.Linear(d_in, 3 * d_out, bias=qkv_bias)
        self.c_proj = nn.Linear(d_out, d_out)

    def forward(self, x):
        B, T, _ = x.size()
        hs = self.n_embd // self.n_head
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        q = q.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(B, T, self.n_head, hs).transpose(1, 2)
        v = v.view(B, T, self.n_head, hs).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=None,
                                           dropout_p=self.dropout if self.training else 0.0, is_causal=True)
        y = y.transpose(1, 2).contiguous().view(B, T, self.n_embd)  # heads side by side again
        return self.c_proj(y)


torch.manual_seed(123)
print(MultiHeadAttentionWrapper(3, 2, 6, 0.0, num_heads=2)(xb).shape)
print(MultiHeadAttention(3, 2, 6, 0.0, num_heads=2)(xb).shape)
n = sum(p.numel() for p in MultiHeadAttention(768, 768, 1024, 0.0, 12).parameters())
print(f"GPT-2 small attention: {n:,} parameters")"""),
    ("code", """\
def head_maps(mha, x):
    \"\"\"Per-head causal attention weights of my MultiHeadAttention, recomputed by hand.\"\"\"
    B, T, _ = x.size()
    hs = mha.n_embd // mha.n_head
    q, k, _ = mha.c_attn(x).split(mha.n_embd, dim=2)
    q = q.view(B, T, mha.n_head, hs).transpose(1, 2)
    k = k.view(B, T, mha.n_head, hs).transpose(1, 2)
    att = (q @ k.transpose(-2, -1)) / math.sqrt(hs)
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    return F.softmax(att.masked_fill(~causal, float("-inf")), dim=-1).detach()


torch.manual_seed(1)
demo = MultiHeadAttention(3, 8, 6, 0.0, num_heads=2).eval()
maps = head_maps(demo, emb[None])
fig, axes = plt.subplots(1, 2, figsize=(6, 3))
for i, ax in enumerate(axes):
    heatmap(ax, maps[0, i], words, f"head {i}")
plt.show()"""),
    ("md", """\
## Exercise 3.1 — number of heads

Same width (`d_out = 32`), 1, 2, 4 and 8 heads: parameters and output shape stay the same."""),
    ("code", """\
x = torch.randn(2, 16, 32)
for n_head in (1, 2, 4, 8):
    layer = MultiHeadAttention(32, 32, 16, 0.0, n_head).eval()
    t0 = time.perf_counter()
    with torch.no_grad():
        out = layer(x)
    print(n_head, "heads:", sum(p.numel() for p in layer.parameters()), "params,", tuple(out.shape),
          f"{(time.perf_counter() - t0) * 1e3:.2f} ms")"""),
    ("md", """\
## Exercise 3.2 — another text

A few random token vectors with a repeated token: with untrained weights the maps mostly show
which vectors are alike."""),
    ("code", """\
torch.manual_seed(3)
vocab = {w: torch.randn(3) for w in ["the", "cat", "sat", "on", "mat"]}
sentence = ["the", "cat", "sat", "on", "the", "mat"]
xs = torch.stack([vocab[w] for w in sentence])[None]
fig, ax = plt.subplots(figsize=(3.2, 3.2))
heatmap(ax, head_maps(demo, xs)[0, 0], sentence, "head 0, another sentence")
plt.show()"""),
    ("md", """\
## Exercise 3.3 — grouped-query attention

Queries keep all heads; keys and values come from `num_kv_groups` shared heads (one fused
`kv_proj`). Query head `h` reads group `h // (n_head // n_kv)`, so each group is repeated for
its consecutive query heads with `repeat_interleave`. The fused kernel builds the causal mask
from the sequence length."""),
    ("code", """\
class GroupedQueryAttention(nn.Module):
    def __init__(self, d_in, d_out, dropout, num_heads, num_kv_groups, dtype=None, qkv_bias=False):
        super().__init__()
        assert d_out % num_heads == 0 and num_heads % num_kv_groups == 0
        self.n_head, self.n_kv = num_heads, num_kv_groups
        self.n_embd, self.hs = d_out, d_out // num_heads
        self.dropout = dropout
        self.q_proj = nn.Linear(d_in, d_out, bias=qkv_bias, dtype=dtype)
        self.kv_proj = nn.Linear(d_in, 2 * num_kv_groups * self.hs, bias=qkv_bias, dtype=dtype)
        self.c_proj = nn.Linear(d_out, d_out, dtype=dtype)

    def forward(self, x):
        B, T, _ = x.size()
        q = self.q_proj(x).view(B, T, self.n_head, self.hs).transpose(1, 2)
        k, v = self.kv_proj(x).split(self.n_kv * self.hs, dim=2)
        k = k.view(B, T, self.n_kv, self.hs).transpose(1, 2).repeat_interleave(self.n_head // self.n_kv, dim=1)
        v = v.view(B, T, self.n_kv, self.hs).transpose(1, 2).repeat_interleave(self.n_head // self.n_kv, dim=1)
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0,
                                           is_causal=True)
        return self.c_proj(y.transpose(1, 2).reshape(B, T, self.n_embd))


gqa = GroupedQueryAttention(32, 32, 0.0, num_heads=8, num_kv_groups=2)
print(gqa(torch.randn(1, 40, 32)).shape, sum(p.numel() for p in gqa.parameters()), "params")"""),
]

KAI_README = """\
# Assignment 2 — Kai

`assignment2.ipynb` runs in a few seconds on a laptop CPU.

## How I wrote it

I kept nanoGPT's conventions because that is how I first read transformer code: one fused
`c_attn` projection (queries, keys and values in one matrix product, split afterwards), the mask
as a lower-triangular buffer, `c_proj` as the output projection, and the fused
`scaled_dot_product_attention` kernel in the multi-head and grouped-query versions. The class
names and constructor arguments are the book's.

## Why causal masking is necessary

A language model is trained to predict the next token at every position at once. If position t
could attend to position t+1, it would read the answer instead of predicting it, and at
generation time that future token does not exist yet. So the scores of future positions are set
to -inf before the softmax: their weights become exactly zero and each row still sums to one.

## Why several heads

Each head has its own query/key/value slice and computes its own softmax, so the heads can
attend to different things in parallel: the previous token, a matching word further back, and so
on. The head outputs are concatenated and the output projection (c_proj) mixes them. With a
fixed width, more heads does not change the parameter count (exercise 3.1), only how many
different attention patterns the layer can form.

## What attention weights show, and why scaling

Row i of the attention weights is a probability distribution (it sums to 1): it says how much
each earlier token contributes to the new vector of token i, i.e. where the model's focus is.
The scores are divided by sqrt(head size): dot products of longer vectors have a larger spread,
and an unscaled softmax would become nearly one-hot with vanishing gradients.
"""

KAI_BUG = [(
    "        y = y.transpose(1, 2).contiguous().view(B, T, self.n_embd)  # heads side by side again",
    "        y = y.contiguous().view(B, T, self.n_embd)  # heads side by side again")]

# ================================================================ lou: own names, raw matrices, other order

LOU = [
    ("md", """\
# Chapter 3 — attention, from scratch

*Lou.* I named the modules after what they do and wrote the projections as plain matrices
(`x @ W`), because that is how the equations look on paper; the dictionary right below tells
the grader which of my classes is which of the book's. I always declare the value projection
first: it is the one that carries content, queries and keys only decide how to mix it."""),
    ("code", """\
import math

import matplotlib.pyplot as plt
import torch
from torch import nn

GRADER_NAMES = {
    "all_context_vecs": "contexts",
    "SelfAttention_v1": "DotProductAttention",
    "SelfAttention_v2": "LinearAttention",
    "CausalAttention": "MaskedSelfAttention",
    "MultiHeadAttentionWrapper": "ParallelHeads",
    "MultiHeadAttention": "SplitHeadAttention",
    "GroupedQueryAttention": "SharedKVAttention",
}"""),
    ("md", "### 1. Attention weights without parameters"),
    ("code", f"""\
X = {TOY}
similarity = X @ X.T
weights = torch.softmax(similarity, dim=1)
contexts = weights @ X
print(contexts)"""),
    ("md", """\
### 2. Scaled dot-product attention

Values, keys, queries: three `(d_in, d_out)` matrices. Scores are divided by `sqrt(d_k)`."""),
    ("code", """\
def attend(queries, keys, future=None):
    \"\"\"The attention weights softmax(Q K^T / sqrt(d_k)), with the keys in `future` hidden.\"\"\"
    scores = queries @ keys.transpose(-2, -1) / math.sqrt(keys.shape[-1])
    if future is not None:
        scores = scores.masked_fill(future, float("-inf"))
    return torch.softmax(scores, dim=-1)


class DotProductAttention(nn.Module):
    def __init__(self, d_in, d_out):
        super().__init__()
        self.W_v = nn.Parameter(torch.rand(d_in, d_out))
        self.W_k = nn.Parameter(torch.rand(d_in, d_out))
        self.W_q = nn.Parameter(torch.rand(d_in, d_out))

    def forward(self, x):
        return attend(x @ self.W_q, x @ self.W_k) @ (x @ self.W_v)


class LinearAttention(nn.Module):
    def __init__(self, d_in, d_out, qkv_bias=False):
        super().__init__()
        self.value = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.query = nn.Linear(d_in, d_out, bias=qkv_bias)

    def forward(self, x):
        return attend(self.query(x), self.key(x)) @ self.value(x)


torch.manual_seed(0)
print(DotProductAttention(3, 2)(X))
print(LinearAttention(3, 2, qkv_bias=True)(X))"""),
    ("md", """\
### 3. Masking the future

The mask hides every key after the query (strictly above the diagonal) before the softmax;
dropout then randomly removes attention weights while training. My matrices are initialised
like `nn.Linear` would (uniform in ±1/sqrt(d_in)) and the optional biases are plain vectors."""),
    ("code", """\
def linear_init(d_in, d_out):
    bound = 1 / math.sqrt(d_in)
    return nn.Parameter(torch.empty(d_in, d_out).uniform_(-bound, bound))


class MaskedSelfAttention(nn.Module):
    def __init__(self, d_in, d_out, context_length, dropout, qkv_bias=False):
        super().__init__()
        self.W_v, self.W_k, self.W_q = (linear_init(d_in, d_out) for _ in range(3))
        self.b_v, self.b_k, self.b_q = ((nn.Parameter(torch.zeros(d_out)) for _ in range(3)) if qkv_bias
                                        else (None, None, None))
        self.drop = nn.Dropout(dropout)
        self.register_buffer("future", torch.ones(context_length, context_length, dtype=torch.bool).triu(1))

    def project(self, x, w, b):
        return x @ w if b is None else x @ w + b

    def forward(self, x):
        n = x.shape[1]
        q, k, v = (self.project(x, w, b) for w, b in ((self.W_q, self.b_q), (self.W_k, self.b_k),
                                                       (self.W_v, self.b_v)))
        scores = q @ k.transpose(1, 2) / math.sqrt(k.shape[-1])
        w = torch.softmax(scores.masked_fill(self.future[:n, :n], float("-inf")), dim=-1)
        return self.drop(w) @ v


class ParallelHeads(nn.Module):
    def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias=False):
        super().__init__()
        self.members = nn.ModuleList([MaskedSelfAttention(d_in, d_out, context_length, dropout, qkv_bias)
                                      for _ in range(num_heads)])

    def forward(self, x):
        return torch.cat([m(x) for m in self.members], dim=-1)


batch = torch.stack([X, X])
print(MaskedSelfAttention(3, 2, 6, 0.0)(batch)[0])
print(ParallelHeads(3, 2, 6, 0.0, 3)(batch).shape)"""),
    ("md", """\
### 4. Splitting one projection into heads

One set of `(d_in, d_out)` matrices, reshaped into `num_heads` slices of `d_out / num_heads`;
each slice attends on its own, the slices are glued back together and multiplied by an output
matrix `W_o` (plus bias `b_o`)."""),
    ("code", """\
class SplitHeadAttention(nn.Module):
    def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias=False):
        super().__init__()
        if d_out % num_heads:
            raise ValueError("num_heads must divide d_out")
        self.heads, self.size = num_heads, d_out // num_heads
        self.W_v, self.W_k, self.W_q = (linear_init(d_in, d_out) for _ in range(3))
        self.b_v, self.b_k, self.b_q = ((nn.Parameter(torch.zeros(d_out)) for _ in range(3)) if qkv_bias
                                        else (None, None, None))
        self.W_o = linear_init(d_out, d_out)
        self.b_o = nn.Parameter(torch.zeros(d_out))
        self.drop = nn.Dropout(dropout)
        self.register_buffer("future", torch.ones(context_length, context_length, dtype=torch.bool).triu(1))

    def slices(self, x, w, b):
        y = x @ w if b is None else x @ w + b                        # (B, T, d_out)
        return y.unflatten(-1, (self.heads, self.size)).transpose(1, 2)  # (B, heads, T, size)

    def forward(self, x):
        n = x.shape[1]
        v, k, q = self.slices(x, self.W_v, self.b_v), self.slices(x, self.W_k, self.b_k), \\
            self.slices(x, self.W_q, self.b_q)
        w = self.drop(attend(q, k, self.future[:n, :n]))
        merged = (w @ v).transpose(1, 2).flatten(2)                    # (B, T, d_out)
        return merged @ self.W_o + self.b_o


mha = SplitHeadAttention(3, 4, 6, 0.0, num_heads=2)
print(mha(batch).shape, sum(p.numel() for p in SplitHeadAttention(768, 768, 1024, 0.0, 12).parameters()))"""),
    ("code", """\
def maps_of(layer, x):
    n = x.shape[1]
    with torch.no_grad():
        q, k = layer.slices(x, layer.W_q, layer.b_q), layer.slices(x, layer.W_k, layer.b_k)
        return attend(q, k, layer.future[:n, :n])


torch.manual_seed(5)
layer = SplitHeadAttention(3, 8, 6, 0.0, num_heads=4).eval()
fig, axes = plt.subplots(1, 4, figsize=(10, 2.6))
for h, ax in enumerate(axes):
    ax.imshow(maps_of(layer, batch)[0, h], cmap="Blues", vmin=0, vmax=1)
    ax.set_title(f"head {h}", fontsize=9)
plt.show()"""),
    ("md", """\
### Exercises

**Exercise 3.1.** Heads 1, 2, 4, 8 at width 16: the parameter count is fixed by the width."""),
    ("code", """\
for h in [1, 2, 4, 8]:
    trial = SplitHeadAttention(16, 16, 10, 0.0, h)
    print(h, sum(p.numel() for p in trial.parameters()), trial(torch.randn(2, 10, 16)).shape)"""),
    ("md", """\
**Exercise 3.2.** The same layer on an input with two repeated tokens; repeated tokens get
identical rows of weights in every head (up to the mask)."""),
    ("code", """\
rep = torch.stack([X[0], X[1], X[0], X[1], X[2], X[0]])[None]
fig, ax = plt.subplots(figsize=(3, 3))
ax.imshow(maps_of(layer, rep)[0, 0], cmap="Blues", vmin=0, vmax=1)
ax.set_title("repeated tokens, head 0", fontsize=9)
plt.show()"""),
    ("md", """\
**Exercise 3.3.** Grouped-query attention: fewer key/value heads, each shared by
`num_heads // num_kv_groups` consecutive query heads. No context length: the mask is made for
the sequence at hand."""),
    ("code", """\
class SharedKVAttention(nn.Module):
    def __init__(self, d_in, d_out, dropout, num_heads, num_kv_groups, dtype=None, qkv_bias=False):
        super().__init__()
        self.heads, self.groups, self.size = num_heads, num_kv_groups, d_out // num_heads
        kv = num_kv_groups * self.size
        self.W_v, self.W_k = linear_init(d_in, kv), linear_init(d_in, kv)
        self.W_q = linear_init(d_in, d_out)
        self.b_v, self.b_k, self.b_q = ((nn.Parameter(torch.zeros(kv)), nn.Parameter(torch.zeros(kv)),
                                         nn.Parameter(torch.zeros(d_out))) if qkv_bias else (None, None, None))
        self.W_o = linear_init(d_out, d_out)
        self.b_o = nn.Parameter(torch.zeros(d_out))
        self.drop = nn.Dropout(dropout)

    def split(self, y, count):
        return y.unflatten(-1, (count, self.size)).transpose(1, 2)

    def forward(self, x):
        n = x.shape[1]
        project = lambda w, b: x @ w if b is None else x @ w + b  # noqa: E731
        v = self.split(project(self.W_v, self.b_v), self.groups).repeat_interleave(self.heads // self.groups, 1)
        k = self.split(project(self.W_k, self.b_k), self.groups).repeat_interleave(self.heads // self.groups, 1)
        q = self.split(project(self.W_q, self.b_q), self.heads)
        future = torch.ones(n, n, dtype=torch.bool, device=x.device).triu(1)
        merged = (self.drop(attend(q, k, future)) @ v).transpose(1, 2).flatten(2)
        return merged @ self.W_o + self.b_o


print(SharedKVAttention(16, 16, 0.0, num_heads=4, num_kv_groups=2)(torch.randn(2, 30, 16)).shape)"""),
]

LOU_README = """\
# Chapter 3 (attention) — Lou

Notebook: `assignment2.ipynb`. My class names are my own; `GRADER_NAMES` in the second cell maps
them to the book's.

## Choices

Projections are plain `(d_in, d_out)` matrices applied as `x @ W` (biases as vectors), declared
value, key, query. `LinearAttention` (the book's SelfAttention_v2) uses `nn.Linear` instead, as
the book asks. The multi-head layer reshapes one projection into heads and mixes them with an
output matrix.

## Causal masking

When a model learns to predict the next token, every position must be predicted from the past
only. Without a mask a position would attend to the future token it is supposed to predict and
learn to copy it. The mask writes -inf into the scores above the diagonal before the softmax, so
those attention weights are exactly 0 and the remaining ones still sum to 1.

## Multiple heads

A single head mixes the values with one set of weights per query. Several heads look at the
sequence in parallel through different projections (different subspaces), so one can follow
the previous word while another follows a related word further away. Their outputs are
concatenated and an output projection combines them.

## Reading attention weights; scaling

Each row of attention weights sums to 1, so it reads as "how much of each earlier token this
token attends to": large entries show the model's focus. Dividing the scores by sqrt(d_k) keeps
their scale independent of the head size; without it the softmax saturates and learning stalls.
"""

LOU_BUG = [(
    "        scores = q @ k.transpose(1, 2) / math.sqrt(k.shape[-1])",
    "        scores = q @ k.transpose(1, 2) / math.sqrt(x.shape[-1])")]

# ================================================================ max: defensive, validated inputs

MAX = [
    ("md", """\
# Assignment 2: attention mechanisms

**Max.** Every module here checks its arguments and its input and raises a `ValueError` that
says what was wrong — I lost an afternoon to a silently broadcast shape in a previous course
and do not want that again. The computations themselves follow chapter 3."""),
    ("code", """\
import math

import matplotlib.pyplot as plt
import torch
import torch.nn as nn
import torch.nn.functional as F


def require_positive(**sizes):
    for name, value in sizes.items():
        if not isinstance(value, int) or value <= 0:
            raise ValueError(f"{name} must be a positive int, got {value!r}")


def require_rate(dropout):
    if not 0.0 <= float(dropout) < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")


def require_input(x, d_in, ranks=(3,)):
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"expected a tensor, got {type(x).__name__}")
    if x.dim() not in ranks:
        raise ValueError(f"expected an input with {' or '.join(map(str, ranks))} dimensions, got shape \
{tuple(x.shape)}")
    if x.shape[-1] != d_in:
        raise ValueError(f"expected {d_in} features in the last dimension, got {x.shape[-1]}")"""),
    ("md", "## 3.3 Simplified self-attention"),
    ("code", f"""\
inputs = {TOY}
attn_scores = inputs @ inputs.T
attn_weights = torch.softmax(attn_scores, dim=-1)
all_context_vecs = attn_weights @ inputs
assert torch.allclose(attn_weights.sum(dim=-1), torch.ones(6))
print(all_context_vecs)"""),
    ("md", "## 3.4 Self-attention with trainable weights"),
    ("code", """\
class SelfAttention_v1(nn.Module):
    def __init__(self, d_in, d_out):
        super().__init__()
        require_positive(d_in=d_in, d_out=d_out)
        self.d_in = d_in
        self.W_query = nn.Parameter(torch.rand(d_in, d_out))
        self.W_key = nn.Parameter(torch.rand(d_in, d_out))
        self.W_value = nn.Parameter(torch.rand(d_in, d_out))

    def forward(self, x):
        require_input(x, self.d_in, ranks=(2, 3))
        queries, keys, values = x @ self.W_query, x @ self.W_key, x @ self.W_value
        scores = queries @ keys.transpose(-2, -1)
        return torch.softmax(scores / keys.shape[-1] ** 0.5, dim=-1) @ values


class SelfAttention_v2(nn.Module):
    def __init__(self, d_in, d_out, qkv_bias=False):
        super().__init__()
        require_positive(d_in=d_in, d_out=d_out)
        self.d_in = d_in
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)

    def forward(self, x):
        require_input(x, self.d_in, ranks=(2, 3))
        queries, keys, values = self.W_query(x), self.W_key(x), self.W_value(x)
        scores = queries @ keys.transpose(-2, -1)
        return torch.softmax(scores / keys.shape[-1] ** 0.5, dim=-1) @ values


torch.manual_seed(123)
print(SelfAttention_v1(3, 2)(inputs))
torch.manual_seed(789)
print(SelfAttention_v2(3, 2)(inputs))
try:
    SelfAttention_v2(3, 2)(torch.rand(6, 4))
except ValueError as err:
    print("rejected:", err)"""),
    ("md", """\
## 3.5 Causal attention

Dropout here is the functional `F.dropout(weights, p, self.training)`, which is off in eval
mode just like `nn.Dropout`. Sequences longer than `context_length` are refused with a message
instead of failing deep inside `masked_fill`."""),
    ("code", """\
class CausalAttention(nn.Module):
    def __init__(self, d_in, d_out, context_length, dropout, qkv_bias=False):
        super().__init__()
        require_positive(d_in=d_in, d_out=d_out, context_length=context_length)
        require_rate(dropout)
        self.d_in, self.context_length, self.p = d_in, context_length, float(dropout)
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.register_buffer("mask", torch.triu(torch.ones(context_length, context_length), diagonal=1))

    def forward(self, x):
        require_input(x, self.d_in)
        num_tokens = x.shape[1]
        if num_tokens > self.context_length:
            raise ValueError(f"{num_tokens} tokens exceed context_length={self.context_length}")
        queries, keys, values = self.W_query(x), self.W_key(x), self.W_value(x)
        scores = queries @ keys.transpose(1, 2)
        scores = scores.masked_fill(self.mask.bool()[:num_tokens, :num_tokens], -torch.inf)
        weights = torch.softmax(scores / keys.shape[-1] ** 0.5, dim=-1)
        weights = F.dropout(weights, self.p, self.training)
        return weights @ values


batch = torch.stack((inputs, inputs))
torch.manual_seed(123)
print(CausalAttention(3, 2, 6, 0.0)(batch))
try:
    CausalAttention(3, 2, 4, 0.0)(batch)
except ValueError as err:
    print("rejected:", err)"""),
    ("md", """\
## 3.6 Multi-head attention

The wrapper stacks `CausalAttention` heads. The efficient class uses one `qkv` layer whose
output is laid out head by head (the queries, keys and values of head 0, then those of head 1,
...), the layout GPT-NeoX uses; a single `view` separates heads and roles."""),
    ("code", """\
class MultiHeadAttentionWrapper(nn.Module):
    def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias=False):
        super().__init__()
        require_positive(num_heads=num_heads)
        self.heads = nn.ModuleList(
            [CausalAttention(d_in, d_out, context_length, dropout, qkv_bias) for _ in range(num_heads)])

    def forward(self, x):
        return torch.cat([head(x) for head in self.heads], dim=-1)


class MultiHeadAttention(nn.Module):
    def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias=False):
        super().__init__()
        require_positive(d_in=d_in, d_out=d_out, context_length=context_length, num_heads=num_heads)
        require_rate(dropout)
        if d_out % num_heads != 0:
            raise ValueError(f"d_out={d_out} is not divisible by num_heads={num_heads}")
        self.d_in, self.d_out, self.context_length = d_in, d_out, context_length
        self.num_heads, self.head_dim, self.p = num_heads, d_out // num_heads, float(dropout)
        self.qkv = nn.Linear(d_in, 3 * d_out, bias=qkv_bias)
        self.out_proj = nn.Linear(d_out, d_out)
        self.register_buffer("mask", torch.triu(torch.ones(context_length, context_length), diagonal=1))

    def forward(self, x):
        require_input(x, self.d_in)
        b, num_tokens, _ = x.shape
        if num_tokens > self.context_length:
            raise ValueError(f"{num_tokens} tokens exceed context_length={self.context_length}")
        qkv = self.qkv(x).view(b, num_tokens, self.num_heads, 3, self.head_dim)
        queries, keys, values = (t.transpose(1, 2) for t in qkv.unbind(dim=3))  # (b, heads, tokens, head_dim)
        scores = queries @ keys.transpose(2, 3)
        scores = scores.masked_fill(self.mask.bool()[:num_tokens, :num_tokens], -torch.inf)
        weights = torch.softmax(scores / self.head_dim ** 0.5, dim=-1)
        weights = F.dropout(weights, self.p, self.training)
        context = (weights @ values).transpose(1, 2).reshape(b, num_tokens, self.d_out)
        return self.out_proj(context)


torch.manual_seed(123)
print(MultiHeadAttentionWrapper(3, 2, 6, 0.0, 2)(batch).shape)
print(MultiHeadAttention(3, 2, 6, 0.0, 2)(batch).shape)
print(sum(p.numel() for p in MultiHeadAttention(768, 768, 1024, 0.0, 12).parameters()), "parameters")
for bad in [dict(d_out=5, num_heads=2), dict(d_out=4, num_heads=2, dropout=1.5)]:
    try:
        MultiHeadAttention(**{"d_in": 3, "context_length": 6, "dropout": 0.0, **bad})
    except ValueError as err:
        print("rejected:", err)"""),
    ("code", """\
def weights_of(mha, x):
    b, n, _ = x.shape
    with torch.no_grad():
        q, k, _ = mha.qkv(x).view(b, n, mha.num_heads, 3, mha.head_dim).unbind(dim=3)
        scores = (q.transpose(1, 2) @ k.transpose(1, 2).transpose(2, 3)).masked_fill(
            mha.mask.bool()[:n, :n], -torch.inf)
        return torch.softmax(scores / mha.head_dim ** 0.5, dim=-1)


torch.manual_seed(2)
mha = MultiHeadAttention(3, 6, 6, 0.0, 3).eval()
fig, axes = plt.subplots(1, 3, figsize=(8, 2.6))
for h, ax in enumerate(axes):
    ax.imshow(weights_of(mha, batch)[0, h], cmap="viridis", vmin=0, vmax=1)
    ax.set_title(f"head {h}")
plt.show()"""),
    ("md", "## Exercise 3.1: 1, 2, 4 and 8 heads"),
    ("code", """\
x = torch.randn(2, 12, 24)
for num_heads in (1, 2, 4, 8):
    layer = MultiHeadAttention(24, 24, 12, 0.0, num_heads).eval()
    print(num_heads, layer.head_dim, sum(p.numel() for p in layer.parameters()), tuple(layer(x).shape))"""),
    ("md", "## Exercise 3.2: the same heads on a reversed sentence"),
    ("code", """\
fig, ax = plt.subplots(figsize=(3, 3))
ax.imshow(weights_of(mha, batch.flip(1))[0, 0], cmap="viridis", vmin=0, vmax=1)
ax.set_title("reversed input, head 0")
plt.show()"""),
    ("md", "## Exercise 3.3: grouped-query attention"),
    ("code", """\
class GroupedQueryAttention(nn.Module):
    def __init__(self, d_in, d_out, dropout, num_heads, num_kv_groups, dtype=None, qkv_bias=False):
        super().__init__()
        require_positive(d_in=d_in, d_out=d_out, num_heads=num_heads, num_kv_groups=num_kv_groups)
        require_rate(dropout)
        if d_out % num_heads != 0:
            raise ValueError(f"d_out={d_out} is not divisible by num_heads={num_heads}")
        if num_heads % num_kv_groups != 0:
            raise ValueError(f"num_heads={num_heads} is not divisible by num_kv_groups={num_kv_groups}")
        self.d_in, self.d_out, self.p = d_in, d_out, float(dropout)
        self.num_heads, self.num_kv_groups, self.head_dim = num_heads, num_kv_groups, d_out // num_heads
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias, dtype=dtype)
        self.W_key = nn.Linear(d_in, num_kv_groups * self.head_dim, bias=qkv_bias, dtype=dtype)
        self.W_value = nn.Linear(d_in, num_kv_groups * self.head_dim, bias=qkv_bias, dtype=dtype)
        self.out_proj = nn.Linear(d_out, d_out, dtype=dtype)

    def forward(self, x):
        require_input(x, self.d_in)
        b, n, _ = x.shape
        group = self.num_heads // self.num_kv_groups
        queries = self.W_query(x).view(b, n, self.num_heads, self.head_dim).transpose(1, 2)
        keys = self.W_key(x).view(b, n, self.num_kv_groups, self.head_dim).transpose(1, 2)
        values = self.W_value(x).view(b, n, self.num_kv_groups, self.head_dim).transpose(1, 2)
        keys, values = keys.repeat_interleave(group, dim=1), values.repeat_interleave(group, dim=1)
        mask = torch.triu(torch.ones(n, n, dtype=torch.bool, device=x.device), diagonal=1)
        scores = (queries @ keys.transpose(2, 3)).masked_fill(mask, -torch.inf)
        weights = F.dropout(torch.softmax(scores / self.head_dim ** 0.5, dim=-1), self.p, self.training)
        return self.out_proj((weights @ values).transpose(1, 2).reshape(b, n, self.d_out))


print(GroupedQueryAttention(24, 24, 0.0, num_heads=8, num_kv_groups=2)(torch.randn(1, 50, 24)).shape)
try:
    GroupedQueryAttention(24, 24, 0.0, num_heads=8, num_kv_groups=3)
except ValueError as err:
    print("rejected:", err)"""),
]

MAX_README = """\
# Assignment 2 — Max

The notebook `assignment2.ipynb` implements chapter 3 with input validation in every module.

## Notes on the implementation

All modules raise `ValueError` for sizes that cannot work (non-positive sizes, `d_out` not
divisible by `num_heads`, a dropout rate outside [0, 1)) and for inputs of the wrong rank or
width or longer than `context_length`. Dropout is `F.dropout(..., self.training)`. The efficient
multi-head attention has one `qkv` projection laid out per head.

## Why causal masking is necessary

GPT-style models generate text one token at a time, always predicting the next token from the
ones before it. During training all positions are processed together, so without a mask a
position could attend to future tokens, including the very token it has to predict. Setting the
future scores to -inf before the softmax gives them zero weight (and the softmax keeps each row
summing to one), so training matches what is possible at generation time.

## Purpose of multiple heads

Different heads can learn different relations between tokens in parallel, each in its own
lower-dimensional subspace; their outputs are concatenated and combined by the output
projection (`out_proj`).

## Attention weights and scaling

An attention weight says how strongly one token attends to another; the weights of one query
sum to 1, so a row shows where that token's focus lies. The scores are scaled by 1/sqrt(d_k)
because the variance of a dot product grows with its length, which would push the softmax into
a nearly one-hot regime with tiny gradients.
"""

MAX_BUG = [(
    ("        weights = torch.softmax(scores / self.head_dim ** 0.5, dim=-1)\n"
     "        weights = F.dropout(weights, self.p, self.training)\n"
     "        context = (weights @ values).transpose(1, 2).reshape(b, num_tokens, self.d_out)"),
    ("        weights = torch.softmax(scores / self.d_out ** 0.5, dim=-1)\n"
     "        weights = F.dropout(weights, self.p, self.training)\n"
     "        context = (weights @ values).transpose(1, 2).reshape(b, num_tokens, self.d_out)"))]

KAI_SAMPLE, LOU_SAMPLE, MAX_SAMPLE = (Sample("a2", student, "assignment2.ipynb", cells, readme, run=Run(in_folder=True))
                                      for student, cells, readme in [("kai-nanogpt", KAI, KAI_README),
                                                                     ("lou-own-names", LOU, LOU_README),
                                                                     ("max-defensive", MAX, MAX_README)])
SAMPLES = [KAI_SAMPLE, variant(KAI_SAMPLE, "kai-heads-merged-no-transpose", KAI_BUG),
           LOU_SAMPLE, variant(LOU_SAMPLE, "lou-scale-by-d-in", LOU_BUG),
           MAX_SAMPLE, variant(MAX_SAMPLE, "max-scale-by-d-out", MAX_BUG)]
