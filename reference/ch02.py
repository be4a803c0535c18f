"""Chapter 2: working with text data (tokenizers, sliding-window dataset, embeddings)."""

import re
from collections import Counter
from collections.abc import Iterable, Sequence

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from reference.assets import gpt2_encoding

ENDOFTEXT = "<|endoftext|>"
UNK = "<|unk|>"
# Section 2.2's final split: punctuation, double dashes and whitespace, kept as separate items.
SPLIT_PATTERN = r'([,.:;?_!"()\']|--|\s)'


def split_text(text: str) -> list[str]:
    """The book's regex split, stripped, with empty items dropped (section 2.2)."""
    return [item.strip() for item in re.split(SPLIT_PATTERN, text) if item.strip()]


def build_vocab(tokens: Iterable[str], special_tokens: Sequence[str] = ()) -> dict[str, int]:
    """Sorted unique tokens mapped to ids, then any special tokens appended (sections 2.3-2.4)."""
    words = sorted(set(tokens))
    words.extend(token for token in special_tokens if token not in words)
    return {token: integer for integer, token in enumerate(words)}


def _join_tokens(tokens: Iterable[str], punctuation: str) -> str:
    """Join tokens with spaces, then remove the space before punctuation."""
    return re.sub(rf"\s+([{punctuation}])", r"\1", " ".join(tokens))


class SimpleTokenizerV1:
    """Word-level tokenizer over a fixed vocabulary; unknown words raise KeyError (section 2.3)."""

    def __init__(self, vocab: dict[str, int]):
        self.str_to_int = vocab
        self.int_to_str = {i: s for s, i in vocab.items()}

    def encode(self, text: str) -> list[int]:
        return [self.str_to_int[token] for token in split_text(text)]

    def decode(self, ids: Iterable[int]) -> str:
        return _join_tokens((self.int_to_str[i] for i in ids), r",.?!\"()'")


class SimpleTokenizerV2(SimpleTokenizerV1):
    """SimpleTokenizerV1 that maps unknown words to `<|unk|>` (section 2.4)."""

    def encode(self, text: str) -> list[int]:
        tokens = [token if token in self.str_to_int else UNK for token in split_text(text)]
        return [self.str_to_int[token] for token in tokens]

    def decode(self, ids: Iterable[int]) -> str:
        return _join_tokens((self.int_to_str[i] for i in ids), r",.:;?!\"()'")


class CharTokenizer:
    """Character-level tokenizer whose vocabulary is the sorted set of characters in `text` (ex 2.1)."""

    def __init__(self, text: str):
        self.chars = sorted(set(text))
        self.str_to_int = {ch: i for i, ch in enumerate(self.chars)}
        self.int_to_str = dict(enumerate(self.chars))

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        return [self.str_to_int[ch] for ch in text]

    def decode(self, ids: Iterable[int]) -> str:
        return "".join(self.int_to_str[i] for i in ids)


def token_frequencies(token_ids: Iterable[int]) -> Counter:
    """How often each token id occurs (ex 2.3); `.most_common(n)` gives the top n."""
    return Counter(int(i) for i in token_ids)


class GPTDatasetV1(Dataset):
    """Sliding-window input/target pairs; targets are inputs shifted by one token (section 2.6)."""

    def __init__(self, txt: str, tokenizer, max_length: int, stride: int):
        self.input_ids = []
        self.target_ids = []
        token_ids = tokenizer.encode(txt, allowed_special={ENDOFTEXT})
        for start in range(0, len(token_ids) - max_length, stride):
            window = token_ids[start : start + max_length + 1]
            self.input_ids.append(torch.tensor(window[:-1]))
            self.target_ids.append(torch.tensor(window[1:]))

    def __len__(self) -> int:
        return len(self.input_ids)

    def __getitem__(self, idx: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.input_ids[idx], self.target_ids[idx]


def create_dataloader_v1(
    txt: str,
    batch_size: int = 4,
    max_length: int = 256,
    stride: int = 128,
    shuffle: bool = True,
    drop_last: bool = True,
    num_workers: int = 0,
) -> DataLoader:
    """A DataLoader over GPTDatasetV1 with GPT-2's BPE tokenizer (section 2.6)."""
    dataset = GPTDatasetV1(txt, gpt2_encoding(), max_length, stride)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last, num_workers=num_workers)


def pad_collate(batch, pad_token_id: int = 50256, ignore_index: int = -100) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad (input, target) pairs of different lengths to the longest one (ex 2.2).

    Inputs are padded with `pad_token_id`; targets with `ignore_index`, so padded positions
    add nothing to a cross-entropy loss.
    """
    longest = max(len(inputs) for inputs, _ in batch)
    inputs = torch.full((len(batch), longest), pad_token_id, dtype=torch.long)
    targets = torch.full((len(batch), longest), ignore_index, dtype=torch.long)
    for row, (x, y) in enumerate(batch):
        inputs[row, : len(x)] = torch.as_tensor(x)
        targets[row, : len(y)] = torch.as_tensor(y)
    return inputs, targets


class InputEmbedding(nn.Module):
    """Token embedding plus absolute positional embedding (section 2.8)."""

    def __init__(self, vocab_size: int, output_dim: int, context_length: int):
        super().__init__()
        self.token_embedding_layer = nn.Embedding(vocab_size, output_dim)
        self.pos_embedding_layer = nn.Embedding(context_length, output_dim)

    def forward(self, token_ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(token_ids.shape[-1], device=token_ids.device)
        return self.token_embedding_layer(token_ids) + self.pos_embedding_layer(positions)  # (B, T, D)
