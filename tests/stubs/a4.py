"""a4 stubs: chapter 5's functions with the book's signatures that compute nothing: a loss of tensor(0.) (or the
input batch, or a constant), a loader loss that is a constant, a training loop that returns empty or constant
lists without stepping, generate returning idx unchanged or with a constant token appended, load_weights_into_gpt
that loads nothing; and the exercises ada-correct attempts (train_model, generate's top_p, train_model_simple's
accumulation_steps), stubbed with the functions that carry them."""

SAMPLE = "a4/ada-correct"

_SIGNATURES = {
    "calc_loss_batch": "input_batch, target_batch, model, device",
    "calc_loss_loader": "data_loader, model, device, num_batches=None",
    "evaluate_model": "model, train_loader, val_loader, device, eval_iter",
    "train_model_simple": ("model, train_loader, val_loader, optimizer, device, num_epochs, eval_freq, "
                           "eval_iter, start_context, tokenizer, *, patience=None, accumulation_steps=1"),
    "generate": "model, idx, max_new_tokens, context_size, temperature=0.0, top_k=None, eos_id=None, top_p=None",
    "load_weights_into_gpt": "gpt, params",
    "perplexity": "loss",
    "train_model": ("model, train_loader, val_loader, optimizer, device, n_epochs, eval_freq, eval_iter, "
                    "start_context, tokenizer, warmup_steps, initial_lr=3e-05, min_lr=1e-6"),
}
_BODIES = {
    "calc_loss_batch": {"zeros": "return torch.tensor(0.0)",
                        "input": "return input_batch",
                        "constant": "return torch.tensor(2.5, requires_grad=True)"},
    "calc_loss_loader": {"zeros": "return 0.0",
                         "input": "return data_loader",
                         "constant": "return float('nan')"},
    "evaluate_model": {"zeros": "return 0.0, 0.0",
                       "input": "return train_loader, val_loader",
                       "constant": "model.eval()\n    model.train()\n    return 1.0, 1.0"},
    "train_model_simple": {"zeros": "return [0.0], [0.0], [0]",
                           "input": "return [], [], []",
                           "constant": "print('Ep 1 (Step 000000): Train loss 1.000, Val loss 1.000')\n"
                                       "    print('abcdefghijklmnopqrstuvwxyzabcdefghij')\n"
                                       "    return [1.0, 1.0], [1.0, 1.0], [16, 32]"},
    "generate": {"zeros": "return torch.cat([idx, torch.zeros(idx.shape[0], max_new_tokens).long()], 1)",
                 "input": "return idx",
                 "constant": "return torch.cat([idx, torch.full((idx.shape[0], max_new_tokens), 1)], 1)"},
    "load_weights_into_gpt": {"zeros": "with torch.no_grad():\n        for p in gpt.parameters():\n"
                                       "            p.zero_()",
                              "input": "return gpt",
                              "constant": "with torch.no_grad():\n        for p in gpt.parameters():\n"
                                          "            p.fill_(0.01)\n    return gpt"},
    "perplexity": {"zeros": "return 0.0", "input": "return loss", "constant": "return 1.0"},
    "train_model": {"zeros": "return [0.0], [0.0], [0], [0.0]",
                    "input": "return [], [], [], []",
                    "constant": "lr = optimizer.param_groups[0]['lr']\n    return [1.0], [1.0], [0], [lr]"},
}
# Exercises the sample attempts through another component's keyword: the stub of that component stands for them.
_CARRIED = {"nucleus sampling": "generate (its top_p keyword)",
            "gradient accumulation": "train_model_simple (its accumulation_steps keyword)"}


def _stub(name: str, body: str) -> str:
    return f"def {name}({_SIGNATURES[name]}):\n    {body}\n"


STUBS = {name: {flavour: _stub(name, body) for flavour, body in bodies.items()} for name, bodies in _BODIES.items()}
STUBS.update({component: {flavour: f"# {component}: stubbed with {carrier}\n" for flavour in _BODIES["generate"]}
              for component, carrier in _CARRIED.items()})
