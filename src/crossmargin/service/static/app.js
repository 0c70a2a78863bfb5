// crossmargin risk dashboard: the little the page needs beyond htmx.
// * marks new events and measures tick → screen latency (the event's data-origin-ms is when the
//   tick reached the server, on the server's clock: meaningful when browser and server share one);
// * shows whether the live stream is connected;
// * keeps the event list bounded.
(function () {
  "use strict";
  var samples = [];
  var shown = null; // the client latency text (the summary is re-rendered on every refresh)
  function show() {
    var el = document.getElementById("client-latency");
    if (el && shown !== null) el.textContent = shown;
  }
  function record(ms) {
    samples.push(ms);
    if (samples.length > 500) samples.shift();
    var sorted = samples.slice().sort(function (a, b) { return a - b; });
    var p50 = sorted[Math.floor(0.5 * (sorted.length - 1))];
    shown = "p50 " + p50.toFixed(0) + " ms (last " + ms.toFixed(0) + ")";
    show();
  }
  document.addEventListener("htmx:afterSwap", show);
  document.addEventListener("htmx:sseMessage", function (evt) {
    var feed = document.getElementById("feed");
    if (!feed || (evt.detail && evt.detail.type !== "feed")) return;
    var now = Date.now();
    feed.querySelectorAll("li.event:not(.seen)").forEach(function (li) {
      li.classList.add("seen", "fresh");
      var origin = Number(li.getAttribute("data-origin-ms"));
      if (origin > 0) record(Math.max(0, now - origin));
    });
    var items = feed.querySelectorAll("li.event");
    for (var i = 400; i < items.length; i++) items[i].remove();
  });
  function state(text, down) {
    var el = document.getElementById("stream-state");
    if (!el) return;
    el.textContent = text;
    el.classList.toggle("down", !!down);
  }
  document.addEventListener("htmx:sseOpen", function () { state("live", false); });
  document.addEventListener("htmx:sseError", function () { state("reconnecting…", true); });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("#feed li.event").forEach(function (li) { li.classList.add("seen"); });
  });
})();
