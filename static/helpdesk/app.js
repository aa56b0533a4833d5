// Agent workspace behaviour: keyboard navigation in the queue (j/k, Enter),
// row clicks, select-all, and live refresh pushed over the websocket.
(function () {
  "use strict";

  function rows() { return Array.from(document.querySelectorAll("#queue tbody tr[data-href]")); }
  var selected = -1;

  function select(i) {
    var all = rows();
    if (!all.length) return;
    selected = Math.max(0, Math.min(i, all.length - 1));
    all.forEach(function (r, n) { r.classList.toggle("is-selected", n === selected); });
    all[selected].scrollIntoView({ block: "nearest" });
  }

  document.addEventListener("keydown", function (e) {
    var t = e.target;
    if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) return;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (!document.getElementById("queue")) return;
    if (e.key === "j") { select(selected + 1); e.preventDefault(); }
    else if (e.key === "k") { select(selected - 1); e.preventDefault(); }
    else if (e.key === "Enter" && selected >= 0) {
      var r = rows()[selected];
      if (r) { window.location = r.dataset.href; e.preventDefault(); }
    }
  });

  document.addEventListener("click", function (e) {
    var row = e.target.closest && e.target.closest("#queue tbody tr[data-href]");
    if (row && !e.target.closest("a, input, label, button")) { window.location = row.dataset.href; }
    var all = e.target.closest && e.target.closest("[data-select-all]");
    if (all) {
      document.querySelectorAll("#queue tbody input[name=tickets]").forEach(function (c) { c.checked = all.checked; });
    }
  });

  // The queue's periodic refresh waits while rows are ticked for a bulk action
  // (a swap would drop the ticks). Here, not in an hx-trigger filter: the CSP
  // allows no eval. A push (queue-changed) still refreshes.
  document.addEventListener("htmx:beforeRequest", function (e) {
    var elt = e.detail && e.detail.elt;
    if (elt && elt.id === "queue-table" && !e.detail.requestConfig.triggeringEvent &&
        document.querySelector("#queue-table input[name=tickets]:checked")) {
      e.preventDefault();
    }
  });

  // Selects marked data-autosubmit (the language switcher) submit their form on change.
  document.addEventListener("change", function (e) {
    if (e.target && e.target.matches && e.target.matches("select[data-autosubmit]") && e.target.form) {
      e.target.form.submit();
    }
  });

  // After htmx swaps the rows, keep the keyboard selection where it was.
  document.addEventListener("htmx:afterSwap", function (e) {
    if (e.target && e.target.id === "queue-table" && selected >= 0) select(selected);
  });

  // Queue filters: a 400 carries the field errors, so it is shown like a 200
  // (htmx would drop it and leave a stale table); mark the fields in error.
  document.addEventListener("htmx:beforeSwap", function (e) {
    if (e.detail.target && e.detail.target.id === "queue-table" && e.detail.xhr.status === 400) {
      e.detail.shouldSwap = true;
      e.detail.isError = false;
    }
  });
  document.addEventListener("htmx:afterSettle", function () {
    document.querySelectorAll("#queue-filters [data-error-for]").forEach(function (el) {
      var field = document.getElementById(el.dataset.errorFor);
      if (!field) return;
      var bad = el.textContent.trim() !== "";
      field.classList.toggle("is-invalid", bad);
      if (bad) field.setAttribute("aria-invalid", "true"); else field.removeAttribute("aria-invalid");
    });
  });

  // Dismiss flash messages after a while.
  function fadeMessages() {
    document.querySelectorAll("#messages .alert-success, #messages .alert-info").forEach(function (el) {
      setTimeout(function () { el.remove(); }, 6000);
    });
  }
  document.addEventListener("DOMContentLoaded", fadeMessages);
  document.addEventListener("htmx:afterSettle", fadeMessages);

  // Live updates: the server pushes "something changed" and the page refetches
  // through HTTP (permissions stay in the selectors). Polling remains as fallback.
  function connect(delay) {
    if (!document.getElementById("queue-table") || !window.WebSocket) return;
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var ws;
    try { ws = new WebSocket(scheme + window.location.host + "/ws/agent/queue/"); } catch (err) { return; }
    var timer = null;
    ws.onmessage = function () {
      clearTimeout(timer);
      timer = setTimeout(function () { document.body.dispatchEvent(new Event("queue-changed")); }, 250);
    };
    ws.onclose = function (e) {
      if (e.code === 4403) return;
      setTimeout(function () { connect(Math.min((delay || 1000) * 2, 30000)); }, delay || 1000);
    };
  }
  document.addEventListener("DOMContentLoaded", function () { connect(1000); });

  // Ticket properties panel. A refused save (400) and a ticket the agent no
  // longer sees (403/404) come back as HTML to show: the panel as stored with
  // the error beside the field, or why the ticket is gone and where to go.
  document.addEventListener("htmx:beforeSwap", function (e) {
    var xhr = e.detail.xhr;
    if (!xhr || xhr.status < 400 || xhr.status >= 500) return;
    var elt = e.detail.requestConfig && e.detail.requestConfig.elt;
    if (xhr.getResponseHeader("HX-Retarget") || (elt && elt.closest && elt.closest("[data-swap-errors]"))) {
      e.detail.shouldSwap = true;
      e.detail.isError = false;
    }
  });

  // Keep the agent where they were: the focused control and the scroll
  // position survive the swap of the ticket page.
  var kept = null;
  document.addEventListener("htmx:beforeSwap", function (e) {
    var active = document.activeElement;
    kept = { id: active && active.id, x: window.scrollX, y: window.scrollY };
  });
  function restore(done) {
    if (!kept) return;
    var k = kept;
    if (done) kept = null;
    // Only focus that the swap dropped comes back: an agent who has moved on
    // to another field (the swap's settle comes ~20 ms later) keeps it.
    var el = k.id && document.getElementById(k.id), active = document.activeElement;
    if (el && el !== active && (!active || active === document.body)) el.focus({ preventScroll: true });
    // "instant": the page's smooth scrolling would glide back from where
    // the swap left it; restored before paint, the agent sees no jump.
    if (window.scrollX !== k.x || window.scrollY !== k.y) window.scrollTo({ left: k.x, top: k.y, behavior: "instant" });
  }
  document.addEventListener("htmx:afterSwap", function () { restore(false); });
  document.addEventListener("htmx:afterSettle", function () { restore(true); });

  // A save that never got an answer (network, 5xx): put the stored value back
  // and say so, rather than leave the panel showing an unsaved value.
  function failedSave(e) {
    var elt = e.detail && e.detail.elt;
    if (!elt || !elt.closest || !elt.closest("#properties")) return;
    if (elt.tagName === "SELECT") {
      Array.prototype.forEach.call(elt.options, function (o) { o.selected = o.defaultSelected; });
    } else if ("defaultValue" in elt) {
      elt.value = elt.defaultValue;
    }
    var box = document.getElementById("messages");
    if (box) {
      var div = document.createElement("div");
      div.className = "alert alert-danger shadow-sm toast-message";
      div.setAttribute("role", "alert");
      div.textContent = (document.getElementById("properties").dataset.failed || "Not saved.");
      box.appendChild(div);
    }
  }
  document.addEventListener("htmx:responseError", failedSave);
  document.addEventListener("htmx:sendError", failedSave);

  // The ticket page: on a push, refetch the page and swap in the conversation,
  // the header and the properties panel (never the reply box: the draft
  // stays); a panel holding the focus waits until the agent leaves it. The
  // socket also says who else has the ticket open.
  function ticketPage() { return document.querySelector("[data-live-ticket]"); }

  function swapTicket(html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    [["#timeline", "innerHTML"], ["#ticket-main .page-header", "outerHTML"]].forEach(function (part) {
      var now = document.querySelector(part[0]), fresh = doc.querySelector(part[0]);
      if (now && fresh) now[part[1]] = fresh[part[1]];
    });
    // The side conversations' list (an expert answered): not while the agent writes a reply in it.
    var sides = document.getElementById("side-conversations-list"), freshSides = doc.getElementById("side-conversations-list");
    var drafting = sides && Array.prototype.some.call(sides.querySelectorAll("textarea"), function (t) { return t.value.trim(); });
    if (sides && freshSides && !drafting && !sides.contains(document.activeElement)) {
      sides.replaceWith(freshSides);
      if (window.htmx) window.htmx.process(freshSides);
    }
    var panel = document.getElementById("properties"), freshPanel = doc.getElementById("properties");
    if (!panel || !freshPanel) return;
    if (panel.contains(document.activeElement)) {
      panel.addEventListener("focusout", function later(e) {
        if (panel.contains(e.relatedTarget)) return;
        panel.removeEventListener("focusout", later);
        refreshTicket();
      });
      return;
    }
    panel.replaceWith(freshPanel);
    if (window.htmx) window.htmx.process(freshPanel);
  }

  function refreshTicket() {
    var page = ticketPage();
    if (!page) return;
    fetch(window.location.pathname, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { if (r.ok) return r.text(); if (r.status === 404) showGone(); })
      .then(function (html) { if (html) swapTicket(html); })
      .catch(function () { /* the next push or a reload will do */ });
  }

  function showViewers(names) {
    var el = document.getElementById("ticket-presence");
    if (!el) return;
    el.hidden = !names.length;
    el.textContent = names.length ? el.dataset.label + " " + names.join(", ") : "";
  }

  function showGone() {
    var el = document.getElementById("ticket-presence");
    if (!el) return;
    el.hidden = false;
    el.textContent = el.dataset.gone;
  }

  function connectTicket(delay) {
    var page = ticketPage();
    if (!page || !window.WebSocket) return;
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var ws;
    try { ws = new WebSocket(scheme + window.location.host + "/ws/agent/tickets/" + page.dataset.liveTicket + "/"); } catch (err) { return; }
    var timer = null;
    ws.onopen = function () { delay = 1000; };
    ws.onmessage = function (e) {
      var data;
      try { data = JSON.parse(e.data); } catch (err) { return; }
      if (data.viewers) { showViewers(data.viewers); return; }
      if (data.event === "gone") { showGone(); return; }
      clearTimeout(timer);
      timer = setTimeout(refreshTicket, 250);
    };
    ws.onclose = function (e) {
      if (e.code === 4403 || e.code === 4404) return;
      setTimeout(function () { connectTicket(Math.min(delay * 2, 30000)); }, delay);
    };
  }
  document.addEventListener("DOMContentLoaded", function () { connectTicket(1000); });

  // New-ticket form: show only the chosen type's custom fields.
  function syncTypeFields() {
    var select = document.getElementById("id_type");
    if (!select) return;
    document.querySelectorAll(".type-fields").forEach(function (fs) {
      fs.hidden = fs.dataset.type !== select.value;
    });
  }
  document.addEventListener("DOMContentLoaded", syncTypeFields);
  document.addEventListener("change", function (e) { if (e.target && e.target.id === "id_type") syncTypeFields(); });
})();
