"""The Excel workbook: schema, openpyxl reader/writer, package fix-ups and the build of
``rebalance.xlsm``. Modules that need openpyxl import it themselves, so the CLI's core works
without the ``workbook`` extra installed."""
