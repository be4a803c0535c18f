"""Training with LoRA (appendix E.4): a smoke test in which only the LoRA parameters change.

A tiny reference GPT classifier (the grader's weights) is frozen, wrapped by your
replace_linear_with_lora(model, rank=4, alpha=8) (so your LinearWithLoRA and LoRALayer), moved
to the grader's device, and trained for a few AdamW steps on the trainable parameters with the
book's last-token loss. Checks that the loss falls and that only LoRA parameters changed.

Run: pytest student_tests/a5/lora --submission assignments/a5/<you>/
"""

import pytest
import torch

from grader.checks import expect
from student_tests.a5.lora.common import PROBES, SECTION, TINY_CFG, reference_classifier

pytestmark = pytest.mark.check(component="LoRA training", section=SECTION)
STEPS, LR = 8, 0.01


@pytest.fixture(scope="module")
def run(nb) -> dict:
    if nb.find("replace_linear_with_lora") is None:
        pytest.fail("no `replace_linear_with_lora` in the notebook: the smoke test adds LoRA layers with it "
                    f"(map another name with GRADER_NAMES). See appendix {SECTION}.", pytrace=False)
    model = reference_classifier(TINY_CFG, seed=2)
    g = torch.Generator().manual_seed(2)
    inputs = torch.randint(0, TINY_CFG["vocab_size"], (4, TINY_CFG["context_length"]), generator=g)
    targets = torch.tensor([0, 1, 0, 1])
    payload = {"cfg": TINY_CFG, "num_classes": 2, "state_dict": model.state_dict(), "rank": 4, "alpha": 8,
               "lr": LR, "inputs": [inputs] * STEPS, "targets": [targets] * STEPS, "device": nb.device, "seed": 0}
    result = nb.run(f"{PROBES}.lora_train", payload, what="training a frozen GPT with your LoRA layers", timeout=120)
    if result.get("losses"):
        nb.plot_lines("LoRA smoke test: loss at each step (only LoRA parameters train)", {"yours": result["losses"]})
    return result


def test_only_lora_parameters_change(nb, run):
    """After a few AdamW steps every pretrained weight is unchanged and the LoRA parameters have moved."""
    expect(run["trainable"] > 0,
           f"after freezing a tiny GPT and calling replace_linear_with_lora(model, rank=4, alpha=8), no parameter "
           f"is trainable, so nothing can be trained: the LoRA parameters (A, B) must be new nn.Parameters with "
           f"requires_grad=True, created after the model was frozen. See appendix {SECTION}.")
    expect(not run["base_changed"],
           f"training the LoRA-wrapped GPT for {STEPS} steps changed pretrained weights that were frozen: "
           f"{run['base_changed'][:6]}. Only A and B may train. See appendix {SECTION}.")
    expect(run["lora_changed"] > 0,
           f"training the LoRA-wrapped GPT for {STEPS} steps changed none of its {run['lora_tensors']} LoRA "
           f"parameter tensors: check that LinearWithLoRA's forward adds lora(x). See appendix {SECTION}.")


def test_loss_falls(nb, run):
    """Training only the LoRA parameters for 8 steps on one batch lowers the loss."""
    losses = run["losses"]
    expect(len(losses) == STEPS and losses[-1] < losses[0],
           f"training only the LoRA parameters of a frozen tiny GPT ({STEPS} AdamW steps, lr {LR}, one repeated batch) "
           f"gave losses {[round(v, 4) for v in losses]}; expected them to fall. If the checks of LoRALayer or "
           f"LinearWithLoRA fail too, fix those first. See appendix {SECTION}.")
