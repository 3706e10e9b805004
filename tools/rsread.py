# SPDX-License-Identifier: MIT
"""rsread: reading a regsweep results file (docs/FORMAT.md) for the plotting
scripts in tools/.

Only h5py, numpy and pandas (and matplotlib, in save_figure); nothing here
knows regsweep's C code.  The functions that can fail on user input print
one line naming the file and exit with status 2, as the regsweep command
line does.  Figure text comes from here too (config_label, loss_label,
gap_label), so that every figure names things the same way.
"""
import math
import os
import re
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
    version = int(f.attrs.get("format_version", -1))
    if version != 2:
        f.close()
        fail(f"{path}: results format version {version}; these tools read "
             f"version 2 (regsweep 0.2); version 1 files are read by the "
             f"tools of regsweep 0.1")
    return f


def jobs_table(f):
    """The /jobs summary table as a DataFrame, one row per job; the extra
    axes' keys in the spec's order (the /jobs attribute 'axes') are kept in
    its attrs['axes']."""
    jobs = pd.DataFrame({k: (v.asstr()[()] if h5py.check_string_dtype(v.dtype) else v[()])
                         for k, v in f["jobs"].items()})
    jobs.attrs["axes"] = [a.decode() if isinstance(a, bytes) else str(a)
                          for a in f["jobs"].attrs.get("axes", [])]
    return jobs


def axis_columns(jobs):
    """The extra axes' columns (dotted keys: 'train.lr', 'model.layers'), in
    the spec's order when the table knows it, else by name."""
    order = [c for c in jobs.attrs.get("axes", []) if c in jobs.columns]
    return order + sorted(c for c in jobs.columns if "." in c and c not in order)


def axis_text(value):
    """An extra axis's value as the report writes it in labels: numbers as
    number_text, names and layer lists ('1-64-64-1') as they are."""
    if isinstance(value, (str, bytes)):
        return value.decode() if isinstance(value, bytes) else value
    return number_text(value)


def keep_columns(jobs):
    """['keep_prob_1', ..., 'keep_prob_H'] in layer order (empty: no hidden layer)."""
    cols = [c for c in jobs.columns if c.startswith("keep_prob_")]
    return sorted(cols, key=lambda c: int(c.rsplit("_", 1)[1]))


def keep_text(keeps):
    """One keep per layer -> '0.7' when all layers agree, else '0.8,0.5'
    (the form `plot_curves.py --config keep=0.8,0.5` takes)."""
    if not keeps:
        return "-"
    if all(k == keeps[0] for k in keeps):
        return f"{keeps[0]:g}"
    return ",".join(f"{k:g}" for k in keeps)


def number_text(x):
    """A setting as a reader writes it (and `regsweep report` labels it):
    '0', '0.5', '1', '0.01', and below 0.01 short scientific form with at
    most three significant digits: '1e-3', '2.5e-4'."""
    x = float(x)
    if x == 0 or abs(x) >= 0.01:
        return f"{x:g}"
    mantissa, exponent = f"{x:.2e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent)}"


def config_label(keeps, l2, l1, show_l1, extra=()):
    """A config as `regsweep report` labels it and the figures show it:
    'keep 0.7, L2 1e-3'; per-layer keeps 'keep 0.8/0.5' (hidden layer 1
    first); ', L1 1e-4' only when `show_l1` (the grid has a non-zero L1
    value); 'keep -' for a model without hidden layers; then each extra
    axis of `extra` ((key, value) pairs in the spec's order): ', train.lr
    0.5, model.layers 1-64-64-1'."""
    keeps = [float(k) for k in keeps]
    same = all(k == keeps[0] for k in keeps)
    keep = "/".join(number_text(k) for k in keeps[:1 if same else None]) or "-"
    label = f"keep {keep}, L2 {number_text(l2)}"
    label += f", L1 {number_text(l1)}" if show_l1 else ""
    return label + "".join(f", {k} {axis_text(v)}" for k, v in extra)


def with_configs(jobs):
    """Add a 'config' column, each job's config labelled as `regsweep
    report` labels it ('keep 0.7, L2 0'; see config_label), and 'keep_mean',
    the mean keep over layers."""
    kc = keep_columns(jobs)
    ac = axis_columns(jobs)
    show_l1 = bool((jobs["l1"] != 0).any())
    jobs = jobs.copy()
    jobs["config"] = [config_label(list(r[kc]), r["l2"], r["l1"], show_l1,
                                   [(c, r[c]) for c in ac])
                      for _, r in jobs.iterrows()]
    jobs["keep_mean"] = jobs[kc].mean(axis=1) if kc else 1.0
    return jobs


def done(jobs):
    """Rows whose status is 'done' (metrics of other rows are NaN)."""
    return jobs[jobs["status"] == "done"]


def is_classifier(jobs):
    """True when accuracies are recorded (softmax cross-entropy models):
    FORMAT.md stores the accuracy columns only for classification."""
    return "test_acc" in jobs.columns


def loss_kind(jobs):
    """The spec's model.loss: 'softmax_cross_entropy' or 'mse'.  Read from the
    accuracy columns of /jobs: regsweep records accuracies exactly for
    classification data, and accepts softmax cross-entropy exactly there (a
    spec pairing the loss with the other kind of data is refused), so
    accuracy columns <=> cross-entropy; FORMAT.md: regression stores none."""
    return "softmax_cross_entropy" if is_classifier(jobs) else "mse"


LOSS_NAME = {"mse": "MSE", "softmax_cross_entropy": "cross-entropy (nats)"}


def loss_label(kind, split=None):
    """'test MSE', 'train cross-entropy (nats)', or without a split 'MSE'."""
    return f"{split} {LOSS_NAME[kind]}" if split else LOSS_NAME[kind]


def gap_label(kind, metric="gap"):
    """The generalisation gap in words: metric 'gap' is test − train loss,
    'gap_acc' train − test accuracy."""
    if metric == "gap_acc":
        return "generalisation gap: train − test accuracy"
    return f"generalisation gap: test − train {LOSS_NAME[kind]}"


def seeds_text(ns):
    """'n = 5 seeds', or 'n = 3–5 seeds' when configs finished different numbers."""
    ns = sorted({int(n) for n in ns})
    if not ns:
        return "no seeds"
    span = f"{ns[0]}–{ns[-1]}" if len(ns) > 1 else f"{ns[0]}"
    return f"n = {span} seed{'' if ns[-1] == 1 else 's'}"


def curves(f, job_id, name):
    """One job's curve `name` (e.g. 'test_loss'), length epochs + 1; all
    NaN for a quantity the job cannot have (FORMAT.md stores none)."""
    g = f["runs"][job_id]["curves"]
    if name in g:
        return g[name][()]
    return np.full(len(g["epoch"]), np.nan)


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


# ---- the report's tables (/analysis) --------------------------------------

def table(group):
    """An /analysis table (1-D columns of equal length) as a DataFrame."""
    return pd.DataFrame({k: (v.asstr()[()] if h5py.check_string_dtype(v.dtype) else v[()])
                         for k, v in group.items()})


def analysis_at(f):
    """'final' or 'best': the epoch the stored report used (`--at`), from an
    'at' attribute where there is one, else /analysis/configs' description
    ('... at the final epoch ...' or '... at each job's epoch of smallest
    ... loss ...'); None when it cannot be told."""
    an = f["analysis"]
    for obj in (an, an.get("configs"), an.get("comparisons")):
        at = obj.attrs.get("at") if obj is not None else None
        at = at.decode() if isinstance(at, bytes) else at
        if at in ("final", "best"):
            return at
    desc = str(an["configs"].attrs.get("description", "")) if "configs" in an else ""
    if re.search(r"epoch of smallest|best epoch", desc):
        return "best"
    if "final epoch" in desc:
        return "final"
    return None


def analysis_baseline(f):
    """The baseline config's label (as `regsweep report` wrote it) of the
    stored comparisons: the /analysis/configs row with is_baseline = 1, else
    a 'baseline' attribute, else the quoted name in /analysis/comparisons'
    description ("each config against the baseline 'keep 1, L2 0': ...");
    None when it is not recorded."""
    an = f["analysis"]
    configs = an.get("configs")
    if configs is not None and "is_baseline" in configs and "config" in configs:
        flags = configs["is_baseline"][()]
        if (flags == 1).sum() == 1:
            return configs["config"].asstr()[()][int(np.argmax(flags == 1))]
    groups = [an.get("comparisons"), an, configs]
    for g in groups:
        if g is not None and "baseline" in g.attrs:
            v = g.attrs["baseline"]
            return v.decode() if isinstance(v, bytes) else str(v)
    for g in groups:
        if g is not None:
            m = re.search(r"baseline '([^']*)'", str(g.attrs.get("description", "")))
            if m:
                return m.group(1)
    return None


# ---- output ---------------------------------------------------------------

FIGURE_FORMATS = (".png", ".pdf", ".svg")


def output_path(out, name, kind):
    """Where a figure goes, by the rule every plot script follows for `-o`:

    - `out` ends in .png, .pdf or .svg (any case): it is the file, written in
      that format; its folder must exist;
    - `out` has no extension, ends in '/', or is an existing folder: it is a
      folder (created when the figure is saved) and the file inside is
      NAME_<kind>.png;
    - any other extension (fig.jpeg, fig.eps) is refused.

    Checks only; creates nothing (save_figure does).  Exits 2 on a bad `-o`."""
    ext = "" if out.endswith(("/", os.sep)) else os.path.splitext(out)[1]
    if ext.lower() in FIGURE_FORMATS:
        folder = os.path.dirname(out)
        if folder and not os.path.isdir(folder):
            fail(f"-o {out}: folder '{folder}' does not exist")
        if os.path.isdir(out):
            fail(f"-o {out}: is a folder, not a file (remove it or name another file)")
        return out
    if ext and not os.path.isdir(out):
        fail(f"-o {out}: unknown figure format '{ext}' (supported: "
             f"{', '.join(FIGURE_FORMATS)}; a name without an extension, or "
             f"ending in '/', is a folder)")
    if os.path.exists(out) and not os.path.isdir(out):
        fail(f"-o {out}: exists and is not a folder")
    return os.path.join(out, f"{name}_{kind}.png")


def save_figure(fig, path, dpi=110):
    """Write `fig` to `path` (from output_path) in the format its extension
    names, creating its folder if needed, and say so on stdout.  Text in
    PDFs is embedded as TrueType (Type 42), as journals ask; PDF and SVG
    carry no creation date, so equal figures give equal files."""
    import matplotlib
    folder = os.path.dirname(path)
    fmt = os.path.splitext(path)[1].lower().lstrip(".")
    metadata = {"pdf": {"CreationDate": None}, "svg": {"Date": None}}.get(fmt)
    try:
        if folder:
            os.makedirs(folder, exist_ok=True)
        with matplotlib.rc_context({"pdf.fonttype": 42, "svg.hashsalt": "regsweep"}):
            fig.savefig(path, format=fmt, dpi=dpi, metadata=metadata)
    except OSError as e:
        fail(f"{path}: cannot write the figure ({e.strerror or e})")
    print(f"wrote {path}")
