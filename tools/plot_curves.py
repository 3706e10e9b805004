#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Mean clean train and test curves over epochs, across seeds, for chosen
configs of a regsweep results file: the "train/test gap with and without
dropout" figure.

Panels: train loss (dashed) and test loss (solid); the gap test - train
loss; for classifiers also train and test accuracy.  Lines are the mean over
the config's finished seeds; bands are the 95% t-interval of that mean
(default) or +-1 standard deviation across seeds (--band sd).  Every number
comes from /jobs and /runs/<id>/curves of the file.

Default configs: the baseline (keep 1 in every layer, l2 0, l1 0) and the
strongest dropout config (smallest mean keep probability, with l2 0 and l1 0
where such a config exists).
"""
import argparse
import math
import os
import sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rsread  # noqa: E402


def parse_config(text):
    """'keep=0.8,0.5 l2=0 l1=0' -> {'keep': [0.8, 0.5], 'l2': 0.0, 'l1': 0.0};
    keys left out match anything."""
    want = {}
    for token in text.replace(";", " ").split():
        key, _, value = token.partition("=")
        key = "keep" if key == "keep_prob" else key
        try:
            if key == "keep":
                want[key] = [float(v) for v in value.split(",")]
            elif key in ("l2", "l1"):
                want[key] = float(value)
            else:
                raise ValueError
        except ValueError:
            rsread.fail(f"--config: cannot read '{token}' (expected keep=K or "
                        f"keep=K1,K2, l2=X, l1=Y)")
    return want


def matches(row, want, keep_cols):
    close = lambda a, b: math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-300)  # noqa: E731
    keeps = [row[c] for c in keep_cols]
    if "keep" in want:
        k = want["keep"] * len(keeps) if len(want["keep"]) == 1 else want["keep"]
        if len(k) != len(keeps) or not all(map(close, k, keeps)):
            return False
    return all(close(row[key], want[key]) for key in ("l2", "l1") if key in want)


def choose_configs(jobs, requested, path):
    """Config labels to plot, in order."""
    keep_cols = rsread.keep_columns(jobs)
    configs = jobs.drop_duplicates("config")
    if requested:
        chosen = []
        for text in requested:
            hits = [r["config"] for _, r in configs.iterrows()
                    if matches(r, parse_config(text), keep_cols)]
            if len(hits) != 1:
                rsread.fail(f"{path}: --config '{text}' matches " +
                            (f"{len(hits)} configs: " + "; ".join(hits) if hits else
                             "no config; the configs are: " + "; ".join(configs["config"])))
            chosen.append(hits[0])
        return chosen
    plain = configs[(configs["l2"] == 0) & (configs["l1"] == 0)]
    pool = plain if len(plain) else configs
    base = pool[pool["keep_mean"] == 1.0]
    first = base.iloc[0] if len(base) else pool.sort_values("keep_mean").iloc[-1]
    strongest = pool.sort_values("keep_mean", kind="stable").iloc[0]
    return [first["config"]] + ([strongest["config"]]
                                if strongest["config"] != first["config"] else [])


def band(values, kind):
    """(n, mean, lo, hi) per epoch over seeds (rows of `values`)."""
    n, mean, sd, lo, hi = rsread.mean_ci(values)
    if kind == "sd":
        lo, hi = mean - sd, mean + sd
    return n, mean, lo, hi


def clip_transient(a, epoch, curves):
    """When an early transient (e.g. the loss spikes of full-batch GD in its
    first epochs) makes the y range over 5x wider than from epoch E/10 on,
    limit the y axis to the later range and say so in the panel title."""
    lines = np.array(curves)
    late = lines[:, epoch >= epoch[-1] / 10]
    lo_all, hi_all = np.nanmin(lines), np.nanmax(lines)
    lo, hi = np.nanmin(late), np.nanmax(late)
    if hi_all - lo_all > 5 * (hi - lo) and hi > lo:
        pad = 0.1 * (hi - lo)
        a.set_ylim(lo - pad, hi + pad)
        a.set_title(a.get_title() + f"\n(y clipped: up to {hi_all:.3g} before epoch "
                    f"{int(epoch[-1] // 10)}; --full-y shows all)", fontsize=9)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", help="a regsweep results file (OUT.h5)")
    ap.add_argument("--config", action="append", metavar="'keep=K l2=X l1=Y'",
                    help="a config to plot (repeatable); keep=0.8,0.5 for per-layer "
                         "keeps; keys left out match any value")
    ap.add_argument("--band", choices=("ci", "sd"), default="ci",
                    help="ci: 95%% t-interval of the mean over seeds (default); "
                         "sd: mean +- 1 sd across seeds")
    ap.add_argument("--logy", action="store_true", help="log scale for the loss panel")
    ap.add_argument("--full-y", action="store_true",
                    help="never clip the y axes to hide an early transient")
    ap.add_argument("-o", "--out", default="results",
                    help="output folder (file NAME_curves.png) or a .png path "
                         "(default: results)")
    args = ap.parse_args()

    f = rsread.open_results(args.results)
    jobs = rsread.done(rsread.with_configs(rsread.jobs_table(f)))
    if jobs.empty:
        rsread.fail(f"{args.results}: no finished jobs")
    chosen = choose_configs(jobs, args.config, args.results)
    classifier = rsread.is_classifier(jobs)
    band_text = ("band: 95% t-interval of the mean over seeds" if args.band == "ci"
                 else "band: mean ± 1 sd across seeds")

    ncol = 3 if classifier else 2
    fig, ax = plt.subplots(1, ncol, figsize=(5.2 * ncol, 4.2))
    drawn = {a: [] for a in range(ncol)}  # every line and band edge, per panel
    for i, label in enumerate(chosen):
        ids = jobs.loc[jobs["config"] == label, "id"]
        color = f"C{i}"
        epoch = rsread.curves(f, ids.iloc[0], "epoch")
        tr = np.array([rsread.curves(f, j, "train_loss") for j in ids])
        te = np.array([rsread.curves(f, j, "test_loss") for j in ids])
        series = [(0, tr, "--", "train"), (0, te, "-", "test"), (1, te - tr, "-", "gap")]
        if classifier:
            series += [(2, np.array([rsread.curves(f, j, "train_acc") for j in ids]),
                        "--", "train"),
                       (2, np.array([rsread.curves(f, j, "test_acc") for j in ids]),
                        "-", "test")]
        for k, values, style, what in series:
            n, mean, lo, hi = band(values, args.band)
            ax[k].plot(epoch, mean, style, color=color, lw=1.4,
                       label=f"{label} {what} (n={n.max()})")
            ax[k].fill_between(epoch, lo, hi, color=color, alpha=0.2, lw=0)
            drawn[k] += [mean, lo, hi]
        print(f"{label}: {len(ids)} seeds; final mean train loss {tr[:, -1].mean():.6g}, "
              f"test loss {te[:, -1].mean():.6g}, gap {(te - tr)[:, -1].mean():.6g}")
    ax[0].set(title="clean loss (train dashed, test solid)", xlabel="epoch", ylabel="loss")
    if args.logy:
        ax[0].set_yscale("log")
    lim = ax[1].get_ylim()
    ax[1].axhline(0, color="grey", lw=0.6)   # drawn only where 0 is in range
    ax[1].set_ylim(lim)
    ax[1].set(title="gap = test loss − train loss", xlabel="epoch", ylabel="gap")
    if classifier:
        ax[2].set(title="accuracy (train dashed, test solid)", xlabel="epoch",
                  ylabel="accuracy")
    for k, a in enumerate(ax):
        if not args.full_y and not (k == 0 and args.logy):
            clip_transient(a, epoch, drawn[k])
        a.grid(alpha=0.3)
        a.legend(fontsize=7)
    fig.suptitle(f"{f.attrs['name']}: mean over seeds; {band_text}")
    fig.tight_layout()
    path = rsread.output_path(args.out, f, "curves")
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
