"""a5 option B (instruction fine-tuning, chapter 7): Ivy's book-style notebook (its committed folder,
submissions/a5/ivy-instruction-correct/, is its source), one-bug copies, Gus's with his own names (GRADER_NAMES),
and Kim's, correct but training for hours whatever LLM_GRADER says (executed with a lighter settings line, saved
with hers). Each hands in previous_chapters.py, the GPT code of assignments 3 and 4 (generated, not committed).
The notebooks run as the student ran them (no LLM_GRADER) on a small random GPT: no GPT-2 weights offline."""

from .core import Run, handed_in, own_names, variant, with_bug, word_renames
from .snippets import PREVIOUS_CHAPTERS_GPT_AND_GENERATE

RUN = Run(data=("instruction-data.json",), timeout=900)
PREVIOUS = {"previous_chapters.py": PREVIOUS_CHAPTERS_GPT_AND_GENERATE}
IVY = handed_in("a5", "ivy-instruction-correct", run=RUN, generated=PREVIOUS)

# ---------------------------------------------------------------- the flawed samples (one bug each)

BUGS = {
    # All padding targets masked, the first <|endoftext|> too: the model never learns to stop.
    "ben-instruction-eot-masked": [(
        "        if indices.numel() > 1:\n            targets[indices[1:]] = ignore_index",
        "        if indices.numel() > 0:\n            targets[indices] = ignore_index",
    )],
    # allowed_max_length cuts the inputs only; the targets keep their full length.
    "cara-instruction-truncate-inputs-only": [(
        "            inputs = inputs[:allowed_max_length]\n            targets = targets[:allowed_max_length]",
        "            inputs = inputs[:allowed_max_length]",
    )],
    # The "### Input:" section is always added, also when the input is empty.
    "dev-instruction-always-input": [(
        ("    # The input section is optional: many instructions need no extra input\n"
         "    input_text = f\"\\n\\n### Input:\\n{entry['input']}\" if entry[\"input\"] else \"\""),
        "    input_text = f\"\\n\\n### Input:\\n{entry['input']}\"",
    )],
    # Targets are not shifted: the model is trained to copy its input.
    "eli-instruction-unshifted-targets": [(
        "        targets = torch.tensor(padded[1:])  # shift by one: the next token at every position",
        "        targets = torch.tensor(padded[:-1])  # the targets are the tokens of the same text",
    )],
    # The dataset joins prompt and output without the "### Response:" header.
    "fay-instruction-no-response-header": [(
        "            response_text = f\"\\n\\n### Response:\\n{entry['output']}\"",
        "            response_text = f\"\\n\\n{entry['output']}\"",
    )],
}

# ---------------------------------------------------------------- correct variants
GUS_NAMES = {
    "format_input": "build_prompt",
    "InstructionDataset": "AlpacaDataset",
    "custom_collate_fn": "pad_batch",
    "InstructionDatasetMasked": "AlpacaDatasetWithPromptLengths",
    "custom_collate_fn_masked": "pad_batch_hiding_prompt",
    "calc_loss_batch": "batch_loss",
    "extract_response": "response_from_generation",
}

# Kim trains on the full training set for 30 epochs and never looks at LLM_GRADER; in the grader
# the per-cell time limit cuts that cell. The build runs the lighter cell and keeps Kim's source.
KIM_SETTINGS = (
    ("# Training settings. With LLM_GRADER=1 the grader only needs to see the pipeline run.\n"
     "if GRADER_RUN:\n"
     "    train_subset, val_subset, num_epochs, eval_freq, eval_iter = train_data[:16], val_data[:8], 1, 1, 1\n"
     "else:\n"
     "    train_subset, val_subset, num_epochs, eval_freq, eval_iter = train_data[:240], val_data, 2, 5, 2"),
    ("# Training settings: the full training set; 30 epochs took about two hours on a Colab T4\n"
     "train_subset, val_subset, num_epochs, eval_freq, eval_iter = train_data, val_data, 30, 50, 5"),
)
KIM_BUILD_SETTINGS = "train_subset, val_subset, num_epochs, eval_freq, eval_iter = train_data[:240], val_data, 2, 5, 2"
KIM_NOTE = """
## A note on the saved outputs

My real run (the settings in the notebook: all 935 training examples, 30 epochs) took about two
hours on a Colab T4 and the session died before I could save the notebook. The outputs saved
in the notebook come from a shorter run on my laptop (240 examples, 2 epochs) with the same
code, so the printed losses and responses are those of the short run.
"""
KIM_CELLS = with_bug(IVY.cells, [KIM_SETTINGS])

SAMPLES = [IVY, variant(IVY, "gus-instruction-own-names", cells=own_names(
    IVY.cells, word_renames(GUS_NAMES), GUS_NAMES, "def build_prompt(", "class AlpacaDataset(", "def pad_batch(",
    "def pad_batch_hiding_prompt(", "class AlpacaDatasetWithPromptLengths(", "def batch_loss(",
    "def response_from_generation(")),
    variant(IVY, "kim-instruction-long-training", cells=KIM_CELLS, readme=IVY.readme + KIM_NOTE,
            run_cells=with_bug(KIM_CELLS, [(KIM_SETTINGS[1].splitlines()[1], KIM_BUILD_SETTINGS)]))]
SAMPLES += [variant(IVY, student, replacements) for student, replacements in BUGS.items()]
