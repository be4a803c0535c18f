"""a3 (chapter 4, the GPT model): the book-style notebook (its committed folder, submissions/a3/ada-correct/, is
its source), one-bug copies, Ivy's correct notebook with her own names (mapped with GRADER_NAMES), and Jon's,
correct but creating the feed-forward network before attention (so weights cannot be transplanted by creation
order and seeded outputs differ from the book's)."""

from .core import handed_in, own_names, variant

# student -> [(old, new)]: each flawed sample is the correct notebook with ONE bug.
BUGS = {
    "ben-post-norm": [(
        """\
        shortcut = x
        x = self.norm1(x)
        x = self.att(x, use_cache=use_cache)
        x = self.drop_shortcut(x)
        x = x + shortcut

        shortcut = x
        x = self.norm2(x)
        x = self.ff(x)
        x = self.drop_shortcut(x)
        x = x + shortcut
        return x""",
        """\
        shortcut = x
        x = self.att(x, use_cache=use_cache)
        x = self.drop_shortcut(x)
        x = self.norm1(x + shortcut)

        shortcut = x
        x = self.ff(x)
        x = self.drop_shortcut(x)
        x = self.norm2(x + shortcut)
        return x""")],
    "cleo-erf-gelu": [(
        "return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))",
        "return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))")],
    "dev-unbiased-variance": [(
        "var = x.var(dim=-1, keepdim=True, unbiased=False)  # biased, like GPT-2 and torch",
        "var = x.var(dim=-1, keepdim=True)")],
    "eli-no-context-crop": [(
        "idx_cond = idx[:, -context_size:]  # keep only what fits into the context",
        "idx_cond = idx[:, :context_size]  # keep only what fits into the context")],
    "fay-no-final-norm": [(
        "        x = self.final_norm(x)\n        logits = self.out_head(x)",
        "        logits = self.out_head(x)")],
    "gus-ffn-2x": [(
        'hidden = 4 * cfg["emb_dim"]  # GPT-2 expands by a factor of four',
        'hidden = 2 * cfg["emb_dim"]  # expand the embedding')],
    "hana-first-position-logits": [(
        "logits = logits[:, -1, :]  # the last position predicts the next token",
        "logits = logits[:, 0, :]  # take the prediction")],
}

# Correct too: jon builds the feed-forward network before attention, so the weights cannot be
# transplanted by creation order and seeded outputs differ from the book's (checks skip, never fail).
JON_ORDER = [(
    """\
        self.att = MultiHeadAttention(
            d_in=cfg["emb_dim"],
            d_out=cfg["emb_dim"],
            context_length=cfg["context_length"],
            dropout=cfg["drop_rate"],
            num_heads=cfg["n_heads"],
            qkv_bias=cfg["qkv_bias"],
        )
        self.ff = FeedForward(cfg)""",
    """\
        self.ff = FeedForward(cfg)
        self.att = MultiHeadAttention(
            d_in=cfg["emb_dim"],
            d_out=cfg["emb_dim"],
            context_length=cfg["context_length"],
            dropout=cfg["drop_rate"],
            num_heads=cfg["n_heads"],
            qkv_bias=cfg["qkv_bias"],
        )""")]

# ivy-own-names: the correct model with her own class, method and parameter names.
IVY_RENAMES = [
    (r"(?<!nn\.)(?<!functional\.)\bGELU\b", "TanhGELU"), (r"(?<!nn\.)\bLayerNorm\b", "Norm"),
    (r"\bFeedForward\b", "MLP"), (r"\bTransformerBlock\b", "DecoderBlock"),
    (r"\bGPTModel\b", "TinyGPT"), (r"\bgenerate_text_simple\b", "greedy_decode"),
    (r"\bMultiHeadAttention\b", "CausalSelfAttention"),
    (r"\bself\.scale\b", "self.gamma"), (r"\bself\.shift\b", "self.beta"),
    (r"\btok_emb\b", "token_embedding"), (r"\bpos_emb\b", "position_embedding"),
    (r"\btrf_blocks\b", "blocks"), (r"\bfinal_norm\b", "ln_f"), (r"\bout_head\b", "lm_head"),
    (r"\bW_query\b", "q_proj"), (r"\bW_key\b", "k_proj"), (r"\bW_value\b", "v_proj"),
    (r"\bnorm1\b", "ln_1"), (r"\bnorm2\b", "ln_2"),
]
IVY_MAPPING = {
    "LayerNorm": "Norm",
    "GELU": "TanhGELU",
    "FeedForward": "MLP",
    "TransformerBlock": "DecoderBlock",
    "GPTModel": "TinyGPT",
    "generate_text_simple": "greedy_decode",
    "MultiHeadAttention": "CausalSelfAttention",
}
IVY_REQUIRED = ("class Norm(", "class TanhGELU(", "class TinyGPT(", "def greedy_decode(", "self.gamma")  # renamed

ADA = handed_in("a3", "ada-correct")
SAMPLES = [ADA, variant(ADA, "jon-ff-first", JON_ORDER),
           variant(ADA, "ivy-own-names", cells=own_names(ADA.cells, IVY_RENAMES, IVY_MAPPING, *IVY_REQUIRED))]
SAMPLES += [variant(ADA, student, replacements) for student, replacements in BUGS.items()]
