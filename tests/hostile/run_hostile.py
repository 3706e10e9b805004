#!/usr/bin/python3
"""Hostile inputs through the regsweep command line: every malformed spec,
override and IDX data file must be refused with exit 2 and a message that
says where, without a crash (signal or sanitizer report), a hang (timeout),
an allocation driven by an unchecked header, or anything written.

Run by meson (suite 'hostile'), which passes the binary in $REGSWEEP; runs
the same under an ASan/UBSan build (tools/test.sh's build-asan).

  specs/MANIFEST.tsv   file, line:column, message fragment (105 files)
  overrides.tsv        override, message fragment (applied to valid_base.yaml)
  data/MANIFEST.tsv    bad IDX file, the dataset key it replaces, fragment
  GENERATED below      cases made at run time: a 2 MB file, a directory, ...
"""
import hashlib
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SPECS = os.path.join(HERE, "specs")
DATA = os.path.join(HERE, "data")
REGSWEEP = os.path.abspath(os.environ.get("REGSWEEP", "build/regsweep"))
TIMEOUT_S = 60          # a hang, not a slow machine: release runs take ~10 ms

with open(REGSWEEP, "rb") as _f:
    _bin = _f.read()
    SANITIZED = b"__asan_init" in _bin or b"AddressSanitizer" in _bin

# Address-space cap for the data cases: the largest legal IDX file is 2 GiB,
# so a loader that sized a buffer from a lying header would fail to
# allocate (exit 1, "out of memory") instead of reporting the truncation.
# ASan reserves terabytes of address space, so the cap is off under ASan.
AS_LIMIT = 512 << 20


def read_manifest(path, n_cols):
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            cols = line.split("\t")
            assert len(cols) == n_cols, f"{path}: bad line {line!r}"
            rows.append(cols)
    return rows


def run(args, cwd, limit_as=None):
    def pre():
        if limit_as:
            resource.setrlimit(resource.RLIMIT_AS, (limit_as, limit_as))
    env = dict(os.environ, OMP_NUM_THREADS="2",
               ASAN_OPTIONS="detect_leaks=1:abort_on_error=1",
               UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1")
    return subprocess.run([REGSWEEP, *args], cwd=cwd, capture_output=True,
                          timeout=TIMEOUT_S, env=env, preexec_fn=pre,
                          errors="replace", text=True)


def snapshot(root):
    """path -> (size, mtime_ns, sha256) of every file below root."""
    out = {}
    for d, dirs, files in os.walk(root):
        for name in dirs + files:
            p = os.path.join(d, name)
            st = os.lstat(p)
            digest = ""
            if os.path.isfile(p) and not os.path.islink(p):
                with open(p, "rb") as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
            out[os.path.relpath(p, root)] = (st.st_size, st.st_mtime_ns, digest)
    return out


class Workspace:
    """A temporary directory holding a finished results file (existing.h5
    and existing.jobs/) that no refused command may touch."""

    def __init__(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="rs-hostile-")
        self.dir = self.tmp.name
        self.existing = os.path.join(self.dir, "existing.h5")
        p = run(["run", os.path.join(HERE, "valid_base.yaml"), "-o", self.existing], self.dir)
        assert p.returncode == 0, "valid_base.yaml must run:\n" + p.stderr
        self.before = snapshot(self.dir)

    def close(self):
        self.tmp.cleanup()


class Checks(unittest.TestCase):
    def assert_clean_refusal(self, p, what):
        self.assertGreaterEqual(p.returncode, 0, f"{what}: killed by signal {-p.returncode}\n{p.stderr}")
        for bad in ("AddressSanitizer", "runtime error:", "LeakSanitizer", "Segmentation"):
            self.assertNotIn(bad, p.stderr, f"{what}: sanitizer report\n{p.stderr}")
        self.assertEqual(p.returncode, 2, f"{what}: exit {p.returncode}\n{p.stderr}")
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, f"{what}: one line expected\n{p.stderr}")

    def assert_refused_everywhere(self, ws, spec, prefix, fragment, extra=()):
        """expand, run to a new output, run over a finished output (with
        and without --resume) and run without -o: all exit 2 with the same
        message, and nothing in the workspace changes."""
        fresh = os.path.join(ws.dir, "fresh.h5")
        commands = [["expand", spec, *extra],
                    ["run", spec, "-o", fresh, *extra],
                    ["run", spec, "-o", ws.existing, *extra],
                    ["run", spec, "-o", ws.existing, "--resume", *extra],
                    ["run", spec, *extra]]
        for args in commands:
            what = " ".join(a if len(a) < 80 else a[:77] + "..." for a in args)
            p = run(args, ws.dir)
            self.assert_clean_refusal(p, what)
            self.assertTrue(p.stderr.startswith(prefix),
                            f"{what}: message should start with {prefix!r}:\n{p.stderr}")
            self.assertIn(fragment, p.stderr, what)
            if args[0] == "expand":
                self.assertEqual(p.stdout, "", f"{what}: printed a grid")
        self.assertFalse(os.path.exists(fresh))
        self.assertFalse(os.path.exists(os.path.join(ws.dir, "fresh.jobs")))
        self.assertEqual(snapshot(ws.dir), ws.before, "the workspace changed")


class HostileSpecs(Checks):
    @classmethod
    def setUpClass(cls):
        cls.ws = Workspace()

    @classmethod
    def tearDownClass(cls):
        cls.ws.close()

    def test_base_spec_is_accepted(self):
        """The corpus breaks a spec that works (so refusal means something)."""
        p = run(["expand", os.path.join(HERE, "valid_base.yaml")], self.ws.dir)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("8 jobs = 2 seeds x 2 keep_prob x 2 l2 x 1 l1", p.stdout)

    def test_corpus(self):
        rows = read_manifest(os.path.join(SPECS, "MANIFEST.tsv"), 3)
        listed = {r[0] for r in rows}
        on_disk = {f for f in os.listdir(SPECS) if f.endswith(".yaml")}
        self.assertEqual(listed, on_disk, "MANIFEST.tsv and specs/ disagree")
        self.assertGreaterEqual(len(rows), 50)
        for name, loc, fragment in rows:
            with self.subTest(spec=name):
                path = os.path.join(SPECS, name)
                prefix = f"regsweep: {path}:{loc}: " if loc != "-" else f"regsweep: {path}: "
                self.assert_refused_everywhere(self.ws, path, prefix, fragment)

    def test_overrides(self):
        base = os.path.join(HERE, "valid_base.yaml")
        for override, fragment in read_manifest(os.path.join(HERE, "overrides.tsv"), 2):
            with self.subTest(override=override):
                prefix = f"regsweep: command-line override '{override}'"
                self.assert_refused_everywhere(self.ws, base, prefix, fragment, [override])

    def test_generated(self):
        """Cases too big or too odd to keep as files."""
        with open(os.path.join(HERE, "valid_base.yaml")) as f:
            base = f.read()
        gen = tempfile.mkdtemp(prefix="rs-gen-", dir=self.ws.dir)

        def path(name, data=None):
            p = os.path.join(gen, name)
            if data is not None:
                with open(p, "wb") as f:
                    f.write(data)
            return p

        seeds = ", ".join(str(i) for i in range(100001))
        cases = [
            # 2 MB: a valid spec followed by comments
            (path("big_2mb.yaml", (base + ("#" * 99 + "\n") * 21000).encode()), "-",
             "spec larger than 1048576 bytes"),
            (path("dir.yaml"), "-", "is a directory"),
            (path("missing.yaml"), "-", "cannot open the spec"),
            # more nodes than the cap, in one flow list (700 KB)
            (path("node_cap.yaml", base.replace("  seed: [0, 1]", f"  seed: [{seeds}]").encode()),
             None, "more than 100000 YAML nodes"),
            # 60,000 keys in one mapping: refused before the pairwise
            # duplicate check could take seconds
            (path("many_keys.yaml", (base + "".join(f"k{i}: 0\n" for i in range(60000))).encode()),
             None, "more than 1000 keys"),
            # a 900 KB scalar where a short name belongs
            (path("long_scalar.yaml", base.replace("name: hostile", "name: " + "n" * 900000).encode()),
             None, "longer than 127 characters"),
            # 100,000 open brackets
            (path("brackets.yaml", ("a: " + "[" * 100000 + "\n").encode()), None, "nesting deeper"),
            ("/dev/null", "1:1", "empty spec"),
            ("/dev/zero", "-", "spec larger than"),
        ]
        os.mkdir(path("dir.yaml"))
        self.ws.before = snapshot(self.ws.dir)
        for spec, loc, fragment in cases:
            with self.subTest(spec=os.path.basename(spec)):
                if loc is None:      # some line:column: checked by pattern
                    prefix = f"regsweep: {spec}:"
                else:
                    prefix = f"regsweep: {spec}:{loc}: " if loc != "-" else f"regsweep: {spec}: "
                self.assert_refused_everywhere(self.ws, spec, prefix, fragment)
                if loc is None:
                    p = run(["expand", spec], self.ws.dir)
                    after = p.stderr[len(prefix):].split(":")
                    self.assertTrue(after[0].isdigit() and after[1].isdigit(),
                                    f"no line:column in {p.stderr[:200]}")


GOOD_SPEC = """\
dataset:
  kind: idx
  dir: {good}
  train_images: train-images-idx3-ubyte
  train_labels: train-labels-idx1-ubyte
  test_images: t10k-images-idx3-ubyte
  test_labels: t10k-labels-idx1-ubyte
  classes: 3
model: {{layers: [16, 8, 3], loss: softmax_cross_entropy}}
train: {{lr: 0.1, epochs: 2, batch_size: 4}}
record: {{masks: none}}
axes: {{seed: [0, 1]}}
"""


class HostileData(Checks):
    """Damaged IDX files reach the loader through a spec and the CLI."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="rs-hostile-data-")
        cls.dir = cls.tmp.name
        cls.spec = os.path.join(cls.dir, "idx.yaml")
        with open(cls.spec, "w") as f:
            f.write(GOOD_SPEC.format(good=os.path.join(DATA, "good")))
        cls.rows = read_manifest(os.path.join(DATA, "MANIFEST.tsv"), 4)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def overrides(self, name, key, more):
        args = [f"dataset.{key}={os.path.join(DATA, 'bad', name)}"]
        if more != "-":
            for kv in more.split(","):
                k, v = kv.split("=")
                args.append(f"dataset.{k}={os.path.join(DATA, 'bad', v)}")
        return args

    def test_good_data_runs(self):
        out = os.path.join(self.dir, "good.h5")
        p = run(["run", self.spec, "-o", out], self.dir, None if SANITIZED else AS_LIMIT)
        self.assertEqual(p.returncode, 0, p.stderr)
        shutil.rmtree(os.path.join(self.dir, "good.jobs"))
        os.unlink(out)

    def test_bad_files_are_refused_naming_the_file(self):
        self.assertGreaterEqual(len(self.rows), 25)
        for name, key, fragment, more in self.rows:
            with self.subTest(file=name):
                out = os.path.join(self.dir, "out.h5")
                p = run(["run", self.spec, "-o", out, *self.overrides(name, key, more)],
                        self.dir, None if SANITIZED else AS_LIMIT)
                self.assert_clean_refusal(p, name)
                prefix = f"regsweep: {os.path.join(DATA, 'bad', name)}: "
                self.assertTrue(p.stderr.startswith(prefix), p.stderr)
                self.assertIn(fragment, p.stderr)
                self.assertFalse(os.path.exists(out), "OUT.h5 written for bad data")
                shutil.rmtree(os.path.join(self.dir, "out.jobs"), ignore_errors=True)

    def test_a_data_error_leaves_nothing_behind(self):
        """After a data error the user fixes the data and runs the same
        command again: it must start, not demand --resume.

        Known bug (src/sweep.c, rs_sweep_run): OUT.jobs/ (with .lock) is
        created before the dataset is loaded and is left behind when the
        load fails; the rerun then fails with 'OUT.jobs: already exists ...
        use --resume', and --resume with 'no such results file'."""
        out = os.path.join(self.dir, "retry.h5")
        name, key, _, more = self.rows[0]
        p = run(["run", self.spec, "-o", out, *self.overrides(name, key, more)], self.dir)
        self.assertEqual(p.returncode, 2, p.stderr)
        left = os.path.exists(os.path.join(self.dir, "retry.jobs"))
        p2 = run(["run", self.spec, "-o", out], self.dir)
        shutil.rmtree(os.path.join(self.dir, "retry.jobs"), ignore_errors=True)
        if os.path.exists(out):
            os.unlink(out)
        self.assertFalse(left, "retry.jobs/ left behind by a refused run")
        self.assertEqual(p2.returncode, 0, "rerun after fixing the data: " + p2.stderr)

    def test_other_data_problems(self):
        good = os.path.join(DATA, "good")
        cases = [
            (["dataset.dir=/nonexistent/dir"], "/nonexistent/dir/train-images-idx3-ubyte",
             "cannot open"),
            ([f"dataset.train_images={good}"], good, "is a directory"),
            # right files, wrong model: 16 features, model expects 784
            (["model.layers=[784, 8, 3]"], None, "784"),
        ]
        for args, named, fragment in cases:
            with self.subTest(args=args):
                out = os.path.join(self.dir, "o.h5")
                p = run(["run", self.spec, "-o", out, *args], self.dir)
                self.assert_clean_refusal(p, " ".join(args))
                if named:
                    self.assertTrue(p.stderr.startswith(f"regsweep: {named}: "), p.stderr)
                self.assertIn(fragment, p.stderr)
                self.assertFalse(os.path.exists(out))
                shutil.rmtree(os.path.join(self.dir, "o.jobs"), ignore_errors=True)

    def test_gzip_bomb_stops_after_the_declared_size(self):
        """A tiny gzip file that inflates to 1 GiB behind a 12-image header:
        refused as trailing data after reading one byte past the header's
        size, not by inflating the gigabyte."""
        import zlib
        bomb = os.path.join(self.dir, "bomb.idx.gz")
        head = bytes([0, 0, 8, 3]) + (12).to_bytes(4, "big") + (4).to_bytes(4, "big") * 2
        comp = zlib.compressobj(9, zlib.DEFLATED, 31)
        chunk = bytes(1 << 20)
        with open(bomb, "wb") as f:
            f.write(comp.compress(head + bytes(192)))
            for _ in range(1024):
                f.write(comp.compress(chunk))
            f.write(comp.flush())
        self.assertLess(os.path.getsize(bomb), 2 << 20)
        out = os.path.join(self.dir, "b.h5")
        p = run(["run", self.spec, "-o", out, f"dataset.train_images={bomb}"], self.dir,
                None if SANITIZED else AS_LIMIT)
        self.assert_clean_refusal(p, "gzip bomb")
        self.assertTrue(p.stderr.startswith(f"regsweep: {bomb}: "), p.stderr)
        self.assertIn("trailing data", p.stderr)
        shutil.rmtree(os.path.join(self.dir, "b.jobs"), ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
