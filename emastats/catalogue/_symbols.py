"""The named parameters the catalogue's formulas are written in.

A proof binds each name to its own symbol (``Formula.bind``) and an experiment
gives each name a number (``Formula.__call__``), so a name here means the same
thing everywhere it appears.
"""
from __future__ import annotations

import sympy as sp

beta = sp.Symbol("beta", positive=True)  # EMA decay, 0 <= beta < 1
mu = sp.Symbol("mu", real=True)  # mean of the inputs
t = sp.Symbol("t", integer=True, nonnegative=True)  # updates since the start
N = sp.Symbol("N", integer=True, positive=True)  # running-average length, or examples in a data set
B = sp.Symbol("B", integer=True, positive=True)  # batch size
sigma_x2 = sp.Symbol("sigma_x^2", positive=True)  # variance of the EMA's inputs
sigma2 = sp.Symbol("sigma^2", positive=True)  # variance of a batch's entries
sigma = sp.Symbol("sigma", positive=True)  # standard deviation of per-example gradients / of the noise
Sigma1 = sp.Symbol("Sigma^1", positive=True)  # an entry of the per-example (population) covariance
eta = sp.Symbol("eta", positive=True)  # learning rate (eta = 1/T over a frozen window)
var_mb = sp.Symbol("sigma_mb^2", positive=True)  # Var[g_mb]
g = sp.Symbol("g", real=True)  # mean gradient
p = sp.Symbol("p", positive=True)  # BatchNorm momentum
eta0 = sp.Symbol("eta0", positive=True)  # learning rate per unit batch
lam = sp.Symbol("lambda", positive=True)  # curvature of the quadratic loss
alpha = sp.IndexedBase("alpha")  # weights alpha_1..alpha_n of a weighted sum (a formula takes them as a sequence)
i = sp.Symbol("i", integer=True, positive=True)  # summation index
n = sp.Symbol("n", integer=True, positive=True)  # number of terms of a weighted sum
Sigma_g = sp.Symbol("Sigma_g", real=True)  # an entry of the covariance of one gradient vector
beta1 = sp.Symbol("beta1", positive=True)  # Adam's first-moment decay, 0 < beta1 < 1
beta2 = sp.Symbol("beta2", positive=True)  # Adam's second-moment decay, 0 < beta2 < 1
avg_g = sp.Symbol("m", real=True)  # Adam's running average <g>_{t+1}
avg_g2 = sp.Symbol("v", nonnegative=True)  # Adam's running average <g^2>_{t+1}
c = sp.Symbol("c", positive=True)  # clipping bound
d = sp.Symbol("d", integer=True, positive=True)  # dimension
g_fb = sp.Symbol("g_fb", real=True)  # one coordinate of the full-batch gradient (1/N) sum_i g_i
kappa = sp.Symbol("kappa", real=True)  # one coordinate of E[clip(g_i)], the mean of the clipped per-example gradients
eta_trad = sp.Symbol("eta_trad", positive=True)  # traditional (velocity) momentum's learning rate
s = sp.Symbol("s", integer=True, positive=True)  # steps since a gradient was applied (T - t in an unrolled sum)
k = sp.Symbol("k", integer=True, positive=True)  # index of a past input X_k of an EMA
c_x = sp.Symbol("c_x", real=True)  # a constant input x_t = c of a recursion (not the clipping bound c)
mu_t = sp.Symbol("mu_t", real=True)  # the running average mu_t of the same inputs
S_t = sp.Symbol("S_t", real=True)  # the sum x_1 + ... + x_t of the inputs so far
