"""Appendix E: low-rank adaptation (LoRA) of every linear layer, freezing and merging.

Scaling: the printed book multiplies the low-rank update by `alpha`; the book's repository
now multiplies by `alpha / rank`. Both are accepted from students; `scaling` picks one.
"""

import math

import torch
from torch import nn

SCALINGS = ("alpha", "alpha/rank")


def lora_scale(alpha: float, rank: int, scaling: str = "alpha") -> float:
    """The factor on x @ A @ B: `alpha` (printed book) or `alpha / rank` (repository)."""
    if scaling not in SCALINGS:
        raise ValueError(f"scaling must be one of {SCALINGS}, not {scaling!r}")
    return alpha if scaling == "alpha" else alpha / rank


class LoRALayer(nn.Module):
    """scale * (x @ A @ B), A (in_dim, rank) Kaiming-uniform, B (rank, out_dim) zeros (E.3).

    `scaling="alpha"` is the default because students follow the printed book, which scales
    by alpha; `scaling="alpha/rank"` gives the repository's current one (the LoRA paper's alpha / r).
    """

    def __init__(self, in_dim: int, out_dim: int, rank: int, alpha: float, scaling: str = "alpha"):
        super().__init__()
        if rank < 1:
            raise ValueError(f"rank must be a positive integer, not {rank}")
        self.A = nn.Parameter(torch.empty(in_dim, rank))
        nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))  # as nn.Linear initialises its weight
        self.B = nn.Parameter(torch.zeros(rank, out_dim))  # zero: the update starts at zero
        self.rank = rank
        self.alpha = alpha
        self.scaling = scaling
        self.scale = lora_scale(alpha, rank, scaling)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale * (x @ self.A @ self.B)  # (..., in_dim) -> (..., out_dim)

    def delta_weight(self) -> torch.Tensor:
        """The update in nn.Linear's layout: scale * (A @ B).T, shape (out_dim, in_dim)."""
        return self.scale * (self.A @ self.B).T


class LinearWithLoRA(nn.Module):
    """A linear layer plus a LoRA update of the same shape: linear(x) + lora(x) (E.3)."""

    def __init__(self, linear: nn.Linear, rank: int, alpha: float, scaling: str = "alpha"):
        super().__init__()
        self.linear = linear
        self.lora = LoRALayer(linear.in_features, linear.out_features, rank, alpha, scaling=scaling)
        self.lora.to(device=linear.weight.device, dtype=linear.weight.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x) + self.lora(x)


def replace_linear_with_lora(model: nn.Module, rank: int, alpha: float, scaling: str = "alpha") -> nn.Module:
    """Wrap every nn.Linear, at any depth, in LinearWithLoRA, in module order; returns the model (E.3)."""
    for name, module in model.named_children():
        if isinstance(module, nn.Linear):
            setattr(model, name, LinearWithLoRA(module, rank, alpha, scaling=scaling))
        elif not isinstance(module, LinearWithLoRA):  # never wrap a wrapped layer twice
            replace_linear_with_lora(module, rank, alpha, scaling=scaling)
    return model


def merge_lora(model: nn.Module) -> nn.Module:
    """Fold each LoRA update into its linear weight and put the plain nn.Linear back; in place."""
    for name, module in model.named_children():
        if isinstance(module, LinearWithLoRA):
            with torch.no_grad():
                module.linear.weight += module.lora.delta_weight()
            setattr(model, name, module.linear)
        else:
            merge_lora(module)
    return model


def freeze_all(model: nn.Module) -> nn.Module:
    """Set requires_grad False on every parameter (E.3, before adding LoRA layers)."""
    for param in model.parameters():
        param.requires_grad = False
    return model


def count_trainable_parameters(model: nn.Module) -> int:
    """Number of parameters with requires_grad, as the book prints before and after LoRA (E.3)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
