"""The binder loads the book's weights into modules written in other styles, and their outputs equal the
book's; a module with a bug has no binding that does; what cannot be bound says why.

The student-style modules are in tests/student_styles.py; the truth is the reference module's output
on the same weights.
"""

import copy

import pytest
import torch
from torch import nn

from grader.bind import Tree, apply_reference_changes, bind, hints
from reference.appendix_e import LoRALayer
from reference.ch03 import (
    CausalAttention,
    GroupedQueryAttention,
    MultiHeadAttention,
    MultiHeadAttentionWrapper,
    SelfAttention_v1,
)
from reference.ch04 import FeedForward, GPTModel, LayerNorm, TransformerBlock
from tests import student_styles as styles

CFG = {"vocab_size": 40, "context_length": 8, "emb_dim": 12, "n_heads": 3, "n_layers": 2, "drop_rate": 0.0,
       "qkv_bias": False}


def _run(student: nn.Module, state: dict, inputs) -> torch.Tensor:
    missing, unexpected = student.load_state_dict(state, strict=False)
    buffers = {n for n, _ in student.named_buffers()}
    assert not unexpected and set(missing) <= buffers, (missing, unexpected)
    with torch.no_grad():
        return student.eval()(*inputs)


def first_match(reference: nn.Module, student: nn.Module, inputs, **options):
    """(binding, the first candidate whose output equals the reference's, or None)."""
    binding = bind(reference, Tree.of(student), **options)
    for candidate in binding.candidates:
        expected_model = copy.deepcopy(reference).eval()
        apply_reference_changes(expected_model, candidate)
        with torch.no_grad():
            expected = expected_model(*inputs)
        if torch.allclose(_run(student, candidate.state_dict, inputs), expected, atol=1e-5, rtol=1e-4):
            return binding, candidate
    return binding, None


def _mha(d_in=6, d_out=12, heads=3, bias=False):
    torch.manual_seed(0)
    init = dict(d_in=d_in, d_out=d_out, context_length=8, dropout=0.0, num_heads=heads, qkv_bias=bias)
    return init, MultiHeadAttention(**init).eval(), torch.rand(2, 5, d_in)


@pytest.mark.parametrize("style", [styles.GenericNamesReordered, styles.NanoAttention, styles.InterleavedQKV,
                                   styles.RawTransposed, styles.QAndFusedKV])
@pytest.mark.parametrize("bias", [False, True])
def test_multihead_attention_styles_bind_to_the_reference(style, bias):
    if style is styles.RawTransposed and bias:
        pytest.skip("this style has no query/key/value biases")
    init, reference, x = _mha(bias=bias)
    binding, match = first_match(reference, style(**init), [x], heads=init["num_heads"])
    assert match is not None, (binding.method, binding.problem, len(binding.candidates))


def test_book_names_bind_by_names_with_one_candidate():
    init, reference, x = _mha()
    binding, match = first_match(reference, MultiHeadAttention(**init), [x], heads=3)
    assert binding.method == "names" and len(binding.candidates) == 1 and match is not None


def test_generic_names_pin_the_roles_even_when_declared_in_another_order():
    init, reference, x = _mha()
    binding, match = first_match(reference, styles.GenericNamesReordered(**init), [x], heads=3)
    assert len(binding.candidates) == 1 and match is not None
    pairs = {student: book for student, book, _ in match.pairs}
    assert pairs["v_proj.weight"] == "W_value.weight" and pairs["o_proj.weight"] == "out_proj.weight"


def test_unnamed_raw_matrices_are_searched():
    init, reference, x = _mha(d_in=12)  # square: orientation unknown too
    binding, match = first_match(reference, styles.RawTransposed(**init), [x], heads=3)
    assert binding.method == "searched" and match is not None
    assert {s: b for s, b, _ in match.pairs}["m2"] == "W_query.weight"


def test_a_bug_has_no_matching_candidate():
    init, reference, x = _mha()
    binding, match = first_match(reference, styles.BuggyUnscaled(**init), [x], heads=3)
    assert binding.candidates and match is None


@pytest.mark.parametrize("tie", [False, True])
def test_nanogpt_binds_to_gpt_model(tie):
    torch.manual_seed(1)
    reference = GPTModel(CFG).eval()
    ids = torch.randint(0, CFG["vocab_size"], (2, 6))
    binding, match = first_match(reference, styles.NanoGPT(CFG, tie=tie), [ids], heads=CFG["n_heads"])
    assert match is not None, (binding.problem, len(binding.candidates))
    assert (("tie", "out_head.weight", "tok_emb.weight") in match.reference_changes) == tie


def test_generic_gpt_with_flat_raw_blocks_binds():
    torch.manual_seed(2)
    cfg = {**CFG, "qkv_bias": False}
    reference = GPTModel(cfg).eval()
    with torch.no_grad():  # non-trivial norms, so a swapped scale/shift shows
        for name, p in reference.named_parameters():
            if "norm" in name:
                p.uniform_(-1, 1)
    ids = torch.randint(0, cfg["vocab_size"], (2, 6))
    binding, match = first_match(reference, styles.GenericGPT(cfg), [ids], heads=cfg["n_heads"])
    assert match is not None, (binding.problem, len(binding.candidates))


def test_nano_block_with_mlp_declared_first_binds():
    torch.manual_seed(3)
    reference = TransformerBlock(CFG).eval()
    with torch.no_grad():
        for name, p in reference.named_parameters():
            if "norm" in name:
                p.uniform_(-1, 1)
    x = torch.randn(2, 5, CFG["emb_dim"])
    binding, match = first_match(reference, styles.NanoBlock(CFG), [x], heads=CFG["n_heads"])
    assert match is not None and len(binding.candidates) <= 2


def test_layer_norm_gamma_beta_and_feed_forward_sequential():
    torch.manual_seed(4)
    norm = LayerNorm(7)
    with torch.no_grad():
        norm.scale.uniform_(0.5, 1.5)
        norm.shift.uniform_(-1, 1)
    assert first_match(norm, styles.GammaBetaNorm(7), [torch.randn(3, 7)])[1] is not None
    ff = FeedForward(CFG)
    assert first_match(ff, styles.functional_gelu_ff(CFG["emb_dim"]), [torch.randn(2, 3, 12)])[1] is not None


def test_self_attention_v1_written_with_linear_layers():
    torch.manual_seed(5)
    reference = SelfAttention_v1(3, 5)
    binding, match = first_match(reference, styles.SelfAttentionLinear(3, 5), [torch.rand(4, 3)])
    assert match is not None and binding.method == "names"


def test_lora_with_linear_factors():
    torch.manual_seed(6)
    reference = LoRALayer(6, 4, rank=2, alpha=3, scaling="alpha/rank")
    with torch.no_grad():
        reference.B.normal_()
    binding, match = first_match(reference, styles.LinearLoRA(6, 4, rank=2, alpha=3), [torch.randn(3, 6)])
    assert match is not None, binding.problem


def test_grouped_query_attention_with_fused_kv():
    torch.manual_seed(7)
    init = dict(d_in=8, d_out=8, dropout=0.0, num_heads=4, num_kv_groups=2)
    reference = GroupedQueryAttention(**init).eval()
    binding, match = first_match(reference, styles.GQAFusedKV(**init), [torch.rand(2, 5, 8)], heads=4)
    assert match is not None, (binding.problem, len(binding.candidates))


def test_wrapper_heads_bind_head_by_head():
    torch.manual_seed(8)
    init = dict(d_in=4, d_out=3, context_length=6, dropout=0.0, num_heads=2)
    reference = MultiHeadAttentionWrapper(**init).eval()
    student = MultiHeadAttentionWrapper(**init)
    binding, match = first_match(reference, student, [torch.rand(2, 5, 4)])
    assert match is not None and binding.method == "names"


def test_blocks_registered_as_numbered_attributes_and_a_broadcast_position_table_bind():
    torch.manual_seed(9)
    reference = GPTModel(CFG).eval()
    with torch.no_grad():
        reference.pos_emb.weight.normal_()
    ids = torch.randint(0, CFG["vocab_size"], (2, 6))
    binding, match = first_match(reference, styles.AttributeBlocksGPT(CFG), [ids], heads=CFG["n_heads"])
    assert match is not None, (binding.problem, len(binding.candidates))
    assert ("pos", "pos_emb.weight", "as (1, 8, 12)") in match.pairs


def test_wrapper_heads_registered_one_by_one_bind_and_one_head_repeated_is_the_students_fault():
    torch.manual_seed(10)
    init = dict(d_in=4, d_out=3, context_length=6, dropout=0.0, num_heads=2)
    reference, x = MultiHeadAttentionWrapper(**init).eval(), torch.rand(2, 5, 4)
    heads = [CausalAttention(4, 3, 6, 0.0) for _ in range(2)]

    class NamedHeads(nn.Module):
        def __init__(self, heads):
            super().__init__()
            for i, head in enumerate(heads):
                self.add_module(f"head_{i}", head)

        def forward(self, x):
            return torch.cat([getattr(self, f"head_{i}")(x) for i in range(2)], dim=-1)

    binding, match = first_match(reference, NamedHeads(heads), [x])
    assert match is not None, binding.problem
    shared = bind(reference, Tree.of(NamedHeads([heads[0]] * 2)))
    assert not shared.candidates and shared.fault and "`head_0` and `head_1` are the same object" in shared.problem
    listed = MultiHeadAttentionWrapper(**init)
    listed.heads = nn.ModuleList([listed.heads[0]] * 2)
    shared = bind(reference, Tree.of(listed))
    assert shared.fault and "`heads` holds one module several times" in shared.problem
    assert not bind(reference, Tree.of(MultiHeadAttentionWrapper(**init))).fault


def test_a_missing_projection_cannot_be_bound_and_says_why():
    init, reference, _ = _mha()

    class NoOutProj(nn.Module):
        def __init__(self):
            super().__init__()
            self.W_query, self.W_key, self.W_value = (nn.Linear(6, 12, bias=False) for _ in range(3))

    binding = bind(reference, Tree.of(NoOutProj()), heads=3)
    assert binding.method == "none" and not binding.candidates and "could not match" in binding.problem


def test_names_hint_roles_in_their_container():
    assert hints("attn.c_proj") == {"o"} and hints("mlp.c_proj") == {"fc2"}
    assert hints("transformer.h.0.ln_1") == {"norm1"} and "qkv" in hints("attn.c_attn")
    assert hints("W_query") == {"q"} and hints("my_value_layer") == {"v"}
