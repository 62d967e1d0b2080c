"""The bad-input corpus: what people really type where a value belongs, and what it must mean.

One table, read by three entry points (tests/inputs/test_input_corpus.py): the bundled
workbook's cells, a user's own ranges given to the worksheet functions, and the JSON document.
Every case states the exact parsed value or the exact error message, and all three readers
must agree (each names the place in its own way: ``Holdings!E4``, ``Holdings row 2``,
``holdings[0].quantity``).

A case edits the seed portfolio (python/xlrebalance/templates/examples/seed.json) in one
place: the first holding (VOO, account "general"), the first cash row (general, KRW) or one setting.
``None`` as a value means blank (a JSON field left out).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from xlrebalance.model import Portfolio


@dataclass(frozen=True)
class Error:
    message: str
    ranges: str | None = None
    """The worksheet functions' message where their ranges accept more than the workbook and
    JSON do (targets as percentages summing to 100), so the same value means another thing."""


@dataclass(frozen=True)
class Case:
    id: str
    field: str
    """``holdings.<column>``, ``cash.amount`` or a Settings key (``settings.fx_spread``)."""
    raw: object
    expect: object
    """The value read back (see :func:`read_back`), or an :class:`Error`."""
    also: Mapping[str, object] = field(default_factory=dict)
    """Other fields of the same row set with it (e.g. a blank market)."""


def read_back(field_: str, p: Portfolio) -> object:
    """What a case checks in the portfolio read."""
    h = p.holdings[0]
    if field_ == "holdings.ticker":
        return (h.ticker, h.market.value, h.currency)
    if field_ == "holdings.target":
        return round(p.targets[h.ticker], 12)
    if field_.startswith("holdings."):
        value = getattr(h, field_.split(".", 1)[1])
        return getattr(value, "value", value)
    if field_ == "cash.amount":
        return p.accounts[0].cash["KRW"]
    if field_.startswith("fx."):
        return p.fx[field_[3:]]
    if field_ == "targets.CASH":
        return round(p.targets["CASH"], 12)
    s = p.settings
    getters: dict[str, Callable[[], object]] = {
        "settings.mode": lambda: s.mode.value,
        "settings.fractional": lambda: s.fractional,
        "settings.auto_fx": lambda: s.auto_fx,
        "settings.fx_spread": lambda: round(s.fx_spread, 12),
        "settings.band.absolute": lambda: round(s.band.absolute, 12),
        "settings.min_trade_value": lambda: s.min_trade_value,
        "settings.contribution.KRW": lambda: s.contribution.get("KRW"),
        "settings.fees.US.rate": lambda: round(s.fees["US"].rate, 12),
        "settings.fees.KR.min": lambda: s.fees["KR"].min,
        "settings.sell_tax.KR:STOCK": lambda: dict(s.sell_tax),
        "settings.time_limit": lambda: s.time_limit,
    }
    return getters[field_]()


AMBIGUOUS = '; type it with "." for decimals and no other separator'
KR_BLANK = {"holdings.market": None, "holdings.currency": None, "holdings.kind": None}

CASES: tuple[Case, ...] = (
    # -- quantity: numbers typed as text ------------------------------------------------------
    Case("qty-plain-text", "holdings.quantity", "12", 12.0),
    Case("qty-thousands", "holdings.quantity", "1,200", 1200.0),
    Case("qty-millions", "holdings.quantity", "1,200,000", 1200000.0),
    Case("qty-space-groups", "holdings.quantity", "1 200", 1200.0),
    Case("qty-nbsp-around", "holdings.quantity", "\u00a012\u00a0", 12.0),
    Case("qty-shares-unit", "holdings.quantity", "15주", 15.0),
    Case("qty-exponent", "holdings.quantity", "1e3", 1000.0),
    Case("qty-comma-decimal", "holdings.quantity", "4,5",
         Error(f'quantity "4,5" is ambiguous: 45 with "," separating thousands or 4.5 with '
               f'"," as the decimal point{AMBIGUOUS}')),
    Case("qty-dot-thousands", "holdings.quantity", "1.200",
         Error(f'quantity "1.200" is ambiguous: 1.2 with "." as the decimal point or 1200 '
               f'with "." separating thousands{AMBIGUOUS}')),
    Case("qty-dot-millions", "holdings.quantity", "1.200.000",
         Error(f'quantity "1.200.000" is ambiguous: 1200000 with "." separating '
               f"thousands{AMBIGUOUS}")),
    Case("qty-indian-groups", "holdings.quantity", "1,20,000",
         Error(f'quantity "1,20,000" is ambiguous: 120000 with "," separating '
               f"thousands{AMBIGUOUS}")),
    Case("qty-word", "holdings.quantity", "ten", Error('quantity "ten" is not a number')),
    Case("qty-currency", "holdings.quantity", "$12",
         Error('quantity "$12" has a currency; expected a number without one')),
    Case("qty-percent", "holdings.quantity", "20%",
         Error('quantity "20%" is a percentage; expected a number')),
    Case("qty-fraction", "holdings.quantity", "1.5",
         Error("VOO: 1.5 is not a whole number of shares (set fractional to true for "
               "fractional shares)")),
    Case("qty-negative", "holdings.quantity", "-3", Error("expected a number >= 0, got -3")),
    Case("qty-accounting-negative", "holdings.quantity", "(3)",
         Error("expected a number >= 0, got -3")),
    Case("qty-nan", "holdings.quantity", "nan", Error('quantity "nan" is not a number')),
    Case("qty-blank-is-zero", "holdings.quantity", None, 0.0),
    # -- price: currency signs and locales ----------------------------------------------------
    Case("price-dollar", "holdings.price", "$512.30", 512.3),
    Case("price-us-dollar", "holdings.price", "US$ 512.30", 512.3),
    Case("price-unit-after", "holdings.price", "512.30 USD", 512.3),
    Case("price-won-sign", "holdings.price", "₩41,250", 41250.0, {"holdings.currency": "KRW"}),
    Case("price-fullwidth-won", "holdings.price", "￦41,250", 41250.0,
         {"holdings.currency": "KRW"}),
    Case("price-won-unit", "holdings.price", "41,250원", 41250.0, {"holdings.currency": "KRW"}),
    Case("price-won-in-usd-row", "holdings.price", "₩41,250",
         Error('price "₩41,250" is written in KRW but is in USD here')),
    Case("price-won-unit-in-usd-row", "holdings.price", "41,250원",
         Error('price "41,250원" is written in KRW but is in USD here')),
    Case("price-dollar-in-krw-row", "holdings.price", "$512.30",
         Error('price "$512.30" is written in dollars but is in KRW here'),
         {"holdings.currency": "KRW"}),
    Case("price-grouped-decimals", "holdings.price", "1,234.5", 1234.5),
    Case("price-plain-decimals", "holdings.price", "512.3", 512.3),
    Case("price-comma-decimal", "holdings.price", "512,30",
         Error(f'price "512,30" is ambiguous: 51230 with "," separating thousands or 512.3 '
               f'with "," as the decimal point{AMBIGUOUS}')),
    Case("price-european", "holdings.price", "1.450,50",
         Error(f'price "1.450,50" is ambiguous: 1.4505 with "," separating thousands or '
               f'1450.5 with "," as the decimal point{AMBIGUOUS}')),
    Case("price-french", "holdings.price", "1 450,50",
         Error(f'price "1 450,50" is ambiguous: 145050 with "," separating thousands or '
               f'1450.5 with "," as the decimal point{AMBIGUOUS}')),
    Case("price-euro-sign", "holdings.price", "€512.30",
         Error('price "€512.30" is written in EUR but is in USD here')),
    Case("price-dollar-comma", "holdings.price", "$512,30",
         Error(f'price "$512,30" is ambiguous: 51230 with "," separating thousands or 512.3 '
               f'with "," as the decimal point{AMBIGUOUS}')),
    Case("price-zero", "holdings.price", "0", Error("VOO: expected a positive price, got 0")),
    Case("price-unicode-minus", "holdings.price", "\u2212512.3",
         Error("VOO: expected a positive price, got -512.3")),
    Case("price-percent", "holdings.price", "5%",
         Error('price "5%" is a percentage; expected a number')),
    Case("price-na-text", "holdings.price", "n/a", Error('price "n/a" is not a number')),
    Case("price-two-signs", "holdings.price", "$$5", Error('price "$$5" is not a number')),
    # -- target weights: percent text where a weight belongs ---------------------------------
    Case("target-percent", "holdings.target", "20%", 0.2),
    Case("target-percent-space", "holdings.target", "20 %", 0.2),
    Case("target-fraction-text", "holdings.target", "0.2", 0.2),
    Case("target-percent-comma", "holdings.target", "20,0%",
         Error(f'target "20,0%" is ambiguous: 200% with "," separating thousands or 20% with '
               f'"," as the decimal point{AMBIGUOUS}')),
    Case("target-currency", "holdings.target", "$0.2",
         Error('target "$0.2" has a currency; expected a number without one')),
    Case("target-over-one", "holdings.target", "20",
         Error("expected a fraction from 0 to 1 (0.2 for 20%), got 20",
               ranges="target 20 reads as a percentage, but the weights sum to 20.8, not 100: "
               "type percentages summing to 100 in every row (30 for 30%) or fractions summing "
               "to 1 (0.3, or 30% with the % sign)")),
    # -- tickers -------------------------------------------------------------------------------
    Case("ticker-a-prefix", "holdings.ticker", "A000660", ("000660", "KR", "KRW"), KR_BLANK),
    Case("ticker-yahoo-ks", "holdings.ticker", "000660.KS", ("000660", "KR", "KRW"), KR_BLANK),
    Case("ticker-yahoo-kq", "holdings.ticker", "247540.kq", ("247540", "KR", "KRW"), KR_BLANK),
    Case("ticker-lost-zeros", "holdings.ticker", 660, ("000660", "KR", "KRW"), KR_BLANK),
    Case("ticker-lost-zeros-text", "holdings.ticker", "660", ("000660", "KR", "KRW"), KR_BLANK),
    Case("ticker-new-krx-code", "holdings.ticker", "0080g0", ("0080G0", "KR", "KRW"), KR_BLANK),
    Case("ticker-lower-us", "holdings.ticker", " brk.b ", ("BRK.B", "US", "USD"), KR_BLANK),
    Case("ticker-us-a", "holdings.ticker", "A", ("A", "US", "USD"), KR_BLANK),
    Case("ticker-blank", "holdings.ticker", None, Error("ticker is empty")),
    # -- markets spelt several ways ----------------------------------------------------------
    Case("market-kospi", "holdings.market", "KOSPI", "KR"),
    Case("market-kosdaq-lower", "holdings.market", "kosdaq", "KR"),
    Case("market-korean", "holdings.market", "코스피", "KR"),
    Case("market-krx", "holdings.market", "KRX", "KR"),
    Case("market-nasdaq", "holdings.market", "Nasdaq", "US"),
    Case("market-nyse-arca", "holdings.market", "NYSEARCA", "US"),
    Case("market-usa", "holdings.market", "usa", "US"),
    Case("market-miguk", "holdings.market", "미국", "US"),
    Case("market-blank-infers", "holdings.market", None, "US"),
    Case("market-japan", "holdings.market", "JP", Error('market "JP" is not US or KR')),
    # -- kinds ----------------------------------------------------------------------------------
    Case("kind-etf-lower", "holdings.kind", "etf", "ETF"),
    Case("kind-etn", "holdings.kind", "ETN", "ETF"),
    Case("kind-korean-stock", "holdings.kind", "주식", "STOCK"),
    Case("kind-bond", "holdings.kind", "bond", Error('kind "bond" is not STOCK or ETF')),
    Case("kind-kr-etf-brand", "holdings.kind", None, "ETF",
         {"holdings.market": "KR", "holdings.name": "KODEX 200"}),
    Case("kind-kr-brand-is-a-word", "holdings.kind", None, "STOCK",
         {"holdings.market": "KR", "holdings.name": "HK이노엔"}),
    # -- currencies ----------------------------------------------------------------------------
    Case("currency-lower", "holdings.currency", "usd", "USD"),
    Case("currency-sign", "holdings.currency", "$", "USD"),
    Case("currency-korean-dollar", "holdings.currency", "달러", "USD"),
    Case("currency-won", "holdings.currency", "원", "KRW"),
    Case("currency-typo", "holdings.currency", "USS",
         Error('currency "USS" is not a currency code such as KRW or USD')),
    # -- locked: true/false spelt several ways ---------------------------------------------------
    Case("locked-yes", "holdings.locked", "yes", True),
    Case("locked-korean", "holdings.locked", "예", True),
    Case("locked-false-text", "holdings.locked", "FALSE", False),
    Case("locked-blank", "holdings.locked", None, False),
    Case("locked-maybe", "holdings.locked", "maybe", Error('locked "maybe" is not TRUE or FALSE')),
    # -- cash ----------------------------------------------------------------------------------
    Case("cash-won-sign", "cash.amount", "₩1,200,000", 1200000.0),
    Case("cash-won-unit", "cash.amount", "1,200,000원", 1200000.0),
    Case("cash-dollar-in-krw-row", "cash.amount", "$1,200",
         Error('amount "$1,200" is written in dollars but is in KRW here')),
    Case("cash-decimals", "cash.amount", "1,200,000.50", 1200000.5),
    Case("cash-dot-groups", "cash.amount", "1.200.000",
         Error(f'amount "1.200.000" is ambiguous: 1200000 with "." separating '
               f"thousands{AMBIGUOUS}")),
    Case("cash-negative", "cash.amount", "(1,000)", Error("expected a number >= 0, got -1000")),
    # -- settings ------------------------------------------------------------------------------
    Case("fx-grouped", "fx.USDKRW", "1,450.50", 1450.5),
    Case("fx-won-sign", "fx.USDKRW", "₩1,450", 1450.0),
    Case("fx-dollar-sign", "fx.USDKRW", "$1,450",
         Error('usd/krw rate "$1,450" is written in dollars but is in KRW here')),
    Case("fx-european", "fx.USDKRW", "1.450,50",
         Error(f'usd/krw rate "1.450,50" is ambiguous: 1.4505 with "," separating thousands '
               f'or 1450.5 with "," as the decimal point{AMBIGUOUS}')),
    Case("fx-dot-thousands", "fx.USDKRW", "1.450",
         Error(f'usd/krw rate "1.450" is ambiguous: 1.45 with "." as the decimal point or '
               f'1450 with "." separating thousands{AMBIGUOUS}')),
    Case("spread-percent", "settings.fx_spread", "0.1%", 0.001),
    Case("spread-word", "settings.fx_spread", "lots", Error('fx spread "lots" is not a number')),
    Case("spread-comma-percent", "settings.fx_spread", "0,1%",
         Error(f'fx spread "0,1%" is ambiguous: 1% with "," separating thousands or 0.1% with '
               f'"," as the decimal point{AMBIGUOUS}')),
    Case("band-percent", "settings.band.absolute", "5%", 0.05),
    Case("mode-spaced", "settings.mode", "buy only", "buy_only"),
    Case("mode-upper", "settings.mode", "SELL_ONLY", "sell_only"),
    Case("mode-korean", "settings.mode", "매수만", "buy_only"),
    Case("mode-unknown", "settings.mode", "sideways",
         Error('mode "sideways" is not rebalance, buy_only or sell_only')),
    Case("fractional-yes", "settings.fractional", "yes", True),
    Case("fractional-maybe", "settings.fractional", "maybe",
         Error('fractional shares "maybe" is not TRUE or FALSE')),
    Case("auto-fx-korean-no", "settings.auto_fx", "아니오", False),
    Case("contribution-won", "settings.contribution.KRW", "₩2,000,000", 2000000.0),
    Case("contribution-dot-groups", "settings.contribution.KRW", "2.000.000",
         Error(f'contribution (krw) "2.000.000" is ambiguous: 2000000 with "." separating '
               f"thousands{AMBIGUOUS}")),
    Case("min-trade-grouped", "settings.min_trade_value", "10,000", 10000.0),
    Case("fee-rate-percent", "settings.fees.US.rate", "0.25%", 0.0025),
    Case("fee-min-won", "settings.fees.KR.min", "1,000원", 1000.0),
    Case("fee-min-dollar-for-kr", "settings.fees.KR.min", "$1",
         Error('kr minimum commission "$1" is written in dollars but is in KRW here')),
    Case("fee-rate-currency", "settings.fees.US.rate", "$0.25",
         Error('us commission rate "$0.25" has a currency; expected a number without one')),
    Case("sell-tax-percent", "settings.sell_tax.KR:STOCK", "0.20%",
         {"KR:STOCK": 0.002, "KR:ETF": 0.0}),
    Case("sell-tax-explicit-zero", "settings.sell_tax.KR:STOCK", "0",
         {"KR:STOCK": 0.0, "KR:ETF": 0.0}),
    Case("time-limit-text", "settings.time_limit", "2.5", 2.5),
    Case("cash-target-percent", "targets.CASH", "5%", 0.05),
)  # fmt: skip
