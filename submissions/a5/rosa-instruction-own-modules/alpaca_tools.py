"""Prompt building and the training loss for my instruction-tuning notebook (assignment 5)."""

import torch

PROMPT = ("Below is an instruction that describes a task. "
          "Write a response that appropriately completes the request."
          "\n\n### Instruction:\n{instruction}")
INPUT_BLOCK = "\n\n### Input:\n{input}"
ANSWER_BLOCK = "\n\n### Response:\n{output}"


def render_prompt(entry):
    """The Alpaca prompt of one example: preamble, instruction and, only when it is not empty, the input."""
    text = PROMPT.format(instruction=entry["instruction"])
    if entry["input"]:
        text += INPUT_BLOCK.format(input=entry["input"])
    return text


def calc_loss_batch(input_batch, target_batch, model, device):
    """Mean cross-entropy over the targets that are not -100 (padding, masked prompt)."""
    logits = model(input_batch.to(device))
    return torch.nn.functional.cross_entropy(logits.flatten(0, 1), target_batch.to(device).flatten())
