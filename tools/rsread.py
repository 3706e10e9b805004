# SPDX-License-Identifier: MIT
"""rsread: reading a regsweep results file (docs/FORMAT.md) for the plotting
scripts in tools/.

Only h5py, numpy and pandas; nothing here knows regsweep's C code.  The
functions that can fail on user input print one line naming the file and
exit with status 2, as the regsweep command line does.
"""
import math
import os
import sys

import h5py
import numpy as np
import pandas as pd

LEVEL = 0.95  # the confidence level of every interval the scripts draw


def fail(msg):
    """Print 'PROG: msg' on stderr and exit 2 (bad input)."""
    print(f"{os.path.basename(sys.argv[0])}: {msg}", file=sys.stderr)
    sys.exit(2)


def open_results(path):
    """Open OUT.h5 read-only; exit 2 unless it is a regsweep results file of
    format version 1."""
    if not os.path.isfile(path):
        fail(f"{path}: no such file")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        fail(f"{path}: not an HDF5 file ({e})")
    fmt = f.attrs.get("format")
    if fmt != "regsweep-results":
        f.close()
        fail(f"{path}: not a regsweep results file (root attribute 'format' "
             f"is {fmt!r}, expected 'regsweep-results')")
    if int(f.attrs.get("format_version", -1)) != 1:
        f.close()
        fail(f"{path}: format_version {f.attrs.get('format_version')} is not 1")
    return f


def jobs_table(f):
    """The /jobs summary table as a DataFrame, one row per job."""
    return pd.DataFrame({k: (v.asstr()[()] if h5py.check_string_dtype(v.dtype) else v[()])
                         for k, v in f["jobs"].items()})


def keep_columns(jobs):
    """['keep_prob_1', ..., 'keep_prob_H'] in layer order (empty: no hidden layer)."""
    cols = [c for c in jobs.columns if c.startswith("keep_prob_")]
    return sorted(cols, key=lambda c: int(c.rsplit("_", 1)[1]))


def keep_text(keeps):
    """One keep per layer -> '0.7' when all layers agree, else '0.8,0.5'
    (the convention of `regsweep report`'s config labels)."""
    if not keeps:
        return "-"
    if all(k == keeps[0] for k in keeps):
        return f"{keeps[0]:g}"
    return ",".join(f"{k:g}" for k in keeps)


def with_configs(jobs):
    """Add a 'config' column labelled like `regsweep report`
    ('keep=0.7 l2=0 l1=0') and 'keep_mean', the mean keep over layers."""
    kc = keep_columns(jobs)
    jobs = jobs.copy()
    jobs["config"] = [f"keep={keep_text(list(r[kc]))} l2={r['l2']:g} l1={r['l1']:g}"
                      for _, r in jobs.iterrows()]
    jobs["keep_mean"] = jobs[kc].mean(axis=1) if kc else 1.0
    return jobs


def done(jobs):
    """Rows whose status is 'done' (metrics of other rows are NaN)."""
    return jobs[jobs["status"] == "done"]


def is_classifier(jobs):
    """True when accuracies are recorded (softmax cross-entropy models)."""
    return bool(np.isfinite(done(jobs)["train_acc"]).any())


def curves(f, job_id, name):
    """One job's curve `name` (e.g. 'test_loss'), length epochs + 1."""
    return f["runs"][job_id]["curves"][name][()]


def unpack_mask(masks, layer, record):
    """Bool (rows, units) dropout mask of one recorded step: True = kept."""
    m = masks[f"layer{layer}"]
    rows = int(masks["n_rows"][record])
    units = int(m.attrs["n_units"])
    bits = np.unpackbits(m[record, :rows], axis=1, bitorder="little")
    return bits[:, :units].astype(bool)


# ---- statistics -----------------------------------------------------------

def t_two_sided_prob(t, df):
    """P(|T| < t) for Student's t with integer df >= 1: the finite series of
    Abramowitz & Stegun 26.7.3 (odd df) and 26.7.4 (even df)."""
    theta = math.atan(t / math.sqrt(df))
    c2, s = math.cos(theta) ** 2, math.sin(theta)
    if df % 2:
        term, total = math.cos(theta), 0.0
        for k in range(1, (df - 1) // 2 + 1):  # cos + 2/3 cos^3 + 2*4/(3*5) cos^5 ...
            total += term
            term *= c2 * (2 * k) / (2 * k + 1)
        return 2 / math.pi * (theta + s * total) if df > 1 else 2 * theta / math.pi
    term, total = 1.0, 0.0
    for k in range(1, df // 2 + 1):            # 1 + 1/2 cos^2 + 1*3/(2*4) cos^4 ...
        total += term
        term *= c2 * (2 * k - 1) / (2 * k)
    return s * total


def t_quantile(level, df):
    """The t such that P(|T| < t) = level (e.g. 2.262 for 0.95, df 9), by
    bisection on t_two_sided_prob."""
    lo, hi = 0.0, 1.0
    while t_two_sided_prob(hi, df) < level:
        hi *= 2
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if t_two_sided_prob(mid, df) < level else (lo, mid)
    return (lo + hi) / 2


def mean_ci(values, level=LEVEL):
    """(n, mean, sd, ci_lo, ci_hi) of the finite values along axis 0: the
    t-interval mean +- t_{df=n-1} * sd / sqrt(n); the interval is NaN for n < 2."""
    v = np.asarray(values, dtype=float)
    ok = np.isfinite(v)
    n = ok.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(ok, v, 0).sum(axis=0) / n
        sd = np.sqrt(np.where(ok, (v - mean) ** 2, 0).sum(axis=0) / (n - 1))
        half = np.array([t_quantile(level, k - 1) if k >= 2 else np.nan
                         for k in np.atleast_1d(n)]).reshape(np.shape(n)) * sd / np.sqrt(n)
    return n, mean, sd, mean - half, mean + half


# ---- output ---------------------------------------------------------------

def output_path(out, f, kind):
    """Where a figure goes: `out` itself when it ends in .png, else
    out/<sweep name>_<kind>.png (the folder is created)."""
    if out.lower().endswith(".png"):
        folder, path = os.path.dirname(out), out
    else:
        folder, path = out, os.path.join(out, f"{f.attrs['name']}_{kind}.png")
    if folder:
        os.makedirs(folder, exist_ok=True)
    return path
