"""a1 stubs: tokenizers, the sliding-window dataset, its loader and the exercise functions with the book's
signatures, whose results are zeros, their input handed back, or a constant.

A stub keeps what costs nothing to get right (the vocabulary tables, the number of windows, the loader's
arguments), so only the values it returns give it away: a dataset stub has the right length and its
"input" flavour returns each input window as its own target.
"""

from tests.stubs import FLAVOURS

SAMPLE = "a1/ada-correct"

_TOKENIZER = '''class {name}:
    def __init__(self, vocab):
        self.str_to_int = vocab
        self.int_to_str = {{i: s for s, i in vocab.items()}}

    def encode(self, text):
        return {encode}

    def decode(self, ids):
        return {decode}
'''
_TOKENIZER_RETURNS = {
    "zeros": ("[0 for _ in text.split()]", '""'),
    "input": ("text", '" ".join(str(i) for i in ids)'),
    "constant": ("[7 for _ in text.split()]", '"the"'),
}

_CHAR_TOKENIZER = '''class CharTokenizer:
    def __init__(self, text):
        self.chars = sorted(set(text))

    def encode(self, text):
        return {encode}

    def decode(self, ids):
        return {decode}
'''
_CHAR_RETURNS = {
    "zeros": ("[0] * len(text)", '""'),
    "input": ("text", '" ".join(str(i) for i in ids)'),
    "constant": ("[7] * len(text)", '"a"'),
}

_WINDOWS = ("ids = tokenizer.encode(txt, allowed_special={{'<|endoftext|>'}})\n"
            "{indent}windows = [torch.tensor(ids[i:i + max_length]) for i in range(0, len(ids) - max_length, stride)]")
_PAIR = {"zeros": "(torch.zeros_like(x), torch.zeros_like(x))", "input": "(x, x)",
         "constant": "(torch.full_like(x, 7), torch.full_like(x, 7))"}

_DATASET = '''from torch.utils.data import Dataset


class GPTDatasetV1(Dataset):
    def __init__(self, txt, tokenizer, max_length, stride):
        {windows}
        self.windows = windows

    def __len__(self):
        return len(self.windows)

    def __getitem__(self, idx):
        x = self.windows[idx]
        return {pair}
'''

_LOADER = '''def create_dataloader_v1(txt, batch_size=4, max_length=256, stride=128, shuffle=True, drop_last=True,
                         num_workers=0):
    import tiktoken
    from torch.utils.data import DataLoader
    tokenizer = tiktoken.get_encoding("gpt2")
    {windows}
    items = [{pair} for x in windows]
    return DataLoader(items, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last, num_workers=num_workers)
'''

_PAD_COLLATE = '''def pad_collate(batch, pad_token_id=50256, ignore_index=-100):
    longest = max(len(x) for x, _ in batch)
    return {result}
'''
_PAD_RETURNS = {
    "zeros": "torch.zeros(len(batch), longest, dtype=torch.long), torch.zeros(len(batch), longest, dtype=torch.long)",
    "input": "[x for x, _ in batch], [y for _, y in batch]",
    "constant": "torch.full((len(batch), longest), 7), torch.full((len(batch), longest), 7)",
}

_FREQUENCIES = '''def token_frequencies(token_ids):
    return {result}
'''
_FREQUENCY_RETURNS = {"zeros": "{int(i): 0 for i in token_ids}", "input": "token_ids",
                      "constant": "{int(i): 1 for i in token_ids}"}

STUBS = {
    "SimpleTokenizerV1": {f: _TOKENIZER.format(name="SimpleTokenizerV1", encode=e, decode=d)
                          for f, (e, d) in _TOKENIZER_RETURNS.items()},
    "SimpleTokenizerV2": {f: _TOKENIZER.format(name="SimpleTokenizerV2", encode=e, decode=d)
                          for f, (e, d) in _TOKENIZER_RETURNS.items()},
    "GPTDatasetV1": {f: _DATASET.format(windows=_WINDOWS.format(indent=" " * 8), pair=_PAIR[f]) for f in FLAVOURS},
    "create_dataloader_v1": {f: _LOADER.format(windows=_WINDOWS.format(indent=" " * 4), pair=_PAIR[f])
                             for f in FLAVOURS},
    "CharTokenizer": {f: _CHAR_TOKENIZER.format(encode=e, decode=d) for f, (e, d) in _CHAR_RETURNS.items()},
    "pad_collate": {f: _PAD_COLLATE.format(result=r) for f, r in _PAD_RETURNS.items()},
    "token_frequencies": {f: _FREQUENCIES.format(result=r) for f, r in _FREQUENCY_RETURNS.items()},
}
