"""Every plot of the book (matplotlib + seaborn), sized to be read at the book's text width.

Functions take the tidy frames of :mod:`microau.report` (or plain arrays) and return a
``matplotlib.figure.Figure``; the notebooks display them and give them captions. Colours: the
paper's numbers are grey, ours are coloured, and every legend names the data source.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

PAPER_COLOR = "#8c8c8c"
OURS_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")
GROUP_COLORS = ("#e41a1c", "#377eb8", "#4daf4a", "#984ea3", "#ff7f00", "#a65628")
WIDTH = 8.0  # inches: the book's text column at 100 dpi


def setup() -> None:
    """Seaborn theme and font sizes used by every figure."""
    import matplotlib as mpl
    import seaborn as sns

    sns.set_theme(context="notebook", style="whitegrid", font_scale=0.9)
    mpl.rcParams.update({"figure.dpi": 100, "savefig.dpi": 150, "figure.autolayout": False,
                         "axes.titlesize": 11, "axes.labelsize": 10, "legend.fontsize": 9})


def _figure(nrows: int, ncols: int, height: float, width: float = WIDTH, **kw):
    import matplotlib.pyplot as plt

    setup()
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), squeeze=False, **kw)
    return fig, axes


def _close(fig):
    """Keep the figure object but stop pyplot from drawing it a second time in notebooks."""
    import matplotlib.pyplot as plt

    plt.close(fig)
    return fig


# --------------------------------------------------------------------------- tables


def comparison_bars(long: pd.DataFrame, metric: str = "f1", title: str = "") -> "Figure":
    """Grouped bars per table row: the paper's value (grey) next to ours (coloured, with one
    resampling standard error), one panel per data set."""
    from .paper import metric_name
    from .report.labels import ours_label, paper_label

    part = long[long.metric == metric]
    datasets = part.dataset.drop_duplicates().tolist()
    fig, axes = _figure(1, len(datasets), 3.4, sharey=True)
    labels = part.drop_duplicates("row").sort_values("row")["label"].tolist()
    x = np.arange(len(labels))
    for k, (ax, dataset) in enumerate(zip(axes[0], datasets)):
        d = part[part.dataset == dataset].set_index("label").reindex(labels)
        ax.bar(x - 0.2, d.paper, 0.4, color=PAPER_COLOR, label=paper_label(dataset))
        err = d.ours_se.to_numpy() if "ours_se" in d and np.isfinite(d.ours_se).any() else None
        ax.bar(x + 0.2, d.ours, 0.4, color=OURS_COLORS[k % 4], label=ours_label(dataset),
               yerr=err, capsize=3, error_kw={"elinewidth": 1})
        ax.set_xticks(x, labels, rotation=20 if max(len(s) for s in labels) > 8 else 0, ha="right"
                      if max(len(s) for s in labels) > 8 else "center")
        ax.set_ylim(0, 1.25)
        ax.set_yticks(np.linspace(0, 1, 6))
        ax.set_title(dataset)
        ax.legend(loc="upper left", frameon=True, fontsize=8)
    axes[0][0].set_ylabel(f"{metric_name(metric)} (mean over AUs)")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _close(fig)


def sweep_lines(long: pd.DataFrame, parameter: str, metric: str = "f1") -> "Figure":
    """Tables IV/V: the metric against the swept weight, paper (grey) and ours, per data set."""
    from .paper import metric_name
    from .report.labels import ours_label, paper_label

    sym = {"alpha": "α", "beta": "β"}.get(parameter, parameter)
    part = long[long.metric == metric].copy()
    part["value"] = part.label.astype(float)
    datasets = part.dataset.drop_duplicates().tolist()
    fig, axes = _figure(1, len(datasets), 3.2)
    for k, (ax, dataset) in enumerate(zip(axes[0], datasets)):
        d = part[part.dataset == dataset].sort_values("value")
        ax.plot(d.value, d.paper, "o-", color=PAPER_COLOR, label=paper_label(dataset))
        ax.errorbar(d.value, d.ours, yerr=d.ours_se if np.isfinite(d.ours_se).any() else None,
                    fmt="s-", color=OURS_COLORS[k % 4], capsize=3, label=ours_label(dataset))
        ax.set_xlabel(sym)
        ax.set_ylim(0, 1.25)
        ax.set_yticks(np.linspace(0, 1, 6))
        ax.set_xticks(d.value)
        ax.set_title(dataset)
        ax.legend(loc="upper left", fontsize=8)
    axes[0][0].set_ylabel(f"{metric_name(metric)} (mean over AUs)")
    fig.tight_layout()
    return _close(fig)


def sota_bars(table: pd.DataFrame) -> "Figure":
    """Table IX: the paper's F1 per method (bars, grey; the paper's own method darker) with our
    full model's F1 as a coloured dashed line, one panel per paper data set."""
    from .report.labels import paper_group_for

    paper_cols = [c for c in table.columns if isinstance(c, str) and c.startswith("paper")]
    ours_cols = [c for c in table.columns if isinstance(c, str) and c.startswith("ours")]
    fig, axes = _figure(1, len(paper_cols), 3.9, sharey=True)
    methods = [m for m in table.index if not m.endswith("(this implementation)")]
    y = np.arange(len(methods))
    handles, labels = [], []
    for ax, pc in zip(axes[0], paper_cols):
        vals = table.loc[methods, pc]
        colors = ["#4d4d4d" if m == "Micro-AU CLIP" else PAPER_COLOR for m in methods]
        ax.barh(y, vals.fillna(0), color=colors)
        for yi, v in zip(y, vals):
            ax.text((0 if np.isnan(v) else v) + 0.01, yi, "N/A" if np.isnan(v) else f"{v:.3f}",
                    va="center", fontsize=8)
        ax.set_xlim(0, 1)
        ax.set_title(pc)
        ax.set_xlabel("F1 (mean over AUs)")
        for k, oc in enumerate(ours_cols):
            v = table[oc].dropna()
            if v.empty or paper_group_for(oc) != pc:
                continue
            line = ax.axvline(float(v.iloc[0]), color=OURS_COLORS[k % 4], ls="--", lw=1.5)
            handles.append(line)
            labels.append(f"{oc} (our full model)")
    axes[0][0].set_yticks(y, methods)
    axes[0][0].set_ylim(len(methods) - 0.5, -0.5)  # first printed row on top (axes are shared)
    if handles:
        fig.legend(handles, labels, loc="lower center", ncol=len(handles), frameon=False, fontsize=8)
    fig.tight_layout(rect=(0, 0.07 if handles else 0, 1, 1))
    return _close(fig)


def mer_bars(details: pd.DataFrame, paper: pd.DataFrame | None = None) -> "Figure":
    """Table X: our UF1 / UAR / WF1 / accuracy per row (coloured) next to always answering the
    most frequent class (grey), one panel per data set; the paper's F1 of the same rows as
    dashed lines in the row's colour (``paper``: the frame of :func:`microau.report.mer_table`)."""
    from matplotlib.lines import Line2D

    from .report.labels import paper_group_for

    datas = details.index.get_level_values(0).unique().tolist()
    metrics = [c for c in details.columns if c != "clips"]
    fig, axes = _figure(1, len(datas), 3.5, sharey=True)
    legend: dict[str, object] = {}
    for ax, data in zip(axes[0], datas):
        sub = details.loc[data, metrics]
        x = np.arange(len(metrics))
        w = 0.8 / max(1, len(sub))
        for j, (method, vals) in enumerate(sub.iterrows()):
            guess = method.startswith("guess")
            bars = ax.bar(x + (j - (len(sub) - 1) / 2) * w, vals.to_numpy(dtype=float), w,
                          color=PAPER_COLOR if guess else OURS_COLORS[j % 4], alpha=0.5 if guess else 1.0)
            legend.setdefault(f"ours: {method}", bars)
        if paper is not None:
            pcols = [c for c in paper.columns if c[0] == paper_group_for(data)]
            for j, method in enumerate(m for m in sub.index if not m.startswith("guess")):
                if pcols and method in paper.index and np.isfinite(paper.loc[method, pcols[0]]):
                    ax.axhline(paper.loc[method, pcols[0]], color=OURS_COLORS[j % 4], ls="--", lw=1.2)
                    legend.setdefault(f"paper F1: {method}", Line2D([], [], color=OURS_COLORS[j % 4], ls="--"))
        ax.set_xticks(x, metrics)
        ax.set_ylim(0, 1)
        ax.set_title(data, fontsize=10)
    axes[0][0].set_ylabel("score")
    fig.legend(list(legend.values()), list(legend.keys()), loc="lower center", ncol=3, frameon=False,
               fontsize=8)
    fig.tight_layout(rect=(0, 0.14, 1, 1))
    return _close(fig)


# --------------------------------------------------------------------------- faces


def _show_face(ax, image, title: str = "") -> None:
    ax.imshow(image, cmap="gray" if np.ndim(image) == 2 else None)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    if title:
        ax.set_title(title, fontsize=10)


def _draw_grid(ax, size: int, grid: tuple[int, int], color: str = "white") -> None:
    h, w = grid
    for r in range(1, h):
        ax.axhline(r * size / h, color=color, lw=0.6, alpha=0.7)
    for c in range(1, w):
        ax.axvline(c * size / w, color=color, lw=0.6, alpha=0.7)


def landmark_groups(aus: tuple[int, ...]) -> list[tuple[str, tuple[int, ...]]]:
    """Table I grouped by landmark set: [('AU1, AU2, AU4', (19..24)), ...] in AU order."""
    from .aus import AU_LANDMARKS

    groups: dict[tuple[int, ...], list[int]] = {}
    for a in aus:
        if a in AU_LANDMARKS:
            groups.setdefault(AU_LANDMARKS[a], []).append(a)
    return [(", ".join(f"AU{a}" for a in v), k) for k, v in groups.items()]


def au_regions(image: np.ndarray, flow_image: np.ndarray, landmarks: np.ndarray, aus: tuple[int, ...],
               grid: tuple[int, int]) -> "Figure":
    """Fig. 3: the 68 landmarks with Table I's groups coloured (left) and the patch tokens each group
    selects through Eq. 1 on the flow image with the token grid (right)."""
    from matplotlib.patches import Patch, Rectangle

    from .report.figure_data import token_index

    size = image.shape[0]
    fig, axes = _figure(1, 2, 4.3)
    left, right = axes[0]
    _show_face(left, image, "magnified apex: Table I landmark groups")
    _show_face(right, flow_image, f"flow image: {grid[0]}×{grid[1]} tokens picked by Eq. 1")
    left.scatter(landmarks[:, 0], landmarks[:, 1], s=6, c="white", edgecolors="black", linewidths=0.3)
    _draw_grid(right, size, grid)
    handles = []
    th, tw = size / grid[0], size / grid[1]
    for k, (name, points) in enumerate(landmark_groups(aus)):
        col = GROUP_COLORS[k % len(GROUP_COLORS)]
        pts = landmarks[list(points)]
        left.scatter(pts[:, 0], pts[:, 1], s=28, c=col, edgecolors="black", linewidths=0.5, zorder=3)
        for i, p in zip(points, pts):
            left.annotate(str(i), p, xytext=(2, -2), textcoords="offset points", fontsize=6, color=col)
        for t in np.unique(token_index(pts, size, grid)):
            r, c = divmod(int(t), grid[1])
            right.add_patch(Rectangle((c * tw, r * th), tw, th, facecolor=col, alpha=0.35,
                                      edgecolor=col, lw=1.5))
        right.scatter(pts[:, 0], pts[:, 1], s=10, c=col, edgecolors="black", linewidths=0.3, zorder=3)
        handles.append(Patch(color=col, label=name))
    fig.legend(handles=handles, loc="lower center", ncol=min(5, len(handles)), frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return _close(fig)


def prepared_clip_panels(clips: list[tuple[object, str]]) -> "Figure":
    """Prepared clips, one row each: cropped onset, apex, magnified apex and flow image, with the
    landmarks on the last two (data chapter). ``clips``: (PreparedClip, row title) pairs."""
    fig, axes = _figure(len(clips), 4, 2.3 * len(clips) + 0.2)
    names = ("onset", "apex", "magnified apex ×3", "flow image")
    for row, (clip, title) in zip(axes, clips):
        panels = (clip.onset, clip.apex, clip.magnified, clip.flow_image)
        for k, (ax, name, img) in enumerate(zip(row, names, panels)):
            _show_face(ax, img, name)
            if k >= 2:
                ax.scatter(clip.landmarks[:, 0], clip.landmarks[:, 1], s=3, c="yellow", linewidths=0)
        row[0].set_ylabel(title, fontsize=8)
    fig.tight_layout()
    return _close(fig)


def pta_heatmaps(examples: list[dict], grid: tuple[int, int]) -> "Figure":
    """Fig. 5 (a): PTA weights summed per patch token over the face, one panel per example.

    ``examples``: dicts with image, landmarks, heat [h, w], au, title."""
    from .aus import AU_LANDMARKS

    n = len(examples)
    ncols = min(2, n)
    nrows = int(np.ceil(n / ncols))
    fig, axes = _figure(nrows, ncols, 3.6 * nrows + 0.3, width=6.5)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    im = None
    for ax, ex in zip(axes.ravel(), examples):
        img = ex["image"]
        size = img.shape[0]
        gray = img.mean(-1) if img.ndim == 3 else img
        _show_face(ax, gray, ex["title"])
        heat = np.ma.masked_where(ex["heat"] <= 0, ex["heat"])
        im = ax.imshow(heat, extent=(0, size, size, 0), cmap="inferno", alpha=0.6, vmin=0, vmax=1,
                       interpolation="nearest")
        pts = ex["landmarks"][list(AU_LANDMARKS[ex["au"]])]
        ax.scatter(pts[:, 0], pts[:, 1], s=8, c="cyan", linewidths=0)
        _draw_grid(ax, size, grid, color="white")
    if im is not None:
        cbar = fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.8, pad=0.02)
        cbar.set_label("PTA weight (sum per token)")
    return _close(fig)


def dependency_heatmaps(panels: list[tuple[str, pd.DataFrame, float | None]]) -> "Figure":
    """Fig. 5 (b): AU × AU heatmaps (rows: clips where the AU is active), two per row.
    ``panels``: (title, frame, vmax or None for the panel's own maximum)."""
    import seaborn as sns

    n = len(panels)
    ncols = min(2, n)
    nrows = int(np.ceil(n / ncols))
    k = max(len(p[1]) for p in panels)
    fig, axes = _figure(nrows, ncols, (0.32 * k + 1.3) * nrows, width=WIDTH)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    for ax, (title, df, vmax) in zip(axes.ravel(), panels):
        sns.heatmap(df, ax=ax, annot=True, fmt=".2f", cmap="viridis", vmin=0, vmax=vmax, cbar=True,
                    annot_kws={"fontsize": 6 if len(df) > 5 else 8}, linewidths=0.5)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("")
        ax.set_ylabel(df.index.name or "")
        ax.tick_params(labelsize=8)
    fig.tight_layout()
    return _close(fig)


def similarity_matrices(panels: list[tuple[str, np.ndarray, list[int]]]) -> "Figure":
    """Fig. 6: 4 x 4 cosine similarity of visual AU features (labels on the axes)."""
    import seaborn as sns

    n = len(panels)
    ncols = min(2, n)
    nrows = int(np.ceil(n / ncols))
    fig, axes = _figure(nrows, ncols, 3.2 * nrows)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    # one colour scale for all panels, stretched over the values shown (features of an untrained
    # model are all alike; a fixed -1..1 scale would hide every difference)
    lo = min(float(np.min(m)) for _, m, _ in panels)
    lo = max(-1.0, np.floor(lo * 20) / 20)
    for ax, (title, mat, labels) in zip(axes.ravel(), panels):
        ticks = [f"#{i + 1} ({'1' if y else '0'})" for i, y in enumerate(labels)]
        sns.heatmap(mat, ax=ax, annot=True, fmt=".2f", cmap="magma", vmin=lo, vmax=1, square=True,
                    xticklabels=ticks, yticklabels=ticks, cbar=True, annot_kws={"fontsize": 8})
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return _close(fig)


def tsne_panels(panels: list[tuple[str, np.ndarray, np.ndarray]], au: int | list[int]) -> "Figure":
    """Fig. 7: t-SNE scatter of AU features per model, active vs inactive."""
    n = len(panels)
    ncols = min(3, n)
    nrows = int(np.ceil(n / ncols))
    fig, axes = _figure(nrows, ncols, 2.9 * nrows)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    for ax, (title, emb, labels) in zip(axes.ravel(), panels):
        labels = np.asarray(labels).astype(int)
        for val, col, name in ((0, "#9e9e9e", "inactive"), (1, "#d62728", "active")):
            m = labels == val
            ax.scatter(emb[m, 0], emb[m, 1], s=12, c=col, alpha=0.75, label=name, linewidths=0)
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    axes.ravel()[0].legend(loc="best", fontsize=8)
    fig.tight_layout()
    return _close(fig)


# --------------------------------------------------------------------------- data chapter


def au_frequency(counts: pd.DataFrame) -> "Figure":
    """Share of clips coding each selected AU per source (coding sheet, our data), one panel per
    data set (``counts`` has columns dataset, au, source, 'share of clips')."""
    import seaborn as sns

    datasets = counts.dataset.drop_duplicates().tolist()
    fig, axes = _figure(1, len(datasets), 3.0)
    for ax, d in zip(axes[0], datasets):
        part = counts[counts.dataset == d]
        sns.barplot(data=part, x="au", y="share of clips", hue="source", ax=ax,
                    palette=[PAPER_COLOR, OURS_COLORS[0], OURS_COLORS[1]][: part.source.nunique()])
        ax.set_title(d)
        ax.set_xlabel("")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return _close(fig)


def cooccurrence(panels: list[tuple[str, pd.DataFrame]]) -> "Figure":
    """Label co-occurrence counts (AU × AU) per data set."""
    import seaborn as sns

    fig, axes = _figure(1, len(panels), 3.4)
    for ax, (title, df) in zip(axes[0], panels):
        sns.heatmap(df, ax=ax, annot=True, fmt="d", cmap="Blues", square=True, cbar=False,
                    annot_kws={"fontsize": 7})
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return _close(fig)


def prediction_overlay(pred) -> "Figure":
    """The overlay ``microau predict --out`` writes for a :class:`microau.predict.Prediction`: the
    magnified apex crop with landmarks, the flow image, the AU probabilities (Eq. 7), GDA's W_d
    (Eq. 5), and per AU the PTA weights (Eq. 2) summed per patch token (Eq. 1)."""
    import math

    from matplotlib.figure import Figure

    from .aus import AU_LANDMARKS

    c = pred.prepared
    n_aus = len(pred.aus)
    ncols = 4
    nrows = 1 + math.ceil(n_aus / ncols)
    fig = Figure(figsize=(3.0 * ncols, 3.1 * nrows), dpi=100)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    S = pred.image_size
    lm = c.landmarks
    au_pts = sorted({j for a in pred.aus for j in AU_LANDMARKS.get(a, ())})

    def face(ax, img, title, grey=False):
        ax.imshow(img.mean(-1) if grey else img, cmap="gray" if grey else None, extent=(0, S, S, 0),
                  vmin=0, vmax=255)
        ax.set_xlim(0, S)
        ax.set_ylim(S, 0)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(title, fontsize=9)

    def grid_lines(ax, color="white"):
        h, w = pred.grid
        for k in range(1, w):
            ax.axvline(k * S / w, color=color, lw=0.5, alpha=0.6)
        for k in range(1, h):
            ax.axhline(k * S / h, color=color, lw=0.5, alpha=0.6)

    ax = axes[0, 0]
    face(ax, c.magnified, "magnified apex crop, 68 landmarks\n(red: Table I AU landmarks)")
    ax.scatter(lm[:, 0], lm[:, 1], s=4, c="white")
    ax.scatter(lm[au_pts, 0], lm[au_pts, 1], s=8, c="red")
    grid_lines(ax)
    ax = axes[0, 1]
    face(ax, c.flow_image, "flow image (onset -> magnified apex)")
    ax.scatter(lm[:, 0], lm[:, 1], s=3, c="white", alpha=0.7)

    names = [f"AU{a}" for a in pred.aus]
    y = np.arange(n_aus)
    ax = axes[0, 2]
    ax.barh(y, pred.probs, color=["#d62728" if p > pred.threshold else "#7f7f7f" for p in pred.probs])
    ax.axvline(pred.threshold, color="k", lw=0.8, ls="--")
    ax.set_xlim(0, 1)
    ax.set_yticks(y, names, fontsize=8)
    ax.invert_yaxis()
    ax.set_title("P(active), Eq. 7 (red: p > 0.5)", fontsize=9)
    ax.tick_params(labelsize=8)
    ax = axes[0, 3]
    if pred.dependency is not None:
        ax.barh(y, pred.dependency, color="#1f77b4")
        ax.set_xlim(0, max(1e-6, float(np.max(pred.dependency))) * 1.15)
        ax.set_yticks(y, names, fontsize=8)
        ax.invert_yaxis()
        ax.set_title("GDA dependency weights W_d (Eq. 5)", fontsize=9)
        ax.tick_params(labelsize=8)
    else:
        ax.axis("off")
        ax.set_title("no GDA dependency weights\n(this variant has no GDA)", fontsize=9)

    for n, a in enumerate(pred.aus):
        ax = axes[1 + n // ncols, n % ncols]
        p = pred.probs[n]
        face(ax, c.magnified, f"AU{a}: p = {p:.2f}{' (active)' if p > pred.threshold else ''}", grey=True)
        heat = pred.token_map(n)
        if heat is not None:
            # tokens without any of the AU's landmarks stay uncoloured
            im = ax.imshow(np.ma.masked_equal(heat, 0.0), extent=(0, S, S, 0), cmap="magma", alpha=0.6, vmin=0,
                           vmax=max(1e-6, float(heat.max())), interpolation="nearest")
            cb = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02)
            cb.ax.tick_params(labelsize=7)
        else:
            ax.set_title(ax.get_title() + "\n(no PTA weights in this variant)", fontsize=9)
        pts = list(AU_LANDMARKS.get(a, ()))
        ax.scatter(lm[pts, 0], lm[pts, 1], s=10, c="cyan", edgecolors="k", linewidths=0.3)
        grid_lines(ax, "white")
    for k in range(n_aus, (nrows - 1) * ncols):
        axes[1 + k // ncols, k % ncols].axis("off")

    if pred.emotion is not None:
        sc = "  ".join(f"{k} {v:.2f}" for k, v in pred.emotion_scores.items())
        emo = f"emotion (Eq. 13): {pred.emotion}  [{sc}]"
    else:
        emo = "emotion: unavailable for this variant (no text tower)"
    ck = pred.checkpoint
    fig.suptitle(f"{ck.get('variant')} model, {ck.get('profile')} profile, trained on {ck.get('dataset')} · "
                 f"active: {', '.join(f'AU{a}' for a in pred.active) or 'none'} · {emo}\n"
                 "PTA weights (Eq. 2) summed per patch token over each AU's landmarks (cyan)", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / nrows))
    return fig


def seed_strip(runs) -> "Figure":
    """Mean F1 of each configuration over seeds: one dot per seed and a bar at the mean, one panel
    per data set (``runs`` keyed (variant, dataset, seed))."""
    from .report.labels import ours_label

    keys = sorted({(k[0], k[1]) for k in runs.results if len(k) == 3})
    datasets = list(dict.fromkeys(d for _, d in keys))
    fig, axes = _figure(1, max(1, len(datasets)), 3.4, sharey=True)
    for k, (ax, dataset) in enumerate(zip(axes[0], datasets)):
        variants = [v for v, d in keys if d == dataset]
        for i, v in enumerate(variants):
            vals = [r.f1 for key, r in runs.items() if len(key) == 3 and key[:2] == (v, dataset)]
            ax.scatter(np.full(len(vals), i), vals, color=OURS_COLORS[k % 4], s=18, alpha=0.8, zorder=3)
            ax.hlines(np.mean(vals), i - 0.3, i + 0.3, color="black", lw=1.5, zorder=4)
        ax.set_xticks(range(len(variants)), variants, rotation=30, ha="right")
        ax.set_title(ours_label(dataset))
    axes[0][0].set_ylabel("F1 (mean over AUs)")
    fig.tight_layout()
    return _close(fig)


def claims_plot(claims: pd.DataFrame) -> "Figure":
    """Each row comparison of the paper's ablation tables: the paper's difference from its method
    (grey) and ours (coloured) with its paired subject-bootstrap interval; one panel per data set."""
    datasets = list(dict.fromkeys(claims.index.get_level_values("data")))
    n = max(len(claims.xs(d, level="data")) for d in datasets)
    fig, axes = _figure(1, len(datasets), 0.3 * n + 1.2, sharey=True)
    for k, (ax, data) in enumerate(zip(axes[0], datasets)):
        part = claims.xs(data, level="data")
        y = np.arange(len(part))
        ours = part["ours: row − ref."].to_numpy()
        err = np.vstack([ours - part["interval low"].to_numpy(), part["interval high"].to_numpy() - ours])
        ax.scatter(part["paper: row − ref."], y, color=PAPER_COLOR, marker="s", label="paper", zorder=3)
        ax.errorbar(ours, y, xerr=err, fmt="o", color=OURS_COLORS[k % 4], label=data, capsize=2, zorder=4)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_yticks(y, [f"{t}: {r}" for t, r in part.index])
        ax.set_xlabel("row − the paper's method (mean F1)")
        ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    return _close(fig)


VERDICT_COLORS = {"holds": "#2ca02c", "within noise": "#bdbdbd", "reversed": "#d62728", "not judged": "#ffffff"}


def verdict_bars(counts: pd.DataFrame) -> "Figure":
    """The landing page: per table (rows of ``counts``), how many of the paper's comparisons hold,
    are within noise, are reversed or were not judged on our data (columns), as stacked bars."""
    counts = counts[[k for k in VERDICT_COLORS if k in counts]].fillna(0).astype(float)
    counts = counts[counts.sum(axis=1) > 0]
    fig, axes = _figure(1, 1, 0.35 * max(len(counts), 1) + 1.1)
    ax = axes[0][0]
    left = np.zeros(len(counts))
    for kind, color in VERDICT_COLORS.items():
        if kind in counts:
            ax.barh(range(len(counts)), counts[kind], left=left, color=color, edgecolor="#636363",
                    label=kind)
            left += counts[kind].to_numpy()
    ax.set_yticks(range(len(counts)), [str(i) for i in counts.index])
    ax.invert_yaxis()
    ax.set_xlabel("the paper's comparisons, counted over our data sets")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), fontsize=8, ncol=4, frameon=False)
    fig.tight_layout()
    return _close(fig)


def cross_set_bars(panels: list[tuple[str, pd.DataFrame]]) -> "Figure":
    """Mean F1 per tested data set (and pooled), one panel per cross-set evaluation: the model and
    the region baseline side by side, each with its subject-bootstrap interval
    (``microau.cross.scores_by_set`` tables with a 'method' column)."""
    if not panels:  # fewer than two data sets: nothing to compare
        fig, axes = _figure(1, 1, 1.2)
        axes[0][0].text(0.5, 0.5, "evaluation across data sets needs two or more data sets",
                        ha="center", va="center")
        axes[0][0].set_axis_off()
        return _close(fig)
    fig, axes = _figure(1, len(panels), 3.4, sharey=True)
    for ax, (title, table) in zip(axes[0], panels):
        sets = table.set.drop_duplicates().tolist()
        x = np.arange(len(sets))
        methods = table.method.drop_duplicates().tolist()
        width = 0.8 / max(1, len(methods))
        for k, method in enumerate(methods):
            d = table[table.method == method].set_index("set").reindex(sets)
            err = np.vstack([d.f1 - d.low, d.high - d.f1]).clip(min=0)
            ax.bar(x + (k - (len(methods) - 1) / 2) * width, d.f1, width, yerr=err, capsize=3,
                   color=OURS_COLORS[k % len(OURS_COLORS)], label=method)
        ax.set_xticks(x, [s.replace("phantom-", "phantom-\n") for s in sets], fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.set_ylim(0, 1)
    axes[0][0].set_ylabel("mean F1 over the shared AUs")
    axes[0][-1].legend(loc="upper right")
    fig.tight_layout()
    return _close(fig)
