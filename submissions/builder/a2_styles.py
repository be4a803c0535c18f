"""a2 samples in three other styles, each correct (its committed folder, submissions/a2/<student>/, is its source),
and one one-bug copy of each.

- kai: GPT-2/nanoGPT conventions (fused `c_attn`, a `bias` buffer holding the lower triangle, `c_proj`, heads in
  a ModuleList `h`, F.scaled_dot_product_attention). Bug kai-heads-merged-no-transpose: the heads are merged
  back with a view that skips the transpose.
- lou: her own names mapped with GRADER_NAMES, projections declared value, key, query, raw nn.Parameter
  matrices used as `x @ W`. Bug lou-scale-by-d-in: her causal attention scales the scores by sqrt(d_in).
- max: the book's names with validation everywhere, F.dropout, one `qkv` projection laid out per head. Bug
  max-scale-by-d-out: MultiHeadAttention divides the scores by sqrt(d_out) instead of sqrt(head_dim).
"""

from .core import Run, handed_in, variant

RUN = Run(in_folder=True)

# the one-bug copies: each (old, new) must apply exactly once
KAI_BUG = [(
    "        y = y.transpose(1, 2).contiguous().view(B, T, self.n_embd)  # heads side by side again",
    "        y = y.contiguous().view(B, T, self.n_embd)  # heads side by side again")]
LOU_BUG = [(
    "        scores = q @ k.transpose(1, 2) / math.sqrt(k.shape[-1])",
    "        scores = q @ k.transpose(1, 2) / math.sqrt(x.shape[-1])")]
MAX_BUG = [(
    ("        weights = torch.softmax(scores / self.head_dim ** 0.5, dim=-1)\n"
     "        weights = F.dropout(weights, self.p, self.training)\n"
     "        context = (weights @ values).transpose(1, 2).reshape(b, num_tokens, self.d_out)"),
    ("        weights = torch.softmax(scores / self.d_out ** 0.5, dim=-1)\n"
     "        weights = F.dropout(weights, self.p, self.training)\n"
     "        context = (weights @ values).transpose(1, 2).reshape(b, num_tokens, self.d_out)"))]

KAI, LOU, MAX = (handed_in("a2", student, run=RUN) for student in ("kai-nanogpt", "lou-own-names", "max-defensive"))
SAMPLES = [KAI, variant(KAI, "kai-heads-merged-no-transpose", KAI_BUG),
           LOU, variant(LOU, "lou-scale-by-d-in", LOU_BUG),
           MAX, variant(MAX, "max-scale-by-d-out", MAX_BUG)]

# zoe: einsum everywhere, a boolean keep-mask as a non-persistent buffer, the wrapper's heads registered one by one
# (add_module("head_0", ...)). Bug zoe-shared-head: one CausalAttention registered as every head.
ZOE = handed_in("a2", "zoe-einsum-named-heads", run=RUN)
SAMPLES += [ZOE, variant(ZOE, "zoe-shared-head", [(
    """        for i in range(num_heads):
            self.add_module(f"head_{i}", CausalAttention(d_in, d_out, context_length, dropout, qkv_bias))""",
    """        head = CausalAttention(d_in, d_out, context_length, dropout, qkv_bias)
        for i in range(num_heads):
            self.add_module(f"head_{i}", head)""")])]
