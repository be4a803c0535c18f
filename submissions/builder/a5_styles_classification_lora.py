"""a5 classification and LoRA samples in other styles, each correct, and one one-bug copy of each (caught by a
reference comparison). Each correct one's committed folder, submissions/a5/<student>/, is its source. They run like
the book-style ones (a5_classification_lora.py).

- quinn (classification) and tara (LoRA): a nanoGPT-style model (GPTConfig, transformer.wte/wpe/h/ln_f, fused
  c_attn, lm_head tied to wte) loaded from their own assignment-4 checkpoint, which is not handed in: on the
  grading machine that cell fails and the grader rebuilds the model small with their code. tara's LoRA layer
  holds A and B as nn.Linear lora_A / lora_B (PEFT's layout) and wraps the fused c_attn.
- rosa (classification) and uma (LoRA): their own names (GRADER_NAMES), declarations in another order, raw
  nn.Parameter weights, LoRA scaled by alpha.
- sami (classification) and vic (LoRA): defensive code validating its arguments; a book-style GPTModel(cfg) from
  their own module (the same text in sami_gpt.py and lab_gpt.py), loaded from a checkpoint that is not handed in
  (stand-in again).
The checkpoints are made at build time (random weights of the student's config), in the work folder only.
"""

from .core import CODE, Run, handed_in, variant

# ================================================================ one bug each

# student -> [(old, new)]: the correct notebook with ONE realistic bug.
BUGS = {
    # divides by the batches it meant to read times the batch size: wrong when the last batch is short
    "quinn-classification-nanogpt-batch-count": ("quinn-classification-nanogpt", [(
        "    return hits / seen\n", "    return hits / (n * data_loader.batch_size)\n")]),
    # keeps the END of a message longer than max_length instead of its start
    "rosa-classification-own-names-keeps-tail": ("rosa-classification-own-names", [(
        "encoded = [e[:max_length] for e in encoded]", "encoded = [e[-max_length:] for e in encoded]")]),
    # sums the per-message losses instead of averaging them
    "sami-classification-defensive-summed-loss": ("sami-classification-defensive", [(
        "    return torch.nn.functional.cross_entropy(logits, target_batch)\n",
        "    return torch.nn.functional.cross_entropy(logits, target_batch, reduction=\"sum\")\n")]),
    # forgets the alpha / rank scaling of the low-rank update
    "tara-lora-nanogpt-unscaled": ("tara-lora-nanogpt", [(
        "        return self.lora_B(self.lora_A(x)) * self.scaling\n",
        "        return self.lora_B(self.lora_A(x))\n")]),
    # scales by alpha a second time in the wrapper (the delta is already scaled)
    "uma-lora-own-names-scaled-twice": ("uma-lora-own-names", [(
        "        return self.frozen(x) + self.delta(x)",
        "        return self.frozen(x) + self.delta.alpha * self.delta(x)")]),
    # reads the rank from the wrong dimension of A (in_dim x rank)
    "vic-lora-defensive-rank-from-in-dim": ("vic-lora-defensive", [(
        "self.scaling = alpha / self.A.shape[1]  # rank, read from A so that the two always agree",
        "self.scaling = alpha / self.A.shape[0]  # rank, read from A so that the two always agree")]),
}


def nanogpt_model(student):
    """The model cell (GPTConfig ... GPT) of quinn's or tara's notebook, as loaded (the build deletes the folder)."""
    return next(source for kind, source in BASES[student].cells
                if kind == CODE and source.startswith("@dataclass\nclass GPTConfig"))


def nanogpt_checkpoint(student, **config):
    """prepare(workdir): the assignment-4 checkpoint quinn and tara load, the student's GPT (see nanogpt_model) with
    random weights."""
    def prepare(workdir):
        import dataclasses

        import torch
        from torch import nn
        from torch.nn import functional as F

        space = {"dataclass": dataclasses.dataclass, "nn": nn, "F": F, "torch": torch}
        exec(nanogpt_model(student), space)  # noqa: S102 - the sample's own model source
        torch.manual_seed(4)
        model = space["GPT"](space["GPTConfig"](**config))
        (workdir / "checkpoints").mkdir(exist_ok=True)
        torch.save(model.state_dict(), workdir / "checkpoints" / "a4_nanogpt.pt")
    return prepare


def defensive_checkpoint(workdir):
    """The assignment-4 checkpoint sami and vic load: their GPTModel (sami's module, the same as vic's) with random
    weights."""
    import torch

    space = {}
    exec(BASES["sami-classification-defensive"].files["sami_gpt.py"], space)  # noqa: S102 - a sample's own module
    torch.manual_seed(4)
    model = space["GPTModel"]({"vocab_size": 50257, "context_length": 256, "emb_dim": 96, "n_heads": 4,
                               "n_layers": 3, "drop_rate": 0.1, "qkv_bias": True})
    (workdir / "pretrained").mkdir(exist_ok=True)
    torch.save(model.state_dict(), workdir / "pretrained" / "gpt_a4.pth")


def style(student, prepare=None):
    """A correct style sample; it runs on the synthetic spam set after `prepare` made its checkpoint."""
    return handed_in("a5", student, run=Run(spam=True, timeout=900, prepare=prepare))


QUINN, TARA = "quinn-classification-nanogpt", "tara-lora-nanogpt"
STYLES = [
    style(QUINN, nanogpt_checkpoint(QUINN, block_size=256, n_layer=2, n_head=4, n_embd=64, dropout=0.1)),
    style("rosa-classification-own-names"),
    style("sami-classification-defensive", defensive_checkpoint),
    style(TARA, nanogpt_checkpoint(TARA, block_size=256, n_layer=2, n_head=4, n_embd=64)),
    style("uma-lora-own-names"),
    style("vic-lora-defensive", defensive_checkpoint),
]
BASES = {sample.student: sample for sample in STYLES}
SAMPLES = STYLES + [variant(BASES[base], student, replacements) for student, (base, replacements) in BUGS.items()]
