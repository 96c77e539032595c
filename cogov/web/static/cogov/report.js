/* The report form (我要上报): the place by GPS or a pin (WGS-84, as the browser gives it: nothing converted),
 * typed lon/lat kept in step with the pin, suggested categories chosen with one tap, one submission per tap.
 * Without JavaScript the form still works: lon/lat are typed, the category chosen from the list. */
(function () {
  "use strict";

  var form = document.getElementById("report-form");
  if (!form) { return; }
  var lonInput = document.getElementById("id_lon");
  var latInput = document.getElementById("id_lat");
  var pointText = document.getElementById("point-text");
  var gpsButton = document.getElementById("gps");
  var gpsStatus = document.getElementById("gps-status");
  var select = document.getElementById("id_category");
  var mapElement = document.getElementById("report-map");
  var handle = null;

  // the texts come translated from the page (data-t-* on the form), Chinese when missing
  function t(name, fallback) { return form.dataset["t" + name] || fallback; }

  function announcePoint(lon, lat) {
    pointText.textContent = t("Chosen", "已选位置") + "：" + t("Lon", "经度") + " " + lon.toFixed(6) + "，" +
      t("Lat", "纬度") + " " + lat.toFixed(6);
    form.dispatchEvent(new CustomEvent("cogov-point", { bubbles: true }));
  }

  function setPoint(lon, lat, moveMap) {
    lonInput.value = lon.toFixed(6);
    latInput.value = lat.toFixed(6);
    if (handle && moveMap) { handle.setPin(lon, lat, false); }
    announcePoint(lon, lat);
  }

  function typedPoint() {
    var lon = parseFloat(lonInput.value), lat = parseFloat(latInput.value);
    return (isFinite(lon) && isFinite(lat)) ? { lon: lon, lat: lat } : null;
  }

  if (mapElement && window.cogovMap && window.L) {
    var bbox = null;
    try { bbox = mapElement.dataset.bbox ? JSON.parse(mapElement.dataset.bbox) : null; } catch (e) { bbox = null; }
    handle = window.cogovMap.create(mapElement, {
      boundaries: mapElement.dataset.boundaries,
      tileUrl: mapElement.dataset.tileUrl || "",
      bbox: bbox,
      pin: true,
      pinLabel: t("Chosen", "已选位置"),
      onPin: function (lon, lat) { setPoint(lon, lat, false); }
    });
    mapElement.cogovMap = handle;  // as map.js does for its automatic maps
    var start = typedPoint();
    if (start) { handle.setPin(start.lon, start.lat, false); handle.zoomTo(start.lon, start.lat, 16); }
  }

  function onTyped() {
    var p = typedPoint();
    if (!p) { return; }
    // typed coordinates are usually far from the current view: go there, as the GPS button does
    if (handle) { handle.setPin(p.lon, p.lat, false); handle.zoomTo(p.lon, p.lat, 17); }
    announcePoint(p.lon, p.lat);
  }
  lonInput.addEventListener("change", onTyped);
  latInput.addEventListener("change", onTyped);

  var centerButton = document.getElementById("use-center");
  if (centerButton) {
    if (!handle) {
      centerButton.hidden = true;
    } else {
      centerButton.addEventListener("click", function () {
        var c = handle.center();
        setPoint(c.lon, c.lat, true);
      });
    }
  }

  if (gpsButton) {
    if (!("geolocation" in navigator)) {
      gpsButton.hidden = true;
    } else {
      gpsButton.addEventListener("click", function () {
        gpsStatus.textContent = t("Locating", "正在定位……");
        gpsButton.disabled = true;
        navigator.geolocation.getCurrentPosition(function (pos) {
          gpsButton.disabled = false;
          var lon = pos.coords.longitude, lat = pos.coords.latitude;
          gpsStatus.textContent = t("Located", "已定位，可拖动标记微调") + " (±" + Math.round(pos.coords.accuracy || 0) + " m)";
          setPoint(lon, lat, true);
          if (handle) { handle.zoomTo(lon, lat, 17); }
        }, function (err) {
          gpsButton.disabled = false;
          gpsStatus.textContent = err && err.code === 1
            ? t("Denied", "没有定位权限：请在地图上点选位置，或填写经纬度")
            : t("Failed", "定位失败：请在地图上点选位置，或填写经纬度");
        }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 30000 });
      });
    }
  }

  // a suggested category: one tap selects it (and asks whether it was already reported nearby)
  document.addEventListener("click", function (e) {
    var button = e.target.closest ? e.target.closest("button.suggestion[data-category]") : null;
    if (!button || !select) { return; }
    select.value = button.dataset.category;
    select.dispatchEvent(new Event("change", { bubbles: true }));
    Array.prototype.forEach.call(document.querySelectorAll("button.suggestion"), function (b) {
      b.setAttribute("aria-pressed", b === button ? "true" : "false");
    });
  });

  var photos = document.getElementById("id_photos");
  var photoCount = document.getElementById("photo-count");
  if (photos && photoCount) {
    photos.addEventListener("change", function () {
      var n = photos.files ? photos.files.length : 0;
      photoCount.textContent = n ? t("Photos", "已选择的照片") + "：" + n : "";
    });
  }

  // a second tap while the first is on its way would file nothing new (the form key), but say so
  var submit = document.getElementById("submit-report");
  form.addEventListener("submit", function () {
    if (submit) {
      window.setTimeout(function () { submit.disabled = true; submit.textContent = t("Sending", "正在提交……"); }, 0);
    }
  });
})();
