"""Chapter 4: the GPT model (LayerNorm, GELU, FeedForward, TransformerBlock, GPTModel)."""

import math

import torch
from torch import nn

from reference.ch03 import MultiHeadAttention

GPT_CONFIG_124M = {
    "vocab_size": 50257,     # GPT-2's BPE vocabulary
    "context_length": 1024,  # longest input the positional embedding covers
    "emb_dim": 768,
    "n_heads": 12,
    "n_layers": 12,
    "drop_rate": 0.1,
    "qkv_bias": False,
}

# Width, depth and heads of the four released GPT-2 sizes (section 4.6 and exercise 4.2).
GPT2_SIZES = {
    "gpt2-small (124M)": {"emb_dim": 768, "n_layers": 12, "n_heads": 12},
    "gpt2-medium (355M)": {"emb_dim": 1024, "n_layers": 24, "n_heads": 16},
    "gpt2-large (774M)": {"emb_dim": 1280, "n_layers": 36, "n_heads": 20},
    "gpt2-xl (1558M)": {"emb_dim": 1600, "n_layers": 48, "n_heads": 25},
}


def gpt2_config(size: str, **overrides) -> dict:
    """GPT_CONFIG_124M resized to one of GPT2_SIZES, e.g. `gpt2_config("gpt2-medium (355M)")`."""
    if size not in GPT2_SIZES:
        raise ValueError(f"unknown GPT-2 size {size!r}; choose one of {sorted(GPT2_SIZES)}")
    return {**GPT_CONFIG_124M, **GPT2_SIZES[size], **overrides}


class LayerNorm(nn.Module):
    """Normalise the last dimension to mean 0, variance 1 (biased), then scale and shift (section 4.2)."""

    def __init__(self, emb_dim: int):
        super().__init__()
        self.eps = 1e-5
        self.scale = nn.Parameter(torch.ones(emb_dim))
        self.shift = nn.Parameter(torch.zeros(emb_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=-1, keepdim=True)
        var = x.var(dim=-1, keepdim=True, unbiased=False)
        return self.scale * (x - mean) / torch.sqrt(var + self.eps) + self.shift


class GELU(nn.Module):
    """GELU in GPT-2's tanh approximation (section 4.3)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * x * (1 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))


class FeedForward(nn.Module):
    """Linear to 4 x emb_dim, GELU, linear back (section 4.3)."""

    def __init__(self, cfg: dict):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(cfg["emb_dim"], 4 * cfg["emb_dim"]),
            GELU(),
            nn.Linear(4 * cfg["emb_dim"], cfg["emb_dim"]),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class TransformerBlock(nn.Module):
    """Pre-norm block: x + drop(att(norm1(x))), then x + drop(ff(norm2(x))) (section 4.5)."""

    def __init__(self, cfg: dict):
        super().__init__()
        self.att = MultiHeadAttention(
            d_in=cfg["emb_dim"],
            d_out=cfg["emb_dim"],
            context_length=cfg["context_length"],
            num_heads=cfg["n_heads"],
            dropout=cfg["drop_rate"],
            qkv_bias=cfg["qkv_bias"],
        )
        self.ff = FeedForward(cfg)
        self.norm1 = LayerNorm(cfg["emb_dim"])
        self.norm2 = LayerNorm(cfg["emb_dim"])
        self.drop_shortcut = nn.Dropout(cfg["drop_rate"])

    def forward(self, x: torch.Tensor, use_cache: bool = False) -> torch.Tensor:
        x = x + self.drop_shortcut(self.att(self.norm1(x), use_cache=use_cache))  # (B, T, D)
        return x + self.drop_shortcut(self.ff(self.norm2(x)))


class GPTModel(nn.Module):
    """Token + position embeddings, n_layers TransformerBlocks, final norm, vocabulary head (section 4.6).

    `forward(in_idx, use_cache=True)` continues from the cached positions (exercise 4.3);
    `reset_kv_cache()` starts over.
    """

    def __init__(self, cfg: dict):
        super().__init__()
        self.tok_emb = nn.Embedding(cfg["vocab_size"], cfg["emb_dim"])
        self.pos_emb = nn.Embedding(cfg["context_length"], cfg["emb_dim"])
        self.drop_emb = nn.Dropout(cfg["drop_rate"])
        self.trf_blocks = nn.Sequential(*[TransformerBlock(cfg) for _ in range(cfg["n_layers"])])
        self.final_norm = LayerNorm(cfg["emb_dim"])
        self.out_head = nn.Linear(cfg["emb_dim"], cfg["vocab_size"], bias=False)
        self.current_pos = 0

    def reset_kv_cache(self) -> None:
        self.current_pos = 0
        for block in self.trf_blocks:
            block.att.reset_cache()

    def forward(self, in_idx: torch.Tensor, use_cache: bool = False) -> torch.Tensor:
        num_tokens = in_idx.shape[1]  # in_idx: (B, T)
        start = self.current_pos if use_cache else 0
        positions = torch.arange(start, start + num_tokens, device=in_idx.device)
        if use_cache:
            self.current_pos += num_tokens
        x = self.drop_emb(self.tok_emb(in_idx) + self.pos_emb(positions))  # (B, T, D)
        for block in self.trf_blocks:
            x = block(x, use_cache=use_cache)
        return self.out_head(self.final_norm(x))  # (B, T, vocab_size)


def generate_text_simple(model: nn.Module, idx: torch.Tensor, max_new_tokens: int, context_size: int) -> torch.Tensor:
    """Greedy decoding: append the most likely next token, `max_new_tokens` times (section 4.7)."""
    for _ in range(max_new_tokens):
        with torch.no_grad():
            logits = model(idx[:, -context_size:])[:, -1, :]  # (B, vocab_size)
        idx_next = torch.argmax(logits, dim=-1, keepdim=True)  # softmax is monotonic: argmax of logits
        idx = torch.cat((idx, idx_next), dim=1)
    return idx


def generate_text_simple_cached(model: GPTModel, idx: torch.Tensor, max_new_tokens: int, context_size=None):
    """generate_text_simple with a KV cache: the same ids, one new token per forward pass (exercise 4.3).

    Once the sequence fills the context, the cache is rebuilt over the last `context_size`
    tokens each step, exactly as the uncached loop crops its input.
    """
    context_size = context_size or model.pos_emb.num_embeddings
    model.reset_kv_cache()
    with torch.no_grad():
        logits = model(idx[:, -context_size:], use_cache=True)
        for _ in range(max_new_tokens):
            idx_next = torch.argmax(logits[:, -1, :], dim=-1, keepdim=True)
            idx = torch.cat((idx, idx_next), dim=1)
            if model.current_pos >= context_size:
                model.reset_kv_cache()
                logits = model(idx[:, -context_size:], use_cache=True)
            else:
                logits = model(idx_next, use_cache=True)
    model.reset_kv_cache()
    return idx


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (section 4.6), optionally only those with requires_grad."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def gpt_parameter_count(cfg: dict) -> int:
    """GPTModel(cfg)'s parameters without building it: two embeddings; per block three query/key/value
    projections (biased with qkv_bias), the output projection, the 4x feed-forward and two norms; the final
    norm and an unbiased output head."""
    d, vocab, tokens = cfg["emb_dim"], cfg["vocab_size"], cfg["context_length"]
    attention = 3 * d * d + (3 * d if cfg.get("qkv_bias") else 0) + d * d + d
    feed_forward = d * 4 * d + 4 * d + 4 * d * d + d
    block = attention + feed_forward + 2 * 2 * d
    return vocab * d + tokens * d + cfg["n_layers"] * block + 2 * d + d * vocab


def count_parameters_tied(model: GPTModel) -> int:
    """Parameters if the output head reused the token embedding, as GPT-2 does (section 4.6)."""
    return count_parameters(model) - model.out_head.weight.numel()


def model_size_mb(model: nn.Module, bytes_per_param: int = 4) -> float:
    """Memory of the parameters in megabytes (1024**2 bytes), float32 by default (section 4.6)."""
    return count_parameters(model) * bytes_per_param / (1024 * 1024)
