// Plays the room's stream: natively where the browser speaks HLS (Safari, iOS, some
// Chromium builds), through hls.js over Media Source Extensions elsewhere, and as a plain
// file when the merchant pasted something that is not an HLS playlist.
// window.livePlayer.play(video) / .stop(video) let the room page start the player when the
// show goes live and stop it when it ends; hls.js is fetched only when it is needed.
(function () {
  "use strict";
  const hlsSource = document.currentScript && document.currentScript.dataset.hls;
  let hlsLoading = null;

  function loadHls() {
    if (window.Hls || !hlsSource) return Promise.resolve();
    if (!hlsLoading) {
      hlsLoading = new Promise((resolve) => {
        const tag = document.createElement("script");
        tag.src = hlsSource;
        tag.addEventListener("load", resolve);
        tag.addEventListener("error", resolve); // then the browser's own player is tried
        document.head.append(tag);
      });
    }
    return hlsLoading;
  }

  function attach(video, url) {
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
      if (!data.fatal || video.livePlayerHls !== hls) return;
      if (data.type === window.Hls.ErrorTypes.NETWORK_ERROR) {
        setTimeout(() => { if (video.livePlayerHls === hls) hls.startLoad(); }, 3000);
      } else if (data.type === window.Hls.ErrorTypes.MEDIA_ERROR) {
        hls.recoverMediaError();
      } else {
        video.dataset.player = "failed";
        stop(video);
      }
    });
    video.livePlayerHls = hls;
    hls.loadSource(url);
    hls.attachMedia(video);
  }

  function play(video) {
    const url = video.dataset.playbackUrl;
    const isPlaylist = /\.m3u8(\?|#|$)/i.test(url);
    if (!isPlaylist || video.canPlayType("application/vnd.apple.mpegurl")) {
      video.dataset.player = isPlaylist ? "native" : "file";
      video.src = url;
      return;
    }
    video.dataset.player = "loading";
    loadHls().then(() => { if (video.isConnected) attach(video, url); });
  }

  function stop(video) {
    if (video.livePlayerHls) {
      video.livePlayerHls.destroy();
      video.livePlayerHls = null;
    }
    video.pause();
    video.removeAttribute("src");
    video.load();
  }

  window.livePlayer = { play, stop };
  const video = document.querySelector("video[data-playback-url]");
  if (video) play(video);
})();
