"""Modules written the ways students write them: other names, fused projections, other declaration
orders, raw parameters, tied heads. Each is correct (it computes what the book's module computes)
unless its name says `Buggy`. Used by tests/test_bind.py to check that the binder finds, for every
correct style, a way to load the book's weights that reproduces the book's output.
"""

import math

import torch
from torch import nn
from torch.nn import functional as F


def causal(scores: torch.Tensor) -> torch.Tensor:
    t = scores.shape[-1]
    mask = torch.triu(torch.ones(t, t, dtype=torch.bool, device=scores.device), diagonal=1)
    return scores.masked_fill(mask, float("-inf"))


def attend(q, k, v, dropout=None):
    """(B, H, T, hd) queries, keys, values -> (B, H, T, hd) causal context."""
    weights = torch.softmax(causal(q @ k.transpose(-2, -1)) / math.sqrt(k.shape[-1]), dim=-1)
    if dropout is not None:
        weights = dropout(weights)
    return weights @ v


def heads(t, n):
    b, T, d = t.shape
    return t.view(b, T, n, d // n).transpose(1, 2)


def merge(t):
    b, h, T, hd = t.shape
    return t.transpose(1, 2).reshape(b, T, h * hd)


class GenericNamesReordered(nn.Module):
    """q_proj/k_proj/v_proj/o_proj, value declared first, output projection before the others."""

    def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias=False):
        super().__init__()
        self.n = num_heads
        self.o_proj = nn.Linear(d_out, d_out)
        self.v_proj = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.k_proj = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.q_proj = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.drop = nn.Dropout(dropout)

    def forward(self, x):
        q, k, v = (heads(p(x), self.n) for p in (self.q_proj, self.k_proj, self.v_proj))
        return self.o_proj(merge(attend(q, k, v, self.drop)))


class NanoAttention(nn.Module):
    """nanoGPT: one c_attn Linear(d, 3d) split into q, k, v; c_proj."""

    def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias=False):
        super().__init__()
        self.n, self.d_out = num_heads, d_out
        self.c_attn = nn.Linear(d_in, 3 * d_out, bias=qkv_bias)
        self.c_proj = nn.Linear(d_out, d_out)
        self.attn_dropout = nn.Dropout(dropout)

    def forward(self, x):
        q, k, v = self.c_attn(x).split(self.d_out, dim=2)
        return self.c_proj(merge(attend(heads(q, self.n), heads(k, self.n), heads(v, self.n), self.attn_dropout)))


class InterleavedQKV(nn.Module):
    """One qkv projection laid out per head: (B, T, H, 3, hd)."""

    def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias=False):
        super().__init__()
        self.n, self.hd = num_heads, d_out // num_heads
        self.qkv = nn.Linear(d_in, 3 * d_out, bias=qkv_bias)
        self.proj = nn.Linear(d_out, d_out)

    def forward(self, x):
        b, t, _ = x.shape
        qkv = self.qkv(x).view(b, t, self.n, 3, self.hd)
        q, k, v = (qkv[:, :, :, i].transpose(1, 2) for i in range(3))
        return self.proj(merge(attend(q, k, v)))


class RawTransposed(nn.Module):
    """Raw (d_in, d_out) matrices with unhelpful names, x @ W; an output bias vector."""

    def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias=False):
        super().__init__()
        self.n = num_heads
        self.m1 = nn.Parameter(torch.randn(d_in, d_out))
        self.m2 = nn.Parameter(torch.randn(d_in, d_out))
        self.m3 = nn.Parameter(torch.randn(d_in, d_out))
        self.m4 = nn.Parameter(torch.randn(d_out, d_out))
        self.m4_bias = nn.Parameter(torch.zeros(d_out))

    def forward(self, x):
        q, k, v = (heads(x @ m, self.n) for m in (self.m2, self.m3, self.m1))  # m2 queries, m3 keys, m1 values
        return merge(attend(q, k, v)) @ self.m4 + self.m4_bias


class QAndFusedKV(nn.Module):
    """A query projection and one fused key/value projection."""

    def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias=False):
        super().__init__()
        self.n, self.d_out = num_heads, d_out
        self.query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.kv = nn.Linear(d_in, 2 * d_out, bias=qkv_bias)
        self.out = nn.Linear(d_out, d_out)

    def forward(self, x):
        k, v = self.kv(x).chunk(2, dim=-1)
        return self.out(merge(attend(heads(self.query(x), self.n), heads(k, self.n), heads(v, self.n))))


class BuggyUnscaled(GenericNamesReordered):
    """Scores never divided by sqrt(head_dim)."""

    def forward(self, x):
        q, k, v = (heads(p(x), self.n) for p in (self.q_proj, self.k_proj, self.v_proj))
        weights = torch.softmax(causal(q @ k.transpose(-2, -1)), dim=-1)
        return self.o_proj(merge(weights @ v))


class GammaBetaNorm(nn.Module):
    def __init__(self, emb_dim):
        super().__init__()
        self.beta = nn.Parameter(torch.zeros(emb_dim))  # declared first on purpose
        self.gamma = nn.Parameter(torch.ones(emb_dim))

    def forward(self, x):
        mean, var = x.mean(-1, keepdim=True), x.var(-1, keepdim=True, unbiased=False)
        return self.gamma * (x - mean) / torch.sqrt(var + 1e-5) + self.beta


def gelu(x):
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


class NanoMLP(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.c_proj = nn.Linear(4 * d, d)  # declared before c_fc
        self.c_fc = nn.Linear(d, 4 * d)

    def forward(self, x):
        return self.c_proj(gelu(self.c_fc(x)))


class NanoBlock(nn.Module):
    """nanoGPT's Block: ln_1, attn (fused c_attn), ln_2, mlp; the MLP declared first."""

    def __init__(self, cfg):
        super().__init__()
        d = cfg["emb_dim"]
        self.mlp = NanoMLP(d)
        self.ln_2 = nn.LayerNorm(d)
        self.attn = NanoAttention(d, d, cfg["context_length"], cfg["drop_rate"], cfg["n_heads"], cfg["qkv_bias"])
        self.ln_1 = nn.LayerNorm(d)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class NanoGPT(nn.Module):
    """nanoGPT's GPT: transformer.{wte, wpe, h, ln_f}, lm_head (untied unless tie=True)."""

    def __init__(self, cfg, tie=False):
        super().__init__()
        d = cfg["emb_dim"]
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(cfg["vocab_size"], d), wpe=nn.Embedding(cfg["context_length"], d),
            h=nn.ModuleList([NanoBlock(cfg) for _ in range(cfg["n_layers"])]), ln_f=nn.LayerNorm(d)))
        self.lm_head = nn.Linear(d, cfg["vocab_size"], bias=False)
        if tie:
            self.transformer.wte.weight = self.lm_head.weight

    def forward(self, idx):
        t = self.transformer
        x = t.wte(idx) + t.wpe(torch.arange(idx.shape[1], device=idx.device))
        for block in t.h:
            x = block(x)
        return self.lm_head(t.ln_f(x))


class FlatBlock(nn.Module):
    """Everything raw in one module: norms as g1/b1, g2/b2; projections as (in, out) matrices with biases."""

    def __init__(self, cfg):
        super().__init__()
        d, self.n = cfg["emb_dim"], cfg["n_heads"]
        self.g1, self.b1 = nn.Parameter(torch.ones(d)), nn.Parameter(torch.zeros(d))
        self.Wq, self.Wk, self.Wv = (nn.Parameter(torch.randn(d, d) * 0.1) for _ in range(3))
        self.Wo, self.bo = nn.Parameter(torch.randn(d, d) * 0.1), nn.Parameter(torch.zeros(d))
        self.g2, self.b2 = nn.Parameter(torch.ones(d)), nn.Parameter(torch.zeros(d))
        self.W1, self.bias1 = nn.Parameter(torch.randn(d, 4 * d) * 0.1), nn.Parameter(torch.zeros(4 * d))
        self.W2, self.bias2 = nn.Parameter(torch.randn(4 * d, d) * 0.1), nn.Parameter(torch.zeros(d))

    @staticmethod
    def norm(x, g, b):
        return g * (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, keepdim=True, unbiased=False) + 1e-5) + b

    def forward(self, x):
        h = self.norm(x, self.g1, self.b1)
        q, k, v = (heads(h @ w, self.n) for w in (self.Wq, self.Wk, self.Wv))
        x = x + merge(attend(q, k, v)) @ self.Wo + self.bo
        h = self.norm(x, self.g2, self.b2)
        return x + gelu(h @ self.W1 + self.bias1) @ self.W2 + self.bias2


class GenericGPT(nn.Module):
    """tok_embeddings / pos_embeddings / blocks (ModuleList of FlatBlock) / norm / head."""

    def __init__(self, cfg):
        super().__init__()
        d = cfg["emb_dim"]
        self.head = nn.Linear(d, cfg["vocab_size"], bias=False)
        self.tok_embeddings = nn.Embedding(cfg["vocab_size"], d)
        self.pos_embeddings = nn.Embedding(cfg["context_length"], d)
        self.blocks = nn.ModuleList([FlatBlock(cfg) for _ in range(cfg["n_layers"])])
        self.norm = GammaBetaNorm(d)

    def forward(self, idx):
        x = self.tok_embeddings(idx) + self.pos_embeddings(torch.arange(idx.shape[1]))
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))


class LinearLoRA(nn.Module):
    """LoRA with nn.Linear factors: down (in -> r), up (r -> out), scaled by alpha / rank."""

    def __init__(self, in_dim, out_dim, rank, alpha):
        super().__init__()
        self.up = nn.Linear(rank, out_dim, bias=False)
        self.down = nn.Linear(in_dim, rank, bias=False)
        nn.init.zeros_(self.up.weight)
        self.scaling = alpha / rank

    def forward(self, x):
        return self.scaling * self.up(self.down(x))


class SelfAttentionLinear(nn.Module):
    """SelfAttention_v1 written with nn.Linear layers (weights stored (out, in))."""

    def __init__(self, d_in, d_out):
        super().__init__()
        self.value = nn.Linear(d_in, d_out, bias=False)
        self.key = nn.Linear(d_in, d_out, bias=False)
        self.query = nn.Linear(d_in, d_out, bias=False)

    def forward(self, x):
        q, k, v = self.query(x), self.key(x), self.value(x)
        return torch.softmax(q @ k.T / k.shape[-1] ** 0.5, dim=-1) @ v


class GQAFusedKV(nn.Module):
    """Grouped-query attention with a fused key/value projection (heads of one group consecutive)."""

    def __init__(self, d_in, d_out, dropout, num_heads, num_kv_groups, dtype=None, qkv_bias=False):
        super().__init__()
        self.h, self.g, self.hd = num_heads, num_kv_groups, d_out // num_heads
        self.wq = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.wkv = nn.Linear(d_in, 2 * num_kv_groups * self.hd, bias=qkv_bias)
        self.wo = nn.Linear(d_out, d_out)

    def forward(self, x):
        b, t, _ = x.shape
        q = self.wq(x).view(b, t, self.h, self.hd).transpose(1, 2)
        k, v = self.wkv(x).chunk(2, dim=-1)
        k, v = (z.view(b, t, self.g, self.hd).transpose(1, 2).repeat_interleave(self.h // self.g, dim=1)
                for z in (k, v))
        return self.wo(merge(attend(q, k, v)))


def functional_gelu_ff(d):
    """A FeedForward as Sequential(Linear, Linear) with the GELU applied in forward (no module for it)."""

    class FF(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(d, 4 * d), nn.Linear(4 * d, d))

        def forward(self, x):
            return self.net[1](F.gelu(self.net[0](x), approximate="tanh"))

    return FF()


class AttributeBlocksGPT(nn.Module):
    """Blocks registered as attributes block1..blockN (no container) and a learned (1, context, emb) position
    table that broadcasts over the batch."""

    def __init__(self, cfg):
        super().__init__()
        d, self.n_layers = cfg["emb_dim"], cfg["n_layers"]
        self.wte = nn.Embedding(cfg["vocab_size"], d)
        self.pos = nn.Parameter(torch.zeros(1, cfg["context_length"], d))
        for i in range(1, self.n_layers + 1):
            setattr(self, f"block{i}", NanoBlock(cfg))
        self.ln_f = nn.LayerNorm(d)
        self.lm_head = nn.Linear(d, cfg["vocab_size"], bias=False)

    def forward(self, idx):
        x = self.wte(idx) + self.pos[:, :idx.shape[1]]
        for i in range(1, self.n_layers + 1):
            x = getattr(self, f"block{i}")(x)
        return self.lm_head(self.ln_f(x))
