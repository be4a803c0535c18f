"""Bind the book's weights to a student's module by what each tensor is for, not by its name.

Both modules are cut into *units*, the pieces one role of the book is made of: a projection
(an `nn.Linear`, a GPT-2 `Conv1D`, or a raw matrix with an optional bias vector), an embedding
table, or a norm (scale and shift). A unit sits in a *scope*: the block or head of a repeated
container (`trf_blocks.3`, nanoGPT's `transformer.h.3`), or the top of the module. It gets
*role hints* from its names (grader/aliases.toml: the book's names, GPT-2/nanoGPT's, generic
ones; GRADER_PARAMS adds a student's own).

The book's units are matched to the student's in the same scope by kind and shape, a fused
student projection (`c_attn`, `qkv`, `kv`) standing for two or three of the book's, stacked
`[q; k; v]` or interleaved per head. A unit whose name says its role is pinned to it; where
names leave a match open (same-shape projections, two norms, a square raw matrix whose
orientation is unknown) every assignment is a candidate, up to `MAX_CANDIDATES`. Blocks share
one assignment. Each candidate is a state dict in the student's names; the caller runs them all
and keeps the one whose output equals the reference's (grader.notebook.Notebook.forward).
"""

import itertools
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import torch
from torch import nn

MAX_CANDIDATES = 64
ATT_ROLES = frozenset({"q", "k", "v", "o", "qkv", "kv"})
FF_ROLES = frozenset({"fc1", "fc2"})
LORA_ROLES = frozenset({"lora_a", "lora_b"})
CATEGORIES = (frozenset({"tok_emb", "pos_emb"}), frozenset({"norm1", "norm2", "final_norm"}), ATT_ROLES, FF_ROLES,
              LORA_ROLES, frozenset({"out_head"}), frozenset({"base"}))
# The book's own parts, by the key of their unit (owner path, or the parameter name of a raw tensor).
BOOK_ROLES = ((r"(^|\.)tok_emb$", "tok_emb"), (r"(^|\.)pos_emb$", "pos_emb"), (r"(^|\.)final_norm$", "final_norm"),
              (r"(^|\.)out_head$", "out_head"), (r"(^|\.)norm1$", "norm1"), (r"(^|\.)norm2$", "norm2"),
              (r"(^|\.)W_query$", "q"), (r"(^|\.)W_key$", "k"), (r"(^|\.)W_value$", "v"), (r"(^|\.)out_proj$", "o"),
              (r"(^|\.)layers\.0$", "fc1"), (r"(^|\.)layers\.2$", "fc2"), (r"(^|\.)A$", "lora_a"),
              (r"(^|\.)B$", "lora_b"), (r"(^|\.)linear$", "base"))
CONTAINER_LEVELS = {"trf_blocks": "blocks", "heads": "heads"}  # the book's repeated containers


# ---------------------------------------------------------------- names

@lru_cache(maxsize=1)
def aliases() -> dict[str, dict[str, frozenset[str]]]:
    """aliases.toml as {section: {role: names}}."""
    data = tomllib.loads(Path(__file__).with_name("aliases.toml").read_text(encoding="utf-8"))
    return {section: {role: frozenset(n.lower() for n in names) for role, names in table.items()}
            for section, table in data.items()}


def _words(token: str) -> list[str]:
    return [w for w in re.split(r"[_\d]+|(?<=[a-z])(?=[A-Z])", token) if w]


def _roles_of(token: str, table: Mapping[str, frozenset[str]]) -> set[str]:
    """Roles a token names: by the whole token, else by its pieces ("my_q_proj" -> "q")."""
    whole = {role for role, names in table.items() if token.lower() in names}
    if whole:
        return whole
    pieces = {w.lower() for w in _words(token)}
    return {role for role, names in table.items() if pieces & names}


def hints(path: str) -> frozenset[str]:
    """The unit roles a student's path names, narrowed by the containers it names (att, ff, lora)."""
    tokens = [t for t in path.split(".") if t and not t.isdigit()]
    if not tokens:
        return frozenset()
    containers = set().union(*(_roles_of(t, aliases()["containers"]) for t in tokens[:-1])) if tokens[:-1] else set()
    roles = _roles_of(tokens[-1], aliases()["units"])
    if not roles:  # e.g. "attn.weight": the container is the unit
        roles = set().union(*(_roles_of(t, aliases()["units"]) for t in tokens[:-1])) if tokens[:-1] else set()
    if "att" in containers and "ff" not in containers:
        roles -= FF_ROLES
    if "ff" in containers and "att" not in containers:
        roles -= ATT_ROLES
    if "lora" not in containers and roles - LORA_ROLES:
        roles -= LORA_ROLES
    return frozenset(roles)


def book_role(key: str) -> str | None:
    return next((role for pattern, role in BOOK_ROLES if re.search(pattern, key)), None)


def _category(role: str) -> frozenset[str]:
    return next((c for c in CATEGORIES if role in c), frozenset({role}))


def _part_role(name: str, section: str) -> bool:
    return bool(_roles_of(name, {section: aliases()["parts"][section]}))


# ---------------------------------------------------------------- the module tree

@dataclass(frozen=True)
class Param:
    name: str
    shape: tuple[int, ...]
    owner: str
    leaf: str


@dataclass(frozen=True)
class Tree:
    """A module as kernel_side.describe_module describes it."""

    params: tuple[Param, ...]
    kinds: Mapping[str, str]  # module path -> linear | embedding | layernorm | conv1d | torch_mha | other
    types: Mapping[str, str]  # module path -> class name
    ties: Mapping[str, str]  # parameter name -> the earlier name it shares a tensor with

    @classmethod
    def from_description(cls, data: Mapping) -> "Tree":
        params = tuple(Param(p["name"], tuple(p["shape"]), p["owner"], p["leaf"]) for p in data["params"])
        return cls(params, {m["path"]: m["kind"] for m in data["modules"]},
                   {m["path"]: m["type"] for m in data["modules"]}, dict(data.get("ties", {})))

    @classmethod
    def of(cls, module: nn.Module) -> "Tree":
        from grader import kernel_side

        return cls.from_description(kernel_side.describe_module(module))

    def children(self, path: str) -> list[str]:
        prefix = f"{path}." if path else ""
        return [p[len(prefix):] for p in self.kinds if p.startswith(prefix) and p != path
                and "." not in p[len(prefix):]]

    def params_under(self, path: str) -> list[Param]:
        return [p for p in self.params if p.owner == path or p.owner.startswith(f"{path}.")]


# ---------------------------------------------------------------- units

@dataclass(frozen=True)
class Unit:
    """One role's tensors: kind "proj" (w: matrix, b: bias), "table" (w) or "norm" (w: scale, b: shift)."""

    kind: str
    key: str  # owner path, or the parameter name of a raw tensor
    w: str | None
    b: str | None
    shape: tuple[int, ...]  # w's shape as stored
    layouts: tuple[str, ...]  # proj: "out_in" (nn.Linear), "in_out" (x @ W), both for a raw matrix
    scope: tuple = ()  # (level, index) of a repeated container, or ()
    local: str = ""  # key without the scope's prefix: the same in every block
    order: int = 0
    raw: bool = False
    tied_to: str | None = None  # a head sharing its weight with this parameter
    stored: tuple[int, ...] = ()  # a table kept with leading size-1 dimensions, e.g. (1, ctx, emb): its shape

    def logical(self, layout: str) -> tuple[int, int]:
        """(in, out) of a projection stored in `layout`."""
        return (self.shape[1], self.shape[0]) if layout == "out_in" else (self.shape[0], self.shape[1])


def _pair_bias(matrices: list[Param], vectors: list[Param]) -> dict[str, Param]:
    """Raw bias vectors paired with raw matrices by name ("W_q" / "b_q") or, for one matrix, by length."""
    paired = {}
    for vector in vectors:
        stem = re.sub(r"^(b|bias)_?|_?(b|bias)$", "", vector.leaf, flags=re.IGNORECASE).lower()
        match = [m for m in matrices if stem and re.sub(r"^(w|weight)_?|_?(w|weight)$", "", m.leaf,
                                                          flags=re.IGNORECASE).lower() == stem]
        if not match and len(matrices) == 1 and vector.shape[0] in matrices[0].shape:
            match = matrices
        if len(match) == 1 and match[0].name not in paired:
            paired[match[0].name] = vector
    return paired


NORM_WORDS = (("gamma", "beta"), ("scale", "shift"), ("weight", "bias"), ("gain", "bias"), ("alpha", "beta"),
              ("g", "b"), ("w", "b"))


def _norm_pairs(vectors: list[Param]) -> list[tuple[Param, Param]]:
    """Raw (scale, shift) vectors of one owner paired by name: "g2"/"b2", "ln1_gamma"/"ln1_beta", "norm_weight"/
    "norm_bias"."""
    by_leaf = {v.leaf.lower(): v for v in vectors}
    pairs, used = [], set()
    for vector in vectors:
        for scale, shift in NORM_WORDS:
            partner = re.sub(rf"(?<![a-z]){scale}(?![a-z])", shift, vector.leaf.lower())
            match = by_leaf.get(partner)
            if partner != vector.leaf.lower() and match is not None and match.shape == vector.shape \
                    and not {vector.name, match.name} & used:
                pairs.append((vector, match))
                used |= {vector.name, match.name}
                break
    return pairs


def _module_units(tree: Tree, owner: str, params: list[Param], order: int) -> list[Unit]:
    kind = tree.kinds.get(owner, "other")
    by_leaf = {p.leaf: p for p in params}
    if kind in ("linear", "conv1d", "torch_mha") and params:
        w = by_leaf.get("weight") or by_leaf.get("in_proj_weight")
        b = by_leaf.get("bias") or by_leaf.get("in_proj_bias")
        if w is not None and len(w.shape) == 2:
            layout = ("in_out",) if kind == "conv1d" else ("out_in",)
            return [Unit("proj", owner, w.name, b.name if b else None, w.shape, layout, order=order)]
    if kind == "embedding" and "weight" in by_leaf:
        return [Unit("table", owner, by_leaf["weight"].name, None, by_leaf["weight"].shape, (), order=order)]
    if kind == "layernorm":
        w, b = by_leaf.get("weight"), by_leaf.get("bias")
        if w is not None:
            return [Unit("norm", owner, w.name, b.name if b else None, w.shape, (), order=order)]
    return _raw_units(owner, params, order)


def _raw_units(owner: str, params: list[Param], order: int) -> list[Unit]:
    """Units of a module of the student's own: norms (pairs of vectors), raw matrices with their biases."""
    vectors = [p for p in params if len(p.shape) == 1]
    matrices = [p for p in params if len(p.shape) == 2]
    others = [p for p in params if len(p.shape) not in (1, 2)]
    units = [_other_unit(p, order) for p in others]
    if not matrices and len(vectors) <= 2 and len({v.shape for v in vectors}) == 1:
        scale, *rest = vectors
        shift = rest[0] if rest else None
        if shift is not None and _part_role(scale.leaf, "shift") and not _part_role(shift.leaf, "shift"):
            scale, shift = shift, scale
        return units + [Unit("norm", owner, scale.name, shift.name if shift else None, scale.shape, (), order=order,
                             raw=True)]
    for scale, shift in _norm_pairs(vectors):
        units.append(Unit("norm", scale.name, scale.name, shift.name, scale.shape, (), order=order, raw=True))
        vectors = [v for v in vectors if v not in (scale, shift)]
    paired = _pair_bias(matrices, vectors)
    for i, m in enumerate(matrices):
        bias = paired.get(m.name)
        units.append(Unit("proj", m.name, m.name, bias.name if bias else None, m.shape, ("in_out", "out_in"),
                          order=order + i, raw=True))
    taken = {u.b for u in units} | {u.w for u in units}
    units += [Unit("vector", v.name, None, v.name, v.shape, (), order=order + len(matrices) + i, raw=True)
              for i, v in enumerate(vectors) if v.name not in taken]
    return units


def squeezed_shape(shape) -> tuple[int, ...]:
    """`shape` without the leading size-1 dimensions beyond two: (1, context_length, emb_dim) -> its table's shape."""
    shape = tuple(shape)
    while len(shape) > 2 and shape[0] == 1:
        shape = shape[1:]
    return shape


def _other_unit(param: Param, order: int) -> Unit:
    """A parameter of neither 1 nor 2 dimensions: a table when it is one behind leading size-1 dimensions (a position
    table kept as (1, context_length, emb_dim) to broadcast over the batch), else a unit nothing matches."""
    squeezed = squeezed_shape(param.shape)
    if len(squeezed) == 2:
        return Unit("table", param.name, param.name, None, squeezed, (), order=order, raw=True, stored=param.shape)
    return Unit("other", param.name, param.name, None, param.shape, (), order=order)


def units_of(tree: Tree) -> list[Unit]:
    """Every unit of a tree, in registration order (tied heads included, pointing at their source)."""
    units, order = [], 0
    for owner in tree.kinds:
        params = [p for p in tree.params if p.owner == owner]
        if params:
            made = _module_units(tree, owner, params, order)
            units += made
            order += len(made)
    for alias, source in tree.ties.items():
        owner = alias.rpartition(".")[0]
        shape = next(p.shape for p in tree.params if p.name == source)
        kind = tree.kinds.get(owner, "other")
        if len(shape) != 2:
            continue
        if kind == "embedding":
            units.append(Unit("table", owner, alias, None, shape, (), order=order, tied_to=source))
        else:
            layouts = ("out_in",) if kind == "linear" else ("in_out",) if kind == "conv1d" else ("in_out", "out_in")
            units.append(Unit("proj", owner if kind != "other" else alias, alias, None, shape, layouts, order=order,
                              raw=kind == "other", tied_to=source))
        order += 1
    return units


# ---------------------------------------------------------------- scopes (blocks, heads)

INDEXED = re.compile(r"^(.*?)(\d+)$")  # a child named with a prefix and an index: block0, head_1, h2


def _same_modules(tree: Tree, members: list[str]) -> bool:
    """Whether modules are of one type and hold parameters of the same shapes (some)."""
    shapes = [sorted(p.shape for p in tree.params_under(m)) for m in members]
    return bool(shapes[0]) and len({tree.types[m] for m in members}) == 1 and all(s == shapes[0] for s in shapes)


def _repeated(tree: Tree) -> dict[str, tuple[str, ...]]:
    """Repeated modules of one type with the same parameter shapes, {group: member paths in index order}: a
    container's children "0".."n-1" (ModuleList, Sequential; the group is its path), or siblings made of
    submodules and named with one prefix and the indices 0..n-1 or 1..n (`setattr(self, f"block{i}", ...)`; the
    group is "<parent>.<prefix>*"; two norms `norm1`, `norm2` are roles, not repeats)."""
    found = {}
    for path in tree.kinds:
        kids = tree.children(path)
        full = lambda kid: f"{path}.{kid}" if path else kid  # noqa: E731 - one expression, used twice
        if kids and all(k.isdigit() for k in kids) and sorted(map(int, kids)) == list(range(len(kids))):
            members = [full(k) for k in sorted(kids, key=int)]
            if _same_modules(tree, members):
                found[path] = tuple(members)
            continue
        by_prefix = {}
        for kid in kids:
            if (match := INDEXED.match(kid)) and match[1] and not match[1][-1].isdigit():
                by_prefix.setdefault(match[1], {})[int(match[2])] = kid
        for prefix, indexed in by_prefix.items():
            first = min(indexed)
            if first in (0, 1) and sorted(indexed) == list(range(first, first + len(indexed))):
                members = [full(indexed[i]) for i in sorted(indexed)]
                if all(tree.children(m) for m in members) and _same_modules(tree, members):
                    found[full(prefix + "*")] = tuple(members)
    return found


def _book_levels(tree: Tree) -> dict[str, tuple[str, tuple[str, ...]]]:
    return {path: (CONTAINER_LEVELS.get(path.rpartition(".")[2], path), members)
            for path, members in _repeated(tree).items()}


def _student_levels(tree: Tree, book: dict[str, tuple[str, tuple[str, ...]]],
                    book_tree: Tree) -> dict[str, tuple[str, tuple[str, ...]]]:
    """For each of the book's repeated containers, the student's group with as many members of the same parameter
    count (the largest such)."""
    found = {}
    candidates = _repeated(tree)
    size_of = lambda t, path: sum(torch.Size(p.shape).numel() for p in t.params_under(path))  # noqa: E731
    for book_path, (level, book_members) in book.items():
        size = size_of(book_tree, book_members[0])
        best = [path for path, members in candidates.items()
                if len(members) == len(book_members) and path not in found
                and abs(size_of(tree, members[0]) - size) <= size // 4]
        if best:
            found[best[0]] = (level, candidates[best[0]])
    return found


def _scoped(units: list[Unit], levels: dict[str, tuple[str, tuple[str, ...]]]) -> list[Unit]:
    scoped = []
    for unit in units:
        scope, local = (), unit.key
        for level, members in levels.values():
            index = next((i for i, m in enumerate(members) if unit.key == m or unit.key.startswith(f"{m}.")), None)
            if index is not None:
                scope, local = (level, index), unit.key[len(members[index]) + 1:]
                break
        scoped.append(replace(unit, scope=scope, local=local or unit.key))
    return scoped


def shared_repeats(tree: Tree) -> str | None:
    """A student's fault the tree shows: one module registered as several repeated ones (`[Block(cfg)] * n`, which
    repeats one object), so the "different" blocks or heads share every weight; None when there is none."""
    for alias, source in tree.ties.items():
        a, b = alias.split("."), source.split(".")
        apart = [i for i, (x, y) in enumerate(zip(a, b)) if x != y]
        if len(a) == len(b) and len(apart) == 1 and INDEXED.match(a[apart[0]]) and INDEXED.match(b[apart[0]]):
            container = ".".join(a[:apart[0]]) or "your module"
            return (f"`{container}` holds one module several times (`{'.'.join(b[:apart[0] + 1])}` and "
                    f"`{'.'.join(a[:apart[0] + 1])}` are the same object, as `[Module(...)] * n` makes them), so "
                    f"its repeated blocks or heads share every weight; build a new module for each, e.g. "
                    f"`nn.ModuleList([Module(...) for _ in range(n)])`")
    return None


# ---------------------------------------------------------------- matching

@dataclass(frozen=True)
class Fit:
    """How one book unit fills (part of) one student unit."""

    student: Unit
    layout: str = ""  # the student's storage of a projection
    part: int = 0  # index among the fused parts
    parts: int = 1  # 1, or 2/3 for a fused projection
    interleaved: bool = False  # fused per head (q, k, v of head 0, then head 1...) instead of stacked
    swap: bool = False  # a norm whose scale and shift are the other way round
    score: int = 0


@dataclass(frozen=True)
class Candidate:
    """One way to load the book's weights into the student's module."""

    state_dict: dict
    pairs: tuple[tuple[str, str, str], ...]  # (student parameter, book parameter(s), how)
    reference_changes: tuple[tuple[str, str], ...] = ()  # ("zero", book param) / ("tie", book param, source)
    notes: tuple[str, ...] = ()
    score: int = 0


@dataclass(frozen=True)
class Binding:
    """The candidates for one module; `method` says how they were found, `problem` why there are none."""

    candidates: tuple[Candidate, ...]
    method: str  # "names" (one candidate, every role named), "roles" (one by kind and shape), "searched", "none"
    problem: str | None = None
    truncated: bool = False
    fault: bool = False  # the problem is the student's error (shared_repeats), not a limit of the grader's
    notes: tuple[str, ...] = field(default_factory=tuple)


def _named(book: Unit, student: Unit, extra: Mapping[str, str]) -> tuple[bool, bool]:
    """(names this role, names another role of the same kind) for a book unit and a student unit."""
    role = book_role(book.key)
    if role is None:
        return False, False
    theirs = _expanded(hints(_renamed(student.local, extra)))
    return role in theirs, bool(theirs & _category(role)) and role not in theirs


def _expanded(roles: frozenset[str]) -> frozenset[str]:
    """A fused projection's name names each of its parts: "qkv" names q, k and v."""
    return roles | ({"q", "k", "v"} if "qkv" in roles else set()) | ({"k", "v"} if "kv" in roles else set())


def _renamed(path: str, extra: Mapping[str, str]) -> str:
    """A student path with GRADER_PARAMS prefixes replaced by the book names they stand for."""
    for theirs, ours in extra.items():
        if path == theirs or path.startswith(f"{theirs}."):
            return ours + path[len(theirs):]
    return path


def _proj_fits(book: Unit, student: Unit, book_layout: str, orientation: str | None, heads: int | None,
               group: int) -> list[Fit]:
    """Fits of a book projection into a student projection: whole, or as one of 2-3 fused parts."""
    b_in, b_out = book.logical(book_layout)
    fits = []
    for layout in student.layouts:
        if student.raw and orientation and len(student.layouts) > 1 and layout != orientation:
            continue
        s_in, s_out = student.logical(layout)
        if s_in != b_in:
            continue
        if s_out == b_out:
            fits.append(Fit(student, layout))
        for parts in (2, 3):
            if s_out == parts * b_out and group >= parts and student.tied_to is None and student.kind == "proj":
                head_dim = (b_out // heads) if heads and b_out % heads == 0 else None
                for part in range(parts):
                    fits.append(Fit(student, layout, part, parts))
                    if head_dim and b_out // head_dim > 1:
                        fits.append(Fit(student, layout, part, parts, interleaved=True))
    return fits


def _fits(book: Unit, student: Unit, book_layouts: dict, orientation: str | None, heads: int | None,
          group: int) -> list[Fit]:
    if book.kind == "proj" and student.kind == "proj":
        return _proj_fits(book, student, book_layouts[book.key], orientation, heads, group)
    if book.kind == "table" and student.kind in ("table", "proj") and student.shape == book.shape:
        return [Fit(student, "out_in" if student.kind == "proj" else "")]
    if book.kind == "norm" and student.kind == "norm" and student.shape == book.shape:
        named = student.raw and (_part_role(student.w.rpartition(".")[2], "scale")
                                 or (student.b and _part_role(student.b.rpartition(".")[2], "shift")))
        fits = [Fit(student)]
        if student.raw and student.b and not named:
            fits.append(Fit(student, swap=True))
        return fits
    return []


def _options(book_units, student_units, book_layouts, orientation, heads, extra):
    """Per book unit, the fits it may take: a unit whose name says its role is pinned to it, and a
    fused projection whose name says what it fuses ("qkv", "c_attn") keeps the parts in q, k, v order."""
    shapes = [u.logical(book_layouts[u.key]) for u in book_units if u.kind == "proj"]
    options = {}
    for unit in book_units:
        group = shapes.count(unit.logical(book_layouts[unit.key])) if unit.kind == "proj" else 1
        scored = []
        for student in student_units:
            says, other = _named(unit, student, extra)
            if other:
                continue
            fused_named = bool(hints(_renamed(student.local, extra)) & {"qkv", "kv"})
            for fit in _fits(unit, student, book_layouts, orientation, heads, group):
                rank = _fused_rank(unit, fit.parts)
                if fit.parts > 1 and fused_named and fit.part != rank:
                    continue
                bonus = 1 if fit.parts > 1 and fit.part == rank and not fit.interleaved else 0
                scored.append(Fit(fit.student, fit.layout, fit.part, fit.parts, fit.interleaved, fit.swap,
                                  3 * says + bonus))
        named = [f for f in scored if f.score >= 3]
        options[unit.key] = named if named else scored
    return options


def _fused_rank(unit: Unit, parts: int) -> int:
    """q, k, v -> 0, 1, 2 in a three-part projection; k, v -> 0, 1 in a two-part one: the order fused
    projections keep."""
    order = ["q", "k", "v"] if parts == 3 else ["k", "v"]
    role = book_role(unit.key)
    return order.index(role) if role in order else -1


def _assignments(book_units, options, limit):
    """Complete assignments (dict book key -> Fit) by backtracking; at most `limit`, and whether more exist."""
    order = sorted(book_units, key=lambda u: len(options[u.key]))
    found, more = [], [False]

    def consistent(fit, taken):
        for other in taken.values():
            if other.student.key != fit.student.key:
                continue
            if fit.parts == 1 or other.parts == 1 or other.part == fit.part or \
                    (other.layout, other.parts, other.interleaved) != (fit.layout, fit.parts, fit.interleaved):
                return False
        return True

    def walk(i, taken):
        if len(found) >= limit:
            more[0] = True
            return
        if i == len(order):
            fused = {}
            for fit in taken.values():
                fused.setdefault(fit.student.key, []).append(fit)
            if all(len(fits) == fits[0].parts for fits in fused.values()):
                found.append(dict(taken))
            return
        unit = order[i]
        for fit in sorted(options[unit.key], key=lambda f: -f.score):
            if consistent(fit, taken):
                taken[unit.key] = fit
                walk(i + 1, taken)
                del taken[unit.key]

    walk(0, {})
    return found, more[0]


# ---------------------------------------------------------------- tensors

def _book_matrix(tensors, unit: Unit, layout: str) -> torch.Tensor:
    """A book projection's weight as (out, in)."""
    w = tensors[unit.w]
    return w if layout == "out_in" else w.T


def _store(matrix: torch.Tensor, layout: str) -> torch.Tensor:
    return (matrix if layout == "out_in" else matrix.T).detach().clone().contiguous()


def _fuse(parts: list[torch.Tensor], interleaved: bool, head_dim: int | None) -> torch.Tensor:
    if not interleaved:
        return torch.cat(parts, dim=0)
    groups = parts[0].shape[0] // head_dim
    split = [p.reshape(groups, head_dim, *p.shape[1:]) for p in parts]
    return torch.stack(split, dim=1).reshape(-1, *parts[0].shape[1:])


def _materialise(assignment, book_units, student_units, tensors, book_layouts, heads):
    """(state dict, pairs, reference changes, notes) of one assignment; None when a student unit is left over."""
    out = _Made({}, [], [], [])
    placed = {}
    for unit in book_units:
        placed.setdefault(assignment[unit.key].student.key, []).append((unit, assignment[unit.key]))
    source_of = {fit.student.w: unit for unit, fit in ((u, assignment[u.key]) for u in book_units)}
    for student in student_units:
        mine = sorted(placed.get(student.key, []), key=lambda uf: uf[1].part)
        if not mine:
            if student.kind != "vector":
                return None
            out.state[student.b] = torch.zeros(student.shape)
            out.note(student.b, "-", "zero", f"your `{student.b}` has no counterpart in the book's module: set to 0")
        elif student.tied_to is not None:
            source = source_of.get(student.tied_to)
            if source is None:
                return None
            out.changes.append(("tie", mine[0][0].w, source.w))
            out.note(student.w, mine[0][0].w, f"tied to {student.tied_to}",
                     f"your `{student.w}` is `{student.tied_to}` (tied): the book's `{mine[0][0].w}` was tied to "
                     f"`{source.w}` the same way")
        elif student.kind == "norm":
            _place_norm(out, student, *mine[0], tensors)
        elif mine[0][0].kind == "table":
            out.state[student.w] = tensors[mine[0][0].w].detach().clone().reshape(student.stored or student.shape)
            out.note(student.w, mine[0][0].w, "as is" if not student.stored else f"as {tuple(student.stored)}")
        else:
            _place_projection(out, student, mine, tensors, book_layouts, heads)
    return out.state, out.pairs, out.changes, out.notes


@dataclass
class _Made:
    state: dict
    pairs: list
    changes: list
    notes: list

    def note(self, student: str, book: str, how: str, note: str | None = None) -> None:
        self.pairs.append((student, book, how))
        if note:
            self.notes.append(note)


def _place_norm(out: _Made, student: Unit, unit: Unit, fit: Fit, tensors) -> None:
    scale, shift = (unit.w, unit.b) if not fit.swap else (unit.b, unit.w)
    out.state[student.w] = tensors[scale].detach().clone()
    out.note(student.w, scale, "scale")
    if student.b is not None:
        out.state[student.b] = tensors[shift].detach().clone() if shift else torch.zeros(student.shape)
        out.note(student.b, shift or "-", "shift")
    elif shift is not None:
        out.changes.append(("zero", shift))
        out.notes.append(f"the book's `{shift}` has no counterpart in your norm: set to 0 in the reference")


def _place_projection(out: _Made, student: Unit, mine, tensors, book_layouts, heads) -> None:
    fit = mine[0][1]
    head_dim = mine[0][0].logical(book_layouts[mine[0][0].key])[1] // heads if fit.interleaved else None
    matrix = _fuse([_book_matrix(tensors, u, book_layouts[u.key]) for u, _ in mine], fit.interleaved, head_dim)
    out.state[student.w] = _store(matrix, fit.layout)
    layout = ", transposed" if fit.layout != book_layouts[mine[0][0].key] else ""
    how = ("transposed" if layout else "as is") if fit.parts == 1 else \
        f"{fit.parts} parts {'interleaved per head' if fit.interleaved else 'stacked'}{layout}"
    out.note(student.w, " + ".join(u.w for u, _ in mine), how)
    biases = [u.b for u, _ in mine]
    if student.b is not None:
        sizes = [_book_matrix(tensors, u, book_layouts[u.key]).shape[0] for u, _ in mine]
        values = [tensors[b] if b else torch.zeros(n) for b, n in zip(biases, sizes)]
        out.state[student.b] = _fuse(values, fit.interleaved, head_dim).detach().clone()
        out.note(student.b, " + ".join(b or "0" for b in biases), "bias",
                 None if any(biases) else f"your `{student.b}` is a bias the book's module does not have: set to 0")
    else:
        for b in filter(None, biases):
            out.changes.append(("zero", b))
            out.notes.append(f"the book's `{b}` has no counterpart in your module: set to 0 in the reference")


# ---------------------------------------------------------------- binding

def _solve(book_units, student_units, book_layouts, heads, extra, limit):
    """Assignments for one scope (all orientations of raw matrices), best score first."""
    orientations = ["in_out", "out_in"] if any(u.raw and u.kind == "proj" and len(u.layouts) > 1
                                               for u in student_units) else [None]
    results, truncated = [], False
    for orientation in orientations:
        options = _options(book_units, student_units, book_layouts, orientation, heads, extra)
        if any(not options[u.key] for u in book_units):
            continue
        found, more = _assignments(book_units, options, limit)
        results += found
        truncated |= more
    unique, seen = [], set()
    for a in results:
        key = tuple(sorted((k, f.student.key, f.layout, f.part, f.interleaved, f.swap) for k, f in a.items()))
        if key not in seen:
            seen.add(key)
            unique.append(a)
    unique.sort(key=lambda a: -sum(f.score for f in a.values()))
    return unique, truncated


def _why_not(book_units, student_units) -> str:
    ours = ", ".join(f"{u.key} {tuple(u.shape)}" for u in book_units)
    scope = next((u.scope for u in book_units if u.scope), None)
    if not student_units and scope:
        return (f"found none of your modules where the book has its {scope[0]} (e.g. {book_units[0].key}): the grader "
                f"looks for repeated modules of one kind with the same parameters, in an nn.ModuleList or "
                f"nn.Sequential or as attributes named with one prefix and an index (block0, block1, ...)")
    theirs = ", ".join(f"{u.key} {tuple(u.shape)}" for u in student_units) or "none"
    return f"could not match your parameters ({theirs}) to the book's ({ours})"


def _across_scopes(template: dict, book_units, student_units) -> dict | None:
    """The template scope's assignment applied to every scope, by local names; None if a block differs."""
    student_by = {(u.scope, u.local): u for u in student_units}
    out = {}
    for unit in book_units:
        fit = template.get((unit.scope[:1] + (0,) if unit.scope else (), unit.local))
        if fit is None:
            return None
        student = student_by.get(((fit.student.scope[:1] + unit.scope[1:]) if unit.scope else (), fit.student.local))
        if student is None:
            return None
        out[unit.key] = Fit(student, fit.layout, fit.part, fit.parts, fit.interleaved, fit.swap, fit.score)
    return out


def bind(reference: nn.Module, tree: Tree, *, heads: int | None = None,
         extra_names: Mapping[str, str] | None = None, limit: int = MAX_CANDIDATES) -> Binding:
    """The candidate state dicts (student names) holding `reference`'s weights; see the module docstring.

    `heads`: the number of attention heads (for per-head interleaved fused projections);
    `extra_names`: the student's GRADER_PARAMS, their path prefix -> the book's.
    """
    extra = dict(extra_names or {})
    if (fault := shared_repeats(tree)) is not None:
        return Binding((), "none", fault, fault=True)
    book_tree = Tree.of(reference)
    tensors = {**{n: p.detach() for n, p in reference.named_parameters()}}
    book_levels = _book_levels(book_tree)
    book_units = _scoped(units_of(book_tree), book_levels)
    student_units = _scoped(units_of(tree), _student_levels(tree, book_levels, book_tree))
    book_layouts = {u.key: ("in_out" if u.raw else "out_in") for u in book_units if u.kind == "proj"}
    scopes = sorted({u.scope[:1] for u in book_units})
    per_scope, truncated = [], False
    for level in scopes:
        mine = [u for u in book_units if u.scope[:1] == level and (not u.scope or u.scope[1] == 0)]
        theirs = [u for u in student_units if u.scope[:1] == level and (not u.scope or u.scope[1] == 0)]
        found, more = _solve(mine, theirs, book_layouts, heads, extra, limit)
        if not found:
            return Binding((), "none", _why_not(mine, theirs))
        truncated |= more
        per_scope.append([{(u.scope[:1] + (0,) if u.scope else (), u.local): a[u.key] for u in mine} for a in found])
    candidates = []
    for combo in itertools.islice(itertools.product(*per_scope), limit * 4):
        template = {k: v for part in combo for k, v in part.items()}
        assignment = _across_scopes(template, book_units, student_units)
        if assignment is None:
            return Binding((), "none", "your repeated blocks differ from one another, so one binding cannot "
                                       "serve them all")
        made = _materialise(assignment, book_units, student_units, tensors, book_layouts, heads)
        if made is None:
            continue
        state, pairs, changes, notes = made
        for alias, source in tree.ties.items():
            if alias not in state and source in state:
                state[alias] = state[source]
        candidates.append(Candidate(state, tuple(pairs), tuple(changes), tuple(dict.fromkeys(notes)),
                                    sum(f.score for f in assignment.values())))
    if not candidates:
        leftover = [u for u in student_units if u.kind != "vector"]
        return Binding((), "none", _why_not(book_units, leftover))
    candidates.sort(key=lambda c: -c.score)
    candidates = candidates[:limit]
    named = sum(1 for u in book_units if book_role(u.key)) * 3 <= candidates[0].score
    method = ("names" if named else "roles") if len(candidates) == 1 else "searched"
    return Binding(tuple(candidates), method, truncated=truncated or len(candidates) >= limit)


def apply_reference_changes(reference: nn.Module, candidate: Candidate) -> None:
    """Make the reference the book's variant the student's module is (a tied head, a missing bias), in place."""
    params = dict(reference.named_parameters())
    with torch.no_grad():
        for change in candidate.reference_changes:
            if change[0] == "zero" and change[1] in params:
                params[change[1]].zero_()
            elif change[0] == "tie" and change[1] in params and change[2] in params:
                params[change[1]].copy_(params[change[2]])
