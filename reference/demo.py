"""A short tour of the reference: the book's "Hello, I am" generation, then a brief training run.

Run with `python -m reference.demo [--epochs N]`.
"""

import argparse
import time

import torch

from reference.assets import gpt2_encoding, read_text
from reference.ch02 import create_dataloader_v1
from reference.ch04 import GPT_CONFIG_124M, GPTModel, generate_text_simple
from reference.ch05 import text_to_token_ids, token_ids_to_text, train_model_simple

BOOK_HELLO_IDS = [15496, 11, 314, 716, 27018, 24086, 47843, 30961, 42348, 7267, 49706, 43231, 47062, 34657]
DEMO_CONFIG = {**GPT_CONFIG_124M, "context_length": 32, "emb_dim": 64, "n_heads": 4, "n_layers": 2, "drop_rate": 0.0}


def book_generation() -> None:
    """Section 4.7: an untrained 124M GPT continues "Hello, I am" with 10 seeded tokens."""
    tokenizer = gpt2_encoding()
    torch.manual_seed(123)
    model = GPTModel(GPT_CONFIG_124M).eval()
    ids = generate_text_simple(model, text_to_token_ids("Hello, I am", tokenizer), 10,
                               GPT_CONFIG_124M["context_length"])
    verdict = "matches the book" if ids[0].tolist() == BOOK_HELLO_IDS else "DIFFERS from the book"
    print(f"untrained 124M GPT, seed 123: {ids[0].tolist()}  ({verdict})")
    print(f"  as text: {token_ids_to_text(ids, tokenizer)!r}")


def short_training(num_epochs: int) -> None:
    """Train a small GPT on the-verdict.txt with the book's loop and print the falling loss."""
    text, tokenizer = read_text("the-verdict.txt"), gpt2_encoding()
    split, ctx = int(0.9 * len(text)), DEMO_CONFIG["context_length"]
    torch.manual_seed(123)
    train_loader = create_dataloader_v1(text[:split], batch_size=4, max_length=ctx, stride=ctx)
    val_loader = create_dataloader_v1(text[split:], batch_size=4, max_length=ctx, stride=ctx,
                                      shuffle=False, drop_last=False)
    model = GPTModel(DEMO_CONFIG)
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.1)
    print(f"\ntraining a {sum(p.numel() for p in model.parameters()) / 1e6:.1f}M-parameter GPT on the-verdict.txt "
          f"({num_epochs} epochs of {len(train_loader)} steps)")
    started = time.perf_counter()
    train_losses, val_losses, _ = train_model_simple(
        model, train_loader, val_loader, optimizer, "cpu", num_epochs=num_epochs, eval_freq=10, eval_iter=2,
        start_context="Every effort moves you", tokenizer=tokenizer)
    print(f"loss {train_losses[0]:.2f} -> {train_losses[-1]:.2f} (train), {val_losses[0]:.2f} -> {val_losses[-1]:.2f} "
          f"(validation) in {time.perf_counter() - started:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2, help="training epochs (default 2, about 20 s on 2 cores)")
    args = parser.parse_args()
    book_generation()
    short_training(args.epochs)


if __name__ == "__main__":
    main()
