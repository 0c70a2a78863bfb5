"""Venue methodology presets: each venue's margin method as a named margin model.

Every preset is built from the engine's parts — the resolved book, the blocked Black-76
kernel, risk arrays per unique contract aggregated by sparse products, and
:class:`~crossmargin.margin.MarginBatch` with add-on rows — plus the few rules that are truly
venue-specific. Parameters are data (pydantic models holding the published defaults,
overridable under ``presets.<name>`` in the risk configuration). ``crossmargin presets`` lists
them with their sources, what each covers and what the venue has not published.
"""

from crossmargin.margin.presets._common import (
    PresetInfo,
    available_presets,
    preset_info,
    preset_params,
)

__all__ = ["PresetInfo", "available_presets", "preset_info", "preset_params"]
