# SPDX-License-Identifier: MIT
# Correctly rounded float32 results computed with mpmath at 200 bits.
import struct
from mpmath import mp, mpf, exp, log, sin, cos, tanh
mp.prec = 200
def f_of(u): return struct.unpack('<f', struct.pack('<I', u))[0]
def b_of(f): return struct.unpack('<I', struct.pack('<f', f))[0]
def neighbours(u):
    return [u - 1, u, u + 1] if (u & 0x7fffffff) not in (0,) else [u, u + 1]
def cr_float(v):
    # nearest float32 to v (v is never a tie: transcendental values)
    f0 = struct.unpack('<f', struct.pack('<f', float(v)))[0]
    u0 = b_of(f0)
    best = None
    for u in neighbours(u0):
        f = f_of(u)
        d = abs(mpf(f) - v)
        if best is None or d < best[0]:
            best = (d, u)
    return best[1]
sig = lambda x: 1 / (1 + exp(-x))
cases = [
 ("rs_expf", exp, [1.0, -1.0, 0.5, 10.0, -87.0, -100.0, f_of(0x42B17216)]),
 ("rs_logf", log, [2.0, 10.0, 0.1, f_of(0x00000001), f_of(0x02000000), f_of(0x7F7FFFFF), f_of(0x3F7FFFFF), f_of(0x3F800001)]),
 ("rs_sinf", sin, [1.0, 3.0, -2.5, 1e10, f_of(0x7F7FFFFF), f_of(0x6f79be45), f_of(0x50a3e87f), f_of(0x437ce5f1), f_of(0x6a1976f1), f_of(0x53b146a6)]),
 ("rs_cosf", cos, [1.0, 3.0, -2.5, 1e10, f_of(0x7F7FFFFF), f_of(0x6f79be45), f_of(0x50a3e87f), f_of(0x437ce5f1), f_of(0x6a1976f1), f_of(0x53b146a6)]),
 ("rs_tanhf", tanh, [0.5, 1e-3, -3.0, 8.0, 0.25]),
 ("rs_sigmoidf", sig, [1.0, -10.0, 15.0, -100.0, 0.125]),
]
for name, fn, xs in cases:
    for x in xs:
        xf = struct.unpack('<f', struct.pack('<f', x))[0]
        y = cr_float(fn(mpf(xf)))
        print('    {%s, "%s", 0x%08Xu, 0x%08Xu}, /* %s(%r) = %r */' % (name, name[3:-1], b_of(xf), y, name[3:-1], xf, f_of(y)))
