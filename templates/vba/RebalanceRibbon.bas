Attribute VB_Name = "RebalanceRibbon"
Option Explicit

' Ribbon callbacks of the "Rebalance" tab (templates/ribbon/customUI14.xml).
' Each one hands a line of Python to the xlwings add-in; the work happens in xlrebalance.macros.

Public Sub OnRefreshPrices(control As IRibbonControl)
    RunPythonCode "import xlrebalance.macros as m; m.refresh_prices_caller()"
End Sub

Public Sub OnComputeOrders(control As IRibbonControl)
    RunPythonCode "import xlrebalance.macros as m; m.compute_orders_caller()"
End Sub

Public Sub OnSnapshot(control As IRibbonControl)
    RunPythonCode "import xlrebalance.macros as m; m.snapshot_caller()"
End Sub

Public Sub OnSync(control As IRibbonControl)
    RunPythonCode "import xlrebalance.macros as m; m.sync_caller()"
End Sub

' Application.Run reaches the add-in's RunPython without a VBA reference to xlwings, so this
' project compiles even where the add-in is missing, and says so instead of failing to load.
Private Sub RunPythonCode(ByVal code As String)
    On Error GoTo NoAddin
    Application.Run "xlwings.xlam!RunPython", code
    Exit Sub
NoAddin:
    MsgBox "xlrebalance needs the xlwings add-in (in a terminal: xlwings addin install)." _
        & vbCrLf & vbCrLf & Err.Description, vbExclamation, "xlrebalance"
End Sub
