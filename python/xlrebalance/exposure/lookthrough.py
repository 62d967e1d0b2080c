"""Look-through exposure: what the portfolio owns once each fund is replaced by its holdings.

Every weight here is a share of the whole portfolio's value in the base currency, cash
included, so the numbers read like the Holdings weights. For a ticker worth ``w`` of the
portfolio with leverage ``L`` (see :mod:`.leverage`), its exposure is ``L x w``; a fund's
exposure is spread over its constituents by their weight in the fund (``L x w x f_c``) and
over its sectors the same way. A stock held directly is its own company. What a fund's data
does not list (beyond its top holdings, or a fund with no data at all) stays unattributed and
is counted in ``coverage``: the share of the gross exposure whose underlying companies are
known.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from xlrebalance.exposure.leverage import Leverage, leverage_of
from xlrebalance.model import ExposureLimits, Holding, Kind, Portfolio

UNKNOWN_SECTOR = "Unknown"

# Yahoo names sectors two ways (fund sectorWeightings keys, company assetProfile labels):
# both fold onto one label.
SECTOR_LABELS: Mapping[str, str] = {
    "realestate": "Real Estate",
    "consumercyclical": "Consumer Cyclical",
    "basicmaterials": "Basic Materials",
    "consumerdefensive": "Consumer Defensive",
    "technology": "Technology",
    "communicationservices": "Communication Services",
    "financialservices": "Financial Services",
    "utilities": "Utilities",
    "industrials": "Industrials",
    "energy": "Energy",
    "healthcare": "Healthcare",
}
SECTOR_LABELS_KO: Mapping[str, str] = {
    "Real Estate": "부동산",
    "Consumer Cyclical": "경기소비재",
    "Basic Materials": "소재",
    "Consumer Defensive": "필수소비재",
    "Technology": "정보기술",
    "Communication Services": "커뮤니케이션",
    "Financial Services": "금융",
    "Utilities": "유틸리티",
    "Industrials": "산업재",
    "Energy": "에너지",
    "Healthcare": "헬스케어",
    UNKNOWN_SECTOR: "미확인",
}


def sector_label(raw: str) -> str:
    """One label per sector however the source spelt it (``consumer_cyclical``,
    ``Consumer Cyclical``); an unfamiliar name is kept as written."""
    key = "".join(ch for ch in raw.lower() if ch.isalnum())
    return SECTOR_LABELS.get(key, raw.strip() or UNKNOWN_SECTOR)


def company_key(symbol: str) -> str:
    """One key per company across sources: Yahoo writes KRX shares ``005930.KS`` and share
    classes ``BRK-B``; the Holdings sheet writes ``005930`` and ``BRK.B``."""
    text = symbol.strip().upper()
    for suffix in (".KS", ".KQ"):
        if text.endswith(suffix) and len(text) == 6 + len(suffix):
            return text[: -len(suffix)]
    return text.replace("-", ".")


@dataclass(frozen=True)
class Constituent:
    symbol: str
    name: str | None
    weight: float  # fraction of the fund


@dataclass(frozen=True)
class FundHoldings:
    """What a source says a ticker holds: a fund's top holdings and sector weights, or, for a
    single company, just its sector. ``as_of`` is when it was fetched."""

    ticker: str
    source: str
    constituents: tuple[Constituent, ...] = ()
    sectors: Mapping[str, float] = field(default_factory=dict)
    sector: str | None = None
    as_of: datetime | None = None

    @property
    def has_holdings(self) -> bool:
        return bool(self.constituents) or bool(self.sectors)


@dataclass(frozen=True)
class PositionExposure:
    ticker: str
    name: str | None
    value: float  # base currency
    weight: float
    leverage: Leverage
    exposure: float  # leverage x weight
    basis: str  # "stock", "fund", "proxy QQQ" or "unknown"
    covered: float  # share of this position's exposure attributed to named companies


@dataclass(frozen=True)
class CompanyExposure:
    symbol: str
    name: str | None
    weight: float  # net look-through weight (inverse funds subtract)
    via: tuple[tuple[str, float], ...]  # (held ticker, its contribution), largest first


@dataclass(frozen=True)
class Exposure:
    base_currency: str
    value: float  # whole portfolio, base currency
    cash_weight: float
    net: float  # sum of leverage x weight over holdings
    gross: float  # sum of |leverage| x weight over holdings
    positions: tuple[PositionExposure, ...]
    companies: tuple[CompanyExposure, ...]
    sectors: Mapping[str, float]  # net, largest first; UNKNOWN_SECTOR for the unattributed
    coverage: float  # share of gross exposure attributed to named companies
    unknown: tuple[str, ...]  # funds whose holdings no source gave

    def top(self, n: int = 10) -> tuple[CompanyExposure, ...]:
        return self.companies[:n]


def ticker_values(
    portfolio: Portfolio, quantities: Iterable[float] | None = None
) -> tuple[dict[str, float], float]:
    """Each ticker's value and the cash, in the base currency; ``quantities`` (one per
    holdings row) replaces the held quantities, e.g. with those after a plan."""
    held = list(quantities) if quantities is not None else [h.quantity for h in portfolio.holdings]
    values: dict[str, float] = {}
    for h, quantity in zip(portfolio.holdings, held, strict=True):
        price = h.price if h.price is not None else 0.0
        values[h.ticker] = values.get(h.ticker, 0.0) + quantity * price * portfolio.rate(h.currency)
    cash = sum(
        amount * portfolio.rate(currency)
        for account in portfolio.accounts
        for currency, amount in account.cash.items()
    )
    return values, cash


def look_through(
    portfolio: Portfolio,
    funds: Mapping[str, FundHoldings],
    *,
    values: Mapping[str, float] | None = None,
    cash: float | None = None,
) -> Exposure:
    """Exposure of ``portfolio`` (or of ``values``/``cash``, e.g. after a plan) given what
    ``funds`` says each ticker holds (keyed by ticker; a missing key means unknown)."""
    if values is None or cash is None:
        values, cash = ticker_values(portfolio)
    total = sum(values.values()) + cash
    first: dict[str, Holding] = {}
    for h in portfolio.holdings:
        first.setdefault(h.ticker, h)
    positions: list[PositionExposure] = []
    companies: dict[str, dict[str, float]] = {}
    names: dict[str, str | None] = {}
    sectors: dict[str, float] = {}
    unknown: list[str] = []
    gross = covered_gross = net = 0.0
    for ticker, value in values.items():
        h = first[ticker]
        weight = value / total if total > 0 else 0.0
        lev = leverage_of(h)
        exposure = lev.factor * weight
        net += exposure
        gross += abs(exposure)
        data = funds.get(ticker)
        covered = 0.0
        # A fund is what its data says it is, whatever the Kind column (users' own ranges
        # often have none); a row marked ETF without data is an unknown fund, not a company.
        is_fund = (
            h.kind is Kind.ETF or lev.proxy is not None or (data is not None and data.has_holdings)
        )
        if not is_fund:
            basis = "stock"
            key = company_key(ticker)
            companies.setdefault(key, {})[ticker] = exposure
            names.setdefault(key, h.name)
            covered = 1.0
            sector = sector_label(data.sector) if data and data.sector else UNKNOWN_SECTOR
            sectors[sector] = sectors.get(sector, 0.0) + exposure
        else:
            source = data
            basis = "fund"
            if lev.proxy is not None:
                proxy = funds.get(lev.proxy)
                if proxy is not None and (proxy.has_holdings or proxy.sector):
                    source, basis = proxy, f"proxy {lev.proxy}"
            if source is None or not (source.has_holdings or source.sector):
                basis = "unknown"
                if weight != 0:
                    unknown.append(ticker)
                sectors[UNKNOWN_SECTOR] = sectors.get(UNKNOWN_SECTOR, 0.0) + exposure
            elif not source.has_holdings:  # a single company (a leveraged single-stock fund)
                key = company_key(source.ticker)
                companies.setdefault(key, {})[ticker] = exposure
                covered = 1.0
                sector = sector_label(source.sector or UNKNOWN_SECTOR)
                sectors[sector] = sectors.get(sector, 0.0) + exposure
            else:
                for c in source.constituents:
                    key = company_key(c.symbol)
                    share = companies.setdefault(key, {})
                    share[ticker] = share.get(ticker, 0.0) + exposure * c.weight
                    names.setdefault(key, c.name)
                    covered += c.weight
                covered = min(covered, 1.0)
                attributed = 0.0
                for raw, fraction in source.sectors.items():
                    label = sector_label(raw)
                    sectors[label] = sectors.get(label, 0.0) + exposure * fraction
                    attributed += fraction
                if attributed < 1.0:
                    rest = exposure * (1.0 - attributed)
                    sectors[UNKNOWN_SECTOR] = sectors.get(UNKNOWN_SECTOR, 0.0) + rest
        covered_gross += abs(exposure) * covered
        positions.append(
            PositionExposure(ticker, h.name, value, weight, lev, exposure, basis, covered)
        )
    ranked = sorted(
        (
            CompanyExposure(
                symbol=key,
                name=names.get(key),
                weight=sum(via.values()),
                via=tuple(sorted(via.items(), key=lambda kv: -abs(kv[1]))),
            )
            for key, via in companies.items()
        ),
        key=lambda c: (-abs(c.weight), c.symbol),
    )
    return Exposure(
        base_currency=portfolio.base_currency,
        value=total,
        cash_weight=cash / total if total > 0 else 0.0,
        net=net,
        gross=gross,
        positions=tuple(positions),
        companies=tuple(ranked),
        sectors=dict(
            sorted(
                ((k, v) for k, v in sectors.items() if abs(v) > 1e-12),
                key=lambda kv: (kv[0] == UNKNOWN_SECTOR, -kv[1]),
            )
        ),
        coverage=covered_gross / gross if gross > 0 else 1.0,
        unknown=tuple(unknown),
    )


def limit_breaches(exposure: Exposure, limits: ExposureLimits, when: str) -> list[str]:
    """Warnings for each limit ``exposure`` breaks; ``when`` says whose numbers ("before the
    orders", "after the orders")."""
    out: list[str] = []
    if limits.company is not None:
        for c in exposure.companies:
            if abs(c.weight) <= limits.company + 1e-12:
                break
            via = ", ".join(t for t, _ in c.via)
            out.append(
                f"{c.symbol} is {c.weight:.2%} of the portfolio {when} (look-through via {via}), "
                f"above the company limit {limits.company:.2%}"
            )
    if limits.sector is not None:
        for sector, weight in exposure.sectors.items():
            if sector != UNKNOWN_SECTOR and weight > limits.sector + 1e-12:
                out.append(
                    f"sector {sector} is {weight:.2%} of the portfolio {when}, "
                    f"above the sector limit {limits.sector:.2%}"
                )
    if limits.gross_leverage is not None and exposure.gross > limits.gross_leverage + 1e-12:
        out.append(
            f"gross exposure is {exposure.gross:.2f}x the portfolio {when}, "
            f"above the limit {limits.gross_leverage:.2f}x"
        )
    return out


__all__ = [
    "UNKNOWN_SECTOR",
    "CompanyExposure",
    "Constituent",
    "Exposure",
    "FundHoldings",
    "PositionExposure",
    "company_key",
    "limit_breaches",
    "look_through",
    "sector_label",
    "ticker_values",
]
