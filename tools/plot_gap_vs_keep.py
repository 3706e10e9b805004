#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Generalisation gap against dropout keep probability, one series per (L2,
L1) setting, from the /jobs table of a regsweep results file.

Gap = test loss - train loss (clean, no dropout; MSE for regression,
cross-entropy in nats for classifiers); for classifiers a second panel shows
train accuracy - test accuracy.  Points are the mean over the config's
finished seeds, error bars the 95% t-interval of that mean (mean +- t_{n-1}
sd / sqrt(n)); series for different (L2, L1) are shifted sideways a little
so that their bars do not hide each other.

The x axis: when every config keeps the same probability in all hidden
layers, x is that keep probability and each series is a line.  When some
configs keep different probabilities per layer (e.g. [0.8, 0.5]), x is
categorical: one tick per keep setting, labelled '0.8/0.5' (hidden layer 1
first; '1/1' without dropout) and ordered by the mean keep over layers, and
the points are not joined: the settings have no order between them.

The plotted numbers are printed as a table (config, n, mean, CI), with
configs labelled as `regsweep report` labels them.
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


def draw(f, path, at="final"):
    """The figure, and the table it plots: (config as the report labels it,
    metric, n, mean, ci_lo, ci_hi) per point."""
    jobs_all = rsread.with_configs(rsread.jobs_table(f))
    jobs = rsread.done(jobs_all).copy()
    if jobs.empty:
        rsread.fail(f"{path}: no finished jobs")
    keep_cols = rsread.keep_columns(jobs)
    jobs["keep"] = [rsread.keep_text(list(r[keep_cols])) for _, r in jobs.iterrows()]
    prefix = "best_" if at == "best" else ""
    kind = rsread.loss_kind(jobs)
    metrics = ["gap"] + (["gap_acc"] if kind == "softmax_cross_entropy" else [])
    if prefix + "gap" not in jobs.columns or not np.isfinite(jobs[prefix + "gap"]).any():
        rsread.fail(f"{path}: /jobs {prefix}gap is absent or NaN for every finished job"
                    + (" (the best epoch needs a validation split: dataset.n_val; "
                       "see docs/FORMAT.md)" if prefix else ""))

    # x positions: the keep itself, or one slot per keep setting
    keeps = jobs.drop_duplicates("keep").sort_values("keep_mean", kind="stable")
    uniform = "," not in "".join(keeps["keep"])
    xpos = dict(zip(keeps["keep"], keeps["keep_mean"] if uniform else range(len(keeps))))
    ticks = {r["keep"]: "/".join(rsread.number_text(r[c]) for c in keep_cols)
             for _, r in keeps.iterrows()}    # every layer's keep, '1/1' too
    step = 0.012 * ((max(xpos.values()) - min(xpos.values())) or 1.0) if uniform else 0.08
    # one line per (l2, l1) and, with extra axes (train.lr, model.layers, ...),
    # per combination of their values
    axis_cols = rsread.axis_columns(jobs_all)
    groups = list(jobs.groupby(["l2", "l1"] + axis_cols, sort=True))
    show_l1 = bool((jobs_all["l1"] != 0).any())

    fig, ax = plt.subplots(1, len(metrics), figsize=(6 * len(metrics), 4.4), squeeze=False)
    table, n_seen = [], set()
    for a, metric in zip(ax[0], metrics):
        for g, ((l2, l1, *extra), rows) in enumerate(groups):
            shift = (g - (len(groups) - 1) / 2) * step
            pts = []
            for keep, cfg in rows.groupby("keep", sort=False):
                n, mean, sd, lo, hi = rsread.mean_ci(cfg[prefix + metric].to_numpy())
                pts.append((xpos[keep] + shift, mean, lo, hi))
                n_seen.add(int(n))
                table.append((cfg["config"].iloc[0], metric, int(n), mean, lo, hi))
            x, mean, lo, hi = map(np.array, zip(*sorted(pts)))
            # the keep settings of a categorical axis have no order: no lines
            a.errorbar(x, mean, yerr=[mean - lo, hi - mean], fmt="o-" if uniform else "o",
                       ms=4, capsize=3, color=f"C{g}",
                       label=f"L2 {rsread.number_text(l2)}"
                             + (f", L1 {rsread.number_text(l1)}" if show_l1 else "")
                             + "".join(f", {k} {rsread.axis_text(v)}"
                                       for k, v in zip(axis_cols, extra)))
        lim = a.get_ylim()
        a.axhline(0, color="grey", lw=0.6)   # drawn only where 0 is in range
        a.set_ylim(lim)
        layers = "/".join(str(l + 1) for l in range(len(keep_cols)))
        a.set(ylabel=rsread.gap_label(kind, metric),
              xlabel="keep probability" if uniform else
                     f"keep probability in hidden layer {layers}")
        if not uniform:
            a.set_xticks(list(xpos.values()), list(ticks.values()))
            a.set_xlim(min(xpos.values()) - 0.5, max(xpos.values()) + 0.5)
        a.grid(alpha=0.3)
        a.legend(fontsize=8)
    when = "final" if at == "final" else "best-epoch"
    # two lines: one figure panel is narrower than the sentence
    fig.suptitle(f"{f.attrs['name']}: {when} generalisation gap\n"
                 f"mean and 95% CI over {rsread.seeds_text(n_seen)}", fontsize=11)
    fig.tight_layout()
    return fig, table


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", help="a regsweep results file (OUT.h5)")
    ap.add_argument("--at", choices=("final", "best"), default="final",
                    help="final epoch (default) or each job's best epoch (the /jobs "
                         "best_* columns, see docs/FORMAT.md)")
    ap.add_argument("-o", "--out", default="results",
                    help="a .png, .pdf or .svg file, or a folder for NAME_gap_vs_keep.png "
                         "(default: results)")
    args = ap.parse_args()

    f = rsread.open_results(args.results)
    path = rsread.output_path(args.out, f.attrs["name"], "gap_vs_keep")
    fig, table = draw(f, args.results, args.at)
    print(f"{'config':30s} {'metric':8s} {'n':>3s} {'mean':>13s} {'ci_lo':>13s} {'ci_hi':>13s}")
    for config, metric, n, mean, lo, hi in table:
        print(f"{config:30s} {metric:8s} {n:3d} {mean:13.6g} {lo:13.6g} {hi:13.6g}")
    rsread.save_figure(fig, path)


if __name__ == "__main__":
    main()
