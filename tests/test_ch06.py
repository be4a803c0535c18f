"""Tests of reference/ch06.py: spam data, SpamDataset, classification head, loss, accuracy, training, metrics.

Run: python -m pytest tests/test_ch06.py -q
"""

from collections import Counter

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn
from torch.utils.data import DataLoader

from reference import ch06
from reference.assets import gpt2_encoding
from reference.ch04 import GPT_CONFIG_124M, GPTModel, count_parameters

PAD = 50256


@pytest.fixture
def classifier(tiny_cfg) -> GPTModel:
    """A tiny GPT with a 2-class head."""
    return ch06.replace_head_for_classification(GPTModel(tiny_cfg), num_classes=2, emb_dim=tiny_cfg["emb_dim"])


@pytest.fixture
def one_thread():
    """Train on one CPU thread: seconds instead of minutes on a busy machine, and repeatable."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


class LastTokenOneHot(nn.Module):
    """Stand-in model: logits (B, T, 2) that pick class `x[:, t] % 2`, so predictions are known by hand."""

    def forward(self, x):
        return nn.functional.one_hot(x % 2, num_classes=2).float()


# ---------------------------------------------------------------- book facts

def test_endoftext_is_token_50256():
    """Book: tiktoken encodes <|endoftext|> (allowed) as [50256], the padding id of SpamDataset."""
    assert gpt2_encoding().encode("<|endoftext|>", allowed_special={"<|endoftext|>"}) == [50256]


def test_gpt2_124m_with_two_class_head_has_124_441_346_parameters():
    """Book: GPT-2 124M (qkv_bias True) with a 2-class out_head has 124,441,346 trainable parameters.

    That is the count of *all* parameters after the head swap, every one still trainable:
    embeddings 39,383,808 + 12 blocks x 7,087,872 + final_norm 1,536 + head 768 x 2 + 2.
    Built on the meta device, so no memory is allocated.
    """
    with torch.device("meta"):
        model = ch06.replace_head_for_classification(GPTModel({**GPT_CONFIG_124M, "qkv_bias": True}), 2, 768)
    assert count_parameters(model) == 124_441_346
    assert count_parameters(model, trainable_only=True) == 124_441_346


# ---------------------------------------------------------------- rows and files

def test_labels_map_ham_to_0_spam_to_1_and_keep_numbers():
    """"ham" -> 0, "spam" -> 1, as the book's map; numeric labels (CSV strings too) pass through."""
    assert [ch06.encode_label(x) for x in ("ham", "spam", 0, 1, "1")] == [0, 1, 0, 1, 1]
    with pytest.raises(ValueError, match="unknown label"):
        ch06.encode_label("eggs")


def test_balanced_dataset_undersamples_ham_to_spam_count():
    """create_balanced_dataset keeps every spam row and as many distinct ham rows, deterministically."""
    rows = ch06.make_synthetic_spam(200, seed=1)
    balanced = ch06.create_balanced_dataset(rows)
    spam = [r for r in rows if r[0] == "spam"]
    assert [r for r in balanced if r[0] == "spam"] == spam
    assert sum(r[0] == "ham" for r in balanced) == len(spam)
    assert Counter(r for r in balanced if r[0] == "ham") <= Counter(r for r in rows if r[0] == "ham")
    assert ch06.create_balanced_dataset(rows) == balanced


def test_balanced_dataset_accepts_dict_rows():
    """Rows may be dicts with the book's Label/Text columns."""
    rows = [{"Label": "ham", "Text": f"h{i}"} for i in range(5)] + [{"Label": "spam", "Text": "s"}]
    balanced = ch06.create_balanced_dataset(rows)
    assert sorted(label for label, _ in balanced) == ["ham", "spam"]


def test_random_split_sizes_and_partition():
    """random_split: train int(0.7 n), validation int(0.1 n), test the rest; together the input rows."""
    rows = ch06.make_synthetic_spam(97)
    train, val, test = ch06.random_split(rows, 0.7, 0.1)
    assert (len(train), len(val), len(test)) == (67, 9, 21)
    assert sorted(train + val + test) == sorted(rows)
    assert ch06.random_split(rows, 0.7, 0.1) == (train, val, test)


def test_tsv_and_csv_round_trip(tmp_path):
    """Rows written as SMS TSV (label<TAB>text) and as CSV (Label,Text header) read back unchanged."""
    rows = ch06.make_synthetic_spam(20) + [("ham", 'quotes " and, commas')]
    assert ch06.read_sms_tsv(ch06.write_sms_tsv(rows, tmp_path / "sms.tsv")) == rows
    assert ch06.read_csv(ch06.write_csv(rows, tmp_path / "train.csv")) == rows
    assert (tmp_path / "train.csv").read_text().splitlines()[0] == "Label,Text"


def test_synthetic_spam_is_deterministic_and_imbalanced(tmp_path):
    """make_synthetic_spam: same seed, same rows; 25 % spam by default, like the real set's imbalance."""
    rows = ch06.make_synthetic_spam(200, seed=7)
    assert rows == ch06.make_synthetic_spam(200, seed=7) != ch06.make_synthetic_spam(200, seed=8)
    assert sum(label == "spam" for label, _ in rows) == 50
    assert ch06.read_sms_tsv(ch06.write_synthetic_spam_tsv(tmp_path / "s.tsv", 200, seed=7)) == rows


# ---------------------------------------------------------------- SpamDataset

TEXTS = [("ham", "Ok lar... Joking wif u oni..."), ("spam", "WINNER!! You have won a prize"), ("ham", "Hi")]


def test_spam_dataset_pads_to_longest_when_max_length_is_none():
    """max_length=None: every item is as long as the longest encoded text, padded with 50256."""
    tok = gpt2_encoding()
    lengths = [len(tok.encode(text)) for _, text in TEXTS]
    dataset = ch06.SpamDataset(TEXTS, tok)
    assert dataset.max_length == max(lengths)
    for (_, text), (ids, _) in zip(TEXTS, dataset):
        assert ids.tolist() == tok.encode(text) + [PAD] * (max(lengths) - len(tok.encode(text)))


def test_spam_dataset_truncates_to_max_length():
    """max_length=4: long texts keep their first 4 ids, short ones are padded to 4."""
    tok = gpt2_encoding()
    dataset = ch06.SpamDataset(TEXTS, tok, max_length=4, pad_token_id=0)
    assert [ids.tolist() for ids, _ in dataset] == [
        tok.encode(TEXTS[0][1])[:4], tok.encode(TEXTS[1][1])[:4], tok.encode("Hi") + [0, 0, 0]]


def test_spam_dataset_items_are_tensors_with_numeric_labels(tmp_path):
    """Items are (long ids, long label), labels ham 0 / spam 1; a CSV path works like the book's file."""
    dataset = ch06.SpamDataset(ch06.write_csv(TEXTS, tmp_path / "t.csv"), gpt2_encoding())
    ids, label = dataset[1]
    assert ids.dtype == label.dtype == torch.long
    assert [int(dataset[i][1]) for i in range(len(dataset))] == [0, 1, 0]


# ---------------------------------------------------------------- head and freezing

def test_classification_head_outputs_num_classes(classifier):
    """The new out_head maps emb_dim to 2 classes, so logits are (B, T, 2)."""
    assert classifier(torch.zeros(3, 5, dtype=torch.long)).shape == (3, 5, 2)
    assert classifier.out_head.bias is not None


def test_freeze_leaves_only_head_last_block_and_final_norm(classifier):
    """The book's strategy: exactly out_head, the last transformer block and final_norm are trainable."""
    ch06.freeze_for_classification(classifier)
    last = f"trf_blocks.{len(classifier.trf_blocks) - 1}."
    trainable = {n for n, p in classifier.named_parameters() if p.requires_grad}
    expected = {n for n, _ in classifier.named_parameters() if n.startswith(("out_head.", last, "final_norm."))}
    assert trainable == expected and "trf_blocks.0.att.W_query.weight" not in trainable


def test_unfreeze_all_makes_every_parameter_trainable(classifier):
    """unfreeze_all undoes the freezing, for full fine-tuning."""
    ch06.unfreeze_all(ch06.freeze_for_classification(classifier))
    assert all(p.requires_grad for p in classifier.parameters())


# ---------------------------------------------------------------- loss and accuracy

def test_loss_uses_the_last_token_logits(classifier):
    """calc_loss_batch equals cross_entropy(model(x)[:, -1, :], y)."""
    x, y = torch.randint(0, 100, (4, 7)), torch.tensor([0, 1, 1, 0])
    expected = nn.functional.cross_entropy(classifier(x)[:, -1, :], y)
    torch.testing.assert_close(ch06.calc_loss_batch(x, y, classifier, "cpu"), expected)


def test_loss_loader_averages_first_batches(classifier):
    """calc_loss_loader(num_batches=2) is the mean of the first two batch losses."""
    x, y = torch.randint(0, 100, (12, 5)), torch.randint(0, 2, (12,))
    loader = DataLoader(list(zip(x, y)), batch_size=4)
    first_two = [ch06.calc_loss_batch(x[i:i + 4], y[i:i + 4], classifier, "cpu").item() for i in (0, 4)]
    assert ch06.calc_loss_loader(loader, classifier, "cpu", num_batches=2) == pytest.approx(sum(first_two) / 2)


def test_accuracy_matches_a_hand_count():
    """calc_accuracy_loader: predicted class = last token % 2; 3 of 5 labels agree -> 0.6; 2 of 3 in batch 1."""
    x = torch.tensor([[5, 1], [5, 2], [5, 3], [5, 4], [5, 6]])  # predictions 1, 0, 1, 0, 0
    y = torch.tensor([1, 1, 1, 0, 1])
    loader = DataLoader(list(zip(x, y)), batch_size=3)
    assert ch06.calc_accuracy_loader(loader, LastTokenOneHot(), "cpu") == pytest.approx(3 / 5)
    assert ch06.calc_accuracy_loader(loader, LastTokenOneHot(), "cpu", num_batches=1) == pytest.approx(2 / 3)


def test_evaluate_model_returns_to_train_mode(classifier):
    """evaluate_model computes both losses in eval mode and leaves the model in train mode."""
    loader = DataLoader(list(zip(torch.randint(0, 100, (4, 5)), torch.tensor([0, 1, 0, 1]))), batch_size=2)
    classifier.eval()
    train_loss, val_loss = ch06.evaluate_model(classifier, loader, loader, "cpu", eval_iter=1)
    assert train_loss == val_loss == pytest.approx(ch06.calc_loss_loader(loader, classifier, "cpu", 1))
    assert classifier.training


# ---------------------------------------------------------------- training smoke test

def _train_on_synthetic_spam(tiny_cfg, num_epochs=5):
    """Book recipe, shrunk: balanced synthetic set, 70/10/20 split, batch 8, AdamW, last-token loss."""
    tok = gpt2_encoding()
    train, val, _ = ch06.random_split(ch06.create_balanced_dataset(ch06.make_synthetic_spam(200)), 0.7, 0.1)
    torch.manual_seed(123)
    train_loader = DataLoader(ch06.SpamDataset(train, tok, max_length=24), batch_size=8, shuffle=True, drop_last=True)
    val_loader = DataLoader(ch06.SpamDataset(val, tok, max_length=24), batch_size=8)
    model = ch06.replace_head_for_classification(GPTModel({**tiny_cfg, "vocab_size": 50257, "context_length": 24}))
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.1)
    before = ch06.calc_loss_loader(train_loader, model, "cpu")
    result = ch06.train_classifier_simple(model, train_loader, val_loader, optimizer, "cpu", num_epochs, 4, 2)
    return before, ch06.calc_loss_loader(train_loader, model, "cpu"), result


def test_classifier_training_lowers_loss_deterministically(tiny_cfg, capsys, one_thread):
    """A tiny GPT classifier, 5 epochs x 8 steps on synthetic spam: loss falls 4x, same numbers twice."""
    before, after, (train_losses, val_losses, train_accs, val_accs, seen) = _train_on_synthetic_spam(tiny_cfg)
    assert after < 0.25 * before and val_accs[-1] >= 0.9
    assert seen == 5 * 8 * 8 and len(train_losses) == len(val_losses) == 10 and len(val_accs) == 5
    assert _train_on_synthetic_spam(tiny_cfg)[2] == (train_losses, val_losses, train_accs, val_accs, seen)
    assert "Training accuracy" in capsys.readouterr().out


# ---------------------------------------------------------------- classify_review

def _biased_classifier(tiny_cfg, favoured: int) -> GPTModel:
    model = ch06.replace_head_for_classification(GPTModel(tiny_cfg), 2, tiny_cfg["emb_dim"])
    with torch.no_grad():
        model.out_head.weight.zero_()
        model.out_head.bias.copy_(torch.eye(2)[favoured])
    return model


def test_classify_review_returns_spam_or_not_spam(tiny_cfg):
    """Argmax 1 -> "spam", argmax 0 -> "not spam"."""
    tok = gpt2_encoding()
    cfg = {**tiny_cfg, "vocab_size": 50257}
    assert ch06.classify_review("You won!", _biased_classifier(cfg, 1), tok, "cpu", max_length=8) == "spam"
    assert ch06.classify_review("See you", _biased_classifier(cfg, 0), tok, "cpu", max_length=8) == "not spam"


def test_classify_review_pads_and_truncates_to_context(tiny_cfg):
    """Inputs are padded to max_length with 50256, and cut to the context length (16) when longer."""
    model, seen = _biased_classifier({**tiny_cfg, "vocab_size": 50257}, 1), []
    model.register_forward_hook(lambda module, args, out: seen.append(args[0]))
    tok = gpt2_encoding()
    ch06.classify_review("Hi there", model, tok, "cpu", max_length=6)
    ch06.classify_review("word " * 40, model, tok, "cpu", max_length=100)
    assert seen[0].tolist() == [tok.encode("Hi there") + [PAD] * 4]
    assert seen[1].tolist() == [tok.encode("word " * 40)[:16]]


# ---------------------------------------------------------------- metrics

def test_metrics_on_a_hand_worked_example():
    """y_true 1,1,0,0,1 / y_pred 1,0,0,1,1: TP 2, FP 1, FN 1, TN 1 -> precision = recall = F1 = 2/3."""
    y_true, y_pred = [1, 1, 0, 0, 1], [1, 0, 0, 1, 1]
    assert ch06.precision_recall_f1(y_true, y_pred) == pytest.approx((2 / 3, 2 / 3, 2 / 3))
    assert ch06.confusion_matrix(y_true, y_pred) == [[1, 1], [1, 2]]


def test_metrics_are_zero_without_positives():
    """No predicted or true positives: every metric is 0.0 rather than a division by zero."""
    assert ch06.precision_recall_f1([0, 0], [0, 0]) == (0.0, 0.0, 0.0)


label_lists = st.integers(1, 30).flatmap(
    lambda n: st.tuples(st.lists(st.integers(0, 2), min_size=n, max_size=n),
                        st.lists(st.integers(0, 2), min_size=n, max_size=n)))


@given(label_lists)
def test_confusion_matrix_counts_every_pair(labels):
    """Cell (t, p) counts the examples with true label t predicted as p; the diagonal is the correct count."""
    y_true, y_pred = labels
    matrix = ch06.confusion_matrix(y_true, y_pred, num_classes=3)
    assert matrix == [[sum(a == t and b == p for a, b in zip(y_true, y_pred)) for p in range(3)] for t in range(3)]
    assert sum(matrix[i][i] for i in range(3)) == sum(a == b for a, b in zip(y_true, y_pred))


@given(label_lists)
def test_precision_recall_f1_match_the_confusion_matrix(labels):
    """For class 1: precision = TP / predicted 1s, recall = TP / true 1s, F1 their harmonic mean."""
    y_true, y_pred = labels
    tp, predicted, actual = sum(a == b == 1 for a, b in zip(y_true, y_pred)), y_pred.count(1), y_true.count(1)
    p, r = (tp / predicted if predicted else 0.0), (tp / actual if actual else 0.0)
    expected = (p, r, 2 * p * r / (p + r) if p + r else 0.0)
    assert ch06.precision_recall_f1(y_true, y_pred, positive=1) == pytest.approx(expected)


def test_predict_labels_feeds_the_metrics():
    """predict_labels gives (y_true, y_pred) over the whole loader, ready for the metrics."""
    x, y = torch.tensor([[5, 1], [5, 2], [5, 3]]), torch.tensor([1, 1, 0])
    loader = DataLoader(list(zip(x, y)), batch_size=2)
    assert ch06.predict_labels(loader, LastTokenOneHot(), "cpu") == ([1, 1, 0], [1, 0, 1])
