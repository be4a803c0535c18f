"""A pretrained model that cannot be loaded offline is rebuilt small by the notebook's own code.

The notebook below follows chapter 6's pattern: its weight download fails here (no network, no
weights), so `model` is never built and the cells that replace the head, freeze layers and make the
optimizer fail too. The stand-in probe rebuilds the model with the notebook's constructor and a small
copy of its config, replays those statements, and publishes `model` and `optimizer`.
"""

import nbformat
import pytest

from grader.execute import KernelSession, SessionOptions
from grader.notebook import Notebook
from tests.notebooks import write_notebook

OPTIONS = SessionOptions(cell_timeout=30, grace=1, max_restarts=0)
CELLS = [
    "import torch\nfrom reference.ch04 import GPTModel\n"
    'BASE_CONFIG = {"vocab_size": 50257, "context_length": 1024, "emb_dim": 768, "n_heads": 12, "n_layers": 12,'
    ' "drop_rate": 0.0, "qkv_bias": True}',
    "from gpt_download_that_needs_the_network import download_and_load_gpt2\n"
    'settings, params = download_and_load_gpt2(model_size="124M", models_dir="gpt2")\n'
    "model = GPTModel(BASE_CONFIG)\nload_weights_into_gpt(model, params)\nmodel.eval();",
    "for param in model.parameters():\n    param.requires_grad = False",
    "torch.manual_seed(123)\nnum_classes = 2\n"
    'model.out_head = torch.nn.Linear(in_features=BASE_CONFIG["emb_dim"], out_features=num_classes)',
    "for param in model.trf_blocks[-1].parameters():\n    param.requires_grad = True\n"
    "for param in model.final_norm.parameters():\n    param.requires_grad = True",
    "def train_classifier_simple(model, *args):\n    raise RuntimeError('training must not be replayed')",
    "optimizer = torch.optim.AdamW(model.parameters(), lr=5e-5)\n"
    "losses = train_classifier_simple(model, optimizer)",
]


@pytest.fixture(scope="module")
def notebook(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("standin")
    path = write_notebook(workdir / "assignment5_classification.ipynb", *CELLS)
    with KernelSession(nbformat.read(path, as_version=4), workdir, options=OPTIONS) as session:
        execution = session.run_all()
        yield Notebook(session, execution, original=nbformat.read(path, as_version=4))


def test_the_model_is_rebuilt_small_and_adapted_by_the_notebooks_statements(notebook):
    data = notebook.stand_in_model()
    assert data["status"] == "stand-in" and data["cell"] == 1 and data["config"]["emb_dim"] == 16
    assert {"model", "optimizer"} <= set(data["published"])
    replayed = [r["source"] for r in data["replayed"]]
    assert any("out_head" in s for s in replayed) and not any("train_classifier_simple(" in s for s in replayed)
    info = notebook.run("generic.global_type", {"name": "model"})
    assert info["type"] == "GPTModel"
    [note] = [n for n in notebook.notes if "stand-in" in n]  # beside the note that cell 1 imports `reference`
    assert "cell 2" in note


def test_the_stand_in_has_the_notebooks_head_and_freezing(notebook):
    notebook.stand_in_model()
    tree = notebook.run("standin.summary", {})
    assert tree["head"] == [2, 16]  # Linear(emb_dim of the small config, num_classes)
    parts = {name.split(".")[0] + ("." + name.split(".")[1] if name.startswith("trf_blocks") else "")
             for name in tree["trainable"]}
    assert parts == {"trf_blocks.1", "final_norm", "out_head"}  # the last block, the final norm, the new head
    assert tree["optimizer_params"] == tree["parameters"]


def test_a_notebook_with_its_own_model_is_left_alone(tmp_path):
    path = write_notebook(tmp_path / "a.ipynb", "import torch\nmodel = torch.nn.Linear(2, 2)")
    with KernelSession(nbformat.read(path, as_version=4), tmp_path, options=OPTIONS) as session:
        nb = Notebook(session, session.run_all(), original=nbformat.read(path, as_version=4))
        assert nb.stand_in_model()["status"] == "own" and not nb.notes


# A nanoGPT-style notebook: a dataclass config with GPT-2's key names, a nested module tree (transformer.h,
# lm_head tied to wte), the creation chained with .to(device), the head replaced on `lm_head`.
NANOGPT_CELLS = [
    ("import dataclasses\nimport torch\nfrom torch import nn\n\n"
     "@dataclasses.dataclass\nclass GPTConfig:\n    block_size: int = 1024\n    vocab_size: int = 50257\n"
     "    n_layer: int = 12\n    n_head: int = 12\n    n_embd: int = 768\n    dropout: float = 0.1\n\n"
     "class Block(nn.Module):\n    def __init__(self, config):\n        super().__init__()\n"
     "        assert config.n_embd % config.n_head == 0\n        self.ln_1 = nn.LayerNorm(config.n_embd)\n"
     "        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd)\n\n"
     "class GPT(nn.Module):\n    def __init__(self, config):\n        super().__init__()\n"
     "        self.config = config\n        self.transformer = nn.ModuleDict(dict(\n"
     "            wte=nn.Embedding(config.vocab_size, config.n_embd),\n"
     "            wpe=nn.Embedding(config.block_size, config.n_embd),\n"
     "            h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]), ln_f=nn.LayerNorm(config.n_embd)))\n"
     "        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)\n"
     "        self.transformer.wte.weight = self.lm_head.weight\n\n"
     "config = GPTConfig()\ndevice = 'cpu'"),
    ("state = torch.load('gpt2-124M-nanogpt.pth', map_location='cpu')  # not in the grader's copy\n"
     "model = GPT(config).to(device)\nmodel.load_state_dict(state)"),
    ("model.requires_grad_(False)\nmodel.lm_head = nn.Linear(config.n_embd, 2)\n"
     "model.transformer.h[-1].requires_grad_(True)\nmodel.transformer.ln_f.requires_grad_(True)"),
    "optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)",
]


def test_a_nanogpt_style_config_object_is_shrunk_and_the_chain_applied(tmp_path):
    path = write_notebook(tmp_path / "assignment5_classification.ipynb", *NANOGPT_CELLS)
    with KernelSession(nbformat.read(path, as_version=4), tmp_path, options=OPTIONS) as session:
        nb = Notebook(session, session.run_all(), original=nbformat.read(path, as_version=4))
        data = nb.stand_in_model()
        assert data["status"] == "stand-in" and data["config_name"] == "config", data
        assert data["config"]["n_embd"] == 16 and data["config"]["emb_dim"] == 16 and data["config"]["dropout"] == 0.0
        assert not [r for r in data["replayed"] if r["error"]], data["replayed"]
        summary = nb.run("standin.summary", {})
        assert summary["model"] == "GPT" and summary["head"] == [2, 16]
        assert {n.rsplit(".", 1)[0] for n in summary["trainable"]} == \
            {"transformer.h.1.ln_1", "transformer.h.1.c_attn", "transformer.ln_f", "lm_head"}
        assert summary["optimizer_params"] == summary["parameters"]
        assert "n_embd" not in nb.notes[0] and "emb_dim=16" in nb.notes[0]


def test_a_width_written_as_a_number_is_kept_and_only_the_depth_shrinks(tmp_path):
    """Chapter 6 writes the head as nn.Linear(in_features=768, ...): a 16-wide stand-in would not fit it."""
    cells = [CELLS[0].replace('"emb_dim": 768', '"emb_dim": 64').replace('"n_heads": 12', '"n_heads": 4'),
             CELLS[1], "for param in model.parameters():\n    param.requires_grad = False",
             "num_classes = 2\nmodel.out_head = torch.nn.Linear(in_features=64, out_features=num_classes)"]
    path = write_notebook(tmp_path / "assignment5_classification.ipynb", *cells)
    with KernelSession(nbformat.read(path, as_version=4), tmp_path, options=OPTIONS) as session:
        nb = Notebook(session, session.run_all(), original=nbformat.read(path, as_version=4))
        data = nb.stand_in_model()
        assert data["status"] == "stand-in" and not [r for r in data["replayed"] if r["error"]], data
        assert (data["config"]["emb_dim"], data["config"]["n_heads"], data["config"]["n_layers"]) == (64, 4, 2)
        assert nb.run("standin.summary", {})["head"] == [2, 64]
