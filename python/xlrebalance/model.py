"""The portfolio and the plan: validated, immutable dataclasses with no I/O.

Amounts are floats in the currency named next to them; weights are fractions of the whole
portfolio's value in the base currency. ``validate`` checks the rules that span fields (targets
summing to 1, duplicate rows, missing FX rates...) and reports each problem through a ``locate``
function, so the JSON reader says ``holdings[2].quantity`` and the workbook reader says
``Holdings!E7`` for the same rule.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from xlrebalance.errors import PortfolioError

CASH = "CASH"
"""Key of the cash target in ``Portfolio.targets``."""

TARGET_SUM_TOLERANCE = 1e-6

# ISO 4217 codes a brokerage account plausibly holds; anything else is a typo we report.
KNOWN_CURRENCIES = frozenset(
    (
        "KRW",
        "USD",
        "EUR",
        "JPY",
        "GBP",
        "CNY",
        "HKD",
        "CAD",
        "AUD",
        "CHF",
        "SGD",
        "TWD",
        "INR",
        "NZD",
        "SEK",
        "NOK",
        "DKK",
        "MXN",
        "BRL",
        "ZAR",
        "VND",
        "THB",
        "IDR",
        "MYR",
        "PHP",
        "PLN",
        "CZK",
        "HUF",
        "ILS",
        "TRY",
        "SAR",
        "AED",
    )
)

_KR_CODE = re.compile(r"^[0-9][0-9A-Z]{5}$")


class Market(StrEnum):
    US = "US"
    KR = "KR"


class Kind(StrEnum):
    STOCK = "STOCK"
    ETF = "ETF"


class Mode(StrEnum):
    REBALANCE = "rebalance"
    BUY_ONLY = "buy_only"
    SELL_ONLY = "sell_only"


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"


MARKET_CURRENCY: Mapping[Market, str] = {Market.US: "USD", Market.KR: "KRW"}


def infer_market(ticker: str) -> Market:
    """KRX codes are six characters starting with a digit (``005930``, ``0080G0``); else US."""
    return Market.KR if _KR_CODE.match(ticker) else Market.US


def normalize_ticker(raw: str) -> str:
    """Upper-case, trimmed; a KRX code that lost its leading zeros (69500) gets them back."""
    ticker = raw.strip().upper()
    if ticker.isdigit() and len(ticker) < 6:
        ticker = ticker.zfill(6)
    return ticker


@dataclass(frozen=True)
class Account:
    id: str
    cash: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Holding:
    account: str
    ticker: str
    market: Market
    quantity: float
    currency: str
    kind: Kind = Kind.STOCK
    price: float | None = None
    locked: bool = False
    name: str | None = None
    average_cost: float | None = None  # per share, in the holding's currency
    leverage: float | None = None  # the user's factor (3 for TQQQ); None: known table or 1
    take_profit: float | None = None  # target return (0.5 = +50%) at which to flag the row


@dataclass(frozen=True)
class Group:
    name: str
    tickers: tuple[str, ...]
    max_weight: float


@dataclass(frozen=True)
class Fee:
    """Commission: ``max(rate * amount, min)`` on every non-zero trade, in the trade's currency."""

    rate: float = 0.0
    min: float = 0.0


@dataclass(frozen=True)
class Band:
    """No-trade band around a target: a position trades only when its weight is off target by
    more than ``absolute`` or more than ``relative`` x target, whichever is tighter (the "5/25"
    rule is ``Band(0.05, 0.25)``). A zero part is ignored; both zero means no band."""

    absolute: float = 0.0
    relative: float = 0.0

    def width(self, target: float) -> float:
        parts = []
        if self.absolute > 0:
            parts.append(self.absolute)
        if self.relative > 0:
            parts.append(self.relative * target)
        return min(parts, default=0.0)


@dataclass(frozen=True)
class ExposureLimits:
    """Look-through limits the plan checks (warnings, not constraints): the largest share of
    the portfolio one underlying company or one sector may make up, and the most gross
    exposure (sum of |leverage| x value) per unit of portfolio value. None: no limit."""

    company: float | None = None
    sector: float | None = None
    gross_leverage: float | None = None

    @property
    def any_set(self) -> bool:
        return any(v is not None for v in (self.company, self.sector, self.gross_leverage))


DEFAULT_SELL_TAX: Mapping[str, float] = {"KR:STOCK": 0.002, "KR:ETF": 0.0}


def merge_sell_tax(user: Mapping[str, float]) -> dict[str, float]:
    """The user's sell-tax keys over the defaults: ``{"US": 0.0000278}`` (the SEC fee) keeps
    the Korean stock tax; an explicit ``0`` wins. A market-wide key (``KR``) replaces the
    defaults for that market's kinds (``KR:STOCK``), since the specific key would win."""
    merged = {
        key: rate
        for key, rate in DEFAULT_SELL_TAX.items()
        if key.partition(":")[0] not in user and key not in user
    }
    merged.update(user)
    return merged


class RoundingMode(StrEnum):
    UP = "up"
    NEAREST = "nearest"
    DOWN = "down"


@dataclass(frozen=True)
class FeeRounding:
    """How a broker rounds each fee and each tax of a market: to a whole number of ``unit``
    (in the trade's currency; 0: not rounded), ``up``, to the ``nearest`` or ``down``."""

    unit: float = 0.0
    mode: RoundingMode = RoundingMode.UP

    def apply(self, amount: float) -> float:
        if self.unit <= 0 or amount == 0:
            return amount
        steps = amount / self.unit
        if abs(steps - round(steps)) < 1e-9:  # 0.30000000000000004 cents is 30, not 31
            steps = round(steps)
        if self.mode is RoundingMode.UP:
            whole = math.ceil(steps)
        elif self.mode is RoundingMode.DOWN:
            whole = math.floor(steps)
        else:
            whole = math.floor(steps + 0.5)
        return round(whole * self.unit, 10)

    @property
    def margin(self) -> float:
        """The most rounding adds to one amount."""
        if self.mode is RoundingMode.UP:
            return self.unit
        return self.unit / 2 if self.mode is RoundingMode.NEAREST else 0.0


# Korean brokers drop fractions of a won on commissions and the transaction tax (원 미만
# 절사); US brokers bill whole cents, and the SEC fee is rounded up to the next cent.
DEFAULT_FEE_ROUNDING: Mapping[str, FeeRounding] = {
    "KR": FeeRounding(1.0, RoundingMode.DOWN),
    "US": FeeRounding(0.01, RoundingMode.UP),
}


@dataclass(frozen=True)
class Settings:
    mode: Mode = Mode.REBALANCE
    contribution: Mapping[str, float] = field(default_factory=dict)
    contribution_account: str | None = None
    fractional: bool = False
    band: Band = field(default_factory=Band)
    min_trade_value: float = 0.0
    fees: Mapping[str, Fee] = field(default_factory=dict)
    sell_tax: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_SELL_TAX))
    fx_spread: float = 0.0
    auto_fx: bool = True
    time_limit: float = 1.0
    exposure_limits: ExposureLimits = field(default_factory=lambda: ExposureLimits())
    realised_gains_this_year: float = 0.0  # base currency, overseas sales before this plan
    fee_rounding: Mapping[str, FeeRounding] = field(default_factory=dict)
    """Per market, over :data:`DEFAULT_FEE_ROUNDING` (a market not named keeps its default)."""
    cash_reserve: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    """Cash a plan leaves untouched: account -> currency -> amount."""

    def fee(self, market: Market) -> Fee:
        return self.fees.get(market.value, Fee())

    def rounding(self, market: Market) -> FeeRounding:
        return self.fee_rounding.get(
            market.value, DEFAULT_FEE_ROUNDING.get(market.value, FeeRounding())
        )

    def reserve(self, account: str, currency: str) -> float:
        return self.cash_reserve.get(account, {}).get(currency, 0.0)

    def tax_rate(self, market: Market, kind: Kind) -> float:
        key = f"{market.value}:{kind.value}"
        if key in self.sell_tax:
            return self.sell_tax[key]
        return self.sell_tax.get(market.value, 0.0)


@dataclass(frozen=True)
class Portfolio:
    base_currency: str
    accounts: tuple[Account, ...]
    holdings: tuple[Holding, ...]
    targets: Mapping[str, float]
    fx: Mapping[str, float] = field(default_factory=dict)
    groups: tuple[Group, ...] = ()
    settings: Settings = field(default_factory=Settings)
    version: int = 1

    def rate(self, currency: str) -> float:
        """Base-currency units per one unit of ``currency``."""
        if currency == self.base_currency:
            return 1.0
        key = currency + self.base_currency
        if key not in self.fx:
            raise PortfolioError(f"fx.{key}", f"no FX rate for {currency} in {self.base_currency}")
        return self.fx[key]

    def tickers(self) -> tuple[str, ...]:
        """Every ticker in holdings order, each once."""
        return tuple(dict.fromkeys(h.ticker for h in self.holdings))

    def currencies(self) -> tuple[str, ...]:
        found = [h.currency for h in self.holdings]
        for account in self.accounts:
            found.extend(account.cash)
        found.extend(self.settings.contribution)
        return tuple(dict.fromkeys(found))


@dataclass(frozen=True)
class Order:
    account: str
    ticker: str
    side: Side
    quantity: float
    price: float
    currency: str
    amount: float
    fees: float
    taxes: float
    name: str | None = None


class SolverStatus(StrEnum):
    OPTIMAL = "optimal"
    TIME_LIMIT = "time_limit"
    HEURISTIC = "heuristic"


@dataclass(frozen=True)
class SolverReport:
    status: SolverStatus
    gap: float
    seconds: float
    objective: float = 0.0
    bound: float = 0.0


@dataclass(frozen=True)
class Conversion:
    """Currency bought with another inside one account (brokers' automatic FX)."""

    account: str
    sell_currency: str
    buy_currency: str
    sell_amount: float
    buy_amount: float


@dataclass(frozen=True)
class Summary:
    base_currency: str
    value_before: float
    value_after: float
    drift_before: float
    drift_after: float
    cash_after: Mapping[str, Mapping[str, float]]
    fees_total: float
    taxes_total: float
    fx_cost_total: float
    solver: SolverReport
    weights_before: Mapping[str, float] = field(default_factory=dict)
    weights_after: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    orders: tuple[Order, ...]
    summary: Summary
    conversions: tuple[Conversion, ...] = ()
    warnings: tuple[str, ...] = ()


# --------------------------------------------------------------------------------------------
# Validation of the rules that span fields.

Locate = Callable[[str], str]


def _identity(path: str) -> str:
    return path


def check_number(
    value: float, location: str, *, minimum: float | None = None, maximum: float | None = None
) -> None:
    if not math.isfinite(value):
        raise PortfolioError(location, f"expected a finite number, got {value!r}")
    if minimum is not None and value < minimum:
        raise PortfolioError(location, f"expected a number >= {minimum:g}, got {value:g}")
    if maximum is not None and value > maximum:
        raise PortfolioError(location, f"expected a number <= {maximum:g}, got {value:g}")


def check_fraction(value: float, location: str) -> None:
    """A weight, 0 to 1; ``5`` for 5% gets told how to write it."""
    if math.isfinite(value) and 1 < value <= 100:
        raise PortfolioError(
            location,
            f"expected a fraction from 0 to 1 ({value / 100:g} or {value:g}% for {value:g}%), "
            f"got {value:g}",
        )
    check_number(value, location, minimum=0, maximum=1)


def check_currency(code: str, location: str) -> None:
    if code not in KNOWN_CURRENCIES:
        raise PortfolioError(
            location, f"unknown currency {code!r} (expected a code such as KRW or USD)"
        )


def validate(portfolio: Portfolio, *, offline: bool = True, locate: Locate = _identity) -> None:
    """Raise :class:`PortfolioError` for the first rule the portfolio breaks.

    ``offline`` makes a missing price or FX rate an error (otherwise they are to be fetched).
    """
    base = portfolio.base_currency
    check_currency(base, locate("base_currency"))
    _validate_accounts(portfolio, locate)
    _validate_holdings(portfolio, offline, locate)
    _validate_targets(portfolio, locate)
    _validate_groups(portfolio, locate)
    _validate_settings(portfolio, locate)
    for key, rate in portfolio.fx.items():
        check_number(rate, locate(f"fx.{key}"), minimum=0)
        if rate <= 0:
            raise PortfolioError(locate(f"fx.{key}"), f"expected a positive rate, got {rate:g}")
    if offline:
        for currency in portfolio.currencies():
            if currency != base and currency + base not in portfolio.fx:
                raise PortfolioError(
                    locate(f"fx.{currency}{base}"),
                    f"no FX rate for {currency} (base units per 1 {currency}) and running "
                    f"offline{_inverse_hint(portfolio, currency)}",
                )


def _inverse_hint(portfolio: Portfolio, currency: str) -> str:
    """The pair written the other way round (``KRWUSD`` for ``USDKRW``) is a common slip."""
    base = portfolio.base_currency
    inverse = portfolio.fx.get(base + currency)
    if inverse is None or not math.isfinite(inverse) or inverse <= 0:
        return ""
    return (
        f"; fx has {base}{currency} {inverse:g}, the other way round: write it as "
        f"{currency}{base} {1 / inverse:.6g}"
    )


def _validate_accounts(portfolio: Portfolio, locate: Locate) -> None:
    seen: set[str] = set()
    if not portfolio.accounts:
        raise PortfolioError(locate("accounts"), "expected at least one account")
    for i, account in enumerate(portfolio.accounts):
        if not account.id:
            raise PortfolioError(locate(f"accounts[{i}].id"), "expected a non-empty account id")
        if account.id in seen:
            raise PortfolioError(locate(f"accounts[{i}].id"), f"duplicate account {account.id!r}")
        seen.add(account.id)
        for currency, amount in account.cash.items():
            where = locate(f"accounts[{i}].cash.{currency}")
            check_currency(currency, where)
            check_number(amount, where, minimum=0)


def _validate_holdings(portfolio: Portfolio, offline: bool, locate: Locate) -> None:
    accounts = {a.id for a in portfolio.accounts}
    rows: dict[tuple[str, str], int] = {}
    first_of_ticker: dict[str, Holding] = {}
    for i, h in enumerate(portfolio.holdings):
        at = f"holdings[{i}]"
        if not h.ticker:
            raise PortfolioError(locate(f"{at}.ticker"), "expected a ticker")
        if h.account not in accounts:
            raise PortfolioError(
                locate(f"{at}.account"),
                f"{h.ticker}: account {h.account!r} is not one of the accounts "
                f"({', '.join(sorted(accounts))})",
            )
        key = (h.account, h.ticker)
        if key in rows:
            raise PortfolioError(
                locate(f"{at}.ticker"),
                f"duplicate row for {h.ticker} in account {h.account!r} "
                f"(also {locate(f'holdings[{rows[key]}]')})",
            )
        rows[key] = i
        check_number(h.quantity, locate(f"{at}.quantity"), minimum=0)
        if not portfolio.settings.fractional and h.quantity != math.floor(h.quantity):
            raise PortfolioError(
                locate(f"{at}.quantity"),
                f"{h.ticker}: {h.quantity:g} is not a whole number of shares "
                "(set fractional to true for fractional shares)",
            )
        check_currency(h.currency, locate(f"{at}.currency"))
        if h.price is None:
            if offline:
                raise PortfolioError(
                    locate(f"{at}.price"), f"{h.ticker}: no price and running offline"
                )
        else:
            check_number(h.price, locate(f"{at}.price"))
            if h.price <= 0:
                raise PortfolioError(
                    locate(f"{at}.price"), f"{h.ticker}: expected a positive price, got {h.price:g}"
                )
        if h.average_cost is not None:
            check_number(h.average_cost, locate(f"{at}.average_cost"), minimum=0)
        if h.leverage is not None:
            check_number(h.leverage, locate(f"{at}.leverage"), minimum=-10, maximum=10)
        if h.take_profit is not None:
            check_number(h.take_profit, locate(f"{at}.take_profit"), minimum=0)
        first = first_of_ticker.setdefault(h.ticker, h)
        for attr in ("market", "currency", "kind"):
            if getattr(first, attr) != getattr(h, attr):
                raise PortfolioError(
                    locate(f"{at}.{attr}"),
                    f"{h.ticker} is {getattr(first, attr)} in account {first.account!r} "
                    f"but {getattr(h, attr)} here",
                )
        if first.price is not None and h.price is not None and first.price != h.price:
            raise PortfolioError(
                locate(f"{at}.price"),
                f"{h.ticker} has price {first.price:g} in account {first.account!r} "
                f"but {h.price:g} here",
            )


def _validate_targets(portfolio: Portfolio, locate: Locate) -> None:
    held = set(portfolio.tickers())
    total = 0.0
    for ticker, weight in portfolio.targets.items():
        where = locate(f"targets.{ticker}")
        if math.isfinite(weight) and weight > 1:
            raise PortfolioError(
                where,
                f"expected a fraction from 0 to 1 ({weight / 100:g} for {weight:g}%), "
                f"got {weight:g}",
            )
        check_number(weight, where, minimum=0, maximum=1)
        if ticker != CASH and ticker not in held:
            raise PortfolioError(
                where,
                f"{ticker} has a target but no holdings row: add a row with quantity 0 "
                "so it has an account, market and currency",
            )
        total += weight
    if abs(total - 1.0) > TARGET_SUM_TOLERANCE:
        raise PortfolioError(
            locate("targets"),
            f"target weights sum to {total:.6g}, expected 1 (add a {CASH} target for cash)",
        )


def _validate_groups(portfolio: Portfolio, locate: Locate) -> None:
    names: set[str] = set()
    for i, group in enumerate(portfolio.groups):
        if not group.name:
            raise PortfolioError(locate(f"groups[{i}].name"), "expected a group name")
        if group.name in names:
            raise PortfolioError(locate(f"groups[{i}].name"), f"duplicate group {group.name!r}")
        names.add(group.name)
        check_fraction(group.max_weight, locate(f"groups[{i}].max_weight"))


def _validate_settings(portfolio: Portfolio, locate: Locate) -> None:
    s = portfolio.settings
    for currency, amount in s.contribution.items():
        where = locate(f"settings.contribution.{currency}")
        check_currency(currency, where)
        check_number(amount, where)
    if s.contribution_account is not None and s.contribution_account not in {
        a.id for a in portfolio.accounts
    }:
        raise PortfolioError(
            locate("settings.contribution_account"),
            f"{s.contribution_account!r} is not one of the accounts",
        )
    check_fraction(s.band.absolute, locate("settings.band.absolute"))
    check_number(s.band.relative, locate("settings.band.relative"), minimum=0)
    check_number(s.min_trade_value, locate("settings.min_trade_value"), minimum=0)
    for market, fee in s.fees.items():
        if market not in Market.__members__:
            raise PortfolioError(
                locate(f"settings.fees.{market}"), f"unknown market {market!r} (expected US or KR)"
            )
        check_number(fee.rate, locate(f"settings.fees.{market}.rate"), minimum=0, maximum=0.5)
        check_number(fee.min, locate(f"settings.fees.{market}.min"), minimum=0)
    for key, rate in s.sell_tax.items():
        market, _, kind = key.partition(":")
        if market not in Market.__members__ or (kind and kind not in Kind.__members__):
            raise PortfolioError(
                locate(f"settings.sell_tax.{key}"),
                f"unknown key {key!r} (expected MARKET or MARKET:KIND such as KR:STOCK)",
            )
        check_number(rate, locate(f"settings.sell_tax.{key}"), minimum=0, maximum=0.5)
    check_number(s.fx_spread, locate("settings.fx_spread"), minimum=0, maximum=0.5)
    check_number(s.time_limit, locate("settings.time_limit"), minimum=0)
    limits = s.exposure_limits
    for name in ("company", "sector"):
        limit = getattr(limits, name)
        if limit is not None:
            check_number(limit, locate(f"settings.exposure_limits.{name}"), minimum=0, maximum=1)
    if limits.gross_leverage is not None:
        check_number(
            limits.gross_leverage, locate("settings.exposure_limits.gross_leverage"), minimum=0
        )
    check_number(s.realised_gains_this_year, locate("settings.realised_gains_this_year"))
    for market, rounding in s.fee_rounding.items():
        if market not in Market.__members__:
            raise PortfolioError(
                locate(f"settings.fee_rounding.{market}"),
                f"unknown market {market!r} (expected US or KR)",
            )
        check_number(rounding.unit, locate(f"settings.fee_rounding.{market}.unit"), minimum=0)
    accounts = {a.id for a in portfolio.accounts}
    for account, amounts in s.cash_reserve.items():
        if account not in accounts:
            raise PortfolioError(
                locate(f"settings.cash_reserve.{account}"),
                f"{account!r} is not one of the accounts",
            )
        for currency, amount in amounts.items():
            where = locate(f"settings.cash_reserve.{account}.{currency}")
            check_currency(currency, where)
            check_number(amount, where, minimum=0)


# --------------------------------------------------------------------------------------------
# Valuation: value, weights and drift, in the base currency. The planner's summary, the
# worksheet functions and the workbook's History all use these.


def weights(values: Mapping[str, float], cash: float) -> dict[str, float]:
    """Each ticker's and cash's share of the total (all in one currency); all 0 when the
    total is not positive."""
    total = sum(values.values()) + cash
    if total <= 0:
        return {**{t: 0.0 for t in values}, CASH: 0.0}
    out = {t: v / total for t, v in values.items()}
    out[CASH] = cash / total
    return out


def drift(current: Mapping[str, float], targets: Mapping[str, float]) -> float:
    """``sum_i |w_i - t_i| + |w_cash - t_cash|`` over every ticker in either mapping."""
    keys = dict.fromkeys([*current, *targets, CASH])
    return sum(abs(current.get(k, 0.0) - targets.get(k, 0.0)) for k in keys)


@dataclass(frozen=True)
class Valuation:
    """A portfolio at its prices: total value and cash in the base currency, each ticker's
    value and weight (cash under ``CASH``) and the drift from the targets."""

    value: float
    cash: float
    values: Mapping[str, float]
    weights: Mapping[str, float]
    drift: float


def valuation(portfolio: Portfolio) -> Valuation:
    """Value, weights and drift at the holdings' prices (a holding without a price counts
    0). A portfolio with no value has drift 0: nothing to measure against."""
    cash = sum(
        amount * portfolio.rate(currency)
        for account in portfolio.accounts
        for currency, amount in account.cash.items()
    )
    values: dict[str, float] = {}
    for h in portfolio.holdings:
        value = h.quantity * (h.price or 0.0) * portfolio.rate(h.currency)
        values[h.ticker] = values.get(h.ticker, 0.0) + value
    total = cash + sum(values.values())
    current = weights(values, cash)
    gap = drift(current, portfolio.targets) if total > 0 else 0.0
    return Valuation(total, cash, values, current, gap)
