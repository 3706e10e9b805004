#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The activation-histogram demo of inverted dropout, with masks that
regsweep wrote.

For each wanted keep probability (default 1.0, 0.8, 0.5) the script picks a
stored mask: the first finished job (in /jobs order) and hidden layer whose
keep probability is nearest to the wanted one (the first of equally near
ones), and takes all its recorded steps (masks/layer<l> of /runs/<id>,
unpacked with bitorder 'little', at most --max-rows rows).  A layer with
keep 1 stores no mask because it keeps every unit (FORMAT.md); then the
mask is all ones, shaped like the largest mask used in the figure.
Activations are drawn from N(loc, 1) with numpy (seeded: --seed), one per
mask bit, and dropped the way regsweep drops them: kept values times 1/keep
(float32), dropped ones 0.

Printed and shown per keep: the share of zeros (expected 1 - keep), the
mean before and after (inverted dropout preserves it: E[m a / keep] = E[a])
and the sd after (expected sqrt((1 + loc^2) / keep - loc^2)).  The printed table names the
job and layer (0-based, as in masks/layer<l>) each panel used; the figure
names the hidden layer (1-based, as keep_prob_<l> in /jobs).
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


def candidates(f, jobs, layer):
    """(keep, job id, layer, masks group or None) for every hidden layer of
    every finished job that has a usable mask, in /jobs order."""
    out = []
    for job_id in jobs["id"]:
        run = f["runs"][job_id]
        masks = run.get("masks")
        for l, keep in enumerate(np.atleast_1d(run.attrs.get("keep_prob", []))):
            if layer is not None and l != layer:
                continue
            if keep == 1.0:
                out.append((1.0, job_id, l, None))
            elif masks is not None and f"layer{l}" in masks:
                out.append((float(keep), job_id, l, masks))
    return out


def stored_mask(masks, layer, limit):
    """All recorded steps of one layer's mask as bool (rows, units), at most
    `limit` rows."""
    parts, rows = [], 0
    for r in range(masks[f"layer{layer}"].shape[0]):
        parts.append(rsread.unpack_mask(masks, layer, r))
        rows += len(parts[-1])
        if rows >= limit:
            break
    return np.concatenate(parts)[:limit]


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", help="a regsweep results file (OUT.h5) with recorded masks")
    ap.add_argument("--keep", type=float, nargs="+", default=[1.0, 0.8, 0.5],
                    help="wanted keep probabilities (default: 1.0 0.8 0.5)")
    ap.add_argument("--layer", type=int, help="use only this hidden layer (0-based)")
    ap.add_argument("--loc", type=float, default=0.0,
                    help="mean of the normal activations (default 0: N(0,1))")
    ap.add_argument("--seed", type=int, default=0, help="numpy seed for the activations")
    ap.add_argument("--max-rows", type=int, default=5000,
                    help="at most this many mask rows (samples) per keep (default 5000)")
    ap.add_argument("-o", "--out", default="results",
                    help="a .png, .pdf or .svg file, or a folder for NAME_dropout_hist.png "
                         "(default: results)")
    args = ap.parse_args()

    f = rsread.open_results(args.results)
    path = rsread.output_path(args.out, f.attrs["name"], "dropout_hist")
    jobs = rsread.done(rsread.jobs_table(f))
    cands = candidates(f, jobs, args.layer)
    if not any(c[3] is not None for c in cands):
        rsread.fail(f"{args.results}: no dropout masks recorded (a job with keep < 1 "
                    f"and record.masks other than none is needed)")

    picks = []
    for want in args.keep:
        # nearest keep; ties (0.9 and 0.7 for 0.8) go to the first in /jobs order
        keep, job_id, layer, masks = min(cands, key=lambda c: round(abs(c[0] - want), 9))
        mask = stored_mask(masks, layer, args.max_rows) if masks is not None else None
        picks.append((want, keep, job_id, layer, mask))
    shapes = [p[4].shape for p in picks if p[4] is not None] or [
        stored_mask(c[3], c[2], args.max_rows).shape for c in cands if c[3] is not None][:1]
    shape = max(shapes, key=np.prod)

    rng = np.random.default_rng(args.seed)
    fig, ax = plt.subplots(1, len(picks), figsize=(4.6 * len(picks), 4.6), squeeze=False)
    reach = np.ceil(4.5 / np.sqrt(min(p[1] for p in picks)))  # 4.5 sd of the widest
    bins = np.arange(-reach, reach + 0.001, 0.2) + args.loc
    print(f"{'wanted':>6s} {'keep':>6s} {'job':12s} {'layer':>5s} {'values':>8s} "
          f"{'zeros':>8s} {'1-keep':>8s} {'mean in':>9s} {'mean out':>9s} "
          f"{'sd out':>7s} {'expected':>8s}")
    for a, (want, keep, job_id, layer, mask) in zip(ax[0], picks):
        if mask is None:
            mask = np.ones(shape, bool)
        act = rng.normal(args.loc, 1.0, size=mask.shape).astype(np.float32)
        out = np.where(mask, act * (np.float32(1) / np.float32(keep)), np.float32(0))
        zeros = np.mean(out == 0)
        sd_expected = np.sqrt((1 + args.loc ** 2) / keep - args.loc ** 2)
        print(f"{want:6.3g} {keep:6.3g} {job_id:12s} {layer:5d} {out.size:8d} "
              f"{zeros:8.4f} {1 - keep:8.4f} {act.mean():9.4f} {out.mean():9.4f} "
              f"{out.std():7.4f} {sd_expected:8.4f}")

        share = np.full(act.size, 1.0 / act.size)
        a.hist(act.ravel(), bins, weights=share, histtype="step", color="grey",
               label=f"before: mean {act.mean():.3f}, sd {act.std():.3f}")
        nz = out.ravel() != 0
        a.hist(out.ravel()[nz], bins, weights=share[nz], color="C0", alpha=0.6,
               label=f"after: mean {out.mean():.3f}, sd {out.std():.3f}")
        top = a.get_ylim()[1]
        a.bar([0], [zeros], width=0.08, color="C3", label=f"zeros: {100 * zeros:.1f}% "
              f"(1 − keep = {100 * (1 - keep):.0f}%)")
        a.set_ylim(0, top * 1.1)
        if zeros > top:
            a.annotate(f"{100 * zeros:.1f}% (bar off scale)", (0.15, top * 1.03),
                       color="C3", fontsize=8)
        for x, style in ((act.mean(), ":"), (out.mean(), "--")):
            a.axvline(x, color="k", ls=style, lw=0.8)
        note = "" if keep == want else f" (nearest stored to {want:g})"
        src = (f"hidden layer {layer + 1}" if keep < 1
               else f"hidden layer {layer + 1}: keeps every unit, no mask stored")
        a.set_title(f"keep probability {keep:g}{note}\n{src}; {out.size} values", fontsize=9)
        a.set(xlabel="activation", ylabel="share of values per bin (0.2 wide)")
        a.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16))
    fig.suptitle(f"{f.attrs['name']}: inverted dropout on N({args.loc:g}, 1) activations "
                 f"with the dropout masks of the sweep")
    fig.tight_layout()
    rsread.save_figure(fig, path)


if __name__ == "__main__":
    main()
