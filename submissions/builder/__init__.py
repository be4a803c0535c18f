"""The sample submissions: one spec module per assignment part (its correct samples, read from their committed
folders, and the copies made from them), shared helpers in core, the generated modules' source in snippets."""

from importlib import import_module

SPECS = {  # assignment -> its spec modules (the book-style notebook and its copies, then the other styles)
    "a1": ["a1", "a1_styles"],
    "a2": ["a2", "a2_styles"],
    "a3": ["a3", "a3_styles"],
    "a4": ["a4", "a4_styles"],
    "a5": ["a5_classification_lora", "a5_instruction", "a5_styles_classification_lora", "a5_styles_instruction"],
}


def samples(only=()):
    """Every bundled sample, or those whose assignment, student or assignment/student key is in `only`."""
    found = [sample for modules in SPECS.values() for name in modules
             for sample in import_module(f".{name}", __name__).SAMPLES]
    keys = [sample.key for sample in found]
    if len(set(keys)) != len(keys):
        raise ValueError(f"two samples share a folder: {sorted({k for k in keys if keys.count(k) > 1})}")
    unknown = [name for name in only if not any(name in (s.assignment, s.student, s.key) for s in found)]
    if unknown:
        raise ValueError(f"no sample is called {unknown}")
    return [s for s in found if not only or {s.assignment, s.student, s.key} & set(only)]
