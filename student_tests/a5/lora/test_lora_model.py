"""The notebook's LoRA model (appendix E.4): LoRA layers added, trained, and the pretrained weights frozen.

Inspects the notebook's global `model` after the notebook ran (LoRA parameters are those inside
your LoRALayer modules). It must hold LoRA layers; every LoRA parameter must be trainable and every
pretrained weight frozen (the book freezes the model, then adds LoRA layers; a trainable
classification head is tolerated); the global `optimizer`, when there is one, must hold the
trainable parameters.

Run: pytest student_tests/a5/lora --submission assignments/a5/<you>/
"""

import pytest

from grader.checks import expect
from student_tests.a5.lora.common import SECTION

pytestmark = pytest.mark.check(component="LoRA model", section=SECTION)
HEAD_NAMES = ("out_head.", "head.", "lm_head.", "classifier.")


def _model(info: dict | None) -> dict:
    if info is None:
        pytest.fail("the notebook defines no global `model`: the checks inspect the LoRA model the notebook trains "
                    "under that name (map another name with GRADER_NAMES = {\"model\": \"<yours>\"}). "
                    f"See appendix {SECTION}.", pytrace=False)
    return info


def test_has_lora_layers(notebook_model):
    """The notebook's `model` holds LoRA layers (LinearWithLoRA modules with LoRALayer parameters)."""
    info = _model(notebook_model)
    expect(info["wrapped"] > 0 and info["lora_total"] > 0,
           f"the notebook's `{info['used_name']}` holds {info['wrapped']} LinearWithLoRA module(s) and "
           f"{info['lora_total']:,} LoRA parameters; expected the model after replace_linear_with_lora(model, rank, "
           f"alpha), with its Linear layers wrapped. See appendix {SECTION}.")


def test_lora_parameters_are_trainable(notebook_model):
    """Every LoRA parameter (A and B) of the notebook's model has requires_grad=True."""
    info = _model(notebook_model)
    expect(info["lora_total"] > 0 and info["lora_trainable"] == info["lora_total"],
           f"the notebook's `{info['used_name']}` has {info['lora_trainable']:,} of {info['lora_total']:,} LoRA "
           f"parameters trainable: frozen LoRA parameters never learn. Freeze the pretrained model first, then call "
           f"replace_linear_with_lora (its new A and B are trainable); freezing after it freezes them too. "
           f"See appendix {SECTION}.")


def test_pretrained_weights_are_frozen(notebook_model):
    """Every pretrained weight of the notebook's model is frozen (a trainable classification head is tolerated)."""
    info = _model(notebook_model)
    head = (f"{info['head']}.",) if info.get("head") else ()
    others = [n for n in info["base_trainable"] if not n.startswith(HEAD_NAMES + head)]
    expect(not others,
           f"the notebook's `{info['used_name']}` trains {info['base_trainable_count']:,} pretrained parameters "
           f"besides LoRA, e.g. {others[:6]}: with LoRA only A and B train. Set requires_grad=False on every "
           f"parameter before calling replace_linear_with_lora. See appendix {SECTION}.")


def test_optimizer_holds_the_trainable_parameters(notebook_model):
    """The global `optimizer` updates every trainable parameter of `model` (built after the LoRA layers were added)."""
    info = _model(notebook_model)
    if info["optimizer_missing"] is None:
        pytest.skip("the notebook has no global `optimizer` (a torch.optim.Optimizer) to inspect")
    expect(info["optimizer_missing_count"] == 0,
           f"the notebook's `optimizer` does not hold {info['optimizer_missing_count']} trainable parameter(s) of "
           f"`{info['used_name']}`, e.g. {info['optimizer_missing'][:5]}: they never change. Create the optimizer "
           f"after replace_linear_with_lora. See appendix {SECTION}.")


def test_reports_the_lora_setup(notebook_model):
    """How many layers are wrapped and how many parameters train (informational)."""
    info = _model(notebook_model)
    plain = f"; {info['plain_count']} Linear layer(s) not wrapped, e.g. {info['plain_linears'][:3]}" \
        if info["plain_count"] else "; every Linear layer is wrapped"
    total = info["lora_total"] + info["base_total"]
    share = f" ({info['lora_trainable'] / total:.2%} of {total:,})" if total else ""
    pytest.skip(f"informational: your `{info['used_name']}` has {info['wrapped']} LoRA-wrapped layer(s) and "
                f"{info['lora_trainable'] + info['base_trainable_count']:,} trainable parameters{share}{plain}")
