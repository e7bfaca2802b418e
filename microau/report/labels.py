"""Column labels: where each number comes from (the paper, the phantom, a licensed copy)."""
from __future__ import annotations

from ..data.registry import base_dataset, is_phantom
from ..paper import dataset_name

SEP = " · "
MER_METRICS = ("uf1", "uar", "wf1", "mer_acc")  # 'mer_acc': emotion accuracy ('acc' is AU accuracy)


def data_label(dataset: str) -> str:
    """What our numbers were computed on: 'phantom-casme2' stays as is, 'casme2' -> 'CASME II'."""
    return dataset if is_phantom(dataset) else dataset_name(dataset)


def paper_label(dataset: str) -> str:
    """Column group of the paper's numbers for the data set a run imitates or is."""
    return f"paper{SEP}{dataset_name(base_dataset(dataset))}"


def ours_label(dataset: str) -> str:
    return f"ours{SEP}{data_label(dataset)}"


def paper_group_for(label: str) -> str:
    """The paper column group that an 'ours · <data>' column is compared with:
    'ours · phantom-casme2' and 'ours · CASME II' both -> 'paper · CASME II'."""
    data = label.split(SEP, 1)[-1].strip()
    if is_phantom(data):
        return paper_label(data)
    for key in ("casme2", "samm"):
        if data in (key, dataset_name(key)):
            return paper_label(key)
    return f"paper{SEP}{data}"
