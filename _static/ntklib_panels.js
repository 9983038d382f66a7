/* Static widget panels of the HTML book (ntklib/static_panels.py writes their HTML).
 *
 * Every page loads this file (Jupyter Book adds each _static/*.js to html_js_files); it needs no
 * kernel and no network. A panel is a div.ntklib-static-panel holding <select> controls (one per
 * control, listing the precomputed values only), a status line and its data as
 * <script type="application/json" class="ntklib-static-data">:
 *   {controls: [{name, labels, default}], figures: {"i,j,...": {png} | {error} | {default}},
 *    mode: "star" | "cartesian", default_png: bool}
 * The figure shown is the PNG output just above the panel (the default figure; readers without
 * JavaScript see it); picking a value swaps its src. A combination that was not precomputed is
 * never shown as a broken image: the nearest precomputed setting with the picked value is shown
 * instead, the controls are set to it, and the status line says so.
 */
(function () {
  "use strict";

  function keyOf(point) {
    return point.join(",");
  }

  function describe(controls, point) {
    return controls.map(function (c, i) { return c.name + " = " + c.labels[point[i]]; }).join(", ");
  }

  // The default figure: the last <img> of the panel's notebook cell that comes before the panel.
  function defaultImage(panel) {
    var cell = panel.closest("div.cell, .jp-Cell, .output_wrapper");
    if (!cell) { return null; }
    var before = Array.prototype.filter.call(cell.querySelectorAll("img"), function (img) {
      return !panel.contains(img) &&
        (img.compareDocumentPosition(panel) & Node.DOCUMENT_POSITION_FOLLOWING);
    });
    return before.length ? before[before.length - 1] : null;
  }

  function setup(panel) {
    var data = JSON.parse(panel.querySelector("script.ntklib-static-data").textContent);
    var controls = data.controls;
    var controlsBox = panel.querySelector(".ntklib-static-controls");
    var status = panel.querySelector(".ntklib-static-status");
    var selects = Array.prototype.slice.call(controlsBox.querySelectorAll("select"));
    var img = data.default_png ? defaultImage(panel) : null;
    var defaultSrc = img ? img.getAttribute("src") : null;
    var current = controls.map(function (c) { return c.default; });

    function figureElement() {
      if (!img) {  // no default figure above (it failed): show figures inside the panel
        img = document.createElement("img");
        img.className = "ntklib-static-figure";
        panel.insertBefore(img, controlsBox);
      }
      return img;
    }

    function show(point, note) {
      var entry = data.figures[keyOf(point)];
      current = point.slice();
      selects.forEach(function (s, i) { s.value = String(point[i]); });
      var src = entry.png ? "data:image/png;base64," + entry.png : (entry.default ? defaultSrc : null);
      var message = note || "";
      if (src) {
        var el = figureElement();
        el.setAttribute("src", src);
        el.setAttribute("alt", "Figure at " + describe(controls, point));
        el.classList.remove("ntklib-static-failed");
        el.setAttribute("data-ntklib-figure", panel.id);
      } else {
        if (img) { img.classList.add("ntklib-static-failed"); }
        message = (message ? message + " " : "") + "Could not draw at " +
          describe(controls, point) + ": " + (entry.error || "no figure");
      }
      status.textContent = message;
      status.classList.toggle("ntklib-static-error", !src);
      panel.setAttribute("data-ntklib-shown", keyOf(point));
    }

    function onChange(which, value) {
      var wanted = current.slice();
      wanted[which] = value;
      if (data.figures[keyOf(wanted)]) { show(wanted, ""); return; }
      // not precomputed: the precomputed setting with this value that differs least
      var best = null;
      var bestCost = Infinity;
      Object.keys(data.figures).forEach(function (key) {
        var point = key.split(",").map(Number);
        if (point[which] !== value) { return; }
        var cost = point.reduce(function (s, v, i) { return s + (v !== wanted[i] ? 1 : 0); }, 0);
        if (cost < bestCost) { best = point; bestCost = cost; }
      });
      if (!best) {
        show(current, "Not precomputed: " + describe(controls, wanted) + ".");
        return;
      }
      var how = data.mode === "star" ? " (the precomputed figures move one control at a time " +
        "from the defaults)" : "";
      show(best, "Not precomputed: " + describe(controls, wanted) + ". Showing " +
        describe(controls, best) + how + ".");
    }

    selects.forEach(function (select) {
      var which = Number(select.getAttribute("data-control"));
      select.addEventListener("change", function () { onChange(which, Number(select.value)); });
    });
    controlsBox.hidden = false;
    panel.setAttribute("data-ntklib-shown", keyOf(current));
    if (img) { img.setAttribute("data-ntklib-figure", panel.id); }
    panel.setAttribute("data-ntklib-ready", "1");
  }

  function init() {
    document.querySelectorAll("div.ntklib-static-panel").forEach(function (panel) {
      if (panel.getAttribute("data-ntklib-ready")) { return; }
      try {
        setup(panel);
      } catch (err) {
        panel.setAttribute("data-ntklib-ready", "error");
        console.error("ntklib static panel " + panel.id + ": " + err);
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
