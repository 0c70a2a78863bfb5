"""CME SPAN: risk-array arithmetic, risk-parameter files and the ``span`` margin model."""
