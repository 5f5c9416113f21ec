// The kanban board's drag and drop (SortableJS) and moves without leaving the page.
// The page works without it: each card's "Move to…" menu and the drawer's form are plain POSTs.
(function () {
  "use strict";

  var board = document.getElementById("board");
  if (!board || !window.crm) { return; }
  var moveUrl = board.getAttribute("data-move-url");
  var drawerHost = document.getElementById("board-drawer");
  var live = document.getElementById("board-live");

  function announce(text) { if (live && text) { live.textContent = text; } }

  function fromHtml(html) {
    var holder = document.createElement("div");
    holder.innerHTML = html;
    return holder.firstElementChild;
  }

  function closeDrawer() { if (drawerHost) { drawerHost.innerHTML = ""; } }

  function openDrawer(html) {
    if (!drawerHost || !html) { return; }
    drawerHost.innerHTML = html;
    var first = drawerHost.querySelector(".drawer-field input, .drawer-field select, .drawer-field textarea");
    (first || drawerHost.querySelector("h2")).focus();
  }

  function list(stage) { return document.getElementById("cards-" + stage); }

  // Put a card back where it was before a refused move.
  function snapBack(card, origin) {
    if (!card || !origin || !origin.list) { return; }
    origin.list.insertBefore(card, origin.list.children[origin.index] || null);
  }

  function applyColumns(columns) {
    Object.keys(columns || {}).forEach(function (stage) {
      var header = document.getElementById("header-" + stage);
      if (header && columns[stage].header) { header.replaceWith(fromHtml(columns[stage].header)); }
    });
  }

  function send(data, card, origin) {
    if (card) { card.classList.add("moving"); }
    return window.crm.post(moveUrl, data).then(function (response) {
      var type = response.headers.get("content-type") || "";
      if (type.indexOf("application/json") === -1) {
        return response.text().then(function (text) { throw new Error(text || response.statusText); });
      }
      return response.json().then(function (answer) {
        if (card) { card.classList.remove("moving"); }
        if (!answer.ok) {
          snapBack(card, origin);
          openDrawer(answer.form);
          announce(answer.message);
          window.crm.toast(answer.message);
          return;
        }
        var target = list(answer.stage);
        if (card && target && card.parentNode !== target) { target.insertBefore(card, target.firstChild); }
        if (card && answer.card) {
          card.replaceWith(fromHtml(answer.card));
        } else if (card && !answer.card) {
          card.remove();  // it left what this user may see
        }
        applyColumns(answer.columns);
        closeDrawer();
        var header = document.getElementById("column-" + answer.stage + "-title");
        announce(header ? header.textContent : "");
      });
    }).catch(function (error) {
      if (card) { card.classList.remove("moving"); }
      snapBack(card, origin);
      window.crm.toast(error.message);
    });
  }

  function originOf(card) {
    if (!card || !card.parentNode) { return null; }
    return { list: card.parentNode, index: Array.prototype.indexOf.call(card.parentNode.children, card) };
  }

  if (window.Sortable) {
    board.querySelectorAll(".cards").forEach(function (cards) {
      window.Sortable.create(cards, {
        group: "board",
        sort: false,  // the order inside a column is computed (activity, then last update)
        draggable: ".card",
        filter: "[data-locked], [data-fixed], .move-menu",
        preventOnFilter: false,
        delay: 200,
        delayOnTouchOnly: true,
        animation: 150,
        onEnd: function (event) {
          if (event.from === event.to) { return; }
          var card = event.item;
          send(
            { id: card.getAttribute("data-id"), version: card.getAttribute("data-version"), stage: event.to.getAttribute("data-stage") },
            card,
            { list: event.from, index: event.oldIndex }
          );
        }
      });
    });
  }

  // "Move to…" menus and the drawer's form, without reloading the page.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("[data-move-form], [data-drawer-form]")) { return; }
    event.preventDefault();
    var data = {};
    new FormData(form).forEach(function (value, key) { if (key !== "csrf_token") { data[key] = value; } });
    if (event.submitter && event.submitter.name) { data[event.submitter.name] = event.submitter.value; }
    var card = document.getElementById("card-" + data.id);
    var origin = originOf(card);
    var target = list(data.stage);
    var menu = form.closest("details");
    if (menu) { menu.removeAttribute("open"); }
    // Optimistic: the card goes to its new column at once and comes back if the move is refused.
    if (card && target && card.parentNode !== target) { target.insertBefore(card, target.firstChild); }
    send(data, card, origin);
  });

  document.addEventListener("click", function (event) {
    var close = event.target.closest && event.target.closest("[data-close-drawer]");
    if (close && drawerHost && drawerHost.contains(close)) {
      event.preventDefault();
      closeDrawer();
    }
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && drawerHost && drawerHost.firstElementChild) { closeDrawer(); }
  });
})();
