// On a narrow screen the masthead folds into a Menu button. Without this script
// the menu simply stays open, as on a wide screen.
(function () {
  var button = document.querySelector(".menu-toggle");
  var menu = document.getElementById("site-menu");
  if (!button || !menu) return;
  var narrow = window.matchMedia("(max-width: 40rem)");

  function fold(closed) {
    menu.classList.toggle("folded", closed);
    button.setAttribute("aria-expanded", closed ? "false" : "true");
  }

  function fit() {
    button.hidden = !narrow.matches;
    fold(narrow.matches);
  }

  button.addEventListener("click", function () {
    fold(!menu.classList.contains("folded"));
  });
  narrow.addEventListener("change", fit);
  fit();
})();
