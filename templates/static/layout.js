/* Page layout enhancements (pages-look): one popover layer for the badges' explanations.
   Without this file the explanations still open on hover and focus (CSS, inside their cell);
   with it they are shown in a layer at the end of <body>, positioned against the viewport, so no
   scrolling table or code block can clip them. */
(function () {
  "use strict";
  var root = document.documentElement;
  root.classList.add("js-tips");

  var layer = document.createElement("div");
  layer.className = "popover";
  layer.id = "popover";
  // The trigger is already described by its inline tip (aria-describedby); this copy is visual.
  layer.setAttribute("aria-hidden", "true");
  layer.hidden = true;
  document.body.appendChild(layer);

  var current = null;  // the trigger whose tip is shown
  var pinned = false;  // opened by a tap/click: stays until tapped again, elsewhere, or Escape
  var GAP = 6, MARGIN = 8;

  function tipOf(trigger) {
    var id = trigger.getAttribute("aria-describedby");
    return id ? document.getElementById(id) : null;
  }

  function place(trigger) {
    var r = trigger.getBoundingClientRect();
    var vw = root.clientWidth, vh = root.clientHeight;
    layer.style.maxWidth = Math.min(320, vw - 2 * MARGIN) + "px";
    layer.style.left = "0px";
    layer.style.top = "0px";
    var w = layer.offsetWidth, h = layer.offsetHeight;
    var left = Math.max(MARGIN, Math.min(r.left + r.width / 2 - w / 2, vw - MARGIN - w));
    var top = r.bottom + GAP;
    if (top + h > vh - MARGIN && r.top - GAP - h >= MARGIN) top = r.top - GAP - h;  // flip above
    top = Math.max(MARGIN, Math.min(top, vh - MARGIN - h));
    layer.style.left = Math.round(left) + "px";
    layer.style.top = Math.round(top) + "px";
  }

  function show(trigger, pin) {
    var tip = tipOf(trigger);
    if (!tip) return;
    if (current !== trigger) {
      layer.innerHTML = tip.innerHTML;
      layer.className = "popover";
      current = trigger;
    }
    pinned = pin;
    layer.hidden = false;
    trigger.setAttribute("aria-expanded", "true");
    place(trigger);
  }

  function hide() {
    if (current) current.removeAttribute("aria-expanded");
    current = null;
    pinned = false;
    layer.hidden = true;
  }

  function triggerAt(node) {
    return node && node.closest ? node.closest(".has-tip > [aria-describedby]") : null;
  }

  document.addEventListener("pointerover", function (e) {
    if (e.pointerType === "touch") return;  // a tap also fires click; handled there
    var t = triggerAt(e.target);
    if (t && !pinned) show(t, false);
  });
  document.addEventListener("pointerout", function (e) {
    if (e.pointerType === "touch" || pinned || !current) return;
    var t = triggerAt(e.target);
    if (t === current && !current.contains(e.relatedTarget) && document.activeElement !== current) hide();
  });
  document.addEventListener("focusin", function (e) {
    var t = triggerAt(e.target);
    if (t) show(t, false);
    else if (current && !pinned) hide();
  });
  document.addEventListener("focusout", function (e) {
    if (current && e.target === current && !pinned) hide();
  });
  // Badges are links to their state's entry of the legend page. A mouse click or the keyboard
  // follows the link (hover and focus have shown the explanation already); on a touch screen the
  // first tap shows the explanation and a second tap on the same badge follows the link.
  var lastPointer = "";
  document.addEventListener("pointerdown", function (e) { lastPointer = e.pointerType; }, true);
  document.addEventListener("click", function (e) {
    var t = triggerAt(e.target);
    if (t && t.tagName === "A") {
      var tap = lastPointer === "touch" && e.detail > 0;
      if (!tap || (current === t && pinned)) return;
      e.preventDefault();
      show(t, true);
    } else if (t) {
      if (current === t && pinned) hide(); else show(t, true);
    } else if (current) {
      hide();
    }
  });
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape" && current) hide();
  });
  // Positioned against the viewport: follow the trigger while anything scrolls or resizes.
  function follow() { if (current) place(current); }
  window.addEventListener("scroll", follow, true);
  window.addEventListener("resize", follow);

  // Theme switch: auto (the system's setting) -> light -> dark, remembered in localStorage.
  var button = document.querySelector(".theme-switch");
  if (button) {
    var ORDER = ["auto", "light", "dark"];
    var stored = function () { try { return localStorage.getItem("vh-theme"); } catch (e) { return null; } };
    var label = function (name) {
      button.textContent = button.getAttribute("data-" + name) || name;
      button.setAttribute("aria-label", (button.getAttribute("data-label") || "{name}").replace("{name}", button.textContent));
    };
    var current0 = ORDER.indexOf(stored()) > 0 ? stored() : "auto";
    label(current0);
    button.hidden = false;
    button.addEventListener("click", function () {
      var now = root.getAttribute("data-theme") || "auto";
      var next = ORDER[(ORDER.indexOf(now) + 1) % ORDER.length];
      if (next === "auto") root.removeAttribute("data-theme"); else root.setAttribute("data-theme", next);
      try { if (next === "auto") localStorage.removeItem("vh-theme"); else localStorage.setItem("vh-theme", next); } catch (e) { /* private mode: this page only */ }
      label(next);
    });
  }
})();
