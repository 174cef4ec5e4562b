"""Daily demand forecasting: online models, demand classes and forecast error per material.

The caller feeds one value per closed day, in event-time order and with the
zero days included, to ``learn_one(y)``, and asks ``forecast(horizon)`` for the
next ``horizon`` days (the first value is the day after the last one learned).

Every model here is a pydantic model whose fields are its whole state: plain
floats, ints and lists, no numpy and no river objects. ``model_dump_json()``
and ``model_validate_json()`` round-trip a model exactly, so it rides in the
material's changelog record. Smoothing constants are fields too: a state
written with other constants comes back with them. Unknown keys are ignored
on load, so a worker can read records written by a newer or older release.

``DemandForecaster`` is the object the caller stores: a ``DemandProfile`` that
classifies the demand (Syntetos–Boylan), one instance of each candidate
method, all learning every day so that switching method never starts cold,
a ``ForecastError`` of the forecasts actually served (accuracy over the whole
history) and a ``LeadTimeDemandError`` of the same forecasts over one day and
over one week, recent errors weighing most, which gives the σ of demand over
a lead time for safety stock (``sigma_over``).

Demand is a float in the material's unit. A day's demand must be finite and
between 0 and ``MAX_DAILY_DEMAND``; anything else raises
``InvalidDemandError`` (the cap keeps squared-error sums finite).
"""

import math
import operator
from enum import StrEnum
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

SEASON_LENGTH = 7
"""Days in the seasonal cycle of Holt-Winters: demand follows the week."""

MAX_DAILY_DEMAND = 1e12
"""Largest daily demand accepted; far above any real day, low enough that squares stay finite."""


class InvalidDemandError(ValueError):
    """A day's demand no model can learn from: negative, NaN, infinite or absurdly large."""


def _check_demand(y: float) -> float:
    y = float(y)
    if not 0.0 <= y <= MAX_DAILY_DEMAND:  # also rejects NaN
        raise InvalidDemandError(
            f"daily demand must be a finite number from 0 to {MAX_DAILY_DEMAND:g}, got {y!r}; "
            "net returns against the day's issues and clip the day at 0 before learn_one"
        )
    return y + 0.0  # -0.0 -> 0.0, so equal days serialise equally


def _check_horizon(horizon: int) -> int:
    horizon = operator.index(horizon)
    if horizon < 0:
        raise ValueError(f"horizon must be a number of days >= 0, got {horizon}")
    return horizon


class _State(BaseModel):
    # "ignore": a record written by another release (a field added or dropped)
    # still loads from the changelog instead of crashing the worker.
    model_config = ConfigDict(extra="ignore")


class DemandModel(_State):
    """A daily demand model: learns one closed day at a time, forecasts the next days.

    Subclasses implement ``_learn`` (input already checked) and ``_forecast``
    (horizon already checked; values already non-negative).
    """

    def learn_one(self, y: float) -> None:
        """Learn the demand ``y`` of the next closed day (zeros included)."""
        self._learn(_check_demand(y))

    def forecast(self, horizon: int) -> list[float]:
        """Demand of each of the next ``horizon`` days: finite and non-negative."""
        return self._forecast(_check_horizon(horizon))

    def _learn(self, y: float) -> None:
        raise NotImplementedError

    def _forecast(self, horizon: int) -> list[float]:
        raise NotImplementedError


class SimpleExponentialSmoothing(DemandModel):
    r"""Simple exponential smoothing: a flat forecast at a smoothed level.

    .. math:: \ell_t = \ell_{t-1} + \alpha (y_t - \ell_{t-1}), \qquad \hat y_{t+h|t} = \ell_t

    The level starts at the first day's demand unless a prior level is given.

    Parameters
    ----------
    alpha
        Smoothing constant of the level, in (0, 1]. Larger follows changes
        faster and passes more noise.
    level
        The smoothed daily demand; ``None`` until the first day (or a prior).

    Examples
    --------
    >>> model = SimpleExponentialSmoothing(alpha=0.5)
    >>> for y in [10, 12, 14]:
    ...     model.learn_one(y)
    >>> model.forecast(3)
    [12.5, 12.5, 12.5]

    References
    ----------
    .. [1] Hyndman, R. J., & Athanasopoulos, G. (2021). *Forecasting: principles
       and practice* (3rd ed.), section 8.1. OTexts. https://otexts.com/fpp3/ses.html
    """

    alpha: float = Field(0.2, gt=0.0, le=1.0)
    level: float | None = None

    def _learn(self, y: float) -> None:
        level = self.level
        self.level = y if level is None else level + self.alpha * (y - level)

    def _forecast(self, horizon: int) -> list[float]:
        return [max(self.level or 0.0, 0.0)] * horizon


class HoltWinters(DemandModel):
    r"""Additive Holt-Winters with a damped trend and a weekly season (m = 7).

    Component form (FPP3 section 8.3 with the damped trend of section 8.2):

    .. math::

        \ell_t &= \alpha (y_t - s_{t-m}) + (1 - \alpha)(\ell_{t-1} + \phi b_{t-1}) \\
        b_t &= \beta (\ell_t - \ell_{t-1}) + (1 - \beta) \phi b_{t-1} \\
        s_t &= \gamma (y_t - \ell_{t-1} - \phi b_{t-1}) + (1 - \gamma) s_{t-m} \\
        \hat y_{t+h|t} &= \ell_t + (\phi + \phi^2 + \dots + \phi^h) b_t + s_{t+h-m(k+1)}

    The trend is damped because a daily demand trend rarely persists over a
    lead time: an undamped trend learned from a few weeks would extrapolate
    linearly over 30 or 60 days of projection and drive reorder points (or,
    falling, the forecast to zero). With damping the long-run trend
    contribution is bounded by :math:`b\,\phi/(1-\phi)`; ``phi=1`` gives
    Holt's undamped trend.

    For the first two weeks the model behaves like simple exponential
    smoothing (flat forecast at ``level``, smoothed with ``alpha``) while it
    accumulates each weekday's demand in ``season`` and the first week's total
    in ``first_week``. At day 14 it initialises classically: trend from the
    difference of the two weekly means, level at the end of week two,
    seasonal indices from the detrended weekday averages. After every update
    the seasonal indices are renormalised to sum to zero, moving their mean
    into the level (Archibald & Koehler), which leaves every forecast
    unchanged and keeps the indices interpretable as weekday offsets.

    Forecasts below zero are clipped to zero.

    Parameters
    ----------
    alpha
        Smoothing constant of the level, in (0, 1].
    beta
        Smoothing constant of the trend, in [0, 1].
    gamma
        Smoothing constant of the seasonal indices, in [0, 1].
    phi
        Damping of the trend, in (0, 1]; FPP3 recommends 0.8 to 0.98.
    n
        Days learned. The seasonal index of day ``n`` (0-based) is ``season[n % 7]``.
    level, trend, season, first_week
        State, see above. ``season`` holds weekday sums during the first two weeks.

    Examples
    --------
    A weekly pattern is reproduced as soon as two weeks are known:

    >>> week = [10, 12, 14, 11, 9, 3, 1]
    >>> model = HoltWinters()
    >>> for y in week * 3:
    ...     model.learn_one(y)
    >>> [round(y, 6) for y in model.forecast(7)]
    [10.0, 12.0, 14.0, 11.0, 9.0, 3.0, 1.0]

    References
    ----------
    .. [1] Hyndman, R. J., & Athanasopoulos, G. (2021). *Forecasting: principles
       and practice* (3rd ed.), sections 8.2 and 8.3. OTexts.
       https://otexts.com/fpp3/holt-winters.html
    .. [2] Gardner, E. S., & McKenzie, E. (1985). Forecasting trends in time
       series. *Management Science*, 31(10), 1237–1246.
    .. [3] Archibald, B. C., & Koehler, A. B. (2003). Normalization of seasonal
       factors in Winters' methods. *International Journal of Forecasting*,
       19(1), 143–148.
    """

    WARM_UP_DAYS: ClassVar[int] = 2 * SEASON_LENGTH

    alpha: float = Field(0.2, gt=0.0, le=1.0)
    beta: float = Field(0.05, ge=0.0, le=1.0)
    gamma: float = Field(0.1, ge=0.0, le=1.0)
    phi: float = Field(0.9, gt=0.0, le=1.0)
    n: int = Field(0, ge=0)
    level: float | None = None
    trend: float = 0.0
    season: list[float] = Field(
        default_factory=lambda: [0.0] * SEASON_LENGTH,
        min_length=SEASON_LENGTH,
        max_length=SEASON_LENGTH,
    )
    first_week: float = 0.0

    @property
    def initialised(self) -> bool:
        """Whether the two warm-up weeks are over and all three components are live."""
        return self.n >= self.WARM_UP_DAYS

    def _learn(self, y: float) -> None:
        m = SEASON_LENGTH
        n = self.n
        if n < self.WARM_UP_DAYS:
            level = self.level
            self.level = y if level is None else level + self.alpha * (y - level)
            season = list(self.season)
            season[n % m] += y
            self.season = season
            if n < m:
                self.first_week += y
            self.n = n + 1
            if self.n == self.WARM_UP_DAYS:
                self._initialise()
            return

        alpha, beta, gamma, phi = self.alpha, self.beta, self.gamma, self.phi
        level, trend = self.level, self.trend
        season = list(self.season)
        i = n % m
        base = level + phi * trend  # one-step level before seeing y
        new_level = alpha * (y - season[i]) + (1.0 - alpha) * base
        new_trend = beta * (new_level - level) + (1.0 - beta) * phi * trend
        season[i] = gamma * (y - base) + (1.0 - gamma) * season[i]
        shift = sum(season) / m
        self.level = new_level + shift
        self.trend = new_trend
        self.season = [s - shift for s in season]
        self.n = n + 1

    def _initialise(self) -> None:
        m = SEASON_LENGTH
        mean_1 = self.first_week / m
        mean_2 = (sum(self.season) - self.first_week) / m
        trend = (mean_2 - mean_1) / m
        centre = (m - 1) / 2  # a weekly mean sits mid-week
        overall = (mean_1 + mean_2) / 2
        self.season = [
            total / 2 - overall - (i - centre) * trend for i, total in enumerate(self.season)
        ]
        self.trend = trend
        self.level = mean_2 + centre * trend  # level at the end of week two
        self.first_week = 0.0

    def _forecast(self, horizon: int) -> list[float]:
        level = self.level or 0.0
        if self.n < self.WARM_UP_DAYS:
            return [max(level, 0.0)] * horizon
        phi, trend, season, n = self.phi, self.trend, self.season, self.n
        out = []
        damping = 0.0
        power = 1.0
        for h in range(1, horizon + 1):
            power *= phi
            damping += power
            y = level + damping * trend + season[(n + h - 1) % SEASON_LENGTH]
            out.append(max(y, 0.0))
        return out


class Croston(DemandModel):
    r"""Croston's method for intermittent demand: smoothed size over smoothed interval.

    Sizes :math:`z` and inter-demand intervals :math:`p` (days since the
    previous demand day, or since the start for the first) are smoothed
    separately, only on days with demand; the forecast is flat:

    .. math::

        z \leftarrow z + \alpha (y_t - z), \quad p \leftarrow p + \alpha (q_t - p)
        \quad \text{when } y_t > 0, \qquad \hat y = z / p

    The first demand day sets :math:`z` and :math:`p` unless a prior is given.
    Before any demand (and without a prior) the forecast is 0. Between demand
    days the forecast does not move, however long the gap: this is Croston's
    known weakness for dying items, which ``TSB`` fixes.

    Parameters
    ----------
    alpha
        Smoothing constant of both size and interval, in (0, 1].
    size
        Smoothed size of a non-zero day's demand.
    interval
        Smoothed days between demand days (>= 1).
    days_since_demand
        Days learned since the last day with demand.

    Examples
    --------
    Demand of 6 every third day is 2 a day:

    >>> model = Croston()
    >>> for y in [0, 0, 6] * 10:
    ...     model.learn_one(y)
    >>> model.forecast(2)
    [2.0, 2.0]

    References
    ----------
    .. [1] Croston, J. D. (1972). Forecasting and stock control for
       intermittent demands. *Operational Research Quarterly*, 23(3), 289–303.
    """

    alpha: float = Field(0.1, gt=0.0, le=1.0)
    size: float | None = None
    interval: float | None = Field(None, ge=1.0)
    days_since_demand: int = Field(0, ge=0)

    def _learn(self, y: float) -> None:
        q = self.days_since_demand + 1
        if y <= 0.0:
            self.days_since_demand = q
            return
        size, interval = self.size, self.interval
        if size is None or interval is None:
            self.size, self.interval = y, float(q)
        else:
            self.size = size + self.alpha * (y - size)
            self.interval = interval + self.alpha * (q - interval)
        self.days_since_demand = 0

    def _rate(self) -> float:
        if self.size is None or self.interval is None:
            return 0.0
        return max(self.size / self.interval, 0.0)

    def _forecast(self, horizon: int) -> list[float]:
        return [self._rate()] * horizon


class SBA(Croston):
    r"""Syntetos–Boylan approximation: Croston's forecast corrected for its bias.

    Croston's ratio :math:`z/p` over-forecasts because
    :math:`E[z/p] \neq E[z]/E[p]`; Syntetos and Boylan derive the factor
    :math:`1 - \alpha/2` (with :math:`\alpha` the interval's smoothing
    constant, shared with the size's here):

    .. math:: \hat y = \left(1 - \frac{\alpha}{2}\right) \frac{z}{p}

    State and updates are Croston's.

    Examples
    --------
    >>> model = SBA(alpha=0.1)
    >>> for y in [0, 0, 6] * 10:
    ...     model.learn_one(y)
    >>> [round(y, 6) for y in model.forecast(2)]
    [1.9, 1.9]

    References
    ----------
    .. [1] Syntetos, A. A., & Boylan, J. E. (2005). The accuracy of intermittent
       demand estimates. *International Journal of Forecasting*, 21(2), 303–314.
    .. [2] Croston, J. D. (1972). Forecasting and stock control for
       intermittent demands. *Operational Research Quarterly*, 23(3), 289–303.
    """

    def _forecast(self, horizon: int) -> list[float]:
        return [self._rate() * (1.0 - self.alpha / 2.0)] * horizon


class TSB(DemandModel):
    r"""Teunter–Syntetos–Babai: probability of demand times its size, updated every day.

    Unlike Croston's method the probability of a demand day is smoothed on
    every day, so a long run of zeros pulls the forecast down (obsolescence):

    .. math::

        \pi \leftarrow \pi + \beta (\mathbb 1[y_t > 0] - \pi), \quad
        z \leftarrow z + \alpha (y_t - z) \text{ when } y_t > 0, \qquad
        \hat y = \pi z

    The first demand day sets :math:`z = y` and :math:`\pi = 1/q` (``q`` the
    days up to and including it) unless a prior is given; before any demand
    the forecast is 0.

    Parameters
    ----------
    alpha
        Smoothing constant of the size, in (0, 1].
    beta
        Smoothing constant of the probability of demand, in (0, 1].
    size
        Smoothed size of a non-zero day's demand.
    probability
        Smoothed probability that a day has demand.
    days_since_demand
        Days learned since the last day with demand.

    Examples
    --------
    Demand of 6 every third day: the forecast swings around 2 within the
    cycle and averages 2 over it:

    >>> model = TSB()
    >>> for y in [0, 0, 6] * 20:
    ...     model.learn_one(y)
    >>> cycle = []
    >>> for y in [0, 0, 6]:
    ...     model.learn_one(y)
    ...     cycle.append(model.forecast(1)[0])
    >>> round(sum(cycle) / 3, 2)
    2.0

    References
    ----------
    .. [1] Teunter, R. H., Syntetos, A. A., & Babai, M. Z. (2011). Intermittent
       demand: Linking forecasting to inventory obsolescence. *European Journal
       of Operational Research*, 214(3), 606–615.
    """

    alpha: float = Field(0.1, gt=0.0, le=1.0)
    beta: float = Field(0.1, gt=0.0, le=1.0)
    size: float | None = None
    probability: float | None = Field(None, ge=0.0, le=1.0)
    days_since_demand: int = Field(0, ge=0)

    def _learn(self, y: float) -> None:
        q = self.days_since_demand + 1
        size, probability = self.size, self.probability
        if size is None or probability is None:
            if y > 0.0:
                self.size, self.probability = y, 1.0 / q
                self.days_since_demand = 0
            else:
                self.days_since_demand = q
            return
        if y > 0.0:
            self.probability = probability + self.beta * (1.0 - probability)
            self.size = size + self.alpha * (y - size)
            self.days_since_demand = 0
        else:
            self.probability = probability - self.beta * probability
            self.days_since_demand = q

    def _forecast(self, horizon: int) -> list[float]:
        if self.size is None or self.probability is None:
            return [0.0] * horizon
        return [max(self.probability * self.size, 0.0)] * horizon


class DemandClass(StrEnum):
    """Syntetos–Boylan demand class, from the demand interval (ADI) and size variability (CV²)."""

    SMOOTH = "smooth"
    ERRATIC = "erratic"
    INTERMITTENT = "intermittent"
    LUMPY = "lumpy"


ADI_CUT_OFF = 1.32
"""Average inter-demand interval (days) above which demand is intermittent or lumpy."""

CV2_CUT_OFF = 0.49
"""Squared coefficient of variation of demand sizes above which demand is erratic or lumpy."""


def classify(adi: float, cv2: float) -> DemandClass:
    """Demand class from the average inter-demand interval and the CV² of demand sizes.

    The cut-offs are Syntetos, Boylan and Croston's: ADI = 1.32 and
    CV² = 0.49. A value exactly at a cut-off stays on the smooth side: only
    ADI > 1.32 is intermittent (or lumpy), only CV² > 0.49 is erratic (or
    lumpy).

    Examples
    --------
    >>> [str(classify(adi, cv2)) for adi, cv2 in [(1.0, 0.1), (1.0, 0.6), (2.0, 0.1), (2.0, 0.6)]]
    ['smooth', 'erratic', 'intermittent', 'lumpy']
    >>> classify(1.32, 0.49)
    <DemandClass.SMOOTH: 'smooth'>

    References
    ----------
    .. [1] Syntetos, A. A., Boylan, J. E., & Croston, J. D. (2005). On the
       categorization of demand patterns. *Journal of the Operational Research
       Society*, 56(5), 495–503.
    """
    if not (math.isfinite(adi) and math.isfinite(cv2)) or adi < 0.0 or cv2 < 0.0:
        raise ValueError(f"ADI and CV² must be finite and >= 0, got adi={adi!r}, cv2={cv2!r}")
    intermittent = adi > ADI_CUT_OFF
    erratic = cv2 > CV2_CUT_OFF
    if intermittent:
        return DemandClass.LUMPY if erratic else DemandClass.INTERMITTENT
    return DemandClass.ERRATIC if erratic else DemandClass.SMOOTH


class DemandProfile(_State):
    """Running profile of a material's daily demand: how often it occurs and how much it varies.

    ADI is the mean interval between demand days, the first interval counted
    from the first day learned; the gap still open after the last demand day
    is not counted (it is not an interval yet). Before any demand day, ADI is
    the number of days learned (the first interval is at least that long).

    CV² is the squared coefficient of variation of the non-zero daily demands
    (sample variance, Welford's online update); 0 with fewer than two.

    Parameters
    ----------
    n_days
        Days learned.
    n_demand_days
        Days with demand > 0.
    days_since_demand
        Days learned since the last day with demand.
    size_mean, size_m2
        Welford's running mean and sum of squared deviations of non-zero demands.

    Examples
    --------
    >>> profile = DemandProfile()
    >>> for y in [0, 4, 0, 0, 8, 0]:
    ...     profile.update(y)
    >>> profile.adi, round(profile.cv2, 4), profile.demand_class
    (2.5, 0.2222, <DemandClass.INTERMITTENT: 'intermittent'>)

    References
    ----------
    .. [1] Syntetos, A. A., Boylan, J. E., & Croston, J. D. (2005). On the
       categorization of demand patterns. *Journal of the Operational Research
       Society*, 56(5), 495–503.
    .. [2] Welford, B. P. (1962). Note on a method for calculating corrected sums
       of squares and products. *Technometrics*, 4(3), 419–420.
    """

    n_days: int = Field(0, ge=0)
    n_demand_days: int = Field(0, ge=0)
    days_since_demand: int = Field(0, ge=0)
    size_mean: float = 0.0
    size_m2: float = Field(0.0, ge=0.0)

    def update(self, y: float) -> None:
        """Count the next closed day's demand ``y``."""
        self._update(_check_demand(y))

    def _update(self, y: float) -> None:
        self.n_days += 1
        if y <= 0.0:
            self.days_since_demand += 1
            return
        k = self.n_demand_days + 1
        delta = y - self.size_mean
        mean = self.size_mean + delta / k
        self.size_m2 += delta * (y - mean)
        self.size_mean = mean
        self.n_demand_days = k
        self.days_since_demand = 0

    @property
    def adi(self) -> float:
        """Average inter-demand interval in days (1.0 when every day has demand)."""
        if self.n_demand_days == 0:
            return float(self.n_days)
        return (self.n_days - self.days_since_demand) / self.n_demand_days

    @property
    def size_variance(self) -> float:
        """Sample variance of the non-zero daily demands (0 with fewer than two)."""
        k = self.n_demand_days
        return self.size_m2 / (k - 1) if k >= 2 else 0.0

    @property
    def cv2(self) -> float:
        """Squared coefficient of variation of the non-zero daily demands."""
        if self.n_demand_days < 2 or self.size_mean <= 0.0:
            return 0.0
        # sd/mean first: mean**2 underflows for tiny demands where the ratio does not
        return (math.sqrt(self.size_variance) / self.size_mean) ** 2

    @property
    def demand_class(self) -> DemandClass:
        """Syntetos–Boylan class of the demand seen so far."""
        return classify(self.adi, self.cv2)

    @property
    def mean_demand(self) -> float:
        """Mean demand per day, zero days included."""
        if self.n_days == 0:
            return 0.0
        return self.n_demand_days * self.size_mean / self.n_days

    @property
    def demand_std(self) -> float:
        """Sample standard deviation of daily demand, zero days included (0 before two days)."""
        n, k = self.n_days, self.n_demand_days
        if n < 2:
            return 0.0
        # Sum of squared deviations over all days, from the non-zero days' moments.
        ss = self.size_m2 + k * self.size_mean**2 * (1.0 - k / n)
        return math.sqrt(max(ss, 0.0) / (n - 1))


class ForecastError(_State):
    r"""Running accuracy of one-step-ahead forecasts over the whole history.

    Each day, ``update(actual, forecast)`` scores the forecast made before the
    day was learned. Errors are ``forecast - actual`` (positive bias means
    over-forecasting). Sums run over the whole history.

    MASE and RMSSE scale MAE and RMSE by the in-sample naive one-step forecast
    (yesterday's demand), whose absolute and squared differences
    :math:`|y_t - y_{t-1}|` are summed over every actual seen, including days
    without a forecast to score (``update(actual)``).

    Parameters
    ----------
    n
        Errors scored.
    sum_abs, sum_err, sum_sq
        Sums of absolute, signed and squared errors.
    naive_n, naive_abs, naive_sq
        Count and sums of absolute and squared day-to-day differences of the actuals.
    last_actual
        The previous day's actual demand.

    Examples
    --------
    >>> error = ForecastError()
    >>> for actual in [2, 4, 3, 5]:
    ...     error.update(actual, 3)
    >>> error.mae, error.bias, round(error.rmse, 4), round(error.mase, 4), round(error.rmsse, 4)
    (1.0, -0.5, 1.2247, 0.6, 0.7071)

    References
    ----------
    .. [1] Hyndman, R. J., & Koehler, A. B. (2006). Another look at measures of
       forecast accuracy. *International Journal of Forecasting*, 22(4), 679–688.
    .. [2] Makridakis, S., Spiliotis, E., & Assimakopoulos, V. (2022). M5
       accuracy competition: Results, findings, and conclusions. *International
       Journal of Forecasting*, 38(4), 1346–1364 (RMSSE).
    .. [3] Hyndman, R. J., & Athanasopoulos, G. (2021). *Forecasting: principles
       and practice* (3rd ed.), section 5.8. OTexts. https://otexts.com/fpp3/accuracy.html
    """

    MIN_ERRORS: ClassVar[int] = 14
    """Errors needed before ``sigma`` trusts the RMSE alone (two weeks)."""

    n: int = Field(0, ge=0)
    sum_abs: float = Field(0.0, ge=0.0)
    sum_err: float = 0.0
    sum_sq: float = Field(0.0, ge=0.0)
    naive_n: int = Field(0, ge=0)
    naive_abs: float = Field(0.0, ge=0.0)
    naive_sq: float = Field(0.0, ge=0.0)
    last_actual: float | None = None

    def update(self, y_true: float, y_pred: float | None = None) -> None:
        """Score the forecast ``y_pred`` of a day whose demand was ``y_true``.

        Without ``y_pred`` the day only extends the naive scale.
        """
        y_true = _check_demand(y_true)
        if y_pred is not None:
            y_pred = float(y_pred)
            if not math.isfinite(y_pred):
                raise ValueError(f"forecast must be finite, got {y_pred!r}")
        self._update(y_true, y_pred)

    def _update(self, y_true: float, y_pred: float | None) -> None:
        if y_pred is not None:
            e = y_pred - y_true
            self.n += 1
            self.sum_abs += abs(e)
            self.sum_err += e
            self.sum_sq += e * e
        last = self.last_actual
        if last is not None:
            d = y_true - last
            self.naive_n += 1
            self.naive_abs += abs(d)
            self.naive_sq += d * d
        self.last_actual = y_true

    @property
    def mae(self) -> float | None:
        """Mean absolute error; None before the first error."""
        return self.sum_abs / self.n if self.n else None

    @property
    def bias(self) -> float | None:
        """Mean error, forecast − actual; None before the first error."""
        return self.sum_err / self.n if self.n else None

    @property
    def rmse(self) -> float | None:
        """Root mean squared error; None before the first error."""
        return math.sqrt(self.sum_sq / self.n) if self.n else None

    @property
    def mase(self) -> float | None:
        """MAE over the naive forecast's MAE; None while undefined (no error, constant actuals)."""
        scale = self.naive_abs / self.naive_n if self.naive_n else 0.0
        return self.sum_abs / self.n / scale if self.n and scale > 0.0 else None

    @property
    def rmsse(self) -> float | None:
        """RMSE over the naive forecast's RMSE; None while undefined (as for ``mase``)."""
        scale = self.naive_sq / self.naive_n if self.naive_n else 0.0
        return math.sqrt(self.sum_sq / self.n / scale) if self.n and scale > 0.0 else None

    def sigma(self, fallback: float = 0.0) -> float:
        """σ of daily demand around the forecast: RMSE of the one-step errors of all history.

        With fewer than ``MIN_ERRORS`` errors the RMSE is too noisy to trust
        alone, so the larger of ``fallback`` and the RMSE so far is returned
        (erring towards more safety stock while the material is new).
        """
        rmse = self.rmse or 0.0
        if self.n >= self.MIN_ERRORS:
            return rmse
        return max(fallback, rmse)


class LeadTimeDemandError(_State):
    r"""Recent error of forecast demand over a day and over a week: σ of lead-time demand.

    Safety stock protects against the error of the forecast of *total* demand
    over the lead time, made once when the stock is planned. Scaling a daily
    σ by :math:`\sqrt{L}` assumes that the daily errors of that forecast are
    independent; they are not: an error in the forecast's level is made once
    and repeats on every day of the lead time, so the errors are positively
    correlated and :math:`\sqrt{L}\,\sigma_1` falls short (on the bakery
    series of ``benchmarks/forecast_quality.py`` the realised 8-day error is
    about 1.5 times that).

    So the error of the total over ``WINDOW_DAYS`` (K = 7) days is measured
    directly. Each day, ``update(actual, forecast)`` takes the forecast of
    the next K days made before the day was learned: its first day is scored
    as a one-step error, and its total joins ``pending`` (forecast minus the
    demand seen since, for the forecasts of the last K - 1 days), which
    every day's demand is subtracted from; after K days the total's error is
    complete. Errors are ``forecast - actual``. Both mean squares are
    exponentially weighted with a half-life of ``HALF_LIFE_DAYS`` (8 weeks),
    so σ follows the recent accuracy of the forecast served (which improves
    as a model warms up, and changes when the method is switched); the k-th
    error has weight ``max(1/k, 1 - 2**(-1/56))``, a plain mean at first.

    The variance of the total error over ``d`` days is modelled as

    .. math:: \sigma^2(d) = a\,d + b\,d^2, \qquad a, b \ge 0,

    with :math:`a` the noise that is new every day and :math:`b` the part
    that persists over the whole horizon (the error in the forecast's level).
    This is the form Prak, Teunter and Syntetos derive for the lead-time
    forecast error of SES on i.i.d. demand, :math:`L\sigma^2 + L^2 \sigma^2
    \alpha/(2-\alpha)`. :math:`a` and :math:`b` are fitted so that
    :math:`\sigma(1)` and :math:`\sigma(K)` equal the measured one-step and
    K-day RMSE. Errors less correlated than independent (intermittent demand)
    give :math:`b = 0, a = \sigma_1^2`, i.e. :math:`\sqrt{d}\,\sigma_1`, not
    less. Plain :math:`\sqrt{d/K}\,\sigma_K` would be right only near K days:
    the level error of one forecast does not decorrelate from one week of the
    lead time to the next, so it under-covers 2- to 6-week lead times; the
    fit keeps cycle coverage near target from 1 to 6 weeks on the benchmark
    data (the d³ growth of a drifting level is not modelled; at 6 weeks
    coverage is about 2 points below target).

    Parameters
    ----------
    n
        Forecasts scored (one a day).
    pending
        Forecast minus the demand seen since, of the K-day totals forecast on
        the last K - 1 days, oldest first.
    mse_day, mse_window
        Exponentially weighted mean squared error of the one-step forecasts and
        of the K-day totals.

    Examples
    --------
    A forecast 2 a day too low every day: the error over a week is 7 times the
    daily one, not √7 times, and over two weeks 28:

    >>> error = LeadTimeDemandError()
    >>> for _ in range(40):
    ...     error.update(12, [10] * 7)
    >>> error.rmse_day, error.rmse_window, error.sigma_over(14)
    (2.0, 14.0, 28.0)

    References
    ----------
    .. [1] Prak, D., Teunter, R., & Syntetos, A. (2017). On the calculation of
       safety stocks when demand is forecasted. *European Journal of
       Operational Research*, 256(2), 454–461.
    .. [2] Silver, E. A., Pyke, D. F., & Thomas, D. J. (2017). *Inventory and
       Production Management in Supply Chains* (4th ed.): σ of demand over the
       lead time estimated from forecast errors, and safety stock from it.
    """

    WINDOW_DAYS: ClassVar[int] = 7
    """Days K of the total whose forecast error is measured directly."""
    HALF_LIFE_DAYS: ClassVar[float] = 56.0
    """Age in days at which an error weighs half as much as today's."""
    _RECENT_WEIGHT: ClassVar[float] = 1.0 - 0.5 ** (1.0 / HALF_LIFE_DAYS)
    MIN_ERRORS: ClassVar[int] = 14
    """One-step errors needed before ``sigma_day`` trusts its RMSE alone (as ``ForecastError``)."""
    MIN_WINDOWS: ClassVar[int] = 28
    """K-day errors needed before ``sigma_over`` trusts its fit alone (four weeks of them)."""

    n: int = Field(0, ge=0)
    pending: list[float] = Field(default_factory=list)
    mse_day: float = Field(0.0, ge=0.0)
    mse_window: float = Field(0.0, ge=0.0)

    def update(self, y_true: float, forecast: list[float]) -> None:
        """Score the forecast of the next ``WINDOW_DAYS`` days made before the day of ``y_true``."""
        y_true = _check_demand(y_true)
        forecast = [float(f) for f in forecast]
        if len(forecast) != self.WINDOW_DAYS or not all(math.isfinite(f) for f in forecast):
            raise ValueError(
                f"forecast must be {self.WINDOW_DAYS} finite daily values, the days from the one "
                f"being scored on; got {forecast!r}"
            )
        self._update(y_true, forecast)

    def _update(self, y_true: float, forecast: list[float]) -> None:
        n = self.n + 1
        e = forecast[0] - y_true
        self.mse_day += self._weight(n) * (e * e - self.mse_day)
        k = self.WINDOW_DAYS
        pending = [p - y_true for p in self.pending]
        pending.append(sum(forecast) - y_true)
        if len(pending) >= k:  # the window forecast k days ago is complete
            e = pending[-k]
            # Older entries only exist in a record written with a larger k.
            pending = pending[len(pending) - k + 1 :]
            self.mse_window += self._weight(n - len(pending)) * (e * e - self.mse_window)
        self.pending = pending
        self.n = n

    def _weight(self, k: int) -> float:
        return max(1.0 / k, self._RECENT_WEIGHT)

    @property
    def n_windows(self) -> int:
        """K-day totals whose error is known."""
        return self.n - len(self.pending)

    @property
    def rmse_day(self) -> float | None:
        """Recent RMSE of the one-step forecasts; None before the first error."""
        return math.sqrt(self.mse_day) if self.n else None

    @property
    def rmse_window(self) -> float | None:
        """Recent RMSE of the K-day totals; None before the first is complete."""
        return math.sqrt(self.mse_window) if self.n_windows else None

    def sigma_day(self, fallback: float = 0.0) -> float:
        """σ of one day's demand around the forecast: the recent one-step RMSE.

        With fewer than ``MIN_ERRORS`` errors, the larger of it and ``fallback``.
        """
        rmse = self.rmse_day or 0.0
        return rmse if self.n >= self.MIN_ERRORS else max(rmse, fallback)

    def sigma_over(self, days: float, fallback: float = 0.0) -> float:
        """σ of total demand over ``days`` days around its forecast: ``sqrt(a d + b d²)``.

        With fewer than ``MIN_WINDOWS`` K-day errors the fit is too noisy to
        trust alone, so the larger of it (0 before any) and ``fallback`` is
        returned (erring towards more safety stock while the material is new).
        """
        if not days > 0.0:
            return 0.0
        fitted = 0.0
        if self.n_windows:
            k, v_day, v_window = self.WINDOW_DAYS, self.mse_day, self.mse_window
            b = max(v_window - k * v_day, 0.0) / (k * (k - 1))
            a = v_day - b
            if a < 0.0:
                # A week's error over K times a day's (errors grow with the horizon): all of
                # it counts as persistent.
                a, b = 0.0, v_window / (k * k)
            fitted = math.sqrt(a * days + b * days * days)
        return fitted if self.n_windows >= self.MIN_WINDOWS else max(fitted, fallback)


class ForecastMethod(StrEnum):
    """Forecasting method a ``DemandForecaster`` serves."""

    SES = "ses"
    HOLT_WINTERS = "holt_winters"
    SBA = "sba"
    TSB = "tsb"


# The class's own method; Holt-Winters replaces any of them when it earns it (DemandForecaster).
_METHOD_OF_CLASS = {
    DemandClass.SMOOTH: ForecastMethod.SES,
    DemandClass.ERRATIC: ForecastMethod.SES,
    DemandClass.INTERMITTENT: ForecastMethod.SBA,
    DemandClass.LUMPY: ForecastMethod.TSB,
}


class DemandForecaster(_State):
    """Online daily demand forecast of one material: class, method, forecast and its error.

    Every day learned goes to the profile and to every method. The demand
    class picks its own method, and Holt-Winters is served instead of it
    whenever a weekly pattern is evident:

    ============  ==================================  ===========================
    class         class method                        served
    ============  ==================================  ===========================
    smooth        simple exponential smoothing (SES)  Holt-Winters if a weekly
    erratic       SES                                 pattern is evident, else
    intermittent  SBA                                 the class method
    lumpy         TSB
    ============  ==================================  ===========================

    *A weekly pattern is evident* (``weekly_pattern_evident``) when at least
    ``HOLT_WINTERS_MIN_DAYS`` (21) days are known and, over the last four
    weeks or so, Holt-Winters' one-step squared error is below
    ``HOLT_WINTERS_GAIN`` (90 %) of the class method's. Every method is
    scored out of sample every day from Holt-Winters' initialisation (day 14)
    on, as exponentially weighted mean squared errors (weight
    ``max(1/k, 1/28)`` for the k-th), so Holt-Winters is chosen only when its
    weekday offsets (and trend) forecast better than the class method by a
    margin, not because its indices are non-zero on noise.

    The test applies to every class because the class can come from the
    calendar rather than from sparse demand: a shop closed at weekends has
    no demand on two days a week, ADI 7/5 = 1.4 > 1.32, so steady weekday
    demand is intermittent (or erratic, or lumpy, when the weekday sizes
    differ a lot). Holt-Winters' weekday offsets forecast those zeros and
    sizes; the flat rate of SBA or TSB spreads the week's demand over all
    seven days. Demand that is sparse on no particular weekday gives
    Holt-Winters nothing to learn, and its class method stays.

    The class and method are re-chosen every ``RECLASSIFY_EVERY_DAYS`` (7)
    days once ``RECLASSIFY_AFTER_DAYS`` (28) days are known; before that the
    initial method stays (from ``initial_class``, SES when none).

    The forecast errors track the forecasts actually served: each day the
    selected method's forecast of the next ``WINDOW_DAYS`` (7) days is scored
    before the day is learned, its first day in ``error`` and
    ``lead_time_error``, its total in ``lead_time_error`` once the week is
    over. They run on across method switches. The first day of a material
    without a prior has no forecast and is not scored.

    For safety stock, ``sigma_over(days)`` is the σ of total demand over a
    lead time, measured from those recent errors (positively correlated from
    day to day, so more than ``sqrt(days) * sigma_daily``, see
    ``LeadTimeDemandError``).

    Parameters
    ----------
    profile
        Demand profile (class).
    ses, holt_winters, sba, tsb
        The candidate methods.
    error
        One-step error of the served forecasts over the whole history.
    lead_time_error
        Recent error of the served forecasts over one day and one week.
    method
        The method served.
    demand_class
        Class at the last (re)classification; the initial class (or None) before.
    ses_mse, holt_winters_mse, sba_mse, tsb_mse
        Exponentially weighted one-step MSE of each method, for the choice
        between Holt-Winters and the class method. A record written before
        ``sba_mse`` and ``tsb_mse`` existed loads them as 0, which keeps SBA
        or TSB served until they have caught up (a few weeks).
    prior_sigma
        σ of daily demand from the category, used while fewer than 14 errors are known.

    Examples
    --------
    Demand of 6 every third day is intermittent, and SBA serves it after four weeks:

    >>> forecaster = DemandForecaster.new()
    >>> for y in [0, 0, 6] * 10:
    ...     forecaster.learn_one(y)
    >>> forecaster.demand_class, forecaster.method
    (<DemandClass.INTERMITTENT: 'intermittent'>, <ForecastMethod.SBA: 'sba'>)
    >>> round(forecaster.daily_demand, 4)
    1.9

    A shop closed at weekends: the zeros make steady weekday demand
    intermittent, and Holt-Winters, which forecasts them, serves it:

    >>> forecaster = DemandForecaster.new()
    >>> for y in [10, 12, 14, 11, 9, 0, 0] * 6:
    ...     forecaster.learn_one(y)
    >>> forecaster.demand_class, forecaster.method
    (<DemandClass.INTERMITTENT: 'intermittent'>, <ForecastMethod.HOLT_WINTERS: 'holt_winters'>)
    >>> [round(y, 6) for y in forecaster.forecast(7)]
    [10.0, 12.0, 14.0, 11.0, 9.0, 0.0, 0.0]

    Demand that steps between 10 and 15 every other week: after each step the
    forecast's level lags for days, so the error of a week's total is far
    more than √7 times a day's (2.47 * √7 = 6.5):

    >>> forecaster = DemandForecaster.new()
    >>> for week in range(8):
    ...     for y in [10 + 5 * (week % 2)] * 7:
    ...         forecaster.learn_one(y)
    >>> round(forecaster.sigma_daily, 2), round(forecaster.sigma_over(7), 2)
    (2.47, 17.99)

    Its whole state is a small JSON document:

    >>> restored = DemandForecaster.model_validate_json(forecaster.model_dump_json())
    >>> restored == forecaster
    True

    References
    ----------
    .. [1] Syntetos, A. A., Boylan, J. E., & Croston, J. D. (2005). On the
       categorization of demand patterns. *Journal of the Operational Research
       Society*, 56(5), 495–503.
    .. [2] Hyndman, R. J., & Athanasopoulos, G. (2021). *Forecasting: principles
       and practice* (3rd ed.), section 5.8 (time series cross-validation).
       OTexts. https://otexts.com/fpp3/
    """

    RECLASSIFY_AFTER_DAYS: ClassVar[int] = 28
    RECLASSIFY_EVERY_DAYS: ClassVar[int] = 7
    HOLT_WINTERS_MIN_DAYS: ClassVar[int] = 21
    HOLT_WINTERS_GAIN: ClassVar[float] = 0.9
    COMPARISON_MEMORY_DAYS: ClassVar[int] = 28
    DAILY_DEMAND_DAYS: ClassVar[int] = 7

    profile: DemandProfile = Field(default_factory=DemandProfile)
    ses: SimpleExponentialSmoothing = Field(default_factory=SimpleExponentialSmoothing)
    holt_winters: HoltWinters = Field(default_factory=HoltWinters)
    sba: SBA = Field(default_factory=SBA)
    tsb: TSB = Field(default_factory=TSB)
    error: ForecastError = Field(default_factory=ForecastError)
    lead_time_error: LeadTimeDemandError = Field(default_factory=LeadTimeDemandError)
    method: ForecastMethod = ForecastMethod.SES
    demand_class: DemandClass | None = None
    ses_mse: float = Field(0.0, ge=0.0)
    holt_winters_mse: float = Field(0.0, ge=0.0)
    sba_mse: float = Field(0.0, ge=0.0)
    tsb_mse: float = Field(0.0, ge=0.0)
    prior_sigma: float = Field(0.0, ge=0.0)

    @classmethod
    def new(
        cls,
        initial_daily_demand: float = 0.0,
        initial_class: DemandClass | None = None,
        *,
        initial_adi: float = 1.0,
        initial_sigma: float = 0.0,
    ) -> "DemandForecaster":
        """A forecaster for a new material, started from its category's profile.

        A positive ``initial_daily_demand`` seeds every method at that demand:
        the level of SES and Holt-Winters (until its own two weeks), and
        SBA/TSB as a demand of ``initial_daily_demand * initial_adi`` every
        ``initial_adi`` days. 0 means no prior: each method starts from the
        material's own first days. ``initial_class`` picks the first method
        (served until four weeks are known); ``initial_sigma`` is the σ of
        daily demand used while fewer than 14 errors are known.

        Examples
        --------
        >>> forecaster = DemandForecaster.new(3.0, DemandClass.INTERMITTENT, initial_adi=2.0)
        >>> forecaster.method, [round(y, 6) for y in forecaster.forecast(2)]
        (<ForecastMethod.SBA: 'sba'>, [2.85, 2.85])
        """
        d = float(initial_daily_demand)
        if not (math.isfinite(d) and 0.0 <= d <= MAX_DAILY_DEMAND):
            raise ValueError(f"initial_daily_demand must be finite and >= 0, got {d!r}")
        if not (math.isfinite(initial_adi) and initial_adi >= 1.0):
            raise ValueError(f"initial_adi is in days between demands, >= 1; got {initial_adi!r}")
        if not (math.isfinite(initial_sigma) and initial_sigma >= 0.0):
            raise ValueError(f"initial_sigma must be finite and >= 0, got {initial_sigma!r}")
        forecaster = cls(demand_class=initial_class, prior_sigma=initial_sigma)
        forecaster.method = forecaster.class_method
        if d > 0.0:
            p = float(initial_adi)
            forecaster.ses.level = d
            forecaster.holt_winters.level = d
            forecaster.sba.size, forecaster.sba.interval = d * p, p
            forecaster.tsb.size, forecaster.tsb.probability = d * p, 1.0 / p
        return forecaster

    def _model(self, method: ForecastMethod) -> DemandModel:
        # Each method's model and recent MSE are the fields named after it.
        return getattr(self, method.value)

    def learn_one(self, y: float) -> None:
        """Learn the next closed day's demand ``y`` (zeros included), in order."""
        y = _check_demand(y)
        ses, hw = self.ses, self.holt_winters
        # SES has a level once a day or a prior is known: then there is a forecast to score.
        if ses.level is not None:
            path = self._model(self.method)._forecast(LeadTimeDemandError.WINDOW_DAYS)
            self.error._update(y, path[0])
            self.lead_time_error._update(y, path)
        else:
            self.error._update(y, None)
        if hw.initialised:
            k = hw.n - hw.WARM_UP_DAYS + 1
            w = max(1.0 / k, 1.0 / self.COMPARISON_MEMORY_DAYS)
            for method in ForecastMethod:
                e = self._model(method)._forecast(1)[0] - y
                mse = self._recent_mse(method)
                setattr(self, f"{method.value}_mse", mse + w * (e * e - mse))
        self.profile._update(y)
        for method in ForecastMethod:
            self._model(method)._learn(y)
        n = self.profile.n_days
        if n >= self.RECLASSIFY_AFTER_DAYS and n % self.RECLASSIFY_EVERY_DAYS == 0:
            self._reclassify()

    def _reclassify(self) -> None:
        self.demand_class = self.profile.demand_class
        if self.weekly_pattern_evident:
            self.method = ForecastMethod.HOLT_WINTERS
        else:
            self.method = self.class_method

    @property
    def class_method(self) -> ForecastMethod:
        """The method of the demand class (``demand_class``; SES before any class)."""
        if self.demand_class is None:
            return ForecastMethod.SES
        return _METHOD_OF_CLASS[self.demand_class]

    def _recent_mse(self, method: ForecastMethod) -> float:
        return getattr(self, f"{method.value}_mse")

    @property
    def weekly_pattern_evident(self) -> bool:
        """Whether Holt-Winters has recently forecast clearly better than the class method.

        See the class doc: three weeks known, and Holt-Winters' recent one-step
        MSE below ``HOLT_WINTERS_GAIN`` of the class method's.
        """
        return (
            self.profile.n_days >= self.HOLT_WINTERS_MIN_DAYS
            and self.holt_winters.n >= self.HOLT_WINTERS_MIN_DAYS
            and self.holt_winters_mse < self.HOLT_WINTERS_GAIN * self._recent_mse(self.class_method)
        )

    def forecast(self, horizon: int) -> list[float]:
        """Demand of each of the next ``horizon`` days by the method served."""
        return self._model(self.method).forecast(horizon)

    @property
    def daily_demand(self) -> float:
        """Mean forecast demand per day over the next week (weekday pattern averaged out)."""
        days = self.DAILY_DEMAND_DAYS
        return sum(self._model(self.method)._forecast(days)) / days

    @property
    def sigma_daily(self) -> float:
        """σ of daily demand around the forecast: recent RMSE of the served one-step forecasts.

        Exponentially weighted with a half-life of 8 weeks
        (``lead_time_error.sigma_day``), like the weekly error it is paired
        with in ``sigma_over``; ``error.rmse`` is the RMSE over the whole
        history. While fewer than 14 errors are known, the larger of that
        RMSE, the category's ``prior_sigma`` and the standard deviation of the
        daily demand seen so far.
        """
        fallback = max(self.prior_sigma, self.profile.demand_std)
        return self.lead_time_error.sigma_day(fallback=fallback)

    def sigma_over(self, days: float) -> float:
        """σ of total demand over the next ``days`` days around its forecast (lead-time demand).

        ``lead_time_error.sigma_over(days)``: ``sqrt(a d + b d²)`` fitted to the
        recent RMSE of the served forecasts over one day and over a week, which
        counts the forecast's level error once per lead time, not once per day
        (see ``LeadTimeDemandError``). While fewer than four weeks of weekly
        errors are known, at least ``sqrt(days) * sigma_daily``, the textbook
        value with independent daily errors.
        """
        return self.lead_time_error.sigma_over(
            days, fallback=math.sqrt(max(days, 0.0)) * self.sigma_daily
        )
