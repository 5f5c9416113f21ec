// The frame's behaviour: CSRF header on htmx and fetch writes, keyboard shortcuts, toasts.
// Pages work without it; this only makes them quicker to use.
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  // htmx writes carry the session's CSRF token in a header (forms also send the field).
  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRF-Token"] = csrfToken();
  });

  // Expose a small helper for page scripts: JSON POST with the token.
  window.crm = window.crm || {};
  window.crm.csrfToken = csrfToken;
  window.crm.post = function (url, data) {
    var body = new URLSearchParams();
    Object.keys(data || {}).forEach(function (key) { body.append(key, data[key]); });
    body.append("csrf_token", csrfToken());
    return fetch(url, {
      method: "POST",
      headers: { "X-CSRF-Token": csrfToken(), "Accept": "application/json", "HX-Request": "true" },
      body: body,
      credentials: "same-origin"
    });
  };
  window.crm.toast = function (message) {
    var toast = document.getElementById("toast");
    if (!toast) { return; }
    toast.textContent = message;
    clearTimeout(window.crm._toastTimer);
    window.crm._toastTimer = setTimeout(function () { toast.textContent = ""; }, 4000);
  };

  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  var pendingG = false;
  document.addEventListener("keydown", function (event) {
    var search = document.getElementById("global-search");
    if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "k" && search) {
      event.preventDefault();
      search.focus();
      search.select();
      return;
    }
    if (typing(event.target) || event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (event.key === "/" && search) {
      event.preventDefault();
      search.focus();
      return;
    }
    if (pendingG) {
      pendingG = false;
      var jumps = { t: "/tasks", a: "/approvals", n: "/notifications" };
      if (jumps[event.key]) { window.location.href = jumps[event.key]; return; }
      var link = document.querySelector('.nav-list a[data-nav^="' + event.key + '"]');
      if (link) { window.location.href = link.getAttribute("href"); }
      return;
    }
    if (event.key === "g") { pendingG = true; setTimeout(function () { pendingG = false; }, 1200); }
    if (event.key === "Escape") {
      document.querySelectorAll("details.menu[open]").forEach(function (menu) { menu.removeAttribute("open"); });
    }
  });

  // The bottom bar's Search focuses the search box instead of leaving the page.
  document.addEventListener("click", function (event) {
    var trigger = event.target.closest && event.target.closest("[data-focus-search]");
    if (trigger) {
      var search = document.getElementById("global-search");
      if (search) { event.preventDefault(); search.focus(); }
    }
    // A click outside an open menu closes it.
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) { menu.removeAttribute("open"); }
    });
  });

  // Server-side messages for htmx swaps arrive as an HX-Trigger "toast" event.
  document.addEventListener("toast", function (event) {
    if (event.detail && event.detail.value) { window.crm.toast(event.detail.value); }
  });
})();
