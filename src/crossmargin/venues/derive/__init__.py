"""Derive PMRM_2 test cases: read, compare with the expected values, translate, report."""
