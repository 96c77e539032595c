/* cogov staff pages: show refused forms that HTMX would drop, keep countdowns live, and the heads' GPS tap. */
(function () {
  "use strict";

  // htmx does not swap 4xx answers; ours carry the form with its error next to the fields: show them.
  document.addEventListener("htmx:beforeSwap", function (e) {
    var status = e.detail.xhr.status;
    if (status >= 400 && status < 500) {
      e.detail.shouldSwap = true;
      e.detail.isError = false;
    }
  });

  // The server's clock against the phone's: a phone set wrong must not show wrong countdowns.
  var channel = document.getElementById("channel");
  var skew = 0;
  if (channel && channel.dataset.now) {
    var serverNow = Date.parse(channel.dataset.now);
    if (!isNaN(serverNow)) { skew = serverNow - Date.now(); }
  }

  // The same words as the server's cogov.web.display.duration_text: minutes up to an hour, hours up to two
  // days, then days (the patterns come translated from the page).
  function durationText(ms) {
    var d = channel.dataset, seconds = Math.abs(ms) / 1000, minutes = Math.round(seconds / 60);
    if (minutes <= 60) { return (d.minutes || "%(n)d min").replace("%(n)d", minutes); }
    if (seconds < 48 * 3600) { return (d.hours || "%(n).1f h").replace("%(n).1f", (seconds / 3600).toFixed(1)); }
    return (d.days || "%(n).1f d").replace("%(n).1f", (seconds / 86400).toFixed(1));
  }

  function tick() {
    if (!channel) { return; }
    var left = channel.dataset.left || "%s", late = channel.dataset.late || "-%s";
    var nodes = channel.querySelectorAll(".countdown[data-due]");
    for (var i = 0; i < nodes.length; i++) {
      var el = nodes[i], due = Date.parse(el.dataset.due);
      if (isNaN(due)) { continue; }
      var ms = due - (Date.now() + skew);
      el.textContent = (ms >= 0 ? left : late).replace("%s", durationText(ms));
      el.classList.toggle("light-red", ms < 0);
      el.classList.toggle("light-green", ms >= 0);
    }
  }
  setInterval(tick, 30000);
  document.addEventListener("htmx:afterSettle", function () {
    var empty = document.getElementById("channel-empty");
    if (empty && document.querySelector("#channel-feed > li")) { empty.remove(); }
  });

  // Heads' patrol report: ① take the GPS position; ② tap a category. Tapping a category first locates, then sends.
  var form = document.getElementById("patrol-form");
  if (!form) { return; }
  var button = document.getElementById("locate");
  var status = document.getElementById("locate-status");
  var lon = document.getElementById("patrol-lon"), lat = document.getElementById("patrol-lat");
  var pending = null;

  function located() { return lon.value.trim() !== "" && lat.value.trim() !== ""; }

  function locate() {
    if (!navigator.geolocation) { status.textContent = button.dataset.failed; return; }
    status.textContent = button.dataset.locating;
    navigator.geolocation.getCurrentPosition(function (pos) {
      // the browser's Geolocation API answers in WGS-84
      lon.value = pos.coords.longitude.toFixed(7);
      lat.value = pos.coords.latitude.toFixed(7);
      form.elements.coord_system.value = "wgs84";
      status.textContent = button.dataset.located.replace("%s", Math.round(pos.coords.accuracy));
      if (pending) {
        var submitter = pending; pending = null;
        if (form.requestSubmit) { form.requestSubmit(submitter); } else { submitter.click(); }
      }
    }, function () {
      pending = null;
      status.textContent = button.dataset.failed;
    }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  }

  button.addEventListener("click", locate);
  form.addEventListener("submit", function (e) {
    if (!located()) {
      e.preventDefault();
      pending = e.submitter || null;
      locate();
    }
  });
  // already allowed: locate at once, so that a single tap on a category reports
  if (navigator.permissions && navigator.permissions.query && !located()) {
    navigator.permissions.query({ name: "geolocation" }).then(function (p) {
      if (p.state === "granted") { locate(); }
    }).catch(function () {});
  }
})();
