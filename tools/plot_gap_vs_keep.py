#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Generalisation gap against dropout keep probability, one line per (l2, l1)
setting, from the /jobs table of a regsweep results file.

Gap = test loss - train loss (clean, no dropout); for classifiers a second
panel shows train accuracy - test accuracy.  Points are the mean over the
config's finished seeds, error bars the 95% t-interval of that mean
(mean +- t_{n-1} sd / sqrt(n)); lines for different (l2, l1) are shifted
sideways a little so that their bars do not hide each other.

The x axis: when every config keeps the same probability in all hidden
layers, x is that keep probability.  When some configs keep different
probabilities per layer (e.g. [0.8, 0.5]), x is categorical: one tick per
keep setting, labelled '0.8,0.5', ordered by the mean keep over layers.

The plotted numbers are printed as a table (config, n, mean, CI).
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


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", help="a regsweep results file (OUT.h5)")
    ap.add_argument("--at", choices=("final", "best"), default="final",
                    help="final epoch (default) or each job's epoch of smallest "
                         "test loss (the /jobs best_* columns)")
    ap.add_argument("-o", "--out", default="results",
                    help="output folder (file NAME_gap_vs_keep.png) or a .png path "
                         "(default: results)")
    args = ap.parse_args()

    f = rsread.open_results(args.results)
    jobs = rsread.done(rsread.with_configs(rsread.jobs_table(f)))
    if jobs.empty:
        rsread.fail(f"{args.results}: no finished jobs")
    keep_cols = rsread.keep_columns(jobs)
    jobs["keep"] = [rsread.keep_text(list(r[keep_cols])) for _, r in jobs.iterrows()]
    prefix = "best_" if args.at == "best" else ""
    metrics = [("gap", "test loss − train loss")]
    if rsread.is_classifier(jobs):
        metrics.append(("gap_acc", "train accuracy − test accuracy"))

    # x positions: the keep itself, or one slot per keep setting
    keeps = jobs.drop_duplicates("keep").sort_values("keep_mean", kind="stable")
    uniform = "," not in "".join(keeps["keep"])
    xpos = dict(zip(keeps["keep"], keeps["keep_mean"] if uniform else range(len(keeps))))
    step = 0.012 * ((max(xpos.values()) - min(xpos.values())) or 1.0) if uniform else 0.08
    groups = list(jobs.groupby(["l2", "l1"], sort=True))

    fig, ax = plt.subplots(1, len(metrics), figsize=(6 * len(metrics), 4.4), squeeze=False)
    print(f"{'config':34s} {'metric':8s} {'n':>3s} {'mean':>12s} {'ci_lo':>12s} {'ci_hi':>12s}")
    n_seen = set()
    for a, (metric, what) in zip(ax[0], metrics):
        for g, ((l2, l1), rows) in enumerate(groups):
            shift = (g - (len(groups) - 1) / 2) * step
            pts = []
            for keep, cfg in rows.groupby("keep", sort=False):
                n, mean, sd, lo, hi = rsread.mean_ci(cfg[prefix + metric].to_numpy())
                pts.append((xpos[keep] + shift, mean, lo, hi))
                n_seen.add(int(n))
                print(f"{cfg['config'].iloc[0]:34s} {metric:8s} {int(n):3d} {mean:12.6g} "
                      f"{lo:12.6g} {hi:12.6g}")
            x, mean, lo, hi = map(np.array, zip(*sorted(pts)))
            a.errorbar(x, mean, yerr=[mean - lo, hi - mean], fmt="o-", ms=4, capsize=3,
                       color=f"C{g}", label=f"l2={l2:g} l1={l1:g}")
        lim = a.get_ylim()
        a.axhline(0, color="grey", lw=0.6)   # drawn only where 0 is in range
        a.set_ylim(lim)
        a.set(title=f"gap = {what}", ylabel=prefix + metric,
              xlabel="keep probability" if uniform else
                     "keep probability per hidden layer (ordered by mean keep)")
        if not uniform:
            a.set_xticks(list(xpos.values()), list(xpos.keys()))
        a.grid(alpha=0.3)
        a.legend(fontsize=8)
    n_text = "–".join(str(v) for v in sorted({min(n_seen), max(n_seen)}))
    fig.suptitle(f"{f.attrs['name']}: {'final' if args.at == 'final' else 'best-epoch'} gap, "
                 f"mean and 95% t-interval over n = {n_text} seeds")
    fig.tight_layout()
    path = rsread.output_path(args.out, f, "gap_vs_keep")
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
