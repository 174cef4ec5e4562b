"""Forecast quality and inventory policy benchmark on real daily retail demand.

Two questions, answered on the same real series:

1. How good are our online forecasters (``models/forecast.py``) at one step
   ahead, next to the usual references? Each series is split into a training
   head and a test tail (the last ``--test-share``). Every method forecasts
   each test day from the days before it only (rolling origin, one step
   ahead). Ours learn online (``learn_one``) through the training part and on
   through the test part; statsforecast's AutoETS is fitted offline on the
   training part and then filtered through the test part with those
   parameters (``forward``); Croston, SBA, ADIDA and TSB have no fitted
   parameters, so their in-sample one-step values are the rolling forecasts.
   Scores: MASE and RMSSE (scaled by the in-sample naive one-step MAE / MSE of
   the training part) and bias (mean error as a share of mean training
   demand; positive means over-forecast), averaged over the series of each
   Syntetos–Boylan demand class (from ADI and CV² of the training part).

2. Does a dynamic policy hold less stock than a static one for the same
   service? Periodic review every day, lead time ``--lead-time`` days, lost
   sales (a stock-out loses the unmet demand; nothing is backordered). An
   order placed at the end of day t is received at the end of day t + L, so
   it can serve demand from day t + L + 1: the order-up-to level covers the
   lead time plus one review period, as ``models.planning.plan`` computes it.

   * dynamic: every day ``DemandForecaster`` gives the mean daily demand over
     the lead time ``d`` and the σ of total demand over the lead time
     ``sigma_over(L)``, measured from its own errors over one day and one week
     (``models.forecast.LeadTimeDemandError``); ``SS = z * sigma_over(L)``
     (lead time known, sigma_L = 0), ``ROP = d * L + SS``, order up to ``ROP +
     d``: the maths of ``models.planning.plan`` (``models.policy``). As in
     ``plan``, the safety stock protects the lead time only, not the review
     day, so the L + 1 days are covered a little less often than the target.
     With ``--textbook-sigma`` it is the textbook ``SS = z * sqrt(L) *
     sigma_d`` instead, ``sigma_d`` the forecaster's one-step RMSE (the earlier
     policy, which used the RMSE over all history rather than the recent one).
   * static, ERP: the same formulas once, from the mean and standard deviation
     of daily demand in the training part (a min/max set once in an ERP).
   * static, tuned on history: one fixed order-up-to level per series, found
     by bisection so that, replayed over the last stretch of the training
     part (as long as the test tail), it reaches the fill rate the dynamic
     policy reached on that series; then run over the tail. What a planner
     could set from history.
   * static, matched in hindsight: the same bisection on the test tail
     itself, so it reaches the dynamic fill rate exactly. No static setting
     can do better; it is the upper bound for a static min/max.

   A second table checks the safety stock's calibration: the share of days
   whose order-up-to level covered the (uncensored) demand of the next L + 1
   days, against the target; the daily σ against the realised one-step RMSE;
   the σ of lead-time demand used in the safety stock against the realised
   RMSE of the L-day demand forecast; and the realised error of the (L + 1)-day
   demand forecast against the ``sqrt(L + 1) * sigma_d`` that independent
   daily errors would give.

   The forecaster learns each day's full demand, lost sales included (in
   production only sales are seen, which understates demand on stock-out
   days). Fill rate is units served / units demanded. Average inventory is on
   hand at the end of the day. The data have no prices, so inventory is in units
   and in days of cover (average on hand / mean daily demand of the tail).

Data: ``tests/data/bakery_daily_demand.csv`` (105 series: 35 shops x 3
products of a bakery chain, 2016-01-02 .. 2019-04-30) and
``tests/data/yaz_daily_demand.csv`` (7 ingredients of the Yaz restaurant in
Stuttgart, 2013-10-04 .. 2015-11-07); both are daily sales records extracted
from the ``datasetsDynamic`` 0.0.6 wheel (Apache-2.0); provenance in
``tests/data/README.md``. Leading zeros (a store not yet open) are dropped.
``--carparts PATH`` adds Hyndman's monthly car-parts series (the expsmooth
``carparts.csv`` layout; not shipped here, GPL) with one month as one period.

Run::

    .venv/bin/pip install statsforecast==2.1.1
    .venv/bin/python benchmarks/forecast_quality.py
"""

import csv
import math
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from models.policy import (
    order_up_to,
    safety_stock,
    safety_stock_of_lead_time_demand,
)

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
CLASSES = ("smooth", "erratic", "intermittent", "lumpy")
ADI_CUT = 1.32
CV2_CUT = 0.49

console = Console(width=150)


@dataclass
class Series:
    """One demand history: a material at a location, one value per period."""

    dataset: str
    name: str
    y: np.ndarray
    season: int
    n_train: int = 0
    demand_class: str = ""
    adi: float = math.nan
    cv2: float = math.nan

    @property
    def train(self) -> np.ndarray:
        return self.y[: self.n_train]

    @property
    def test(self) -> np.ndarray:
        return self.y[self.n_train :]


# --------------------------------------------------------------------------- data


def read_wide(path: Path) -> tuple[list[str], np.ndarray]:
    """Columns and values of a CSV with a date column and one column per series."""
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    names = rows[0][1:]
    values = np.array([[float(v) for v in row[1:]] for row in rows[1:]])
    return names, values


def load_daily(dataset: str, path: Path) -> list[Series]:
    names, values = read_wide(path)
    series = []
    for j, name in enumerate(names):
        y = values[:, j]
        nonzero = np.flatnonzero(y > 0)
        if nonzero.size:
            series.append(Series(dataset, name, y[nonzero[0] :], season=7))
    return series


def load_carparts(path: Path) -> list[Series]:
    """Hyndman's carparts.csv: one row per part, one column per month, blanks after the end."""
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    series = []
    for row in rows[1:]:
        values = [float(v) for v in row[1:] if v.strip() not in ("", "NA")]
        if len(values) != len(row) - 1:
            continue  # incomplete history, as in Hyndman (2008) and Syntetos et al.
        y = np.array(values)
        nonzero = np.flatnonzero(y > 0)
        if nonzero.size:
            series.append(Series("carparts", row[0], y[nonzero[0] :], season=12))
    return series


def classify(train: np.ndarray) -> tuple[str, float, float]:
    """Syntetos–Boylan class from ADI (periods per demand) and CV² of demand sizes."""
    sizes = train[train > 0]
    adi = train.size / sizes.size if sizes.size else math.inf
    cv2 = float((sizes.std(ddof=1) / sizes.mean()) ** 2) if sizes.size > 1 else 0.0
    if adi < ADI_CUT:
        return ("smooth" if cv2 < CV2_CUT else "erratic"), adi, cv2
    return ("intermittent" if cv2 < CV2_CUT else "lumpy"), adi, cv2


def prepare(series: list[Series], test_share: float, min_train: int) -> list[Series]:
    kept = []
    for s in series:
        s.n_train = round(s.y.size * (1 - test_share))
        if s.n_train < min_train or s.y.size - s.n_train < 2:
            continue
        if naive_scales(s.train)[0] == 0:
            continue  # a constant training part gives no scale
        s.demand_class, s.adi, s.cv2 = classify(s.train)
        kept.append(s)
    return kept


def sample(series: list[Series], max_series: int, seed: int) -> list[Series]:
    if len(series) <= max_series:
        return series
    picked = np.random.default_rng(seed).choice(len(series), size=max_series, replace=False)
    return [series[i] for i in sorted(picked)]


# --------------------------------------------------------------------------- forecasts


def naive_scales(train: np.ndarray) -> tuple[float, float]:
    """In-sample MAE and MSE of the naive one-step forecast: the MASE and RMSSE scales."""
    diffs = np.diff(train)
    return float(np.abs(diffs).mean()), float((diffs**2).mean())


def reference_methods(season: int) -> dict[str, Callable[[Series], np.ndarray]]:
    """Rolling one-step forecasts over the test tail, per reference method."""
    try:
        from statsforecast.models import ADIDA, TSB, AutoETS, CrostonClassic, CrostonSBA
    except ImportError as exc:
        raise SystemExit(
            f"the reference forecasts need statsforecast ({exc}); "
            "install it with: .venv/bin/pip install statsforecast==2.1.1"
        ) from exc

    def naive(s: Series) -> np.ndarray:
        return s.y[s.n_train - 1 : -1]

    def seasonal_naive(s: Series) -> np.ndarray:
        return s.y[s.n_train - s.season : s.y.size - s.season]

    def auto_ets(s: Series) -> np.ndarray:
        model = AutoETS(season_length=s.season).fit(s.train)
        return model.forward(s.y, h=1, fitted=True)["fitted"][s.n_train :]

    def stateless(model: Any) -> Callable[[Series], np.ndarray]:
        # No fitted parameters: the in-sample value at t uses y[:t] only.
        def run(s: Series) -> np.ndarray:
            return model.forecast(s.y, h=1, fitted=True)["fitted"][s.n_train :]

        return run

    return {
        "naive": naive,
        f"seasonal naive (m={season})": seasonal_naive,
        "sf AutoETS": auto_ets,
        "sf CrostonClassic": stateless(CrostonClassic()),
        "sf CrostonSBA": stateless(CrostonSBA()),
        "sf ADIDA": stateless(ADIDA()),
        "sf TSB(0.1,0.1)": stateless(TSB(alpha_d=0.1, alpha_p=0.1)),
    }


def online_one_step(make: Callable[[], Any], s: Series) -> np.ndarray:
    """Rolling one-step forecasts of an online model: learn the head, then predict-learn."""
    model = make()
    for value in s.train:
        model.learn_one(float(value))
    out = np.empty(s.test.size)
    for k, value in enumerate(s.test):
        out[k] = model.forecast(1)[0]
        model.learn_one(float(value))
    return out


@dataclass
class Score:
    mase: float
    rmsse: float
    bias: float


def score(s: Series, forecast: np.ndarray) -> Score:
    mae_scale, mse_scale = naive_scales(s.train)
    errors = forecast - s.test
    if not np.all(np.isfinite(errors)):
        return Score(math.nan, math.nan, math.nan)
    return Score(
        mase=float(np.abs(errors).mean() / mae_scale),
        rmsse=float(math.sqrt((errors**2).mean() / mse_scale)),
        bias=float(errors.mean() / s.train.mean()),
    )


# --------------------------------------------------------------------------- policy


@dataclass
class Outcome:
    demand: float
    served: float
    mean_on_hand: float
    stockout_days: int

    @property
    def fill_rate(self) -> float:
        return self.served / self.demand if self.demand else 1.0


def simulate(demand: np.ndarray, levels: Sequence[float] | float, lead_time: int) -> Outcome:
    """Daily review, order up to ``levels[t+1]`` after day t, receipt L days later, lost sales.

    ``levels[0]``, rounded up, is the starting stock (nothing in transit); ``levels[t+1]``
    is the order-up-to level set after day t's demand is known. An order placed
    at the end of day t is received at the end of day t + L, so a level must
    cover L + 1 days of demand:

    >>> simulate(np.full(20, 10.0), 30, lead_time=2).fill_rate
    1.0
    >>> round(simulate(np.full(20, 10.0), 29, lead_time=2).fill_rate, 3)
    0.97
    """
    days = demand.tolist()  # plain floats: faster in the loop than numpy scalars
    n = len(days)
    fixed = not isinstance(levels, Sequence | np.ndarray)
    # Stock comes in whole units, as orders do.
    on_hand = float(max(0, math.ceil((levels if fixed else levels[0]) - 1e-9)))
    # pipeline[0] is received at the start of the next day. An order placed now
    # joins at the end, L + 1 places back: it is received at the end of day t + L,
    # i.e. before the demand of day t + L + 1.
    pipeline: deque[float] = deque([0.0] * (lead_time + 1))
    in_transit = 0.0
    served = on_hand_sum = 0.0
    stockouts = 0
    for t in range(n):
        arriving = pipeline.popleft()
        on_hand += arriving
        in_transit -= arriving
        sold = min(on_hand, days[t])
        served += sold
        on_hand -= sold
        stockouts += sold < days[t]
        on_hand_sum += on_hand
        target = levels if fixed else levels[t + 1]
        order = max(0, math.ceil(target - on_hand - in_transit - 1e-9))
        pipeline.append(order)
        in_transit += order
    return Outcome(sum(days), served, on_hand_sum / n, stockouts)


def match_static(demand: np.ndarray, target_fill: float, lead_time: int, start: float) -> tuple:
    """Smallest fixed order-up-to level that reaches ``target_fill`` (bisection)."""
    hi = max(start, 1.0)
    for _ in range(40):
        if simulate(demand, hi, lead_time).fill_rate >= target_fill - 1e-12:
            break
        hi *= 2
    lo = 0.0
    for _ in range(40):
        mid = (lo + hi) / 2
        if simulate(demand, mid, lead_time).fill_rate >= target_fill - 1e-12:
            hi = mid
        else:
            lo = mid
        if hi - lo < 1e-3 * max(hi, 1.0):
            break
    return hi, simulate(demand, hi, lead_time)


def static_erp_level(train: np.ndarray, service_level: float, lead_time: int) -> float:
    daily, sigma = float(train.mean()), float(train.std(ddof=1))
    ss = safety_stock(service_level, lead_time + 1, 0.0, daily, sigma)
    return order_up_to(daily, lead_time + 1, ss)


@dataclass
class PolicyRun:
    dynamic: Outcome
    erp: Outcome
    history: Outcome
    matched: Outcome
    mean_demand: float
    covered: int
    windows: int
    sigma_ratio: float
    lead_sigma_ratio: float
    lead_time_ratio: float
    methods: Counter = field(default_factory=Counter)


POLICIES = (
    ("dynamic", "dynamic (DemandForecaster)"),
    ("erp", "static ERP (train mean/std)"),
    ("history", "static tuned on history"),
    ("matched", "static matched in hindsight"),
)


# --------------------------------------------------------------------------- ours


def our_models() -> tuple[dict[str, Callable[[], Any]], Callable[[], Any] | None, str]:
    """Constructors of our online forecasters, the auto-selecting one, and a note."""
    try:
        from models import forecast as ours
    except Exception as exc:  # the module is being written beside this benchmark
        return {}, None, f"models.forecast not importable: {exc!r}"
    makers: dict[str, Callable[[], Any]] = {}
    for name in ("SimpleExponentialSmoothing", "HoltWinters", "Croston", "SBA", "TSB"):
        cls = getattr(ours, name, None)
        if cls is not None:
            makers[f"ours {name}"] = cls
    auto = getattr(ours, "DemandForecaster", None)
    make_auto = getattr(auto, "new", auto) if auto is not None else None
    if make_auto is not None:
        makers["ours DemandForecaster"] = make_auto
    return makers, make_auto, ""


def forecaster_sigma(model: Any) -> float:
    for attr in ("sigma_daily", "sigma"):
        value = getattr(model, attr, None)
        if value is not None:
            return float(value() if callable(value) else value)
    raise AttributeError("the forecaster exposes no one-step error sigma")


@dataclass
class DynamicPlan:
    levels: list[float]
    daily: list[float]
    sigmas: list[float]
    lead_sigmas: list[float]
    errors: list[float]
    methods: Counter


def dynamic_levels(
    make: Callable[[], Any], s: Series, service_level: float, lead_time: int, textbook: bool
) -> DynamicPlan:
    """Order-up-to level (and the σ behind it) after the training part and after each test day."""
    model = make()
    for value in s.train:
        model.learn_one(float(value))
    sigma_over = None if textbook else getattr(model, "sigma_over", None)
    plan = DynamicPlan([], [], [], [], [], Counter())
    for k in range(s.test.size + 1):
        path = model.forecast(lead_time)
        daily = max(0.0, sum(path) / lead_time)
        sigma = forecaster_sigma(model)
        # What models.planning.plan does (sigma_L = 0 here; daily review, so the protection
        # interval is L + 1); textbook: sqrt(L + 1) * sigma_d.
        protection = lead_time + 1
        sigma_lead = sigma_over(protection) if sigma_over else math.sqrt(protection) * sigma
        ss = safety_stock_of_lead_time_demand(service_level, sigma_lead, daily, 0.0)
        plan.levels.append(order_up_to(daily, protection, ss))
        plan.daily.append(daily)
        plan.sigmas.append(sigma)
        plan.lead_sigmas.append(sigma_lead)
        plan.methods[str(getattr(model, "method", "?"))] += 1
        if k < s.test.size:
            plan.errors.append(path[0] - float(s.test[k]))
            model.learn_one(float(s.test[k]))
    return plan


def policy_run(
    make: Callable[[], Any], s: Series, service_level: float, lead_time: int, textbook: bool
) -> PolicyRun:
    plan = dynamic_levels(make, s, service_level, lead_time, textbook)
    dynamic = simulate(s.test, plan.levels, lead_time)
    erp = simulate(s.test, static_erp_level(s.train, service_level, lead_time), lead_time)
    # What a planner could do without hindsight: tune one level on the last stretch of
    # history (as long as the test tail) to the fill rate the dynamic policy reached.
    recent = s.train[-s.test.size :]
    level, _ = match_static(recent, dynamic.fill_rate, lead_time, max(plan.levels))
    history = simulate(s.test, level, lead_time)
    _, matched = match_static(s.test, dynamic.fill_rate, lead_time, max(plan.levels))
    # Cycle service of the formula itself, on uncensored demand: the level set after day k
    # has to cover demand of days k+1 .. k+L+1 (lead time plus one review).
    span = lead_time + 1
    starts = range(s.test.size - span + 1)
    windows = [plan.levels[k] >= s.test[k : k + span].sum() for k in starts]
    rmse = math.sqrt(sum(e * e for e in plan.errors) / len(plan.errors))
    # The formula scales the one-step σ by sqrt(days): right only if daily errors are
    # independent. Compare with the realised error of the forecast demand over the span.
    span_errors = [plan.daily[k] * span - s.test[k : k + span].sum() for k in starts]
    span_rmse = math.sqrt(sum(e * e for e in span_errors) / len(span_errors))
    # The σ of lead-time demand in the safety stock against the realised error it stands for.
    lead_starts = range(s.test.size - lead_time + 1)
    lead_errors = [plan.daily[k] * lead_time - s.test[k : k + lead_time].sum() for k in lead_starts]
    lead_rmse = math.sqrt(sum(e * e for e in lead_errors) / len(lead_errors))
    return PolicyRun(
        dynamic,
        erp,
        history,
        matched,
        float(s.test.mean()),
        covered=sum(windows),
        windows=len(windows),
        sigma_ratio=mean(plan.sigmas[:-1]) / rmse if rmse > 0 else math.nan,
        lead_sigma_ratio=ratio(mean(plan.lead_sigmas[: len(lead_starts)]), lead_rmse),
        lead_time_ratio=span_rmse / (math.sqrt(span) * rmse) if rmse > 0 else math.nan,
        methods=plan.methods,
    )


# --------------------------------------------------------------------------- report


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else math.nan


def mean(values: Iterable[float]) -> float:
    data = [v for v in values if math.isfinite(v)]
    return sum(data) / len(data) if data else math.nan


def fmt(value: float, digits: int = 3) -> str:
    return "-" if not math.isfinite(value) else f"{value:.{digits}f}"


def signed(percent: float) -> str:
    return "-" if not math.isfinite(percent) else f"{percent:+.1f}%"


def spread(values: Iterable[float]) -> str:
    data = np.array([v for v in values if math.isfinite(v)])
    if not data.size:
        return "-"
    p10, p50, p90 = np.percentile(data, [10, 50, 90])
    return f"{p50:.2f} ({p10:.2f}-{p90:.2f})"


def groups(series: list[Series]) -> list[tuple[str, list[int]]]:
    out = [(c, [i for i, s in enumerate(series) if s.demand_class == c]) for c in CLASSES]
    return [*out, ("all", list(range(len(series))))]


def accuracy_tables(series: list[Series], scores: dict[str, list[Score]], title: str) -> None:
    parts = groups(series)
    for metric, label, digits in (
        ("mase", "MASE (mean over series; lower is better)", 3),
        ("rmsse", "RMSSE (mean over series; lower is better)", 3),
        ("bias", "Bias: mean error / mean training demand, % (+ = over-forecast)", 1),
    ):
        table = Table(title=f"{title}: {label}", title_justify="left")
        table.add_column("method")
        for name, members in parts:
            table.add_column(f"{name} (n={len(members)})", justify="right")
        for method, per_series in scores.items():
            cells = []
            for _, members in parts:
                value = mean(getattr(per_series[i], metric) for i in members)
                cells.append(fmt(100 * value, 1) if metric == "bias" else fmt(value, digits))
            table.add_row(method, *cells)
        console.print(table)


def policy_table(
    series: list[Series], runs: list[PolicyRun], title: str, lead_time: int, service_level: float
) -> None:
    table = Table(
        title=(
            f"{title}: inventory policy, lead time {lead_time}, target cycle service "
            f"{service_level:.0%}, daily review, lost sales"
        ),
        title_justify="left",
        caption=(
            "fill = units served / units demanded, pooled over the series; in-stock = days "
            "without a stock-out; on hand = sum over the series of the mean end-of-day stock "
            "(units; no prices in the data); cover = on hand / mean daily demand, mean over "
            "series; tuned on history / matched in hindsight: one fixed level per series, "
            "bisected to the dynamic policy's fill rate on that series, on the last stretch "
            "of the training part (as long as the tail) / on the tail itself"
        ),
        caption_justify="left",
    )
    for column in ("class", "n", "policy", "fill", "in-stock", "on hand", "cover (d)", "vs dyn"):
        table.add_column(column, justify="left" if column in ("class", "policy") else "right")
    for name, members in groups(series):
        if not members:
            continue
        picked = [runs[i] for i in members]
        days = sum(series[i].test.size for i in members)
        dynamic_stock = sum(r.dynamic.mean_on_hand for r in picked)
        for kind, label in POLICIES:
            outs = [getattr(r, kind) for r in picked]
            stock = sum(o.mean_on_hand for o in outs)
            fill = ratio(sum(o.served for o in outs), sum(o.demand for o in outs))
            covers = (
                ratio(o.mean_on_hand, r.mean_demand) for o, r in zip(outs, picked, strict=True)
            )
            table.add_row(
                name if kind == "dynamic" else "",
                str(len(members)) if kind == "dynamic" else "",
                label,
                fmt(100 * fill, 2) + "%",
                f"{100 * (1 - sum(o.stockout_days for o in outs) / days):.1f}%",
                f"{stock:,.0f}",
                fmt(mean(covers), 2),
                "" if kind == "dynamic" else signed(100 * (ratio(stock, dynamic_stock) - 1)),
                end_section=kind == POLICIES[-1][0],
            )
    console.print(table)

    check = Table(
        title=f"{title}: is the dynamic safety stock calibrated?",
        title_justify="left",
        caption=(
            "covered = share of test days whose order-up-to level covered the uncensored "
            f"demand of the next {lead_time + 1} days (lead time + review; target "
            f"{service_level:.0%}); σ_d / RMSE = mean sigma_daily over the tail / RMSE of the "
            "served one-step forecasts over the tail; σ_LT / LT RMSE = mean σ of lead-time "
            f"demand in the safety stock over the tail / RMSE of the forecast demand over the "
            f"next {lead_time} days; span RMSE / √span σ = RMSE of the forecast demand over the "
            f"{lead_time + 1} days / (√{lead_time + 1} x one-step RMSE), 1 if daily errors were "
            "independent (ratios: median, p10-p90 over series)"
        ),
        caption_justify="left",
    )
    columns = ("class", "n", "covered", "σ_d / RMSE", "σ_LT / LT RMSE", "span RMSE / √span σ")
    for column in columns:
        check.add_column(column, justify="left" if column == "class" else "right")
    for name, members in groups(series):
        if not members:
            continue
        picked = [runs[i] for i in members]
        covered = sum(r.covered for r in picked) / max(1, sum(r.windows for r in picked))
        check.add_row(
            name,
            str(len(members)),
            f"{100 * covered:.1f}%",
            spread(r.sigma_ratio for r in picked),
            spread(r.lead_sigma_ratio for r in picked),
            spread(r.lead_time_ratio for r in picked),
        )
    console.print(check)


def data_table(series: list[Series]) -> None:
    table = Table(title="Data (after dropping leading zeros)", title_justify="left")
    for column in ("dataset", "series", "length", "train", "test", *CLASSES):
        table.add_column(column, justify="left" if column == "dataset" else "right")
    for dataset in sorted({s.dataset for s in series}):
        members = [s for s in series if s.dataset == dataset]
        counts = Counter(s.demand_class for s in members)
        lengths = [s.y.size for s in members]
        tests = [s.test.size for s in members]
        table.add_row(
            dataset,
            str(len(members)),
            f"{min(lengths)}-{max(lengths)}",
            f"{sum(s.n_train for s in members):,}",
            f"{sum(tests):,} ({min(tests)}-{max(tests)}/series)",
            *(str(counts[c]) for c in CLASSES),
        )
    console.print(table)


# --------------------------------------------------------------------------- main


def run_group(
    title: str,
    series: list[Series],
    season: int,
    service_level: float,
    lead_time: int,
    textbook: bool,
    timings: dict[str, float],
) -> None:
    data_table(series)
    scores: dict[str, list[Score]] = {}
    for method, forecast in reference_methods(season).items():
        started = time.perf_counter()
        scores[method] = [score(s, forecast(s)) for s in series]
        timings[f"{title}: {method}"] = time.perf_counter() - started
    makers, make_auto, note = our_models()
    if note:
        console.print(f"[yellow]{note}: our forecasters are left out[/yellow]")
    for method, make in makers.items():
        started = time.perf_counter()
        scores[method] = [score(s, online_one_step(make, s)) for s in series]
        timings[f"{title}: {method}"] = time.perf_counter() - started
    accuracy_tables(series, scores, title)
    if make_auto is None:
        return

    started = time.perf_counter()
    runs = [policy_run(make_auto, s, service_level, lead_time, textbook) for s in series]
    timings[f"{title}: policy simulation"] = time.perf_counter() - started
    sigma = "textbook √L x σ_d" if textbook else "measured sigma_over(L)"
    policy_table(series, runs, f"{title}, SS from {sigma}", lead_time, service_level)
    chosen = Table(title=f"{title}: DemandForecaster's method by class", title_justify="left")
    chosen.add_column("class")
    chosen.add_column("method chosen (share of test days)")
    for name, members in groups(series):
        total: Counter = Counter()
        for i in members:
            total.update(runs[i].methods)
        days = sum(total.values()) or 1
        shares = ", ".join(f"{m} {100 * c / days:.0f}%" for m, c in total.most_common())
        chosen.add_row(name, shares)
    console.print(chosen)


def main(
    test_share: Annotated[float, typer.Option(min=0.05, max=0.5, help="Test tail share.")] = 0.25,
    max_series: Annotated[int, typer.Option(min=1, help="Series sampled per data set.")] = 500,
    lead_time: Annotated[int, typer.Option(min=1, help="Lead time in periods.")] = 7,
    service_level: Annotated[float, typer.Option(help="Target cycle service level.")] = 0.95,
    carparts: Annotated[
        Path | None, typer.Option(help="Hyndman's carparts.csv, run as a second group.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the series sample.")] = 7,
    textbook_sigma: Annotated[
        bool, typer.Option(help="Dynamic SS from sqrt(L) x one-step σ, the earlier policy.")
    ] = False,
) -> None:
    started = time.perf_counter()
    timings: dict[str, float] = {}
    daily = load_daily("bakery", DATA / "bakery_daily_demand.csv") + load_daily(
        "yaz", DATA / "yaz_daily_demand.csv"
    )
    daily = sample(prepare(daily, test_share, min_train=60), max_series, seed)
    run_group("daily (bakery + yaz)", daily, 7, service_level, lead_time, textbook_sigma, timings)
    if carparts is not None:
        monthly = sample(prepare(load_carparts(carparts), test_share, 24), max_series, seed)
        run_group(
            "carparts (monthly)", monthly, 12, service_level, lead_time, textbook_sigma, timings
        )

    table = Table(title="Runtime", title_justify="left")
    table.add_column("stage")
    table.add_column("seconds", justify="right")
    for stage, seconds in timings.items():
        table.add_row(stage, f"{seconds:.1f}")
    table.add_row(
        "total (wall clock, incl. loading and imports)", f"{time.perf_counter() - started:.1f}"
    )
    console.print(table)


if __name__ == "__main__":
    typer.run(main)
