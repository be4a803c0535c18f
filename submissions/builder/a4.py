"""a4 (chapter 5 and appendix D, pretraining): the book-style notebook that honours LLM_GRADER=1 (a small GPT,
one short epoch, GPT-2-shaped stand-in weights; its committed folder, submissions/a4/ada-correct/, is its source),
one-bug copies, Gus's (correct, but his training cell ignores LLM_GRADER and runs for hours: executed short, saved
with his long source) and Hana's (her own names mapped with GRADER_NAMES, exercise functions the grader finds by
name pattern and signature). The notebooks run with LLM_GRADER=1; the saved outputs stand in for the student's own
run."""

import re

from .core import Run, grader_names, handed_in, require, variant

RUN = Run(data=("the-verdict.txt",), grader_mode=True, timeout=600)

# ---------------------------------------------------------------- the samples

# student -> [(old, new)]: each flawed sample is the correct notebook with ONE bug.
BUGS = {
    "ben-loss-over-tokens": [(
        "    return F.cross_entropy(logits.flatten(0, 1), target_batch.flatten())",
        """\
    log_probs = torch.log_softmax(logits, dim=1)  # log-probabilities of every entry
    target_log_probs = log_probs.gather(-1, target_batch.unsqueeze(-1))
    return -target_log_probs.mean()""")],
    "cara-top-k-plus-one": [(
        """\
            top_logits, _ = torch.topk(logits, top_k)
            min_val = top_logits[:, -1:]  # the k-th largest logit of every row""",
        """\
            sorted_logits, _ = torch.sort(logits, dim=-1, descending=True)
            min_val = sorted_logits[:, top_k:top_k + 1]  # the k-th largest logit of every row""")],
    "dev-qkv-swapped": [(
        """\
        q_w, k_w, v_w = np.split(attn["c_attn"]["w"], 3, axis=-1)
        q_b, k_b, v_b = np.split(attn["c_attn"]["b"], 3, axis=-1)""",
        """\
        k_w, q_w, v_w = np.split(attn["c_attn"]["w"], 3, axis=-1)
        k_b, q_b, v_b = np.split(attn["c_attn"]["b"], 3, axis=-1)""")],
    "eli-c-fc-not-transposed": [(
        'block.ff.layers[0].weight = assign(block.ff.layers[0].weight, mlp["c_fc"]["w"].T)',
        'block.ff.layers[0].weight = assign(block.ff.layers[0].weight, mlp["c_fc"]["w"])')],
    "finn-eval-mode-stays": [(
        """\
        val_loss = calc_loss_loader(val_loader, model, device, num_batches=eval_iter)
    model.train()
    return train_loss, val_loss""",
        """\
        val_loss = calc_loss_loader(val_loader, model, device, num_batches=eval_iter)
    return train_loss, val_loss""")],
}

# gus: correct, but his training cell always runs his real, hours-long configuration.
GUS_SHORT = """\
num_epochs = 1 if FAST else 10
torch.manual_seed(123)
model = GPTModel(TRAIN_CONFIG).to(device)"""
GUS_LONG = """\
# My final run: GPT-2 small for 40 epochs (about 8 hours on my laptop's CPU).
num_epochs = 40
torch.manual_seed(123)
model = GPTModel(GPT_CONFIG_124M).to(device)"""

# hana: her own names, mapped with GRADER_NAMES; exercise functions under names the grader must find.
HANA_RENAMES = [
    (r"\bcalc_loss_batch\b", "batch_loss"), (r"\bcalc_loss_loader\b", "loader_loss"),
    (r"\bevaluate_model\b", "estimate_losses"), (r"\btrain_model_simple\b", "pretrain"),
    (r"\bload_weights_into_gpt\b", "load_openai_weights"), (r"\bGPTModel\b", "MiniGPT"),
    (r"\bperplexity\(", "perplexity_from_loss("), (r"\bdef perplexity\b", "def perplexity_from_loss"),
    (r"\btrain_model\b", "train_with_schedule"), (r"\baccumulation_steps\b", "grad_accum_steps"),
]
HANA_GENERATE = (
    """\
        if temperature > 0.0:
            logits = logits / temperature
            if top_p is not None:
                sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
                cumulative = torch.cumsum(torch.softmax(sorted_logits, dim=-1), dim=-1)
                drop_sorted = cumulative - torch.softmax(sorted_logits, dim=-1) >= top_p  # mass before >= p
                drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
                logits = logits.masked_fill(drop, -torch.inf)
            probs""",
    """\
        if temperature > 0.0:
            logits = logits / temperature
            if nucleus is not None:
                logits = nucleus_filter(logits, nucleus)
            probs""")
HANA_NUCLEUS = '''\
def nucleus_filter(logits, top_p):
    """Logits with every token outside the nucleus (smallest set reaching top_p) set to -inf."""
    probs = torch.softmax(logits, dim=-1)
    sorted_probs, order = torch.sort(probs, dim=-1, descending=True)
    outside = torch.cumsum(sorted_probs, dim=-1) - sorted_probs >= top_p
    return logits.masked_fill(torch.zeros_like(outside).scatter(-1, order, outside), -torch.inf)


'''
HANA_MAPPING = grader_names({
    "GPTModel": "MiniGPT",
    "calc_loss_batch": "batch_loss",
    "calc_loss_loader": "loader_loss",
    "evaluate_model": "estimate_losses",
    "train_model_simple": "pretrain",
    "generate": "sample_tokens",
    "load_weights_into_gpt": "load_openai_weights",
}, "# The autograder looks for the book's names; mine differ, so I map them here.")


def hana_cells(cells):
    """The correct cells with Hana's names and her separate nucleus filter."""
    out = []
    for kind, source in cells:
        if kind == "code":
            if "def generate(" in source:
                old, new = HANA_GENERATE
                assert old in source
                source = HANA_NUCLEUS + source.replace(old, new).replace("top_p=None):", "nucleus=None):")
            source = re.sub(r"\bgenerate\(", "sample_tokens(", source)
            source = source.replace('"top_p": 0.9', '"nucleus": 0.9')
            for pattern, new in HANA_RENAMES:
                source = re.sub(pattern, new, source)
        out.append((kind, source))
    out += [("md", "## Names for the autograder"), ("code", HANA_MAPPING)]
    require(out, "def batch_loss(", "def pretrain(", "def sample_tokens(", "nucleus=None):", "def nucleus_filter(",
            "def perplexity_from_loss(", "def train_with_schedule(", "grad_accum_steps=1", "class MiniGPT(",
            "eos_id=None, nucleus=None):")
    return out


ADA = handed_in("a4", "ada-correct", run=RUN)
SAMPLES = [ADA, variant(ADA, "gus-long-training", [(GUS_SHORT, GUS_LONG)], run_cells=ADA.cells),
           variant(ADA, "hana-grader-names", cells=hana_cells(ADA.cells))]
SAMPLES += [variant(ADA, student, replacements, may_fail=student == "eli-c-fc-not-transposed")
            for student, replacements in BUGS.items()]
