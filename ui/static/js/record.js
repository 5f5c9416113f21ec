// The record page's conveniences; every form works without it.
// - the stage path is an arrow-key list (Left/Right/Home/End move between stages);
// - clicking the lost stage opens the small "why was it lost?" form instead of submitting;
// - destructive buttons ask first (data-confirm).
(function () {
  "use strict";

  var path = document.querySelector(".stage-path .path-steps");
  if (path) {
    var buttons = Array.prototype.slice.call(path.querySelectorAll("button[data-stage]"));
    var current = buttons.findIndex(function (b) { return b.getAttribute("aria-current") === "step"; });
    // Roving focus: one tab stop for the whole path, arrows move within it.
    buttons.forEach(function (button, index) {
      button.tabIndex = index === (current < 0 ? 0 : current) ? 0 : -1;
    });
    path.addEventListener("keydown", function (event) {
      var index = buttons.indexOf(document.activeElement);
      if (index < 0) { return; }
      var next = null;
      if (event.key === "ArrowRight" || event.key === "ArrowDown") { next = Math.min(buttons.length - 1, index + 1); }
      if (event.key === "ArrowLeft" || event.key === "ArrowUp") { next = Math.max(0, index - 1); }
      if (event.key === "Home") { next = 0; }
      if (event.key === "End") { next = buttons.length - 1; }
      if (next === null) { return; }
      event.preventDefault();
      buttons[index].tabIndex = -1;
      buttons[next].tabIndex = 0;
      buttons[next].focus();
    });
  }

  var lostForm = document.getElementById("lost-form");
  document.addEventListener("click", function (event) {
    var target = event.target.closest ? event.target.closest("button") : null;
    if (!target) { return; }
    var stage = target.getAttribute("data-stage") || target.getAttribute("data-stage-menu");
    var isLost = target.getAttribute("data-outcome") === "lost" ||
      (lostForm && stage && lostForm.querySelector('input[name="stage"]').value === stage);
    if (lostForm && isLost && target.form && target.form.id === "stage-form") {
      event.preventDefault();
      lostForm.hidden = false;
      var field = lostForm.querySelector('[name="reason"]');
      if (field) { field.focus(); }
      return;
    }
    if (target.getAttribute("data-action") === "cancel-lost" && lostForm) {
      lostForm.hidden = true;
      return;
    }
    var question = target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); }
  });
})();
