"""The JSON portfolio document (version 1) and the JSON plan output.

The contract is ``docs/portfolio-format.md`` (the version-1 minimum and our additions).
Parsing is strict about types -- text where a number belongs is an error naming the field --
and lenient about what may be left out (defaults as documented). Values are read
by :mod:`xlrebalance.cells`, as the workbook's cells and the worksheet functions' ranges are:
a number typed as text (``"1,200,000"``, ``"$512.30"``, ``"20%"`` for a weight) means the same
number everywhere, and ambiguous text (``"512,30"``) is an error everywhere.
"""

from __future__ import annotations

import codecs
import difflib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from xlrebalance import cells
from xlrebalance.errors import PortfolioError
from xlrebalance.model import (
    CASH,
    DEFAULT_FEE_ROUNDING,
    MARKET_CURRENCY,
    Account,
    Band,
    ExposureLimits,
    Fee,
    FeeRounding,
    Group,
    Holding,
    Plan,
    Portfolio,
    RoundingMode,
    Settings,
    merge_sell_tax,
    validate,
)

SUPPORTED_VERSIONS = (1,)
MAX_DEPTH = 64
"""Deepest nesting of lists and objects read (the format needs 4)."""

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
    "fee_rounding", "cash_reserve",
)  # fmt: skip
EXPOSURE_LIMIT_KEYS = ("company", "sector", "gross_leverage")


def load_portfolio(path: str | Path, *, offline: bool = True) -> Portfolio:
    """Read and validate a portfolio document from a file (UTF-8, with or without a BOM)."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise PortfolioError(str(path), f"cannot read the file: {exc.strerror}") from exc
    return portfolio_from_dict(parse_json(decode_utf8(raw, str(path)), str(path)), offline=offline)


def decode_utf8(raw: bytes, where: str) -> str:
    """The file's text: UTF-8, with or without the BOM Notepad writes. Other encodings are
    one clear error, not a guess (a Latin-1 or UTF-16 file read as UTF-8 would garble names)."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or (
        len(raw) >= 2 and (raw[0] == 0) != (raw[1] == 0)
    ):
        raise PortfolioError(where, "the file is UTF-16 text; save it as UTF-8")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise PortfolioError(
            where,
            f"the file is not UTF-8 (byte 0x{raw[exc.start]:02x} on line {line}, perhaps "
            "Latin-1 or CP949); save it as UTF-8",
        ) from None


class _Keys(dict[str, Any]):
    """A JSON object that remembers the first key it saw twice."""

    duplicate: str | None = None


def _pairs(pairs: list[tuple[str, Any]]) -> _Keys:
    item = _Keys()
    for key, value in pairs:
        if key in item and item.duplicate is None:
            item.duplicate = key
        item[key] = value
    return item


def parse_json(text: str, where: str) -> Any:
    """JSON text -> data, refusing what would be misread or crash the parser: nesting deeper
    than :data:`MAX_DEPTH` and an object with the same key twice (JSON keeps the last one
    silently; a user who wrote ``"quantity"`` twice meant one of them)."""
    _check_depth(text, where)
    try:
        data = json.loads(text, object_pairs_hook=_pairs)
    except json.JSONDecodeError as exc:
        raise PortfolioError(
            where, f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    except RecursionError:
        raise PortfolioError(where, f"nested deeper than {MAX_DEPTH} levels") from None
    duplicate = _find_duplicate(data, "")
    if duplicate is not None:
        path, key = duplicate
        at = f"{path}.{key}" if path else key
        raise PortfolioError(at, f"the key {key!r} appears twice in the same object")
    return data


def _check_depth(text: str, where: str) -> None:
    depth = 0
    in_string = escaped = False
    line = 1
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise PortfolioError(where, f"nested deeper than {MAX_DEPTH} levels (line {line})")
        elif char in "]}":
            depth -= 1
        elif char == "\n":
            line += 1


def _find_duplicate(data: object, path: str) -> tuple[str, str] | None:
    if isinstance(data, _Keys):
        if data.duplicate is not None:
            return path, data.duplicate
        for key, value in data.items():
            found = _find_duplicate(value, f"{path}.{key}" if path else key)
            if found:
                return found
    elif isinstance(data, list):
        for i, value in enumerate(data):
            found = _find_duplicate(value, f"{path}[{i}]")
            if found:
                return found
    return None


def portfolio_from_dict(data: object, *, offline: bool = True) -> Portfolio:
    """Build and validate a :class:`Portfolio` from parsed JSON."""
    doc = _object(data, "")
    _known_keys(doc, TOP_KEYS, "")
    version = doc.get("version", 1)
    if version not in SUPPORTED_VERSIONS:
        raise PortfolioError("version", f"unsupported version {version!r} (expected 1)")
    base = cells.currency(
        _scalar(doc.get("base_currency"), "base_currency") or "KRW",
        "KRW",
        "base currency",
        "base_currency",
    )
    fx = {
        key.upper(): _number(value, f"fx.{key}", currency=key.upper()[-3:])
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
        ticker = CASH if key.strip().upper() == CASH else cells.ticker(key)
        if ticker in targets:
            raise PortfolioError(f"targets.{key}", f"duplicate target for {ticker}")
        targets[ticker] = _number(value, f"targets.{key}", percent=True)
    groups = tuple(
        _group(item, f"groups[{i}]")
        for i, item in enumerate(_array(doc.get("groups", []), "groups"))
    )
    settings = _settings(doc.get("settings", {}), base)
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
    if s.fee_rounding:
        settings["fee_rounding"] = {
            m: {"unit": r.unit, "mode": r.mode.value} for m, r in s.fee_rounding.items()
        }
    if s.cash_reserve:
        settings["cash_reserve"] = {a: dict(c) for a, c in s.cash_reserve.items()}
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


def _label(where: str) -> str:
    """How a field is named in a message, the same as its cell's (``quantity``, ``price``,
    ``fx spread``), so that one mistake reads the same in every reader."""
    if where.startswith(("settings.", "fx.")) or where == f"targets.{CASH}":
        return cells.setting_label(where)
    if where.startswith("targets."):
        return "target"
    if ".cash." in where:
        return "amount"
    last = where.rsplit(".", 1)[-1]
    return last.replace("_", " ")


def _scalar(value: object, where: str) -> object:
    """A field that holds one value: lists and objects are errors."""
    if isinstance(value, list | Mapping):
        raise PortfolioError(where, f"expected one value, got {_describe(value)}")
    return value


def _number(
    value: object, where: str, *, percent: bool = False, currency: str | None = None
) -> float:
    if isinstance(value, list | Mapping):
        raise PortfolioError(where, f"expected a number, got {_describe(value)}")
    return cells.number(value, _label(where), where, percent=percent, currency=currency)


def _text(value: object, where: str, expected: str = "text") -> str:
    if not isinstance(value, str | int | float) or isinstance(value, bool) or not cells.text(value):
        raise PortfolioError(where, f"expected {expected}, got {_describe(value)}")
    return cells.text(value)


def _flag(value: object, where: str) -> bool:
    return cells.flag(_scalar(value, where), _label(where), where)


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
        return f"text {value!r}" if value.strip() else "empty text"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return repr(value)


def _money_map(value: object, where: str) -> dict[str, float]:
    return {
        currency.upper(): _number(amount, f"{where}.{currency}", currency=currency.upper())
        for currency, amount in _object(value, where).items()
    }


def _account(value: object, where: str) -> Account:
    item = _object(value, where)
    _known_keys(item, ("id", "cash"), where)
    account_id = _text(item.get("id"), f"{where}.id", 'an account name such as "general"')
    return Account(id=account_id, cash=_money_map(item.get("cash", {}), f"{where}.cash"))


def _holding(value: object, where: str) -> Holding:
    item = _object(value, where)
    _known_keys(item, HOLDING_KEYS, where)
    ticker = cells.ticker(_scalar(item.get("ticker"), f"{where}.ticker"))
    if not ticker:
        raise PortfolioError(f"{where}.ticker", "ticker is empty")
    market = cells.market(_scalar(item.get("market"), f"{where}.market"), ticker, f"{where}.market")
    currency = cells.currency(
        _scalar(item.get("currency"), f"{where}.currency"),
        MARKET_CURRENCY[market],
        "currency",
        f"{where}.currency",
    )
    name = item.get("name")
    kind = cells.kind(_scalar(item.get("kind"), f"{where}.kind"), name, market, f"{where}.kind")
    quantity = item.get("quantity")
    price = item.get("price")
    return Holding(
        account=_text(item.get("account"), f"{where}.account", "the id of one of the accounts"),
        ticker=ticker,
        market=market,
        kind=kind,
        quantity=0.0 if cells.blank(quantity) else _number(quantity, f"{where}.quantity"),
        price=None if cells.blank(price) else _number(price, f"{where}.price", currency=currency),
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
        cells.ticker(_text(t, f"{where}.tickers[{i}]", "a ticker"))
        for i, t in enumerate(_array(item.get("tickers"), f"{where}.tickers"))
    )
    return Group(
        name=_text(item.get("name"), f"{where}.name", "a group name"),
        tickers=tickers,
        max_weight=_number(item.get("max_weight"), f"{where}.max_weight", percent=True),
    )


def _settings(value: object, base: str) -> Settings:
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
        key.upper(): _number(rate, f"settings.sell_tax.{key.upper()}", percent=True)
        for key, rate in _object(item.get("sell_tax", {}), "settings.sell_tax").items()
    }
    account = item.get("contribution_account")
    mode = item.get("mode")
    return Settings(
        mode=defaults.mode
        if cells.blank(mode)
        else cells.mode(_scalar(mode, "settings.mode"), "settings.mode"),
        contribution=_money_map(item.get("contribution", {}), "settings.contribution"),
        contribution_account=None
        if account is None
        else _text(account, "settings.contribution_account"),
        fractional=_flag(item.get("fractional", defaults.fractional), "settings.fractional"),
        band=Band(
            absolute=_number(band.get("absolute", 0.0), "settings.band.absolute", percent=True),
            relative=_number(band.get("relative", 0.0), "settings.band.relative", percent=True),
        ),
        min_trade_value=_number(
            item.get("min_trade_value", 0.0), "settings.min_trade_value", currency=base
        ),
        fees=fees,
        sell_tax=merge_sell_tax(sell_tax),
        fx_spread=_number(item.get("fx_spread", 0.0), "settings.fx_spread", percent=True),
        auto_fx=_flag(item.get("auto_fx", defaults.auto_fx), "settings.auto_fx"),
        time_limit=_number(item.get("time_limit", defaults.time_limit), "settings.time_limit"),
        exposure_limits=_exposure_limits(item.get("exposure_limits", {})),
        realised_gains_this_year=_number(
            item.get("realised_gains_this_year", 0.0), "settings.realised_gains_this_year"
        ),
        fee_rounding={
            market.upper(): _rounding(rule, f"settings.fee_rounding.{market}")
            for market, rule in _object(
                item.get("fee_rounding", {}), "settings.fee_rounding"
            ).items()
        },
        cash_reserve={
            account: _money_map(amounts, f"settings.cash_reserve.{account}")
            for account, amounts in _object(
                item.get("cash_reserve", {}), "settings.cash_reserve"
            ).items()
        },
    )


def _rounding_mode(value: object, where: str) -> RoundingMode:
    raw = _text(value, where).strip().lower()
    for mode in RoundingMode:
        if raw == mode.value:
            return mode
    options = ", ".join(m.value for m in RoundingMode)
    raise PortfolioError(where, f"expected one of {options}, got {raw!r}")


def _rounding(value: object, where: str) -> FeeRounding:
    item = _object(value, where)
    _known_keys(item, ("unit", "mode"), where)
    default = DEFAULT_FEE_ROUNDING.get(where.rsplit(".", 1)[1].upper(), FeeRounding())
    return FeeRounding(
        unit=_number(item.get("unit", default.unit), f"{where}.unit"),
        mode=_rounding_mode(item.get("mode", default.mode.value), f"{where}.mode"),
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
    market = where.rsplit(".", 1)[-1].upper()
    return Fee(
        rate=_number(item.get("rate", 0.0), f"settings.fees.{market}.rate", percent=True),
        min=_number(
            item.get("min", 0.0),
            f"settings.fees.{market}.min",
            currency=cells.market_currency(market),
        ),
    )
