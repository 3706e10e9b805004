#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The paired-difference figure: for each config, its change in
generalisation gap against the baseline config, paired by seed.

One row per config (labelled in words, 'keep 0.5, L2 1e-3'), the baseline
named in the title and the axis label.  The black point and bar are the mean
paired difference d = gap(config) - gap(baseline) over seeds and its 95%
t-interval, exactly as `regsweep report` printed and stored them: they are
read from /analysis/comparisons, never recomputed, so run
`regsweep report OUT.h5` (with the same --at) first.  The faint dots are the
per-seed differences behind that mean, from /jobs: each finished job of the
config minus the baseline's job with the same seed (the common random
numbers make these pairs sharp).  A comparison the report could not pair
(jobs missing on one side: Welch's unpaired test) is drawn as an open point
without dots.  The vertical line is zero: left of it the config's gap is
smaller than the baseline's (a narrower gap only where the gaps are
positive: with noisy training targets and clean test targets, as in ch311,
they are negative by construction).

Gap = test loss - train loss (clean, no dropout; MSE for regression,
cross-entropy in nats for classifiers); classifiers get a second panel with
the change in train accuracy - test accuracy.  The plotted numbers are
printed as a table (config labelled as the report labels it, metric, test,
n pairs, mean_diff, ci_lo, ci_hi, and how many per-seed dots were drawn).
"""
import argparse
import os
import sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rsread  # noqa: E402

NEEDED = ("config", "metric", "test", "n", "mean_diff", "ci_lo", "ci_hi")


AXIS_COLS = []   # the extra axes (train.lr, ...) of the file being read


def axes_of(row, keep_cols):
    """(keeps tuple, l2, l1, extra axes' ((key, value), ...)) of a table row
    that has the axis columns."""
    return (tuple(float(row[c]) for c in keep_cols), float(row["l2"]), float(row["l1"]),
            tuple((c, row[c]) for c in AXIS_COLS))


def has_axes(df, keep_cols):
    return df is not None and all(c in df for c in keep_cols + ["l2", "l1"] + AXIS_COLS)


def find_axes(label, tables, keep_cols):
    """The axes of the config labelled `label` in the first table (of
    /analysis/configs, /jobs) that has it and its axis columns."""
    for t in tables:
        if has_axes(t, keep_cols) and "config" in t:
            hit = t[t["config"] == label]
            if len(hit):
                return axes_of(hit.iloc[0], keep_cols)
    return None


def rows_of(jobs, axes, keep_cols):
    """The finished /jobs rows of one config, indexed by seed."""
    keeps, l2, l1, extra = axes
    sel = (jobs["l2"] == l2) & (jobs["l1"] == l1)
    for c, k in zip(keep_cols, keeps):
        sel &= jobs[c] == k
    for c, v in extra:
        sel &= jobs[c] == v
    return jobs[sel].set_index("seed")


def load(f, path, at):
    """The stored comparisons to draw, with their per-seed differences.
    Returns (rows, the baseline in words, at, loss kind, metrics); each row
    a dict: config (the report's label), label (the config in words, from
    its axes by rsread.config_label, whatever the file's report wrote),
    metric, test, n (pairs; 0 when unpaired),
    mean, lo, hi (the report's mean_diff, ci_lo, ci_hi), seeds, diffs (the
    per-seed differences from /jobs)."""
    # /analysis links to OUT.analysis.h5, which is empty until report runs
    if "analysis" not in f or not len(f["analysis"]):
        rsread.fail(f"{path}: no /analysis in this file: run `regsweep report {path}` "
                    f"first (it stores the comparisons this figure draws)")
    if "comparisons" not in f["analysis"]:
        rsread.fail(f"{path}: /analysis has no comparisons (no baseline config in the "
                    f"grid): run `regsweep report {path} --baseline ...` first")
    stored = rsread.analysis_at(f)
    if at is not None and stored is not None and at != stored:
        rsread.fail(f"{path}: /analysis holds the report at the {stored} epoch: run "
                    f"`regsweep report {path} --at {at}` first")
    at = at or stored or "final"
    base_label = rsread.analysis_baseline(f)
    if base_label is None:
        rsread.fail(f"{path}: /analysis does not name the baseline of its comparisons: "
                    f"run `regsweep report {path}` again")
    cmp = rsread.table(f["analysis/comparisons"])
    missing = [c for c in NEEDED if c not in cmp]
    if missing:
        rsread.fail(f"{path}: /analysis/comparisons lacks the columns {', '.join(missing)}")
    configs = rsread.table(f["analysis/configs"]) if "configs" in f["analysis"] else None

    all_jobs = rsread.with_configs(rsread.jobs_table(f))
    jobs = rsread.done(all_jobs)
    if jobs.empty:
        rsread.fail(f"{path}: no finished jobs")
    keep_cols = rsread.keep_columns(all_jobs)
    AXIS_COLS[:] = rsread.axis_columns(all_jobs)
    kind = rsread.loss_kind(jobs)
    metrics = ["gap"] + (["gap_acc"] if kind == "softmax_cross_entropy" else [])
    show_l1 = bool((all_jobs["l1"] != 0).any())

    def words(axes):
        return rsread.config_label(axes[0], axes[1], axes[2], show_l1, axes[3])

    base_axes = find_axes(base_label, [configs, all_jobs], keep_cols)
    if base_axes is None:
        rsread.fail(f"{path}: the baseline '{base_label}' of /analysis is no config of "
                    f"/jobs: run `regsweep report {path}` again")
    base = rows_of(jobs, base_axes, keep_cols)
    prefix = "best_" if at == "best" else ""
    rows = []
    for _, c in cmp[cmp["metric"].isin(metrics)].iterrows():
        axes = (axes_of(c, keep_cols) if has_axes(cmp, keep_cols)
                else find_axes(c["config"], [configs, all_jobs], keep_cols))
        if axes is None:
            rsread.fail(f"{path}: /analysis/comparisons names '{c['config']}', which is "
                        f"no config of /jobs: run `regsweep report {path}` again")
        n = int(c["n"]) if np.isfinite(c["n"]) else 0
        seeds, diffs = np.array([], dtype=np.uint64), np.array([])
        if n > 0:                      # paired by seed (a Welch row has n = 0)
            mine = rows_of(jobs, axes, keep_cols)
            col = prefix + c["metric"]
            d = (mine[col] - base[col].reindex(mine.index)).dropna()
            d = d[np.isfinite(d)].sort_index()
            seeds, diffs = d.index.to_numpy(), d.to_numpy(dtype=float)
            if len(diffs) != n or not np.isclose(diffs.mean(), c["mean_diff"],
                                                 rtol=1e-9, atol=1e-12):
                print(f"{os.path.basename(sys.argv[0])}: warning: {path}: the per-seed "
                      f"differences of {c['config']} ({c['metric']}) in /jobs ({len(diffs)}, "
                      f"mean {diffs.mean() if len(diffs) else float('nan'):.6g}) do not "
                      f"match /analysis ({n}, mean {c['mean_diff']:.6g}); the point and "
                      f"interval drawn are /analysis's", file=sys.stderr)
        rows.append(dict(config=c["config"], label=words(axes), metric=c["metric"],
                         test=str(c["test"]), n=n, mean=float(c["mean_diff"]), lo=float(c["ci_lo"]),
                         hi=float(c["ci_hi"]), seeds=seeds, diffs=diffs))
    if not rows:
        rsread.fail(f"{path}: /analysis/comparisons has no rows for {', '.join(metrics)}")
    return rows, words(base_axes), at, kind, metrics


def draw(f, path, at=None):
    """The figure and the rows it draws (see load)."""
    rows, base_words, at, kind, metrics = load(f, path, at)
    labels = list(dict.fromkeys(r["label"] for r in rows))    # comparison order
    ypos = {lab: i for i, lab in enumerate(labels)}
    height = max(3.0, 1.9 + 0.42 * len(labels))
    fig, ax = plt.subplots(1, len(metrics), squeeze=False, sharey=True,
                           figsize=(5.6 * len(metrics) + 1.6, height))
    for a, metric in zip(ax[0], metrics):
        a.axvline(0, color="grey", lw=0.8, zorder=0)
        for r in (r for r in rows if r["metric"] == metric):
            y = ypos[r["label"]]
            if len(r["diffs"]):
                k = len(r["diffs"])
                jitter = (np.arange(k) - (k - 1) / 2) * (0.36 / max(k - 1, 1))
                a.plot(r["diffs"], y + jitter, "o", ms=4, color="C0", alpha=0.45,
                       mec="none", zorder=1)
            if not np.isfinite(r["mean"]):
                a.annotate("too few seeds", (0, y), xytext=(4, 0), textcoords="offset points",
                           va="center", fontsize=8, color="grey")
                continue
            paired = r["n"] > 0
            err = ([[r["mean"] - r["lo"]], [r["hi"] - r["mean"]]]
                   if np.isfinite(r["lo"]) else None)
            a.errorbar([r["mean"]], [y], xerr=err, fmt="o", ms=6, capsize=4, lw=1.6,
                       color="k", mfc="k" if paired else "white", zorder=3)
        what = (f"test − train {rsread.loss_label(kind)}" if metric == "gap"
                else "train − test accuracy")
        a.set_xlabel(f"change in generalisation gap ({what})\n"
                     f"config − baseline ({base_words}); < 0: smaller gap than the baseline", labelpad=12)
        a.grid(axis="x", alpha=0.3)
    ax[0][0].set_yticks(range(len(labels)), labels)
    ax[0][0].set_ylim(len(labels) - 0.5, -0.5)                 # first config on top
    handles = [plt.Line2D([], [], color="k", marker="o", ls="-",
                          label="mean and 95% CI, as regsweep report"),
               plt.Line2D([], [], color="C0", marker="o", ls="none", alpha=0.45, mec="none",
                          label="one seed (config − baseline)")]
    if any(r["n"] == 0 and np.isfinite(r["mean"]) for r in rows):
        handles.append(plt.Line2D([], [], color="k", marker="o", mfc="white", ls="-",
                                  label="Welch's t: seeds do not pair"))
    ncol = len(handles) if len(metrics) > 1 else 2
    legend_rows = -(-len(handles) // ncol)
    fig.legend(handles=handles, fontsize=8, loc="lower center", ncol=ncol, frameon=False)
    ns = [r["n"] for r in rows if r["n"] > 0]
    fig.suptitle(f"{f.attrs['name']}: change in generalisation gap vs the baseline\n"
                 f"baseline {base_words}; {'final' if at == 'final' else 'best'} epoch; "
                 + (f"paired by seed, {rsread.seeds_text(ns)}" if ns else "unpaired"),
                 fontsize=10)
    fig.tight_layout(rect=(0, (0.15 + 0.2 * legend_rows) / height, 1, 1))
    return fig, rows


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", help="a regsweep results file (OUT.h5) after `regsweep report`")
    ap.add_argument("--at", choices=("final", "best"),
                    help="the epoch the stored report used (default: whatever it used); "
                         "a mismatch is an error: run `regsweep report OUT.h5 --at ...`")
    ap.add_argument("-o", "--out", default="results",
                    help="a .png, .pdf or .svg file, or a folder for NAME_paired_diff.png "
                         "(default: results)")
    args = ap.parse_args()

    f = rsread.open_results(args.results)
    path = rsread.output_path(args.out, f.attrs["name"], "paired_diff")
    fig, rows = draw(f, args.results, args.at)
    print(f"{'config':30s} {'metric':8s} {'test':8s} {'n':>3s} {'mean_diff':>24s} "
          f"{'ci_lo':>24s} {'ci_hi':>24s} {'dots':>4s}")
    for r in rows:
        print(f"{r['config']:30s} {r['metric']:8s} {r['test']:8s} {r['n']:3d} "
              + " ".join(f"{repr(float(r[k])):>24s}" for k in ("mean", "lo", "hi"))
              + f" {len(r['diffs']):4d}")
    rsread.save_figure(fig, path)


if __name__ == "__main__":
    main()
