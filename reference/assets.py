"""Data files shipped with the package and GPT-2's tokenizer, built without any network access."""

import functools
import hashlib
import json
from importlib import resources
from pathlib import Path

import tiktoken

# sha256 of the files tiktoken itself downloads for the "gpt2" encoding (tiktoken_ext.openai_public).
ENCODER_JSON_SHA256 = "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783"
VOCAB_BPE_SHA256 = "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5"
# GPT-2's pre-tokenisation pattern (the "r50k" pattern in tiktoken).
GPT2_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""
ENDOFTEXT = "<|endoftext|>"

DATA_FILES = ("the-verdict.txt", "instruction-data.json")


def data_path(name: str) -> Path:
    """Path of a shipped data file, e.g. `data_path("the-verdict.txt")`."""
    path = Path(str(resources.files("reference") / "data" / name))
    if not path.exists():
        raise FileNotFoundError(f"{name!r} is not shipped with the package (see reference/data/SOURCES.md)")
    return path


def read_text(name: str) -> str:
    """Contents of a shipped text file, e.g. the book's short story `the-verdict.txt`."""
    return data_path(name).read_text(encoding="utf-8")


def load_instruction_data() -> list[dict]:
    """The 1100 entries of chapter 7's instruction-data.json."""
    return json.loads(read_text("instruction-data.json"))


def _verified_bytes(name: str, sha256: str) -> bytes:
    data = data_path(f"gpt2-bpe/{name}").read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise ValueError(f"gpt2-bpe/{name} is corrupted: sha256 {digest}, expected {sha256}; reinstall the package")
    return data


def _byte_alphabet() -> dict[str, int]:
    """GPT-2's map from the printable stand-in characters in vocab.bpe back to raw bytes."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    stand_ins = {chr(b): b for b in printable}
    shift = 0
    for b in range(256):
        if b not in printable:
            stand_ins[chr(256 + shift)] = b
            shift += 1
    return stand_ins


def _mergeable_ranks() -> dict[bytes, int]:
    """Byte-level BPE ranks from vocab.bpe, checked against encoder.json."""
    alphabet = _byte_alphabet()
    to_bytes = lambda token: bytes(alphabet[ch] for ch in token)  # noqa: E731
    ranks = {bytes([b]): rank for rank, b in enumerate(alphabet.values())}  # encoder.json's order
    merges = _verified_bytes("vocab.bpe", VOCAB_BPE_SHA256).decode("utf-8").split("\n")[1:]
    for line in merges:
        if line:
            first, second = line.split(" ")
            ranks[to_bytes(first) + to_bytes(second)] = len(ranks)
    encoder = json.loads(_verified_bytes("encoder.json", ENCODER_JSON_SHA256))
    expected = {to_bytes(token): rank for token, rank in encoder.items() if token != ENDOFTEXT}
    if expected != ranks:
        raise ValueError("gpt2-bpe/vocab.bpe and encoder.json disagree; reinstall the package")
    return ranks


@functools.cache
def gpt2_encoding() -> tiktoken.Encoding:
    """tiktoken's "gpt2" encoding, built from the shipped BPE files (never downloads)."""
    return tiktoken.Encoding(
        name="gpt2",
        pat_str=GPT2_PATTERN,
        mergeable_ranks=_mergeable_ranks(),
        special_tokens={ENDOFTEXT: 50256},
        explicit_n_vocab=50257,
    )
