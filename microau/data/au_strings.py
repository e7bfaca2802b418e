"""Parse the free-form "Action Units" cells of the CASME II and SAMM coding sheets.

The cells are written by human FACS coders and are not a formal grammar. Examples that occur:
``4+7+L10``, ``R1+R2``, ``12A``, ``A1B+A2C``, ``7B+ ref(43)``, ``(R6 or R12)+R15``,
``R14+17+soft focus``, ``T18+39``, ``10A/B``, ``none``, a bare number stored by Excel as ``4`` or
``12.0``, or an empty cell.

Rules (see ``book/real_data_notes.md`` for the reasoning):

* Terms are separated by ``+`` (also ``,`` and ``;``) outside parentheses.
* An AU term is ``[AU][prefix]number[intensity][?]``:

  - prefix ``L``/``R``/``U`` (left, right, unilateral side unspecified) is laterality: stripped,
    the AU kept, no note (it is standard FACS and says nothing uncertain about the AU).
  - prefix ``T``/``B`` (read as top/bottom) and ``A`` (read as an asymmetric/unilateral marker,
    as in ``A1B``) are position markers whose meaning the sheets do not define: stripped, the AU
    kept, and a note is recorded.
  - suffix ``A``-``E`` is the FACS intensity: stripped, no note. ``10A/B`` (intensity A or B) keeps
    AU10 and records a note that the intensity is uncertain.
  - a trailing ``?`` keeps the AU, marks the cell ambiguous and records a note.
* ``ref(43)`` names an AU the coder thought related but did not code: excluded, noted
  (``ParsedAUs.referenced``).
* ``X or Y`` (with or without parentheses) and ``X/Y`` between two AU numbers are an uncertain
  choice: both AUs are kept, the cell is marked ambiguous and noted.
* Words with no AU in them (``soft focus``) are ignored and noted.
* ``none`` (also ``n/a``, ``-``) is an explicit empty set, no note; an empty / NaN cell gives the
  empty set with a note, since it may be a coding gap.
* A number that is not a FACS code (``FACS_CODES``, e.g. ``99`` or ``0``) is ignored, noted, and
  marks the cell ambiguous.
* Anything else that contains a digit but is not an AU term is ignored, noted, and marks the cell
  ambiguous. The parser never raises on a cell's content.
"""
from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass, field

__all__ = ["ParsedAUs", "parse_au_string", "cell_text"]

# prefixes that are plain laterality (no note) and those whose meaning is a guess (noted)
_LATERALITY = {"L": "left", "R": "right", "U": "unilateral"}
_POSITION = {
    "T": "read as a 'top' position marker",
    "B": "read as a 'bottom'/bilateral position marker",
    "A": "read as an asymmetric/unilateral marker",
}
_ATOM = re.compile(
    r"^(?:AU)?(?P<prefix>[LRUTBA])?(?P<num>\d{1,3})(?P<intensity>[A-E](?:/[A-E])*)?(?P<q>\?)?$"
)
_REF = re.compile(r"^REF\s*\((?P<inner>[^)]*)\)$|^REF\s+(?P<bare>\S.*)$", re.IGNORECASE)
_OR = re.compile(r"\s+OR\s+", re.IGNORECASE)
_NONE_WORDS = {"NONE", "N/A", "NA", "-", "--", "/", "NIL", "NO"}
# The codes of the FACS manual (Ekman, Friesen & Hager, 2002), our reading of "a FACS code":
# action units and action descriptors, head and eye positions, visibility and gross-behaviour
# codes. Any other number in a cell is noted and ignored.
FACS_CODES = frozenset(
    [1, 2, *range(4, 47), 50, *range(51, 59), *range(61, 67), 69, *range(70, 75),
     80, 81, 82, 84, 85, 91, 92, 97, 98]
)


@dataclass(frozen=True)
class ParsedAUs:
    """Result of parsing one AU cell.

    ``aus``: the coded AUs (laterality and intensity stripped).
    ``notes``: one human-readable line per ambiguity or ignored piece.
    ``ambiguous``: True when the AU *set* itself is uncertain ('or', '?', unparsed tokens).
    ``referenced``: AUs named in ``ref(...)`` (related but not coded; not in ``aus``).
    ``sides``: the coded AUs that carry a side or position prefix, as coded ('L12', 'R14', 'T1'),
    sorted: ``aus`` drops the prefix, this keeps it.
    """

    aus: frozenset[int]
    notes: tuple[str, ...] = ()
    ambiguous: bool = False
    referenced: frozenset[int] = field(default_factory=frozenset)
    raw: str = ""
    sides: tuple[str, ...] = ()


def cell_text(cell: object) -> str:
    """The text of a sheet cell as the parser sees it ('' for None/NaN; 12.0 -> '12')."""
    if cell is None:
        return ""
    if isinstance(cell, bool):
        return str(cell)
    if isinstance(cell, numbers.Integral):
        return str(int(cell))
    if isinstance(cell, numbers.Real):
        value = float(cell)
        if math.isnan(value):
            return ""
        if value.is_integer():
            return str(int(value))
        return repr(value)
    text = str(cell)
    # non-breaking / full-width characters that sneak in from spreadsheets
    text = text.replace("\u00a0", " ").replace("\uff0b", "+").replace("\u3000", " ")
    return text.strip()


class _Acc:
    """Accumulates AUs, notes and the ambiguity flag while one cell is parsed."""

    def __init__(self) -> None:
        self.aus: set[int] = set()
        self.referenced: set[int] = set()
        self.sides: set[str] = set()
        self.notes: list[str] = []
        self.ambiguous = False

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


def _split_top(text: str) -> list[str]:
    """Split on + , ; outside parentheses."""
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(depth - 1, 0)
        if ch in "+,;" and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


def _atom(token: str, acc: _Acc | None) -> int | None:
    """Parse one AU term such as 'R12', '4D', 'A1B', '10A/B', 'AU12?'; None if it is not one.

    With ``acc`` given, notes for the markers are recorded there.
    """
    compact = token.strip().upper()  # no joining across spaces: "4 7" is not AU47
    m = _ATOM.match(compact)
    if not m:
        return None
    au = int(m.group("num"))
    if au not in FACS_CODES:
        if acc is not None:
            acc.note(f"'{token}': AU{au} is not a FACS code; ignored")
            acc.ambiguous = True
        return -1
    if acc is None:
        return au
    prefix = m.group("prefix")
    if prefix:
        acc.sides.add(f"{prefix}{au}")
    if prefix in _POSITION:
        acc.note(f"'{token}': leading '{prefix}' {_POSITION[prefix]}; stripped, AU{au} kept")
    intensity = m.group("intensity")
    if intensity and "/" in intensity:
        acc.note(
            f"'{token}': intensity uncertain ({' or '.join(intensity.split('/'))}); "
            f"intensity stripped, AU{au} kept"
        )
    if m.group("q"):
        acc.note(f"'{token}': marked '?' by the coder; AU{au} kept")
        acc.ambiguous = True
    return au


def _aus_in(text: str) -> list[int]:
    """AU numbers in a small expression such as '43' or 'R6 or 12' (used for ref(...))."""
    found = []
    for piece in re.split(r"[\s+,;/()]+|\bOR\b", text, flags=re.IGNORECASE):
        if piece:
            au = _atom(piece, None)
            if au is not None and au > 0:
                found.append(au)
    return found


def _term(term: str, acc: _Acc) -> None:
    """Parse one '+'-separated term into ``acc``."""
    # ref(43): related but not coded
    m = _REF.match(term)
    if m:
        inner = m.group("inner") if m.group("inner") is not None else m.group("bare")
        refs = _aus_in(inner or "")
        acc.referenced.update(refs)
        listed = ", ".join(f"AU{a}" for a in refs) or "nothing recognisable"
        acc.note(f"'{term}': reference to {listed}, not coded; excluded")
        return

    au = _atom(term, acc)
    if au is not None:
        if au > 0:
            acc.aus.add(au)
        return

    # a parenthesised group: '(R6 or R12)'
    inner = term
    if inner.startswith("(") and inner.endswith(")"):
        inner = inner[1:-1].strip()
        if not _OR.search(inner):
            acc.note(f"'{term}': parentheses without 'or'; read as '{inner}'")
        for sub in _split_top(inner):
            _term(sub, acc)
        return

    # uncertain choice: 'R12 or R14', '12/14'
    alternatives = _OR.split(inner)
    if len(alternatives) == 1 and "/" in inner:
        slash = [a.strip() for a in inner.split("/")]
        if len(slash) > 1 and all(_atom(a, None) is not None for a in slash):
            alternatives = slash
    if len(alternatives) > 1:
        chosen: list[int] = []
        for alt in alternatives:
            sub = _Acc()
            for piece in _split_top(alt.strip("() ")):
                _term(piece, sub)
            chosen.extend(sorted(sub.aus))
            acc.aus.update(sub.aus)
            acc.referenced.update(sub.referenced)
            acc.sides.update(sub.sides)
            for n in sub.notes:
                acc.note(n)
        acc.ambiguous = True
        names = " or ".join(f"AU{a}" for a in chosen) or "nothing recognisable"
        acc.note(f"'{term}': uncertain choice ({names}); all alternatives kept")
        return

    # free text, possibly mixed with AU terms: 'soft focus', '12 smile'
    words, unparsed = [], []
    for word in inner.split():
        au = _atom(word, acc)
        if au is not None:
            if au > 0:
                acc.aus.add(au)
        elif any(ch.isdigit() for ch in word):
            unparsed.append(word)
        else:
            words.append(word)
    if words:
        acc.note(f"free text '{' '.join(words)}' ignored")
    if unparsed:
        acc.ambiguous = True
        acc.note(f"unrecognised token(s) {' '.join(repr(u) for u in unparsed)} ignored")


def parse_au_string(cell: object) -> ParsedAUs:
    """Parse an "Action Units" cell (str, int, float, None or NaN). Never raises on content."""
    raw = cell_text(cell)
    acc = _Acc()
    if raw == "":
        acc.note("empty AU cell: no AU coded")
    elif raw.upper() in _NONE_WORDS:
        pass
    else:
        terms = _split_top(raw)
        if not terms:
            acc.note(f"no AU in cell {raw!r}")
        for term in terms:
            if term.upper() in _NONE_WORDS:
                continue
            try:
                _term(term, acc)
            except Exception as err:  # pragma: no cover - defensive: a cell must never crash a load
                acc.ambiguous = True
                acc.note(f"'{term}': could not be parsed ({err}); ignored")
    return ParsedAUs(
        aus=frozenset(acc.aus),
        notes=tuple(acc.notes),
        ambiguous=acc.ambiguous,
        referenced=frozenset(acc.referenced),
        raw=raw,
        sides=tuple(sorted(acc.sides, key=lambda c: (int(c[1:]), c))),
    )
