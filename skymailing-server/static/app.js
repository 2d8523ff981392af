// Live progress of a run: polls the run's figures once a second and moves the
// bar, without reloading. Without JavaScript the page shows the figures of
// when it was loaded, with a link to refresh.
(function () {
  "use strict";
  function poll(bar) {
    var src = bar.getAttribute("data-src");
    var percent = document.getElementById("run-percent");
    var counts = document.getElementById("run-counts");
    var activity = document.getElementById("run-activity");
    function tick() {
      fetch(src, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) {
          // Signed out (a redirect to sign-in) or gone: stop. A passing
          // failure (503): try again a little later.
          if (r.redirected || r.status === 401 || r.status === 403 || r.status === 404) { return null; }
          if (!r.ok) { setTimeout(tick, 3000); return null; }
          return r.json();
        })
        .then(function (p) {
          if (!p) { return; }
          bar.value = p.percent;
          bar.textContent = p.percent + "%";
          if (percent) { percent.textContent = String(p.percent); }
          if (counts) { counts.textContent = p.counts; }
          if (activity) { activity.textContent = p.activity; }
          if (!p.done) { setTimeout(tick, 1000); }
        })
        .catch(function () { setTimeout(tick, 3000); });
    }
    tick();
  }
  // The recipient picker's count of chosen clients follows the boxes.
  function countChosen(out) {
    var form = out.closest("form");
    function update() {
      out.textContent = String(form.querySelectorAll('input[name="client_ids"]:checked, input[type="hidden"][name="client_ids"]').length);
    }
    form.addEventListener("change", update);
  }
  document.addEventListener("DOMContentLoaded", function () {
    var bar = document.getElementById("run-progress");
    if (bar) { poll(bar); }
    // Destructive actions ask first.
    document.querySelectorAll("form[data-confirm]").forEach(function (f) {
      f.addEventListener("submit", function (e) {
        if (!window.confirm(f.getAttribute("data-confirm"))) { e.preventDefault(); }
      });
    });
    // The picker's Find redraws the form with the filter, saving nothing.
    var find = document.getElementById("pick-filter");
    if (find) {
      var filter = function () {
        var form = find.closest("form");
        var action = document.createElement("input");
        action.type = "hidden"; action.name = "action"; action.value = "filter";
        form.appendChild(action);
        form.submit();
      };
      find.hidden = false;
      find.addEventListener("click", filter);
      var q = document.getElementById("pick-q");
      if (q) {
        q.addEventListener("keydown", function (e) {
          if (e.key === "Enter") { e.preventDefault(); filter(); }
        });
      }
    }
    // A new account's zone: the browser's, when the list has it.
    var zone = document.querySelector("select[data-detect-zone]");
    if (zone && window.Intl) {
      var tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
      if (tz && zone.querySelector('option[value="' + tz.replace(/"/g, "") + '"]')) { zone.value = tz; }
    }
    var chosen = document.getElementById("pick-chosen");
    if (chosen) { countChosen(chosen); }
  });
})();
