"""Identity maths: normalising, comparing embeddings, and which way a metric points.

This is the one place that decides that a Euclidean *distance* is better when
lower and a cosine *similarity* when higher. Everything that ranks, thresholds
or reports identity scores asks a :class:`Metric` (or a same-person rule that
names one) instead of comparing metric names itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

MetricName = Literal["euclidean", "cosine"]


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    """Scale each row (or a single vector) to unit length; zero vectors stay zero."""
    array = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(array, axis=-1, keepdims=True)
    return array / np.maximum(norms, 1e-12)


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two vectors (both are L2-normalised first), -1..1."""
    return float(np.dot(l2_normalise(np.ravel(a)), l2_normalise(np.ravel(b))))


def euclidean_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Euclidean distance between two vectors (dlib descriptors: same person if < 0.6)."""
    return float(np.linalg.norm(np.ravel(a).astype(np.float32) - np.ravel(b).astype(np.float32)))


def mean_identity(vectors: Iterable[np.ndarray]) -> np.ndarray:
    """The normalised mean of normalised vectors (one identity from several photos)."""
    return l2_normalise(np.mean([l2_normalise(v) for v in vectors], axis=0))


@dataclass(frozen=True)
class Metric:
    """How two embeddings are scored and which way is "more alike"."""

    name: MetricName
    lower_is_better: bool

    @property
    def kind(self) -> Literal["distance", "similarity"]:
        """What a score of this metric is: a distance or a similarity."""
        return "distance" if self.lower_is_better else "similarity"

    @property
    def direction(self) -> str:
        """The human reading of a score: 'lower = more alike' or 'higher = more alike'."""
        return "lower = more alike" if self.lower_is_better else "higher = more alike"

    def score(self, a: np.ndarray, b: np.ndarray) -> float:
        return euclidean_distance(a, b) if self.name == "euclidean" else cosine_similarity(a, b)

    def is_better(self, score: float, than: float) -> bool:
        """Whether `score` means more alike than `than`."""
        return score < than if self.lower_is_better else score > than

    def best(self, scores: Iterable[float]) -> float:
        """The score meaning "most alike" among `scores`."""
        values = list(scores)
        return min(values) if self.lower_is_better else max(values)

    def same_person(self, score: float, threshold: float) -> bool:
        return self.is_better(score, threshold)

    def rule_text(self, threshold: float) -> str:
        """'distance < 0.6' or 'cosine > 0.55'."""
        return f"distance < {threshold}" if self.lower_is_better else f"cosine > {threshold}"


METRICS: dict[str, Metric] = {
    "euclidean": Metric(name="euclidean", lower_is_better=True),
    "cosine": Metric(name="cosine", lower_is_better=False),
}


def metric(name: str) -> Metric:
    """The :class:`Metric` called `name` ('euclidean' or 'cosine')."""
    if name not in METRICS:
        raise ValueError(f"Unknown identity metric {name!r}; known: {', '.join(METRICS)}.")
    return METRICS[name]


class SamePersonRule(Protocol):
    """A recogniser's operating point (the manifest's `match`): a metric name and a threshold."""

    @property
    def metric(self) -> MetricName: ...

    @property
    def threshold(self) -> float: ...


@dataclass(frozen=True)
class IdentityScore:
    """One comparison of two faces by one recogniser, with how to read it.

    `value` is a distance when `metric` is Euclidean (lower = more alike) and
    a cosine similarity otherwise (higher = more alike); `kind` and
    `direction` say which, so nothing downstream has to know the metric.
    """

    value: float
    metric: MetricName
    threshold: float
    model: str

    @property
    def kind(self) -> Literal["distance", "similarity"]:
        return METRICS[self.metric].kind

    @property
    def direction(self) -> str:
        return METRICS[self.metric].direction

    @property
    def same_person(self) -> bool:
        return METRICS[self.metric].same_person(self.value, self.threshold)

    def is_better(self, other: IdentityScore) -> bool:
        """Whether this score means more alike than `other` (same recogniser)."""
        return METRICS[self.metric].is_better(self.value, other.value)


def score_identity(a: np.ndarray, b: np.ndarray, rule: SamePersonRule, model: str) -> IdentityScore:
    """Score two embeddings of recogniser `model` with its own metric and threshold."""
    return IdentityScore(value=metric(rule.metric).score(a, b), metric=rule.metric, threshold=rule.threshold, model=model)
