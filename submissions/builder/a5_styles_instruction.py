"""a5 instruction samples in three other styles, each correct, and one one-bug copy of each. The correct ones'
committed folders (submissions/a5/<student>/) are their sources; they run like the book-style ones
(a5_instruction.py).

- quin: torch/nanoGPT idioms: the prompt joined from blocks, a dataset packing every record into one LongTensor,
  a collate function on pad_sequence with a length mask, a nanoGPT-style model in nanogpt.py, exercise 7.2 as
  MaskedInstructionDataset + collate_with_prompt_mask. Bug: the collate function writes -100, not ignore_index.
- rosa: own names (GRADER_NAMES); the prompt builder and the loss in alpaca_tools.py, the loss only as
  tools.calc_loss_batch. Bug (in the module): the two sentences of the preamble are joined without a space.
- sami: every function validates its arguments. Bug: the collate function appends <|endoftext|> to the
  caller's lists (no copy), so the next epoch sees longer texts.
"""

from .a5_instruction import PREVIOUS, RUN
from .core import handed_in, variant

QUIN_BUG = [(  # labels always get -100, whatever ignore_index the caller asked for
    "    labels[positions > n_tokens.unsqueeze(1) - 1] = ignore_index\n",
    "    labels[positions > n_tokens.unsqueeze(1) - 1] = -100  # -100 is what cross_entropy ignores\n",
)]

ROSA_BUG = [(  # the two sentences of the preamble run together: "...a task.Write a response..."
    '''PROMPT = ("Below is an instruction that describes a task. "''',
    '''PROMPT = ("Below is an instruction that describes a task."''',
)]

SAMI_BUG = [(  # no copy: the dataset's own lists grow by an end-of-text token (and padding) at every call
    "        tokens = list(item)  # a copy: the DataLoader passes the dataset's own lists\n",
    "        tokens = item\n",
)]

QUIN = handed_in("a5", "quin-instruction-packed-tensors", run=RUN)
ROSA = handed_in("a5", "rosa-instruction-own-modules", run=RUN, generated=PREVIOUS)
SAMI = handed_in("a5", "sami-instruction-defensive", run=RUN, generated=PREVIOUS)
SAMPLES = [QUIN, variant(QUIN, "quin-instruction-hardcoded-ignore-index", QUIN_BUG),
           ROSA, variant(ROSA, "rosa-instruction-preamble-no-space", ROSA_BUG),
           SAMI, variant(SAMI, "sami-instruction-collate-mutates-batch", SAMI_BUG)]

# theo: a functools.partial pipeline; the prompt-masking collate made by a factory (make_masked_collate), which the
# grader must not take for the collate. Bug theo-instruction-hides-first-response-token.
THEO = handed_in("a5", "theo-instruction-collate-factory", run=RUN)
SAMPLES += [THEO, variant(THEO, "theo-instruction-hides-first-response-token", [
    ("targets[row, :response_start - 1] = ignore_index", "targets[row, :response_start + 1] = ignore_index")])]
