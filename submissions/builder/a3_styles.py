"""a3 samples in three other styles, each correct, and one-bug copies of them. The correct notebooks' committed
folders (submissions/a3/kai-nanogpt/, lin-raw-params/, max-defensive/) are their sources.

- kai: GPT-2/nanoGPT naming and structure (transformer.{wte, wpe, drop, h, ln_f}, lm_head; fused c_attn), a
  LayerNorm with weight/bias, F.scaled_dot_product_attention, a KV cache passed in and out. kai-nanogpt-tied
  ties lm_head to wte (124M parameters, not 163M). Bug kai-nanogpt-ln1-twice: the MLP is fed through ln_1.
- lin: her own names (GRADER_NAMES), raw nn.Parameter weights used as x @ W, the feed-forward network declared
  before attention. Bug lin-raw-params-normed-shortcut: the shortcut carries the normalised input.
- max: the book's names and layer order with validation everywhere and a stateful KV cache. Bugs
  max-defensive-dropout-after-add (dropout on x + shortcut) and max-defensive-stale-cache (the cache is not
  emptied when a new generation starts).
"""

from .core import Run, handed_in, replace_once, variant

RUN = Run(agg=True)

# ================================================================ (a) kai: nanoGPT style

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

# kai-nanogpt-tied's README is kai's with this paragraph rewritten
UNTIED_PARAGRAPH = """\
Tying `lm_head` to `wte` (weight tying, as in the released GPT-2) gives 124,412,160. In
float32 the untied model takes 621.83 MB of memory (4 bytes per parameter)."""
TIED_PARAGRAPH = """\
My model ties `lm_head` to `wte` (weight tying, as in the released GPT-2), so it has
124,412,160 parameters: the table above minus the head. The book's untied model takes 621.83 MB
in float32 (4 bytes per parameter); mine about 475 MB."""


def tied_readme(readme):
    """Kai's README with the untied paragraph rewritten for the tied model (it must occur exactly once)."""
    return replace_once({"README.md": readme}, UNTIED_PARAGRAPH, TIED_PARAGRAPH)["README.md"]

# ================================================================ (b) lin: own names, raw parameters

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

# ================================================================ (c) max: defensive

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

KAI_SAMPLE, LIN_SAMPLE, MAX_SAMPLE = (handed_in("a3", student, run=RUN)
                                      for student in ("kai-nanogpt", "lin-raw-params", "max-defensive"))
SAMPLES = [KAI_SAMPLE, variant(KAI_SAMPLE, "kai-nanogpt-tied", KAI_TIE, readme=tied_readme(KAI_SAMPLE.readme)),
           variant(KAI_SAMPLE, "kai-nanogpt-ln1-twice", KAI_BUG),
           LIN_SAMPLE, variant(LIN_SAMPLE, "lin-raw-params-normed-shortcut", LIN_BUG),
           MAX_SAMPLE, variant(MAX_SAMPLE, "max-defensive-dropout-after-add", MAX_DROPOUT_BUG),
           variant(MAX_SAMPLE, "max-defensive-stale-cache", MAX_CACHE_BUG)]

# rui: lucidrains-style names (to_q, to_k, to_v, to_out), blocks registered with setattr(self, f"block{i}", ...), a
# learned (1, context_length, emb_dim) position table. Bug rui-heads-merged-no-transpose.
RUI = handed_in("a3", "rui-attribute-blocks", run=RUN)
SAMPLES += [RUI, variant(RUI, "rui-heads-merged-no-transpose", [
    ("out = (attn @ v).transpose(1, 2).reshape(b, t, -1)", "out = (attn @ v).reshape(b, t, -1)")])]
