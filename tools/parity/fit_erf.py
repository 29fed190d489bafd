"""Fits the erf / erfc polynomials used by VMath.NormalCdf (src/Crt.Tensors/Kernels/Cpu/Simd.cs).

A: erf(z)/z as a polynomial in s = 2z^2 - 1 for |z| <= 1.
B: erfc(z)*exp(z^2) as a polynomial in u = (1/z - 7/12)*12/5 for 1 <= z <= 6.
Prints the coefficients (highest power first) and the max relative error in float64 and in float32 Horner.
"""
import math, numpy as np
erf = np.vectorize(math.erf); erfc = np.vectorize(math.erfc)
def fit(f, a, b, deg):
    k = np.arange(4000); s = np.cos(np.pi*(k+0.5)/4000); xs = (a+b)/2 + (b-a)/2*s
    ys = f(xs); c = np.polyfit(s, ys, deg, w=1/np.abs(ys))
    return c
def hornerf(c, s):
    s = s.astype(np.float32); r = np.float32(c[0])*np.ones_like(s)
    for ci in c[1:]: r = (r*s + np.float32(ci)).astype(np.float32)
    return r
fA = lambda u: np.where(u==0, 2/math.sqrt(math.pi), erf(np.sqrt(u))/np.sqrt(np.maximum(u,1e-300)))
fB = lambda t: erfc(1/t)*np.exp(1/t**2)
for name, f, a, b, deg in [('A', fA, 0., 1., 6), ('A', fA, 0., 1., 7), ('B', fB, 1/6, 1., 10), ('B', fB, 1/6, 1., 11), ('B', fB, 1/6,1.,12)]:
    c = fit(f, a, b, deg)
    xt = np.linspace(a, b, 100001); st = ((xt - (a+b)/2)/((b-a)/2)).astype(np.float32)
    ed = np.max(np.abs(np.polyval(c, st.astype(np.float64))/f(xt)-1))
    ef = np.max(np.abs(hornerf(c, st)/f(xt)-1))
    print(name, deg, ed, ef, 'maxcoef', np.max(np.abs(c)))
    print('  ', ', '.join('%.9eF' % v for v in c))
