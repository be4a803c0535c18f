"""Chapter 2 reference (tokenizers, sliding-window dataset, embeddings): the book's printed rows and properties.

Run: pytest tests/test_ch02.py
"""

import string

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from reference.assets import gpt2_encoding, read_text
from reference.ch02 import (
    ENDOFTEXT,
    UNK,
    CharTokenizer,
    GPTDatasetV1,
    InputEmbedding,
    SimpleTokenizerV1,
    SimpleTokenizerV2,
    build_vocab,
    create_dataloader_v1,
    pad_collate,
    split_text,
    token_frequencies,
)
from strategies import seeds

BOOK_ATOL = 1e-4  # the book prints 4 decimals


@pytest.fixture(scope="module")
def raw_text() -> str:
    return read_text("the-verdict.txt")


@pytest.fixture(scope="module")
def vocab(raw_text) -> dict[str, int]:
    return build_vocab(split_text(raw_text))


@pytest.fixture(scope="module")
def vocab_v2(raw_text) -> dict[str, int]:
    return build_vocab(split_text(raw_text), special_tokens=[ENDOFTEXT, UNK])


class RangeTokenizer:
    """Stand-in tokenizer whose ids are 0, 1, ..., n-1, so every window's expected ids are known."""

    def __init__(self, n_tokens: int):
        self.n_tokens = n_tokens

    def encode(self, text, allowed_special=()):
        return list(range(self.n_tokens))


def windows_from_range(n_tokens, max_length, stride):
    return GPTDatasetV1("", RangeTokenizer(n_tokens), max_length, stride)


STORY_WORDS = frozenset(split_text(read_text("the-verdict.txt")))
unknown_words = st.text(alphabet=string.ascii_letters, min_size=1).filter(lambda word: word not in STORY_WORDS)
sliding_windows = st.tuples(st.integers(0, 40), st.integers(1, 8), st.integers(1, 8))  # n_tokens, max_length, stride

# ---- the book's printed rows ---------------------------------------------------------------


def test_book_split_of_the_verdict_has_4690_tokens(raw_text):
    """Book 2.2: the final regex split gives 4690 tokens starting `I HAD always thought ...`."""
    tokens = split_text(raw_text)
    assert len(tokens) == 4690
    assert tokens[:10] == ["I", "HAD", "always", "thought", "Jack", "Gisburn", "rather", "a", "cheap", "genius"]


def test_book_split_keeps_punctuation_and_double_dashes():
    """Book 2.2: punctuation and `--` become their own tokens; whitespace is dropped."""
    assert split_text("Hello, world. Is this-- a test?") == [
        "Hello", ",", "world", ".", "Is", "this", "--", "a", "test", "?"
    ]


def test_book_vocabulary_has_1130_sorted_entries(vocab):
    """Book 2.3: 1130 sorted unique tokens, punctuation first."""
    assert len(vocab) == 1130
    expected = {"!": 0, '"': 1, "'": 2, "(": 3, ")": 4, ",": 5, "--": 6, ".": 7, ":": 8, ";": 9, "?": 10,
                "A": 11, "HAD": 44, "Hermia": 50}
    assert {token: vocab[token] for token in expected} == expected


def test_book_v1_encodes_and_decodes_the_sample_sentence(vocab):
    """Book 2.3: SimpleTokenizerV1 ids of the sample sentence and its decoded text."""
    tokenizer = SimpleTokenizerV1(vocab)
    ids = tokenizer.encode('"It\'s the last he painted, you know," Mrs. Gisburn said with pardonable pride.')
    assert ids == [1, 56, 2, 850, 988, 602, 533, 746, 5, 1126, 596, 5, 1, 67, 7, 38, 851, 1108, 754, 793, 7]
    assert tokenizer.decode(ids) == '" It\' s the last he painted, you know," Mrs. Gisburn said with pardonable pride.'


def test_book_v1_raises_key_error_for_hello(vocab):
    """Book 2.3: `Hello` is not in the story's vocabulary, so V1 raises KeyError: 'Hello'."""
    with pytest.raises(KeyError, match="'Hello'"):
        SimpleTokenizerV1(vocab).encode("Hello, do you like tea. Is this-- a test?")


def test_book_vocabulary_with_special_tokens_has_1132_entries(vocab_v2):
    """Book 2.4: the two special tokens are appended after the 1130 words."""
    assert len(vocab_v2) == 1132
    expected = {"younger": 1127, "your": 1128, "yourself": 1129, ENDOFTEXT: 1130, UNK: 1131}
    assert {token: vocab_v2[token] for token in expected} == expected


def test_book_v2_encodes_unknown_words_as_unk(vocab_v2):
    """Book 2.4: SimpleTokenizerV2 ids and decoded text of the two joined sentences."""
    tokenizer = SimpleTokenizerV2(vocab_v2)
    ids = tokenizer.encode(f"Hello, do you like tea? {ENDOFTEXT} In the sunlit terraces of the palace.")
    assert ids == [1131, 5, 355, 1126, 628, 975, 10, 1130, 55, 988, 956, 984, 722, 988, 1131, 7]
    assert tokenizer.decode(ids) == f"{UNK}, do you like tea? {ENDOFTEXT} In the sunlit terraces of the {UNK}."


def test_book_bpe_ids_of_unknown_words():
    """Book 2.5: GPT-2 BPE splits unknown words into subwords; `<|endoftext|>` is 50256."""
    text = f"Hello, do you like tea? {ENDOFTEXT} In the sunlit terracesof someunknownPlace."
    assert gpt2_encoding().encode(text, allowed_special={ENDOFTEXT}) == [
        15496, 11, 466, 345, 588, 8887, 30, 220, 50256, 554, 262, 4252, 18250, 8812, 2114, 1659, 617, 34680, 27271, 13
    ]


def test_book_the_verdict_has_5145_bpe_tokens(raw_text):
    """Book 2.6: the story is 5145 GPT-2 tokens."""
    assert len(gpt2_encoding().encode(raw_text)) == 5145


def test_book_next_word_pair_at_token_50(raw_text):
    """Book 2.6: with context size 4, tokens 50..53 predict tokens 51..54."""
    sample = gpt2_encoding().encode(raw_text)[50:]
    assert sample[:4] == [290, 4920, 2241, 287]
    assert sample[1:5] == [4920, 2241, 287, 257]


def test_book_dataloader_stride_1_first_two_batches(raw_text):
    """Book 2.6: batch_size=1, max_length=4, stride=1 gives windows one token apart."""
    batches = iter(create_dataloader_v1(raw_text, batch_size=1, max_length=4, stride=1, shuffle=False))
    first, second = next(batches), next(batches)
    assert [t.tolist() for t in first] == [[[40, 367, 2885, 1464]], [[367, 2885, 1464, 1807]]]
    assert [t.tolist() for t in second] == [[[367, 2885, 1464, 1807]], [[2885, 1464, 1807, 3619]]]


def test_book_dataloader_batch_8_stride_4_first_batch(raw_text):
    """Book 2.6: batch_size=8, max_length=stride=4 gives non-overlapping windows."""
    inputs, targets = next(iter(create_dataloader_v1(raw_text, batch_size=8, max_length=4, stride=4, shuffle=False)))
    assert inputs.tolist() == [
        [40, 367, 2885, 1464], [1807, 3619, 402, 271], [10899, 2138, 257, 7026], [15632, 438, 2016, 257],
        [922, 5891, 1576, 438], [568, 340, 373, 645], [1049, 5975, 284, 502], [284, 3285, 326, 11],
    ]
    assert targets[-1].tolist() == [3285, 326, 11, 287]


def test_book_seeded_embedding_weights():
    """Book 2.7: torch.manual_seed(123) then a (6, 3) embedding gives the printed rows.

    This row is about torch's seeding; InputEmbedding creates its token embedding first, so it prints the same.
    """
    torch.manual_seed(123)
    weight = InputEmbedding(vocab_size=6, output_dim=3, context_length=4).token_embedding_layer.weight
    expected = torch.tensor([[0.3374, -0.1778, -0.1690], [0.9178, 1.5810, 1.3010], [1.2753, -0.2010, -0.1606],
                             [-0.4015, 0.9666, -1.1481], [-1.1589, 0.3255, -0.6315], [-2.8400, -0.7849, -1.4096]])
    torch.testing.assert_close(weight.detach(), expected, atol=BOOK_ATOL, rtol=0)


# ---- word tokenizers --------------------------------------------------------------------------


@given(data=st.data())
def test_v2_round_trips_text_made_of_vocabulary_words(vocab_v2, data):
    """Text decoded from vocabulary tokens encodes back to the same ids and decodes to the same text."""
    tokenizer = SimpleTokenizerV2(vocab_v2)
    ids = data.draw(st.lists(st.sampled_from(sorted(vocab_v2.values())), max_size=30))
    text = tokenizer.decode(ids)
    assert tokenizer.encode(text) == ids
    assert tokenizer.decode(tokenizer.encode(text)) == text


@given(word=unknown_words)
def test_v2_maps_unknown_words_to_unk(vocab_v2, word):
    """A word outside the vocabulary becomes `<|unk|>`; known neighbours keep their ids."""
    ids = SimpleTokenizerV2(vocab_v2).encode(f"the {word} .")
    assert ids == [vocab_v2["the"], vocab_v2[UNK], vocab_v2["."]]


@given(word=unknown_words)
def test_v1_key_error_names_the_unknown_word(vocab, word):
    """V1 raises KeyError carrying the word that is not in the vocabulary."""
    with pytest.raises(KeyError) as error:
        SimpleTokenizerV1(vocab).encode(f"the {word} .")
    assert error.value.args == (word,)


@given(text=st.text())
def test_char_tokenizer_round_trips_its_text(text):
    """CharTokenizer decodes its own text's ids back to the text."""
    tokenizer = CharTokenizer(text)
    assert tokenizer.decode(tokenizer.encode(text)) == text


@given(text=st.text())
def test_char_tokenizer_vocab_size_is_the_number_of_distinct_characters(text):
    """One id per distinct character, ids 0..n-1."""
    tokenizer = CharTokenizer(text)
    assert tokenizer.vocab_size == len(set(text))
    assert sorted(set(tokenizer.encode(text))) == list(range(len(set(text))))


@given(ids=st.lists(st.integers(0, 20), max_size=60))
def test_token_frequencies_counts_each_id(ids):
    """token_frequencies agrees with counting each id by hand."""
    expected = {}
    for token in ids:
        expected[token] = expected.get(token, 0) + 1
    assert dict(token_frequencies(ids)) == expected
    assert dict(token_frequencies(torch.tensor(ids, dtype=torch.long))) == expected


# ---- sliding-window dataset and loader -----------------------------------------------------------


@given(sizes=sliding_windows)
def test_dataset_targets_are_inputs_shifted_by_one(sizes):
    """Each target window is its input window moved one token to the right."""
    for inputs, targets in windows_from_range(*sizes):
        assert targets.tolist() == [token + 1 for token in inputs.tolist()]


@given(sizes=sliding_windows)
def test_dataset_samples_have_max_length_tokens(sizes):
    """Every input and target window has exactly max_length tokens."""
    n_tokens, max_length, stride = sizes
    for inputs, targets in windows_from_range(n_tokens, max_length, stride):
        assert inputs.shape == targets.shape == (max_length,)


@given(sizes=sliding_windows)
def test_dataset_sample_count(sizes):
    """The number of windows is len(range(0, n_tokens - max_length, stride))."""
    n_tokens, max_length, stride = sizes
    assert len(windows_from_range(n_tokens, max_length, stride)) == len(range(0, n_tokens - max_length, stride))


@given(sizes=sliding_windows)
def test_dataset_windows_start_stride_tokens_apart(sizes):
    """Window i starts at token i * stride."""
    n_tokens, max_length, stride = sizes
    dataset = windows_from_range(n_tokens, max_length, stride)
    assert [int(dataset[i][0][0]) for i in range(len(dataset))] == [i * stride for i in range(len(dataset))]


@pytest.mark.parametrize("drop_last", [True, False])
def test_dataloader_batch_shapes(raw_text, drop_last):
    """1286 windows in batches of 8: 160 full batches, plus a last batch of 6 unless drop_last."""
    loader = create_dataloader_v1(raw_text, batch_size=8, max_length=4, stride=4, shuffle=False, drop_last=drop_last)
    shapes = [(tuple(x.shape), tuple(y.shape)) for x, y in loader]
    expected = [((8, 4), (8, 4))] * 160 + ([] if drop_last else [((6, 4), (6, 4))])
    assert shapes == expected


def test_dataloader_without_shuffle_keeps_text_order(raw_text):
    """With shuffle=False, row k of the concatenated batches is tokens[k*stride : k*stride+max_length]."""
    token_ids = gpt2_encoding().encode(raw_text)
    loader = create_dataloader_v1(raw_text, batch_size=5, max_length=6, stride=3, shuffle=False, drop_last=False)
    rows = torch.cat([inputs for inputs, _ in loader]).tolist()
    assert rows == [token_ids[k * 3 : k * 3 + 6] for k in range(len(rows))]
    assert len(rows) == len(range(0, len(token_ids) - 6, 3))


# ---- padding and embeddings ---------------------------------------------------------------------------


@given(lengths=st.lists(st.integers(1, 6), min_size=1, max_size=4), seed=seeds())
def test_pad_collate_pads_to_longest_and_keeps_originals(lengths, seed):
    """Inputs are padded with pad_token_id, targets with ignore_index; the original ids are untouched."""
    generator = torch.Generator().manual_seed(seed)
    batch = [(torch.randint(0, 50, (n,), generator=generator), torch.randint(0, 50, (n,), generator=generator))
             for n in lengths]
    inputs, targets = pad_collate(batch, pad_token_id=99, ignore_index=-7)
    assert inputs.shape == targets.shape == (len(batch), max(lengths))
    for row, (x, y) in enumerate(batch):
        assert inputs[row].tolist() == x.tolist() + [99] * (max(lengths) - len(x))
        assert targets[row].tolist() == y.tolist() + [-7] * (max(lengths) - len(y))


@given(seed=seeds(), num_tokens=st.integers(1, 5))
def test_input_embedding_adds_token_and_position_rows(seed, num_tokens):
    """InputEmbedding(ids)[b, t] equals token_weight[ids[b, t]] + position_weight[t]."""
    torch.manual_seed(seed)
    layer = InputEmbedding(vocab_size=10, output_dim=3, context_length=5)
    ids = torch.randint(0, 10, (2, num_tokens))
    token_rows = layer.token_embedding_layer.weight[ids]
    position_rows = layer.pos_embedding_layer.weight[:num_tokens]
    torch.testing.assert_close(layer(ids), token_rows + position_rows)
