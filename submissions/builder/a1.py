"""a1 (chapter 2, tokenization and data loading): the book-style notebook (its committed folder,
submissions/a1/ada-correct/, is its source), a GRADER_NAMES variant and one-bug copies."""

from .core import CODE, Run, grader_names, handed_in, renamed, variant, word_renames

RUN = Run(data=("the-verdict.txt",), timeout=120)


RENAMES = {  # the GRADER_NAMES sample calls the components by its own names
    "SimpleTokenizerV1": "WordTokenizer",
    "SimpleTokenizerV2": "WordTokenizerWithUnknowns",
    "GPTDatasetV1": "SlidingWindowDataset",
    "create_dataloader_v1": "make_dataloader",
    "CharTokenizer": "CharacterTokenizer",
    "pad_collate": "pad_batch",
}
GRADER_NAMES_CELL = (CODE, grader_names(
    RENAMES, "# My components have my own names; this tells the course's autograder which is which."))

DRAFT_CELL = (CODE, """\
class SimpleTokenizerV1:
    \"\"\"First draft, kept for comparison: it splits on spaces only (WordTokenizer replaces it).\"\"\"

    def __init__(self, vocab):
        self.vocab = vocab

    def encode(self, text):
        return [self.vocab[word] for word in text.split()]""")

# student -> [(old, new)]: the correct notebook with ONE bug; each replacement must apply exactly once.
BUGS = {
    "ben-decode-spaces": [  # V1 decode keeps the spaces join() put before punctuation
        (('        # join() put a space in front of every punctuation mark; take it out again\n'
          '        return re.sub(r\'\\s+([,.?!"()\\\'])\', r"\\1", text)'),
         "        return text"),
    ],
    "chloe-unk-wrong-token": [  # V2 encodes unknown words as <|endoftext|> (1130) instead of <|unk|> (1131)
        ('tokens = [token if token in self.str_to_int else "<|unk|>"',
         'tokens = [token if token in self.str_to_int else "<|endoftext|>"'),
    ],
    "dev-unshifted-targets": [  # targets are the inputs themselves
        ("self.target_ids.append(torch.tensor(chunk[1:]))", "self.target_ids.append(torch.tensor(chunk[:-1]))"),
    ],
    "ivan-window-count": [  # the loop stops one window early
        ("for start in range(0, len(token_ids) - max_length, stride):",
         "for start in range(0, len(token_ids) - max_length - 1, stride):"),
    ],
    "eve-stride-ignored": [  # the loader always uses non-overlapping windows
        ("dataset = GPTDatasetV1(txt, tokenizer, max_length, stride)",
         "dataset = GPTDatasetV1(txt, tokenizer, max_length, stride=max_length)"),
    ],
    "finn-no-shuffle-default": [  # the book's loader shuffles by default
        ("                         shuffle=True, drop_last=True, num_workers=0):",
         "                         shuffle=False, drop_last=True, num_workers=0):"),
    ],
    "gia-char-decode-spaces": [  # exercise 2.1: decode puts a space between characters
        ('return "".join(self.id_to_char[i] for i in ids)', 'return " ".join(self.id_to_char[i] for i in ids)'),
        ("assert char_tokenizer.decode(char_tokenizer.encode(raw_text)) == raw_text\n", ""),
    ],
    "jo-sorted-specials": [  # special tokens sorted in with the words instead of appended
        ('all_tokens = sorted(set(preprocessed))\nall_tokens.extend(["<|endoftext|>", "<|unk|>"])',
         'all_tokens = sorted(set(preprocessed) | {"<|endoftext|>", "<|unk|>"})'),
    ],
}


def hana_cells(cells):
    """The GRADER_NAMES variant: own names in code, the mapping cell, a stale draft, and exercise 2.3 left out."""
    exercise_2_3 = next(i for i, (_, source) in enumerate(cells) if source.startswith("## Exercise 2.3"))
    out = renamed(cells[:exercise_2_3] + cells[exercise_2_3 + 2:], word_renames(RENAMES), *RENAMES.values())
    return out[:2] + [GRADER_NAMES_CELL, DRAFT_CELL] + out[2:]


ADA = handed_in("a1", "ada-correct", run=RUN)
SAMPLES = [ADA, variant(ADA, "hana-grader-names", cells=hana_cells(ADA.cells))]
SAMPLES += [variant(ADA, student, replacements) for student, replacements in BUGS.items()]
