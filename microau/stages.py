"""The stages of a long command and their wall times, printed as one table at its end."""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field

TABLE_TITLE = "stages of this reproduction (wall time)"


@dataclass
class StageClock:
    """Named stages in the order they ran: (name, seconds, note). A stage recorded twice under
    one name adds up (its notes are joined)."""

    rows: list[list] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)

    def add(self, name: str, seconds: float, note: str = "") -> None:
        for row in self.rows:
            if row[0] == name:
                row[1] += seconds
                row[2] = "; ".join(n for n in (row[2], note) if n)
                return
        self.rows.append([name, float(seconds), note])

    @contextmanager
    def stage(self, name: str, note: str = ""):
        """Time the ``with`` block as stage ``name``."""
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - t0, note)

    def seconds(self, name: str) -> float:
        return next((row[1] for row in self.rows if row[0] == name), 0.0)

    def table(self, title: str = TABLE_TITLE) -> str:
        """The stages, their seconds and share of the total, and the total since the clock started."""
        total = max(time.perf_counter() - self.started, sum(r[1] for r in self.rows))  # stages added by hand
        width = max([len(r[0]) for r in self.rows] + [len("total")])
        lines = [title, f"  {'stage':{width}s}  {'seconds':>8s}  {'share':>5s}  note"]
        for name, sec, note in self.rows:
            lines.append(f"  {name:{width}s}  {sec:8.1f}  {sec / max(total, 1e-9):5.0%}  {note}".rstrip())
        other = total - sum(r[1] for r in self.rows)
        if other > 0.05 * total:
            lines.append(f"  {'(other)':{width}s}  {other:8.1f}  {other / total:5.0%}  between the stages above")
        lines.append(f"  {'total':{width}s}  {total:8.1f}  {1:5.0%}  ({total / 60:.1f} min)")
        return "\n".join(lines)
