"""The synced portfolio as rows of cells: what the three-way merge works on.

A row is one thing a user edits as a unit -- an account, a cash balance, a holding (account +
ticker), a target, a group, a setting, a History snapshot -- keyed so that the same row has
the same key on every machine. Its cells are plain JSON values. Prices, price times, sources
and FX rates are *not* rows: every machine fetches its own. Nothing here does I/O.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from xlrebalance.model import (
    CASH,
    Account,
    Band,
    Fee,
    Group,
    Holding,
    Kind,
    Market,
    Mode,
    Portfolio,
    Settings,
    validate,
)

Cell = str | float | bool | None
RowKey = tuple[str, ...]
Cells = Mapping[str, Cell]
Rows = dict[RowKey, dict[str, Cell]]
"""Ordered: the order of accounts and holdings is the order the planner lists orders in."""

HISTORY_FIELDS = (
    "time", "event", "value", "cash", "drift", "drift_after", "orders", "solver", "stale",
)  # fmt: skip
HOLDING_CELLS = ("market", "kind", "quantity", "currency", "locked", "name")


@dataclass(frozen=True)
class SyncedState:
    """Everything that syncs: the portfolio's rows and the History snapshots (also rows)."""

    rows: Rows = field(default_factory=dict)
    history: Rows = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {
            "rows": [[list(k), dict(v)] for k, v in self.rows.items()],
            "history": [dict(v) for v in self.history.values()],
        }


def state_from_json(data: object, where: str = "document") -> SyncedState:
    """Inverse of :meth:`SyncedState.to_json` (raises ValueError naming ``where``)."""
    if not isinstance(data, Mapping):
        raise ValueError(f"{where}: expected an object")
    rows: Rows = {}
    raw_rows = data.get("rows")
    if not isinstance(raw_rows, list):
        raise ValueError(f"{where}.rows: expected a list")
    for i, item in enumerate(raw_rows):
        if (
            not isinstance(item, list)
            or len(item) != 2
            or not isinstance(item[0], list)
            or not all(isinstance(k, str) for k in item[0])
            or not isinstance(item[1], dict)
        ):
            raise ValueError(f"{where}.rows[{i}]: expected [key, cells]")
        rows[tuple(item[0])] = {str(k): _cell(v, f"{where}.rows[{i}]") for k, v in item[1].items()}
    raw_history = data.get("history", [])
    if not isinstance(raw_history, list):
        raise ValueError(f"{where}.history: expected a list")
    history = history_rows(
        {str(k): _cell(v, f"{where}.history[{i}]") for k, v in item.items()}
        for i, item in enumerate(raw_history)
        if isinstance(item, dict)
    )
    return SyncedState(rows, history)


def _cell(value: object, where: str) -> Cell:
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, int | float):
        return float(value)
    raise ValueError(f"{where}: expected a plain value, got {type(value).__name__}")


def history_rows(entries: Iterable[Mapping[str, Cell]]) -> Rows:
    """History snapshots keyed by their content: an append-only log merges as a set."""
    rows: Rows = {}
    for entry in entries:
        cells = {k: _number(entry.get(k)) for k in HISTORY_FIELDS}
        digest = hashlib.sha256(json.dumps(cells, sort_keys=True).encode()).hexdigest()[:16]
        rows[("history", str(cells["time"] or ""), digest)] = cells
    return dict(sorted(rows.items(), key=lambda item: item[0][1:]))


def _number(value: Cell) -> Cell:
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


# --------------------------------------------------------------------------------------------
# Portfolio <-> rows. Setting keys are the Settings sheet's keys, so a conflict on a setting
# names the same thing in the workbook and in a JSON file.


def portfolio_rows(portfolio: Portfolio) -> Rows:
    rows: Rows = {}
    for account in portfolio.accounts:
        rows[("account", account.id)] = {}
        for currency, amount in account.cash.items():
            rows[("cash", account.id, currency)] = {"amount": float(amount)}
    for h in portfolio.holdings:
        rows[("holding", h.account, h.ticker)] = {
            "market": h.market.value,
            "kind": h.kind.value,
            "quantity": float(h.quantity),
            "currency": h.currency,
            "locked": h.locked,
            "name": h.name,
        }
    for ticker, weight in portfolio.targets.items():
        rows[("target", ticker)] = {"weight": float(weight)}
    for g in portfolio.groups:
        rows[("group", g.name)] = {"tickers": ",".join(g.tickers), "max_weight": g.max_weight}
    for key, value in settings_cells(portfolio).items():
        rows[("setting", key)] = {"value": value}
    return rows


def settings_cells(portfolio: Portfolio) -> dict[str, Cell]:
    s = portfolio.settings
    cells: dict[str, Cell] = {
        "base_currency": portfolio.base_currency,
        "settings.mode": s.mode.value,
        "settings.contribution_account": s.contribution_account,
        "settings.fractional": s.fractional,
        "settings.band.absolute": float(s.band.absolute),
        "settings.band.relative": float(s.band.relative),
        "settings.min_trade_value": float(s.min_trade_value),
        "settings.fx_spread": float(s.fx_spread),
        "settings.auto_fx": s.auto_fx,
        "settings.time_limit": float(s.time_limit),
    }
    for currency, amount in s.contribution.items():
        cells[f"settings.contribution.{currency}"] = float(amount)
    for market, fee in s.fees.items():
        cells[f"settings.fees.{market}.rate"] = float(fee.rate)
        cells[f"settings.fees.{market}.min"] = float(fee.min)
    for key, rate in s.sell_tax.items():
        cells[f"settings.sell_tax.{key}"] = float(rate)
    return cells


@dataclass(frozen=True)
class LocalOnly:
    """What each machine keeps for itself: prices and FX rates."""

    prices: Mapping[tuple[str, str], float | None] = field(default_factory=dict)
    fx: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, portfolio: Portfolio) -> LocalOnly:
        return cls({(h.account, h.ticker): h.price for h in portfolio.holdings}, dict(portfolio.fx))


def rows_portfolio(rows: Rows, local: LocalOnly) -> Portfolio:
    """The portfolio the rows describe, with this machine's prices; validated (prices may be
    missing: new rows from another machine get theirs at the next refresh)."""
    accounts: dict[str, dict[str, float]] = {}
    holdings: list[Holding] = []
    targets: dict[str, float] = {}
    groups: list[Group] = []
    settings: dict[str, Cell] = {}
    prices_by_ticker = {t: p for (_, t), p in local.prices.items() if p is not None}
    for key, cells in rows.items():
        kind = key[0]
        if kind == "account":
            accounts.setdefault(key[1], {})
        elif kind == "cash":
            accounts.setdefault(key[1], {})[key[2]] = _float(cells.get("amount"), key)
        elif kind == "holding":
            account, ticker = key[1], key[2]
            price = local.prices.get((account, ticker), prices_by_ticker.get(ticker))
            name = cells.get("name")
            holdings.append(
                Holding(
                    account=account,
                    ticker=ticker,
                    market=Market(str(cells.get("market"))),
                    kind=Kind(str(cells.get("kind"))),
                    quantity=_float(cells.get("quantity"), key),
                    currency=str(cells.get("currency")),
                    locked=bool(cells.get("locked")),
                    name=None if name is None else str(name),
                    price=price,
                )
            )
        elif kind == "target":
            targets[key[1]] = _float(cells.get("weight"), key)
        elif kind == "group":
            tickers = tuple(t for t in str(cells.get("tickers") or "").split(",") if t)
            groups.append(Group(key[1], tickers, _float(cells.get("max_weight"), key)))
        elif kind == "setting":
            settings[key[1]] = cells.get("value")
    portfolio = Portfolio(
        base_currency=str(settings.get("base_currency") or "KRW"),
        accounts=tuple(Account(a, c) for a, c in accounts.items()),
        holdings=tuple(holdings),
        targets=targets,
        fx=dict(local.fx),
        groups=tuple(groups),
        settings=_settings(settings),
    )
    validate(portfolio, offline=False)
    return portfolio


def _float(value: Cell, key: RowKey) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{'/'.join(key)}: expected a number, got {value!r}")
    return float(value)


def _settings(cells: Mapping[str, Cell]) -> Settings:
    defaults = Settings()

    def number(key: str, default: float) -> float:
        value = cells.get(key)
        return (
            float(value)
            if isinstance(value, int | float) and not isinstance(value, bool)
            else default
        )

    def flag(key: str, default: bool) -> bool:
        value = cells.get(key)
        return value if isinstance(value, bool) else default

    contribution = {
        k.rsplit(".", 1)[1]: number(k, 0.0) for k in cells if k.startswith("settings.contribution.")
    }
    markets = dict.fromkeys(k.split(".")[2] for k in cells if k.startswith("settings.fees."))
    fees = {
        m: Fee(number(f"settings.fees.{m}.rate", 0.0), number(f"settings.fees.{m}.min", 0.0))
        for m in markets
    }
    sell_tax = {
        k.split(".", 2)[2]: number(k, 0.0) for k in cells if k.startswith("settings.sell_tax.")
    }
    account = cells.get("settings.contribution_account")
    return Settings(
        mode=Mode(str(cells.get("settings.mode") or defaults.mode.value)),
        contribution=contribution,
        contribution_account=None if account in (None, "") else str(account),
        fractional=flag("settings.fractional", defaults.fractional),
        band=Band(number("settings.band.absolute", 0.0), number("settings.band.relative", 0.0)),
        min_trade_value=number("settings.min_trade_value", 0.0),
        fees=fees,
        sell_tax=sell_tax
        if any(k.startswith("settings.sell_tax.") for k in cells)
        else dict(defaults.sell_tax),
        fx_spread=number("settings.fx_spread", 0.0),
        auto_fx=flag("settings.auto_fx", defaults.auto_fx),
        time_limit=number("settings.time_limit", defaults.time_limit),
    )


def describe_key(key: RowKey) -> str:
    """A row for people: ``holding general/QQQ``, ``setting settings.mode``."""
    return f"{key[0]} {'/'.join(key[1:])}" if key[0] != "history" else f"history {key[1]}"


__all__ = [
    "CASH",
    "HISTORY_FIELDS",
    "Cell",
    "LocalOnly",
    "RowKey",
    "Rows",
    "SyncedState",
    "describe_key",
    "history_rows",
    "portfolio_rows",
    "rows_portfolio",
    "settings_cells",
    "state_from_json",
]
