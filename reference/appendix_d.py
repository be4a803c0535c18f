"""Appendix D: a training loop with linear warmup, cosine decay and gradient clipping (course ex 5.1).

Clipping "after warmup" has two readings, both accepted by the course: the printed book
clips when `global_step > warmup_steps` (the default here), the inclusive reading when
`global_step >= warmup_steps` (`clip_after_warmup_inclusive=True`). They differ only at the
step `global_step == warmup_steps`, the first step at peak learning rate.
"""

import math

import torch

from reference.ch05 import TrainingLog, calc_loss_batch, generate_and_print_sample


def lr_at_step(step: int, *, peak_lr: float, initial_lr: float, min_lr: float, warmup_steps: int, total_steps: int):
    """Learning rate at 0-based `step`: linear from initial_lr toward peak_lr, then cosine to min_lr (D.1-D.2).

    Steps before `warmup_steps` rise by (peak_lr - initial_lr) / warmup_steps each; step
    `warmup_steps` is at peak_lr and step `total_steps` would be at min_lr.
    """
    if step < warmup_steps:
        return initial_lr + step * (peak_lr - initial_lr) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)  # 0 -> 1 over the decay phase
    return min_lr + (peak_lr - min_lr) * 0.5 * (1 + math.cos(math.pi * progress))


def clips_at_step(step: int, warmup_steps: int, *, inclusive: bool = False) -> bool:
    """Whether gradients are clipped at `step`: `step > warmup_steps` (book) or `>=` (inclusive)."""
    return step >= warmup_steps if inclusive else step > warmup_steps


def set_lr(optimizer, lr: float) -> None:
    """Set the learning rate of every parameter group."""
    for param_group in optimizer.param_groups:
        param_group["lr"] = lr


def train_model(
    model, train_loader, val_loader, optimizer, device, n_epochs, eval_freq, eval_iter, start_context,
    tokenizer, warmup_steps, initial_lr=3e-05, min_lr=1e-6, *, max_norm=1.0, clip_after_warmup_inclusive=False,
):
    """train_model_simple with warmup, cosine decay and clipping (appendix D.4).

    The peak learning rate is the optimizer's at call time; returns (train_losses,
    val_losses, track_tokens_seen, track_lrs) with one learning rate per step.
    """
    peak_lr = optimizer.param_groups[0]["lr"]
    schedule = {"peak_lr": peak_lr, "initial_lr": initial_lr, "min_lr": min_lr, "warmup_steps": warmup_steps,
                "total_steps": len(train_loader) * n_epochs}
    log, track_lrs = TrainingLog(), []
    for epoch in range(n_epochs):
        model.train()
        for input_batch, target_batch in train_loader:
            optimizer.zero_grad()
            log.global_step += 1
            lr = lr_at_step(log.global_step, **schedule)
            set_lr(optimizer, lr)
            track_lrs.append(lr)
            calc_loss_batch(input_batch, target_batch, model, device).backward()
            if clips_at_step(log.global_step, warmup_steps, inclusive=clip_after_warmup_inclusive):
                torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=max_norm)
            optimizer.step()
            log.tokens_seen += input_batch.numel()
            if log.global_step % eval_freq == 0:
                log.evaluate(model, train_loader, val_loader, device, eval_iter=eval_iter, epoch=epoch)
        generate_and_print_sample(model, tokenizer, device, start_context)
    return (*log.results(), track_lrs)
