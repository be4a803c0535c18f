"""a3 stubs: the chapter 4 modules with the book's constructors and parameters whose forward returns zeros,
the input, or a constant of the output's shape; the generation functions (exercise 4.3's included) return
zeros, the prompt unchanged, or a constant of the output's shape."""

SAMPLE = "a3/ada-correct"

# name -> (constructor signature, body of __init__, forward's argument, the output's shape)
_MODULES = {
    "LayerNorm": ("emb_dim", ("self.eps = 1e-5\n        self.scale = nn.Parameter(torch.ones(emb_dim))\n"
                  "        self.shift = nn.Parameter(torch.zeros(emb_dim))"), "x", "x.shape"),
    "GELU": ("", "pass", "x", "x.shape"),
    "FeedForward": ("cfg", ("d = cfg['emb_dim']\n"
                    "        self.layers = nn.Sequential(nn.Linear(d, 4 * d), GELU(), nn.Linear(4 * d, d))"),
                    "x", "x.shape"),
    "TransformerBlock": ("cfg", ("self.att = MultiHeadAttention(d_in=cfg['emb_dim'], d_out=cfg['emb_dim'], "
                         "context_length=cfg['context_length'], dropout=cfg['drop_rate'], num_heads=cfg['n_heads'], "
                         "qkv_bias=cfg['qkv_bias'])\n"
                         "        self.ff = FeedForward(cfg)\n"
                         "        self.norm1, self.norm2 = LayerNorm(cfg['emb_dim']), LayerNorm(cfg['emb_dim'])\n"
                         "        self.drop_shortcut = nn.Dropout(cfg['drop_rate'])"), "x", "x.shape"),
    "GPTModel": ("cfg", ("self.vocab_size = cfg['vocab_size']\n"
                 "        self.tok_emb = nn.Embedding(cfg['vocab_size'], cfg['emb_dim'])\n"
                 "        self.pos_emb = nn.Embedding(cfg['context_length'], cfg['emb_dim'])\n"
                 "        self.drop_emb = nn.Dropout(cfg['drop_rate'])\n"
                 "        self.trf_blocks = nn.Sequential(*[TransformerBlock(cfg) for _ in range(cfg['n_layers'])])\n"
                 "        self.final_norm = LayerNorm(cfg['emb_dim'])\n"
                 "        self.out_head = nn.Linear(cfg['emb_dim'], cfg['vocab_size'], bias=False)"),
                 "in_idx", "(*in_idx.shape, self.vocab_size)"),
}
_MODULE_RETURNS = {
    "zeros": "torch.zeros({shape})",
    "input": "{arg}",
    "constant": "torch.full({shape}, 0.25)",
}

# name -> signature; each returns ids of shape (batch, prompt + max_new_tokens)
_FUNCTIONS = {
    "generate_text_simple": "model, idx, max_new_tokens, context_size",
    "generate_text_simple_cached": "model, idx, max_new_tokens, context_size=None",
}
_FUNCTION_RETURNS = {
    "zeros": "torch.zeros(idx.shape[0], idx.shape[1] + max_new_tokens, dtype=torch.long)",
    "input": "idx",
    "constant": "torch.full((idx.shape[0], idx.shape[1] + max_new_tokens), 3, dtype=torch.long)",
}


def _module(name: str, flavour: str) -> str:
    signature, body, arg, shape = _MODULES[name]
    returns = _MODULE_RETURNS[flavour].format(shape=shape, arg=arg)
    return (f"class {name}(nn.Module):\n"
            f"    def __init__(self{', ' + signature if signature else ''}):\n"
            f"        super().__init__()\n"
            f"        {body}\n\n"
            f"    def forward(self, {arg}):\n"
            f"        return {returns}\n")


def _function(name: str, flavour: str) -> str:
    return f"def {name}({_FUNCTIONS[name]}):\n    return {_FUNCTION_RETURNS[flavour]}\n"


STUBS = {**{name: {flavour: _module(name, flavour) for flavour in _MODULE_RETURNS} for name in _MODULES},
         **{name: {flavour: _function(name, flavour) for flavour in _FUNCTION_RETURNS} for name in _FUNCTIONS}}
