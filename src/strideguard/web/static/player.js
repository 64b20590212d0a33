// Routine player: the same state machine as routines.PlayerState (tick, skip, pause) driven by a clock,
// with a beep (WebAudio) at each switch, the screen kept awake (Wake Lock API) while playing.
"use strict";
(function () {
  window.StrideGuard = window.StrideGuard || {};
  function fmt(seconds) {
    var whole = Math.max(0, Math.ceil(seconds));
    var h = Math.floor(whole / 3600), m = Math.floor((whole % 3600) / 60), s = whole % 60;
    var mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? h + ":" : "") + mm + ":" + String(s).padStart(2, "0");
  }
  window.StrideGuard.routinePlayer = function (root) {
    var id = root.getAttribute("data-routine");
    var state = { timeline: [], position: 0, elapsed: 0, paused: true, started: false };
    var last = null, timer = null, audio = null, wakeLock = null;
    var $ = function (sel) { return document.getElementById(sel); };
    function beep(freq, ms) {
      try {
        audio = audio || new (window.AudioContext || window.webkitAudioContext)();
        var osc = audio.createOscillator(), gain = audio.createGain();
        osc.frequency.value = freq; gain.gain.value = 0.2;
        osc.connect(gain); gain.connect(audio.destination);
        osc.start(); osc.stop(audio.currentTime + ms / 1000);
      } catch (e) { /* no audio: the visual switch and the announcement remain */ }
    }
    function keepAwake(on) {
      if (on && "wakeLock" in navigator && !wakeLock) {
        navigator.wakeLock.request("screen").then(function (lock) {
          wakeLock = lock; $("wake-status").textContent = "Screen kept awake while the routine plays.";
          lock.addEventListener("release", function () { wakeLock = null; });
        }).catch(function () { $("wake-status").textContent = "Could not keep the screen awake."; });
      } else if (!on && wakeLock) { wakeLock.release(); wakeLock = null; $("wake-status").textContent = ""; }
    }
    function render() {
      var total = state.timeline.length;
      var done = state.position >= total;
      var step = done ? null : state.timeline[state.position];
      $("step-count").textContent = done ? "Finished" : "Step " + (state.position + 1) + " of " + total;
      $("step-name").textContent = done ? "Well done" : step.name;
      $("step-side").textContent = step && step.side ? step.side + " side" : "";
      $("countdown").textContent = done ? "0:00" : fmt(step.duration_s - state.elapsed);
      $("step-instruction").textContent = done ? "Routine complete." : step.instruction || "";
      var end = total ? state.timeline[total - 1].start_s + state.timeline[total - 1].duration_s : 0;
      var elapsed = done ? end : step.start_s + state.elapsed;
      $("routine-progress").value = end ? Math.min(1, elapsed / end) : 1;
      $("btn-pause").textContent = state.paused && state.started && !done ? "Resume" : "Pause";
      $("btn-pause").disabled = !state.started || done;
      $("btn-skip").disabled = !state.started || done;
      $("btn-start").disabled = state.started && !done;
      $("btn-start").textContent = done ? "Start again" : "Start";
      document.querySelectorAll("#steps li").forEach(function (li) {
        li.classList.toggle("current", Number(li.getAttribute("data-position")) === state.position);
      });
      keepFocus();
      root.setAttribute("data-position", String(state.position));
      root.setAttribute("data-state", done ? "done" : state.paused ? "paused" : "playing");
    }
    // A button that becomes disabled while focused drops keyboard focus to <body>: move it to the control
    // that makes sense now (Pause while playing, Start when finished).
    function keepFocus() {
      var active = document.activeElement;
      if (!active || !active.disabled || !root.contains(active)) { return; }
      var next = ["btn-pause", "btn-start", "btn-skip"].map($).filter(function (b) { return !b.disabled; })[0];
      if (next) { next.focus(); }
    }
    function announce(events) {
      if (!events.length) { return; }
      var done = events[events.length - 1] === "done";
      beep(done ? 660 : 880, done ? 600 : 250);
      var step = state.timeline[state.position];
      $("announce").textContent = done ? "Routine complete" : "Next: " + step.name + (step.side ? ", " + step.side + " side" : "");
      if (done) { stop(); }
    }
    function tick(dt) {  // PlayerState.tick
      if (state.paused || state.position >= state.timeline.length) { return []; }
      var events = [];
      state.elapsed += dt;
      while (state.position < state.timeline.length && state.elapsed >= state.timeline[state.position].duration_s) {
        state.elapsed -= state.timeline[state.position].duration_s;
        state.position += 1;
        events.push(state.position < state.timeline.length ? "switch" : "done");
      }
      if (state.position >= state.timeline.length) { state.elapsed = 0; }
      return events;
    }
    function loop() {
      var now = performance.now();
      var events = tick((now - last) / 1000);
      last = now;
      announce(events);
      render();
    }
    function stop() { if (timer) { clearInterval(timer); timer = null; } keepAwake(false); }
    function play() { last = performance.now(); state.paused = false; if (!timer) { timer = setInterval(loop, 200); } keepAwake(true); }
    $("btn-start").addEventListener("click", function () {
      state.position = 0; state.elapsed = 0; state.started = true; beep(880, 150); play(); render();
      $("btn-pause").focus();
    });
    $("btn-pause").addEventListener("click", function () {
      if (state.paused) { play(); } else { state.paused = true; stop(); }
      render();
    });
    $("btn-skip").addEventListener("click", function () {  // PlayerState.skip
      if (state.position >= state.timeline.length) { return; }
      state.position += 1; state.elapsed = 0; last = performance.now();
      announce([state.position < state.timeline.length ? "switch" : "done"]);
      render();
    });
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible" && timer) { keepAwake(true); }
    });
    $("btn-start").disabled = true;  // until the timeline has loaded
    fetch("/api/routines/" + encodeURIComponent(id), { headers: { "Accept": "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error(r.statusText); } return r.json(); })
      .then(function (data) { state.timeline = data.timeline; root.setAttribute("data-ready", "1"); render(); })
      .catch(function () { $("wake-status").textContent = "Could not load the timer; reload the page to try again."; });
  };
})();
