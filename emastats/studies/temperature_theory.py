"""Stationary (co)variance of SGD and heavy ball on quadratics: exact discrete time against the small-eta SDE.

Model: L(w) = w^T H w / 2, minibatch gradient H w + xi with E xi = 0, Cov xi = Sigma / B.

* SGD, 1-D (H = lambda):  exact  Var = eta sigma^2 / (B lambda (2 - eta lambda)),  stable iff 0 < eta lambda < 2;
  SDE  Var = eta sigma^2 / (2 B lambda).
* Heavy ball v <- mu v - eta g, w <- w + v, 1-D:
  exact  Var = eta sigma^2 (1 + mu) / (B lambda (1 - mu)(2(1 + mu) - eta lambda)),  stable iff eta lambda < 2(1 + mu);
  SDE    Var = eta sigma^2 / (2 B lambda (1 - mu)).
* d-D: the exact covariance solves the discrete Lyapunov equation of the state (w_t, w_{t-1}) with
  transition [[(1+mu) I - eta H, -mu I], [I, 0]] and input noise eta^2 Sigma / B on the w block; the SDE
  covariance solves H C + C H = eta Sigma / (B (1 - mu)).
"""
from __future__ import annotations

import math

import numpy as np
from scipy import linalg


def sgd_variance_exact(eta: float, lam: float, sigma2: float, batch: float) -> float:
    """Exact stationary variance of 1-D SGD; +inf when 1-D SGD is unstable (eta lambda >= 2 or <= 0)."""
    if not 0 < eta * lam < 2:
        return math.inf
    return eta * sigma2 / (batch * lam * (2 - eta * lam))


def sgd_variance_sde(eta: float, lam: float, sigma2: float, batch: float) -> float:
    """Small-eta (Ornstein-Uhlenbeck) prediction: eta sigma^2 / (2 B lambda), finite for every eta."""
    return eta * sigma2 / (2 * batch * lam)


def heavy_ball_variance_exact(eta: float, mu: float, lam: float, sigma2: float, batch: float) -> float:
    """Exact stationary variance of 1-D heavy ball; +inf outside 0 < eta lambda < 2(1 + mu), 0 <= mu < 1."""
    if not (0 <= mu < 1 and 0 < eta * lam < 2 * (1 + mu)):
        return math.inf
    return eta * sigma2 * (1 + mu) / (batch * lam * (1 - mu) * (2 * (1 + mu) - eta * lam))


def heavy_ball_variance_sde(eta: float, mu: float, lam: float, sigma2: float, batch: float) -> float:
    """Small-eta prediction eta sigma^2 / (2 B lambda (1 - mu))."""
    return eta * sigma2 / (2 * batch * lam * (1 - mu))


def stationary_covariance_exact(hessian: np.ndarray, noise: np.ndarray, eta: float, batch: float,
                                mu: float = 0.0) -> np.ndarray:
    """Exact stationary covariance of w for SGD (mu = 0) or heavy ball on w^T H w / 2; inf matrix if unstable."""
    d = hessian.shape[0]
    eye = np.eye(d)
    transition = np.block([[(1 + mu) * eye - eta * hessian, -mu * eye], [eye, np.zeros((d, d))]])
    if np.max(np.abs(np.linalg.eigvals(transition))) >= 1:
        return np.full((d, d), np.inf)
    q = np.zeros((2 * d, 2 * d))
    q[:d, :d] = eta**2 * noise / batch
    return linalg.solve_discrete_lyapunov(transition, q)[:d, :d]


def stationary_covariance_sde(hessian: np.ndarray, noise: np.ndarray, eta: float, batch: float,
                              mu: float = 0.0) -> np.ndarray:
    """Small-eta covariance: the solution C of H C + C H = eta Sigma / (B (1 - mu))."""
    return linalg.solve_continuous_lyapunov(hessian, eta * noise / (batch * (1 - mu)))
