// Tables marked data-sortable: each header with a data-column becomes a button that
// sorts the rows of the first tbody by that column, ascending, then descending on a
// second press; a total in a later tbody stays last. aria-sort says the order to
// screen readers. Without this script the table keeps the order it was sent in.
(function () {
  "use strict";

  function value(row, column) {
    var cell = row.cells[column];
    var text = cell ? cell.textContent.trim() : "";
    var number = Number(text.replace(/,/g, ""));
    return text !== "" && !isNaN(number) ? number : text.toLocaleLowerCase();
  }

  function compare(a, b) {
    if (typeof a === "number" && typeof b === "number") return a - b;
    return String(a).localeCompare(String(b));
  }

  document.querySelectorAll("table[data-sortable]").forEach(function (table) {
    var body = table.tBodies[0];
    var headers = table.querySelectorAll("th[data-column]");
    if (!body || body.rows.length < 2) return;

    headers.forEach(function (header) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "sort";
      while (header.firstChild) button.appendChild(header.firstChild);
      header.appendChild(button);
      if (!header.hasAttribute("aria-sort")) header.setAttribute("aria-sort", "none");

      button.addEventListener("click", function () {
        var column = Number(header.getAttribute("data-column"));
        // Numbers start with the largest, names with A; a second press reverses.
        var numeric = typeof value(body.rows[0], column) === "number";
        var current = header.getAttribute("aria-sort");
        var order = current === "none" ? (numeric ? "descending" : "ascending")
          : (current === "ascending" ? "descending" : "ascending");
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var result = compare(value(a, column), value(b, column));
          if (order === "descending") result = -result;
          return result || compare(value(a, 0), value(b, 0));  // ties by name
        });
        rows.forEach(function (row) { body.appendChild(row); });
        headers.forEach(function (other) { other.setAttribute("aria-sort", "none"); });
        header.setAttribute("aria-sort", order);
      });
    });
  });
})();
