"""Demand shift detection: a Page-Hinkley test on closed days of demand.

river's ``river.drift.PageHinkley`` is the reference implementation
(``tests/unit/models/test_drift.py`` checks that both flag the same days);
this one keeps its state in plain fields so that it fits in the material's
JSON state.

References
----------
Page, E. S. (1954). Continuous inspection schemes. *Biometrika*, 41(1/2), 100–115.
"""

from pydantic import BaseModel


class PageHinkley(BaseModel):
    """Two-sided Page-Hinkley change detector with river's defaults.

    Flags a shift when the cumulative deviation from the running mean, less
    a tolerance ``delta`` per observation, drifts more than ``threshold``
    from its extreme. After a flag it starts over, so a new level is learned
    as the new normal.

    Examples
    --------
    >>> detector = PageHinkley()
    >>> flags = [detector.update(10.0) for _ in range(60)]
    >>> flags += [detector.update(40.0) for _ in range(10)]
    >>> flags.index(True)
    61
    """

    min_instances: int = 30
    delta: float = 0.005
    threshold: float = 50.0
    alpha: float = 1 - 0.0001
    count: int = 0
    mean: float = 0.0
    sum_increase: float = 0.0
    sum_decrease: float = 0.0
    min_increase: float | None = None
    max_decrease: float = -1.0

    def update(self, x: float) -> bool:
        """Learn one day's demand; True if the level has shifted."""
        self.count += 1
        self.mean += (x - self.mean) / self.count
        self.sum_increase = self.alpha * self.sum_increase + (x - self.mean - self.delta)
        self.sum_decrease = self.alpha * self.sum_decrease + (x - self.mean + self.delta)
        if self.min_increase is None or self.sum_increase < self.min_increase:
            self.min_increase = self.sum_increase
        self.max_decrease = max(self.max_decrease, self.sum_decrease)
        if self.count < self.min_instances:
            return False
        shifted = (
            self.sum_increase - self.min_increase > self.threshold
            or self.max_decrease - self.sum_decrease > self.threshold
        )
        if shifted:
            self._reset()
        return shifted

    def _reset(self) -> None:
        self.count = 0
        self.mean = self.sum_increase = self.sum_decrease = 0.0
        self.min_increase, self.max_decrease = None, -1.0
