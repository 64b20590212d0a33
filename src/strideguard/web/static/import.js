// Import pages: live progress of a job (poll its JSON every second, reload for the final summary when it
// ends), and the upload form's time zone.
"use strict";
(function () {
  window.StrideGuard = window.StrideGuard || {};
  window.StrideGuard.importProgress = function (el) {
    var job = el.getAttribute("data-job");
    if (el.getAttribute("data-status") === "finished" || el.getAttribute("data-status") === "failed") { return; }
    function set(id, value) { var node = document.getElementById(id); if (node) { node.textContent = value; } }
    function poll() {
      fetch("/api/import-jobs/" + encodeURIComponent(job), { headers: { "Accept": "application/json" }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
        .then(function (s) {
          set("job-status", s.status); set("job-done", s.done); set("job-total", s.total);
          set("job-rate", s.rate_per_s); set("job-imported", s.imported); set("job-duplicates", s.duplicates);
          set("job-failed", s.failed);
          var bar = document.getElementById("job-progress");
          // Until the archive has been scanned the total is unknown: say so, and leave the bar indeterminate.
          var counting = document.getElementById("job-counting"), counts = document.getElementById("job-counts");
          if (counting && counts) { counting.hidden = s.total > 0; counts.hidden = !(s.total > 0); }
          if (bar) {
            bar.max = Math.max(1, s.total);
            if (s.total > 0) { bar.value = s.done; } else { bar.removeAttribute("value"); }
            bar.textContent = s.done + " of " + s.total;
          }
          var list = document.getElementById("job-errors");
          if (list) {
            list.textContent = "";
            s.recent_errors.forEach(function (e) { var li = document.createElement("li"); li.textContent = e.file + ": " + e.reason; list.appendChild(li); });
          }
          if (s.status === "finished" || s.status === "failed") { window.location.reload(); }
          else { window.setTimeout(poll, 1000); }
        })
        .catch(function () { window.setTimeout(poll, 3000); });
    }
    window.setTimeout(poll, 500);
  };
  // The upload form's start time is wall-clock time: send the browser's time zone with it (without it, the
  // server's zone is used).
  window.StrideGuard.uploadZone = function (form) {
    var zone = form.querySelector('input[name="start_zone"]');
    try {
      if (zone) { zone.value = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; }
    } catch (e) { /* an old browser: the server's zone */ }
  };
})();
