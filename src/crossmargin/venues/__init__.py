"""Venues' own test cases run through crossmargin: our numbers beside the venue's.

Above the engine (it runs books through :mod:`crossmargin.engine`) and the file formats
(:mod:`crossmargin.io`): ``derive`` reads Derive's portfolio-case JSON, compares the PMRM_2
core with the file's expected values and translates a case into a portfolio, a snapshot and a
risk configuration; ``span`` margins a CME SPAN risk-parameter file with published risk arrays.
The margin methods themselves are presets under :mod:`crossmargin.margin.presets`.
"""
