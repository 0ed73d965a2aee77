// Keeps a page's live part current: the server pushes each feed message as a server-sent
// event; the page then fetches its part anew, rendered by the server (at most every 150 ms).
// After a lost connection the browser reconnects by itself and the page fetches its whole
// part again: the server's own state comes from the feed's snapshot service.
(function () {
  "use strict";
  var box = document.getElementById("live");
  if (!box || !window.EventSource || !window.fetch) { return; }
  var symbol = box.getAttribute("data-symbol");
  var url = box.getAttribute("data-fragment");
  var waiting = false, last = 0;
  function refresh() {
    waiting = false;
    last = Date.now();
    fetch(url, {cache: "no-store"}).then(function (r) { return r.ok ? r.text() : null; }).then(function (html) {
      if (html !== null) {
        box.innerHTML = html;
        box.setAttribute("data-updated", String(Date.now()));
      }
    }).catch(function () { document.body.classList.add("stale"); });
  }
  function soon() {
    if (waiting) { return; }
    waiting = true;
    setTimeout(refresh, Math.max(0, 150 - (Date.now() - last)));
  }
  var events = new EventSource("/events" + (symbol ? "?symbol=" + encodeURIComponent(symbol) : ""));
  events.onopen = function () { document.body.classList.remove("stale"); soon(); };
  events.onerror = function () { document.body.classList.add("stale"); };
  events.onmessage = function () { soon(); };
}());
