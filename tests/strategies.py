"""Hypothesis strategies shared by the project's tests: attention sizes and tiny GPT configs."""

from typing import NamedTuple

from hypothesis import strategies as st


class AttentionSize(NamedTuple):
    """Sizes of one attention test case; `d_out = num_heads * head_dim`."""

    batch: int
    num_tokens: int
    d_in: int
    num_heads: int
    head_dim: int
    num_kv_groups: int

    @property
    def d_out(self) -> int:
        return self.num_heads * self.head_dim


@st.composite
def attention_sizes(draw, *, min_heads=1, max_heads=4, max_head_dim=5, max_tokens=7, grouped=False):
    """Draw num_heads, then head_dim and a divisor of num_heads as num_kv_groups.

    With `grouped=True`, num_kv_groups is a proper divisor (keys/values really are shared).
    """
    num_heads = draw(st.integers(max(min_heads, 2 if grouped else 1), max_heads))
    head_dim = draw(st.integers(1, max_head_dim))
    divisors = [g for g in range(1, num_heads + 1) if num_heads % g == 0]
    num_kv_groups = draw(st.sampled_from(divisors[:-1] if grouped else divisors))
    return AttentionSize(
        batch=draw(st.integers(1, 2)),
        num_tokens=draw(st.integers(1, max_tokens)),
        d_in=draw(st.integers(1, 6)),
        num_heads=num_heads,
        head_dim=head_dim,
        num_kv_groups=num_kv_groups,
    )


@st.composite
def gpt_configs(draw, *, max_context=8, max_layers=2):
    """Tiny GPT config dicts in the book's format; emb_dim is drawn as n_heads * head_dim."""
    n_heads = draw(st.integers(1, 3))
    return {
        "vocab_size": draw(st.integers(2, 40)),
        "context_length": draw(st.integers(2, max_context)),
        "emb_dim": n_heads * draw(st.integers(1, 4)),
        "n_heads": n_heads,
        "n_layers": draw(st.integers(1, max_layers)),
        "drop_rate": 0.0,
        "qkv_bias": draw(st.booleans()),
    }


def seeds():
    """Seeds for torch generators, so each Hypothesis example builds its own tensors."""
    return st.integers(0, 2**16)
