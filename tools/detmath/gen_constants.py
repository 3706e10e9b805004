# SPDX-License-Identifier: MIT
# Generates every constant in src/detmath.c (mpmath, 80 digits; each value is
# rounded once to the nearest double and printed as an exact hex float).
from mpmath import mp, mpf, pi, log, exp, floor, factorial, ldexp
mp.prec = 400

def dbl(v):            # round to nearest double (mpmath float() rounds to nearest)
    return float(v)

def trunc_bits(v, nbits):   # v truncated to nbits significant bits
    e = int(floor(log(abs(v), 2)))
    scale = mpf(2) ** (nbits - 1 - e)
    return float(floor(v * scale) / scale)

def hx(v): return v.hex()

# 2/pi, 288 bits after the binary point, as 9 32-bit words
two_over_pi = 2 / pi
words = []
f = two_over_pi
for i in range(9):
    f *= 2**32
    w = int(floor(f)); words.append(w); f -= w
print("2/pi words:", ", ".join("0x%08X" % w for w in words))

print("pi/2 * 2^-62 :", hx(dbl(pi / 2 * mpf(2)**-62)))
print("pi/2 :", hx(dbl(pi / 2)))

# exp
L = log(2) / 32
Lhi = trunc_bits(L, 40); Llo = dbl(L - mpf(Lhi))
print("32/ln2:", hx(dbl(1 / L)))
print("ln2/32 hi (40 bits):", hx(Lhi), " lo:", hx(Llo), " residual", float((L - Lhi - mpf(Llo))))
for j in range(32):
    t = mpf(2) ** (mpf(j) / 32)
    hi = dbl(t); lo = dbl(t - mpf(hi))
    print("    {%s, %s}, /* 2^(%d/32) */" % (hx(hi), hx(lo), j))
for n in range(2, 8):
    print("1/%d! = %s" % (n, hx(dbl(1 / factorial(n)))))
# log
l2 = log(2)
l2hi = trunc_bits(l2, 44); l2lo = dbl(l2 - mpf(l2hi))
print("ln2 hi (44 bits):", hx(l2hi), " lo:", hx(l2lo))
for k in range(1, 11):
    print("2/%d = %s" % (2 * k + 1, hx(dbl(mpf(2) / (2 * k + 1)))))
print("sqrt2 =", hx(dbl(mp.sqrt(2))))
# sin/cos Taylor
for n in range(2, 19):
    print("(-1)^.. 1/%d! = %s" % (n, hx(dbl(1 / factorial(n)))))
