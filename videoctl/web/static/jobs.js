// The jobs page without reloading: every second, the live part is fetched again, rendered by the
// server from the same template as the page, and swapped in. A failed fetch is shown and tried again.
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
        live.innerHTML = html;
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
