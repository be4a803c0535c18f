"""a1 samples in three other styles, each correct (its committed folder is its source), and one one-bug copy of
each.

- lena: nanoGPT-like names (`stoi`/`itos`, `enc`, `block_size`), a dataset that slices its windows lazily, its
  own collate function. Bug lena-floor-window-count: __len__ rounds down, so a last window that fits is lost.
- omar: own names mapped with GRADER_NAMES, the components in `textkit.py` in another order, windows cut with
  `unfold`. Bug omar-decode-quote-space: WordTokenizer.decode leaves the space before a double quote.
- pia: defensive checks on every argument. Bug pia-refuses-one-window: the dataset refuses a text of exactly
  max_length + 1 tokens, which holds one window.
"""

from .a1 import RUN
from .core import handed_in, variant

LENA, OMAR, PIA = (handed_in("a1", student, run=RUN)
                   for student in ("lena-stoi-lazy-windows", "omar-textkit-module", "pia-defensive-checks"))
SAMPLES = [
    LENA, OMAR, PIA,
    variant(LENA, "lena-floor-window-count", [
        ("return max(0, math.ceil(spare / self.stride))", "return max(0, spare // self.stride)")]),
    variant(OMAR, "omar-decode-quote-space", [
        (r"""return re.sub(r'\s+([,.?!"()\'])', r"\1", " ".join(self.id_to_token[i] for i in ids))""",
         r"""return re.sub(r'\s+([,.?!()\'])', r"\1", " ".join(self.id_to_token[i] for i in ids))""")]),
    variant(PIA, "pia-refuses-one-window", [
        ("if len(token_ids) < max_length + 1:", "if len(token_ids) <= max_length + 1:")]),
]

# quinn: one compiled re.findall pattern, a Vocab(dict) class, windows cut with as_strided. Bug quinn-float-windows:
# torch.Tensor(ids) makes float32 windows with the right values (only their dtype tells).
QUINN = handed_in("a1", "quinn-strided-vocab-class", run=RUN)
SAMPLES += [QUINN, variant(QUINN, "quinn-float-windows", [
    ("token_ids = torch.tensor(tokenizer.encode(txt, allowed_special={'<|endoftext|>'}), dtype=torch.long)",
     "token_ids = torch.Tensor(tokenizer.encode(txt, allowed_special={'<|endoftext|>'}))"),
    ("h = tok_emb(x) + pos_emb(torch.arange(ctx))", "h = tok_emb(x.long()) + pos_emb(torch.arange(ctx))")])]
