"""Chapter 5: pretraining on unlabeled data (loss, training loop, sampling, checkpoints, GPT-2 weights).

Beyond the book: `generate(..., top_p=...)` (nucleus sampling, course exercise 5.2) and the
keyword-only `accumulation_steps` (exercise 5.4) and `patience` (early stopping) of
`train_model_simple`; their defaults give the book's behaviour. Loading GPT-2 weights
(section 5.5) accepts the book's OpenAI `params` dict and Hugging Face state dicts.
"""

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from safetensors.torch import load_file
from torch import nn
from torch.nn import functional as F

from reference.ch02 import ENDOFTEXT, create_dataloader_v1
from reference.ch04 import GPT_CONFIG_124M, generate_text_simple

# Section 5.1 shortens the context to 256 tokens so pretraining fits a laptop.
GPT_CONFIG_124M_CH05 = {**GPT_CONFIG_124M, "context_length": 256}


def text_to_token_ids(text: str, tokenizer) -> torch.Tensor:
    """Encode text into a (1, T) batch of token ids, `<|endoftext|>` allowed (section 5.1.1)."""
    encoded = tokenizer.encode(text, allowed_special={ENDOFTEXT})
    return torch.tensor(encoded).unsqueeze(0)  # (1, T): add the batch dimension


def token_ids_to_text(token_ids: torch.Tensor, tokenizer) -> str:
    """Decode a (1, T) batch of token ids (or a 1-D tensor) back into text (section 5.1.1)."""
    return tokenizer.decode(token_ids.squeeze(0).tolist())


def train_val_loaders(text: str, *, train_ratio=0.90, batch_size=2, max_length=256, stride=256):
    """Split text by characters at `train_ratio`: a shuffled train loader, an ordered val loader (5.1.3)."""
    split_idx = int(train_ratio * len(text))
    shared = {"batch_size": batch_size, "max_length": max_length, "stride": stride, "num_workers": 0}
    train_loader = create_dataloader_v1(text[:split_idx], drop_last=True, shuffle=True, **shared)
    val_loader = create_dataloader_v1(text[split_idx:], drop_last=False, shuffle=False, **shared)
    return train_loader, val_loader


# ---------------------------------------------------------------- loss (section 5.1.2-5.1.3)


def calc_loss_batch(input_batch, target_batch, model: nn.Module, device) -> torch.Tensor:
    """Mean cross-entropy of the model's next-token logits against the targets (section 5.1.3)."""
    input_batch, target_batch = input_batch.to(device), target_batch.to(device)
    logits = model(input_batch)  # (B, T, vocab_size)
    return F.cross_entropy(logits.flatten(0, 1), target_batch.flatten())  # over B*T positions


def mean_batch_loss(data_loader, batch_loss, num_batches=None) -> float:
    """Mean of `batch_loss(inputs, targets)` over the first `num_batches` batches (all if None); NaN if empty."""
    if len(data_loader) == 0:
        return float("nan")
    num_batches = len(data_loader) if num_batches is None else min(num_batches, len(data_loader))
    total_loss = 0.0
    for i, (input_batch, target_batch) in enumerate(data_loader):
        if i >= num_batches:
            break
        total_loss += batch_loss(input_batch, target_batch).item()
    return total_loss / num_batches


def calc_loss_loader(data_loader, model: nn.Module, device, num_batches=None) -> float:
    """Average batch loss over the first `num_batches` batches (all if None); NaN for an empty loader."""
    return mean_batch_loss(data_loader, lambda x, y: calc_loss_batch(x, y, model, device), num_batches)


def perplexity(loss):
    """exp(loss): the effective number of equally likely next tokens (section 5.1.2)."""
    if isinstance(loss, torch.Tensor):
        return torch.exp(loss)
    try:
        return math.exp(loss)
    except OverflowError:  # past a loss of ~709.78
        return float("inf")


# ---------------------------------------------------------------- training (section 5.2)


def evaluate_model(model: nn.Module, train_loader, val_loader, device, eval_iter: int):
    """Train and val loss over `eval_iter` batches each, in eval mode without gradients; back to train mode."""
    model.eval()
    with torch.no_grad():
        train_loss = calc_loss_loader(train_loader, model, device, num_batches=eval_iter)
        val_loss = calc_loss_loader(val_loader, model, device, num_batches=eval_iter)
    model.train()
    return train_loss, val_loss


def generate_and_print_sample(model: nn.Module, tokenizer, device, start_context) -> None:
    """Print 50 greedily generated tokens after `start_context` on one line; None prints nothing."""
    if start_context is None:  # beyond the book: lets tests train models without a GPT-2 vocabulary
        return
    model.eval()
    context_size = model.pos_emb.weight.shape[0]
    encoded = text_to_token_ids(start_context, tokenizer).to(device)
    token_ids = generate_text_simple(model, encoded, max_new_tokens=50, context_size=context_size)
    print(token_ids_to_text(token_ids, tokenizer).replace("\n", " "))
    model.train()


@dataclass
class TrainingLog:
    """What the training loops track: losses at each evaluation, tokens seen by then, the step count."""

    train_losses: list = field(default_factory=list)
    val_losses: list = field(default_factory=list)
    track_tokens_seen: list = field(default_factory=list)
    tokens_seen: int = 0
    global_step: int = -1
    best_val_loss: float = float("inf")
    evals_since_best: int = 0

    def evaluate(self, model, train_loader, val_loader, device, *, eval_iter: int, epoch: int) -> None:
        """Evaluate, record both losses and the tokens seen, print the book's progress line."""
        train_loss, val_loss = evaluate_model(model, train_loader, val_loader, device, eval_iter)
        self.train_losses.append(train_loss)
        self.val_losses.append(val_loss)
        self.track_tokens_seen.append(self.tokens_seen)
        if val_loss < self.best_val_loss:
            self.best_val_loss, self.evals_since_best = val_loss, 0
        else:
            self.evals_since_best += 1
        print(f"Ep {epoch + 1} (Step {self.global_step:06d}): Train loss {train_loss:.3f}, Val loss {val_loss:.3f}")

    def results(self) -> tuple[list, list, list]:
        return self.train_losses, self.val_losses, self.track_tokens_seen


def _is_update_batch(batch_idx: int, num_batches: int, accumulation_steps: int) -> bool:
    """Step the optimizer after every `accumulation_steps` batches and after an epoch's last batch."""
    return (batch_idx + 1) % accumulation_steps == 0 or batch_idx + 1 == num_batches


def train_model_simple(
    model, train_loader, val_loader, optimizer, device, num_epochs, eval_freq, eval_iter,
    start_context, tokenizer, *, accumulation_steps: int = 1, patience=None,
):
    """The book's pretraining loop; returns (train_losses, val_losses, track_tokens_seen) (section 5.2).

    `global_step` counts optimizer updates from -1 and the model is evaluated whenever
    `global_step % eval_freq == 0`. With `accumulation_steps=k` each batch loss is divided by k
    and the optimizer steps once per k batches, so k batches of size b give the update of
    one batch of size k*b (exercise 5.4). With `patience=n` training stops after n
    evaluations in a row without a new lowest validation loss.
    """
    if accumulation_steps < 1:
        raise ValueError(f"accumulation_steps must be at least 1, got {accumulation_steps}")
    log = TrainingLog()
    for epoch in range(num_epochs):
        model.train()
        optimizer.zero_grad()
        for batch_idx, (input_batch, target_batch) in enumerate(train_loader):
            loss = calc_loss_batch(input_batch, target_batch, model, device) / accumulation_steps
            loss.backward()
            log.tokens_seen += input_batch.numel()
            if not _is_update_batch(batch_idx, len(train_loader), accumulation_steps):
                continue
            optimizer.step()
            optimizer.zero_grad()
            log.global_step += 1
            if log.global_step % eval_freq == 0:
                log.evaluate(model, train_loader, val_loader, device, eval_iter=eval_iter, epoch=epoch)
                if patience is not None and log.evals_since_best >= patience:
                    print(f"Early stop: no lower validation loss in {patience} evaluations")
                    return log.results()
        generate_and_print_sample(model, tokenizer, device, start_context)
    return log.results()


# ---------------------------------------------------------------- sampling (section 5.3)


def top_k_filter(logits: torch.Tensor, top_k: int) -> torch.Tensor:
    """Set every logit below the k-th largest of its row to -inf (section 5.3.2)."""
    if not 1 <= top_k <= logits.shape[-1]:
        raise ValueError(f"top_k must be between 1 and the vocabulary size {logits.shape[-1]}, got {top_k}")
    top_logits, _ = torch.topk(logits, top_k, dim=-1)  # (B, k), sorted descending
    min_val = top_logits[..., -1:]  # (B, 1): keeps batches of several rows correct
    return torch.where(logits < min_val, torch.full_like(logits, float("-inf")), logits)


def top_p_filter(logits: torch.Tensor, top_p: float) -> torch.Tensor:
    """Keep the smallest set of most likely tokens whose probabilities sum to at least `top_p` (nucleus).

    A token stays when the tokens more likely than it sum to less than `top_p`, so the most
    likely token always stays; the others become -inf.
    """
    if not 0.0 < top_p <= 1.0:
        raise ValueError(f"top_p must be in (0, 1], got {top_p}")
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)  # (B, V)
    cumulative = torch.cumsum(torch.softmax(sorted_logits, dim=-1), dim=-1)
    mass_before = F.pad(cumulative[..., :-1], (1, 0))  # probability of the strictly more likely tokens
    remove = torch.zeros_like(logits, dtype=torch.bool).scatter(-1, order, mass_before >= top_p)
    return logits.masked_fill(remove, float("-inf"))


def _next_token(logits: torch.Tensor, temperature: float, top_k, top_p) -> torch.Tensor:
    """Each row's next token (B, 1): top-k mask, then argmax, or temperature scaling, nucleus, sampling."""
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    if temperature <= 0.0:
        return torch.argmax(logits, dim=-1, keepdim=True)
    logits = logits / temperature
    if top_p is not None:
        logits = top_p_filter(logits, top_p)
    return torch.multinomial(torch.softmax(logits, dim=-1), num_samples=1)


def generate(model, idx, max_new_tokens, context_size, temperature=0.0, top_k=None, eos_id=None, top_p=None):
    """Append up to `max_new_tokens` tokens to idx (B, T): greedy, or sampled with temperature (5.3).

    `top_k` keeps the k largest logits; `top_p` (temperature > 0 only) keeps the nucleus of
    the temperature-scaled distribution. Generation stops before appending `eos_id` (for a
    batch: once every row's next token is `eos_id`).
    """
    for _ in range(max_new_tokens):
        with torch.no_grad():
            logits = model(idx[:, -context_size:])[:, -1, :]  # (B, vocab_size): last position only
        idx_next = _next_token(logits, temperature, top_k, top_p)  # (B, 1)
        if eos_id is not None and bool((idx_next == eos_id).all()):
            break
        idx = torch.cat((idx, idx_next), dim=1)
    return idx


# ---------------------------------------------------------------- checkpoints (section 5.4)


def save_checkpoint(path, model: nn.Module, optimizer) -> None:
    """Save the model's and optimizer's state dicts under the book's keys (section 5.4)."""
    torch.save({"model_state_dict": model.state_dict(), "optimizer_state_dict": optimizer.state_dict()}, path)


def load_checkpoint(path, model: nn.Module, optimizer=None) -> nn.Module:
    """Restore a save_checkpoint file into model (and optimizer); unpickles tensors only (weights_only)."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(checkpoint["model_state_dict"])
    if optimizer is not None:
        optimizer.load_state_dict(checkpoint["optimizer_state_dict"])
    return model


# ---------------------------------------------------------------- GPT-2 weights (section 5.5)


def _as_tensor(value) -> torch.Tensor:
    """A tensor from a numpy array (copied, so read-only arrays are fine) or a tensor."""
    return value.detach() if isinstance(value, torch.Tensor) else torch.from_numpy(np.array(value))


def _split_qkv(value, source: str) -> tuple[torch.Tensor, ...]:
    """Split c_attn's fused (…, 3 * emb_dim) weight or bias into query, key, value along the last axis."""
    value = _as_tensor(value)
    if value.shape[-1] % 3:
        raise ValueError(f"{source}: last dimension {value.shape[-1]} is not 3 x emb_dim")
    return value.chunk(3, dim=-1)


def _openai_block(p: dict, i: int) -> dict:
    """One block's OpenAI weights keyed by reference parameter name; Conv1D (in, out) weights transposed."""
    attn, mlp, prefix = p["attn"], p["mlp"], f"trf_blocks.{i}"
    q_w, k_w, v_w = _split_qkv(attn["c_attn"]["w"], f"blocks[{i}].attn.c_attn.w")
    q_b, k_b, v_b = _split_qkv(attn["c_attn"]["b"], f"blocks[{i}].attn.c_attn.b")
    weights = {
        "att.W_query.weight": q_w.T, "att.W_key.weight": k_w.T, "att.W_value.weight": v_w.T,
        "att.W_query.bias": q_b, "att.W_key.bias": k_b, "att.W_value.bias": v_b,
        "att.out_proj.weight": _as_tensor(attn["c_proj"]["w"]).T, "att.out_proj.bias": attn["c_proj"]["b"],
        "ff.layers.0.weight": _as_tensor(mlp["c_fc"]["w"]).T, "ff.layers.0.bias": mlp["c_fc"]["b"],
        "ff.layers.2.weight": _as_tensor(mlp["c_proj"]["w"]).T, "ff.layers.2.bias": mlp["c_proj"]["b"],
        "norm1.scale": p["ln_1"]["g"], "norm1.shift": p["ln_1"]["b"],
        "norm2.scale": p["ln_2"]["g"], "norm2.shift": p["ln_2"]["b"],
    }
    return {f"{prefix}.{name}": value for name, value in weights.items()}


def openai_params_to_state(params: dict) -> dict:
    """The book's OpenAI `params` dict as {reference parameter name: tensor in nn.Linear layout}."""
    state = {"tok_emb.weight": params["wte"], "pos_emb.weight": params["wpe"]}
    for i, block in enumerate(params["blocks"]):
        state.update(_openai_block(block, i))
    state.update({"final_norm.scale": params["g"], "final_norm.shift": params["b"]})
    state["out_head.weight"] = params["wte"]  # GPT-2 ties the output head to the token embedding
    return {name: _as_tensor(value) for name, value in state.items()}


def _model_parameter(gpt: nn.Module, name: str) -> nn.Parameter:
    """gpt's parameter `name`, or a ValueError saying why it is missing."""
    try:
        return gpt.get_parameter(name)
    except AttributeError:
        hint = " (GPT-2 has query/key/value biases: build the model with qkv_bias=True)" if ".bias" in name else ""
        raise ValueError(f"{name}: the model has no such parameter{hint}") from None


def load_weights_into_gpt(gpt: nn.Module, params: dict) -> nn.Module:
    """Copy OpenAI GPT-2 weights (the book's `params` layout) into a GPTModel in place (section 5.5)."""
    if len(params["blocks"]) != len(gpt.trf_blocks):
        raise ValueError(f"trf_blocks: the model has {len(gpt.trf_blocks)}, the weights {len(params['blocks'])}")
    for name, value in openai_params_to_state(params).items():
        param = _model_parameter(gpt, name)
        if tuple(value.shape) != tuple(param.shape):
            raise ValueError(f"{name}: the model has shape {tuple(param.shape)}, the weights {tuple(value.shape)}")
        with torch.no_grad():
            param.copy_(value.to(dtype=param.dtype, device=param.device))
    return gpt


def _hf_lookup(state_dict: dict):
    """A getter for HF GPT-2 keys without the `transformer.` prefix, as numpy float32 arrays."""
    stripped = {key.removeprefix("transformer."): value for key, value in state_dict.items()}

    def get(key: str) -> np.ndarray:
        if key not in stripped:
            raise ValueError(f"{key}: missing from the Hugging Face GPT-2 state dict")
        return stripped[key].detach().cpu().float().numpy()

    return stripped, get


def gpt2_params_from_hf_state_dict(state_dict: dict) -> dict:
    """The book's OpenAI `params` dict from a Hugging Face GPT2Model/GPT2LMHeadModel state dict.

    HF keeps OpenAI's Conv1D layout (weights are (in, out)), so arrays are used as they are.
    """
    stripped, get = _hf_lookup(state_dict)
    layers = {int(key.split(".")[1]) for key in stripped if key.startswith("h.")}
    if not layers:
        raise ValueError("not a GPT-2 state dict: no `h.<i>.` (transformer block) keys")
    pair = lambda prefix, a, b: {a: get(f"{prefix}.weight"), b: get(f"{prefix}.bias")}
    blocks = [
        {
            "attn": {"c_attn": pair(f"h.{i}.attn.c_attn", "w", "b"), "c_proj": pair(f"h.{i}.attn.c_proj", "w", "b")},
            "mlp": {"c_fc": pair(f"h.{i}.mlp.c_fc", "w", "b"), "c_proj": pair(f"h.{i}.mlp.c_proj", "w", "b")},
            "ln_1": pair(f"h.{i}.ln_1", "g", "b"),
            "ln_2": pair(f"h.{i}.ln_2", "g", "b"),
        }
        for i in range(max(layers) + 1)
    ]
    return {"wte": get("wte.weight"), "wpe": get("wpe.weight"), "blocks": blocks, **pair("ln_f", "g", "b")}


def load_hf_gpt2_state_dict(gpt: nn.Module, state_dict: dict) -> nn.Module:
    """Load a Hugging Face GPT-2 state dict (keys with or without `transformer.`) into a GPTModel."""
    return load_weights_into_gpt(gpt, gpt2_params_from_hf_state_dict(state_dict))


def load_hf_gpt2_safetensors(gpt: nn.Module, path) -> nn.Module:
    """Load a Hugging Face GPT-2 `.safetensors` file (e.g. model.safetensors) into a GPTModel."""
    return load_hf_gpt2_state_dict(gpt, load_file(str(path)))
