"""A short tour of the reference: the book's "Hello, I am" generation, then a brief training run.

Run with `python -m reference.demo [--steps N]`.
"""

import argparse
import time

import torch

from reference.assets import gpt2_encoding, read_text
from reference.ch02 import create_dataloader_v1
from reference.ch04 import GPT_CONFIG_124M, GPTModel, generate_text_simple
from reference.ch05 import calc_loss_batch, calc_loss_loader, text_to_token_ids, token_ids_to_text

BOOK_HELLO_IDS = [15496, 11, 314, 716, 27018, 24086, 47843, 30961, 42348, 7267, 49706, 43231, 47062, 34657]
DEMO_CONFIG = {**GPT_CONFIG_124M, "context_length": 64, "emb_dim": 128, "n_heads": 4, "n_layers": 2, "drop_rate": 0.0}


def book_generation() -> None:
    """Section 4.7: an untrained 124M GPT continues "Hello, I am" with 10 seeded tokens."""
    tokenizer = gpt2_encoding()
    torch.manual_seed(123)
    model = GPTModel(GPT_CONFIG_124M).eval()
    ids = generate_text_simple(model, text_to_token_ids("Hello, I am", tokenizer), 10, GPT_CONFIG_124M["context_length"])
    verdict = "matches the book" if ids[0].tolist() == BOOK_HELLO_IDS else "DIFFERS from the book"
    print(f"untrained 124M GPT, seed 123: {ids[0].tolist()}  ({verdict})")
    print(f"  as text: {token_ids_to_text(ids, tokenizer)!r}")


def short_training(steps: int) -> None:
    """Train a small GPT on the-verdict.txt for a few steps and print the falling loss."""
    text = read_text("the-verdict.txt")
    split = int(0.9 * len(text))
    torch.manual_seed(123)
    ctx = DEMO_CONFIG["context_length"]
    train_loader = create_dataloader_v1(text[:split], batch_size=8, max_length=ctx, stride=ctx)
    val_loader = create_dataloader_v1(text[split:], batch_size=8, max_length=ctx, stride=ctx, shuffle=False, drop_last=False)
    model = GPTModel(DEMO_CONFIG)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1)
    print(f"\ntraining a {sum(p.numel() for p in model.parameters()) / 1e6:.1f}M-parameter GPT on the-verdict.txt")
    print(f"  step 0: val loss {calc_loss_loader(val_loader, model, 'cpu'):.3f}")
    start, step = time.perf_counter(), 0
    while step < steps:
        for inputs, targets in train_loader:
            optimizer.zero_grad()
            loss = calc_loss_batch(inputs, targets, model, "cpu")
            loss.backward()
            optimizer.step()
            step += 1
            if step % 25 == 0 or step == steps:
                model.eval()
                val = calc_loss_loader(val_loader, model, "cpu")
                model.train()
                print(f"  step {step}: train loss {loss.item():.3f}, val loss {val:.3f}  ({time.perf_counter() - start:.1f} s)")
            if step == steps:
                break
    model.eval()
    sample = generate_text_simple(model, text_to_token_ids("Every effort moves you", gpt2_encoding()), 15, ctx)
    print(f"  sample: {token_ids_to_text(sample, gpt2_encoding())!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100, help="training steps (default 100, about 20 s on 2 cores)")
    args = parser.parse_args()
    book_generation()
    short_training(args.steps)


if __name__ == "__main__":
    main()
