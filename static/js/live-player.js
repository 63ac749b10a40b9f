// Plays the room's stream: natively where the browser speaks HLS (Safari, iOS, some
// Chromium builds), through hls.js over Media Source Extensions elsewhere, and as a plain
// file when the merchant pasted something that is not an HLS playlist.
(function () {
  "use strict";
  const video = document.querySelector("video[data-playback-url]");
  if (!video) return;
  const url = video.dataset.playbackUrl;
  const isPlaylist = /\.m3u8(\?|#|$)/i.test(url);
  if (!isPlaylist || video.canPlayType("application/vnd.apple.mpegurl")) {
    video.dataset.player = isPlaylist ? "native" : "file";
    video.src = url;
    return;
  }
  if (!(window.Hls && window.Hls.isSupported())) {
    video.dataset.player = "unsupported";
    video.src = url;
    return;
  }
  video.dataset.player = "hls.js";
  // A live show: start near the live edge and keep retrying a stalled network instead of
  // giving up, so a brief encoder or CDN hiccup does not leave a black player.
  const hls = new window.Hls({ lowLatencyMode: true, liveDurationInfinity: true });
  hls.on(window.Hls.Events.ERROR, (_event, data) => {
    if (!data.fatal) return;
    if (data.type === window.Hls.ErrorTypes.NETWORK_ERROR) {
      setTimeout(() => hls.startLoad(), 3000);
    } else if (data.type === window.Hls.ErrorTypes.MEDIA_ERROR) {
      hls.recoverMediaError();
    } else {
      video.dataset.player = "failed";
      hls.destroy();
    }
  });
  hls.loadSource(url);
  hls.attachMedia(video);
})();
