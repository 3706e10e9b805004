#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Commands racing on one output: a sweep runs while `report`, `info
--rebuild`, `info`, a second `run --resume` and an h5py reader are started at
seeded random moments.  What must hold whatever the timing (nothing here
depends on how fast the machine is):
  - every command exits 0, or exits 2 saying another regsweep process holds
    the sweep (writers only: report storing, info --rebuild, run);
  - no command is killed by a signal;
  - OUT.h5 opens with h5py after every race, and every job it marks done has
    its job file;
  - when the dust settles, `run --resume` finishes the sweep and the result
    equals an uninterrupted run (h5diff without /provenance and /analysis).

RS_RACE_SEED and RS_RACE_ROUNDS (default 12) choose the schedule; it is
printed.  Run by meson, which passes the regsweep binary in $REGSWEEP.
"""
import os
import random
import shutil
import subprocess
import tempfile
import time
import unittest

import h5py

REGSWEEP = os.environ.get("REGSWEEP", "build/regsweep")
SEED = int(os.environ.get("RS_RACE_SEED", "20261130"))
ROUNDS = int(os.environ.get("RS_RACE_ROUNDS", "12"))

SPEC = """\
name: race
dataset: {kind: sin, n_train: 128, n_test: 50, noise_sd: 0.5, seed: 3}
model: {layers: [1, 32, 32, 1], activation: relu}
train: {lr: 0.005, epochs: 500, batch_size: 32, shuffle: true}
record: {masks: all}
axes:
  seed: {from: 0, to: 9}
  keep_prob: [1.0, 0.7]
  l2: [0, 0.001]
"""

BUSY = "another regsweep process"


def env():
    return dict(os.environ, OMP_NUM_THREADS="2")


class Races(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="rs-race-")
        cls.dir = cls.tmp.name
        cls.spec = os.path.join(cls.dir, "race.yaml")
        with open(cls.spec, "w") as f:
            f.write(SPEC)
        cls.ref = os.path.join(cls.dir, "ref.h5")
        t0 = time.monotonic()
        p = subprocess.run([REGSWEEP, "run", cls.spec, "-o", cls.ref, "--allow-diverged"],
                           capture_output=True, text=True, env=env())
        assert p.returncode == 0, p.stderr
        cls.ref_wall = time.monotonic() - t0

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def check_file(self, out, label):
        jobs = os.path.splitext(out)[0] + ".jobs"
        with h5py.File(out, "r") as f:
            ids = f["jobs/id"].asstr()[()]
            status = f["jobs/status"].asstr()[()]
            for i, s in zip(ids, status):
                if s in ("done", "diverged"):
                    self.assertIn(i, f["runs"], f"{label}: {i} done but not in /runs")

    def test_commands_racing_on_one_output(self):
        rng = random.Random(SEED)
        print(f"\nrace test: seed {SEED}, {ROUNDS} rounds, reference run "
              f"{self.ref_wall:.2f} s")
        others = [["report", "{out}"], ["info", "{out}", "--rebuild"], ["info", "{out}"],
                  ["report", "{out}", "--no-store"],
                  ["run", "{spec}", "-o", "{out}", "--resume", "--allow-diverged"],
                  ["h5py"]]
        writers = {"report": True, "info --rebuild": True, "run": True}
        outcomes = {}
        for r in range(ROUNDS):
            out = os.path.join(self.dir, f"r{r}.h5")
            first = subprocess.Popen([REGSWEEP, "run", self.spec, "-o", out,
                                      "--allow-diverged"], env=env(),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True)
            delay = rng.uniform(0, self.ref_wall)
            picks = rng.sample(others, 3)
            time.sleep(delay)
            procs = []
            for cmd in picks:
                if cmd == ["h5py"]:
                    procs.append(("h5py", subprocess.Popen(
                        ["/usr/bin/python3", "-c",
                         "import h5py,sys\n"
                         "try:\n"
                         "    f = h5py.File(sys.argv[1], 'r'); f['jobs/id'][()]\n"
                         "except FileNotFoundError:\n"
                         "    pass\n", out],
                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)))
                    continue
                argv = [a.format(out=out, spec=self.spec) for a in cmd]
                name = " ".join([cmd[0]] + [a for a in cmd[1:] if a in
                                            ("--rebuild", "--no-store")])
                procs.append((name,
                              subprocess.Popen([REGSWEEP, *argv], env=env(),
                                               stdout=subprocess.DEVNULL,
                                               stderr=subprocess.PIPE, text=True)))
            results = [("run", first)] + procs
            for name, p in results:
                _, err = p.communicate(timeout=300)
                key = f"{name}: exit {p.returncode}"
                outcomes[key] = outcomes.get(key, 0) + 1
                self.assertGreaterEqual(p.returncode, 0, f"round {r}: {name} killed by a "
                                        f"signal\n{err}")
                if p.returncode == 0:
                    continue
                # started before the sweep wrote its first OUT.h5: no race
                if name != "run" and "cannot open: No such file" in err:
                    continue
                self.assertEqual(p.returncode, 2, f"round {r}: {name}\n{err}")
                self.assertTrue(BUSY in err or (name == "run" and "already" in err) or
                                "cannot resume" in err or "no such results file" in err,
                                f"round {r}: {name}: unexpected refusal\n{err}")
                if BUSY in err:   # only writers are ever refused for it
                    self.assertIn(name, writers, f"round {r}: a reader was refused")
            if os.path.exists(out):
                self.check_file(out, f"round {r}")
            # settle: finish the sweep; the result is the uninterrupted one
            p = subprocess.run([REGSWEEP, "run", self.spec, "-o", out, "--resume",
                                "--allow-diverged"], capture_output=True, text=True,
                               env=env())
            self.assertEqual(p.returncode, 0, f"round {r}: settling\n{p.stderr}")
            self.check_file(out, f"round {r}, settled")
            d = subprocess.run(["h5diff", "--exclude-path", "/provenance",
                               "--exclude-path", "/analysis", self.ref, out],
                               capture_output=True, text=True)
            self.assertEqual(d.returncode, 0, f"round {r}: {d.stdout[-800:]}")
            shutil.rmtree(os.path.splitext(out)[0] + ".jobs")
            os.unlink(out)
        print("race outcomes:", ", ".join(f"{k} x{v}" for k, v in sorted(outcomes.items())))


if __name__ == "__main__":
    unittest.main(verbosity=2)
