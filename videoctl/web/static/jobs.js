// The jobs page without reloading: every second, the live part is fetched again, rendered by the
// server from the same template as the page, and swapped in (a chunk table left open as it was). A
// failed fetch is shown and tried again.
(function () {
  "use strict";
  const live = document.getElementById("live");
  const note = document.getElementById("live-note");
  if (!live) return;
  const state = window.videoctlJobs = {updates: 0, failures: 0};
  const refresh = () => {
    if (document.hidden) return;
    fetch(live.dataset.src, {credentials: "same-origin", cache: "no-store"})
      .then((response) => {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then((html) => {
        // A chunk table someone opened stays open: the new rows arrive closed.
        const open = Array.from(live.querySelectorAll("details.chunk-details[open]"), (d) => d.dataset.jobId);
        live.innerHTML = html;
        open.forEach((id) => {
          const details = live.querySelector(`details.chunk-details[data-job-id="${CSS.escape(id)}"]`);
          if (details) details.open = true;
        });
        state.updates += 1;
        note.textContent = "live · updated " + new Date().toLocaleTimeString();
      })
      .catch((error) => {
        state.failures += 1;
        note.textContent = "live updates paused (" + error.message + "); retrying";
      });
  };
  setInterval(refresh, 1000);
})();
