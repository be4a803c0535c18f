"""Chapter 3: attention mechanisms, from unweighted self-attention to multi-head and grouped-query."""

import torch
from torch import nn


def attention_scores(inputs: torch.Tensor) -> torch.Tensor:
    """Dot products of every pair of input rows, without trainable weights (section 3.3)."""
    return inputs @ inputs.T  # (T, T)


def simple_self_attention(inputs: torch.Tensor) -> torch.Tensor:
    """Context vectors as softmax-weighted sums of the inputs themselves (section 3.3)."""
    weights = torch.softmax(attention_scores(inputs), dim=-1)  # (T, T), rows sum to 1
    return weights @ inputs  # (T, D)


def scaled_attention(queries, keys, values, mask=None, dropout=None):
    """softmax(Q K^T / sqrt(d_k)) V with future positions (mask True) set to -inf first."""
    scores = queries @ keys.transpose(-2, -1)  # (..., T_q, T_k)
    if mask is not None:
        scores = scores.masked_fill(mask, float("-inf"))
    weights = torch.softmax(scores / keys.shape[-1] ** 0.5, dim=-1)
    if dropout is not None:
        weights = dropout(weights)
    return weights @ values  # (..., T_q, d_v)


class SelfAttention_v1(nn.Module):
    """Scaled dot-product self-attention with raw weight matrices (section 3.4.1)."""

    def __init__(self, d_in: int, d_out: int):
        super().__init__()
        self.W_query = nn.Parameter(torch.rand(d_in, d_out))
        self.W_key = nn.Parameter(torch.rand(d_in, d_out))
        self.W_value = nn.Parameter(torch.rand(d_in, d_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return scaled_attention(x @ self.W_query, x @ self.W_key, x @ self.W_value)  # (T, d_out)


class SelfAttention_v2(nn.Module):
    """SelfAttention_v1 with nn.Linear projections (section 3.4.2)."""

    def __init__(self, d_in: int, d_out: int, qkv_bias: bool = False):
        super().__init__()
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return scaled_attention(self.W_query(x), self.W_key(x), self.W_value(x))


def causal_mask(context_length: int) -> torch.Tensor:
    """Upper-triangular ones above the diagonal: position i may not attend to j > i."""
    return torch.triu(torch.ones(context_length, context_length), diagonal=1)


class CausalAttention(nn.Module):
    """Single-head causal self-attention with dropout on the weights, batched (section 3.5)."""

    def __init__(self, d_in: int, d_out: int, context_length: int, dropout: float, qkv_bias: bool = False):
        super().__init__()
        self.d_out = d_out
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("mask", causal_mask(context_length))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        num_tokens = x.shape[1]  # x: (B, T, d_in)
        mask = self.mask.bool()[:num_tokens, :num_tokens]
        return scaled_attention(self.W_query(x), self.W_key(x), self.W_value(x), mask, self.dropout)


class MultiHeadAttentionWrapper(nn.Module):
    """`num_heads` independent CausalAttention heads, outputs concatenated (section 3.6.1)."""

    def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias=False):
        super().__init__()
        self.heads = nn.ModuleList(
            [CausalAttention(d_in, d_out, context_length, dropout, qkv_bias) for _ in range(num_heads)]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([head(x) for head in self.heads], dim=-1)  # (B, T, num_heads * d_out)


class MultiHeadAttention(nn.Module):
    """Causal multi-head attention with one projection split into heads (section 3.6.2).

    `forward(x, use_cache=True)` keeps keys and values of earlier calls (the KV cache of
    exercise 4.3); `reset_cache()` empties it. The default path is the book's.
    """

    def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias=False):
        super().__init__()
        if d_out % num_heads != 0:
            raise ValueError(f"d_out ({d_out}) must be divisible by num_heads ({num_heads})")
        self.d_out = d_out
        self.num_heads = num_heads
        self.head_dim = d_out // num_heads
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.out_proj = nn.Linear(d_out, d_out)
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("mask", causal_mask(context_length))
        self.reset_cache()

    def reset_cache(self) -> None:
        self.cache_k, self.cache_v = None, None

    def _split_heads(self, t: torch.Tensor) -> torch.Tensor:
        b, num_tokens, _ = t.shape
        return t.view(b, num_tokens, -1, self.head_dim).transpose(1, 2)  # (B, H, T, head_dim)

    def forward(self, x: torch.Tensor, use_cache: bool = False) -> torch.Tensor:
        b, num_tokens, _ = x.shape  # x: (B, T, d_in)
        queries = self._split_heads(self.W_query(x))
        keys = self._split_heads(self.W_key(x))
        values = self._split_heads(self.W_value(x))
        start = 0
        if use_cache:
            if self.cache_k is not None:
                start = self.cache_k.shape[2]
                keys = torch.cat([self.cache_k, keys], dim=2)
                values = torch.cat([self.cache_v, values], dim=2)
            self.cache_k, self.cache_v = keys, values
        mask = self.mask.bool()[start : start + num_tokens, : start + num_tokens]
        context = scaled_attention(queries, keys, values, mask, self.dropout)  # (B, H, T, head_dim)
        context = context.transpose(1, 2).contiguous().view(b, num_tokens, self.d_out)
        return self.out_proj(context)  # (B, T, d_out)


class GroupedQueryAttention(nn.Module):
    """Causal attention in which groups of query heads share key/value heads (exercise 3.3).

    With `num_kv_groups == num_heads` it is MultiHeadAttention; with 1 it is multi-query
    attention. The causal mask is sized from the input, so there is no context_length.
    """

    def __init__(self, d_in, d_out, dropout, num_heads, num_kv_groups, dtype=None, qkv_bias=False):
        super().__init__()
        if d_out % num_heads != 0 or num_heads % num_kv_groups != 0:
            raise ValueError("d_out must be divisible by num_heads, and num_heads by num_kv_groups")
        self.d_out = d_out
        self.num_heads = num_heads
        self.num_kv_groups = num_kv_groups
        self.head_dim = d_out // num_heads
        self.group_size = num_heads // num_kv_groups
        kv_dim = num_kv_groups * self.head_dim
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias, dtype=dtype)
        self.W_key = nn.Linear(d_in, kv_dim, bias=qkv_bias, dtype=dtype)
        self.W_value = nn.Linear(d_in, kv_dim, bias=qkv_bias, dtype=dtype)
        self.out_proj = nn.Linear(d_out, d_out, dtype=dtype)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, num_tokens, _ = x.shape
        queries = self.W_query(x).view(b, num_tokens, self.num_heads, self.head_dim).transpose(1, 2)
        keys = self.W_key(x).view(b, num_tokens, self.num_kv_groups, self.head_dim).transpose(1, 2)
        values = self.W_value(x).view(b, num_tokens, self.num_kv_groups, self.head_dim).transpose(1, 2)
        keys = keys.repeat_interleave(self.group_size, dim=1)  # (B, H, T, head_dim)
        values = values.repeat_interleave(self.group_size, dim=1)
        mask = causal_mask(num_tokens).to(x.device).bool()
        context = scaled_attention(queries, keys, values, mask, self.dropout)
        return self.out_proj(context.transpose(1, 2).reshape(b, num_tokens, self.d_out))
