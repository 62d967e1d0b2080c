"""The xlwings add-in's *Run main* button for this workbook (no VBA of the workbook needed).

*Run main* on the xlwings tab runs ``main()`` from the Python file named after the workbook,
next to it (``rebalance.py`` beside ``rebalance.xlsm``). It does the full refresh the Rebalance
tab's buttons do one at a time, through the same code: prices, Orders and a History row.
Written by ``xlrebalance workbook new``/``build``; rename it with the workbook.
"""

from xlrebalance.macros import refresh_caller


def main() -> None:
    refresh_caller()
