"""microau/paper_results.yaml holds every row of Tables II-X, read off the paper, in one place."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from microau.config import PAPER_ALPHA_BETA, VARIANTS
from microau.paper import TABLE_IDS, load_paper_results, paper_table

ROOT = Path(__file__).resolve().parents[1]

# rows per table as printed in the paper
ROW_COUNTS = {"table2": 3, "table3": 2, "table4": 5, "table5": 5, "table6": 3, "table7": 3,
              "table8": 4, "table9": 9, "table10": 8}
ROMAN = {"table2": "II", "table3": "III", "table4": "IV", "table5": "V", "table6": "VI",
         "table7": "VII", "table8": "VIII", "table9": "IX", "table10": "X"}


def test_every_table_and_row_is_there():
    tables = load_paper_results()["tables"]
    assert sorted(tables) == sorted(TABLE_IDS)
    for tid, n in ROW_COUNTS.items():
        t = paper_table(tid)
        assert t.number == ROMAN[tid]
        assert len(t.rows) == n, tid
        assert [r["row"] for r in t.rows] == list(range(1, n + 1)), f"{tid}: row references"
        labels = [r["label"] for r in t.rows]
        assert len(set(labels)) == len(labels), f"{tid}: duplicate labels"
        assert t.caption and t.section


def test_values_are_fractions_and_complete():
    for tid in TABLE_IDS:
        t = paper_table(tid)
        assert t.datasets == ("casme2", "samm")
        for r in t.rows:
            for d in t.datasets:
                assert set(r[d]) == set(t.metrics), f"{tid} row {r['row']} {d}"
                for m, v in r[d].items():
                    if v is None:  # the paper prints N/A (only other methods' SAMM cells)
                        assert tid in ("table9", "table10") and d == "samm" and not r.get("variant")
                        continue
                    assert isinstance(v, float) and 0.0 <= v <= 1.0, (tid, r["label"], d, m, v)
            if "text_similarity" in r:
                assert -1.0 <= r["text_similarity"] <= 1.0


def test_variants_exist_and_cover_the_ablations():
    for tid in TABLE_IDS:
        for v in paper_table(tid).variants:
            assert v in VARIANTS, (tid, v)
    # every table/<k> variant of the config is a row of the paper
    used = {v for tid in TABLE_IDS for v in paper_table(tid).variants}
    assert {v for v in VARIANTS if v.startswith("table")} <= used


def test_spot_values():
    assert paper_table("table2").value("table2/lsi_gsd", "casme2", "f1") == 0.782
    assert paper_table("table2").value("table2/gsd_only", "samm", "acc") == 0.812
    assert paper_table("table3").row("finetune")["text_similarity"] == -0.902
    assert paper_table("table3").row("fixed")["text_similarity"] == 0.994
    assert paper_table("table4").value("table4/alpha_0.4", "samm", "f1") == 0.687
    assert paper_table("table5").value("table5/beta_0.2", "casme2", "f1") == 0.780
    assert paper_table("table6").value("meanpool", "samm", "acc") == 0.837
    assert paper_table("table7").value("Cat+MLP", "samm", "f1") == 0.641
    assert paper_table("table8").value("No CL", "samm", "f1") == 0.725
    assert paper_table("table9").value("AU-LLM", "samm", "f1") == 0.619
    assert paper_table("table9").value("ME-GraphAU", "samm", "f1") is None
    assert paper_table("table10").value("Our method", "casme2", "f1") == 0.889
    assert paper_table("table10").row("Bert")["learning"] == "WS"
    # lookups by table name variants and by phantom data set name
    assert paper_table("IX").id == paper_table(9).id == paper_table("Table IX").id == "table9"
    assert paper_table("table2").value(3, "phantom-samm", "f1") == 0.730


def test_internal_consistency_stated_by_the_paper():
    # Sec. IV-E: cross-dataset gaps of 0.052 (Micro-AU CLIP) and 0.195 (AU-LLM)
    t9 = paper_table("table9")
    ours = t9.value("Micro-AU CLIP", "casme2", "f1") - t9.value("Micro-AU CLIP", "samm", "f1")
    llm = t9.value("AU-LLM", "casme2", "f1") - t9.value("AU-LLM", "samm", "f1")
    assert round(ours, 3) == 0.052 and round(llm, 3) == 0.195
    # the full model prints the same numbers in Tables II, VII, VIII and IX
    for d in ("casme2", "samm"):
        full = paper_table("table2").value("table2/lsi_gsd", d, "f1")
        assert paper_table("table7").value("GDA", d, "f1") == full
        assert paper_table("table8").value("MiAUCL", d, "f1") == full
        assert t9.value("Micro-AU CLIP", d, "f1") == full
        # ... which is the Table V row of the beta the config takes for the data set
        beta = PAPER_ALPHA_BETA[d][1]
        assert paper_table("table5").value(f"table5/beta_{beta}", d, "f1") == full
        # and the Add+MLP numbers repeat in Tables III, IV (paper's alpha), VI and VII
        alpha = PAPER_ALPHA_BETA[d][0]
        add = paper_table("table7").value("Add+MLP", d, "f1")
        assert paper_table("table3").value("finetune", d, "f1") == add
        assert paper_table("table6").value("PTA", d, "f1") == add
        assert paper_table("table4").value(f"table4/alpha_{alpha}", d, "f1") == add


def test_frame_has_one_column_per_dataset_metric():
    f = paper_table("table2").frame()
    assert list(f.columns[-4:]) == ["casme2_f1", "casme2_acc", "samm_f1", "samm_acc"]
    assert f["variant"].tolist() == paper_table("table2").variants


def test_paper_numbers_are_typed_only_in_the_yaml():
    """Notebooks, the reporting code and the book pages written with them read the numbers from
    the YAML; none of them may type a paper value."""
    values = set()
    for tid in TABLE_IDS:
        for r in paper_table(tid).rows:
            for d in ("casme2", "samm"):
                values |= {f"{v:.3f}" for v in r[d].values() if v is not None}
    files = [*ROOT.glob("notebooks/*.py"), *ROOT.glob("microau/report/*.py"), *ROOT.glob("microau/book/*.py"),
             ROOT / "microau/figures.py", ROOT / "microau/reproduce.py", ROOT / "microau/paper.py"]
    files += [ROOT / "book" / f for f in ("data.md", "method.md", "reproducing.md", "performance.md",
                                           "own_data.md")]
    pattern = re.compile(r"(?<![\d.])0\.\d{3}(?!\d)")
    for f in files:
        found = set(pattern.findall(f.read_text(encoding="utf-8"))) & values
        assert not found, f"{f.relative_to(ROOT)} types paper value(s) {sorted(found)}"


@pytest.mark.parametrize("tid", TABLE_IDS)
def test_placeholder_table_lists_the_papers_rows(tid):
    from microau.book.placeholders import paper_markdown

    md = paper_markdown(tid)
    for r in paper_table(tid).rows:
        assert f"| {r['label']} |" in md
