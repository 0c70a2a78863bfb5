"""The live risk engine: inputs (ticks, trades, transfers, new accounts) in, events out.

* :mod:`crossmargin.live.updates` — the input records, validated at construction, and their
  JSON object form (``update_from_obj`` / ``update_to_obj``, the journal's format);
* :mod:`crossmargin.live.sequence` — per-feed sequence tracking (gaps, duplicates, reordering);
* :mod:`crossmargin.live.sources` — streaming readers of tick files (JSON Lines, Pyth records,
  a CSV of closes);
* :mod:`crossmargin.live.volproxy` — implied-vol proxies that move with replayed prices.
"""
