"""The package's shape: no import cycles (every import counts, inside functions too), no
module over 500 lines, and each dataset rule defined once."""
from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "microau"
LINE_LIMIT = 500
# Modules allowed past the limit because they hold one concept; each says which (at most 650 lines).
ONE_CONCEPT = {
    "microau/prep/magnet_formats.py": "the checkpoint layouts of the five learned-magnifier formats",
    "microau/prep/pipeline.py": "one clip's preparation, from strictly decoded frames to the flow image",
    "microau/figures.py": "every plot of the book, one function each",
    "microau/mechanisms.py": "the paper's mechanisms measured against the phantom's ground truth",
}


def _modules() -> dict[str, Path]:
    mods = {}
    for p in PKG.rglob("*.py"):
        name = ".".join(p.relative_to(PKG.parent).with_suffix("").parts)
        mods[name.removesuffix(".__init__")] = p
    return mods


def _targets(node, here: str, is_pkg: bool, mods) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    base = here if is_pkg else here.rsplit(".", 1)[0]
    if node.level:
        parts = base.split(".")
        base = ".".join(parts[: len(parts) - (node.level - 1)])
        target = f"{base}.{node.module}" if node.module else base
    else:
        target = node.module or ""
    return [f"{target}.{a.name}" if f"{target}.{a.name}" in mods else target for a in node.names]


def import_graph() -> dict[str, set[str]]:
    """module -> the package modules it imports, at module level or inside functions. A package's
    ``__init__`` is a module like any other (``microau.report`` is ``microau/report/__init__.py``):
    ``from .report import x`` runs it, and with it everything it imports, so it is an edge."""
    mods = _modules()
    edges: dict[str, set[str]] = {m: set() for m in mods}
    for m, p in mods.items():
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for t in _targets(node, m, p.name == "__init__.py", mods):
                    while t and t not in mods and "." in t:
                        t = t.rsplit(".", 1)[0]
                    if t in mods and t != m:
                        edges[m].add(t)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_graph_counts_package_inits_and_function_level_imports(tmp_path, monkeypatch):
    """The kind of circle that once went unseen: a module imports a name from a package inside a
    function; the package's __init__ imports a module that imports the first one back."""
    pkg = tmp_path / "microau"
    (pkg / "report").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "mechanisms.py").write_text("def f():\n    from .report import grid\n")
    (pkg / "report" / "__init__.py").write_text("from .sentences import say\n")
    (pkg / "report" / "sentences.py").write_text("def say():\n    from .. import mechanisms\n")
    monkeypatch.setattr(sys.modules[__name__], "PKG", pkg)
    edges = import_graph()
    assert edges["microau.mechanisms"] == {"microau.report"}
    assert cycles(edges) == [["microau.mechanisms", "microau.report", "microau.report.sentences"]]


def test_no_import_cycles():
    found = cycles(import_graph())
    assert not found, "import cycles: " + "; ".join(" <-> ".join(c) for c in found)


def test_no_module_over_the_line_limit():
    lengths = {str(p.relative_to(PKG.parent)): len(p.read_text(encoding="utf-8").splitlines())
               for p in PKG.rglob("*.py")}
    long = {m: n for m, n in lengths.items() if n > LINE_LIMIT and not (m in ONE_CONCEPT and n <= 650)}
    assert not long, f"modules over {LINE_LIMIT} lines (split by concern): {long}"


def test_dataset_rules_live_in_the_registry():
    """The phantom prefix is spelt out in one module; everything else asks the registry."""
    offenders = []
    for p in PKG.rglob("*.py"):
        if p.name == "registry.py":
            continue
        text = p.read_text(encoding="utf-8")
        if re.search(r"""(removeprefix|startswith)\(\s*["']phantom""", text):
            offenders.append(str(p.relative_to(PKG.parent)))
    assert not offenders, f"phantom-name rules outside microau/data/registry.py: {offenders}"
