"""CME SPAN risk-parameter files (published risk arrays): read, margin, report."""
