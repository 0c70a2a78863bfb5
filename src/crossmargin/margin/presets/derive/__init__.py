"""Derive (Lyra v2) PMRM_2: parameters, PMRM_2 core, book arrangement (test cases: crossmargin.venues.derive)."""
