"""Required components of assignment 1 exist, with the book's names and signatures (sections 2.3-2.6).

The other checks call these with keyword arguments, so the parameter names matter. A component
with another name is found through `GRADER_NAMES = {"SimpleTokenizerV1": "MyTokenizer"}`.

Run: pytest student_tests/a1 --submission assignments/a1/<you>/
"""

import pytest

from grader.checks import expect

# book name, section, kind, signature as the book writes it, parameters, defaults; the parameters in OPTIONAL
# (those the book's first printing lacks) may be left out, and when present need the book's default
REQUIRED = [
    ("SimpleTokenizerV1", "2.3", "class", "SimpleTokenizerV1(vocab)", ["vocab"], {}),
    ("SimpleTokenizerV2", "2.4", "class", "SimpleTokenizerV2(vocab)", ["vocab"], {}),
    ("GPTDatasetV1", "2.6", "class", "GPTDatasetV1(txt, tokenizer, max_length, stride)",
     ["txt", "tokenizer", "max_length", "stride"], {}),
    ("create_dataloader_v1", "2.6", "function",
     "create_dataloader_v1(txt, batch_size=4, max_length=256, stride=128, shuffle=True, drop_last=True, num_workers=0)",
     ["txt", "batch_size", "max_length", "stride", "shuffle", "drop_last", "num_workers"],
     {"batch_size": 4, "max_length": 256, "stride": 128, "shuffle": True, "drop_last": True, "num_workers": 0}),
]
OPTIONAL = {"create_dataloader_v1": ("drop_last", "num_workers")}  # the loader of the book's early versions


@pytest.mark.parametrize(("name", "kind", "signature", "params", "defaults"), [
    pytest.param(name, kind, signature, params, defaults, id=name,
                 marks=pytest.mark.check(component=name, section=section))
    for name, section, kind, signature, params, defaults in REQUIRED
])
def test_defined_with_the_book_signature(nb, name, kind, signature, params, defaults):
    """Defined with the book's signature (parameter names and defaults)."""
    component = nb.require(name)
    absent = [p for p in params if p not in component.params]
    missing = [p for p in absent if p not in OPTIONAL.get(name, ())]
    wrong = {k: component.defaults.get(k, "no default") for k, v in defaults.items()
             if k not in absent and component.defaults.get(k) != v}
    expect(component.kind == kind and not missing and not wrong,
           f"{component.display} should be the {kind} `{signature}`; found a {component.kind} taking "
           f"({', '.join(component.params)})" + (f", missing {missing}" if missing else "")
           + (f", defaults {wrong}" if wrong else "") + ". The checks pass arguments by these names.")
