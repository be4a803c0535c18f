"""Speed of the reference GPT: a training step and greedy generation, tiny config and GPT-2 124M's shape.

Run: python benchmarks/reference_speed.py [--device cpu|cuda|all] [--threads N] [--skip-124m] [--book]

Prints a Markdown table per device (CPU, and CUDA when torch.cuda.is_available()):
forward + backward time per step and tokens per second (batch 2 x 128 tokens for the tiny
config, 2 x 256 for 124M, as in chapter 5), and the time to generate 100 new tokens from a
4-token prompt with `generate_text_simple` and with the KV-cached `generate_text_simple_cached`
(whose ids must be the same). About a minute and a half on 2 idle CPU cores.

`--book` adds the ratio to the book's own code: the `llms-from-scratch` package (install it for the
benchmark only: `pip install --no-deps llms-from-scratch`) trains the same step on the same weights,
the two models taking turns so a load on the machine hits both alike; a ratio of 1 or more means the
reference is at least as fast.

On a machine shared with other busy processes, torch's default of one thread per core can
be several times slower than `--threads 1` (threads wait on each other at every barrier);
the header prints the load average so such numbers can be recognised.
"""

import argparse
import os
import time
from collections.abc import Callable

import torch

from reference.ch04 import GPTModel, generate_text_simple, generate_text_simple_cached
from reference.ch05 import GPT_CONFIG_124M_CH05, calc_loss_batch

TINY = {"vocab_size": 100, "context_length": 128, "emb_dim": 32, "n_heads": 4, "n_layers": 2,
        "drop_rate": 0.1, "qkv_bias": False}
SHAPES = {"tiny (emb 32, 2 layers)": (TINY, 128), "GPT-2 124M (context 256)": (GPT_CONFIG_124M_CH05, 256)}
NEW_TOKENS = 100


def timed(fn: Callable[[], object], device: torch.device, repeats: int, warmup=None) -> tuple[float, object]:
    """Seconds per call of fn (mean over `repeats` calls after a warm-up call) and its last result.

    `warmup` replaces fn for the warm-up call where a full call is too slow to spend twice.
    """
    result = (warmup or fn)()
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    start = time.perf_counter()
    for _ in range(repeats):
        result = fn()
    sync()
    return (time.perf_counter() - start) / repeats, result


def train_step_row(model: GPTModel, cfg: dict, num_tokens: int, device, repeats: int) -> tuple[str, str, str]:
    """Forward + backward of the chapter-5 loss on a (2, num_tokens) batch of random ids."""
    batch = torch.randint(0, cfg["vocab_size"], (2, num_tokens + 1), device=device)

    def step(length=num_tokens):
        model.zero_grad(set_to_none=True)
        calc_loss_batch(batch[:, :length], batch[:, 1 : length + 1], model, device).backward()

    model.train()
    seconds, _ = timed(step, device, repeats, warmup=lambda: step(16))
    return f"train step, batch 2 x {num_tokens}", format_seconds(seconds), f"{2 * num_tokens / seconds:,.0f} tok/s"


def generation_rows(model: GPTModel, cfg: dict, device, repeats: int) -> list[tuple[str, str, str]]:
    """Greedy generation of NEW_TOKENS tokens from a 4-token prompt, without and with the KV cache."""
    model.eval()
    prompt = torch.randint(0, cfg["vocab_size"], (1, 4), device=device)
    context = cfg["context_length"]
    plain, ids = timed(lambda: generate_text_simple(model, prompt, NEW_TOKENS, context), device, repeats,
                       warmup=lambda: generate_text_simple(model, prompt, 2, context))
    cached, cached_ids = timed(lambda: generate_text_simple_cached(model, prompt, NEW_TOKENS, context), device,
                               repeats, warmup=lambda: generate_text_simple_cached(model, prompt, 2, context))
    same = "same ids" if torch.equal(ids, cached_ids) else "IDS DIFFER"
    return [
        (f"generate {NEW_TOKENS} tokens, no cache", format_seconds(plain), f"{NEW_TOKENS / plain:,.1f} tok/s"),
        (f"generate {NEW_TOKENS} tokens, KV cache", format_seconds(cached),
         f"{NEW_TOKENS / cached:,.1f} tok/s ({plain / cached:.1f}x, {same})"),
    ]


def format_seconds(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms" if seconds < 1 else f"{seconds:,.2f} s"


def benchmark(device: torch.device, *, skip_124m: bool) -> list[tuple[str, ...]]:
    """Table rows (config, measure, time, throughput) for one device."""
    rows = []
    for name, (cfg, num_tokens) in SHAPES.items():
        full_size = cfg is not TINY
        if full_size and skip_124m:
            continue
        torch.manual_seed(123)
        model = GPTModel(cfg).to(device)
        slow = full_size and device.type == "cpu"
        rows.append((name, *train_step_row(model, cfg, num_tokens, device, repeats=2 if slow else 10)))
        rows.extend((name, *row) for row in generation_rows(model, cfg, device, repeats=1 if slow else 3))
    return rows


def book_ratio_rows(device: torch.device, *, skip_124m: bool, rounds: int = 5) -> list[tuple[str, ...]]:
    """(config, "train step: book / reference", ratio) per config; the book's GPTModel gets our weights."""
    try:
        from llms_from_scratch.ch04 import GPTModel as BookGPTModel
    except ImportError:
        return [("-", "book comparison", "not run: pip install --no-deps llms-from-scratch")]
    rows = []
    for name, (cfg, num_tokens) in SHAPES.items():
        if cfg is not TINY and skip_124m:
            continue
        torch.manual_seed(123)
        ours = GPTModel(cfg).to(device)
        book = BookGPTModel(cfg).to(device)
        book.load_state_dict(ours.state_dict())
        batch = torch.randint(0, cfg["vocab_size"], (2, num_tokens + 1), device=device)
        totals = {"ours": 0.0, "book": 0.0}
        repeats = 1 if cfg is not TINY and device.type == "cpu" else 10
        for _ in range(rounds):
            for label, model in (("ours", ours), ("book", book)):
                model.train()

                def step(model=model):
                    model.zero_grad(set_to_none=True)
                    calc_loss_batch(batch[:, :-1], batch[:, 1:], model, device).backward()
                seconds, _ = timed(step, device, repeats)
                totals[label] += seconds
        rows.append((name, "train step: book time / reference time", f"{totals['book'] / totals['ours']:.2f}"))
    return rows


def print_table(device: torch.device, rows: list[tuple[str, ...]]) -> None:
    label = torch.cuda.get_device_name(device) if device.type == "cuda" else (
        f"CPU, {torch.get_num_threads()} thread(s) on {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    print(f"\n### {device.type} ({label}), torch {torch.__version__}\n")
    print("| config | measure | time | throughput |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cpu", "cuda", "all"], default="all")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--skip-124m", action="store_true", help="only the tiny config (a few seconds)")
    parser.add_argument("--book", action="store_true", help="also the speed ratio to the book's llms-from-scratch")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = ["cpu", "cuda"] if args.device == "all" else [args.device]
    for name in devices:
        if name == "cuda" and not torch.cuda.is_available():
            print("\n(no CUDA device: CUDA rows skipped)")
            continue
        device = torch.device(name)
        rows = benchmark(device, skip_124m=args.skip_124m)
        if args.book:
            rows += book_ratio_rows(device, skip_124m=args.skip_124m)
        print_table(device, rows)


if __name__ == "__main__":
    main()
