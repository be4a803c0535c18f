"""Shipped data and the offline GPT-2 tokenizer, checked against tiktoken's own GPT-2 loader.

Run: pytest tests/test_assets.py
"""

import hashlib
import shutil

import pytest
import tiktoken
import tiktoken.load
import tiktoken_ext.openai_public
from hypothesis import given
from hypothesis import strategies as st

import reference.assets
from reference.assets import ENDOFTEXT, data_path, gpt2_encoding, load_instruction_data, read_text

# Pieces where GPT-2's pre-tokenisation pattern matters: contractions, digit runs, whitespace runs, non-ASCII.
TRICKY_PIECES = [ENDOFTEXT, "123", " 4567", "'ll", "'s", "'VE", " don't", "  \n\n", "\t ", "   x", "héllo",
                 "日本語", "🙂", "--", "...", "\r\n"]
# Any unicode text, with tricky pieces and the special token sprinkled in.
texts_with_specials = st.lists(st.one_of(st.text(), st.sampled_from(TRICKY_PIECES))).map("".join)


@pytest.fixture(scope="module")
def tiktoken_gpt2() -> tiktoken.Encoding:
    """tiktoken's "gpt2" encoding built by tiktoken's own loader from the shipped files (cache disabled)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TIKTOKEN_CACHE_DIR", "")  # "" disables tiktoken's cache: the files are read as given
        ranks = tiktoken.load.data_gym_to_mergeable_bpe_ranks(
            vocab_bpe_file=str(data_path("gpt2-bpe/vocab.bpe")),
            encoder_json_file=str(data_path("gpt2-bpe/encoder.json")),
        )
    return tiktoken.Encoding(
        name="gpt2-oracle",
        pat_str=tiktoken_ext.openai_public.r50k_pat_str,
        mergeable_ranks=ranks,
        special_tokens={"<|endoftext|>": 50256},
        explicit_n_vocab=50257,
    )


@pytest.fixture
def tampered_bpe_dir(tmp_path, monkeypatch):
    """A copy of gpt2-bpe/ that `data_path` points to; the encoding cache is cleared before and after."""
    shutil.copytree(data_path("gpt2-bpe"), tmp_path / "gpt2-bpe")
    monkeypatch.setattr(reference.assets, "data_path", lambda name: tmp_path / name)
    gpt2_encoding.cache_clear()
    yield tmp_path / "gpt2-bpe"
    gpt2_encoding.cache_clear()


def test_the_verdict_has_20479_characters():
    """Book ch02: the short story has 20479 characters."""
    assert len(read_text("the-verdict.txt")) == 20479


def test_instruction_data_has_1100_entries():
    """Book ch07: instruction-data.json holds 1100 entries with instruction/input/output."""
    entries = load_instruction_data()
    assert len(entries) == 1100
    assert all(set(entry) == {"instruction", "input", "output"} for entry in entries)


def test_data_path_of_missing_file_raises_file_not_found():
    """Asking for a file that is not shipped names it in a FileNotFoundError."""
    with pytest.raises(FileNotFoundError, match="no-such-file.txt"):
        data_path("no-such-file.txt")


def test_every_token_has_the_same_bytes_as_tiktoken(tiktoken_gpt2):
    """All 50257 token ids decode to the same bytes as in tiktoken's GPT-2 vocabulary."""
    ours = gpt2_encoding()
    assert ours.n_vocab == tiktoken_gpt2.n_vocab == 50257
    for token in range(ours.n_vocab):
        assert ours.decode_single_token_bytes(token) == tiktoken_gpt2.decode_single_token_bytes(token), token


@given(text=texts_with_specials)
def test_encoding_agrees_with_tiktoken_on_any_text(tiktoken_gpt2, text):
    """Any unicode text (special token allowed) encodes to tiktoken's ids."""
    assert gpt2_encoding().encode(text, allowed_special="all") == tiktoken_gpt2.encode(text, allowed_special="all")


@pytest.mark.parametrize(
    "text", ["", " ", "2024 was 12,345.67", "I'll we'd THEY'RE", "a  b\n\n c  ", "naïve 🙂 日本"]
)
def test_encoding_agrees_with_tiktoken_on_tricky_text(tiktoken_gpt2, text):
    """Digit runs, contractions, whitespace runs and non-ASCII text encode to tiktoken's ids."""
    assert gpt2_encoding().encode(text) == tiktoken_gpt2.encode(text)


def test_encoding_agrees_with_tiktoken_on_the_verdict(tiktoken_gpt2):
    """The whole short story encodes to tiktoken's ids (5145 tokens in the book)."""
    text = read_text("the-verdict.txt")
    assert gpt2_encoding().encode(text) == tiktoken_gpt2.encode(text)


@given(text=texts_with_specials)
def test_decode_inverts_encode(text):
    """decode(encode(text)) gives back the text, for any unicode text."""
    encoding = gpt2_encoding()
    assert encoding.decode(encoding.encode(text, allowed_special="all")) == text


def test_endoftext_is_token_50256_when_allowed():
    """Book ch02/ch06: `<|endoftext|>` is the single token 50256 when allowed."""
    assert gpt2_encoding().encode(ENDOFTEXT, allowed_special={ENDOFTEXT}) == [50256]


def test_endoftext_in_text_is_an_error_when_not_allowed():
    """Like tiktoken, encoding text that contains `<|endoftext|>` without allowing it raises ValueError."""
    with pytest.raises(ValueError, match="disallowed special token"):
        gpt2_encoding().encode(f"Hello {ENDOFTEXT} world")


@pytest.mark.parametrize("name", ["vocab.bpe", "encoder.json"])
def test_tampered_bpe_file_is_rejected(tampered_bpe_dir, name):
    """Changing one byte of a shipped BPE file makes gpt2_encoding() raise instead of tokenizing wrongly."""
    path = tampered_bpe_dir / name
    data = bytearray(path.read_bytes())
    data[200] = ord("x") if data[200] != ord("x") else ord("y")
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=f"gpt2-bpe/{name} is corrupted"):
        gpt2_encoding()


def test_vocab_that_disagrees_with_encoder_json_is_rejected(tampered_bpe_dir, monkeypatch):
    """With its checksum updated, a vocab.bpe missing its last merge still fails the encoder.json cross-check."""
    path = tampered_bpe_dir / "vocab.bpe"
    lines = path.read_text(encoding="utf-8").rstrip("\n").split("\n")
    path.write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")
    monkeypatch.setattr(reference.assets, "VOCAB_BPE_SHA256", hashlib.sha256(path.read_bytes()).hexdigest())
    with pytest.raises(ValueError, match="disagree"):
        gpt2_encoding()
