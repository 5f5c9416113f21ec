// The list view's conveniences: the bulk bar follows the ticked rows, a click on a row opens the
// preview, inline editors save on Enter/blur and cancel on Esc, refused saves (409/422) are shown.
// Everything here only enhances plain links and forms; the list works without it.
(function () {
  "use strict";

  function bulkForm() { return document.getElementById("bulk-form"); }

  function ticked() {
    return Array.prototype.slice.call(document.querySelectorAll('input[name="ids"][form="bulk-form"]:checked'));
  }

  function updateBulkBar() {
    var form = bulkForm();
    if (!form) { return; }
    var count = ticked().length;
    form.hidden = count === 0;
    var label = form.querySelector(".bulk-count");
    if (label) {
      label.textContent = (document.documentElement.lang === "zh-CN" ? "已选 " + count + " 条：" : count + " selected:");
    }
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.classList && target.classList.contains("select-all")) {
      document.querySelectorAll('input[name="ids"][form="bulk-form"]').forEach(function (box) { box.checked = target.checked; });
    }
    if (target.name === "ids" || (target.classList && target.classList.contains("select-all"))) { updateBulkBar(); }
  });

  // A click on a row (not on its links, buttons or inputs) opens the side preview.
  document.addEventListener("click", function (event) {
    var target = event.target;
    if (target.closest("[data-close-preview]")) {
      var panel = document.getElementById("preview-panel");
      if (panel) { panel.innerHTML = ""; panel.classList.remove("open"); document.body.classList.remove("panel-open"); }
      return;
    }
    var confirmButton = target.closest("[data-confirm]");
    if (confirmButton && !window.confirm(confirmButton.getAttribute("data-confirm"))) {
      event.preventDefault();
      return;
    }
    var exportButton = target.closest('#bulk-form button[value="export"]');
    if (exportButton) {
      // The CSV is a download, not something to swap into the page: submit the form natively.
      event.preventDefault();
      var form = bulkForm();
      var action = document.createElement("input");
      action.type = "hidden"; action.name = "action"; action.value = "export";
      form.appendChild(action);
      HTMLFormElement.prototype.submit.call(form);
      form.removeChild(action);
      return;
    }
    var row = target.closest("tr[data-preview]");
    if (!row || target.closest("a, button, input, select, label, form")) { return; }
    var button = row.querySelector(".preview-button");
    if (button && window.htmx) { window.htmx.trigger(button, "click"); }
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (target && target.id === "preview-panel") {
      target.classList.add("open");
      document.body.classList.add("panel-open");
    }
    if (target && target.id === "list-region") { updateBulkBar(); }
    var editor = target && target.querySelector && target.querySelector(".cell-editor [name=value]");
    if (editor) { editor.focus(); }
  });

  // Refused inline saves come back as 409/422 fragments: show them in place, keeping the typed value.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    if ((status === 409 || status === 422) && event.detail.target && event.detail.target.closest(".list-region")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  document.addEventListener("keydown", function (event) {
    var editor = event.target.closest && event.target.closest(".cell-editor");
    if (editor && event.key === "Escape") {
      event.preventDefault();
      var cancel = editor.querySelector(".cancel");
      if (cancel && window.htmx) { window.htmx.trigger(cancel, "click"); }
    }
  });

  // Leaving an edited field saves it, as Enter does (a click on Cancel does not).
  document.addEventListener("focusout", function (event) {
    var editor = event.target.closest && event.target.closest(".cell-editor");
    if (!editor || event.target.name !== "value") { return; }
    var next = event.relatedTarget;
    // Moving to Save or Cancel is not leaving; an editor being swapped out is not either.
    if ((next && editor.contains(next)) || !editor.isConnected || editor.classList.contains("htmx-request")) { return; }
    if (window.htmx) { window.htmx.trigger(editor, "submit"); }
  });

  document.addEventListener("DOMContentLoaded", updateBulkBar);
})();
