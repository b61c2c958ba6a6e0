// The video page's player: hls.js where the browser has Media Source Extensions, else the
// browser's own HLS (Safari); storyboard previews over the scrub bar; the caption buttons.
// Everything a browser test asserts on is in window.videoctlPlayer.
(function () {
  "use strict";
  const video = document.getElementById("player");
  if (!video) return;
  const state = window.videoctlPlayer = {engine: null, ready: false, fatal: [], cues: [], sprites: {}};
  const note = document.getElementById("player-note");
  const say = (text) => { note.textContent = text; note.hidden = false; };
  const source = video.dataset.src;
  let hls = null;

  if (window.Hls && Hls.isSupported()) {
    hls = state.hls = new Hls({enableWorker: true});
    state.engine = "hls.js";
    hls.on(Hls.Events.MANIFEST_PARSED, () => { state.ready = true; });
    hls.on(Hls.Events.ERROR, (_, data) => {
      if (!data.fatal) return;
      state.fatal.push(data.details);
      if (data.type === Hls.ErrorTypes.MEDIA_ERROR) { hls.recoverMediaError(); return; }
      say("The video could not be loaded (" + data.details + "); reload the page to try again.");
    });
    hls.loadSource(source);
    hls.attachMedia(video);
  } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
    state.engine = "native";
    video.src = source;
    video.addEventListener("loadedmetadata", () => { state.ready = true; });
  } else {
    say("This browser plays neither HLS nor Media Source Extensions; download the MP4 instead.");
    return;
  }

  // ------------------------------------------------------------ captions
  const choice = document.getElementById("captions");
  if (choice) {
    choice.hidden = false;
    choice.addEventListener("click", (event) => {
      const button = event.target.closest("button");
      if (!button) return;
      const lang = button.dataset.lang;
      for (const other of choice.querySelectorAll("button")) other.setAttribute("aria-pressed", String(other === button));
      if (hls) {
        hls.subtitleDisplay = lang !== "";
        hls.subtitleTrack = lang === "" ? -1 : hls.subtitleTracks.findIndex((t) => t.lang === lang);
      } else {
        for (const track of video.textTracks) track.mode = track.language === lang ? "showing" : "disabled";
      }
    });
  }

  // ------------------------------------------------------------ scrub bar and storyboard
  const scrub = document.getElementById("scrub");
  const fill = document.getElementById("scrub-fill");
  const preview = document.getElementById("preview");
  const tile = document.getElementById("tile");
  const previewTime = document.getElementById("preview-time");
  const duration = () => (isFinite(video.duration) && video.duration > 0 ? video.duration : Number(video.dataset.duration) || 0);
  scrub.hidden = false;

  const clock = (t) => {
    const s = Math.max(0, Math.round(t));
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  };
  const at = (event) => {
    const box = scrub.getBoundingClientRect();
    return Math.min(Math.max((event.clientX - box.left) / box.width, 0), 1) * duration();
  };
  video.addEventListener("timeupdate", () => {
    const total = duration();
    fill.style.width = total ? (100 * video.currentTime / total) + "%" : "0";
  });
  scrub.addEventListener("click", (event) => { video.currentTime = at(event); });
  scrub.addEventListener("mousemove", (event) => {
    const t = at(event);
    const cue = state.cues.find((c) => c.start <= t && t < c.end) || state.cues[state.cues.length - 1];
    previewTime.textContent = clock(t);
    if (cue) {
      tile.style.backgroundImage = "url(\"" + cue.image + "\")";
      tile.style.backgroundPosition = (-cue.x) + "px " + (-cue.y) + "px";
      tile.style.width = cue.w + "px";
      tile.style.height = cue.h + "px";
      tile.dataset.cue = cue.start + "-" + cue.end;
    }
    const box = scrub.getBoundingClientRect();
    const half = (cue ? cue.w : 60) / 2;
    preview.style.left = Math.min(Math.max(event.clientX - box.left - half, 0), Math.max(box.width - 2 * half, 0)) + "px";
    preview.hidden = false;
  });
  scrub.addEventListener("mouseleave", () => { preview.hidden = true; });

  // storyboard.vtt: one cue per tile, "storyboard.jpg#xywh=x,y,w,h" relative to the VTT.
  const seconds = (text) => text.trim().split(":").reduce((total, part) => total * 60 + Number(part), 0);
  const storyboard = video.dataset.storyboard;
  if (storyboard) {
    fetch(storyboard, {credentials: "same-origin"})
      .then((response) => { if (!response.ok) throw new Error(response.status); return response.text(); })
      .then((text) => {
        const base = new URL(storyboard, location.href);
        for (const block of text.replace(/\r/g, "").split(/\n\n+/)) {
          const lines = block.split("\n");
          const timing = lines.findIndex((line) => line.includes("-->"));
          if (timing < 0 || !lines[timing + 1]) continue;
          const [from, to] = lines[timing].split("-->");
          const [file, fragment] = lines[timing + 1].trim().split("#xywh=");
          if (!fragment) continue;
          const [x, y, w, h] = fragment.split(",").map(Number);
          const image = new URL(file, base).href;
          state.cues.push({start: seconds(from), end: seconds(to.trim().split(/\s/)[0]), image, x, y, w, h});
          if (!(image in state.sprites)) {
            const sprite = new Image();
            state.sprites[image] = sprite;
            sprite.src = image;  // fetched now, so the first hover shows at once
          }
        }
      })
      .catch((error) => { state.storyboardError = String(error); });
  }
})();
