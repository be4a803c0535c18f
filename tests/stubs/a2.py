"""a2 stubs: attention modules with the book's constructors and parameters whose forward returns zeros,
the input, or a constant of the output's shape."""

SAMPLE = "a2/ada-correct"

_QKV = "self.W_query, self.W_key, self.W_value = (nn.Linear(d_in, d_out, bias=qkv_bias) for _ in range(3))"
_INIT = {
    "SelfAttention_v1": ("d_in, d_out", "d_out",
                         ("self.W_query, self.W_key, self.W_value = (nn.Parameter(torch.rand(d_in, d_out)) "
                          "for _ in range(3))")),
    "SelfAttention_v2": ("d_in, d_out, qkv_bias=False", "d_out", _QKV),
    "CausalAttention": ("d_in, d_out, context_length, dropout, qkv_bias=False", "d_out",
                        f"{_QKV}\n        self.dropout = nn.Dropout(dropout)"),
    "MultiHeadAttentionWrapper": ("d_in, d_out, context_length, dropout, num_heads, qkv_bias=False",
                                  "d_out * num_heads",
                                  ("self.heads = nn.ModuleList([CausalAttention(d_in, d_out, context_length, "
                                   "dropout, qkv_bias) for _ in range(num_heads)])")),
    "MultiHeadAttention": ("d_in, d_out, context_length, dropout, num_heads, qkv_bias=False", "d_out",
                           (f"{_QKV}\n        self.out_proj = nn.Linear(d_out, d_out)\n"
                            "        self.dropout = nn.Dropout(dropout)")),
    "GroupedQueryAttention": ("d_in, d_out, dropout, num_heads, num_kv_groups, dtype=None, qkv_bias=False", "d_out",
                              ("kv = num_kv_groups * (d_out // num_heads)\n"
                               "        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)\n"
                               "        self.W_key, self.W_value = (nn.Linear(d_in, kv, bias=qkv_bias) "
                               "for _ in range(2))\n"
                               "        self.out_proj = nn.Linear(d_out, d_out)\n"
                               "        self.dropout = nn.Dropout(dropout)")),
}
_RETURNS = {
    "zeros": "torch.zeros(*x.shape[:-1], self.width)",
    "input": "x",
    "constant": "torch.full((*x.shape[:-1], self.width), 0.25)",
}


def _stub(name: str, flavour: str) -> str:
    signature, width, body = _INIT[name]
    return (f"class {name}(nn.Module):\n"
            f"    def __init__(self, {signature}):\n"
            f"        super().__init__()\n"
            f"        self.width = {width}\n"
            f"        {body}\n\n"
            f"    def forward(self, x):\n"
            f"        return {_RETURNS[flavour]}\n")


STUBS = {name: {flavour: _stub(name, flavour) for flavour in _RETURNS} for name in _INIT}
