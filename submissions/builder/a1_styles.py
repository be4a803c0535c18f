"""a1 samples in three other styles, each correct, and one one-bug copy of each.

- lena: nanoGPT-like names (`stoi`/`itos`, `enc`, `block_size`), a dataset that slices its windows lazily, its
  own collate function. Bug lena-floor-window-count: __len__ rounds down, so a last window that fits is lost.
- omar: own names mapped with GRADER_NAMES, the components in `textkit.py` in another order, windows cut with
  `unfold`. Bug omar-decode-quote-space: WordTokenizer.decode leaves the space before a double quote.
- pia: defensive checks on every argument. Bug pia-refuses-one-window: the dataset refuses a text of exactly
  max_length + 1 tokens, which holds one window.
"""

from .a1 import RUN
from .core import CODE, MD, Sample, variant

# ---------------------------------------------------------------- lena: nanoGPT-like conventions

LENA = [
    (MD, """\
# A1 - from raw text to training batches

Notes and code for chapter 2. I follow the naming I got used to from nanoGPT: `stoi`/`itos` for the
lookup tables, `enc` for the GPT-2 encoding, `block_size` for the context length inside my classes."""),
    (CODE, """\
import math
import re
from collections import Counter

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import tiktoken
import torch
from IPython.display import Image, display
from torch.utils.data import DataLoader, Dataset

with open("the-verdict.txt", encoding="utf-8") as fh:
    story = fh.read()
print(f"{len(story):,} characters; starts with {story[:60]!r}")"""),
    (MD, """\
## Word-level tokenization

One compiled pattern does the splitting: punctuation, the double dash and whitespace are captured
as separate pieces; blank pieces are thrown away."""),
    (CODE, """\
WORD_RE = re.compile(r'([,.:;?_!"()\\']|--|\\s)')
SPACE_BEFORE_PUNCT = re.compile(r'\\s+([,.:;?!"()\\'])')


def pieces(text):
    return [p.strip() for p in WORD_RE.split(text) if p.strip()]


def make_stoi(words, specials=()):
    \"\"\"Sorted unique words -> consecutive ids; special tokens go last.\"\"\"
    ordered = sorted(set(words)) + [s for s in specials if s not in words]
    return {w: i for i, w in enumerate(ordered)}


story_pieces = pieces(story)
stoi = make_stoi(story_pieces, specials=["<|endoftext|>", "<|unk|>"])
print(len(story_pieces), "pieces,", len(stoi), "vocabulary entries; last ones:", list(stoi)[-3:])"""),
    (CODE, """\
class SimpleTokenizerV1:
    \"\"\"Word-level tokenizer over a fixed vocabulary; unknown words raise KeyError.\"\"\"

    def __init__(self, vocab):
        self.stoi = dict(vocab)
        self.itos = {i: s for s, i in self.stoi.items()}

    def encode(self, text):
        return [self.stoi[p] for p in pieces(text)]

    def decode(self, ids):
        return SPACE_BEFORE_PUNCT.sub(r"\\1", " ".join(self.itos[int(i)] for i in ids))


class SimpleTokenizerV2(SimpleTokenizerV1):
    \"\"\"Same, but anything outside the vocabulary becomes <|unk|>.\"\"\"

    def encode(self, text):
        unk = self.stoi["<|unk|>"]
        return [self.stoi.get(p, unk) for p in pieces(text)]


word_tok = SimpleTokenizerV2(stoi)
sample = "Hello, do you like tea? <|endoftext|> In the sunlit terraces of the palace."
print(word_tok.encode(sample))
print(word_tok.decode(word_tok.encode(sample)))"""),
    (MD, """\
## GPT-2's byte pair encoding

`enc` is tiktoken's GPT-2 encoding. I compare it with my word tokenizer on the same sentence and
check the ids the book prints."""),
    (CODE, """\
enc = tiktoken.get_encoding("gpt2")
ids = enc.encode("Hello, do you like tea? <|endoftext|> In the sunlit terracesof someunknownPlace.",
                 allowed_special={"<|endoftext|>"})
assert ids[:8] == [15496, 11, 466, 345, 588, 8887, 30, 220] and ids[8] == 50256
assert enc.decode(enc.encode(story)) == story, "BPE should give the text back exactly"
print("BPE tokens in the story:", len(enc.encode(story)), "| word pieces:", len(story_pieces))

sentence = "Akwirw ier is not a word."
bits = [enc.decode([t]) for t in enc.encode(sentence)]
fig, ax = plt.subplots(figsize=(7, 1.4), dpi=80)
x = 0
for k, bit in enumerate(bits):
    ax.barh(0, len(bit), left=x, color=f"C{k % 10}", alpha=0.5)
    ax.text(x + len(bit) / 2, 0, bit.replace(" ", "_"), ha="center", va="center")
    x += len(bit)
ax.set_axis_off()
ax.set_title("GPT-2 BPE pieces of an unknown word")
fig.savefig("bpe_pieces.png")
plt.close(fig)
display(Image("bpe_pieces.png"))"""),
    (MD, """\
## Sliding windows

Instead of materialising every window, the dataset keeps the whole id sequence as one tensor and
cuts window `i` when it is asked for: inputs are `block_size` ids starting at `i * stride`, targets
the same span moved one id to the right."""),
    (CODE, """\
class GPTDatasetV1(Dataset):
    def __init__(self, txt, tokenizer, max_length, stride):
        self.data = torch.tensor(tokenizer.encode(txt, allowed_special={"<|endoftext|>"}), dtype=torch.long)
        self.block_size = max_length
        self.stride = stride

    def __len__(self):
        # window starts 0, stride, 2*stride, ... while block_size + 1 ids remain
        spare = len(self.data) - self.block_size
        return max(0, math.ceil(spare / self.stride))

    def __getitem__(self, i):
        start = i * self.stride
        chunk = self.data[start:start + self.block_size + 1]
        return chunk[:-1], chunk[1:]


def stack_pairs(batch):
    xs, ys = zip(*batch)
    return torch.stack(xs), torch.stack(ys)


def create_dataloader_v1(txt, batch_size=4, max_length=256, stride=128,
                         shuffle=True, drop_last=True, num_workers=0):
    ds = GPTDatasetV1(txt, enc, max_length, stride)
    return DataLoader(ds, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last,
                      num_workers=num_workers, collate_fn=stack_pairs)


loader = create_dataloader_v1(story, batch_size=8, max_length=4, stride=4, shuffle=False)
xb, yb = next(iter(loader))
print(xb)
print(yb)
print(len(loader), "batches per epoch")"""),
    (MD, """\
## Exercise 2.1: characters as tokens"""),
    (CODE, """\
class CharTokenizer:
    def __init__(self, text):
        chars = sorted(set(text))
        self.stoi = {c: i for i, c in enumerate(chars)}
        self.itos = dict(enumerate(chars))

    def encode(self, text):
        return [self.stoi[c] for c in text]

    def decode(self, ids):
        return "".join(self.itos[int(i)] for i in ids)


char_tok = CharTokenizer(story)
print("characters:", len(char_tok.stoi), "| words:", len(stoi), "| GPT-2 BPE:", enc.n_vocab)
print("story length in ids:", len(char_tok.encode(story)), len(story_pieces), len(enc.encode(story)))"""),
    (MD, """\
## Exercise 2.3: how often each BPE id occurs"""),
    (CODE, """\
def token_freqs(ids):
    return Counter(int(t) for t in ids)


freqs = token_freqs(enc.encode(story))
for t, n in freqs.most_common(5):
    print(repr(enc.decode([t])), n)
print(sum(n == 1 for n in freqs.values()), "of", len(freqs), "ids occur once")"""),
]

LENA_README = """\
# A1 (Lena)

`assignment1.ipynb` runs in a few seconds; the names follow nanoGPT (`stoi`, `itos`, `enc`).

## BPE versus simpler tokenizers

My word-level tokenizer knows exactly the 1,130 distinct words and punctuation marks of the story
(plus two special tokens). Anything else is unknown: V1 raises, V2 turns it into `<|unk|>` and the
word is gone. Characters (exercise 2.1) never run out of vocabulary but make sequences four times
longer than BPE. Byte pair encoding starts from bytes and merges the most frequent adjacent pairs
into new subword units, 50,000 merges for GPT-2, so common words are one token and rare words are
split into smaller pieces ("Akwirw" becomes several pieces). Nothing is ever out of vocabulary, and
since spaces live inside the tokens, decoding reproduces the text exactly.

## Why sliding windows

Training is next-token prediction: inside a window of `block_size` ids every position predicts the
id after it, so the targets are the inputs shifted by one. Windows have a fixed length, which is
what lets them be stacked into a batch. The stride decides the overlap between windows: equal to
the window length means no overlap and each id is a target once per epoch.

## Batching

My dataset slices windows lazily, so the only tricky part was the window count: a window needs
`block_size + 1` ids, which gives `ceil((n - block_size) / stride)` windows. `drop_last=True` drops
a short final batch and `shuffle=True` reorders windows each epoch. Because all windows have the
same length I never need to pad; my collate function just stacks.
"""

# ---------------------------------------------------------------- omar: own names, a module, reordered

OMAR_MODULE = '''\
"""Text-to-batches toolkit for assignment 1. The notebook imports these and maps them to the book's names."""

import re

import torch
from torch.utils.data import DataLoader, Dataset


def make_batches(txt, batch_size=4, max_length=256, stride=128, shuffle=True, drop_last=True, num_workers=0):
    """Batches of (inputs, targets) windows of GPT-2 ids over `txt`."""
    import tiktoken
    windows = TokenWindows(txt, tiktoken.get_encoding("gpt2"), max_length, stride)
    return DataLoader(windows, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last, num_workers=num_workers)


class TokenWindows(Dataset):
    """Every window of max_length ids (and the ids right after them) starting a multiple of stride apart."""

    def __init__(self, txt, tokenizer, max_length, stride):
        ids = torch.tensor(tokenizer.encode(txt, allowed_special={"<|endoftext|>"}), dtype=torch.long)
        if len(ids) > max_length:
            spans = ids.unfold(0, max_length + 1, stride)  # (windows, max_length + 1)
        else:
            spans = ids.new_empty((0, max_length + 1))
        self.inputs, self.targets = spans[:, :-1], spans[:, 1:]

    def __len__(self):
        return self.inputs.shape[0]

    def __getitem__(self, k):
        return self.inputs[k], self.targets[k]


class UnkAwareTokenizer:
    """Word tokenizer that maps words outside its table to <|unk|>."""

    def __init__(self, vocab):
        self.token_to_id = vocab
        self.id_to_token = {i: t for t, i in vocab.items()}

    def encode(self, text):
        fallback = self.token_to_id["<|unk|>"]
        return [self.token_to_id.get(t, fallback) for t in word_split(text)]

    def decode(self, ids):
        return re.sub(r'\\s+([,.:;?!"()\\'])', r"\\1", " ".join(self.id_to_token[i] for i in ids))


class WordTokenizer:
    """Word tokenizer over a fixed table; a word outside it raises KeyError."""

    def __init__(self, vocab):
        self.token_to_id = vocab
        self.id_to_token = {i: t for t, i in vocab.items()}

    def encode(self, text):
        return [self.token_to_id[t] for t in word_split(text)]

    def decode(self, ids):
        return re.sub(r'\\s+([,.?!"()\\'])', r"\\1", " ".join(self.id_to_token[i] for i in ids))


def word_split(text):
    return [t for t in (s.strip() for s in re.split(r'([,.:;?_!"()\\']|--|\\s)', text)) if t]


def word_table(text, extra=()):
    words = sorted(set(word_split(text)))
    return {t: i for i, t in enumerate(words + list(extra))}


class CharLevelTokenizer:
    """One id per distinct character of the training text, in sorted order."""

    def __init__(self, text):
        alphabet = sorted(set(text))
        self.token_to_id = {c: i for i, c in enumerate(alphabet)}
        self.id_to_token = dict(enumerate(alphabet))

    def encode(self, text):
        return [self.token_to_id[c] for c in text]

    def decode(self, ids):
        return "".join(self.id_to_token[i] for i in ids)


def pad_batch(batch, pad_token_id=50256, ignore_index=-100):
    """Right-pad (inputs, targets) pairs of different lengths: inputs with pad_token_id, targets with ignore_index."""
    width = max(len(x) for x, _ in batch)
    xs = torch.full((len(batch), width), pad_token_id, dtype=torch.long)
    ys = torch.full((len(batch), width), ignore_index, dtype=torch.long)
    for row, (x, y) in enumerate(batch):
        xs[row, :len(x)] = torch.as_tensor(x)
        ys[row, :len(y)] = torch.as_tensor(y)
    return xs, ys
'''

OMAR = [
    (MD, """\
# Assignment 1 - Omar

The code lives in `textkit.py` so I can reuse it in later assignments; this notebook imports it,
runs it on *The Verdict* and compares it with tiktoken. My names differ from the book's, so the
first code cell tells the autograder which is which."""),
    (CODE, """\
GRADER_NAMES = {
    "SimpleTokenizerV1": "WordTokenizer",
    "SimpleTokenizerV2": "UnkAwareTokenizer",
    "GPTDatasetV1": "TokenWindows",
    "create_dataloader_v1": "make_batches",
    "pad_collate": "pad_batch",
}"""),
    (CODE, """\
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import tiktoken
import torch
from IPython.display import Image, display

from textkit import (CharLevelTokenizer, TokenWindows, UnkAwareTokenizer, WordTokenizer, make_batches,
                     pad_batch, word_split, word_table)

text = open("the-verdict.txt", encoding="utf-8").read()
words = word_split(text)
print(len(text), "characters,", len(words), "word tokens")"""),
    (MD, """\
## Word tokenizers

The table is built inside the tokenizer's constructor call; I never keep it as a separate global."""),
    (CODE, """\
strict = WordTokenizer(word_table(text))
quote = '"It\\'s the last he painted, you know," Mrs. Gisburn said with pardonable pride.'
print(strict.encode(quote))
print(strict.decode(strict.encode(quote)))
try:
    strict.encode("Hello there")
except KeyError as missing:
    print("not in the table:", missing)

lenient = UnkAwareTokenizer(word_table(text, extra=["<|endoftext|>", "<|unk|>"]))
print(lenient.encode("Hello, do you like tea? <|endoftext|> In the sunlit terraces of the palace."))"""),
    (MD, """\
## GPT-2 BPE, and a test against my word tokenizer"""),
    (CODE, """\
bpe = tiktoken.get_encoding("gpt2")
piece = text[:500]
assert bpe.decode(bpe.encode(piece)) == piece
assert word_split(lenient.decode(lenient.encode(piece))) == word_split(piece)
print("word ids:", len(lenient.encode(piece)), "| BPE ids:", len(bpe.encode(piece)))

lengths = [len(bpe.decode([t])) for t in bpe.encode(text)]
fig, ax = plt.subplots(figsize=(5, 3), dpi=80)
ax.hist(lengths, bins=range(1, 12))
ax.set_xlabel("characters in a BPE token")
ax.set_ylabel("tokens")
fig.savefig("bpe_lengths.png")
plt.close(fig)
display(Image("bpe_lengths.png"))"""),
    (MD, """\
## Windows and batches

`TokenWindows` cuts all windows at once with `unfold(0, max_length + 1, stride)`."""),
    (CODE, """\
windows = TokenWindows(text, bpe, max_length=4, stride=1)
print(len(windows), windows[0], windows[50])
batches = make_batches(text, batch_size=8, max_length=4, stride=4, shuffle=False)
first_inputs, first_targets = next(iter(batches))
print(first_inputs[:2], first_targets[:2])"""),
    (MD, """\
## Exercises 2.1 and 2.2"""),
    (CODE, """\
tokenizer = CharLevelTokenizer(text)
print(len(tokenizer.token_to_id), "characters; round trip ok:", tokenizer.decode(tokenizer.encode(text)) == text)

pairs = [(torch.tensor(ids[:-1]), torch.tensor(ids[1:])) for ids in (bpe.encode(s) for s in text.split(".")[:4])]
padded_x, padded_y = pad_batch(pairs)
print(padded_x.shape)
print(padded_y[:, -3:])"""),
]

OMAR_README = """\
# Assignment 1

Everything reusable is in `textkit.py`; `assignment1.ipynb` imports it and shows the results.
`GRADER_NAMES` in the notebook maps my class and function names to the book's.

## How BPE differs from simpler tokenization

A word-level table has a fixed vocabulary built from one text, so every unseen word is unknown
(`KeyError`, or `<|unk|>` in the lenient version). Character-level tokenization has no unknown
symbols but very long sequences. Byte-pair encoding learns merges of frequent byte pairs; the
result is a vocabulary of subword pieces in which frequent words are single tokens and unseen words
decompose into several known pieces, so there is no out-of-vocabulary case.

## Why sliding windows

A language model predicts the next token; a window of `max_length` tokens plus the next one gives
one training example per position (targets = inputs shifted by one). Sliding the window with a
`stride` covers the whole text; a stride smaller than the window gives overlap (more, but
correlated, examples).

## Challenges with batching

`unfold` raises when the text is shorter than one window, so I return an empty dataset then.
Windows all have the same length, so the default collate stacks them; `drop_last` decides whether
the short last batch is kept, and `shuffle` changes the order every epoch. For exercise 2.2 the
sequences differ in length and must be padded (`pad_batch`), targets with -100 so the loss skips
them.
"""

# ---------------------------------------------------------------- pia: defensive code

PIA = [
    (MD, """\
# Assignment 1: tokenization and data loading

I wrote every component to reject bad input loudly, with a message that says what was wrong,
instead of failing somewhere deep inside PyTorch."""),
    (CODE, """\
import re
from collections import Counter

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import tiktoken
import torch
from IPython.display import Image, display
from torch.utils.data import DataLoader, Dataset

with open("the-verdict.txt", "r", encoding="utf-8") as handle:
    raw_text = handle.read()
assert raw_text, "the story is empty"
print(len(raw_text), "characters")"""),
    (CODE, """\
SPLITTER = r'([,.:;?_!"()\\']|--|\\s)'


def words_of(text):
    if not isinstance(text, str):
        raise TypeError(f"expected a str, got {type(text).__name__}")
    return [w.strip() for w in re.split(SPLITTER, text) if w.strip()]


def build_vocabulary(tokens, specials=()):
    ordered = sorted(set(tokens))
    clash = [s for s in specials if s in ordered]
    if clash:
        raise ValueError(f"special tokens already in the text: {clash}")
    return {token: index for index, token in enumerate(ordered + list(specials))}


def check_vocabulary(vocab):
    if not isinstance(vocab, dict) or not vocab:
        raise TypeError("vocab must be a non-empty dict from token to id")
    if not all(isinstance(t, str) for t in vocab) or not all(isinstance(i, int) for i in vocab.values()):
        raise TypeError("vocab must map str tokens to int ids")
    if len(set(vocab.values())) != len(vocab):
        raise ValueError("two tokens share an id")


vocab = build_vocabulary(words_of(raw_text), specials=["<|endoftext|>", "<|unk|>"])
print(len(vocab), "entries")"""),
    (CODE, """\
class SimpleTokenizerV1:
    \"\"\"Word-level tokenizer; refuses words it does not know.\"\"\"

    def __init__(self, vocab):
        check_vocabulary(vocab)
        self.str_to_int = vocab
        self.int_to_str = {i: s for s, i in vocab.items()}

    def encode(self, text):
        ids = []
        for word in words_of(text):
            if word not in self.str_to_int:
                raise ValueError(f"unknown token {word!r}: SimpleTokenizerV1 has no <|unk|> (use SimpleTokenizerV2)")
            ids.append(self.str_to_int[word])
        return ids

    def decode(self, ids):
        unknown = [i for i in ids if i not in self.int_to_str]
        if unknown:
            raise ValueError(f"ids not in the vocabulary: {unknown[:5]}")
        return re.sub(r'\\s+([,.?!"()\\'])', r"\\1", " ".join(self.int_to_str[i] for i in ids))


class SimpleTokenizerV2(SimpleTokenizerV1):
    \"\"\"Maps unknown words to <|unk|>; needs <|unk|> and <|endoftext|> in the vocabulary.\"\"\"

    def __init__(self, vocab):
        super().__init__(vocab)
        missing = {"<|unk|>", "<|endoftext|>"} - set(vocab)
        if missing:
            raise ValueError(f"the vocabulary lacks {sorted(missing)}")

    def encode(self, text):
        unk = self.str_to_int["<|unk|>"]
        return [self.str_to_int.get(word, unk) for word in words_of(text)]

    def decode(self, ids):
        text = super().decode(ids)
        return re.sub(r'\\s+([:;])', r"\\1", text)


tokenizer = SimpleTokenizerV2(vocab)
print(tokenizer.decode(tokenizer.encode("Hello, do you like tea? <|endoftext|> In the sunlit terraces.")))
try:
    SimpleTokenizerV1(vocab).encode("Hello, world")
except ValueError as problem:
    print("V1:", problem)"""),
    (MD, """\
## BPE with tiktoken, tested against the word tokenizer"""),
    (CODE, """\
gpt2_tokenizer = tiktoken.get_encoding("gpt2")
book_ids = gpt2_tokenizer.encode("Hello, do you like tea? <|endoftext|> In the sunlit terracesof someunknownPlace.",
                                 allowed_special={"<|endoftext|>"})
assert book_ids[:7] == [15496, 11, 466, 345, 588, 8887, 30], book_ids
for passage in (" ".join(raw_text.split()[start:start + 60]) for start in (0, 900)):  # whole words only
    assert gpt2_tokenizer.decode(gpt2_tokenizer.encode(passage)) == passage
    assert words_of(tokenizer.decode(tokenizer.encode(passage))) == words_of(passage)
print("tests passed")

counts = Counter(len(words_of(s)) for s in raw_text.split("\\n") if s.strip())
fig, ax = plt.subplots(figsize=(5, 3), dpi=80)
ax.bar(["words", "GPT-2 BPE"], [len(words_of(raw_text)), len(gpt2_tokenizer.encode(raw_text))])
ax.set_ylabel("tokens for the story")
fig.savefig("token_counts.png")
plt.close(fig)
display(Image("token_counts.png"))"""),
    (MD, """\
## Sliding-window dataset and loader

A window needs `max_length + 1` tokens (inputs plus the last target); a shorter text is an error
rather than a silently empty dataset."""),
    (CODE, """\
def positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")


class GPTDatasetV1(Dataset):
    def __init__(self, txt, tokenizer, max_length, stride):
        if not isinstance(txt, str):
            raise TypeError(f"txt must be a str, got {type(txt).__name__}")
        if not callable(getattr(tokenizer, "encode", None)):
            raise TypeError("tokenizer needs an encode method")
        positive_int("max_length", max_length)
        positive_int("stride", stride)
        token_ids = tokenizer.encode(txt, allowed_special={"<|endoftext|>"})
        if len(token_ids) < max_length + 1:
            raise ValueError(f"the text has {len(token_ids)} tokens; one window needs max_length + 1 = "
                             f"{max_length + 1}")
        self.input_ids, self.target_ids = [], []
        for start in range(0, len(token_ids) - max_length, stride):
            self.input_ids.append(torch.tensor(token_ids[start:start + max_length]))
            self.target_ids.append(torch.tensor(token_ids[start + 1:start + max_length + 1]))

    def __len__(self):
        return len(self.input_ids)

    def __getitem__(self, idx):
        return self.input_ids[idx], self.target_ids[idx]


def create_dataloader_v1(txt, batch_size=4, max_length=256, stride=128, shuffle=True, drop_last=True,
                         num_workers=0):
    positive_int("batch_size", batch_size)
    if num_workers < 0:
        raise ValueError("num_workers cannot be negative")
    dataset = GPTDatasetV1(txt, tiktoken.get_encoding("gpt2"), max_length, stride)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last,
                      num_workers=num_workers)


loader = create_dataloader_v1(raw_text, batch_size=1, max_length=4, stride=1, shuffle=False)
print(next(iter(loader)))
try:
    GPTDatasetV1("too short", gpt2_tokenizer, max_length=8, stride=1)
except ValueError as problem:
    print("refused:", problem)"""),
    (MD, """\
## Exercises 2.1, 2.2 and 2.3"""),
    (CODE, """\
class CharTokenizer:
    def __init__(self, text):
        if not isinstance(text, str) or not text:
            raise ValueError("CharTokenizer needs a non-empty training text")
        self.chars = sorted(set(text))
        self.index = {c: i for i, c in enumerate(self.chars)}

    def encode(self, text):
        unseen = sorted(set(text) - set(self.index))
        if unseen:
            raise ValueError(f"characters not seen in training: {unseen[:5]}")
        return [self.index[c] for c in text]

    def decode(self, ids):
        if any(not 0 <= i < len(self.chars) for i in ids):
            raise ValueError("id out of range")
        return "".join(self.chars[i] for i in ids)


def pad_collate(batch, pad_token_id=50256, ignore_index=-100):
    if not batch:
        raise ValueError("empty batch")
    if any(len(x) != len(y) for x, y in batch):
        raise ValueError("inputs and targets of a pair must have the same length")
    longest = max(len(x) for x, _ in batch)
    inputs = [torch.cat([torch.as_tensor(x), torch.full((longest - len(x),), pad_token_id)]) for x, _ in batch]
    targets = [torch.cat([torch.as_tensor(y), torch.full((longest - len(y),), ignore_index)]) for _, y in batch]
    return torch.stack(inputs).long(), torch.stack(targets).long()


def token_frequencies(token_ids):
    if any(isinstance(t, bool) or int(t) != t for t in token_ids):
        raise TypeError("token ids must be integers")
    return Counter(int(t) for t in token_ids)


print(len(CharTokenizer(raw_text).chars), "characters")
print(pad_collate([(torch.tensor([1, 2, 3]), torch.tensor([2, 3, 4])), (torch.tensor([5]), torch.tensor([6]))]))
print(token_frequencies(gpt2_tokenizer.encode(raw_text)).most_common(3))"""),
]

PIA_README = """\
# Assignment 1 (tokenization and data loading)

## BPE compared with simpler tokenizers

A word tokenizer built from one story has a closed vocabulary: any other word is unknown, so V1
raises and V2 substitutes `<|unk|>`. A character tokenizer never meets unknown input but produces
long sequences. Byte pair encoding merges frequent pairs of bytes into larger subword tokens; rare
words fall apart into known pieces, so there is no unknown token at all, and the text comes back
exactly after decoding.

## Sliding windows

Each window of `max_length` tokens is an input; the targets are the same tokens shifted by one
position, so the model learns next-token prediction at every position. The `stride` controls how
far the window moves and therefore how much consecutive windows overlap.

## Batching challenges

A text with fewer than `max_length + 1` tokens has no window at all; I raise a ValueError there
instead of returning an empty dataset that fails later in the DataLoader. With `drop_last=True` a
smaller final batch is dropped; `shuffle=True` changes the order of the windows. For sequences of
different lengths (exercise 2.2) I pad inputs with `<|endoftext|>` and targets with -100.
"""

LENA_SAMPLE = Sample("a1", "lena-stoi-lazy-windows", "assignment1.ipynb", LENA, LENA_README, run=RUN)
OMAR_SAMPLE = Sample("a1", "omar-textkit-module", "assignment1.ipynb", OMAR, OMAR_README, {"textkit.py": OMAR_MODULE},
                     run=RUN)
PIA_SAMPLE = Sample("a1", "pia-defensive-checks", "assignment1.ipynb", PIA, PIA_README, run=RUN)
SAMPLES = [
    LENA_SAMPLE, OMAR_SAMPLE, PIA_SAMPLE,
    variant(LENA_SAMPLE, "lena-floor-window-count", [
        ("return max(0, math.ceil(spare / self.stride))", "return max(0, spare // self.stride)")]),
    variant(OMAR_SAMPLE, "omar-decode-quote-space", [
        (r"""return re.sub(r'\s+([,.?!"()\'])', r"\1", " ".join(self.id_to_token[i] for i in ids))""",
         r"""return re.sub(r'\s+([,.?!()\'])', r"\1", " ".join(self.id_to_token[i] for i in ids))""")]),
    variant(PIA_SAMPLE, "pia-refuses-one-window", [
        ("if len(token_ids) < max_length + 1:", "if len(token_ids) <= max_length + 1:")]),
]
