"""a2 (chapter 3, attention): Ada's book-style notebook (its committed folder, submissions/a2/ada-correct/, is its
source), one-bug copies under other students' names, and Ivy's correct notebook with her own names and layouts (a
fused qkv projection, weights stored transposed, a broken draft left under the book's name) mapped with
GRADER_NAMES. The notebooks run in their own folders, which keep the figures they save (attention_*.png)."""

from .core import CODE, MD, Run, handed_in, own_names, variant, with_bug, word_renames

ADA = handed_in("a2", "ada-correct", run=Run(in_folder=True))

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

IVY_NAMES = {  # the book's name -> Ivy's
    "SelfAttention_v1": "RawSelfAttention",
    "SelfAttention_v2": "LinearSelfAttention",
    "CausalAttention": "MaskedAttention",
    "MultiHeadAttentionWrapper": "HeadStack",
    "MultiHeadAttention": "FusedMultiHeadAttention",
    "GroupedQueryAttention": "GQA",
    "all_context_vecs": "context_all",
}
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
IVY_DRAFT = (MD, """\
My first attempt at multi-head attention, kept for reference. It loops over the heads in
Python and forgets the causal mask, so it is **not** the version I use; the grader is pointed to
`FusedMultiHeadAttention` below (see `GRADER_NAMES` at the end).""")
IVY_DRAFT_CODE = (CODE, """\
class MultiHeadAttention(nn.Module):  # draft: no causal mask, no output projection
    def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias=False):
        super().__init__()
        self.heads = nn.ModuleList([LinearSelfAttention(d_in, d_out // num_heads, qkv_bias) for _ in range(num_heads)])

    def forward(self, x):
        return torch.cat([torch.stack([head(seq) for seq in x]) for head in self.heads], dim=-1)""")


def ivy_cells(cells):
    """The correct cells with Ivy's own names and layouts, GRADER_NAMES, and a draft under the book's name."""
    cells = with_bug(cells, [IVY_V1, IVY_V1_COPY, IVY_MHA_INIT, IVY_MHA_SPLIT, IVY_HELPER, IVY_GQA_LOAD])
    out = own_names(cells, word_renames(IVY_NAMES), IVY_NAMES, "class RawSelfAttention(",
                    "class FusedMultiHeadAttention(", "class GQA(", "self.qkv = nn.Linear", "context_all =")
    fused = next(i for i, (_, source) in enumerate(out) if source.startswith("class FusedMultiHeadAttention"))
    return out[:fused] + [IVY_DRAFT, IVY_DRAFT_CODE] + out[fused:]


def student_sample(student, replacements=(), **changes):
    """A copy of Ada's sample under `student`'s name: their first name in the title cell and the README."""
    first = student.split("-")[0].capitalize()
    readme = ADA.readme.replace("— Ada", f"— {first}")
    return variant(ADA, student, [("**Student:** Ada", f"**Student:** {first}"), *replacements], readme=readme,
                   **changes)


SAMPLES = [ADA, student_sample("ivy-own-names", cells=ivy_cells(ADA.cells))]
SAMPLES += [student_sample(student, replacements) for student, replacements in BUGS.items()]
