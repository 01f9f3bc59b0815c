// emc-bench leaderboard: switch board, filter and sort the tables. Reads only the page's own
// markup and never writes HTML (text and the `hidden` property only).
"use strict";

(function () {
  const boardSelect = document.getElementById("board");
  const filter = document.getElementById("filter");
  const type = document.getElementById("type");
  const flagged = document.getElementById("flagged");
  const count = document.getElementById("count");
  const boards = Array.from(document.querySelectorAll("section.board"));
  const SEARCHED_COLUMNS = 4; // model, type, base model, trigger

  function currentBoard() {
    return boards.find((board) => board.id === boardSelect.value) || boards[0];
  }

  function applyFilter() {
    const needle = filter.value.trim().toLowerCase();
    const board = currentBoard();
    let shown = 0;
    let total = 0;
    for (const section of boards) {
      for (const row of section.querySelectorAll("tbody tr")) {
        const text = Array.from(row.cells).slice(0, SEARCHED_COLUMNS)
          .map((cell) => cell.textContent).join(" ").toLowerCase();
        const visible = (!needle || text.includes(needle))
          && (!type.value || row.dataset.type === type.value)
          && (!flagged.checked || row.dataset.flagged === "yes");
        row.hidden = !visible;
        if (section === board) {
          total += 1;
          shown += visible ? 1 : 0;
        }
      }
    }
    count.textContent = shown + " of " + total + " rows shown";
  }

  function showBoard() {
    const board = currentBoard();
    for (const section of boards) {
      section.hidden = section !== board;
    }
    applyFilter();
  }

  function compare(a, b, numeric, descending) {
    if (a === "" || b === "") {
      return (a === "") - (b === ""); // missing values last, whichever the direction
    }
    const order = numeric ? Number(a) - Number(b) : a.localeCompare(b);
    return descending ? -order : order;
  }

  function sortBy(header) {
    const table = header.closest("table");
    const index = Array.from(header.parentNode.children).indexOf(header);
    const numeric = header.dataset.kind === "number";
    const first = numeric ? "descending" : "ascending";
    const next = header.getAttribute("aria-sort") === first ? (numeric ? "ascending" : "descending") : first;
    for (const other of table.tHead.rows[0].cells) {
      other.removeAttribute("aria-sort");
    }
    header.setAttribute("aria-sort", next);
    const body = table.tBodies[0];
    const rows = Array.from(body.rows);
    rows.sort((x, y) => compare(x.cells[index].dataset.sort, y.cells[index].dataset.sort, numeric,
      next === "descending"));
    for (const row of rows) {
      body.appendChild(row);
    }
  }

  for (const button of document.querySelectorAll("th button.sort")) {
    button.addEventListener("click", () => sortBy(button.closest("th")));
  }
  boardSelect.addEventListener("change", showBoard);
  filter.addEventListener("input", applyFilter);
  type.addEventListener("change", applyFilter);
  flagged.addEventListener("change", applyFilter);
  showBoard();
})();
