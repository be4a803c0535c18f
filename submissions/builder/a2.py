"""a2 (chapter 3, attention): Ada's book-style notebook, one-bug copies under other students' names, and Ivy's
correct notebook with her own names and layouts (a fused qkv projection, weights stored transposed, a broken
draft left under the book's name) mapped with GRADER_NAMES. The notebooks run in their own folders, which keep
the figures they save (attention_*.png)."""

import re

from .core import Run, Sample, grader_names, require, with_bug

# ---------------------------------------------------------------- the correct notebook

CELLS = [
    ("md", """\
# Assignment 2: attention mechanisms (chapter 3)

**Student:** Ada

This notebook builds attention step by step, the way chapter 3 does: first attention without
any trainable weights, then scaled dot-product attention with query/key/value projections,
then a causal mask with dropout, and finally multi-head attention, both as a stack of single
heads and as one efficient module that splits its projections into heads. Each step prints its
result next to the number the book prints for the same seed. The exercises (3.1 head counts,
3.2 attention patterns for different texts, 3.3 grouped-query attention) are at the end."""),
    ("code", """\
%matplotlib inline
import math
import time

import matplotlib.pyplot as plt
import tiktoken
import torch
import torch.nn as nn

torch.set_printoptions(precision=4, sci_mode=False)
plt.rcParams["figure.dpi"] = 60  # small inline figures keep the notebook light
print("torch", torch.__version__)"""),
    ("md", """\
## 3.3 Attention without trainable weights

Every token gets a *context vector*: a weighted average of all token embeddings, where the
weights say how relevant each other token is. Here relevance is just the dot product of two
embeddings, normalised with a softmax so that the weights of one query are positive and add
up to 1. I use the book's six 3-dimensional embeddings of "Your journey starts with one step"."""),
    ("code", """\
inputs = torch.tensor(
    [[0.43, 0.15, 0.89],   # Your
     [0.55, 0.87, 0.66],   # journey
     [0.57, 0.85, 0.64],   # starts
     [0.22, 0.58, 0.33],   # with
     [0.77, 0.25, 0.10],   # one
     [0.05, 0.80, 0.55]]   # step
)
words = ["Your", "journey", "starts", "with", "one", "step"]

query = inputs[1]                       # "journey" asks: which tokens matter to me?
scores_2 = inputs @ query               # one dot product per token, shape (6,)
weights_2 = torch.softmax(scores_2, dim=0)
context_2 = weights_2 @ inputs          # weighted sum of the embeddings, shape (3,)
print("scores :", scores_2)
print("weights:", weights_2, "sum =", round(weights_2.sum().item(), 4))
print("context:", context_2, "(book: [0.4419, 0.6515, 0.5683])")"""),
    ("md", """\
The same for all six queries at once is two matrix products: `inputs @ inputs.T` holds every
pair's score (row = query, column = key), and the softmax runs along each row (`dim=-1`)."""),
    ("code", """\
attn_scores = inputs @ inputs.T                    # (6, 6)
attn_weights = torch.softmax(attn_scores, dim=-1)  # each row sums to 1
all_context_vecs = attn_weights @ inputs           # (6, 3)

book_rows = {0: [0.4421, 0.5931, 0.5790], 5: [0.4177, 0.6503, 0.5645]}
for row, values in book_rows.items():
    same = torch.allclose(all_context_vecs[row], torch.tensor(values), atol=1e-4)
    print(f"row {row}: {all_context_vecs[row]}  book: {values}  match: {same}")
print("row sums of the weights:", attn_weights.sum(dim=-1))"""),
    ("code", """\
def show_attention(weights, labels, title, ax):
    \"\"\"Heatmap of one (queries x keys) attention matrix.\"\"\"
    image = ax.imshow(weights.detach(), cmap="viridis", vmin=0)
    ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.set_xlabel("key (attended to)", fontsize=8)
    ax.set_ylabel("query", fontsize=8)
    ax.set_title(title, fontsize=9)
    plt.colorbar(image, ax=ax, fraction=0.046)


fig, ax = plt.subplots(figsize=(4, 3.4))
show_attention(attn_weights, words, "Attention without weights", ax)
fig.tight_layout()
fig.savefig("attention_simplified.png", dpi=70)
plt.show()"""),
    ("md", """\
Without trainable weights, "journey" and "starts" attend mostly to each other because their
embeddings point in almost the same direction; nothing here can be learned.

## 3.4 Scaled dot-product attention with trainable weights

Three projection matrices turn each embedding into a *query* (what I look for), a *key* (what
I offer) and a *value* (what I pass on). The scores are divided by `sqrt(d_k)` before the
softmax: with large key dimensions dot products grow, the softmax becomes almost one-hot and
its gradients vanish. `SelfAttention_v1` stores the matrices as raw `nn.Parameter`s of shape
`(d_in, d_out)`."""),
    ("code", """\
class SelfAttention_v1(nn.Module):
    \"\"\"Self-attention with three trainable projection matrices stored as raw parameters.\"\"\"

    def __init__(self, d_in, d_out):
        super().__init__()
        # torch.rand like the book, so the seeded output can be compared with it
        self.W_query = nn.Parameter(torch.rand(d_in, d_out))
        self.W_key = nn.Parameter(torch.rand(d_in, d_out))
        self.W_value = nn.Parameter(torch.rand(d_in, d_out))

    def forward(self, x):                      # x: (num_tokens, d_in)
        queries = x @ self.W_query             # (num_tokens, d_out)
        keys = x @ self.W_key
        values = x @ self.W_value
        scores = queries @ keys.T              # (num_tokens, num_tokens)
        weights = torch.softmax(scores / keys.shape[-1] ** 0.5, dim=-1)
        return weights @ values                # (num_tokens, d_out)


torch.manual_seed(123)
sa_v1 = SelfAttention_v1(d_in=3, d_out=2)
out_v1 = sa_v1(inputs)
book_v1 = torch.tensor([[0.2996, 0.8053], [0.3061, 0.8210], [0.3058, 0.8203],
                        [0.2948, 0.7939], [0.2927, 0.7891], [0.2990, 0.8040]])
print(out_v1)
print("matches the book:", torch.allclose(out_v1, book_v1, atol=1e-4))"""),
    ("md", """\
`SelfAttention_v2` does the same with `nn.Linear` layers (no bias by default), which use a
better initialisation. An `nn.Linear` stores its weight as `(d_out, d_in)`, the transpose of
v1's matrices, so copying v2's weights into v1 transposed must give identical outputs."""),
    ("code", """\
class SelfAttention_v2(nn.Module):
    \"\"\"SelfAttention_v1 with nn.Linear projections.\"\"\"

    def __init__(self, d_in, d_out, qkv_bias=False):
        super().__init__()
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)

    def forward(self, x):                      # x: (num_tokens, d_in)
        queries, keys, values = self.W_query(x), self.W_key(x), self.W_value(x)
        attn_scores = queries @ keys.T
        attn_weights = torch.softmax(attn_scores / math.sqrt(keys.shape[-1]), dim=-1)
        return attn_weights @ values


torch.manual_seed(789)
sa_v2 = SelfAttention_v2(d_in=3, d_out=2)
out_v2 = sa_v2(inputs)
book_v2 = torch.tensor([[-0.0739, 0.0713], [-0.0748, 0.0703], [-0.0749, 0.0702],
                        [-0.0760, 0.0685], [-0.0763, 0.0679], [-0.0754, 0.0693]])
print(out_v2)
print("matches the book:", torch.allclose(out_v2, book_v2, atol=1e-4))

with torch.no_grad():  # v2 -> v1: nn.Linear keeps the transposed matrix
    sa_v1.W_query.copy_(sa_v2.W_query.weight.T)
    sa_v1.W_key.copy_(sa_v2.W_key.weight.T)
    sa_v1.W_value.copy_(sa_v2.W_value.weight.T)
print("v1 with v2's weights gives v2's output:", torch.allclose(sa_v1(inputs), out_v2, atol=1e-6))"""),
    ("md", """\
## 3.5 Causal attention

A language model predicts the next token, so while processing token *i* it must not look at
tokens after *i*. I set the scores above the diagonal to `-inf` *before* the softmax: they
become exactly 0 and every row still sums to 1. Dropout on the attention weights (only during
training) randomly hides some of them and rescales the rest by `1 / (1 - p)`."""),
    ("code", """\
with torch.no_grad():
    queries, keys = sa_v2.W_query(inputs), sa_v2.W_key(inputs)
    scores = queries @ keys.T
n = scores.shape[0]
future = torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=1)   # True above the diagonal
causal_weights = torch.softmax(scores.masked_fill(future, -torch.inf) / keys.shape[-1] ** 0.5, dim=-1)
print(causal_weights)
print("row sums:", causal_weights.sum(dim=-1))

torch.manual_seed(123)
dropout = nn.Dropout(0.5)
print("with dropout (training mode):")
print(dropout(causal_weights))

fig, axes = plt.subplots(1, 2, figsize=(8, 3.4))
show_attention(torch.softmax(scores / keys.shape[-1] ** 0.5, dim=-1), words, "SelfAttention_v2 weights", axes[0])
show_attention(causal_weights, words, "after the causal mask", axes[1])
fig.tight_layout()
fig.savefig("attention_causal.png", dpi=70)
plt.show()"""),
    ("md", """\
`CausalAttention` packs this into a module that takes a *batch* of sequences
`(batch, num_tokens, d_in)`. The mask is a buffer (it follows the module to the GPU but is
not trained) of size `context_length`, cropped to the actual number of tokens."""),
    ("code", """\
class CausalAttention(nn.Module):
    \"\"\"Single-head attention in which each token only sees itself and earlier tokens.\"\"\"

    def __init__(self, d_in, d_out, context_length, dropout, qkv_bias=False):
        super().__init__()
        self.d_out = d_out
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("mask", torch.triu(torch.ones(context_length, context_length), diagonal=1))

    def forward(self, x):                                  # x: (batch, num_tokens, d_in)
        b, num_tokens, d_in = x.shape
        queries, keys, values = self.W_query(x), self.W_key(x), self.W_value(x)
        scores = queries @ keys.transpose(1, 2)            # (batch, num_tokens, num_tokens)
        # crop the mask so sequences shorter than context_length work too
        scores = scores.masked_fill(self.mask.bool()[:num_tokens, :num_tokens], -torch.inf)
        weights = torch.softmax(scores / keys.shape[-1] ** 0.5, dim=-1)
        weights = self.dropout(weights)
        return weights @ values                            # (batch, num_tokens, d_out)


batch = torch.stack((inputs, inputs), dim=0)               # (2, 6, 3)
torch.manual_seed(123)
ca = CausalAttention(d_in=3, d_out=2, context_length=batch.shape[1], dropout=0.0)
ca_out = ca(batch)
book_ca = torch.tensor([[-0.4519, 0.2216], [-0.5874, 0.0058], [-0.6300, -0.0632],
                        [-0.5675, -0.0843], [-0.5526, -0.0981], [-0.5299, -0.1081]])
print("output shape:", tuple(ca_out.shape))
print(ca_out[0])
print("matches the book:", torch.allclose(ca_out[0], book_ca, atol=1e-4))"""),
    ("md", """\
## 3.6 Multi-head attention

The simplest multi-head attention runs several independent `CausalAttention` heads and puts
their outputs side by side, so the output width is `num_heads * d_out`."""),
    ("code", """\
class MultiHeadAttentionWrapper(nn.Module):
    \"\"\"Independent CausalAttention heads whose outputs are concatenated.\"\"\"

    def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias=False):
        super().__init__()
        self.heads = nn.ModuleList(
            [CausalAttention(d_in, d_out, context_length, dropout, qkv_bias) for _ in range(num_heads)]
        )

    def forward(self, x):
        return torch.cat([head(x) for head in self.heads], dim=-1)   # (batch, num_tokens, num_heads * d_out)


torch.manual_seed(123)
wrapper = MultiHeadAttentionWrapper(d_in=3, d_out=2, context_length=6, dropout=0.0, num_heads=2)
print("wrapper output shape:", tuple(wrapper(batch).shape))"""),
    ("md", """\
The efficient version computes one big query/key/value projection of width `d_out` and
splits it into `num_heads` heads of `head_dim = d_out // num_heads` by reshaping:
`(b, tokens, d_out) -> (b, tokens, heads, head_dim) -> (b, heads, tokens, head_dim)`. The
transpose matters: it groups each head's features of *all* tokens together, so the batched
matrix product computes one attention matrix per head. Afterwards the heads are put back side
by side and mixed by an output projection `out_proj`."""),
    ("code", """\
class MultiHeadAttention(nn.Module):
    \"\"\"Causal multi-head attention with the projections split into heads.\"\"\"

    def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias=False):
        super().__init__()
        assert d_out % num_heads == 0, "d_out must be divisible by num_heads"
        self.d_out = d_out
        self.num_heads = num_heads
        self.head_dim = d_out // num_heads
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.out_proj = nn.Linear(d_out, d_out)  # mixes what the heads found
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("mask", torch.ones(context_length, context_length).triu(diagonal=1))

    def forward(self, x):                                         # x: (b, num_tokens, d_in)
        b, num_tokens, _ = x.shape
        # (b, num_tokens, d_out) -> (b, num_tokens, num_heads, head_dim) -> (b, num_heads, num_tokens, head_dim)
        queries = self.W_query(x).view(b, num_tokens, self.num_heads, self.head_dim).transpose(1, 2)
        keys = self.W_key(x).view(b, num_tokens, self.num_heads, self.head_dim).transpose(1, 2)
        values = self.W_value(x).view(b, num_tokens, self.num_heads, self.head_dim).transpose(1, 2)

        scores = queries @ keys.transpose(2, 3)                   # (b, num_heads, num_tokens, num_tokens)
        scores = scores.masked_fill(self.mask.bool()[:num_tokens, :num_tokens], -torch.inf)
        weights = torch.softmax(scores / self.head_dim ** 0.5, dim=-1)
        weights = self.dropout(weights)

        context = (weights @ values).transpose(1, 2)              # (b, num_tokens, num_heads, head_dim)
        context = context.contiguous().view(b, num_tokens, self.d_out)
        return self.out_proj(context)


def attention_weights(mha, x):
    \"\"\"The (b, num_heads, num_tokens, num_tokens) causal attention weights of a MultiHeadAttention.\"\"\"
    b, n, _ = x.shape
    with torch.no_grad():
        q = mha.W_query(x).view(b, n, mha.num_heads, mha.head_dim).transpose(1, 2)
        k = mha.W_key(x).view(b, n, mha.num_heads, mha.head_dim).transpose(1, 2)
        scores = (q @ k.transpose(2, 3)).masked_fill(mha.mask.bool()[:n, :n], -torch.inf)
        return torch.softmax(scores / mha.head_dim ** 0.5, dim=-1)


torch.manual_seed(123)
mha = MultiHeadAttention(d_in=3, d_out=2, context_length=6, dropout=0.0, num_heads=2)
mha_out = mha(batch)
book_mha = torch.tensor([[0.3190, 0.4858], [0.2943, 0.3897], [0.2856, 0.3593],
                         [0.2693, 0.3873], [0.2639, 0.3928], [0.2575, 0.4028]])
print("output shape:", tuple(mha_out.shape))
print(mha_out[0])
print("matches the book:", torch.allclose(mha_out[0], book_mha, atol=1e-4))

gpt2_size = MultiHeadAttention(768, 768, context_length=1024, dropout=0.0, num_heads=12)
print(f"GPT-2 small attention layer: {sum(p.numel() for p in gpt2_size.parameters()):,} parameters (book: \
2,360,064)")"""),
    ("md", """\
### Tests of the output shapes

A few configurations, including sequences shorter than `context_length` and a single token."""),
    ("code", """\
shape_cases = [  # (d_in, d_out, num_heads, batch, num_tokens)
    (3, 2, 1, 2, 6), (3, 2, 2, 2, 6), (16, 32, 4, 3, 10), (16, 32, 8, 1, 1), (32, 16, 2, 4, 7),
]
for d_in, d_out, num_heads, b, n in shape_cases:
    x = torch.rand(b, n, d_in)
    assert CausalAttention(d_in, d_out, 10, 0.0)(x).shape == (b, n, d_out)
    assert MultiHeadAttentionWrapper(d_in, d_out, 10, 0.0, num_heads)(x).shape == (b, n, num_heads * d_out)
    assert MultiHeadAttention(d_in, d_out, 10, 0.0, num_heads)(x).shape == (b, n, d_out)
assert SelfAttention_v1(3, 5)(inputs).shape == (6, 5)
assert SelfAttention_v2(3, 5, qkv_bias=True)(inputs).shape == (6, 5)
print(f"all {len(shape_cases) * 3 + 2} shape tests passed")"""),
    ("md", """\
### Attention patterns for a sample sentence

The weights are random (nothing is trained yet), but the pictures already show the structure:
every head sees only the lower triangle, the first token attends only to itself, and different
heads weigh the earlier tokens differently because each has its own slice of the projections."""),
    ("code", """\
tokenizer = tiktoken.get_encoding("gpt2")
sentence = "The cat sat on the mat because it was warm."
ids = tokenizer.encode(sentence)
labels = [tokenizer.decode([i]) for i in ids]

torch.manual_seed(42)
token_embedding = nn.Embedding(tokenizer.n_vocab, 32)
position_embedding = nn.Embedding(64, 32)
with torch.no_grad():
    x = token_embedding(torch.tensor([ids])) + position_embedding(torch.arange(len(ids)))
sample_mha = MultiHeadAttention(32, 32, context_length=64, dropout=0.0, num_heads=4).eval()
head_maps = attention_weights(sample_mha, x)[0]                # (4, tokens, tokens)

fig, axes = plt.subplots(1, 4, figsize=(15, 3.6))
for h, ax in enumerate(axes):
    show_attention(head_maps[h], labels, f"head {h}", ax)
fig.tight_layout()
fig.savefig("attention_heads.png", dpi=60)
plt.show()"""),
    ("md", """\
## Exercise 3.1: 1, 2, 4 and 8 heads

The total width stays `d_out = 64`; more heads means smaller heads. The parameter count does not
change (the projections are the same size) and the output shape does not change. What changes
is how many separate attention patterns the layer can form; I also report the mean entropy of
the attention rows (higher = more spread out) and the time per forward pass."""),
    ("code", """\
torch.manual_seed(0)
x = torch.randn(2, 32, 64)
for num_heads in [1, 2, 4, 8]:
    layer = MultiHeadAttention(64, 64, context_length=32, dropout=0.0, num_heads=num_heads).eval()
    n_params = sum(p.numel() for p in layer.parameters())
    with torch.no_grad():
        layer(x)  # warm-up, so the first timing is not an outlier
    start = time.perf_counter()
    with torch.no_grad():
        for _ in range(5):
            out = layer(x)
    ms = (time.perf_counter() - start) / 5 * 1000
    w = attention_weights(layer, x)
    entropy = -(w * w.clamp_min(1e-12).log()).sum(-1).mean()
    print(f"{num_heads} heads: head_dim={layer.head_dim:2d}  params={n_params}  output={tuple(out.shape)}  "
          f"{ms:.2f} ms/forward  mean row entropy={entropy:.3f}")"""),
    ("md", """\
The untrained layers behave almost identically: the same parameters, the same output shape,
similar run times (a few more, smaller matrix products for 8 heads), and nearly the same row
entropy. The entropy does not change with the head size because the scores are divided by
`sqrt(head_dim)`, which keeps their spread independent of how wide a head is. The benefit of
more heads only shows after training: several heads can specialise (one on the previous token,
one on punctuation, ...), which a single head cannot do with one softmax per query.

## Exercise 3.2: attention patterns for different kinds of text

Same untrained layer (head 0) on a narrative sentence, a line of code and a line of poetry.
With random weights the pattern mostly reflects which tokens have similar embeddings: repeated
tokens (`(`, `=`, `the`) attract similar attention, and code, with many short symbol tokens,
gives more spread-out rows."""),
    ("code", """\
texts = {
    "narrative": "She opened the door and saw the garden.",
    "code": "for i in range(10): total = total + i",
    "poetry": "The woods are lovely, dark and deep,",
}
fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
for ax, (kind, text) in zip(axes, texts.items()):
    ids = tokenizer.encode(text)
    with torch.no_grad():
        x = token_embedding(torch.tensor([ids])) + position_embedding(torch.arange(len(ids)))
    show_attention(attention_weights(sample_mha, x)[0, 0], [tokenizer.decode([i]) for i in ids], kind, ax)
fig.tight_layout()
fig.savefig("attention_texts.png", dpi=60)
plt.show()"""),
    ("md", """\
## Exercise 3.3: grouped-query attention

In grouped-query attention (GQA) the query heads are split into `num_kv_groups` groups and all
heads of a group share one key/value head. This shrinks the key/value projections (and the KV
cache at inference) by `num_heads / num_kv_groups`. With one group per head it is ordinary
multi-head attention; with one group in total it is multi-query attention. The causal mask is
built from the input length, so there is no `context_length`."""),
    ("code", """\
class GroupedQueryAttention(nn.Module):
    \"\"\"Causal attention whose query heads share key/value heads in groups.\"\"\"

    def __init__(self, d_in, d_out, dropout, num_heads, num_kv_groups, dtype=None, qkv_bias=False):
        super().__init__()
        assert d_out % num_heads == 0 and num_heads % num_kv_groups == 0
        self.d_out = d_out
        self.num_heads = num_heads
        self.num_kv_groups = num_kv_groups
        self.head_dim = d_out // num_heads
        self.group_size = num_heads // num_kv_groups      # query heads per key/value head
        kv_width = num_kv_groups * self.head_dim
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias, dtype=dtype)
        self.W_key = nn.Linear(d_in, kv_width, bias=qkv_bias, dtype=dtype)
        self.W_value = nn.Linear(d_in, kv_width, bias=qkv_bias, dtype=dtype)
        self.out_proj = nn.Linear(d_out, d_out, dtype=dtype)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        b, num_tokens, _ = x.shape
        queries = self.W_query(x).view(b, num_tokens, self.num_heads, self.head_dim).transpose(1, 2)
        keys = self.W_key(x).view(b, num_tokens, self.num_kv_groups, self.head_dim).transpose(1, 2)
        values = self.W_value(x).view(b, num_tokens, self.num_kv_groups, self.head_dim).transpose(1, 2)
        # query head h uses group h // group_size: each group is repeated for its consecutive heads
        keys = keys.repeat_interleave(self.group_size, dim=1)
        values = values.repeat_interleave(self.group_size, dim=1)

        scores = queries @ keys.transpose(2, 3)
        future = torch.triu(torch.ones(num_tokens, num_tokens, dtype=torch.bool, device=x.device), diagonal=1)
        weights = torch.softmax(scores.masked_fill(future, -torch.inf) / math.sqrt(self.head_dim), dim=-1)
        weights = self.dropout(weights)
        context = (weights @ values).transpose(1, 2).reshape(b, num_tokens, self.d_out)
        return self.out_proj(context)"""),
    ("code", """\
torch.manual_seed(0)
x = torch.rand(2, 10, 16)
reference_mha = MultiHeadAttention(16, 16, context_length=10, dropout=0.0, num_heads=4)
gqa = GroupedQueryAttention(16, 16, dropout=0.0, num_heads=4, num_kv_groups=4)
gqa.load_state_dict(reference_mha.state_dict(), strict=False)   # same layers; the mask buffer is ignored
with torch.no_grad():
    print("one group per head equals MultiHeadAttention:", torch.allclose(gqa(x), reference_mha(x), atol=1e-6))

gqa2 = GroupedQueryAttention(16, 16, dropout=0.0, num_heads=4, num_kv_groups=2)
changed = x.clone()
changed[:, 5:] = torch.rand(2, 5, 16)
with torch.no_grad():
    print("causal (changing tokens 5.. keeps outputs 0..4):", torch.allclose(gqa2(x)[:, :5], gqa2(changed)[:, :5]))
    print("works on 50 tokens:", tuple(gqa2(torch.rand(1, 50, 16)).shape))

for groups in [12, 4, 1]:
    layer = GroupedQueryAttention(768, 768, dropout=0.0, num_heads=12, num_kv_groups=groups)
    kv = sum(p.numel() for p in (*layer.W_key.parameters(), *layer.W_value.parameters()))
    print(f"12 heads, {groups} key/value groups: {kv:,} key/value parameters")"""),
    ("md", """\
## Summary

All five required modules reproduce the book's printed outputs for the book's seeds, the shape
tests pass, and grouped-query attention with one group per head matches multi-head attention
exactly. The discussion of causal masking, multiple heads and what attention weights show is in
`README.md`."""),
]

README = """\
# Assignment 2: attention mechanisms — {name}

Everything is in `assignment2.ipynb`; it runs top to bottom on a CPU in a few seconds and saves
its figures next to it (`attention_*.png`).

## Approach

I followed chapter 3 in order: attention without weights (3.3), `SelfAttention_v1` with raw
parameter matrices and `SelfAttention_v2` with `nn.Linear` (3.4), the causal mask and dropout
and `CausalAttention` for batches (3.5), and multi-head attention as a wrapper of single heads
and as one module that splits its projections (3.6). After each step the notebook prints the
output for the book's seed next to the book's numbers; all of them match to four decimals, and
`MultiHeadAttention(768, 768, 1024, 0.0, 12)` has the book's 2,360,064 parameters.

## Why causal masking is necessary

A GPT model is trained to predict token *t + 1* from tokens *1..t*, for every position of a
sequence at once. Without a mask, position *t* could simply look at token *t + 1* in the input
and copy it: training loss would drop but the model would learn nothing usable, because at
generation time the future does not exist yet. The mask sets the scores of later positions to
`-inf` before the softmax, so their weights are exactly zero and each row still sums to one.
Masking after the softmax (and not renormalising) would leave rows that sum to less than one
and, worse, the normalisation would still depend on future tokens.

## The purpose of multiple attention heads

One head computes one softmax per query, so it can only express one weighting of the earlier
tokens. Several heads, each with its own (smaller) slice of the projections, can attend to
different things at the same time, e.g. the previous token, the subject of the sentence, the
matching bracket. Splitting `d_out` into heads keeps the parameter count and the cost the same
(exercise 3.1: 16,448 parameters for 1, 2, 4 or 8 heads at width 64); the output projection then
mixes what the heads found. Grouped-query attention (exercise 3.3) keeps many query heads but
shares key/value heads between them, which cuts the key/value parameters (for 12 heads at width
768: 1,179,648 with 12 groups, 393,216 with 4, 98,304 with one) and the KV cache.

## How attention weights reveal the model's focus

Row *i* of the weight matrix is a probability distribution over the tokens *i* may look at: a
large entry means that token's value vector makes up much of the new representation of token
*i*. The heatmaps in the notebook show this for the toy sentence (without weights, "journey"
and "starts" attend to each other because their embeddings are similar), the causal triangle,
and four heads on a GPT-2-tokenised sentence. With untrained weights the patterns only reflect
embedding similarity and position; in a trained model the same plots show heads that track
syntax or repeated words. Attention weights show where information is read from, not why a
prediction is made, so they are a hint rather than an explanation.

## Difficulties

- The transpose in the head split: viewing `(b, tokens, d_out)` directly as
  `(b, heads, tokens, head_dim)` has the right shape but mixes tokens into heads; the output
  then even depends on future tokens. Writing the shapes in comments fixed my first attempt.
- Remembering that `nn.Linear` stores `(d_out, d_in)` when copying weights between v1 and v2.
- Exercise 3.3: `repeat_interleave` (not `repeat`) makes consecutive query heads share a
  key/value group.
"""

# ---------------------------------------------------------------- the flawed copies: one bug each

BUGS = {
    "ben-unscaled-scores": [(
        "weights = torch.softmax(scores / self.head_dim ** 0.5, dim=-1)",
        "weights = torch.softmax(scores, dim=-1)")],
    "cara-mask-after-softmax": [(
        """\
        scores = scores.masked_fill(self.mask.bool()[:num_tokens, :num_tokens], -torch.inf)
        weights = torch.softmax(scores / keys.shape[-1] ** 0.5, dim=-1)
        weights = self.dropout(weights)
        return weights @ values                            # (batch, num_tokens, d_out)""",
        """\
        weights = torch.softmax(scores / keys.shape[-1] ** 0.5, dim=-1)
        weights = weights.masked_fill(self.mask.bool()[:num_tokens, :num_tokens], 0.0)
        weights = self.dropout(weights)
        return weights @ values                            # (batch, num_tokens, d_out)""")],
    "dan-mask-diagonal": [(
        'self.register_buffer("mask", torch.ones(context_length, context_length).triu(diagonal=1))',
        'self.register_buffer("mask", torch.ones(context_length, context_length).triu())')],
    "eve-heads-no-transpose": [(
        """\
        # (b, num_tokens, d_out) -> (b, num_tokens, num_heads, head_dim) -> (b, num_heads, num_tokens, head_dim)
        queries = self.W_query(x).view(b, num_tokens, self.num_heads, self.head_dim).transpose(1, 2)
        keys = self.W_key(x).view(b, num_tokens, self.num_heads, self.head_dim).transpose(1, 2)
        values = self.W_value(x).view(b, num_tokens, self.num_heads, self.head_dim).transpose(1, 2)""",
        """\
        # (b, num_tokens, d_out) -> (b, num_heads, num_tokens, head_dim)
        queries = self.W_query(x).view(b, self.num_heads, num_tokens, self.head_dim)
        keys = self.W_key(x).view(b, self.num_heads, num_tokens, self.head_dim)
        values = self.W_value(x).view(b, self.num_heads, num_tokens, self.head_dim)""")],
    "finn-missing-out-proj": [
        ("        self.out_proj = nn.Linear(d_out, d_out)  # mixes what the heads found\n", ""),
        ("        context = context.contiguous().view(b, num_tokens, self.d_out)\n"
         "        return self.out_proj(context)",
         "        return context.contiguous().view(b, num_tokens, self.d_out)")],
    "gia-softmax-dim0": [(
        "attn_weights = torch.softmax(attn_scores / math.sqrt(keys.shape[-1]), dim=-1)",
        "attn_weights = torch.softmax(attn_scores / math.sqrt(keys.shape[-1]), dim=0)")],
    "hal-gqa-repeat": [(
        """\
        keys = keys.repeat_interleave(self.group_size, dim=1)
        values = values.repeat_interleave(self.group_size, dim=1)""",
        """\
        keys = keys.repeat(1, self.group_size, 1, 1)
        values = values.repeat(1, self.group_size, 1, 1)""")],
    "nia-dropout-on-context": [(
        """\
        weights = torch.softmax(scores / self.head_dim ** 0.5, dim=-1)
        weights = self.dropout(weights)

        context = (weights @ values).transpose(1, 2)              # (b, num_tokens, num_heads, head_dim)""",
        """\
        weights = torch.softmax(scores / self.head_dim ** 0.5, dim=-1)

        context = self.dropout(weights @ values).transpose(1, 2)  # (b, num_tokens, num_heads, head_dim)""")],
    "oli-dropout-unscaled": [(
        """\
        weights = torch.softmax(scores / keys.shape[-1] ** 0.5, dim=-1)
        weights = self.dropout(weights)
        return weights @ values                            # (batch, num_tokens, d_out)""",
        """\
        weights = torch.softmax(scores / keys.shape[-1] ** 0.5, dim=-1)
        if self.training:  # drop attention weights at random
            weights = weights * (torch.rand_like(weights) >= self.dropout.p)
        return weights @ values                            # (batch, num_tokens, d_out)""")],
}

# ---------------------------------------------------------------- ivy-own-names: her names, GRADER_NAMES

IVY_RENAMES = [
    (r"\bSelfAttention_v1\b", "RawSelfAttention"), (r"\bSelfAttention_v2\b", "LinearSelfAttention"),
    (r"\bMultiHeadAttentionWrapper\b", "HeadStack"), (r"\bCausalAttention\b", "MaskedAttention"),
    (r"\bGroupedQueryAttention\b", "GQA"), (r"\ball_context_vecs\b", "context_all"),
]
IVY_V1 = ('''\
        # torch.rand like the book, so the seeded output can be compared with it
        self.W_query = nn.Parameter(torch.rand(d_in, d_out))
        self.W_key = nn.Parameter(torch.rand(d_in, d_out))
        self.W_value = nn.Parameter(torch.rand(d_in, d_out))

    def forward(self, x):                      # x: (num_tokens, d_in)
        queries = x @ self.W_query             # (num_tokens, d_out)
        keys = x @ self.W_key
        values = x @ self.W_value''', '''\
        # stored like nn.Linear's weight, (d_out, d_in), so weights copy over without transposing
        self.Wq = nn.Parameter(torch.rand(d_out, d_in))
        self.Wk = nn.Parameter(torch.rand(d_out, d_in))
        self.Wv = nn.Parameter(torch.rand(d_out, d_in))

    def forward(self, x):                      # x: (num_tokens, d_in)
        queries = x @ self.Wq.T                # (num_tokens, d_out)
        keys = x @ self.Wk.T
        values = x @ self.Wv.T''')
IVY_V1_COPY = ('''\
    sa_v1.W_query.copy_(sa_v2.W_query.weight.T)
    sa_v1.W_key.copy_(sa_v2.W_key.weight.T)
    sa_v1.W_value.copy_(sa_v2.W_value.weight.T)''', '''\
    sa_v1.Wq.copy_(sa_v2.W_query.weight)
    sa_v1.Wk.copy_(sa_v2.W_key.weight)
    sa_v1.Wv.copy_(sa_v2.W_value.weight)''')
IVY_MHA_INIT = ('''\
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.out_proj = nn.Linear(d_out, d_out)  # mixes what the heads found''', '''\
        self.qkv = nn.Linear(d_in, 3 * d_out, bias=qkv_bias)  # queries, keys and values in one product
        self.out_proj = nn.Linear(d_out, d_out)  # mixes what the heads found''')
IVY_MHA_SPLIT = ('''\
        queries = self.W_query(x).view(b, num_tokens, self.num_heads, self.head_dim).transpose(1, 2)
        keys = self.W_key(x).view(b, num_tokens, self.num_heads, self.head_dim).transpose(1, 2)
        values = self.W_value(x).view(b, num_tokens, self.num_heads, self.head_dim).transpose(1, 2)

        scores''', '''\
        qkv = self.qkv(x).view(b, num_tokens, 3, self.num_heads, self.head_dim)
        queries, keys, values = qkv.permute(2, 0, 3, 1, 4)       # each (b, num_heads, num_tokens, head_dim)

        scores''')
IVY_HELPER = ('''\
        q = mha.W_query(x).view(b, n, mha.num_heads, mha.head_dim).transpose(1, 2)
        k = mha.W_key(x).view(b, n, mha.num_heads, mha.head_dim).transpose(1, 2)''', '''\
        q, k, _ = mha.qkv(x).view(b, n, 3, mha.num_heads, mha.head_dim).permute(2, 0, 3, 1, 4)''')
IVY_GQA_LOAD = ('''\
gqa.load_state_dict(reference_mha.state_dict(), strict=False)   # same layers; the mask buffer is ignored''', '''\
with torch.no_grad():  # my fused qkv weight holds the three projections stacked
    for linear, part in zip((gqa.W_query, gqa.W_key, gqa.W_value), reference_mha.qkv.weight.chunk(3)):
        linear.weight.copy_(part)
    gqa.out_proj.load_state_dict(reference_mha.out_proj.state_dict())''')
IVY_DRAFT = ("md", """\
My first attempt at multi-head attention, kept for reference. It loops over the heads in
Python and forgets the causal mask, so it is **not** the version I use; the grader is pointed to
`FusedMultiHeadAttention` below (see `GRADER_NAMES` at the end).""")
IVY_DRAFT_CODE = ("code", """\
class MultiHeadAttention(nn.Module):  # draft: no causal mask, no output projection
    def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias=False):
        super().__init__()
        self.heads = nn.ModuleList([LinearSelfAttention(d_in, d_out // num_heads, qkv_bias) for _ in range(num_heads)])

    def forward(self, x):
        return torch.cat([torch.stack([head(seq) for seq in x]) for head in self.heads], dim=-1)""")
IVY_MAPPING = grader_names({
    "SelfAttention_v1": "RawSelfAttention",
    "SelfAttention_v2": "LinearSelfAttention",
    "CausalAttention": "MaskedAttention",
    "MultiHeadAttentionWrapper": "HeadStack",
    "MultiHeadAttention": "FusedMultiHeadAttention",
    "GroupedQueryAttention": "GQA",
    "all_context_vecs": "context_all",
})


def ivy_cells(cells):
    """The correct cells with Ivy's own names and layouts, a draft under the book's name, and GRADER_NAMES."""
    cells = with_bug(cells, [IVY_V1, IVY_V1_COPY, IVY_MHA_INIT, IVY_MHA_SPLIT, IVY_HELPER, IVY_GQA_LOAD])
    out = []
    for kind, source in cells:
        if kind == "code":
            for pattern, new in IVY_RENAMES:
                source = re.sub(pattern, new, source)
            source = re.sub(r"\bMultiHeadAttention\b", "FusedMultiHeadAttention", source)
        if kind == "code" and source.startswith("class FusedMultiHeadAttention"):
            out += [IVY_DRAFT, IVY_DRAFT_CODE]
        out.append((kind, source))
    out += [("md", "## Names for the grader"), ("code", IVY_MAPPING)]
    require(out, "class RawSelfAttention(", "class FusedMultiHeadAttention(", "class MultiHeadAttention(",
            "class GQA(", "self.qkv = nn.Linear", "context_all =")
    return out


def student_sample(student, cells):
    """The sample of `student`: the cells with their first name in the title, and the README likewise."""
    first = student.split("-")[0].capitalize()
    cells = [(k, s.replace("**Student:** Ada", f"**Student:** {first}")) for k, s in cells]
    return Sample("a2", student, "assignment2.ipynb", cells, README.format(name=first), run=Run(in_folder=True))


SAMPLES = [student_sample("ada-correct", CELLS), student_sample("ivy-own-names", ivy_cells(CELLS))]
SAMPLES += [student_sample(student, with_bug(CELLS, replacements)) for student, replacements in BUGS.items()]
