"""CME SPAN: risk-array arithmetic and the ``span`` margin model (risk-parameter files: crossmargin.venues.span)."""
