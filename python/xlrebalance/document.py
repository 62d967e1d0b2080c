"""The JSON portfolio document (version 1) and the JSON plan output.

The contract is ``docs/portfolio-format.md`` (a copy of shared/PORTFOLIO_FORMAT.md with our
additions). Parsing is strict about types -- text where a number belongs is an error naming
the field -- and lenient about what may be left out (defaults as documented).
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from xlrebalance.errors import PortfolioError
from xlrebalance.model import (
    CASH,
    DEFAULT_SELL_TAX,
    MARKET_CURRENCY,
    Account,
    Band,
    ExposureLimits,
    Fee,
    Group,
    Holding,
    Kind,
    Market,
    Mode,
    Plan,
    Portfolio,
    Settings,
    infer_market,
    normalize_ticker,
    validate,
)

SUPPORTED_VERSIONS = (1,)

E = TypeVar("E", Market, Kind, Mode)

TOP_KEYS = (
    "version", "base_currency", "fx", "accounts", "holdings", "targets", "groups", "settings",
)  # fmt: skip
HOLDING_KEYS = (
    "account", "ticker", "market", "kind", "quantity", "price", "currency", "locked", "name",
    "average_cost", "leverage", "take_profit",
)  # fmt: skip
SETTINGS_KEYS = (
    "mode", "contribution", "contribution_account", "fractional", "band", "min_trade_value",
    "fees", "sell_tax", "fx_spread", "auto_fx", "time_limit",
    "exposure_limits", "realised_gains_this_year",
)  # fmt: skip
EXPOSURE_LIMIT_KEYS = ("company", "sector", "gross_leverage")


def load_portfolio(path: str | Path, *, offline: bool = True) -> Portfolio:
    """Read and validate a portfolio document from a file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise PortfolioError(str(path), f"cannot read the file: {exc.strerror}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PortfolioError(
            str(path), f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from exc
    return portfolio_from_dict(data, offline=offline)


def portfolio_from_dict(data: object, *, offline: bool = True) -> Portfolio:
    """Build and validate a :class:`Portfolio` from parsed JSON."""
    doc = _object(data, "")
    _known_keys(doc, TOP_KEYS, "")
    version = doc.get("version", 1)
    if version not in SUPPORTED_VERSIONS:
        raise PortfolioError("version", f"unsupported version {version!r} (expected 1)")
    base = _text(doc.get("base_currency", "KRW"), "base_currency").upper()
    fx = {
        key.upper(): _number(value, f"fx.{key}")
        for key, value in _object(doc.get("fx", {}), "fx").items()
    }
    accounts = tuple(
        _account(item, f"accounts[{i}]")
        for i, item in enumerate(_array(doc.get("accounts"), "accounts"))
    )
    holdings = tuple(
        _holding(item, f"holdings[{i}]")
        for i, item in enumerate(_array(doc.get("holdings"), "holdings"))
    )
    targets: dict[str, float] = {}
    for key, value in _object(doc.get("targets"), "targets").items():
        ticker = CASH if key.strip().upper() == CASH else normalize_ticker(key)
        if ticker in targets:
            raise PortfolioError(f"targets.{key}", f"duplicate target for {ticker}")
        targets[ticker] = _number(value, f"targets.{key}")
    groups = tuple(
        _group(item, f"groups[{i}]")
        for i, item in enumerate(_array(doc.get("groups", []), "groups"))
    )
    settings = _settings(doc.get("settings", {}))
    portfolio = Portfolio(
        version=1,
        base_currency=base,
        fx=fx,
        accounts=accounts,
        holdings=holdings,
        targets=targets,
        groups=groups,
        settings=settings,
    )
    validate(portfolio, offline=offline)
    return portfolio


def portfolio_to_dict(portfolio: Portfolio) -> dict[str, Any]:
    """The version-1 document for ``portfolio`` (round-trips through ``portfolio_from_dict``)."""
    s = portfolio.settings
    settings: dict[str, Any] = {
        "mode": s.mode.value,
        "contribution": dict(s.contribution),
        "fractional": s.fractional,
        "band": {"absolute": s.band.absolute, "relative": s.band.relative},
        "min_trade_value": s.min_trade_value,
        "fees": {m: {"rate": f.rate, "min": f.min} for m, f in s.fees.items()},
        "sell_tax": dict(s.sell_tax),
        "fx_spread": s.fx_spread,
        "auto_fx": s.auto_fx,
        "time_limit": s.time_limit,
    }
    limits = {
        key: getattr(s.exposure_limits, key)
        for key in EXPOSURE_LIMIT_KEYS
        if getattr(s.exposure_limits, key) is not None
    }
    if limits:
        settings["exposure_limits"] = limits
    if s.realised_gains_this_year:
        settings["realised_gains_this_year"] = s.realised_gains_this_year
    if s.contribution_account is not None:
        settings["contribution_account"] = s.contribution_account
    holdings = []
    for h in portfolio.holdings:
        row: dict[str, Any] = {
            "account": h.account,
            "ticker": h.ticker,
            "market": h.market.value,
            "kind": h.kind.value,
            "quantity": _plain(h.quantity),
            "currency": h.currency,
            "locked": h.locked,
        }
        if h.price is not None:
            row["price"] = h.price
        if h.name is not None:
            row["name"] = h.name
        for key in ("average_cost", "leverage", "take_profit"):
            if getattr(h, key) is not None:
                row[key] = getattr(h, key)
        holdings.append(row)
    return {
        "version": 1,
        "base_currency": portfolio.base_currency,
        "fx": dict(portfolio.fx),
        "accounts": [{"id": a.id, "cash": dict(a.cash)} for a in portfolio.accounts],
        "holdings": holdings,
        "targets": dict(portfolio.targets),
        "groups": [
            {"name": g.name, "tickers": list(g.tickers), "max_weight": g.max_weight}
            for g in portfolio.groups
        ],
        "settings": settings,
    }


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """The plan output of the format document (plus the documented extra fields)."""
    s = plan.summary
    return {
        "orders": [
            {
                "account": o.account,
                "ticker": o.ticker,
                "side": o.side.value,
                "quantity": _plain(o.quantity),
                "price": o.price,
                "currency": o.currency,
                "amount": o.amount,
                "fees": o.fees,
                "taxes": o.taxes,
            }
            for o in plan.orders
        ],
        "summary": {
            "base_currency": s.base_currency,
            "value_before": s.value_before,
            "value_after": s.value_after,
            "drift_before": s.drift_before,
            "drift_after": s.drift_after,
            "cash_after": {a: dict(c) for a, c in s.cash_after.items()},
            "fees_total": s.fees_total,
            "taxes_total": s.taxes_total,
            "fx_cost_total": s.fx_cost_total,
            "solver": {
                "status": s.solver.status.value,
                "gap": s.solver.gap,
                "seconds": s.solver.seconds,
            },
            "weights_before": dict(s.weights_before),
            "weights_after": dict(s.weights_after),
        },
        "conversions": [
            {
                "account": c.account,
                "sell_currency": c.sell_currency,
                "buy_currency": c.buy_currency,
                "sell_amount": c.sell_amount,
                "buy_amount": c.buy_amount,
            }
            for c in plan.conversions
        ],
        "warnings": list(plan.warnings),
    }


# --------------------------------------------------------------------------------------------
# Field readers: each names the field it reads in its error.


def _plain(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def _object(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise PortfolioError(where or "document", f"expected an object, got {_describe(value)}")
    return value


def _array(value: object, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise PortfolioError(where, f"expected a list, got {_describe(value)}")
    return value


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PortfolioError(where, f"expected a number, got {_describe(value)}")
    number = float(value)
    if not math.isfinite(number):
        raise PortfolioError(where, f"expected a finite number, got {value!r}")
    return number


def _text(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise PortfolioError(where, f"expected text, got {_describe(value)}")
    return value.strip()


def _flag(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise PortfolioError(where, f"expected true or false, got {_describe(value)}")
    return value


def _choice(enum: type[E], value: object, where: str) -> E:
    text = _text(value, where)
    for member in enum:
        if text.upper() == member.value.upper():
            return member
    options = ", ".join(m.value for m in enum)
    raise PortfolioError(where, f"expected one of {options}, got {text!r}")


def _known_keys(item: Mapping[str, Any], known: tuple[str, ...], where: str) -> None:
    """A key that looks like a misspelling of one we read is an error: ignoring "quantitiy"
    would plan as if nothing were held. Keys unlike ours are left alone for other tools."""
    for key in item:
        if key in known:
            continue
        close = difflib.get_close_matches(key.lower(), known, n=1, cutoff=0.75)
        if close:
            path = f"{where}.{key}" if where else key
            raise PortfolioError(path, f"unknown field {key!r}: did you mean {close[0]!r}?")


def _describe(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, str):
        return f"text {value!r}"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return repr(value)


def _money_map(value: object, where: str) -> dict[str, float]:
    return {
        currency.upper(): _number(amount, f"{where}.{currency}")
        for currency, amount in _object(value, where).items()
    }


def _account(value: object, where: str) -> Account:
    item = _object(value, where)
    _known_keys(item, ("id", "cash"), where)
    account_id = _text(item.get("id"), f"{where}.id")
    return Account(id=account_id, cash=_money_map(item.get("cash", {}), f"{where}.cash"))


def _holding(value: object, where: str) -> Holding:
    item = _object(value, where)
    _known_keys(item, HOLDING_KEYS, where)
    raw_ticker = item.get("ticker")
    if isinstance(raw_ticker, int) and not isinstance(raw_ticker, bool):
        raw_ticker = str(raw_ticker)  # a KRX code written as a number
    ticker = normalize_ticker(_text(raw_ticker, f"{where}.ticker"))
    market = (
        _choice(Market, item["market"], f"{where}.market")
        if item.get("market") not in (None, "")
        else infer_market(ticker)
    )
    currency = (
        _text(item["currency"], f"{where}.currency").upper()
        if item.get("currency") not in (None, "")
        else MARKET_CURRENCY[market]
    )
    kind = (
        _choice(Kind, item["kind"], f"{where}.kind")
        if item.get("kind") not in (None, "")
        else Kind.STOCK
    )
    price = item.get("price")
    name = item.get("name")
    return Holding(
        account=_text(item.get("account"), f"{where}.account"),
        ticker=ticker,
        market=market,
        kind=kind,
        quantity=_number(item.get("quantity", 0), f"{where}.quantity"),
        price=None if price is None else _number(price, f"{where}.price"),
        currency=currency,
        locked=_flag(item.get("locked", False), f"{where}.locked"),
        name=None if name is None else _text(name, f"{where}.name"),
        average_cost=_optional_number(item.get("average_cost"), f"{where}.average_cost"),
        leverage=_optional_number(item.get("leverage"), f"{where}.leverage"),
        take_profit=_optional_number(item.get("take_profit"), f"{where}.take_profit"),
    )


def _optional_number(value: object, where: str) -> float | None:
    return None if value is None else _number(value, where)


def _group(value: object, where: str) -> Group:
    item = _object(value, where)
    _known_keys(item, ("name", "tickers", "max_weight"), where)
    tickers = tuple(
        normalize_ticker(_text(str(t) if isinstance(t, int) else t, f"{where}.tickers[{i}]"))
        for i, t in enumerate(_array(item.get("tickers"), f"{where}.tickers"))
    )
    return Group(
        name=_text(item.get("name"), f"{where}.name"),
        tickers=tickers,
        max_weight=_number(item.get("max_weight"), f"{where}.max_weight"),
    )


def _settings(value: object) -> Settings:
    item = _object(value, "settings")
    _known_keys(item, SETTINGS_KEYS, "settings")
    defaults = Settings()
    band = _object(item.get("band", {}), "settings.band")
    _known_keys(band, ("absolute", "relative"), "settings.band")
    fees = {
        market.upper(): _fee(fee, f"settings.fees.{market}")
        for market, fee in _object(item.get("fees", {}), "settings.fees").items()
    }
    sell_tax = {
        key.upper(): _number(rate, f"settings.sell_tax.{key}")
        for key, rate in _object(
            item.get("sell_tax", dict(DEFAULT_SELL_TAX)), "settings.sell_tax"
        ).items()
    }
    account = item.get("contribution_account")
    return Settings(
        mode=_choice(Mode, item.get("mode", defaults.mode.value), "settings.mode"),
        contribution=_money_map(item.get("contribution", {}), "settings.contribution"),
        contribution_account=None
        if account is None
        else _text(account, "settings.contribution_account"),
        fractional=_flag(item.get("fractional", defaults.fractional), "settings.fractional"),
        band=Band(
            absolute=_number(band.get("absolute", 0.0), "settings.band.absolute"),
            relative=_number(band.get("relative", 0.0), "settings.band.relative"),
        ),
        min_trade_value=_number(item.get("min_trade_value", 0.0), "settings.min_trade_value"),
        fees=fees,
        sell_tax=sell_tax,
        fx_spread=_number(item.get("fx_spread", 0.0), "settings.fx_spread"),
        auto_fx=_flag(item.get("auto_fx", defaults.auto_fx), "settings.auto_fx"),
        time_limit=_number(item.get("time_limit", defaults.time_limit), "settings.time_limit"),
        exposure_limits=_exposure_limits(item.get("exposure_limits", {})),
        realised_gains_this_year=_number(
            item.get("realised_gains_this_year", 0.0), "settings.realised_gains_this_year"
        ),
    )


def _exposure_limits(value: object) -> ExposureLimits:
    where = "settings.exposure_limits"
    item = _object(value, where)
    _known_keys(item, EXPOSURE_LIMIT_KEYS, where)
    return ExposureLimits(
        **{key: _optional_number(item.get(key), f"{where}.{key}") for key in EXPOSURE_LIMIT_KEYS}
    )


def _fee(value: object, where: str) -> Fee:
    item = _object(value, where)
    _known_keys(item, ("rate", "min"), where)
    return Fee(
        rate=_number(item.get("rate", 0.0), f"{where}.rate"),
        min=_number(item.get("min", 0.0), f"{where}.min"),
    )
