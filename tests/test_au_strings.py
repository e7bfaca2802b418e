"""The AU-cell parser on the messy strings of the real CASME II / SAMM sheets."""
from __future__ import annotations

import numpy as np
import pytest

from microau.data.au_strings import cell_text, parse_au_string

# cell -> (AU set, ambiguous, referenced AUs, number of notes); the rules are in au_strings.py
# and book/real_data_notes.md
CASES = [
    ("4+7+L10", {4, 7, 10}, False, set(), 0),  # L = left: laterality stripped, no note
    ("R1+R2", {1, 2}, False, set(), 0),
    ("1+R2+25", {1, 2, 25}, False, set(), 0),
    ("12A", {12}, False, set(), 0),  # A-E suffix = intensity
    ("4D+9B", {4, 9}, False, set(), 0),
    ("A1B+A2C", {1, 2}, False, set(), 2),  # leading A = asymmetric marker: kept, noted per term
    ("7B+ ref(43)", {7}, False, {43}, 1),  # ref(...) excluded and noted
    ("(R6 or R12)+R15", {6, 12, 15}, True, set(), 1),  # 'or': both kept, ambiguous
    ("R12 or R14", {12, 14}, True, set(), 1),
    ("R14+17+soft focus", {14, 17}, False, set(), 1),  # free text ignored, noted
    ("T18+39", {18, 39}, False, set(), 1),  # leading T = position marker: kept, noted
    ("10A/B", {10}, False, set(), 1),  # intensity A or B: AU kept, the uncertainty noted
    ("none", set(), False, set(), 0),
    ("None", set(), False, set(), 0),
    (4, {4}, False, set(), 0),
    (12.0, {12}, False, set(), 0),
    (np.int64(15), {15}, False, set(), 0),
    (np.float64(17.0), {17}, False, set(), 0),
    (float("nan"), set(), False, set(), 1),  # empty cell: empty set, noted
    ("", set(), False, set(), 1),
    (None, set(), False, set(), 1),
    ("12/14", {12, 14}, True, set(), 1),  # '/' between AUs = uncertain choice
    ("AU12?", {12}, True, set(), 1),
    ("u14 + b15", {14, 15}, False, set(), 1),  # lower case; U silent, B noted
    ("12X+4", {4}, True, set(), 1),  # unrecognised token with a digit: ignored, ambiguous
    ("1, 2 ;4", {1, 2, 4}, False, set(), 0),
    ("4 7", {4, 7}, False, set(), 0),  # space-separated numbers are two AUs, never AU47
    ("AU12+au4", {12, 4}, False, set(), 0),
]


@pytest.mark.parametrize("cell,aus,ambiguous,refs,n_notes", CASES,
                         ids=[repr(c[0]) for c in CASES])
def test_parse_au_string(cell, aus, ambiguous, refs, n_notes):
    parsed = parse_au_string(cell)
    assert parsed.aus == frozenset(aus)
    assert isinstance(parsed.aus, frozenset)
    assert parsed.ambiguous is ambiguous
    assert parsed.referenced == frozenset(refs)
    assert len(parsed.notes) == n_notes, parsed.notes
    assert all(isinstance(n, str) and n for n in parsed.notes)


def test_notes_name_what_was_decided():
    assert "AU43" in parse_au_string("7B+ ref(43)").notes[0]
    assert "excluded" in parse_au_string("7B+ ref(43)").notes[0]
    or_note = parse_au_string("(R6 or R12)+R15").notes[0]
    assert "AU6" in or_note and "AU12" in or_note
    assert "soft focus" in parse_au_string("R14+17+soft focus").notes[0]
    assert "A or B" in parse_au_string("10A/B").notes[0]


def test_referenced_au_is_kept_when_also_coded():
    parsed = parse_au_string("43+ref(43)")
    assert parsed.aus == frozenset({43})
    assert parsed.referenced == frozenset({43})


@pytest.mark.parametrize("cell", ["+", "()", "(", ")", "ref()", "or", "R", "+++4++", "((4 or",
                                  "12.5", -3, "AU", "1e5", "4 or or 5", True, "\u00a04\uff0b7"])
def test_never_crashes(cell):
    parsed = parse_au_string(cell)
    assert all(isinstance(a, int) and 0 < a < 100 for a in parsed.aus)


def test_unicode_spreadsheet_characters():
    assert parse_au_string("\u00a04\uff0b7").aus == frozenset({4, 7})


def test_cell_text():
    assert cell_text(12.0) == "12"
    assert cell_text(np.int64(6)) == "6"
    assert cell_text(float("nan")) == ""
    assert cell_text(None) == ""
    assert cell_text(" R12 ") == "R12"
