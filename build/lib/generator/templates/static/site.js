/* Progressive enhancements of the hub's pages; everything works without this file:
   search (Pagefind), in-place tag filter on the index, copy buttons on code blocks.
   Strings come from data-* attributes on this script's tag, rendered from cards/i18n.yaml. */
(function () {
  "use strict";
  var script = document.currentScript;
  var text = (script && script.dataset) || {};

  // The index also holds the Chinese characters of each title and summary one by one (see
  // generator/search.py); when an excerpt comes from them, show them as normal text again.
  function joinHan(excerpt) {
    return excerpt
      .replace(/(\p{Script=Han}) (<\/mark>)/gu, "$1$2")
      .replace(/(\p{Script=Han}(?:<\/?mark>)*) (?=(?:<\/?mark>)*\p{Script=Han})/gu, "$1");
  }

  function initSearch() {
    var box = document.getElementById("search");
    // No PagefindUI: the bundle is a stub (Pagefind missing at build time). file://: the
    // browser refuses the fetches Pagefind needs. Either way the box stays hidden.
    if (!box || typeof window.PagefindUI !== "function" || location.protocol === "file:") return;
    box.hidden = false;
    new window.PagefindUI({
      element: "#search",
      showImages: false,
      showSubResults: false,
      resetStyles: false,
      pageSize: 5,
      processResult: function (result) {
        result.excerpt = joinHan(result.excerpt || "");
        return result;
      },
    });
    var input = box.querySelector("input");
    if (input && text.searchLabel) input.setAttribute("aria-label", text.searchLabel);
  }

  function initFilter() {
    var nav = document.querySelector(".tag-filter[data-in-place]");
    if (!nav) return;
    var cards = Array.prototype.slice.call(document.querySelectorAll(".cards > .card"));
    var chips = Array.prototype.slice.call(nav.querySelectorAll("a[data-tag]"));
    var status = document.querySelector("[data-filter-status]");

    function apply(tag) {
      var shown = 0;
      cards.forEach(function (card) {
        var show = !tag || (" " + card.getAttribute("data-tags") + " ").indexOf(" " + tag + " ") >= 0;
        card.hidden = !show;
        if (show) shown++;
      });
      chips.forEach(function (chip) {
        if (chip.getAttribute("data-tag") === tag) chip.setAttribute("aria-current", "true");
        else chip.removeAttribute("aria-current");
      });
      if (status) status.textContent = (status.getAttribute("data-template") || "").replace("{n}", String(shown));
    }

    nav.addEventListener("click", function (e) {
      var chip = e.target.closest && e.target.closest("a[data-tag]");
      // Let modified clicks open the tag page (new tab, new window) as plain links do.
      if (!chip || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
      e.preventDefault();
      var tag = chip.getAttribute("data-tag");
      apply(tag);
      history.replaceState(null, "", tag ? "#tag=" + encodeURIComponent(tag) : location.pathname + location.search);
    });
    var m = /^#tag=([\w.-]+)$/.exec(location.hash);
    if (m && chips.some(function (c) { return c.getAttribute("data-tag") === m[1]; })) apply(m[1]);
  }

  function copyText(value) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(value);
    // Older browsers and plain-http hosts other than localhost: a hidden textarea.
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = value;
      area.setAttribute("readonly", "");
      area.style.position = "fixed";
      area.style.opacity = "0";
      document.body.appendChild(area);
      area.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (err) { ok = false; }
      document.body.removeChild(area);
      if (ok) resolve(); else reject(new Error("copy refused"));
    });
  }

  function initCopy() {
    var live = document.createElement("span");
    live.className = "sr-only";
    live.setAttribute("role", "status");
    document.body.appendChild(live);
    Array.prototype.forEach.call(document.querySelectorAll(".code"), function (block) {
      var pre = block.querySelector("pre");
      if (!pre) return;
      var bar = block.querySelector(".code-bar");
      if (!bar) {
        bar = document.createElement("div");
        bar.className = "code-bar";
        block.insertBefore(bar, block.firstChild);
      }
      var button = document.createElement("button");
      button.type = "button";
      button.className = "copy";
      button.textContent = text.copy || "Copy";
      var timer = 0;
      button.addEventListener("click", function () {
        copyText(pre.textContent.replace(/\n$/, "")).then(function () {
          button.textContent = live.textContent = text.copied || "Copied";
        }, function () {
          button.textContent = live.textContent = text.copyFailed || "Copy failed";
        });
        clearTimeout(timer);
        timer = setTimeout(function () { button.textContent = text.copy || "Copy"; live.textContent = ""; }, 2000);
      });
      bar.appendChild(button);
    });
  }

  initSearch();
  initFilter();
  initCopy();
})();
