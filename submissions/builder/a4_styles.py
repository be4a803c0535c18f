"""a4 samples in three other styles, each correct, and one one-bug copy of each (caught by a comparison with
the reference). Like the book-style samples they run with LLM_GRADER=1. Each correct sample's committed folder
(submissions/a4/ivo-nanogpt/, jun-own-names/, kim-defensive/) is its source.

- ivo: a nanoGPT-style GPTModel (transformer.wte/wpe/h/ln_f, fused attn.c_attn, a tied lm_head) with its own
  load_weights_into_gpt; helpers under nanoGPT's names (estimate_loss, print_sample); exercises through get_lr +
  train_with_warmup, a top_p_filter and gradient_accumulation_steps. Bug ivo-nanogpt-c-proj-not-transposed.
- jun: her own names mapped with GRADER_NAMES; the loss, loop and sampling functions in lm_tools.py, loop first;
  a GPT of raw nn.Parameter matrices. Bug jun-own-names-loss-over-all-batches (in lm_tools.py).
- kim: the book's names with every function validating its arguments. Bug kim-defensive-step-counter-from-zero:
  the evaluations come one step late.
"""

from .a4 import RUN
from .core import handed_in, variant

# student -> [(old, new)]: the style's correct sample with ONE bug; each replacement must apply exactly once.
IVO_BUGS = {
    # The attention's output projection is square, so leaving it out of the transposed list raises nothing.
    "ivo-nanogpt-c-proj-not-transposed": [(
        'TRANSPOSED = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")',
        'TRANSPOSED = ("attn.c_attn.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")')],
}

JUN_BUGS = {
    # The average of the first num_batches batch losses divided by the loader's length.
    "jun-own-names-loss-over-all-batches": [(
        "    return sum(batch_losses) / len(batch_losses)",
        "    return sum(batch_losses) / len(data_loader)")],
}

KIM_BUGS = {
    # The step counter starts at 0, so the evaluations come one optimizer step late.
    "kim-defensive-step-counter-from-zero": [(
        "    tokens_seen, global_step = 0, -1\n    best, stale = math.inf, 0",
        "    tokens_seen, global_step = 0, 0\n    best, stale = math.inf, 0")],
}

IVO, JUN, KIM = (handed_in("a4", student, run=RUN) for student in ("ivo-nanogpt", "jun-own-names", "kim-defensive"))
SAMPLES = [IVO, JUN, KIM] + [variant(style, student, replacements)
                             for style, bugs in [(IVO, IVO_BUGS), (JUN, JUN_BUGS), (KIM, KIM_BUGS)]
                             for student, replacements in bugs.items()]

# tomas: his own GPT names (position_embedding, blocks, qkv, ...) and a Trainer class whose sample() reads
# model.position_embedding, so his loops run on his own GPTModel. Bug tomas-no-zero-grad.
TOMAS = handed_in("a4", "tomas-trainer-own-names", run=RUN)
SAMPLES += [TOMAS, variant(TOMAS, "tomas-no-zero-grad", [("        self.optimizer.zero_grad()\n", "")])]
