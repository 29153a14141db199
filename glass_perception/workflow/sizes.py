"""
Fit the class-conditional size model (core/sizes.py) to the training scenes' ground truth.

The sizes come from the very recipes the training scenes were rendered from (make_recipe of
each training seed and index: nothing is rendered), so the model knows exactly the sizes the
classifier was trained on. The measurement noise comes from the localizer's errors on
validation RGB-D scenes (seeds never used for training or for the reported figures).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..core.sizes import Mixture, SizeModel
from ..core.synthetic import CLASSES

#: the detector's and classifier's path-traced training streams (MODEL_CARD.md): seed -> scenes
TRAINING_STREAMS = {101: 900, 106: 500, 107: 450, 108: 300, 109: 450}
#: the wide generator's training streams (``--variety wide --families train``): seed -> scenes
WIDE_TRAINING_STREAMS = {111: 450, 113: 225, 114: 225}


def recipe_sizes(
    streams: dict[int, int], wide_streams: dict[int, int] | None = None
) -> dict[str, np.ndarray]:
    """Return, per class, (height, diameter, base diameter) in metres of the recipes' glasses."""
    from .pbr import make_recipe

    out: dict[str, list] = {c: [] for c in CLASSES}
    jobs = [(seed, count, {}) for seed, count in streams.items()] + [
        (seed, count, {'variety': 'wide', 'family_set': 'train'})
        for seed, count in (wide_streams or {}).items()
    ]
    for seed, count, kw in jobs:
        for index in range(count):
            for obj in make_recipe(seed, index, **kw).objects:
                if obj.kind not in out:
                    continue
                v = obj.parts[0].mesh.vertices.astype(np.float64)
                radial = np.hypot(v[:, 0] - obj.x, v[:, 2] - obj.z)
                foot = radial[v[:, 1] <= 1e-6].max()  # the outer ring the vessel stands on
                out[obj.kind].append(
                    (v[:, 1].max() / 100.0, 2 * radial.max() / 100.0, 2 * foot / 100.0)
                )
    return {c: np.asarray(v) for c, v in out.items()}


def fit_mixture(sizes: np.ndarray, max_components: int = 4, seed: int = 0) -> Mixture:
    """Fit a Gaussian mixture to log sizes, the number of components chosen by BIC."""
    from sklearn.mixture import GaussianMixture

    x = np.log(sizes[:, :2])
    best, best_bic = None, np.inf
    for k in range(1, max_components + 1):
        gm = GaussianMixture(k, covariance_type='full', reg_covar=1e-4, random_state=seed)
        gm.fit(x)
        bic = gm.bic(x)
        if bic < best_bic:
            best, best_bic = gm, bic
    return Mixture(best.weights_, best.means_, best.covariances_)


def base_ratios(sizes: dict[str, np.ndarray]) -> dict[str, float]:
    """Return, per class, the mean base diameter / widest diameter of ``recipe_sizes``."""
    return {c: float(np.mean(v[:, 2] / v[:, 1])) for c, v in sizes.items()}


def fit_size_model(
    sizes: dict[str, np.ndarray],
    streams: dict[int, int],
    noise: np.ndarray,
    temperature: float = 1.0,
    wide_streams: dict[int, int] | None = None,
) -> SizeModel:
    """Fit one mixture per class to ``recipe_sizes(streams)``; ``noise`` in log space is added."""
    mixtures = {c: fit_mixture(sizes[c]) for c in CLASSES}
    counts = ', '.join(f'{c} {len(sizes[c])}' for c in CLASSES)
    source = (
        'glass-fit-sizes: recipes of seeds '
        + ', '.join(f'{s} ({n} scenes)' for s, n in streams.items())
        + (
            '; wide seeds ' + ', '.join(f'{s} ({n} scenes)' for s, n in wide_streams.items())
            if wide_streams
            else ''
        )
        + f'; glasses: {counts}'
    )
    model = SizeModel(
        tuple(CLASSES), mixtures, np.asarray(noise, float), temperature, source, base_ratios(sizes)
    )
    # what 0.5 % of each class's training glasses fall below, measured with the noise added
    rng = np.random.default_rng(0)
    typical = {}
    for c in CLASSES:
        x = np.log(sizes[c][:, :2]) + rng.multivariate_normal([0, 0], model.noise, len(sizes[c]))
        dens = [model.mixtures[c].density(v, model.noise) for v in x]
        typical[c] = float(np.quantile(dens, 0.005))
    return dataclasses.replace(model, typical_density=typical)
