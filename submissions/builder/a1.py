"""a1 (chapter 2, tokenization and data loading): the book-style notebook, a GRADER_NAMES variant, one-bug copies."""

from .core import CODE, MD, Run, Sample, grader_names, renamed, variant, word_renames

RUN = Run(data=("the-verdict.txt",), timeout=120)

CELLS = [
    (MD, """\
# Assignment 1: Tokenization and data preparation

MAI5301, chapter 2 of *Build a Large Language Model (From Scratch)*.

This notebook goes from raw text to the batches of token ids a GPT model trains on:

1. a word-level tokenizer built from *The Verdict* (sections 2.2-2.4),
2. GPT-2's byte-pair encoding through `tiktoken` (section 2.5), with tests against it,
3. a sliding-window `Dataset` and a `DataLoader` (section 2.6),
4. token and positional embeddings (sections 2.7-2.8),
5. exercises 2.1 (character tokenizer), 2.2 (padding variable-length sequences) and
   2.3 (token frequencies)."""),
    (CODE, """\
import re
from collections import Counter

import matplotlib
matplotlib.use("Agg")  # draw into PNG files; each figure is saved and then shown with IPython.display
import matplotlib.pyplot as plt
import tiktoken
import torch
from IPython.display import Image, display
from torch.utils.data import DataLoader, Dataset

print("torch", torch.__version__, "| tiktoken", tiktoken.__version__)"""),
    (MD, """\
## 2.2 Tokenizing the short story

The training text is Edith Wharton's short story *The Verdict* (public domain)."""),
    (CODE, """\
with open("the-verdict.txt", "r", encoding="utf-8") as f:
    raw_text = f.read()

print("Total number of characters:", len(raw_text))
print(raw_text[:99])"""),
    (MD, """\
I split on whitespace, on the punctuation marks `, . : ; ? _ ! " ( ) '` and on the double dash
`--`. Putting the pattern in a capture group keeps the separators as items of their own, so the
punctuation survives as tokens; whitespace-only items are dropped afterwards. Dropping whitespace
keeps the vocabulary small, but it means the word-level tokenizer cannot reproduce the exact
spacing of a text."""),
    (CODE, """\
SPLIT_PATTERN = r'([,.:;?_!"()\\']|--|\\s)'


def split_words(text):
    \"\"\"Word-level pre-tokenisation shared by both simple tokenizers.\"\"\"
    return [piece.strip() for piece in re.split(SPLIT_PATTERN, text) if piece.strip()]


preprocessed = split_words(raw_text)
print(len(preprocessed))
print(preprocessed[:30])"""),
    (MD, """\
## 2.3 From tokens to token ids

The vocabulary is every distinct token, sorted, numbered from 0."""),
    (CODE, """\
all_words = sorted(set(preprocessed))
vocab = {token: integer for integer, token in enumerate(all_words)}
print("vocabulary size:", len(vocab))
for token, integer in list(vocab.items())[:12]:
    print(f"{integer:>4}  {token!r}")"""),
    (MD, """\
`SimpleTokenizerV1` keeps the vocabulary in both directions. `encode` reuses `split_words`;
`decode` joins the tokens with spaces and then removes the space in front of punctuation
(`"painted ,"` becomes `"painted,"`)."""),
    (CODE, """\
class SimpleTokenizerV1:
    \"\"\"Maps words and punctuation to ids of a fixed vocabulary; an unknown word raises KeyError.\"\"\"

    def __init__(self, vocab):
        self.str_to_int = vocab
        self.int_to_str = {integer: token for token, integer in vocab.items()}

    def encode(self, text):
        return [self.str_to_int[token] for token in split_words(text)]

    def decode(self, ids):
        text = " ".join(self.int_to_str[i] for i in ids)
        # join() put a space in front of every punctuation mark; take it out again
        return re.sub(r'\\s+([,.?!"()\\'])', r"\\1", text)"""),
    (CODE, """\
tokenizer = SimpleTokenizerV1(vocab)
text = \"\"\""It's the last he painted, you know,"
       Mrs. Gisburn said with pardonable pride.\"\"\"
ids = tokenizer.encode(text)
print(ids)
print(tokenizer.decode(ids))"""),
    (MD, """\
The decoded text is not the original: the line break and the apostrophe's spacing (`It' s`) are
lost, because the split threw the whitespace away. A word that is not in the vocabulary cannot
be encoded at all:"""),
    (CODE, """\
try:
    tokenizer.encode("Hello, do you like tea. Is this-- a test?")
except KeyError as err:
    print("KeyError for the unknown word", err)"""),
    (MD, """\
## 2.4 Special context tokens

Two special tokens go at the end of the vocabulary: `<|endoftext|>` separates unrelated
documents, `<|unk|>` stands for any word the vocabulary does not know."""),
    (CODE, """\
all_tokens = sorted(set(preprocessed))
all_tokens.extend(["<|endoftext|>", "<|unk|>"])
vocab = {token: integer for integer, token in enumerate(all_tokens)}
print("vocabulary size:", len(vocab))
for token, integer in list(vocab.items())[-5:]:
    print(integer, token)"""),
    (CODE, """\
class SimpleTokenizerV2:
    \"\"\"SimpleTokenizerV1 that encodes unknown words as <|unk|> instead of failing.\"\"\"

    def __init__(self, vocab):
        self.str_to_int = vocab
        self.int_to_str = {integer: token for token, integer in vocab.items()}

    def encode(self, text):
        tokens = [token if token in self.str_to_int else "<|unk|>" for token in split_words(text)]
        return [self.str_to_int[token] for token in tokens]

    def decode(self, ids):
        text = " ".join(self.int_to_str[i] for i in ids)
        return re.sub(r'\\s+([,.:;?!"()\\'])', r"\\1", text)"""),
    (CODE, """\
text1 = "Hello, do you like tea?"
text2 = "In the sunlit terraces of the palace."
text = " <|endoftext|> ".join((text1, text2))
print(text)

tokenizer = SimpleTokenizerV2(vocab)
print(tokenizer.encode(text))
print(tokenizer.decode(tokenizer.encode(text)))"""),
    (MD, """\
## 2.5 Byte pair encoding

GPT-2's tokenizer never needs `<|unk|>`: BPE starts from the 256 single bytes and merges
frequent pairs into larger units, so an unknown word is split into smaller known pieces.
I use OpenAI's `tiktoken` implementation of GPT-2's encoding (50,257 ids)."""),
    (CODE, """\
tokenizer = tiktoken.get_encoding("gpt2")

text = ("Hello, do you like tea? <|endoftext|> In the sunlit terraces"
        "of someunknownPlace.")
integers = tokenizer.encode(text, allowed_special={"<|endoftext|>"})
print(integers)
print(tokenizer.decode(integers))"""),
    (CODE, """\
for token_id in tokenizer.encode("Akwirw ier"):
    print(token_id, repr(tokenizer.decode([token_id])))"""),
    (MD, """\
### Tests: my tokenizers against tiktoken

Each test prints PASS or raises. The word-level tokenizer cannot match tiktoken id for id (the
vocabularies differ), so the tests compare what both promise: tiktoken gives back the exact
text, my `SimpleTokenizerV2` gives back the same words, and the ids match the book's."""),
    (CODE, """\
def check(condition, what):
    assert condition, what
    print("PASS", what)


sample = raw_text[:raw_text.index(".", 3000) + 1]  # up to the end of a sentence
word_tokenizer = SimpleTokenizerV2(vocab)
word_ids = word_tokenizer.encode(sample)
bpe_ids = tokenizer.encode(sample)

check(tokenizer.decode(bpe_ids) == sample, "tiktoken round-trips the text exactly, whitespace included")
check(split_words(word_tokenizer.decode(word_ids)) == split_words(sample), "SimpleTokenizerV2 gives back the same \
words")
check(vocab["<|unk|>"] not in word_ids, "the story has no unknown words for its own vocabulary")
check(integers[:7] == [15496, 11, 466, 345, 588, 8887, 30], "tiktoken ids of 'Hello, do you like tea?' match the book")
check(integers[8] == 50256, "<|endoftext|> is id 50256 in GPT-2's vocabulary")
check(len(tokenizer.encode(raw_text)) == 5145, "the whole story is 5145 BPE tokens")
print(f"word-level: {len(word_ids)} tokens, BPE: {len(bpe_ids)} tokens for the first {len(sample)} characters")"""),
    (MD, """\
### Visualising tokenization

The top panel shows how BPE cuts a sentence from the story (a dot marks a leading space, which
belongs to the token). The bottom panel counts how many characters the BPE tokens of the whole
story have."""),
    (CODE, """\
sentence = "Jack Gisburn rather a cheap genius--though a good fellow enough."
pieces = [tokenizer.decode([i]) for i in tokenizer.encode(sentence)]
story_pieces = [tokenizer.decode([i]) for i in tokenizer.encode(raw_text)]
piece_lengths = Counter(len(piece) for piece in story_pieces)

fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 4.5), dpi=80)
left = 0
for k, piece in enumerate(pieces):
    width = max(len(piece), 1)
    top.barh(0, width, left=left, color=f"C{k % 10}", alpha=0.4, edgecolor="black")
    top.text(left + width / 2, 0, piece.replace(" ", "·"), ha="center", va="center", fontsize=9)
    left += width
top.set_xlim(-0.5, left + 0.5)
top.axis("off")
top.set_title(f"{len(pieces)} BPE tokens for {len(sentence)} characters")
lengths = sorted(piece_lengths)
bottom.bar(lengths, [piece_lengths[n] for n in lengths])
bottom.set_xlabel("characters per BPE token")
bottom.set_ylabel("tokens in the story")
fig.tight_layout()
fig.savefig("tokenization.png")
plt.close(fig)
display(Image("tokenization.png"))"""),
    (MD, """\
## 2.6 Data sampling with a sliding window

A language model learns to predict the next token. From a window of `context_size` ids the
inputs are the window and the targets are the same window shifted one position to the right."""),
    (CODE, """\
enc_text = tokenizer.encode(raw_text)
print("BPE tokens in the story:", len(enc_text))

enc_sample = enc_text[50:]
context_size = 4
x = enc_sample[:context_size]
y = enc_sample[1:context_size + 1]
print(f"x: {x}")
print(f"y:      {y}")
for i in range(1, context_size + 1):
    print(tokenizer.decode(enc_sample[:i]), "---->", tokenizer.decode([enc_sample[i]]))"""),
    (MD, """\
`GPTDatasetV1` tokenizes the whole text once and cuts it into windows of `max_length` ids that
start every `stride` ids. A window needs one more token for its last target, so the last start
position is `len(token_ids) - max_length - 1`."""),
    (CODE, """\
class GPTDatasetV1(Dataset):
    \"\"\"Sliding windows over a token stream: each input chunk and the same chunk shifted by one token.\"\"\"

    def __init__(self, txt, tokenizer, max_length, stride):
        token_ids = tokenizer.encode(txt, allowed_special={"<|endoftext|>"})
        self.input_ids, self.target_ids = [], []
        for start in range(0, len(token_ids) - max_length, stride):
            chunk = token_ids[start:start + max_length + 1]
            self.input_ids.append(torch.tensor(chunk[:-1]))
            self.target_ids.append(torch.tensor(chunk[1:]))

    def __len__(self):
        return len(self.input_ids)

    def __getitem__(self, idx):
        return self.input_ids[idx], self.target_ids[idx]"""),
    (CODE, """\
def create_dataloader_v1(txt, batch_size=4, max_length=256, stride=128,
                         shuffle=True, drop_last=True, num_workers=0):
    \"\"\"Tokenize `txt` with GPT-2's BPE and batch its sliding windows.\"\"\"
    tokenizer = tiktoken.get_encoding("gpt2")
    dataset = GPTDatasetV1(txt, tokenizer, max_length, stride)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle,
                      drop_last=drop_last, num_workers=num_workers)"""),
    (CODE, """\
dataloader = create_dataloader_v1(raw_text, batch_size=1, max_length=4, stride=1, shuffle=False)
data_iter = iter(dataloader)
print(next(data_iter))
print(next(data_iter))"""),
    (MD, """\
With `stride == max_length` the windows do not overlap, so no token is a target twice per epoch
(overlap would add correlated samples and more risk of overfitting)."""),
    (CODE, """\
dataloader = create_dataloader_v1(raw_text, batch_size=8, max_length=4, stride=4, shuffle=False)
inputs, targets = next(iter(dataloader))
print("Inputs:\\n", inputs)
print("\\nTargets:\\n", targets)
print("batches per epoch:", len(dataloader))"""),
    (MD, """\
## 2.7-2.8 Token embeddings and positional embeddings

An embedding layer is a lookup table: row `i` of its weight is the vector of token id `i`."""),
    (CODE, """\
torch.manual_seed(123)
embedding_layer = torch.nn.Embedding(6, 3)
print(embedding_layer.weight)
print(embedding_layer(torch.tensor([2, 3, 5, 1])))"""),
    (CODE, """\
vocab_size, output_dim, context_length = 50257, 256, 4
token_embedding_layer = torch.nn.Embedding(vocab_size, output_dim)
pos_embedding_layer = torch.nn.Embedding(context_length, output_dim)

dataloader = create_dataloader_v1(raw_text, batch_size=8, max_length=context_length,
                                  stride=context_length, shuffle=False)
inputs, targets = next(iter(dataloader))
token_embeddings = token_embedding_layer(inputs)                   # (8, 4, 256)
pos_embeddings = pos_embedding_layer(torch.arange(context_length))  # (4, 256)
input_embeddings = token_embeddings + pos_embeddings                # broadcast over the batch
print(inputs.shape, token_embeddings.shape, pos_embeddings.shape, input_embeddings.shape)"""),
    (MD, """\
## Exercise 2.1: a character-level tokenizer

The vocabulary is the sorted set of characters in the training text. It is tiny, but every text
becomes much longer than with words or BPE."""),
    (CODE, """\
class CharTokenizer:
    \"\"\"Character-level tokenizer; the vocabulary is the sorted distinct characters of `text`.\"\"\"

    def __init__(self, text):
        self.chars = sorted(set(text))
        self.char_to_id = {ch: i for i, ch in enumerate(self.chars)}
        self.id_to_char = dict(enumerate(self.chars))

    def encode(self, text):
        return [self.char_to_id[ch] for ch in text]

    def decode(self, ids):
        return "".join(self.id_to_char[i] for i in ids)


char_tokenizer = CharTokenizer(raw_text)
assert char_tokenizer.decode(char_tokenizer.encode(raw_text)) == raw_text
print(f"{'tokenizer':<12}{'vocabulary':>12}{'tokens in the story':>22}")
for name, size, length in [("characters", len(char_tokenizer.chars), len(char_tokenizer.encode(raw_text))),
                           ("words", len(vocab), len(preprocessed)),
                           ("GPT-2 BPE", tokenizer.n_vocab, len(enc_text))]:
    print(f"{name:<12}{size:>12}{length:>22}")"""),
    (MD, """\
## Exercise 2.2: variable-length sequences with padding

Here every sentence of the story is one sample, so samples have different lengths. `pad_collate`
pads the inputs with `<|endoftext|>` (50256) and the targets with -100, the index PyTorch's
cross-entropy ignores, so padding never counts in the loss."""),
    (CODE, """\
def pad_collate(batch, pad_token_id=50256, ignore_index=-100):
    \"\"\"Pad (input_ids, target_ids) pairs of different lengths to the longest pair in the batch.\"\"\"
    longest = max(len(inputs) for inputs, _ in batch)
    padded_inputs, padded_targets = [], []
    for inputs, targets in batch:
        inputs = torch.as_tensor(inputs, dtype=torch.long)
        targets = torch.as_tensor(targets, dtype=torch.long)
        padded_inputs.append(torch.nn.functional.pad(inputs, (0, longest - len(inputs)), value=pad_token_id))
        padded_targets.append(torch.nn.functional.pad(targets, (0, longest - len(targets)), value=ignore_index))
    return torch.stack(padded_inputs), torch.stack(padded_targets)


class SentenceDataset(Dataset):
    \"\"\"One sample per sentence: its ids and the same ids shifted by one.\"\"\"

    def __init__(self, txt, tokenizer):
        sentences = [s for s in re.split(r"(?<=[.!?])\\s+", txt) if len(tokenizer.encode(s)) > 1]
        self.samples = [tokenizer.encode(s) for s in sentences]

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, idx):
        ids = self.samples[idx]
        return torch.tensor(ids[:-1]), torch.tensor(ids[1:])


sentence_loader = DataLoader(SentenceDataset(raw_text, tokenizer), batch_size=4, shuffle=False,
                             collate_fn=pad_collate)
inputs, targets = next(iter(sentence_loader))
print(inputs.shape)
print(inputs)
print(targets)"""),
    (MD, """\
## Exercise 2.3: token frequencies

Counting the BPE ids of the story shows the usual heavy tail: a handful of tokens (punctuation,
"the", "a") make up a large share of the text and most tokens appear once or twice."""),
    (CODE, """\
def token_frequencies(token_ids):
    \"\"\"How often each token id occurs, as a Counter.\"\"\"
    return Counter(int(token_id) for token_id in token_ids)


frequencies = token_frequencies(enc_text)
print("distinct BPE tokens in the story:", len(frequencies))
for token_id, count in frequencies.most_common(10):
    print(f"{token_id:>6} {tokenizer.decode([token_id])!r:>10} {count:>5}")
once = sum(1 for count in frequencies.values() if count == 1)
print(f"{once} tokens ({once / len(frequencies):.0%} of the distinct ones) occur only once")

counts = sorted(frequencies.values(), reverse=True)
fig, ax = plt.subplots(figsize=(6, 3.5), dpi=80)
ax.loglog(range(1, len(counts) + 1), counts, marker=".", linestyle="none")
ax.set_xlabel("rank")
ax.set_ylabel("count")
ax.set_title("BPE token frequencies in The Verdict")
fig.tight_layout()
fig.savefig("frequencies.png")
plt.close(fig)
display(Image("frequencies.png"))"""),
    (MD, """\
## Summary

The word-level tokenizers reproduce the book's ids; tiktoken's GPT-2 encoding gives the book's
ids and round-trips text exactly; the dataset and the loader give the book's batches. See the
README for the discussion."""),
]

README = """\
# Assignment 1: tokenization and data preparation

All code is in `assignment1.ipynb`; it runs top to bottom in about ten seconds on a laptop CPU.

## How BPE differs from simpler tokenization

A word-level tokenizer (`SimpleTokenizerV1`/`V2`) needs every word in its vocabulary. The
vocabulary built from *The Verdict* has 1,130 entries and still fails on "Hello": V1 raises a
`KeyError`, V2 replaces it with `<|unk|>` and loses the word. A character tokenizer (exercise 2.1)
never meets an unknown symbol in English text but has a tiny vocabulary (62 characters for the
story), so texts become long sequences (20,479 ids for the story against 5,145 BPE tokens).
Byte-pair encoding sits between the two: it starts from the 256 bytes and repeatedly merges the
most frequent adjacent pair into a new token. Frequent words become one token (" the"), rare
words are split into known pieces ("Akwirw" -> "Ak", "w", "ir", "w"), and nothing is ever
unknown. GPT-2's vocabulary has 50,257 ids: 256 bytes, 50,000 merges and `<|endoftext|>`.
BPE also keeps whitespace inside its tokens (" the" is not "the"), so decoding gives back the
exact text, which the word-level tokenizers cannot do.

## Why sliding windows

The model is trained to predict the next token at every position, so a window of `max_length`
ids gives `max_length` training examples at once: the targets are the inputs shifted by one.
A fixed window length lets samples be stacked into a batch tensor. The stride controls the
overlap: `stride == max_length` uses each token once per epoch as a target; a smaller stride
gives more (but correlated) samples. I checked the book's batches for `stride=1` and `stride=4`.

## Challenges with batching

- The window count: a window needs `max_length + 1` tokens (its last target), so the loop runs
  `range(0, len(ids) - max_length, stride)`; my first version stopped one window early.
- `drop_last=True` drops a short last batch; without it the last batch can be smaller, which
  matters for code that assumes a fixed batch size.
- For exercise 2.2 the sequences have different lengths, so the default collate function cannot
  stack them. `pad_collate` pads inputs with `<|endoftext|>` and targets with -100 so that the
  cross-entropy loss ignores padded positions.
"""


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


ADA = Sample("a1", "ada-correct", "assignment1.ipynb", CELLS, README, run=RUN)
SAMPLES = [ADA, variant(ADA, "hana-grader-names", cells=hana_cells(CELLS))]
SAMPLES += [variant(ADA, student, replacements) for student, replacements in BUGS.items()]
