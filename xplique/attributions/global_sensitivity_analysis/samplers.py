"""Quasi-Monte Carlo designs of masks in [0, 1]^d for the sensitivity-analysis methods.

A plain sampler returns `nb_design` points `(nb_design, d)` (HSIC). A replicated sampler
(suffix `RS`) returns Saltelli's replicated design for total Sobol indices: two independent
matrices `A` and `B` of `nb_design` points each (the two halves of a `2d`-dimensional sequence),
then for each dimension `i` the matrix `A` whose column `i` is taken from `B`, stacked as
`[A; B; A_B^1; ...; A_B^d]`, i.e. `nb_design * (d + 2)` rows. Designs are drawn once, at
construction of the explainer, with numpy/scipy on the host.

Ref. Saltelli et al., Variance based sensitivity analysis of model output. Design and estimator
for the total sensitivity index (2010), https://doi.org/10.1016/j.cpc.2009.09.018
"""

import abc
import dataclasses
from typing import Optional

import numpy as np
import tensorflow as tf
from scipy.stats import qmc

from xplique.commons.validation import ensure_positive_int, ensure_seed


def replicated_design(points: np.ndarray) -> np.ndarray:
    """`[A; B; A_B^1; ...; A_B^d]` from `2d`-dimensional points `(n, 2d)`."""
    dimension = points.shape[1] // 2
    first, second = points[:, :dimension], points[:, dimension:]
    mixed = np.repeat(first[None], dimension, axis=0)
    columns = np.arange(dimension)
    mixed[columns, :, columns] = second.T
    return np.concatenate([first, second, mixed.reshape(-1, dimension)], axis=0)


class Sampler(abc.ABC):
    """A design of masks in [0, 1]^d: `sampler(dimension, nb_design) -> np.ndarray`.

    Concrete samplers are dataclasses with a `binary` field (round the points to {0, 1}, the
    binary masks of HSIC) and, for scipy's sequences, `scramble` and `seed`.
    """

    #: Whether the sampler returns Saltelli's replicated design.
    replicated = False
    binary: bool

    @abc.abstractmethod
    def points(self, dimension: int, nb_design: int) -> np.ndarray:
        """`nb_design` points of the underlying sequence, shape `(nb_design, dimension)`."""

    def __call__(self, dimension: int, nb_design: int) -> np.ndarray:
        dimension = ensure_positive_int(dimension, "dimension")
        nb_design = ensure_positive_int(nb_design, "nb_design")
        if self.replicated:
            design = replicated_design(self.points(2 * dimension, nb_design))
        else:
            design = self.points(dimension, nb_design)
        design = np.asarray(design, np.float32)
        return np.round(design) if self.binary else design


def _tf_sobol(dimension, nb_design):
    # TensorFlow's sequence starts after the all-zero point.
    return tf.math.sobol_sample(dimension, nb_design, dtype=tf.float32).numpy()


def _seed(seed):
    """The scrambling seed: an int as given, None drawn from TensorFlow's global generator (so
    `tf.random.set_seed` makes scrambled designs reproducible, as every other draw)."""
    return ensure_seed(seed)


def _scipy_sobol(dimension, nb_design, scramble, seed):
    engine = qmc.Sobol(dimension, scramble=scramble, seed=_seed(seed))
    points = engine.random(nb_design + (0 if scramble else 1))
    return points if scramble else points[1:]  # skip the all-zero point when unscrambled


def _halton(dimension, nb_design, scramble, seed):
    return qmc.Halton(dimension, scramble=scramble, seed=_seed(seed)).random(nb_design)


def _latin_hypercube(dimension, nb_design, scramble, seed):
    return qmc.LatinHypercube(dimension, scramble=scramble, seed=_seed(seed)).random(nb_design)


@dataclasses.dataclass
class TFSobolSequence(Sampler):
    """Sobol sequence from TensorFlow (unscrambled, deterministic).

    Ref. Sobol', On the distribution of points in a cube and the approximate evaluation of
    integrals (1967).
    """

    binary: bool = False

    def points(self, dimension, nb_design):
        return _tf_sobol(dimension, nb_design)


@dataclasses.dataclass
class TFSobolSequenceRS(Sampler):
    """Replicated design from TensorFlow's Sobol sequence (the Sobol method's default)."""

    binary: bool = False
    replicated = True

    def points(self, dimension, nb_design):
        return _tf_sobol(dimension, nb_design)


@dataclasses.dataclass
class ScipySobolSequence(Sampler):
    """Sobol sequence from scipy, Owen-scrambled by default (`seed` fixes the scrambling)."""

    binary: bool = False
    scramble: bool = True
    seed: Optional[int] = None

    def points(self, dimension, nb_design):
        return _scipy_sobol(dimension, nb_design, self.scramble, self.seed)


@dataclasses.dataclass
class ScipySobolSequenceRS(Sampler):
    """Replicated design from scipy's (scrambled) Sobol sequence."""

    binary: bool = False
    scramble: bool = True
    seed: Optional[int] = None
    replicated = True

    def points(self, dimension, nb_design):
        return _scipy_sobol(dimension, nb_design, self.scramble, self.seed)


@dataclasses.dataclass
class HaltonSequence(Sampler):
    """Halton sequence from scipy (scrambled by default).

    Ref. Halton, On the efficiency of certain quasi-random sequences of points in evaluating
    multi-dimensional integrals (1960).
    """

    binary: bool = False
    scramble: bool = True
    seed: Optional[int] = None

    def points(self, dimension, nb_design):
        return _halton(dimension, nb_design, self.scramble, self.seed)


@dataclasses.dataclass
class HaltonSequenceRS(Sampler):
    """Replicated design from a Halton sequence."""

    binary: bool = False
    scramble: bool = True
    seed: Optional[int] = None
    replicated = True

    def points(self, dimension, nb_design):
        return _halton(dimension, nb_design, self.scramble, self.seed)


@dataclasses.dataclass
class LatinHypercube(Sampler):
    """Latin hypercube sample from scipy (`scramble=False` centres the points in their cells).

    Ref. McKay et al., A Comparison of Three Methods for Selecting Values of Input Variables in
    the Analysis of Output from a Computer Code (1979).
    """

    binary: bool = False
    scramble: bool = True
    seed: Optional[int] = None

    def points(self, dimension, nb_design):
        return _latin_hypercube(dimension, nb_design, self.scramble, self.seed)


@dataclasses.dataclass
class LatinHypercubeRS(Sampler):
    """Replicated design from a Latin hypercube sample."""

    binary: bool = False
    scramble: bool = True
    seed: Optional[int] = None
    replicated = True

    def points(self, dimension, nb_design):
        return _latin_hypercube(dimension, nb_design, self.scramble, self.seed)
