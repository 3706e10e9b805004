#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""job_stats: a per-job quantity that `regsweep report` does not tabulate
(the share of exact zeros, the MC-dropout test loss, the activation
variances of record.act_var), summarised per config and compared with a
baseline config, paired by seed, the way the report compares its metrics.

    job_stats.py OUT.h5 QUANTITY [--minus QUANTITY | --over QUANTITY]
                 [--baseline LABEL | --no-baseline]
                 [--interaction A=V[,A2=V2] B=W[,B2=W2]] [--format text|md]

QUANTITY names a dataset of each job's group /runs/<id> and an index:

    curves/test_loss[-1]         the test loss after the last epoch
    curves/zero_frac[-1,1]       share of exact zeros in W1 after the last epoch
    act_var/noise_var[-1,0]      hidden layer 0's noise variance, last record
    act_var/clean_var[:,1]       hidden layer 1's clean variance, mean over records

Each index item is an integer (negative counts from the end) or ':' (the
mean over that dimension); a dataset with fewer dimensions than items, or a
job without the dataset, gives NaN (left out, and counted).  `jobs/COLUMN`
(no index) is the job's value in the /jobs table (`jobs/gap`,
`jobs/test_acc`), the numbers `regsweep report` compares.  --minus Q2
takes Q - Q2 within each job, --over Q2 the ratio Q / Q2; for a difference
the config table also tests its mean against 0 (one-sample t-test).

Configs are labelled as `regsweep report` labels them ('keep 0.8/0.5, L2 0,
model.layers 784-64-64-10').  The baseline is, as in the report, the config
with keep 1, L2 0, L1 0 and each extra axis at its first value when the grid
has it; --baseline names another by its label.  For every other config:
n seeds paired with the baseline, the mean per-seed difference d = config -
baseline with its 95% t-interval and the paired t-test's p, Holm-adjusted
over the rows of the table (one family), as the report does.  Only jobs
with status 'done' are used.

--interaction asks whether two changes to the baseline add up.  Each is a
comma-separated list of /jobs axis columns and values (`keep_prob_1=0.8,
keep_prob_2=0.5`, `l2=0.001`, `model.layers=784-512-512-10`); the four
configs are the baseline, the baseline with the first change, with the
second, and with both.  Per seed it takes A's effect without B, A's
effect with B, and their difference (both - B - A + baseline: 0 when the
effects add), each with n, mean [95% CI] and the paired t-test's p,
Holm-adjusted over these three rows.

Only h5py, numpy and pandas (through rsread).
"""
import argparse
import math
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rsread  # noqa: E402

QUANTITY = re.compile(r"^([A-Za-z0-9_/.]+)\[([^]]*)\]$")


def parse_quantity(text):
    """'curves/zero_frac[-1,1]' -> ('curves/zero_frac', [-1, 1]); ':' items
    are None (the mean over that dimension)."""
    text = text.strip()
    if re.fullmatch(r"jobs/[A-Za-z0-9_.]+", text):
        return text, None
    m = QUANTITY.match(text)
    if not m:
        rsread.fail(f"{text}: expected PATH[INDEX], e.g. curves/test_loss[-1] "
                    f"or act_var/noise_var[:,0], or jobs/COLUMN")
    items = []
    for item in m.group(2).split(","):
        item = item.strip()
        if item == ":":
            items.append(None)
        elif re.fullmatch(r"-?[0-9]+", item):
            items.append(int(item))
        else:
            rsread.fail(f"{text}: index item '{item}' is neither an integer nor ':'")
    return m.group(1), items


def value_of(group, quantity, row=None):
    """One job's value of a parsed quantity, NaN when it does not exist;
    row: the job's /jobs row, for jobs/COLUMN."""
    path, items = quantity
    if items is None:
        column = path[len("jobs/"):]
        return float(row[column]) if column in row.index else math.nan
    if path not in group:
        return math.nan
    data = np.asarray(group[path][()], dtype=float)
    if data.ndim != len(items):
        return math.nan
    index = tuple(slice(None) if i is None else i for i in items)
    try:
        picked = data[index]
    except IndexError:
        return math.nan
    return float(np.mean(picked))


def holm(ps):
    """Holm's step-down adjustment of the p-values ps (NaN stays NaN)."""
    ps = np.asarray(ps, dtype=float)
    ok = np.flatnonzero(np.isfinite(ps))
    order = ok[np.argsort(ps[ok], kind="stable")]
    out = np.full(len(ps), math.nan)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(order) - rank) * ps[i]))
        out[i] = running
    return out


def t_test_p(values):
    """(n, mean, ci_lo, ci_hi, p) of the one-sample t-test of mean = 0."""
    n, mean, sd, lo, hi = rsread.mean_ci(values)
    n = int(n)
    if n < 2 or not np.isfinite(sd):
        return n, float(mean), math.nan, math.nan, math.nan
    if sd == 0:
        return n, float(mean), float(lo), float(hi), 1.0 if mean == 0 else 0.0
    t = abs(mean) / (sd / math.sqrt(n))
    return n, float(mean), float(lo), float(hi), 1.0 - rsread.t_two_sided_prob(t, n - 1)


def number(x, digits=4):
    if not np.isfinite(x):
        return "-"
    return f"{x:.{digits}g}"


def p_text(p):
    if not np.isfinite(p):
        return "-"
    if p < 1e-10:
        return "<1e-10"
    return f"{p:.2g}" if p >= 1e-4 else f"{p:.1e}"


def print_table(title, header, rows, fmt):
    print(title)
    if fmt == "md":
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for r in rows:
            print("| " + " | ".join(r) + " |")
    else:
        widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
                  for i, h in enumerate(header)]
        print("  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip())
        for r in rows:
            print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    print()


def parse_change(text):
    """'keep_prob_1=0.8,keep_prob_2=0.5' -> {'keep_prob_1': '0.8', ...}."""
    change = {}
    for item in text.split(","):
        key, eq, value = item.partition("=")
        if not eq or not key.strip() or not value.strip():
            rsread.fail(f"--interaction: expected COLUMN=VALUE[,COLUMN=VALUE], got '{text}'")
        change[key.strip()] = value.strip()
    return change


def same_value(column, wanted):
    """Where a /jobs column equals a value written on the command line
    (numbers as numbers: 0.001 and 1e-3 are one value)."""
    if column.dtype.kind in "fiu":
        try:
            return np.isclose(column.to_numpy(float), float(wanted), rtol=1e-12, atol=0)
        except ValueError:
            return np.zeros(len(column), bool)
    return (column.astype(str) == wanted).to_numpy()


def interaction(jobs, baseline, changes, what, fmt):
    """Prints A's effect without and with B, and their difference, paired by
    seed (see the module's docstring)."""
    keys = rsread.keep_columns(jobs) + ["l2", "l1"] + rsread.axis_columns(jobs)
    base = jobs[jobs["config"] == baseline].iloc[0]
    for change in changes:
        for key in change:
            if key not in keys:
                rsread.fail(f"--interaction: '{key}' is not an axis column of /jobs "
                            f"({', '.join(keys)})")
    cells = {}
    for ia in (0, 1):
        for ib in (0, 1):
            changed = {}
            for on, change in ((ia, changes[0]), (ib, changes[1])):
                if on:
                    changed.update(change)
            sel = np.ones(len(jobs), bool)
            for k in keys:
                sel &= (same_value(jobs[k], changed[k]) if k in changed
                        else (jobs[k] == base[k]).to_numpy())
            hit = jobs[sel]
            if not len(hit):
                rsread.fail(f"--interaction: no config is the baseline with "
                            f"{changed or 'nothing'} changed")
            cells[ia, ib] = hit.set_index("seed")["value"]
    a_without = cells[1, 0] - cells[0, 0]
    a_with = cells[1, 1] - cells[0, 1]
    names = [" ".join(f"{k}={v}" for k, v in c.items()) for c in changes]
    rows, ps = [], []
    for label, d in ((f"{names[0]}, without {names[1]}", a_without),
                     (f"{names[0]}, with {names[1]}", a_with),
                     ("difference (interaction)", a_with - a_without)):
        d = d.dropna()
        n, mean, lo, hi, p = t_test_p(d.to_numpy())
        rows.append([label, f"{n}", f"{number(mean, 3)} [{number(lo, 3)}, {number(hi, 3)}]"])
        ps.append(p)
    for r, p in zip(rows, holm(ps)):
        r.append(p_text(p))
    print_table(f"{what}: the effect of {names[0]} without and with {names[1]}, "
                f"from the baseline {baseline}, paired by seed:",
                ["effect", "n", "mean d [95% CI]", "p (paired t, Holm)"], rows, fmt)


def default_baseline(jobs):
    """The report's default baseline: keep 1, L2 0, L1 0 and each extra
    axis at its first value (in the spec's order), when the grid has it."""
    sel = (jobs["l2"] == 0) & (jobs["l1"] == 0)
    for c in rsread.keep_columns(jobs):
        sel &= jobs[c] == 1.0
    first = jobs.sort_values("job").iloc[0]
    for c in rsread.axis_columns(jobs):
        sel &= jobs[c] == first[c]
    hit = jobs[sel]
    return hit["config"].iloc[0] if len(hit) else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", help="OUT.h5")
    ap.add_argument("quantity", help="PATH[INDEX], e.g. curves/zero_frac[-1,1]")
    how = ap.add_mutually_exclusive_group()
    how.add_argument("--minus", help="subtract this quantity of the same job")
    how.add_argument("--over", help="divide by this quantity of the same job")
    base = ap.add_mutually_exclusive_group()
    base.add_argument("--baseline", help="the baseline config, by its label")
    base.add_argument("--no-baseline", action="store_true",
                      help="only the per-config table")
    ap.add_argument("--interaction", nargs=2, metavar=("A=V", "B=W"),
                    help="do the changes A and B to the baseline add up? "
                         "(COLUMN=VALUE[,COLUMN=VALUE] each)")
    ap.add_argument("--format", choices=("text", "md"), default="text")
    a = ap.parse_args()
    if a.interaction and a.no_baseline:
        ap.error("--interaction needs a baseline")
    changes = [parse_change(t) for t in a.interaction] if a.interaction else None

    q = parse_quantity(a.quantity)
    other = parse_quantity(a.minus or a.over) if (a.minus or a.over) else None
    what = a.quantity + (f" - {a.minus}" if a.minus else f" / {a.over}" if a.over else "")
    with rsread.open_results(a.results) as f:
        jobs = rsread.with_configs(rsread.jobs_table(f))
        jobs = rsread.done(jobs).copy()
        values = []
        for _, row in jobs.iterrows():
            g = f["runs"][row["id"]]
            v = value_of(g, q, row)
            if other:
                w = value_of(g, other, row)
                v = v - w if a.minus else (v / w if w != 0 else math.nan)
            values.append(v)
        jobs["value"] = values
    if not len(jobs):
        rsread.fail(f"{a.results}: no finished job")
    configs = list(dict.fromkeys(jobs.sort_values("job")["config"]))
    name = os.path.basename(a.results)
    rows, ps = [], []
    for c in configs:
        v = jobs[jobs["config"] == c]["value"].to_numpy()
        n, mean, lo, hi, p = t_test_p(v)
        missing = int(np.sum(~np.isfinite(v)))
        rows.append([c, f"{n}" + (f" ({missing} NaN)" if missing else ""),
                     f"{number(mean)} [{number(lo)}, {number(hi)}]"])
        ps.append(p)
    header = ["config", "n", "mean [95% CI]"]
    if a.minus:
        header.append("p (t: mean = 0, Holm)")
        for r, p in zip(rows, holm(ps)):
            r.append(p_text(p))
    print_table(f"{name}: {what}, per config (mean over seeds):", header, rows, a.format)

    if a.no_baseline:
        return
    baseline = a.baseline or default_baseline(jobs)
    if baseline is None:
        print("no baseline config (keep 1, L2 0, L1 0, extra axes at their first "
              "values) in the grid: name one with --baseline LABEL")
        return
    if baseline not in configs:
        rsread.fail(f"{a.results}: no config labelled '{baseline}'; the configs are: "
                    + "; ".join(configs))
    b = jobs[jobs["config"] == baseline].set_index("seed")["value"]
    rows, ps = [], []
    for c in configs:
        if c == baseline:
            continue
        v = jobs[jobs["config"] == c].set_index("seed")["value"]
        d = (v - b).dropna()
        n, mean, lo, hi, p = t_test_p(d.to_numpy())
        rows.append([c, f"{n}", f"{number(mean, 3)} [{number(lo, 3)}, {number(hi, 3)}]"])
        ps.append(p)
    for r, p in zip(rows, holm(ps)):
        r.append(p_text(p))
    print_table(f"{what} against the baseline {baseline}, paired by seed "
                f"(d = config - baseline):",
                ["config", "n", "mean d [95% CI]", "p (paired t, Holm)"], rows, a.format)
    if changes:
        interaction(jobs, baseline, changes, what, a.format)


if __name__ == "__main__":
    main()
