/* cogov maps on Leaflet: the city's own boundaries (no tile server needed), optional tiles from the city's
 * network, a pin to choose a place, points of cases. Nothing is fetched from the internet.
 *
 *   var m = window.cogovMap.create(element, {
 *     boundaries: "/geo/boundaries.json?kind=district",  // GeoJSON of the city's units (its "bbox" fits the view)
 *     tileUrl: "",                                        // e.g. "<your tile server>/{z}/{x}/{y}.png"; "" = none
 *     bbox: [minLon, minLat, maxLon, maxLat],             // optional: the first view before boundaries arrive
 *     pin: true, onPin: function (lon, lat) {},           // click or drag to choose a point (WGS-84)
 *     pinLabel: "所选位置",                               // the pin's title and alt text (translated by the page)
 *     points: [{lon, lat, label, url, light}],            // light: green | yellow | red | closed | other
 *     fitFeature: 12                                      // once boundaries arrive, fit the view to this unit id
 *   });
 *   m.setPin(lon, lat); m.pinPosition(); m.setPoints(points); m.center(); m.map (the Leaflet map)
 *
 * Elements with data-cogov-map="auto" are set up on load from their data-* attributes: data-boundaries,
 * data-tile-url, data-bbox (JSON), data-points-url (JSON {points: […]}), data-points-json (id of a
 * json_script element), data-center ("lon,lat"; zoom 15 around it), data-fit-unit (a unit id of the boundaries:
 * the view then fits that unit, e.g. the case's community, so that its neighbours' outlines show too).
 */
(function () {
  "use strict";

  var COLOURS = { green: "#1b7f3b", yellow: "#b26a00", red: "#c0262d", closed: "#5f6b76", other: "#5f6b76" };
  var DEFAULT_VIEW = { center: [35.0, 105.0], zoom: 4 };

  function toBounds(bbox) {
    if (!bbox || bbox.length !== 4 || bbox.some(function (v) { return typeof v !== "number" || !isFinite(v); })) {
      return null;
    }
    return L.latLngBounds([bbox[1], bbox[0]], [bbox[3], bbox[2]]);
  }

  function popupNode(point) {
    var box = document.createElement("div");
    if (point.url) {
      var a = document.createElement("a");
      a.href = point.url;
      a.textContent = point.label || point.url;
      box.appendChild(a);
    } else {
      box.textContent = point.label || "";
    }
    return box;
  }

  function create(element, options) {
    options = options || {};
    var map = L.map(element, { attributionControl: false, keyboard: true, zoomSnap: 0.5 });
    var fitted = false;
    var bounds = toBounds(options.bbox);
    if (bounds) {
      map.fitBounds(bounds);
      fitted = true;
    } else {
      map.setView(DEFAULT_VIEW.center, DEFAULT_VIEW.zoom);
    }
    if (options.tileUrl) {
      L.tileLayer(options.tileUrl, { maxZoom: 19 }).addTo(map);
    }

    var boundaryLayer = null;
    if (options.boundaries) {
      fetch(options.boundaries, { credentials: "same-origin", headers: { Accept: "application/geo+json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (geojson) {
          if (!geojson) { return; }
          boundaryLayer = L.geoJSON(geojson, {
            interactive: !options.pin,
            style: { color: "#b32d2e", weight: 1.5, fillColor: "#f3e3e3", fillOpacity: options.tileUrl ? 0.05 : 0.35 },
            onEachFeature: function (feature, layer) {
              if (feature.properties && feature.properties.name && !options.pin) {
                layer.bindTooltip(feature.properties.name, { sticky: true });
              }
            }
          }).addTo(map);
          boundaryLayer.bringToBack();
          if (options.fitFeature) {
            boundaryLayer.eachLayer(function (layer) {
              if (layer.feature && String(layer.feature.id) === String(options.fitFeature) && layer.getBounds) {
                var unitBounds = layer.getBounds();
                if (unitBounds.isValid()) { map.fitBounds(unitBounds.pad(0.25)); fitted = true; }
              }
            });
          }
          if (!fitted && !options.keepView) {
            var b = toBounds(geojson.bbox) || (boundaryLayer.getLayers().length ? boundaryLayer.getBounds() : null);
            if (b && b.isValid()) { map.fitBounds(b); fitted = true; }
          }
        })
        .catch(function () { /* the map still works without its outlines */ });
    }

    var pointLayer = L.layerGroup().addTo(map);
    function setPoints(points) {
      pointLayer.clearLayers();
      (points || []).forEach(function (p) {
        if (typeof p.lon !== "number" || typeof p.lat !== "number") { return; }
        var colour = COLOURS[p.light] || COLOURS.other;
        L.circleMarker([p.lat, p.lon], { radius: 7, color: "#fff", weight: 1.5, fillColor: colour, fillOpacity: 0.9 })
          .bindPopup(popupNode(p))
          .addTo(pointLayer);
      });
    }
    setPoints(options.points);

    var marker = null;
    function setPin(lon, lat, notify) {
      if (typeof lon !== "number" || typeof lat !== "number" || !isFinite(lon) || !isFinite(lat)) { return; }
      var ll = L.latLng(lat, lon);
      if (!marker) {
        marker = L.marker(ll, { draggable: true, keyboard: true, title: options.pinLabel || "",
          alt: options.pinLabel || "" }).addTo(map);
        marker.on("dragend", function () {
          var p = marker.getLatLng();
          if (options.onPin) { options.onPin(p.lng, p.lat); }
        });
      } else {
        marker.setLatLng(ll);
      }
      if (!map.getBounds().contains(ll)) { map.setView(ll, Math.max(map.getZoom(), 15)); }
      if (notify && options.onPin) { options.onPin(lon, lat); }
    }
    if (options.pin) {
      map.on("click", function (e) { setPin(e.latlng.lng, e.latlng.lat, true); });
    }

    return {
      map: map,
      setPin: setPin,
      setPoints: setPoints,
      pinPosition: function () { return marker ? { lon: marker.getLatLng().lng, lat: marker.getLatLng().lat } : null; },
      center: function () { var c = map.getCenter(); return { lon: c.lng, lat: c.lat }; },
      zoomTo: function (lon, lat, zoom) { map.setView([lat, lon], zoom || 17); fitted = true; }
    };
  }

  function parseJson(text) {
    if (!text) { return null; }
    try { return JSON.parse(text); } catch (e) { return null; }
  }

  function init(element) {
    var d = element.dataset;
    var center = (d.center || "").split(",").map(Number);
    var handle = create(element, {
      boundaries: d.boundaries || "",
      tileUrl: d.tileUrl || "",
      bbox: parseJson(d.bbox),
      keepView: center.length === 2 && isFinite(center[0]) && isFinite(center[1]) && d.center !== "",
      points: d.pointsJson ? parseJson((document.getElementById(d.pointsJson) || {}).textContent) : [],
      fitFeature: d.fitUnit || null
    });
    if (center.length === 2 && isFinite(center[0]) && isFinite(center[1]) && d.center) {
      handle.zoomTo(center[0], center[1], 15);
    }
    if (d.pointsUrl) {
      fetch(d.pointsUrl, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (body) { if (body) { handle.setPoints(body.points); } })
        .catch(function () {});
    }
    element.cogovMap = handle;
    return handle;
  }

  window.cogovMap = { create: create, init: init };

  function autoInit() {
    if (!window.L) { return; }
    Array.prototype.forEach.call(document.querySelectorAll('[data-cogov-map="auto"]'), init);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", autoInit);
  } else {
    autoInit();
  }
})();
