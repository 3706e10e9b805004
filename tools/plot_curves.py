#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Mean clean train and test curves over epochs, across seeds, for chosen
configs of a regsweep results file: the "train/test gap with and without
dropout" figure.

Panels: train loss (dashed) and test loss (solid), named by the model's
loss (MSE, or cross-entropy in nats for classifiers); the generalisation gap
test - train loss; for classifiers also train and test accuracy.  Lines are
the mean over the config's finished seeds; bands are the 95% t-interval of
that mean (default) or +-1 standard deviation across seeds (--band sd).
Legends name the configs in words ('keep 0.5, L2 0').  Every number comes
from /jobs and /runs/<id>/curves of the file.

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
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rsread  # noqa: E402


def parse_config(text):
    """A config as the report labels it ('keep 0.8/0.5, L2 1e-3, L1 0') or
    as key=value words ('keep=0.8,0.5 l2=0.001 l1=0') -> {'keep': [0.8, 0.5],
    'l2': 0.001, 'l1': 0.0}; keys left out match anything."""
    if "=" in text:
        tokens = [t.partition("=")[::2] for t in text.replace(";", " ").split()]
        sep = ","
    else:
        words = text.replace(",", " ").split()
        tokens = list(zip(words[::2], words[1::2])) + (
            [(words[-1], "")] if len(words) % 2 else [])
        sep = "/"
    want = {}
    for key, value in tokens:
        key = {"keep_prob": "keep"}.get(key.lower(), key.lower())
        try:
            if key == "keep":
                want[key] = [float(v) for v in value.split(sep)]
            elif key in ("l2", "l1"):
                want[key] = float(value)
            elif "." in key and value:     # an extra axis: train.lr 0.5
                want[key] = value
            else:
                raise ValueError
        except ValueError:
            rsread.fail(f"--config: cannot read '{key} {value}' in '{text}' (expected a "
                        f"config as the report labels it, 'keep 0.8/0.5, L2 1e-3', or "
                        f"keep=K or keep=K1,K2, l2=X, l1=Y)")
    return want


def matches(row, want, keep_cols):
    close = lambda a, b: math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-300)  # noqa: E731
    keeps = [row[c] for c in keep_cols]
    if "keep" in want:
        k = want["keep"] * len(keeps) if len(want["keep"]) == 1 else want["keep"]
        if len(k) != len(keeps) or not all(map(close, k, keeps)):
            return False
    if not all(close(row[key], want[key]) for key in ("l2", "l1") if key in want):
        return False
    # extra axes by their dotted keys: numbers compared as numbers, names
    # and layer lists ('1-64-1', or '[1,64,1]') as text
    for key in (k for k in want if "." in k):
        if key not in row:
            return False
        value = row[key]
        if isinstance(value, str):
            text = want[key].strip("[]").replace(" ", "").replace(",", "-")
            if value != text:
                return False
        else:
            try:
                if not close(float(value), float(want[key])):
                    return False
            except ValueError:
                return False
    return True


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
        a.set_title(f"y axis clipped: before epoch {int(epoch[-1] // 10)} the curves "
                    f"span {lo_all:.3g} to {hi_all:.3g}", fontsize=9)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", help="a regsweep results file (OUT.h5)")
    ap.add_argument("--config", action="append", metavar="'keep K, L2 X'",
                    help="a config to plot (repeatable), as the report labels it "
                         "('keep 0.8/0.5, L2 1e-3') or as 'keep=0.8,0.5 l2=0.001'; "
                         "keys left out match any value")
    ap.add_argument("--band", choices=("ci", "sd"), default="ci",
                    help="ci: 95%% t-interval of the mean over seeds (default); "
                         "sd: mean +- 1 sd across seeds")
    ap.add_argument("--logy", action="store_true", help="log scale for the loss panel")
    ap.add_argument("--full-y", action="store_true",
                    help="never clip the y axes to hide an early transient")
    ap.add_argument("-o", "--out", default="results",
                    help="a .png, .pdf or .svg file, or a folder for NAME_curves.png "
                         "(default: results)")
    args = ap.parse_args()

    f = rsread.open_results(args.results)
    path = rsread.output_path(args.out, f.attrs["name"], "curves")
    jobs = rsread.done(rsread.with_configs(rsread.jobs_table(f)))
    if jobs.empty:
        rsread.fail(f"{args.results}: no finished jobs")
    chosen = choose_configs(jobs, args.config, args.results)
    kind = rsread.loss_kind(jobs)
    classifier = kind == "softmax_cross_entropy"
    band_text = ("shaded: 95% CI of the mean" if args.band == "ci"
                 else "shaded: mean ± 1 sd across seeds")

    ncol = 3 if classifier else 2
    fig, ax = plt.subplots(1, ncol, figsize=(5.2 * ncol, 4.2))
    drawn = {a: [] for a in range(ncol)}  # every line and band edge, per panel
    n_seeds, handles = [], []
    for i, label in enumerate(chosen):
        rows = jobs.loc[jobs["config"] == label]
        ids = rows["id"]
        color = f"C{i}"
        epoch = rsread.curves(f, ids.iloc[0], "epoch")
        tr = np.array([rsread.curves(f, j, "train_loss") for j in ids])
        te = np.array([rsread.curves(f, j, "test_loss") for j in ids])
        series = [(0, tr, "--"), (0, te, "-"), (1, te - tr, "-")]
        if classifier:
            series += [(2, np.array([rsread.curves(f, j, "train_acc") for j in ids]), "--"),
                       (2, np.array([rsread.curves(f, j, "test_acc") for j in ids]), "-")]
        for k, values, style in series:
            n, mean, lo, hi = band(values, args.band)
            ax[k].plot(epoch, mean, style, color=color, lw=1.4)
            ax[k].fill_between(epoch, lo, hi, color=color, alpha=0.2, lw=0)
            drawn[k] += [mean, lo, hi]
        n_seeds.append(len(ids))
        handles.append(Line2D([], [], color=color, lw=1.4, label=label))
        print(f"{label}: {len(ids)} seeds; final mean train loss {tr[:, -1].mean():.6g}, "
              f"test loss {te[:, -1].mean():.6g}, gap {(te - tr)[:, -1].mean():.6g}")
    style = lambda ls, text: Line2D([], [], color="k", ls=ls, lw=1.2, label=text)  # noqa: E731
    ax[0].set(xlabel="epoch", ylabel=f"train and test {rsread.loss_label(kind)}")
    ax[0].legend(handles=handles + [style("--", rsread.loss_label(kind, "train")),
                                    style("-", rsread.loss_label(kind, "test"))], fontsize=7)
    if args.logy:
        ax[0].set_yscale("log")
    lim = ax[1].get_ylim()
    ax[1].axhline(0, color="grey", lw=0.6)   # drawn only where 0 is in range
    ax[1].set_ylim(lim)
    ax[1].set(xlabel="epoch", ylabel=rsread.gap_label(kind))
    ax[1].legend(handles=list(handles), fontsize=7)
    if classifier:
        ax[2].set(xlabel="epoch", ylabel="train and test accuracy")
        ax[2].legend(handles=handles + [style("--", "train accuracy"),
                                        style("-", "test accuracy")], fontsize=7)
    for k, a in enumerate(ax):
        if not args.full_y and not (k == 0 and args.logy):
            clip_transient(a, epoch, drawn[k])
        a.xaxis.set_major_locator(MaxNLocator(integer=True))
        a.grid(alpha=0.3)
    fig.suptitle(f"{f.attrs['name']}: mean over {rsread.seeds_text(n_seeds)}; {band_text}")
    fig.tight_layout()
    rsread.save_figure(fig, path)


if __name__ == "__main__":
    main()
