"""The workbook's layout, declared once: sheets, columns, headers (English and Korean), number
formats, validations and notes. The builder lays the workbook out from here, the reader finds
columns by these headers, and the writer knows which cells the tool owns."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

Lang = Literal["en", "ko"]
LANGS: tuple[Lang, ...] = ("en", "ko")

KRW_FORMAT = "#,##0"
USD_FORMAT = "#,##0.00"
QUANTITY_FORMAT = "#,##0.######"
WEIGHT_FORMAT = "0.00%"
TIME_FORMAT = "yyyy-mm-dd hh:mm"
CURRENCY_FORMATS = {"KRW": KRW_FORMAT, "JPY": KRW_FORMAT, "TWD": KRW_FORMAT, "VND": KRW_FORMAT}
"""Number format per currency; every other currency gets two decimals."""

HEADER_ROW = 3
"""Row of the column headers on the table sheets (row 1 is the title, row 2 a hint)."""

LAST_FORMULA_ROW = 1000
"""Lowest Holdings row the array formulas (group weights) look at."""


def money_format(currency: str) -> str:
    return CURRENCY_FORMATS.get(currency.upper(), USD_FORMAT)


@dataclass(frozen=True)
class Column:
    key: str
    en: str
    ko: str
    note_en: str
    note_ko: str
    width: float = 12
    number_format: str | None = None
    choices: tuple[str, ...] = ()
    formula: str | None = None
    """Excel formula for row ``{r}``; a formula column is computed by the sheet, never read."""
    owned: bool = False
    """Written by the tool (prices, their time and source); everything else is the user's."""

    def header(self, lang: Lang) -> str:
        return self.en if lang == "en" else self.ko

    def note(self, lang: Lang) -> str:
        return self.note_en if lang == "en" else self.note_ko

    def aliases(self) -> frozenset[str]:
        return frozenset(normalize_header(name) for name in (self.en, self.ko, self.key))


def normalize_header(text: str) -> str:
    """Header text as compared: lower case, without "(units)" or "[notes]" and without
    spaces, dots, underscores or dashes: ``Value (KRW)`` -> ``value``, ``목표 비중`` ->
    ``목표비중``, ``price_time`` -> ``pricetime``."""
    text = re.sub(r"\(.*?\)|\[.*?\]", "", text)
    return re.sub(r"[\s._\-/:#]+", "", text.lower())


@dataclass(frozen=True)
class TableSheet:
    name: str
    table: str
    title_en: str
    title_ko: str
    hint_en: str
    hint_ko: str
    columns: tuple[Column, ...]

    def column(self, key: str) -> Column:
        for column in self.columns:
            if column.key == key:
                return column
        raise KeyError(key)

    def letter(self, key: str) -> str:
        """Column letter in the built template (the reader matches by header instead)."""
        from openpyxl.utils import get_column_letter

        return str(get_column_letter(self.columns.index(self.column(key)) + 1))

    def title(self, lang: Lang) -> str:
        return self.title_en if lang == "en" else self.title_ko

    def hint(self, lang: Lang) -> str:
        return self.hint_en if lang == "en" else self.hint_ko

    def header_aliases(self) -> dict[str, frozenset[str]]:
        """Every header text each column is known by (normalised): its English and Korean
        header, its key, and the names brokers' exports use (:data:`EXTRA_HEADERS`)."""
        extra = EXTRA_HEADERS.get(self.name, {})
        return {
            c.key: c.aliases() | {normalize_header(n) for n in extra.get(c.key, ())}
            for c in self.columns
        }


RATE = 'IF({cur}=BaseCurrency,1,SUMIFS(Settings!$C:$C,Settings!$A:$A,"fx."&{cur}&BaseCurrency))'

HOLDINGS = TableSheet(
    name="Holdings",
    table="HoldingsTable",
    title_en="Holdings",
    title_ko="보유 종목",
    hint_en="One row per account and ticker. A ticker you want but do not hold yet: quantity 0. "
    "Grey columns are computed; Price, Price time and Source are filled by Refresh.",
    hint_ko="계좌·종목마다 한 행. 아직 보유하지 않은 목표 종목은 수량 0으로 입력. "
    "회색 열은 자동 계산, 가격·가격 시각·출처는 새로 고침이 채웁니다.",
    columns=(
        Column(
            "account",
            "Account",
            "계좌",
            "Account id as on the Cash sheet.",
            "Cash 시트의 계좌 이름.",
            width=12,
        ),
        Column(
            "ticker",
            "Ticker",
            "종목코드",
            "US symbol (QQQ) or 6-character KRX code (005930).",
            "미국 티커(QQQ) 또는 6자리 KRX 코드(005930).",
            width=10,
        ),
        Column(
            "market",
            "Market",
            "시장",
            "US or KR; blank: inferred from the ticker.",
            "US 또는 KR. 비우면 종목코드로 추정.",
            width=8,
            choices=("US", "KR"),
        ),
        Column(
            "name",
            "Name",
            "종목명",
            "Any name you like (shown on Orders).",
            "자유롭게 입력 (주문 시트에 표시).",
            width=28,
        ),
        Column(
            "quantity",
            "Quantity",
            "수량",
            "Shares held now (0 for a ticker to buy).",
            "현재 보유 수량 (매수만 할 종목은 0).",
            width=10,
            number_format=QUANTITY_FORMAT,
        ),
        Column(
            "average_cost",
            "Average cost",
            "평균 단가",
            "Optional, in the row's currency: profit and loss (Exposure sheet), not planning.",
            "선택 입력, 해당 통화 기준. 손익 계산용 (Exposure 시트), 주문 계산에는 안 쓰임.",
            width=12,
        ),
        Column(
            "currency",
            "Currency",
            "통화",
            "Trading currency (KRW, USD); blank: by market.",
            "거래 통화 (KRW, USD). 비우면 시장 기준.",
            width=9,
        ),
        Column(
            "price",
            "Price",
            "가격",
            "Last price; Refresh overwrites it, offline runs use it.",
            "최근 가격. 새로 고침이 덮어쓰며, 오프라인 계산은 이 값을 사용.",
            width=12,
            owned=True,
        ),
        Column(
            "price_time",
            "Price time",
            "가격 시각",
            "When the price was quoted.",
            "가격이 조회된 시각.",
            width=16,
            number_format=TIME_FORMAT,
            owned=True,
        ),
        Column(
            "source",
            "Source",
            "출처",
            "Where the price came from; 'stale' when old.",
            "가격 출처. 오래된 가격은 'stale' 표시.",
            width=14,
            owned=True,
        ),
        Column(
            "value",
            "Value (base)",
            "평가액 (기준통화)",
            "Quantity x price in the base currency.",
            "수량 x 가격, 기준 통화 환산.",
            width=14,
            number_format=KRW_FORMAT,
            formula='=IF(OR($E{r}="",$H{r}=""),"",$E{r}*$H{r}*' + RATE.format(cur="$G{r}") + ")",
        ),
        Column(
            "weight",
            "Weight",
            "비중",
            "Share of the whole portfolio (cash included).",
            "전체 자산(현금 포함) 대비 비중.",
            width=9,
            number_format=WEIGHT_FORMAT,
            formula='=IF(OR($K{r}="",TotalValue=0),"",$K{r}/TotalValue)',
        ),
        Column(
            "target",
            "Target",
            "목표 비중",
            "Target weight; a ticker's target is the sum over its rows. "
            "Targets + cash target = 100%.",
            "목표 비중. 같은 종목이 여러 행이면 합산. 목표 합계 + 현금 목표 = 100%.",
            width=9,
            number_format=WEIGHT_FORMAT,
        ),
        Column(
            "drift",
            "Drift",
            "괴리",
            "Weight minus target; red when outside the band.",
            "비중 - 목표. 밴드를 벗어나면 빨간색.",
            width=9,
            number_format=WEIGHT_FORMAT,
            formula='=IF($L{r}="","",$L{r}-N($M{r}))',
        ),
        Column(
            "locked",
            "Locked",
            "고정",
            "TRUE: never trade this row.",
            "TRUE: 이 행은 매매하지 않음.",
            width=8,
            choices=("TRUE", "FALSE"),
        ),
        Column(
            "kind",
            "Kind",
            "유형",
            "STOCK or ETF (KR sell tax differs).",
            "STOCK 또는 ETF (국내 매도세가 다름).",
            width=8,
            choices=("STOCK", "ETF"),
        ),
        Column(
            "leverage",
            "Leverage",
            "레버리지",
            "Optional: 3 for a 3x fund, -1 for an inverse one; blank: known funds, else 1.",
            "선택 입력: 3배 펀드는 3, 인버스는 -1. 비우면 알려진 펀드 표, 그 외 1.",
            width=9,
        ),
        Column(
            "take_profit",
            "Take profit",
            "목표 수익률",
            "Optional return at which to take profit (50% = +50%); flagged on Orders.",
            "선택 입력: 이익 실현 목표 수익률 (50% = +50%). 넘으면 주문 시트에 표시.",
            width=10,
            number_format=WEIGHT_FORMAT,
        ),
    ),
)

CASH_SHEET = TableSheet(
    name="Cash",
    table="CashTable",
    title_en="Cash",
    title_ko="현금",
    hint_en="One row per account and currency. Every account needs a row here (amount 0 is fine).",
    hint_ko="계좌·통화마다 한 행. 모든 계좌는 여기에 한 행 이상 있어야 합니다 (0원도 가능).",
    columns=(
        Column("account", "Account", "계좌", "Account id.", "계좌 이름.", width=14),
        Column("currency", "Currency", "통화", "KRW, USD, ...", "KRW, USD 등.", width=10),
        Column(
            "amount",
            "Amount",
            "금액",
            "Cash available to trade.",
            "매매에 쓸 수 있는 현금.",
            width=16,
            number_format=USD_FORMAT,
        ),
        Column(
            "value",
            "Value (base)",
            "평가액 (기준통화)",
            "Amount in the base currency.",
            "기준 통화 환산액.",
            width=16,
            number_format=KRW_FORMAT,
            formula='=IF($C{r}="","",$C{r}*' + RATE.format(cur="$B{r}") + ")",
        ),
    ),
)

_HOLDING_TICKERS = f"Holdings!$B$4:$B${LAST_FORMULA_ROW}"
TICKER_LIST_SEPARATORS = (",", ";", "\uff0c", "\uff1b", "\u3001")
"""What separates the tickers of a list cell (Groups' Tickers) besides whitespace: commas and
semicolons, also the full-width and ideographic ones a Korean IME types (cells.ticker_list
splits on these and on whitespace)."""
# The Weight now formula turns every separator the reader splits on into a comma (line breaks
# from Alt+Enter, tabs and spaces too), so it sums the tickers the planner caps.
_LIST_SEPARATORS = (
    " ", "CHAR(10)", "CHAR(13)", "CHAR(9)", *(c for c in TICKER_LIST_SEPARATORS if c != ",")
)  # fmt: skip


def _commas_for_separators(cell: str) -> str:
    """An Excel expression: ``cell``'s text with every list separator made a comma."""
    out = cell
    for separator in _LIST_SEPARATORS:
        quoted = separator if separator.startswith("CHAR(") else f'"{separator}"'
        out = f'SUBSTITUTE({out},{quoted},",")'
    return out


GROUPS = TableSheet(
    name="Groups",
    table="GroupsTable",
    title_en="Targets / groups",
    title_ko="그룹 한도",
    hint_en="Caps on groups of tickers, e.g. Leveraged <= 5%, Themes <= 30%. "
    "Tickers: comma separated.",
    hint_ko="종목 묶음의 비중 한도 (예: 레버리지 5% 이하, 테마 30% 이하). 종목은 쉼표로 구분.",
    columns=(
        Column("name", "Group", "그룹", "Group name.", "그룹 이름.", width=16),
        Column(
            "max_weight",
            "Max weight",
            "최대 비중",
            "Cap on the group's total weight.",
            "그룹 합계 비중의 상한.",
            width=12,
            number_format=WEIGHT_FORMAT,
        ),
        Column(
            "tickers",
            "Tickers",
            "종목",
            "Comma-separated tickers.",
            "쉼표로 구분한 종목코드.",
            width=36,
        ),
        Column(
            "weight",
            "Weight now",
            "현재 비중",
            "Current weight of the group.",
            "그룹의 현재 비중.",
            width=12,
            number_format=WEIGHT_FORMAT,
            formula=f'=IF($C{{r}}="","",SUMPRODUCT(--({_HOLDING_TICKERS}<>""),'
            f'--ISNUMBER(SEARCH(","&{_HOLDING_TICKERS}&",",","&{_commas_for_separators("$C{r}")}'
            f'&",")),Holdings!$K$4:$K${LAST_FORMULA_ROW})/TotalValue)',
        ),
    ),
)

TABLE_SHEETS = (HOLDINGS, CASH_SHEET, GROUPS)

# --------------------------------------------------------------------------------------------
# Settings: one row per setting, found by its key (the portfolio document's path), so users may
# reorder rows and add FX rates (a row ``fx.EURKRW``).

SettingKind = Literal["currency", "number", "percent", "choice", "bool", "text"]


@dataclass(frozen=True)
class Setting:
    key: str
    en: str
    ko: str
    kind: SettingKind
    note_en: str
    note_ko: str
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    number_format: str | None = None

    def label(self, lang: Lang) -> str:
        return self.en if lang == "en" else self.ko

    def note(self, lang: Lang) -> str:
        return self.note_en if lang == "en" else self.note_ko


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "base_currency",
        "Base currency",
        "기준 통화",
        "currency",
        "Currency all weights are measured in.",
        "모든 비중을 계산하는 통화.",
        choices=("KRW", "USD"),
    ),
    Setting(
        "fx.USDKRW",
        "USD/KRW rate",
        "원/달러 환율",
        "number",
        "KRW per 1 USD. Refresh updates it online; offline runs use this value.",
        "1달러당 원화. 온라인 새로 고침이 갱신하며 오프라인 계산은 이 값을 사용.",
        minimum=0,
        number_format="#,##0.00",
    ),
    Setting(
        "settings.mode",
        "Mode",
        "모드",
        "choice",
        "rebalance: buy and sell; buy_only: never sells; sell_only: never buys.",
        "rebalance: 매수·매도; buy_only: 매도 없음; sell_only: 매수 없음.",
        choices=("rebalance", "buy_only", "sell_only"),
    ),
    Setting(
        "settings.contribution.KRW",
        "Contribution (KRW)",
        "추가 입금 (KRW)",
        "number",
        "Cash added (negative: withdrawn) this time, in KRW.",
        "이번에 추가하는 현금 (음수는 출금), 원화.",
        number_format=KRW_FORMAT,
    ),
    Setting(
        "settings.contribution.USD",
        "Contribution (USD)",
        "추가 입금 (USD)",
        "number",
        "Cash added (negative: withdrawn) this time, in USD.",
        "이번에 추가하는 현금 (음수는 출금), 달러.",
        number_format=USD_FORMAT,
    ),
    Setting(
        "settings.contribution_account",
        "Contribution account",
        "입금 계좌",
        "text",
        "Account that receives the contribution (blank: the first account).",
        "입금을 받는 계좌 (비우면 첫 번째 계좌).",
    ),
    Setting(
        "settings.fractional",
        "Fractional shares",
        "소수점 거래",
        "bool",
        "TRUE to allow fractional quantities.",
        "TRUE이면 소수점 수량 허용.",
        choices=("TRUE", "FALSE"),
    ),
    Setting(
        "settings.band.absolute",
        "Band (absolute)",
        "허용 밴드 (절대)",
        "percent",
        "No trade while |weight - target| stays within this (e.g. 5%). 0: no band.",
        "|비중 - 목표|가 이 값 이내면 매매하지 않음 (예: 5%). 0이면 밴드 없음.",
        minimum=0,
        maximum=1,
        number_format=WEIGHT_FORMAT,
    ),
    Setting(
        "settings.band.relative",
        "Band (relative)",
        "허용 밴드 (상대)",
        "percent",
        "Band as a share of the target (e.g. 25%: 5/25 rule with the absolute band).",
        "목표 대비 비율 밴드 (예: 25%, 절대 밴드와 함께 5/25 규칙).",
        minimum=0,
        number_format=WEIGHT_FORMAT,
    ),
    Setting(
        "settings.min_trade_value",
        "Minimum trade value",
        "최소 주문 금액",
        "number",
        "Smallest order worth placing, in the base currency.",
        "주문할 가치가 있는 최소 금액 (기준 통화).",
        minimum=0,
        number_format=KRW_FORMAT,
    ),
    Setting(
        "settings.fees.US.rate",
        "US commission rate",
        "미국 수수료율",
        "percent",
        "Commission on US trades (0.25% = 0.0025).",
        "미국 주식 매매 수수료율.",
        minimum=0,
        maximum=0.5,
        number_format="0.000%",
    ),
    Setting(
        "settings.fees.US.min",
        "US minimum commission",
        "미국 최소 수수료",
        "number",
        "Minimum commission per US order, in USD.",
        "미국 주문당 최소 수수료 (달러).",
        minimum=0,
        number_format=USD_FORMAT,
    ),
    Setting(
        "settings.fees.KR.rate",
        "KR commission rate",
        "국내 수수료율",
        "percent",
        "Commission on KRX trades.",
        "국내 주식 매매 수수료율.",
        minimum=0,
        maximum=0.5,
        number_format="0.000%",
    ),
    Setting(
        "settings.fees.KR.min",
        "KR minimum commission",
        "국내 최소 수수료",
        "number",
        "Minimum commission per KRX order, in KRW.",
        "국내 주문당 최소 수수료 (원).",
        minimum=0,
        number_format=KRW_FORMAT,
    ),
    Setting(
        "settings.sell_tax.KR:STOCK",
        "KR stock sell tax",
        "국내 주식 매도세",
        "percent",
        "Transaction tax on selling KRX stocks (0.20% from 2026).",
        "국내 주식 매도 시 거래세 (2026년부터 0.20%).",
        minimum=0,
        maximum=0.5,
        number_format="0.000%",
    ),
    Setting(
        "settings.sell_tax.KR:ETF",
        "KR ETF sell tax",
        "국내 ETF 매도세",
        "percent",
        "KRX ETFs are exempt (0%).",
        "국내 ETF는 면제 (0%).",
        minimum=0,
        maximum=0.5,
        number_format="0.000%",
    ),
    Setting(
        "settings.fx_spread",
        "FX spread",
        "환전 스프레드",
        "percent",
        "Cost of converting currency, as a share of the amount.",
        "환전 비용 (금액 대비 비율).",
        minimum=0,
        maximum=0.5,
        number_format="0.000%",
    ),
    Setting(
        "settings.auto_fx",
        "Automatic FX",
        "자동 환전",
        "bool",
        "TRUE: US buys may be paid from KRW cash (integrated margin).",
        "TRUE: 원화 현금으로 미국 주식 매수 가능 (통합증거금).",
        choices=("TRUE", "FALSE"),
    ),
    Setting(
        "settings.time_limit",
        "Solver time limit (s)",
        "계산 시간 한도 (초)",
        "number",
        "Seconds the exact solver may spend before reporting its gap.",
        "정확해 탐색에 쓸 최대 시간 (초).",
        minimum=0,
        number_format="0.0",
    ),
    Setting(
        "targets.CASH",
        "Cash target",
        "현금 목표 비중",
        "percent",
        "Weight kept in cash; ticker targets + this = 100%.",
        "현금으로 둘 비중. 종목 목표 합계 + 이 값 = 100%.",
        minimum=0,
        maximum=1,
        number_format=WEIGHT_FORMAT,
    ),
    Setting(
        "workbook.quote_max_age_hours",
        "Quote max age (h)",
        "시세 유효 시간 (시간)",
        "number",
        "Prices older than this are marked stale on Holdings and Orders.",
        "이보다 오래된 가격은 Holdings와 Orders에 stale로 표시.",
        minimum=0,
        number_format="0",
    ),
    Setting(
        "workbook.max_price_jump",
        "Max price jump (x)",
        "최대 가격 변동 (배)",
        "number",
        "A fetched price this many times the last one (or 1/x of it) is held back until you "
        "accept it: xlrebalance refresh --accept-jumps.",
        "직전 가격의 이 배수 이상(또는 1/x 이하)으로 바뀐 시세는 확인 전까지 쓰지 않음: "
        "xlrebalance refresh --accept-jumps.",
        minimum=1,
        number_format="0.0",
    ),
    Setting(
        "sync.remote",
        "Sync remote",
        "동기화 위치",
        "text",
        "Where Sync keeps the portfolio: file:///folder, s3://bucket/path or webdav://host/path. "
        "No password here: see docs/sync.md.",
        "동기화 저장 위치: file:///폴더, s3://버킷/경로, webdav://호스트/경로. "
        "비밀번호는 넣지 마세요 (docs/sync.ko.md).",
    ),
    Setting(
        "sync.endpoint",
        "S3 endpoint",
        "S3 엔드포인트",
        "text",
        "For S3-compatible storage (R2, MinIO): its endpoint URL; blank for AWS S3.",
        "S3 호환 저장소(R2, MinIO)의 엔드포인트 URL. AWS S3는 비워 둠.",
    ),
    Setting(
        "settings.fee_rounding.KR.unit",
        "KR fee rounding unit",
        "국내 수수료 절사 단위",
        "number",
        "Fees and taxes of KRX trades are billed in multiples of this (KRW; 0: exact).",
        "국내 주문의 수수료와 세금을 이 단위로 계산 (원, 0이면 그대로).",
        minimum=0,
        number_format="0.##",
    ),
    Setting(
        "settings.fee_rounding.KR.mode",
        "KR fee rounding",
        "국내 수수료 반올림 방식",
        "choice",
        "down: fractions of a won dropped, as Korean brokers do; up; nearest.",
        "down: 원 미만 절사 (국내 증권사 방식); up: 올림; nearest: 반올림.",
        choices=("down", "up", "nearest"),
    ),
    Setting(
        "settings.fee_rounding.US.unit",
        "US fee rounding unit",
        "미국 수수료 단위",
        "number",
        "Fees and taxes of US trades are billed in multiples of this (USD; 0: exact).",
        "미국 주문의 수수료와 세금을 이 단위로 계산 (달러, 0이면 그대로).",
        minimum=0,
        number_format="0.00",
    ),
    Setting(
        "settings.fee_rounding.US.mode",
        "US fee rounding",
        "미국 수수료 반올림 방식",
        "choice",
        "up: to the next cent, as US brokers bill the SEC fee; nearest; down.",
        "up: 센트 단위 올림 (미국 SEC 수수료 방식); nearest: 반올림; down: 내림.",
        choices=("up", "nearest", "down"),
    ),
)

SETTINGS_COLUMNS = (
    Column(
        "key",
        "Key",
        "키",
        "Do not edit: the setting's name in the portfolio document.",
        "수정하지 마세요: 포트폴리오 문서의 설정 이름.",
        width=30,
    ),
    Column("label", "Setting", "설정", "", "", width=26),
    Column("value", "Value", "값", "", "", width=14),
    Column("note", "Note", "설명", "", "", width=70),
)
SETTINGS_SHEET = "Settings"
CASH_TARGET_KEY = "targets.CASH"

DEFAULT_QUOTE_MAX_AGE_HOURS = 24.0
DEFAULT_MAX_PRICE_JUMP = 5.0  # = quotes.sanity.DEFAULT_MAX_JUMP (not imported: keeps this light)

# --------------------------------------------------------------------------------------------
# Output sheets.

ORDERS_SHEET = "Orders"
ORDERS_HEADER_ROW = 4
ORDER_COLUMNS = (
    Column("account", "Account", "계좌", "", "", width=12),
    Column("ticker", "Ticker", "종목코드", "", "", width=10),
    Column("name", "Name", "종목명", "", "", width=26),
    Column("side", "Side", "구분", "", "", width=7),
    Column("quantity", "Quantity", "수량", "", "", width=10, number_format=QUANTITY_FORMAT),
    Column("price", "Est. price", "예상 가격", "", "", width=12),
    Column("currency", "Currency", "통화", "", "", width=9),
    Column("amount", "Amount", "금액", "", "", width=14),
    Column("costs", "Fees + tax", "수수료+세금", "", "", width=12),
    Column(
        "weight_before", "Weight before", "이전 비중", "", "", width=11, number_format=WEIGHT_FORMAT
    ),
    Column(
        "weight_after", "Weight after", "이후 비중", "", "", width=11, number_format=WEIGHT_FORMAT
    ),
    Column("target", "Target", "목표 비중", "", "", width=11, number_format=WEIGHT_FORMAT),
)
SUMMARY_COLUMN = 14  # N: labels, O: values, P: unit
WARNING_CELL = (2, 1)  # Orders!A2: the stale-price banner (red by conditional formatting)
ORDERS_CLEAR_ROWS = 2000

SUMMARY_LABELS: dict[str, tuple[str, str]] = {
    "computed": ("Computed at", "계산 시각"),
    "value_before": ("Value before", "이전 평가액"),
    "value_after": ("Value after", "이후 평가액"),
    "drift_before": ("Drift before", "이전 괴리"),
    "drift_after": ("Drift after", "이후 괴리"),
    "fees": ("Fees", "수수료"),
    "taxes": ("Taxes", "세금"),
    "fx_cost": ("FX cost", "환전 비용"),
    "solver": ("Solver status", "계산 상태"),
    "gap": ("Solver gap", "최적해 차이"),
    "seconds": ("Solver seconds", "계산 시간(초)"),
    "prices": ("Prices", "가격 상태"),
    "cash_left": ("Cash left", "남는 현금"),
    "fx": ("FX", "환전"),
    "warning": ("Warning", "경고"),
}

HISTORY_SHEET = "History"
HISTORY_COLUMNS = (
    Column("time", "Time", "시각", "", "", width=17, number_format=TIME_FORMAT),
    Column("event", "Event", "작업", "", "", width=10),
    Column(
        "value", "Value (base)", "평가액 (기준통화)", "", "", width=16, number_format=KRW_FORMAT
    ),
    Column("cash", "Cash (base)", "현금 (기준통화)", "", "", width=16, number_format=KRW_FORMAT),
    Column("drift", "Drift", "괴리", "", "", width=9, number_format=WEIGHT_FORMAT),
    Column(
        "drift_after", "Drift after", "이후 괴리", "", "", width=10, number_format=WEIGHT_FORMAT
    ),
    Column("orders", "Orders", "주문 수", "", "", width=8),
    Column("solver", "Solver", "계산 상태", "", "", width=11),
    Column("stale", "Stale prices", "오래된 가격", "", "", width=12),
)

DASHBOARD_SHEET = "Dashboard"
EXPOSURE_SHEET = "Exposure"
CONF_SHEET = "xlwings.conf"
# No PYTHONPATH: xlwings puts its entries on sys.path as written, so relative ones would
# resolve against the Python process's working directory. `xlrebalance` and
# `xlrebalance_udfs` are imported from the installed package (an editable install in a
# checkout); xlwings adds the workbook's own folder, where *Run main* finds rebalance.py.
CONF_ROWS = (
    ("UDF Modules", "xlrebalance_udfs"),
    ("Show Console", "False"),
)

SHEET_ORDER = (
    DASHBOARD_SHEET,
    HOLDINGS.name,
    CASH_SHEET.name,
    GROUPS.name,
    SETTINGS_SHEET,
    ORDERS_SHEET,
    HISTORY_SHEET,
    EXPOSURE_SHEET,
    CONF_SHEET,
)

OWNED_SHEETS = frozenset((*SHEET_ORDER, "Backtest"))
"""Sheets the tool reads or writes (the Backtest sheet is built by xlrebalance.backtest);
every other sheet is the user's, kept byte for byte by a refresh (see workbook/foreign.py)."""

SHEET_TITLES: dict[str, tuple[str, str]] = {
    SETTINGS_SHEET: ("Settings", "설정"),
    ORDERS_SHEET: ("Orders", "주문"),
    HISTORY_SHEET: ("History", "기록"),
    DASHBOARD_SHEET: ("Dashboard", "대시보드"),
}


def sheet_title(name: str, lang: Lang) -> str:
    en, ko = SHEET_TITLES[name]
    return en if lang == "en" else ko


@dataclass(frozen=True)
class DefinedName:
    name: str
    formula: str


def defined_names(settings_rows: dict[str, int]) -> tuple[DefinedName, ...]:
    """Names the template's formulas use, pointing at the Settings rows of the built sheet."""

    def at(key: str) -> str:
        return f"Settings!$C${settings_rows[key]}"

    return (
        DefinedName("BaseCurrency", at("base_currency")),
        DefinedName("BandAbs", at("settings.band.absolute")),
        DefinedName("BandRel", at("settings.band.relative")),
        DefinedName("CashTarget", at("targets.CASH")),
        DefinedName("TotalValue", "SUM(Holdings!$K:$K)+SUM(Cash!$D:$D)"),
    )


@dataclass(frozen=True)
class Layout:
    """Where things landed in one built workbook (rows of settings, table extents)."""

    settings_rows: dict[str, int] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Other names users' own sheets and brokers' exports give the same columns. The workbook
# reader and the worksheet functions' range reader both match headers through these.

EXTRA_HEADERS: dict[str, dict[str, tuple[str, ...]]] = {
    "Holdings": {
        "account": ("acct", "account id", "계좌명", "계좌번호", "계정"),
        "ticker": (
            "symbol", "code", "ticker symbol", "코드", "티커", "종목번호", "단축코드",
        ),
        "name": ("security", "종목", "이름", "종목 이름"),
        "quantity": ("qty", "shares", "units", "보유수량", "주식수", "잔고수량"),
        "price": ("last", "last price", "현재가", "주가", "종가", "시세"),
        "currency": ("ccy", "거래통화"),
        "market": ("exchange", "거래소"),
        "kind": ("type", "asset type", "종류", "자산유형"),
        "locked": ("lock", "hold", "잠금"),
        "target": ("target weight", "weight target", "target %", "목표"),
        "average_cost": ("avg cost", "cost", "평균단가", "매입가", "매입단가"),
    },
    "Cash": {
        "account": ("acct", "account id", "계좌명", "계좌번호", "계정"),
        "currency": ("ccy", "거래통화"),
        "amount": ("cash", "balance", "현금", "예수금", "잔액"),
    },
    "Settings": {
        "label": ("name", "항목"),
        "value": ("설정값",),
    },
}  # fmt: skip
"""Extra header names per sheet and column key (English and Korean)."""


# --------------------------------------------------------------------------------------------
# Words the tool writes into cells (not headers): English and Korean, by the workbook's language.

VALUE_LABELS: dict[str, tuple[str, str]] = {
    "BUY": ("BUY", "매수"),
    "SELL": ("SELL", "매도"),
    "optimal": ("optimal", "최적"),
    "time_limit": ("time_limit", "시간 한도"),
    "heuristic": ("heuristic", "근사해"),
    "refresh": ("refresh", "새로 고침"),
    "snapshot": ("snapshot", "스냅샷"),
}


def value_label(value: str, lang: Lang) -> str:
    """``BUY`` -> ``매수`` on a Korean workbook; unknown words and English pass through."""
    en, ko = VALUE_LABELS.get(value, (value, value))
    return en if lang == "en" else ko


DASHBOARD_TICKER_COLUMN = 20
"""Dashboard column T: the weight-per-ticker table the weight chart plots (T ticker, U weight,
V target), one row per distinct Holdings ticker, summed over accounts by formulas."""
DASHBOARD_INDEX_COLUMN = 26
"""Dashboard column Z (hidden): numbers each Holdings row whose ticker appears there first."""
DASHBOARD_TICKER_SLOTS = 30
"""Rows of the per-ticker table when the workbook starts empty."""
