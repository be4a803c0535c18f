"""a5 LoRA stubs: appendix E's LoRALayer and LinearWithLoRA with the book's constructors and parameters (A random,
B zero) whose forward returns zeros, the input, or a constant of the output's shape; a replace_linear_with_lora
that wraps nothing (returns None, the model unchanged, or a constant module)."""

SAMPLE = "a5/lena-lora-correct"

_LORA_LAYER = '''\
class LoRALayer(nn.Module):
    def __init__(self, in_dim, out_dim, rank, alpha):
        super().__init__()
        self.A = nn.Parameter(torch.empty(in_dim, rank))
        nn.init.kaiming_uniform_(self.A, a=5 ** 0.5)
        self.B = nn.Parameter(torch.zeros(rank, out_dim))
        self.alpha, self.out_dim = alpha, out_dim

    def forward(self, x):
        return {returns}
'''
_WRAPPER = '''\
class LinearWithLoRA(nn.Module):
    def __init__(self, linear, rank, alpha):
        super().__init__()
        self.linear = linear
        self.lora = LoRALayer(linear.in_features, linear.out_features, rank, alpha)
        self.out_dim = linear.out_features

    def forward(self, x):
        return {returns}
'''
_RETURNS = {
    "zeros": "torch.zeros(*x.shape[:-1], self.out_dim)",
    "input": "x",
    "constant": "torch.full((*x.shape[:-1], self.out_dim), 0.25)",
}
_REPLACE = {
    "zeros": "def replace_linear_with_lora(model, rank, alpha):\n    return None\n",
    "input": "def replace_linear_with_lora(model, rank, alpha):\n    return model\n",
    "constant": "def replace_linear_with_lora(model, rank, alpha):\n    return nn.Identity()\n",
}

STUBS = {
    "LoRALayer": {flavour: _LORA_LAYER.format(returns=returns) for flavour, returns in _RETURNS.items()},
    "LinearWithLoRA": {flavour: _WRAPPER.format(returns=returns) for flavour, returns in _RETURNS.items()},
    "replace_linear_with_lora": _REPLACE,
}
