// Live progress of a running run: replace the counts table with a fresh copy every second
// until the run has ended. The page works without it (reload shows the same counts).
(function () {
  "use strict";
  var box = document.getElementById("progress");
  if (!box) { return; }
  var src = box.getAttribute("data-src");
  function ended() {
    var inner = box.querySelector(".progress");
    return inner !== null && inner.getAttribute("data-ended") === "true";
  }
  // Once the run has ended, the rest of the page (its state, the cancel button, the
  // timelines) is out of date: drop the button and offer the fresh page.
  function finished() {
    var cancel = document.querySelector("form.cancel");
    if (cancel) { cancel.remove(); }
    var note = document.createElement("p");
    note.className = "alert";
    note.setAttribute("role", "status");
    note.innerHTML = 'The run has ended. <a href="">Reload</a> for its timelines.';
    box.parentNode.insertBefore(note, box);
  }
  function tick() {
    if (ended()) { return; }
    fetch(src, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        box.innerHTML = html;
        if (ended()) { finished(); }
      })
      .catch(function () { /* a missed poll is retried at the next tick */ })
      .finally(function () { window.setTimeout(tick, 1000); });
  }
  window.setTimeout(tick, 1000);
})();
