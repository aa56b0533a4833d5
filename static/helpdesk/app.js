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
