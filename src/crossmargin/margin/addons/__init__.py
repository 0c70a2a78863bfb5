"""Add-ons of the risk models beyond the grid: correlation breakdown, liquidity, wrong-way collateral.

Each add-on is a function returning :class:`~crossmargin.margin.result.AddOnRows` (and the
amounts per group or account) that a model adds to its requirement; the configuration section
``margin_addons`` lists, per add-on, the models that apply it.
"""
