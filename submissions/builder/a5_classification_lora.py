"""a5 options A (classification, chapter 6) and C (LoRA, appendix E): Ada's and Lena's book-style notebooks (their
committed folders, submissions/a5/ada-classification-correct/ and lena-lora-correct/, are their sources), one-bug
copies, Noor's and Omar's with their own names (Omar also scales LoRA by alpha, the printed book's reading), and
Kai's, correct but with a training cell that ignores LLM_GRADER and runs for hours (executed short, saved with his
long source). Each hands in previous_chapters.py, its GPT from assignment 3 (generated, not committed). The
notebooks run as a student would (no LLM_GRADER): without GPT-2 weights offline they fall back to a small random
GPT, and a synthetic SMS spam set stands in for the real one (the book's download cell finds it)."""

from .core import Run, handed_in, own_names, variant, with_bug, word_renames
from .snippets import PREVIOUS_CHAPTERS_GPT

RUN = Run(spam=True, timeout=600)
PREVIOUS = {"previous_chapters.py": PREVIOUS_CHAPTERS_GPT}

# student -> [(old, new)]: each flawed sample is a correct notebook with ONE bug.
CLASSIFICATION_BUGS = {
    "ben-first-token-logits": [(
        "return model(input_batch)[:, -1, :]  # (batch, num_classes)",
        "return model(input_batch)[:, 0, :]  # (batch, num_classes)")],
    "cara-pads-with-zero": [(
        "self.encoded_texts = [ids + [pad_token_id] * (self.max_length - len(ids)) for ids in self.encoded_texts]",
        "self.encoded_texts = [ids + [0] * (self.max_length - len(ids)) for ids in self.encoded_texts]")],
    "dev-vocab-head": [(
        'model.out_head = nn.Linear(in_features=BASE_CONFIG["emb_dim"], out_features=num_classes)  # new head',
        'model.out_head.requires_grad_(True)  # train the output head')],
    "eve-head-frozen": [(
        """\
for param in model.parameters():  # freeze the pretrained model ...
    param.requires_grad = False

torch.manual_seed(123)
num_classes = 2
model.out_head = nn.Linear(in_features=BASE_CONFIG["emb_dim"], out_features=num_classes)  # new head
""",
        """\
torch.manual_seed(123)
num_classes = 2
model.out_head = nn.Linear(in_features=BASE_CONFIG["emb_dim"], out_features=num_classes)  # new head

for param in model.parameters():  # freeze the pretrained model ...
    param.requires_grad = False
""")],
}

LORA_BUGS = {
    "max-lora-b-random": [(
        "self.B = nn.Parameter(torch.zeros(rank, out_dim))  # zero: training starts from the pretrained model",
        "self.B = nn.Parameter(torch.randn(rank, out_dim) * 0.1)  # small random values, like A")],
    "nia-lora-rank-over-alpha": [(
        "return (self.alpha / self.rank) * (x @ self.A @ self.B)",
        "return (self.rank / self.alpha) * (x @ self.A @ self.B)")],
    "otto-lora-top-level-only": [(
        """\
        if isinstance(module, nn.Linear):
            setattr(model, name, LinearWithLoRA(module, rank, alpha))
        else:
            replace_linear_with_lora(module, rank, alpha)  # recurse into blocks, attention, feed-forward""",
        """\
        if isinstance(module, nn.Linear):
            setattr(model, name, LinearWithLoRA(module, rank, alpha))""")],
    "pia-lora-frozen": [(
        """\
for param in model.parameters():  # freeze every pretrained weight first ...
    param.requires_grad = False
replace_linear_with_lora(model, rank=16, alpha=16)  # ... then add trainable LoRA layers""",
        """\
replace_linear_with_lora(model, rank=16, alpha=16)  # add LoRA layers ...
for param in model.parameters():  # ... and freeze the pretrained weights
    param.requires_grad = False""")],
}

# kai: correct, but the training cell ignores LLM_GRADER and runs for hours (cut by the grader's cell time limit).
# The saved outputs come from a short run (the build cannot wait hours), as if the student had run it elsewhere.
KAI_LONG = [("num_epochs = 2 if QUICK else 5", "num_epochs = 20_000  # a long run: about 2 hours on my laptop")]
KAI_SHORT = [("num_epochs = 2 if QUICK else 5", "num_epochs = 5")]

NOOR_NAMES = {  # noor: correct, her own names
    "SpamDataset": "SMSDataset",
    "calc_loss_batch": "last_token_loss",
    "calc_accuracy_loader": "accuracy_over",
    "train_classifier_simple": "fine_tune",
    "classify_review": "predict_message",
}
OMAR_NAMES = {  # omar: correct, his own names, LoRA scaled by alpha (the printed book)
    "LoRALayer": "LowRankUpdate",
    "LinearWithLoRA": "LoRALinear",
    "replace_linear_with_lora": "add_lora_adapters",
}
OMAR_RENAMES = word_renames(OMAR_NAMES) + [
    (r"\bself\.A\b", "self.down"), (r"\bself\.B\b", "self.up"), (r"\(self\.alpha / self\.rank\) \* ", "self.alpha * ")]

ADA = handed_in("a5", "ada-classification-correct", run=RUN, generated=PREVIOUS)
LENA = handed_in("a5", "lena-lora-correct", run=RUN, generated=PREVIOUS)
SAMPLES = [
    ADA, LENA,
    variant(ADA, "kai-classification-long-run", KAI_LONG, run_cells=with_bug(ADA.cells, KAI_SHORT)),
    variant(ADA, "noor-classification-own-names", cells=own_names(
        ADA.cells, word_renames(NOOR_NAMES), NOOR_NAMES, "class SMSDataset(", "def predict_message(")),
    variant(LENA, "omar-lora-own-names", cells=own_names(
        LENA.cells, OMAR_RENAMES, OMAR_NAMES, "class LowRankUpdate(", "self.alpha * (x @ self.down")),
]
SAMPLES += [variant(ADA, student, replacements) for student, replacements in CLASSIFICATION_BUGS.items()]
# pia's bug stops her training cell with an error (nothing is trainable); she hands it in like that.
SAMPLES += [variant(LENA, student, replacements, may_fail=student == "pia-lora-frozen")
            for student, replacements in LORA_BUGS.items()]
