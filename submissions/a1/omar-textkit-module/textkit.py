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
        return re.sub(r'\s+([,.:;?!"()\'])', r"\1", " ".join(self.id_to_token[i] for i in ids))


class WordTokenizer:
    """Word tokenizer over a fixed table; a word outside it raises KeyError."""

    def __init__(self, vocab):
        self.token_to_id = vocab
        self.id_to_token = {i: t for t, i in vocab.items()}

    def encode(self, text):
        return [self.token_to_id[t] for t in word_split(text)]

    def decode(self, ids):
        return re.sub(r'\s+([,.?!"()\'])', r"\1", " ".join(self.id_to_token[i] for i in ids))


def word_split(text):
    return [t for t in (s.strip() for s in re.split(r'([,.:;?_!"()\']|--|\s)', text)) if t]


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
