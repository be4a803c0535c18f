"""a5 classification stubs: the chapter 6 functions with the book's signatures that compute nothing: a data set
whose items are zeros, the raw CSV row, or a constant; a loss of zero, the input batch, or a constant (one that
requires grad); an accuracy of zero, the data loader, or a constant; a label that is always "not spam", the
text itself, or always "spam"; a training loop that returns empty or constant results without training."""

SAMPLE = "a5/ada-classification-correct"

_DATASET = '''\
class SpamDataset(torch.utils.data.Dataset):
    def __init__(self, csv_file, tokenizer, max_length=None, pad_token_id=50256):
        import pandas as pd
        self.data = pd.read_csv(csv_file)
        self.max_length = max_length if max_length is not None else 1

    def __getitem__(self, index):
        return {item}

    def __len__(self):
        return len(self.data)
'''
_DATASET_ITEMS = {
    "zeros": "torch.zeros(self.max_length, dtype=torch.long), torch.tensor(0)",
    "input": "self.data.iloc[index][\"Text\"], self.data.iloc[index][\"Label\"]",
    "constant": "torch.full((self.max_length,), 7, dtype=torch.long), torch.tensor(1)",
}

# name -> (signature, {flavour: returned expression})
_FUNCTIONS = {
    "calc_loss_batch": ("input_batch, target_batch, model, device",
                        {"zeros": "torch.zeros(())", "input": "input_batch",
                         "constant": "torch.tensor(0.25, requires_grad=True)"}),
    "calc_accuracy_loader": ("data_loader, model, device, num_batches=None",
                             {"zeros": "0.0", "input": "data_loader", "constant": "0.25"}),
    "train_classifier_simple": ("model, train_loader, val_loader, optimizer, device, num_epochs, eval_freq, eval_iter",
                                {"zeros": "[], [], [], [], 0", "input": "model",
                                 "constant": "[0.25] * num_epochs, [0.25] * num_epochs, [0.5] * num_epochs, "
                                             "[0.5] * num_epochs, 8 * num_epochs"}),
    "classify_review": ("text, model, tokenizer, device, max_length=None, pad_token_id=50256",
                        {"zeros": "\"not spam\"", "input": "text", "constant": "\"spam\""}),
}


def _function(name: str, flavour: str) -> str:
    signature, returns = _FUNCTIONS[name]
    return f"def {name}({signature}):\n    return {returns[flavour]}\n"


STUBS = {"SpamDataset": {flavour: _DATASET.format(item=item) for flavour, item in _DATASET_ITEMS.items()},
         **{name: {flavour: _function(name, flavour) for flavour in ("zeros", "input", "constant")}
            for name in _FUNCTIONS}}
