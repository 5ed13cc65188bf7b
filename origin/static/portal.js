/* classcast portal: TV remote navigation, local times, live timetable refresh, the player.
   Plain ES2017, no build step, no requests outside the page's own origin. */
(function () {
  "use strict";

  var REFRESH_MIN_MS = 5000;
  var REFRESH_MAX_MS = 60000; // the timetable on screen is never more than a minute old
  var RETRY_MIN_MS = 2000;
  var RETRY_MAX_MS = 30000;
  var BACK_KEYS = ["Escape", "Backspace", "BrowserBack", "GoBack"];
  var BACK_KEY_CODES = [461, 10009]; // the Back button of common TV platforms

  function $(selector, root) { return (root || document).querySelector(selector); }
  function all(selector, root) { return Array.prototype.slice.call((root || document).querySelectorAll(selector)); }

  /* ---- times in the viewer's own time zone ---- */
  function localTimes(root) {
    all("time[datetime]", root).forEach(function (node) {
      var when = new Date(node.getAttribute("datetime"));
      if (isNaN(when)) return;
      var format = { hour: "2-digit", minute: "2-digit" };
      if (when.getSeconds()) format.second = "2-digit"; // short sample lessons end mid-minute
      node.textContent = when.toLocaleTimeString([], format);
    });
  }

  function timeHtml(iso) {
    var node = document.createElement("time");
    node.setAttribute("datetime", iso);
    node.textContent = iso.slice(11, 19) + " UTC";
    localTimes({ querySelectorAll: function () { return [node]; } });
    return node.outerHTML;
  }

  /* ---- arrow-key (remote control) navigation between links and buttons ---- */
  function focusables() {
    return all("a[href], button:not([disabled])").filter(function (node) {
      return !node.hidden && node.getClientRects().length > 0 && !node.classList.contains("skip");
    });
  }

  function centre(rect) { return { x: rect.left + rect.width / 2, y: rect.top + rect.height / 2 }; }

  // The nearest control in the arrow's direction; distance across the direction counts double.
  function nearest(from, direction, candidates) {
    var a = centre(from.getBoundingClientRect());
    var best = null, bestScore = Infinity;
    candidates.forEach(function (node) {
      if (node === from) return;
      var b = centre(node.getBoundingClientRect());
      var dx = b.x - a.x, dy = b.y - a.y;
      var along = { ArrowRight: dx, ArrowLeft: -dx, ArrowDown: dy, ArrowUp: -dy }[direction];
      var across = direction === "ArrowRight" || direction === "ArrowLeft" ? Math.abs(dy) : Math.abs(dx);
      if (along <= 1) return;
      var score = along + 2 * across;
      if (score < bestScore) { best = node; bestScore = score; }
    });
    return best;
  }

  function onKey(event) {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    var back = $("[data-back]");
    if (back && document.body.classList.contains("watch") &&
        (BACK_KEYS.indexOf(event.key) >= 0 || BACK_KEY_CODES.indexOf(event.keyCode) >= 0)) {
      event.preventDefault();
      location.href = back.href;
      return;
    }
    if (["ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight"].indexOf(event.key) < 0) return;
    var items = focusables();
    if (!items.length) return;
    var current = document.activeElement;
    var target = items.indexOf(current) < 0 ? items[0] : nearest(current, event.key, items);
    if (target) {
      event.preventDefault();
      target.focus();
    }
  }

  /* ---- the live timetable: refreshed from the catalog when a lesson ends ---- */
  function nextRefresh(channels) {
    var soonest = Date.now() + REFRESH_MAX_MS;
    channels.forEach(function (channel) {
      var ends = channel.now_playing ? Date.parse(channel.now_playing.end) : Date.parse(channel.next.start);
      if (ends < soonest) soonest = ends;
    });
    return Math.min(REFRESH_MAX_MS, Math.max(REFRESH_MIN_MS, soonest - Date.now() + 1000));
  }

  function showTimetable(channels) {
    channels.forEach(function (channel) {
      var now = channel.now_playing;
      all('[data-channel="' + channel.id + '"]').forEach(function (node) {
        text(node, "[data-now]", now ? now.title : "Not started");
        html(node, "[data-now-times]", now ? timeHtml(now.start) + "&ndash;" + timeHtml(now.end) : "");
        text(node, "[data-next]", channel.next.title);
        html(node, "[data-next-time]", timeHtml(channel.next.start));
      });
      var player = $("#player");
      if (player && player.dataset.kind === "live" && player.dataset.id === channel.id && now) {
        text(document, "[data-title]", now.title);
      }
    });
  }

  function text(root, selector, value) { var node = $(selector, root); if (node) node.textContent = value; }
  function html(root, selector, value) { var node = $(selector, root); if (node) node.innerHTML = value; }

  function refreshTimetable(url) {
    var again = function (delay) { setTimeout(function () { refreshTimetable(url); }, delay); };
    fetch(url, { headers: { Accept: "application/json" } })
      .then(function (answer) { if (!answer.ok) throw new Error(answer.status); return answer.json(); })
      .then(function (catalog) { showTimetable(catalog.channels); again(nextRefresh(catalog.channels)); })
      .catch(function () { again(REFRESH_MAX_MS / 2); });
  }

  /* ---- the player ---- */
  function Player(root) {
    this.root = root;
    this.video = $("#video");
    this.live = root.dataset.kind === "live";
    this.lowLatency = root.dataset.lowLatency === "true";
    this.behind = $("#behind");
    this.status = $("#status");
    this.alert = $("#alert");
    this.retryButton = $("#retry");
    this.source = absolute(root.dataset.src);
    this.quality = "auto";
    this.hls = null;
    this.retryDelay = RETRY_MIN_MS;
    this.retryTimer = null;
    this.engine = chooseEngine(this.video);
  }

  function absolute(path) { return new URL(path, location.href).href; }

  // Native HLS where the browser has it (Safari, TVs, recent Chromium), hls.js where it does not.
  // ?engine=hlsjs or ?engine=native forces one, for testing both paths on one browser.
  function chooseEngine(video) {
    var asked = new URLSearchParams(location.search).get("engine");
    if (asked === "hlsjs" || asked === "native") return asked;
    return video.canPlayType("application/vnd.apple.mpegurl") ? "native" : "hlsjs";
  }

  Player.prototype.start = function () {
    var self = this, video = this.video;
    video.addEventListener("playing", function () { self.onPlaying(); });
    video.addEventListener("pause", function () { self.showPlayState(); });
    video.addEventListener("volumechange", function () { self.showSound(); });
    video.addEventListener("waiting", function () { self.say("Buffering…"); });
    video.addEventListener("error", function () {
      if (self.engine === "native") self.fail("the video could not be loaded" + mediaError(video));
    });
    $("#play").addEventListener("click", function () { video.paused ? self.play() : video.pause(); });
    $("#mute").addEventListener("click", function () { video.muted = !video.muted; });
    $("#fullscreen").addEventListener("click", function () { self.fullscreen(); });
    this.retryButton.addEventListener("click", function () { self.reload(); });
    all("[data-seek]").forEach(function (button) {
      button.addEventListener("click", function () {
        video.currentTime = Math.max(0, video.currentTime + Number(button.dataset.seek));
      });
    });
    all("[data-quality]").forEach(function (button) {
      button.addEventListener("click", function () { self.choose(button); });
    });
    this.showSound();
    this.load();
  };

  Player.prototype.say = function (message) { this.status.textContent = message; };

  Player.prototype.load = function () {
    var self = this;
    if (this.engine === "native") return this.loadNative(this.currentSource(), 0);
    if (window.Hls) return this.loadHlsJs();
    var script = document.createElement("script");
    script.src = this.root.dataset.hls;
    script.onload = function () { self.loadHlsJs(); };
    script.onerror = function () { self.fail("the HLS player (hls.js) could not be loaded", true); };
    document.head.appendChild(script);
  };

  Player.prototype.currentSource = function () {
    var chosen = $('[data-quality][aria-pressed="true"]');
    return chosen ? absolute(chosen.dataset.src) : this.source;
  };

  Player.prototype.loadNative = function (url, position) {
    var video = this.video, self = this;
    if (position > 0 && !this.live) {
      video.addEventListener("loadedmetadata", function seek() {
        video.removeEventListener("loadedmetadata", seek);
        video.currentTime = position;
      });
    }
    video.src = url;
    this.root.dataset.engine = "native";
    this.root.dataset.playing = this.quality;
    self.play();
  };

  Player.prototype.loadHlsJs = function () {
    var Hls = window.Hls, self = this, video = this.video;
    if (!Hls || !Hls.isSupported()) {
      if (video.canPlayType("application/vnd.apple.mpegurl")) { this.engine = "native"; return this.load(); }
      return this.fail("this browser cannot play HLS video", true);
    }
    // LL-HLS channels: parts, blocking reloads and PART-HOLD-BACK (hls.js lowLatencyMode).
    // CMCD (CTA-5004) in the query, so no CORS preflight: the edge counts this viewer per
    // channel or lesson and sees its buffer, bitrate and stalls (issue 19)
    var contentId = this.root.dataset.kind + "/" + this.root.dataset.id;
    var hls = new Hls({
      startPosition: this.live ? -1 : 0,
      lowLatencyMode: this.lowLatency,
      cmcd: { contentId: contentId, useHeaders: false }
    });
    this.hls = hls;
    if (this.live) this.showBehind(hls);
    this.root.dataset.engine = "hlsjs";
    hls.on(Hls.Events.MANIFEST_PARSED, function () { self.applyLevel(); self.play(); });
    hls.on(Hls.Events.LEVEL_SWITCHED, function (_, data) {
      var level = hls.levels[data.level];
      self.root.dataset.playing = level ? levelName(level) : "";
    });
    hls.on(Hls.Events.ERROR, function (_, data) {
      if (!data.fatal) return;
      if (data.type === Hls.ErrorTypes.MEDIA_ERROR && !self.recovered) {
        self.recovered = true; // one in-place recovery (hls.js's own advice), then start over
        hls.recoverMediaError();
        return;
      }
      var what = data.type === Hls.ErrorTypes.NETWORK_ERROR ? "the video server did not answer"
        : data.type === Hls.ErrorTypes.MEDIA_ERROR ? "the video could not be decoded" : "the player stopped";
      self.fail(what + " (" + data.details + ")");
    });
    hls.loadSource(this.source);
    hls.attachMedia(video);
  };

  // How far behind live the viewer is: hls.js's latency (wall clock minus the program date-time
  // of the playhead), shown once a second.
  Player.prototype.showBehind = function (hls) {
    var behind = this.behind;
    if (!behind) return;
    setInterval(function () {
      var seconds = hls.latency;
      if (!isFinite(seconds) || seconds <= 0) return;
      behind.hidden = false;
      behind.dataset.seconds = seconds.toFixed(2);
      behind.textContent = seconds.toFixed(1) + " s behind live";
    }, 1000);
  };

  function levelName(level) {
    var url = Array.isArray(level.url) ? level.url[0] : level.url;
    var parts = String(url).split("?")[0].split("/");
    return parts.length > 1 ? parts[parts.length - 2] : String(level.height) + "p";
  }

  Player.prototype.applyLevel = function () {
    var hls = this.hls, wanted = this.quality;
    if (!hls) return;
    if (wanted === "auto") { hls.currentLevel = -1; return; }
    var index = hls.levels.findIndex(function (level) { return levelName(level) === wanted; });
    hls.currentLevel = index; // switches now, dropping the buffered other quality
  };

  Player.prototype.choose = function (button) {
    all("[data-quality]").forEach(function (other) {
      other.setAttribute("aria-pressed", String(other === button));
    });
    this.quality = button.dataset.quality;
    this.say("Quality: " + (this.quality === "auto" ? "automatic" : this.quality));
    if (this.hls) return this.applyLevel();
    // Native HLS picks its own variant from the master playlist: a fixed quality means
    // playing that rendition's own playlist instead, from where we are.
    var position = this.live ? 0 : this.video.currentTime;
    this.loadNative(absolute(button.dataset.src), position);
  };

  Player.prototype.play = function () {
    var self = this, video = this.video;
    var attempt = video.play();
    if (!attempt || !attempt.catch) return;
    attempt.catch(function (error) {
      if (error.name !== "NotAllowedError" || video.muted) return;
      // Autoplay with sound was refused (no gesture yet): play muted, offer the sound button.
      video.muted = true;
      video.play().catch(function () { self.say("Press Play to start."); });
      $("#mute").focus();
    });
  };

  Player.prototype.onPlaying = function () {
    this.retryDelay = RETRY_MIN_MS;
    this.recovered = false;
    this.alert.hidden = true;
    this.retryButton.hidden = true;
    this.say(this.live ? "Playing live" : "Playing");
    this.showPlayState();
  };

  Player.prototype.showPlayState = function () {
    $("#play").textContent = this.video.paused ? "Play" : "Pause";
    if (this.video.paused && this.alert.hidden) this.say("Paused");
  };

  Player.prototype.showSound = function () {
    var mute = $("#mute");
    mute.textContent = this.video.muted ? "Sound off: turn on" : "Sound on";
    mute.setAttribute("aria-pressed", String(this.video.muted));
  };

  Player.prototype.fullscreen = function () {
    var stage = $(".stage");
    if (document.fullscreenElement) document.exitFullscreen();
    else if (stage.requestFullscreen) stage.requestFullscreen().catch(function () {});
  };

  // A failure is said in words; a live channel retries by itself with a growing delay.
  Player.prototype.fail = function (reason, final) {
    var self = this;
    if (this.retryTimer) return;
    var seconds = Math.round(this.retryDelay / 1000);
    var retrying = this.live && !final;
    this.alert.textContent = "The lesson cannot play right now: " + reason + "." +
      (retrying ? " Trying again in " + seconds + " s…" : " Check the connection and try again.");
    this.alert.hidden = false;
    this.retryButton.hidden = false;
    this.say(retrying ? "Reconnecting…" : "Stopped");
    if (!retrying) return;
    this.retryTimer = setTimeout(function () { self.reload(); }, this.retryDelay);
    this.retryDelay = Math.min(RETRY_MAX_MS, this.retryDelay * 2);
  };

  Player.prototype.reload = function () {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.retryButton.hidden = true;
    if (this.hls) { this.hls.destroy(); this.hls = null; }
    this.say("Connecting…");
    this.load();
  };

  function mediaError(video) {
    return video.error && video.error.message ? " (" + video.error.message + ")" : "";
  }

  /* ---- start ---- */
  function start() {
    localTimes(document);
    document.addEventListener("keydown", onKey);
    var refresh = $("[data-refresh]");
    if (refresh && (document.body.classList.contains("portal") || refresh.dataset.kind === "live")) {
      setTimeout(function () { refreshTimetable(refresh.dataset.refresh); }, REFRESH_MIN_MS);
    }
    var root = $("#player");
    if (root) {
      window.classcastPlayer = new Player(root);
      window.classcastPlayer.start();
      $("#play").focus();
    } else {
      var first = $(".card") || focusables()[0];
      if (first && document.activeElement === document.body) first.focus();
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
