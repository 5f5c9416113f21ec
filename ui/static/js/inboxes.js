// The inboxes' small conveniences: an optimistic tick (rolled back with a message if the save
// fails) and a toast that fades on its own. Every form works without this file.
(function () {
  "use strict";

  // Tick at once; the server's answer replaces the row anyway.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = event.target;
    if (!form.classList || !form.classList.contains("tick-form")) { return; }
    var row = form.closest(".task");
    if (row) { row.classList.toggle("is-done"); row.dataset.optimistic = "1"; }
  });

  function rollBack(event) {
    var form = event.target;
    if (!form.classList || !form.classList.contains("tick-form")) { return; }
    var row = form.closest(".task");
    if (row && row.dataset.optimistic) {
      row.classList.toggle("is-done");
      delete row.dataset.optimistic;
    }
    var list = document.getElementById("task-list");
    if (list && window.crm && window.crm.toast) { window.crm.toast(list.getAttribute("data-failed")); }
  }
  document.addEventListener("htmx:responseError", rollBack);
  document.addEventListener("htmx:sendError", rollBack);

  // The tasks toast (with Undo) fades after a while, unless the pointer or focus is in it.
  var fadeTimer = null;
  document.addEventListener("htmx:afterSettle", function () {
    var toast = document.getElementById("task-toast");
    if (!toast || !toast.textContent.trim()) { return; }
    toast.classList.remove("is-fading");
    clearTimeout(fadeTimer);
    fadeTimer = setTimeout(function () {
      if (toast.matches(":hover") || toast.contains(document.activeElement)) { return; }
      toast.classList.add("is-fading");
      setTimeout(function () { toast.textContent = ""; toast.classList.remove("is-fading"); }, 450);
    }, 8000);
  });
})();
