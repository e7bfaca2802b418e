"""``microau doctor --data NAME=PATH``: a dry run over a data set's tree, in seconds, preparing
nothing: the rows its reader reads and leaves out (and why), the fallbacks it takes, the onset and
apex frames that are missing or damaged (each frame is read and strictly decoded, as preparation
would), the clips preparation would drop, and the AU counts. Something that would stop a run
(a missing frame, a cell leading outside the data root, a damaged frame, no clip at all) blocks."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from . import registry
from .reader import APEX_NOTE, ONSET_NOTE, SheetReading, is_apex_fallback, read_sheet

_NOTE_KINDS = (  # (label, test on a note), first match wins
    ("apex frame not taken as coded", is_apex_fallback),
    ("apex kept outside onset..offset", lambda n: n.startswith(APEX_NOTE)),
    ("onset moved off a listed frame", lambda n: n.startswith(ONSET_NOTE)),
    ("offset 0 read as not coded", lambda n: n.startswith("offset frame 0")),
    ("several expressions in one video (distinct ids)", lambda n: n.startswith("one of ")),
    ("duplicate rows, both kept", lambda n: n.startswith("duplicate of")),
    ("AU cell notes", lambda n: n.startswith("AU cell")),
)


@dataclass
class TreeReport:
    """What a dry run found in one data set's tree (``problem``: it could not be read at all)."""

    name: str
    root: Path
    reading: SheetReading | None = None
    problem: str = ""
    damaged: list[tuple[str, Path, str]] = field(default_factory=list)  # (clip id, frame, why)
    warned: list[tuple[str, Path, str]] = field(default_factory=list)  # accepted harmless warnings
    frames_checked: int = 0

    @property
    def blockers(self) -> list[str]:
        if self.problem:
            return [self.problem]
        r, out = self.reading, []
        if r.refused:
            out.append(f"{len(r.refused)} sheet cell(s) lead outside the frame folder")
        if r.missing:
            out.append(f"{len(r.missing)} onset/apex frame(s) missing")
        if self.damaged:
            out.append(f"{len(self.damaged)} damaged frame(s) (preparation stops; --on-damaged-frame drop "
                       f"leaves {len({c for c, _, _ in self.damaged})} clip(s) out)")
        if not r.samples:
            out.append("no clip read")
        return out


def inspect_tree(name: str, root: str | Path | None = None, decode: bool = True) -> TreeReport:
    """Read ``name``'s sheet and frame tree under ``root`` (a phantom's cache folder when None) and
    check every onset and apex frame (``decode``: strictly decoded, as preparation reads them)."""
    from ..prep.frames import check_image

    try:
        registry.check(name)
        root_path = registry.root_for_name(name, root)
        report = TreeReport(name, root_path)
        report.reading = read_sheet(registry.sheet_spec(registry.base_dataset(name)), root_path, dataset=name)
    except (FileNotFoundError, ValueError, OSError) as err:
        return TreeReport(name, Path(root or "."), problem=" ".join(str(err).split()))
    missing = {p for _, p in report.reading.missing}
    for s in report.reading.samples:
        for path in dict.fromkeys((s.onset_path, s.apex_path)):
            if path in missing or not decode:
                continue
            report.frames_checked += 1
            found = check_image(Path(path).read_bytes())
            if found.damage:
                report.damaged.append((s.id, path, found.damage))
            elif found.note:
                report.warned.append((s.id, path, found.note))
    return report


def format_tree_report(report: TreeReport, show: int = 5) -> str:
    """The dry run as text: what was read, left out, fallen back on, missing, damaged; AU counts."""
    head = f"== {report.name} in {report.root}"
    if report.problem:
        return f"{head}\n[BLOCKED] {report.problem}"
    r = report.reading
    samples = r.samples
    lines = [head, f"sheet {r.sheet.name} (layout '{r.layout}'): {r.rows} rows read -> {len(samples)} clips "
                   f"of {len({s.subject for s in samples})} subjects"]
    spec = registry.sheet_spec(registry.base_dataset(report.name))
    if spec.note:
        lines.append(f"  ({spec.note})")
    lines.append(f"rows left out: {len(r.skipped)}")
    lines += [f"  sheet row {row}: {why}" for row, why in r.skipped[:show]]
    kinds: dict[str, list[str]] = {}
    for s in samples:
        for n in s.notes:
            label = next((k for k, test in _NOTE_KINDS if test(n)), "other notes")
            kinds.setdefault(label, []).append(f"{s.id}: {n}")
    lines.append("fallbacks and notes:" + ("" if kinds else " none"))
    for label, found in kinds.items():
        lines.append(f"  {label}: {len(found)} (e.g. {found[0]})")
    if r.tree is not None and r.tree.damaged:
        lines.append(f"published damaged-frame list: {len(r.tree.damaged)} frame(s) listed, never used")
    lines.append(f"frames: {report.frames_checked} checked, {len(r.missing)} missing, {len(report.damaged)} "
                 f"damaged, {len(report.warned)} read with a harmless warning")
    for cid, path, why in (*[(c, p, "missing") for c, p in r.missing[:show]], *report.damaged[:show]):
        lines.append(f"  {cid}: {path}: {why}")
    lines += [f"  {line}" for line in r.refused[:show]]
    if registry.is_au_coded(report.name):
        scored = registry.evaluated_aus(report.name)
        counts = Counter(a for s in samples for a in s.aus)
        lines.append("AU counts (clips coding the AU; * = scored): " + ", ".join(
            f"AU{a} {n}{'*' if a in scored else ''}" for a, n in sorted(counts.items())))
    else:
        lines.append("AU counts: none coded (emotions only: " + ", ".join(
            f"{e} {n}" for e, n in sorted(Counter(s.emotion for s in samples).items())) + ")")
    blockers = report.blockers
    lines.append("[BLOCKED] " + "; ".join(blockers) if blockers else "[ok] nothing blocks a run on this tree")
    return "\n".join(lines)
