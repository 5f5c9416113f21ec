// Create and edit forms: focus the first error, check fields on blur and submit, lookup type-ahead.
// The server stays the authority: everything here only answers sooner, and the form works without it.
(function () {
  "use strict";

  var form = document.getElementById("record-form");
  if (!form) { return; }

  function message(name, values) {
    var text = form.getAttribute("data-" + name + "-message") || "";
    Object.keys(values || {}).forEach(function (key) { text = text.replace("{" + key + "}", values[key]); });
    return text;
  }

  // -- errors under fields ----------------------------------------------------------------------

  function wrapperOf(input) { return input.closest(".form-field"); }

  function describedBy(input, id, add) {
    var ids = (input.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean);
    ids = ids.filter(function (other) { return other !== id; });
    if (add) { ids.push(id); }
    if (ids.length) { input.setAttribute("aria-describedby", ids.join(" ")); } else { input.removeAttribute("aria-describedby"); }
  }

  function setError(input, text) {
    var wrapper = wrapperOf(input);
    if (!wrapper) { return; }
    var name = wrapper.getAttribute("data-field");
    var id = "err-" + name;
    var node = document.getElementById(id);
    if (text) {
      if (!node) {
        node = document.createElement("p");
        node.className = "field-error";
        node.id = id;
        wrapper.appendChild(node);
      }
      node.textContent = text;
      input.setAttribute("aria-invalid", "true");
      describedBy(input, id, true);
      wrapper.classList.add("has-error");
    } else {
      if (node) { node.remove(); }
      input.removeAttribute("aria-invalid");
      describedBy(input, id, false);
      wrapper.classList.remove("has-error");
    }
  }

  function check(input) {
    var value = (input.value || "").trim();
    if (input.type === "checkbox" || input.type === "hidden" || input.disabled) { return ""; }
    if (!value) { return input.hasAttribute("required") ? message("required") : ""; }
    var kind = input.getAttribute("data-kind");
    if (kind) {
      var number = Number(value);
      if (!/^[-+]?(\d+\.?\d*|\.\d+)$/.test(value) || !isFinite(number)) { return message("number"); }
      var min = input.getAttribute("data-min");
      var max = input.getAttribute("data-max");
      if (min !== null && number < Number(min)) { return message("min", { min: min }); }
      if (max !== null && number > Number(max)) { return message("max", { max: max }); }
    }
    var pattern = input.getAttribute("pattern");
    if (pattern) {
      try {
        if (!new RegExp("^(?:" + pattern + ")$").test(value)) { return message("pattern"); }
      } catch (e) { /* a pattern the browser cannot read is checked by the server alone */ }
    }
    if (input.type === "email" && !/^[^@\s]+@[^@\s]+\.[^@\s.]+$/.test(value)) { return message("email"); }
    return "";
  }

  function checked(input) {
    var problem = check(input);
    // A message from the server stays until the value changes.
    if (!problem && input.getAttribute("data-server-error") === input.value) { return; }
    setError(input, problem);
  }

  form.querySelectorAll("[aria-invalid=true]").forEach(function (input) {
    if ("value" in input) { input.setAttribute("data-server-error", input.value); }
  });

  form.addEventListener("blur", function (event) {
    var input = event.target;
    if (input.matches && input.matches("input, select, textarea") && input.name) { checked(input); }
  }, true);

  form.addEventListener("submit", function (event) {
    var first = null;
    form.querySelectorAll("input[name], select[name], textarea[name]").forEach(function (input) {
      if (input.name === "csrf_token" || input.name === "version") { return; }
      var problem = check(input);
      if (problem) { setError(input, problem); first = first || input; }
    });
    // Text typed in a type-ahead without picking a record would be lost silently.
    form.querySelectorAll(".lookup.enhanced").forEach(function (box) {
      var search = box.querySelector("[role=combobox]");
      var id = box.querySelector("input[name]");
      if (search.value.trim() && !id.value) {
        setError(search, message("pick"));
        first = first || search;
      }
    });
    if (first) {
      event.preventDefault();
      focusField(first);
    }
  });

  function focusField(input) {
    var lookup = input.closest(".lookup.enhanced");
    var target = lookup ? lookup.querySelector("[role=combobox]") : input;
    if (target && target.focus) { target.focus(); }
  }

  // The first error gets the focus (autofocus does it without JS; this covers enhanced lookups).
  var firstInvalid = form.querySelector("[aria-invalid=true]");
  if (firstInvalid) { focusField(firstInvalid.matches("fieldset") ? firstInvalid.querySelector("input") : firstInvalid); }

  // Summary links move the focus to their field.
  document.querySelectorAll(".form-summary a[href^='#']").forEach(function (link) {
    link.addEventListener("click", function (event) {
      var field = document.getElementById(link.getAttribute("href").slice(1));
      if (!field) { return; }
      event.preventDefault();
      focusField(field.matches("fieldset") ? field.querySelector("input") : field);
    });
  });

  // -- lookup type-ahead ------------------------------------------------------------------------

  function enhance(box) {
    var idInput = box.querySelector("input[name]");
    var title = box.querySelector("[data-lookup-title]");
    var url = box.getAttribute("data-lookup-url");
    var name = idInput.name;
    var search = document.createElement("input");
    var list = document.createElement("div");
    var timer = null;
    var active = -1;
    var asked = 0;

    search.type = "text";
    search.id = idInput.id + "-search";
    search.autocomplete = "off";
    search.value = title && idInput.value ? title.textContent.trim() : "";
    search.setAttribute("role", "combobox");
    search.setAttribute("aria-autocomplete", "list");
    search.setAttribute("aria-expanded", "false");
    search.setAttribute("aria-controls", "lookup-" + name);
    search.setAttribute("aria-label", box.getAttribute("data-search-label") || "");
    ["aria-required", "aria-invalid", "aria-describedby", "required"].forEach(function (attr) {
      if (idInput.hasAttribute(attr)) { search.setAttribute(attr, idInput.getAttribute(attr)); }
    });
    list.id = "lookup-" + name;
    list.hidden = true;
    idInput.type = "hidden";
    idInput.removeAttribute("required");
    if (title) { title.hidden = true; }
    var label = form.querySelector("label[for='" + idInput.id + "']");
    if (label) { label.htmlFor = search.id; }
    box.insertBefore(search, idInput);
    box.appendChild(list);
    box.classList.add("enhanced");

    function options() { return Array.prototype.slice.call(list.querySelectorAll("[role=option]")); }

    function close() {
      list.hidden = true;
      search.setAttribute("aria-expanded", "false");
      search.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function highlight(index) {
      var items = options();
      if (!items.length) { return; }
      active = (index + items.length) % items.length;
      items.forEach(function (item, i) { item.setAttribute("aria-selected", i === active ? "true" : "false"); });
      if (items[active].id) { search.setAttribute("aria-activedescendant", items[active].id); }
      items[active].scrollIntoView({ block: "nearest" });
    }

    function choose(item) {
      if (item.hasAttribute("data-create")) { window.location.href = item.getAttribute("data-create"); return; }
      idInput.value = item.getAttribute("data-id");
      search.value = item.getAttribute("data-title");
      search.removeAttribute("aria-invalid");
      setError(search, "");
      close();
    }

    function fetchOptions() {
      // Only the answer to the latest question is shown: an earlier, slower one is dropped.
      var question = ++asked;
      fetch(url + "?q=" + encodeURIComponent(search.value.trim()), {
        headers: { "HX-Request": "true" },
        credentials: "same-origin"
      }).then(function (response) {
        return response.ok ? response.text() : "";
      }).then(function (html) {
        if (question !== asked) { return; }
        list.innerHTML = html;
        var ul = list.querySelector("[role=listbox]");
        if (ul) { ul.id = list.id + "-box"; search.setAttribute("aria-controls", ul.id); }
        list.hidden = false;
        search.setAttribute("aria-expanded", "true");
        active = -1;
      }).catch(function () { close(); });
    }

    search.addEventListener("input", function () {
      // Typing replaces the chosen record until another one is picked.
      idInput.value = "";
      clearTimeout(timer);
      timer = setTimeout(fetchOptions, 200);
    });
    search.addEventListener("focus", function () { if (!search.value) { fetchOptions(); } });
    search.addEventListener("keydown", function (event) {
      if (event.key === "ArrowDown") { event.preventDefault(); if (list.hidden) { fetchOptions(); } else { highlight(active + 1); } }
      else if (event.key === "ArrowUp") { event.preventDefault(); highlight(active - 1); }
      else if (event.key === "Enter" && !list.hidden && active >= 0) { event.preventDefault(); choose(options()[active]); }
      else if (event.key === "Escape") { close(); }
    });
    list.addEventListener("mousedown", function (event) {
      var item = event.target.closest("[role=option]");
      if (item) { event.preventDefault(); choose(item); }
    });
    search.addEventListener("blur", function () {
      setTimeout(close, 150);
      if (!search.value.trim()) { idInput.value = ""; }
    });
  }

  form.querySelectorAll(".lookup[data-lookup-url]").forEach(enhance);
})();
