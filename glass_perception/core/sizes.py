"""
Real size as evidence for the label: class-conditional size densities, fused with the crop's.

A crop has no scale: cut to a square, an empty pint and a shot glass look alike. The localizer
measures height and diameter in metres, and their distribution differs per class (soju glasses
5-7 cm tall, beer glasses 12-26 cm, cups 5-12 cm). Fusion is naive Bayes: appearance and size are
taken as independent given the class, the classifier was trained on balanced classes (a flat
prior), so

    p(class | crop, size) ∝ p(class | crop) ** (1 / T) * p(size | class)

with ``T`` the classifier's temperature (1 unless calibrated) and ``p(size | class)`` a Gaussian
mixture over (log height, log diameter) learned from the training scenes' ground truth, widened
by the localizer's measurement noise. A small share of a broad uniform density keeps a size far
from every class from vetoing the crop's evidence outright.

The model is JSON beside the classifier checkpoint (``<stem>.sizes.json``), not a pickle. No ROS.
"""

from __future__ import annotations

from dataclasses import dataclass
import json
import math
from pathlib import Path

import numpy as np

from .errors import ModelLoadError

FORMAT = 'glass_perception.sizes'
#: the uniform share, and the log-size box it spreads over (heights 2-40 cm, diameters 2-20 cm)
OUTLIER_SHARE = 0.02
UNIFORM_DENSITY = 1.0 / (math.log(0.40 / 0.02) * math.log(0.20 / 0.02))


@dataclass(frozen=True)
class Mixture:
    weights: np.ndarray  # (K,)
    means: np.ndarray  # (K, 2) log metres: height, diameter
    covariances: np.ndarray  # (K, 2, 2)

    def density(self, x: np.ndarray, noise: np.ndarray) -> float:
        total = 0.0
        for w, m, c in zip(self.weights, self.means, self.covariances):
            cov = c + noise
            diff = x - m
            mahal = float(diff @ np.linalg.solve(cov, diff))
            total += w * math.exp(-0.5 * mahal) / (2 * math.pi * math.sqrt(np.linalg.det(cov)))
        return total


@dataclass(frozen=True)
class SizeModel:
    classes: tuple[str, ...]
    mixtures: dict[str, Mixture]
    noise: np.ndarray  # (2, 2) the localizer's measurement noise in log space
    temperature: float = 1.0
    source: str = ''
    base_ratio: dict | None = None  # class -> mean base radius / widest radius (the localizer's)
    #: class -> the density below which 0.5 % of its training glasses (with noise) fall
    typical_density: dict | None = None

    def densities(self, height: float, diameter: float) -> np.ndarray:
        """Return p(size | class) for each class, without the outlier share."""
        x = np.log([max(height, 1e-3), max(diameter, 1e-3)])
        return np.array([self.mixtures[c].density(x, self.noise) for c in self.classes])

    def implausible(self, height: float, diameter: float) -> bool:
        """Tell whether a measured size is atypical of every class (lying, held, cut off?)."""
        if not self.typical_density:
            return False
        dens = self.densities(height, diameter)
        return all(d < self.typical_density.get(c, 0.0) for c, d in zip(self.classes, dens))

    def likelihood(self, height: float, diameter: float) -> np.ndarray:
        """Return p(size | class) for each class, with the outlier share."""
        dens = self.densities(height, diameter)
        return (1 - OUTLIER_SHARE) * dens + OUTLIER_SHARE * UNIFORM_DENSITY

    def fuse(self, names: list[str], probs: list[float], height: float, diameter: float):
        """
        Return the fused probabilities of ``names`` (crop probabilities in that order).

        Classes the model does not know keep the crop's evidence alone (likelihood 1 relative to
        the mean of the known ones).
        """
        p = np.clip(np.asarray(probs, np.float64), 1e-9, 1.0) ** (1.0 / self.temperature)
        lik = self.likelihood(height, diameter)
        known = dict(zip(self.classes, lik))
        mean = float(np.mean(lik))
        post = p * np.array([known.get(n, mean) for n in names])
        return post / post.sum()

    def to_json(self) -> str:
        return json.dumps(
            {
                'format': FORMAT,
                'format_version': 1,
                'classes': list(self.classes),
                'space': 'log metres (height, diameter)',
                'temperature': self.temperature,
                'measurement_noise': self.noise.tolist(),
                'mixtures': {
                    c: {
                        'weights': m.weights.tolist(),
                        'means': m.means.tolist(),
                        'covariances': m.covariances.tolist(),
                    }
                    for c, m in self.mixtures.items()
                },
                'base_ratio': self.base_ratio or {},
                'typical_density': self.typical_density or {},
                'source': self.source,
            },
            indent=1,
        )

    @classmethod
    def load(cls, path: Path | str) -> 'SizeModel':
        """Read a size model; raise ModelLoadError naming the file on any fault."""
        path = Path(path)
        if not path.is_file():
            raise ModelLoadError(
                f'{path}: size model not found; it is written by glass-fit-sizes beside the '
                "classifier checkpoint, or set 'size_model' (fusion: false turns fusion off)"
            )
        try:
            doc = json.loads(path.read_text())
            if doc.get('format') != FORMAT:
                raise ValueError(f"format is not '{FORMAT}'")
            mixtures = {}
            for c in doc['classes']:
                m = doc['mixtures'][c]
                w = np.asarray(m['weights'], float)
                mu = np.asarray(m['means'], float).reshape(len(w), 2)
                cov = np.asarray(m['covariances'], float).reshape(len(w), 2, 2)
                if not (np.all(np.isfinite(mu)) and np.all(np.linalg.eigvalsh(cov) > 0)):
                    raise ValueError(f'class {c}: non-finite means or covariances not positive')
                mixtures[c] = Mixture(w / w.sum(), mu, cov)
            noise = np.asarray(doc['measurement_noise'], float).reshape(2, 2)
            temperature = float(doc.get('temperature', 1.0))
            if not temperature > 0:
                raise ValueError('temperature must be positive')
            typical = {str(k): float(v) for k, v in doc.get('typical_density', {}).items()}
            ratios = {str(k): float(v) for k, v in doc.get('base_ratio', {}).items()}
            if not all(0.2 <= v <= 1.0 for v in ratios.values()):
                raise ValueError('base_ratio values must lie in [0.2, 1]')
        except (OSError, ValueError, KeyError, TypeError, np.linalg.LinAlgError) as e:
            raise ModelLoadError(f'{path}: not a readable size model ({e})') from e
        return cls(
            tuple(doc['classes']),
            mixtures,
            noise,
            temperature,
            str(doc.get('source', '')),
            ratios,
            typical,
        )


def sizes_path(classifier_path: Path | str) -> Path:
    """Return where the size model of a classifier checkpoint lives: ``<stem>.sizes.json``."""
    p = Path(classifier_path)
    stem = p.name[: -len(p.suffix)] if p.suffix in ('.safetensors', '.json', '.onnx') else p.name
    return p.parent / f'{stem}.sizes.json'
