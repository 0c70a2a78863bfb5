"""Account health (equity, IM, MM, status) and its reports."""

from crossmargin.account.health import STATUSES, AccountResults, assess
from crossmargin.account.report import SUMMARY_FIELDS, account_dict, position_rows, summary_table

__all__ = [
    "STATUSES",
    "SUMMARY_FIELDS",
    "AccountResults",
    "account_dict",
    "assess",
    "position_rows",
    "summary_table",
]
