r"""Convergence diagnostics in numpy: rank-normalised split R-hat, bulk ESS, MCSE of the mean.

The algorithms of Vehtari et al. (2021), *Rank-normalization, folding, and localization: an
improved R-hat*, exactly as ``arviz_stats`` computes them (a test checks agreement to 1e-10),
vectorised over all scalars of a variable and without importing ``scipy`` and the rest of
ArviZ (about a second of every fit). ArviZ stays the reference and the reports' library.

For draws :math:`\theta_{cd}` (chain :math:`c`, draw :math:`d`):

* **split**: each chain's first and last :math:`\lfloor n/2 \rfloor` draws become two chains;
* **rank-normalise**: :math:`z = \Phi^{-1}((r - 3/8) / (N + 1/4))` with :math:`r` the average
  rank of a draw among all :math:`N` split draws;
* :math:`\hat R = \sqrt{(B/W + n - 1)/n}` with :math:`B` = :math:`n` times the variance of the
  chain means and :math:`W` the mean within-chain variance; the reported R-hat is the larger
  of the values for :math:`z` (bulk) and for the rank-normalised :math:`|\theta - \mathrm{median}|`
  (tails);
* ESS = :math:`N / \hat\tau`, :math:`\hat\tau = -1 + 2\sum_t \hat\rho_t` over Geyer's initial
  positive and monotone sequence of autocorrelations (computed by FFT); bulk ESS is the ESS of
  :math:`z`, and :math:`\mathrm{MCSE}(\bar\theta) = \mathrm{sd}(\theta) / \sqrt{\mathrm{ESS}(\theta)}`.

Arrays are ``(chain, draw, *shape)``; results have ``shape``. A variable with a NaN draw, fewer
than 4 draws or (R-hat) fewer than 2 chains gets NaN, as in ArviZ.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import xarray as xr

from hlhbayes.special import normal_quantiles

BLOM_OFFSET = 3 / 8
MIN_DRAWS = 4


def rhat(draws: np.ndarray) -> np.ndarray:
    """Rank-normalised split R-hat (the larger of bulk and tail) of ``(chain, draw, *shape)``."""
    return rhat_and_ess_bulk(draws)[0]


def rhat_and_ess_bulk(draws: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """R-hat and bulk ESS together (they share the rank-normalised split chains)."""
    x, shape = _as_rows(draws)
    r_hat, ess = np.full(x.shape[0], np.nan), np.full(x.shape[0], np.nan)
    for_ess = _valid(x, min_chains=1)
    for_rhat = _valid(x, min_chains=2)
    if for_ess.any():
        split = _split_chains(x[for_ess])
        bulk = _z_scale(split)
        ess[for_ess] = _ess(bulk)
        if for_rhat.any():  # then every row valid for the ESS is valid for R-hat too
            median = np.median(split.reshape(split.shape[0], -1), axis=1)[:, None, None]
            tail = _rhat(_z_scale(np.abs(split - median)))
            r_hat[for_rhat] = np.maximum(_rhat(bulk), tail)
    return r_hat.reshape(shape), ess.reshape(shape)


def ess_bulk(draws: np.ndarray) -> np.ndarray:
    """Bulk effective sample size (ESS of the rank-normalised split chains)."""
    x, shape = _as_rows(draws)
    out = np.full(x.shape[0], np.nan)
    valid = _valid(x, min_chains=1)
    if valid.any():
        out[valid] = _ess(_z_scale(_split_chains(x[valid])))
    return out.reshape(shape)


def ess_mean(draws: np.ndarray) -> np.ndarray:
    """Effective sample size for the mean (ESS of the split chains)."""
    x, shape = _as_rows(draws)
    out = np.full(x.shape[0], np.nan)
    valid = _valid(x, min_chains=1)
    if valid.any():
        out[valid] = _ess(_split_chains(x[valid]))
    return out.reshape(shape)


def mcse_mean(draws: np.ndarray) -> np.ndarray:
    """Monte Carlo standard error of the mean: sd / sqrt(ESS for the mean)."""
    x, shape = _as_rows(draws)
    sd = x.reshape(x.shape[0], -1).std(axis=1, ddof=1) if x.shape[1] * x.shape[2] > 1 else np.nan
    return (sd / np.sqrt(ess_mean(draws).reshape(-1))).reshape(shape)


def stacked(posterior: xr.Dataset, names: Iterable[str]) -> np.ndarray:
    """Every scalar of the variables ``names`` as one ``(chain, draw, scalar)`` array.

    The diagnostics are vectorised over scalars: one call serves every variable.
    """
    columns = [
        posterior[name]
        .transpose("chain", "draw", ...)
        .values.reshape(posterior.sizes["chain"], posterior.sizes["draw"], -1)
        for name in names
    ]
    return np.concatenate(columns, axis=-1) if columns else np.empty((1, 1, 0))


def diagnose(
    posterior: xr.Dataset, var_names: Iterable[str] | None = None
) -> dict[str, xr.Dataset]:
    """``{"r_hat", "ess_bulk", "mcse_mean"}``, each a Dataset like ArviZ's, per variable.

    Every scalar of every variable goes through one call of each diagnostic (:func:`stacked`),
    then is put back in its variable's shape.
    """
    names = list(posterior.data_vars) if var_names is None else list(var_names)
    scalars = stacked(posterior, names)
    r_hat, ess = rhat_and_ess_bulk(scalars)
    values = {"r_hat": r_hat, "ess_bulk": ess, "mcse_mean": mcse_mean(scalars)}
    out: dict[str, dict[str, xr.DataArray]] = {key: {} for key in values}
    start = 0
    for name in names:
        da = posterior[name].transpose("chain", "draw", ...)
        extra, shape = list(da.dims[2:]), da.shape[2:]
        coords = {d: da[d] for d in extra if d in da.coords}
        stop = start + int(np.prod(shape, dtype=int))
        for key, flat in values.items():
            out[key][name] = xr.DataArray(
                flat[start:stop].reshape(shape), dims=extra, coords=coords
            )
        start = stop
    return {key: xr.Dataset(arrays) for key, arrays in out.items()}


def _as_rows(draws: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]]:
    """``(chain, draw, *shape)`` -> ``(k, chain, draw)`` float rows and ``shape``."""
    x = np.asarray(draws, dtype=float)
    if x.ndim < 2:
        raise ValueError(f"draws must be (chain, draw, ...), got shape {x.shape}")
    shape = x.shape[2:]
    rows = np.moveaxis(x.reshape(*x.shape[:2], -1), -1, 0)
    return rows, shape


def _valid(x: np.ndarray, min_chains: int) -> np.ndarray:
    enough = x.shape[1] >= min_chains and x.shape[2] >= MIN_DRAWS
    return ~np.isnan(x).any(axis=(1, 2)) & enough


def _split_chains(x: np.ndarray) -> np.ndarray:
    half = x.shape[-1] // 2
    return np.concatenate([x[..., :half], x[..., x.shape[-1] - half :]], axis=1)


def _average_ranks(a: np.ndarray) -> np.ndarray:
    """Ranks (1-based, ties get their average rank) along the last axis of 2-D ``a``."""
    n = a.shape[-1]
    order = np.argsort(a, axis=-1)  # the order among ties does not change average ranks
    ordered = np.take_along_axis(a, order, axis=-1)
    new_value = np.ones_like(ordered, dtype=bool)
    new_value[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    last_of_value = np.ones_like(ordered, dtype=bool)
    last_of_value[:, :-1] = new_value[:, 1:]
    position = np.arange(n)
    first = np.maximum.accumulate(np.where(new_value, position, 0), axis=-1)
    last = np.minimum.accumulate(np.where(last_of_value, position, n)[:, ::-1], axis=-1)[:, ::-1]
    ranks = np.empty_like(a, dtype=float)
    np.put_along_axis(ranks, order, 0.5 * (first + last) + 1.0, axis=-1)
    return ranks


def _z_scale(x: np.ndarray) -> np.ndarray:
    k, chains, draws = x.shape
    size = chains * draws
    ranks = _average_ranks(x.reshape(k, size))  # whole or half (ties): a table look-up
    table = normal_quantiles(size, BLOM_OFFSET)
    return table[np.rint(2 * ranks).astype(np.int64) - 2].reshape(k, chains, draws)


def _rhat(x: np.ndarray) -> np.ndarray:
    n = x.shape[-1]
    chain_mean = x.mean(axis=-1)
    chain_var = x.var(axis=-1, ddof=1)
    between = n * chain_mean.var(axis=-1, ddof=1)
    within = chain_var.mean(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sqrt((between / within + n - 1) / n)


def _next_fast_len(n: int) -> int:
    """The smallest 5-smooth number (2^a 3^b 5^c) >= n, as ``scipy.fftpack.next_fast_len``."""
    best = 1 << max(n - 1, 0).bit_length()
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            candidate = p35
            while candidate < n:
                candidate *= 2
            best = min(best, candidate)
            p35 *= 3
        p5 *= 5
    return best


def _autocov(x: np.ndarray) -> np.ndarray:
    n = x.shape[-1]
    m = _next_fast_len(2 * n)
    centred = x - x.mean(axis=-1, keepdims=True)
    spectrum = np.fft.rfft(centred, n=m, axis=-1)
    spectrum *= np.conjugate(spectrum)
    return np.fft.irfft(spectrum, n=m, axis=-1)[..., :n] / n


def _ess(x: np.ndarray) -> np.ndarray:
    """ESS of each row of ``(k, chain, draw)``."""
    k, chains, draws = x.shape
    out = np.empty(k)
    constant = (x.max(axis=(1, 2)) - x.min(axis=(1, 2))) < np.finfo(float).resolution
    out[constant] = chains * draws
    rows = np.flatnonzero(~constant)
    if not len(rows):
        return out
    acov = _autocov(x[rows])
    mean_var = acov[:, :, 0].mean(axis=1) * draws / (draws - 1.0)
    var_plus = mean_var * (draws - 1.0) / draws
    if chains > 1:
        var_plus = var_plus + x[rows].mean(axis=-1).var(axis=-1, ddof=1)
    rho = 1.0 - (mean_var[:, None] - acov.mean(axis=1)) / var_plus[:, None]
    for i, row in enumerate(rows):
        out[row] = _geyer_ess(rho[i].tolist(), chains * draws)
    return out


def _geyer_ess(rho: list[float], total: int) -> float:
    """``total / tau`` with tau from Geyer's initial positive and monotone sequences."""
    n = len(rho)
    rho_hat = [0.0] * n
    rho_even, rho_odd = 1.0, rho[1]
    rho_hat[0], rho_hat[1] = rho_even, rho_odd
    t = 1
    while t < n - 3 and rho_even + rho_odd > 0.0:
        rho_even, rho_odd = rho[t + 1], rho[t + 2]
        if rho_even + rho_odd >= 0:
            rho_hat[t + 1], rho_hat[t + 2] = rho_even, rho_odd
        t += 2
    max_t = t - 2
    if rho_even > 0:
        rho_hat[max_t + 1] = rho_even
    t = 1
    while t <= max_t - 2:
        if rho_hat[t + 1] + rho_hat[t + 2] > rho_hat[t - 1] + rho_hat[t]:
            rho_hat[t + 1] = (rho_hat[t - 1] + rho_hat[t]) / 2.0
            rho_hat[t + 2] = rho_hat[t + 1]
        t += 2
    if any(np.isnan(rho_hat)):
        return float("nan")
    tau = (
        -1.0
        + 2.0 * float(np.sum(rho_hat[: max_t + 1]))
        + float(np.sum(rho_hat[max_t + 1 : max_t + 2]))
    )
    tau = max(tau, 1 / np.log10(total))
    return total / tau
