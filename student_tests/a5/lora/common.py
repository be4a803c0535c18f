"""Shared pieces of the a5 LoRA checks: strategies, the two scaling readings, a tiny reference classifier.

Not a check module (its name does not start with `test_`); the check modules import it.
"""

import torch
from hypothesis import strategies as st

from reference.appendix_e import LoRALayer, freeze_all, replace_linear_with_lora
from reference.ch04 import GPTModel

PROBES = "a5_lora"
SECTION = "E.4"
TINY_CFG = {"vocab_size": 50, "context_length": 8, "emb_dim": 16, "n_heads": 2, "n_layers": 2,
            "drop_rate": 0.0, "qkv_bias": True}
READINGS = {"alpha": "alpha (the printed book)", "alpha/rank": "alpha / rank (the book's repository)"}


@st.composite
def lora_sizes(draw, *, max_dim: int = 9, max_rank: int = 4):
    """(in_dim, out_dim, rank, alpha): in_dim, out_dim and rank all different, rank > 1, alpha != rank."""
    rank = draw(st.integers(2, max_rank))
    in_dim = draw(st.integers(rank + 1, max_dim))
    out_dim = draw(st.integers(rank + 1, max_dim).filter(lambda d: d != in_dim))
    alpha = draw(st.sampled_from([a for a in (1, 3, 8, 16, 0.5) if a != rank]))
    return in_dim, out_dim, rank, alpha


def signature_problem(component, params: list[str]) -> str | None:
    """None when the component takes `params`; else which it lacks."""
    missing = [p for p in params if p not in component.params]
    return f"{component.display} takes {list(component.params)}: it lacks {missing}" if missing else None


def random_lora(in_dim: int, out_dim: int, rank: int, alpha, *, seed: int) -> LoRALayer:
    """The reference LoRALayer (scaled by alpha) with B drawn at random too, so the update is not zero."""
    torch.manual_seed(seed)
    layer = LoRALayer(in_dim, out_dim, rank, alpha, scaling="alpha")
    with torch.no_grad():
        layer.B.normal_()
    return layer


def low_rank_update(layer: LoRALayer, x: torch.Tensor) -> torch.Tensor:
    """x @ A @ B, unscaled."""
    with torch.no_grad():
        return x @ layer.A @ layer.B


def readings(update: torch.Tensor, *, base: torch.Tensor, rank: int, alpha) -> dict[str, torch.Tensor]:
    """The expected output under each accepted scaling, and the mistakes MISTAKES names."""
    return {"alpha": base + alpha * update, "alpha/rank": base + alpha / rank * update,
            "rank/alpha": base + rank / alpha * update, "unscaled": base + update}


MISTAKES = {"rank/alpha": "rank / alpha * x @ A @ B: the fraction is upside down",
            "unscaled": "x @ A @ B without any scaling: multiply by alpha (or alpha / rank)"}


def reference_classifier(cfg: dict, *, num_classes: int = 2, seed: int = 0) -> GPTModel:
    torch.manual_seed(seed)
    model = GPTModel(cfg)
    model.out_head = torch.nn.Linear(cfg["emb_dim"], num_classes)
    return model.eval()


def expected_trainable(cfg: dict, *, rank: int, num_classes: int = 2) -> int:
    """Trainable parameters after freezing the reference classifier and wrapping every Linear (the book's recipe)."""
    model = freeze_all(reference_classifier(cfg, num_classes=num_classes))
    replace_linear_with_lora(model, rank, 1)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def lora_count_breakdown(cfg: dict, *, rank: int, num_classes: int = 2) -> str:
    """'rank x (in + out)' per wrapped Linear, for messages."""
    model = reference_classifier(cfg, num_classes=num_classes)
    layers = [(n, m) for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)]
    return ", ".join(f"{n}: {rank} x ({m.in_features} + {m.out_features})" for n, m in layers[:4]) + \
        (f", ... ({len(layers)} Linear layers)" if len(layers) > 4 else "")

