/* The hub index's comparison table: click a column header to sort by it, click again to reverse.
   Without this file the table is a plain table in the order of the cards (by name). Each cell's
   data-sort is its value; an empty one (the build does not know it, shown as "—") sorts last in
   both directions. aria-sort says the current order; a live region says it in words. */
(function () {
  "use strict";
  Array.prototype.forEach.call(document.querySelectorAll("table[data-sortable]"), function (table) {
    var heads = Array.prototype.slice.call(table.querySelectorAll("thead th"));
    var body = table.tBodies[0];
    var status = table.closest("section") && table.closest("section").querySelector(".sort-status");
    if (!body) return;

    function value(row, i, type) {
      var cell = row.children[i];
      var raw = cell ? cell.getAttribute("data-sort") : "";
      if (raw === null || raw === "") return null;
      return type === "number" ? parseFloat(raw) : raw.toLocaleLowerCase();  // dates: ISO, sort as text
    }

    function sort(i, direction) {
      var type = heads[i].getAttribute("data-type") || "text";
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = value(a, i, type), y = value(b, i, type);
        if (x === null || y === null) return x === y ? 0 : x === null ? 1 : -1;
        var c = type === "number" ? x - y : x.localeCompare(y);
        return direction === "ascending" ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
      heads.forEach(function (h, j) {
        if (j === i) h.setAttribute("aria-sort", direction); else h.removeAttribute("aria-sort");
      });
      if (status) {
        status.textContent = (status.getAttribute("data-template") || "")
          .replace("{column}", heads[i].textContent.trim())
          .replace("{order}", status.getAttribute("data-" + direction) || direction);
      }
    }

    heads.forEach(function (h, i) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "sort-button";
      while (h.firstChild) button.appendChild(h.firstChild);
      var mark = document.createElement("span");
      mark.className = "sort-mark";
      mark.setAttribute("aria-hidden", "true");
      button.appendChild(mark);
      h.appendChild(button);
      button.addEventListener("click", function () {
        // Numbers and dates start with the largest / newest; names start from A.
        var first = (h.getAttribute("data-type") || "text") === "text" ? "ascending" : "descending";
        var now = h.getAttribute("aria-sort");
        sort(i, now === first ? (first === "ascending" ? "descending" : "ascending") : first);
      });
    });
  });
})();
