/* Progressive enhancements of the hub's pages; everything works without this file:
   search (Pagefind), in-place tag filter on the index, copy buttons on code blocks.
   Strings come from data-* attributes on this script's tag, rendered from cards/i18n.yaml. */
(function () {
  "use strict";
  var script = document.currentScript;
  var text = (script && script.dataset) || {};

  // The index holds Chinese text cut into jieba words with spaces between them (see
  // generator/site/search.py); when an excerpt shows them, join the Han characters again.
  var CJK = "[\\p{Script=Han}\\u3000-\\u303f\\uff00-\\uffef]";
  var SPACE_AFTER = new RegExp("(" + CJK + "(?:</?mark>)*) +(?=(?:</?mark>)*" + CJK + ")", "gu");
  var SPACE_BEFORE_CLOSE = new RegExp("(" + CJK + ") +(</mark>)", "gu");
  function joinHan(excerpt) {
    return excerpt.replace(SPACE_BEFORE_CLOSE, "$1$2").replace(SPACE_AFTER, "$1");
  }

  // Pagefind cuts a Chinese query with the browser's word segmenter, whose dictionary is not the
  // index's (Chromium splits 残差 into 残|差, and 差 then matches inside 标准差). words.js lists
  // the index's own words: Han runs are cut by longest match against them, the rest is left to
  // the browser's segmenter.
  function installQuerySegmenter() {
    var list = window.hubSearchWords;
    var Native = window.Intl && Intl.Segmenter;
    if (!list || !Native) return;
    var known = Object.create(null), longest = 1;
    list.split(" ").forEach(function (w) { if (w) { known[w] = true; longest = Math.max(longest, w.length); } });
    function cutHan(run, offset, out) {
      for (var i = 0; i < run.length;) {
        var n = Math.min(longest, run.length - i);
        while (n > 1 && !known[run.substr(i, n)]) n--;
        out.push({ segment: run.substr(i, n), index: offset + i, input: run, isWordLike: true });
        i += n;
      }
    }
    function HubSegmenter(locale, options) {
      var native = new Native(locale, options);
      var chinese = options && options.granularity === "word" && /^zh\b/i.test(String(locale));
      if (!chinese) return native;
      return {
        resolvedOptions: function () { return native.resolvedOptions(); },
        segment: function (text) {
          var out = [], re = /\p{Script=Han}+/gu, at = 0, m;
          function rest(upTo) {
            for (var s of native.segment(text.slice(at, upTo))) out.push({ segment: s.segment, index: at + s.index, input: text, isWordLike: s.isWordLike });
          }
          while ((m = re.exec(text))) { rest(m.index); cutHan(m[0], m.index, out); at = m.index + m[0].length; }
          rest(text.length);
          return out;
        },
      };
    }
    HubSegmenter.supportedLocalesOf = Native.supportedLocalesOf;
    Intl.Segmenter = HubSegmenter;
  }

  // Where the other language's search is: the language switch, with the query in its hash.
  function otherLanguageLink(query) {
    var sw = document.querySelector(".lang-switch");
    if (!sw || !text.searchOtherLang) return null;
    var a = document.createElement("a");
    a.className = "search-other-lang";
    a.href = sw.getAttribute("href").split("#")[0] + "#search=" + encodeURIComponent(query);
    a.textContent = text.searchOtherLang;
    return a;
  }

  function hashQuery() {
    var m = /^#search=(.*)$/.exec(location.hash);
    return m ? decodeURIComponent(m[1]) : "";
  }

  // file://: the browser refuses the fetches Pagefind needs. fallback.js (a <script>, which
  // file:// allows) holds title, summary and the start of each page: every word of the query
  // must occur in them (Han text: as a substring, it has no spaces).
  function initFileSearch(box) {
    var pages = window.hubSearchFallback;
    var script = document.querySelector('script[src$="fallback.js"]');
    if (!pages || !pages.length || !script) return;
    var base = script.getAttribute("src").replace(/pagefind\/fallback\.js$/, "");
    box.hidden = false;
    box.classList.add("search-fallback");
    var notice = document.createElement("p");
    notice.className = "search-notice";
    notice.setAttribute("role", "note");
    notice.textContent = text.searchFileNotice || "";
    var input = document.createElement("input");
    input.type = "search";
    input.className = "search-fallback-input";
    input.setAttribute("aria-label", text.searchLabel || "Search");
    input.placeholder = text.searchLabel || "";
    var out = document.createElement("div");
    out.className = "search-fallback-results";
    out.setAttribute("aria-live", "polite");
    box.appendChild(input);
    box.appendChild(notice);
    box.appendChild(out);
    function run() {
      var q = input.value.trim();
      out.textContent = "";
      if (!q) return;
      var terms = q.toLocaleLowerCase().split(/\s+/);
      var list = document.createElement("ul");
      pages.forEach(function (p) {
        var hay = (p.t + " " + p.s + " " + p.x).toLocaleLowerCase();
        if (!terms.every(function (w) { return hay.indexOf(w) >= 0; })) return;
        var li = document.createElement("li"), a = document.createElement("a");
        a.href = base + p.u;
        a.className = "search-fallback-link";
        a.textContent = p.t;
        li.appendChild(a);
        if (p.s) li.appendChild(document.createTextNode(" — " + p.s));
        list.appendChild(li);
      });
      if (list.children.length) { out.appendChild(list); return; }
      var none = document.createElement("p");
      none.className = "search-none";
      none.textContent = (text.searchNone || "").replace("{q}", q);
      out.appendChild(none);
      var other = otherLanguageLink(q);
      if (other) out.appendChild(other);
    }
    input.addEventListener("input", run);
    var q = hashQuery();
    if (q) { input.value = q; run(); }
  }

  // Pagefind found nothing: offer the same query on the other language's pages.
  function watchEmptyResults(box, ui) {
    new MutationObserver(function () {
      var msg = box.querySelector(".pagefind-ui__message");
      var input = box.querySelector("input");
      var old = box.querySelector(".search-other-lang");
      var empty = msg && input && input.value.trim() && !box.querySelector(".pagefind-ui__result") &&
        /\S/.test(msg.textContent) && !/\d/.test(msg.textContent);
      if (!empty) { if (old) old.remove(); return; }
      if (old && old.href.endsWith(encodeURIComponent(input.value.trim()))) return;
      if (old) old.remove();
      var link = otherLanguageLink(input.value.trim());
      if (link) msg.insertAdjacentElement("afterend", link);
    }).observe(box, { childList: true, subtree: true, characterData: true });
    var q = hashQuery();
    if (q) ui.triggerSearch(q);
  }

  // The index is in parts (generator/site/search): the first is Pagefind's primary index, the
  // others are merged into it, so a search runs over every part and Pagefind sorts all hits by
  // score. Paths are absolute, as Pagefind resolves them against the page for its fetches.
  // words.js names the parts; without that list the bundle itself is the index.
  function bundleParts() {
    var parts = window.hubSearchParts;
    var ui = document.querySelector('script[src$="pagefind-ui.js"]');
    if (!parts || !parts.length || !ui) return {};
    var base = new URL(ui.getAttribute("src"), location.href).pathname.replace(/pagefind-ui\.js$/, "");
    return {
      bundlePath: base + parts[0] + "/",
      mergeIndex: parts.slice(1).map(function (p) { return { bundlePath: base + p + "/" }; }),
    };
  }

  function initSearch() {
    var box = document.getElementById("search");
    if (!box) return;
    if (location.protocol === "file:") return initFileSearch(box);
    // No PagefindUI: the bundle is a stub (Pagefind missing at build time): the box stays hidden.
    if (typeof window.PagefindUI !== "function") return;
    box.hidden = false;
    installQuerySegmenter();
    var ui = new window.PagefindUI(Object.assign(bundleParts(), {
      element: "#search",
      showImages: false,
      showSubResults: false,
      resetStyles: false,
      // The query is cut into words where it is parsed: on the main thread, with the segmenter
      // installed above (a worker would use the browser's own).
      noWorker: true,
      pageSize: 5,
      processResult: function (result) {
        result.excerpt = joinHan(result.excerpt || "");
        return result;
      },
    }));
    var input = box.querySelector("input");
    if (input && text.searchLabel) input.setAttribute("aria-label", text.searchLabel);
    watchEmptyResults(box, ui);
  }

  function initFilter() {
    var nav = document.querySelector(".tag-filter[data-in-place]");
    if (!nav) return;
    var cards = Array.prototype.slice.call(document.querySelectorAll(".cards > .card"));
    // The comparison table's rows follow the cards (its rows carry the same data-tags).
    var rows = Array.prototype.slice.call(document.querySelectorAll(".compare-table tbody tr[data-tags]"));
    var chips = Array.prototype.slice.call(nav.querySelectorAll("a[data-tag]"));
    var status = document.querySelector("[data-filter-status]");

    function apply(tag) {
      var shown = 0;
      cards.forEach(function (card) {
        var show = !tag || (" " + card.getAttribute("data-tags") + " ").indexOf(" " + tag + " ") >= 0;
        card.hidden = !show;
        if (show) shown++;
      });
      rows.forEach(function (row) {
        row.hidden = !!tag && (" " + row.getAttribute("data-tags") + " ").indexOf(" " + tag + " ") < 0;
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
