"""`microau reproduce`'s scheduling: notebooks executed side by side with the outputs each gives
alone, a failing one named, and the table of stages and times it ends with."""
from __future__ import annotations

import time

import nbformat
import pytest

from microau import reproduce
from microau.stages import StageClock


def _notebook(path, body: str) -> None:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("x = 1")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def _outputs(path) -> list:
    nb = nbformat.read(path, as_version=4)
    return [o.get("text") for c in nb.cells if c.cell_type == "code" for o in c.outputs]


def test_notebooks_run_side_by_side_and_a_failure_is_named(tmp_path):
    root = tmp_path / "repo"
    (root / "notebooks").mkdir(parents=True)
    _notebook(root / "notebooks" / "first.ipynb", "import time; time.sleep(1); print('first', x * 2)")
    _notebook(root / "notebooks" / "second.ipynb", "print('second', x + 40)")
    _notebook(root / "notebooks" / "broken.ipynb", "raise ValueError('this page is broken')")
    book = tmp_path / "book"
    params = {"x": 21, "train_missing": False}
    t0 = time.perf_counter()
    timings = reproduce.execute_notebooks(["first", "second"], params, book, root, progress=False, jobs=2)
    assert list(timings) == ["first", "second"]
    assert time.perf_counter() - t0 < sum(timings.values()) + 5  # they overlapped
    out = book / "reproduction"
    parallel = {n: _outputs(out / f"{n}.ipynb") for n in ("first", "second")}
    assert parallel == {"first": ["first 42\n"], "second": ["second 61\n"]}
    one = reproduce.execute_notebooks(["second"], params, book, root, progress=False, jobs=1)
    assert list(one) == ["second"] and _outputs(out / "second.ipynb") == parallel["second"]
    with pytest.raises(RuntimeError, match=r"1 of 3 notebook\(s\) failed: broken") as err:
        reproduce.execute_notebooks(["first", "broken", "second"], params, book, root, progress=False, jobs=2)
    assert "this page is broken" in str(err.value) and str(out / "broken.ipynb") in str(err.value)
    assert _outputs(out / "first.ipynb") == parallel["first"]  # the others still ran


def test_the_stage_table_lists_each_stage_once_with_its_share():
    clock = StageClock()
    clock.add("data phantom-casme2", 3.0, "phantom 1.0 s")
    with clock.stage("notebooks", "2 notebooks"):
        pass
    clock.add("data phantom-casme2", 1.0, "again")
    table = clock.table()
    lines = table.splitlines()
    assert lines[0] == "stages of this reproduction (wall time)"
    assert sum(line.split()[0] == "data" for line in lines) == 1
    assert clock.seconds("data phantom-casme2") == 4.0 and "phantom 1.0 s; again" in table
    assert lines[-1].split()[0] == "total"
