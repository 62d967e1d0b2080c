Attribute VB_Name = "RebalanceRibbon"
Option Explicit

' Ribbon callbacks of the "Rebalance" tab (templates/ribbon/customUI14.xml in the package).
' Each one hands a line of Python to the xlwings add-in; the work happens in xlrebalance.macros.
'
' This module must keep working when the project's reference to the xlwings add-in shows
' MISSING (add-in not installed, or installed under another name): it never names anything
' from the add-in (Application.Run looks RunPython up at run time), and every other name is
' qualified with its library (VBA., Excel., Office.), so compiling it never searches the
' reference list where the missing entry sits. Only the worksheet-function wrappers that
' xlwings' Import Functions writes (XLPy.CallUDF) need the reference itself.

Public Sub OnRefreshPrices(control As Office.IRibbonControl)
    RunPythonCode "import xlrebalance.macros as m; m.refresh_prices_caller()"
End Sub

Public Sub OnComputeOrders(control As Office.IRibbonControl)
    RunPythonCode "import xlrebalance.macros as m; m.compute_orders_caller()"
End Sub

Public Sub OnSnapshot(control As Office.IRibbonControl)
    RunPythonCode "import xlrebalance.macros as m; m.snapshot_caller()"
End Sub

Public Sub OnSync(control As Office.IRibbonControl)
    RunPythonCode "import xlrebalance.macros as m; m.sync_caller()"
End Sub

Public Sub OnBacktest(control As Office.IRibbonControl)
    ' Esc stops a backtest in Python (xlrebalance.backtest.stop watches the key); here it must
    ' not also interrupt this macro once RunPython returns. Excel resets it when the macro ends.
    Excel.Application.EnableCancelKey = 0 ' xlDisabled
    RunPythonCode "import xlrebalance.macros as m; m.backtest_caller()"
End Sub

Private Sub RunPythonCode(ByVal code As String)
    On Error GoTo NoAddin
    Excel.Application.Run "xlwings.xlam!RunPython", code
    Exit Sub
NoAddin:
    VBA.MsgBox "xlrebalance needs the xlwings add-in (in a terminal: xlwings addin install)." _
        & VBA.vbCrLf & VBA.vbCrLf & VBA.Err.Description, VBA.vbExclamation, "xlrebalance"
End Sub
