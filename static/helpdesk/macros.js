// Ticket page: the reply box's macro picker (an ARIA combobox: type to
// filter, arrows to move, Enter or click to pick). A picked macro's text is
// added to the reply (a draft is kept: the text goes after it) and its
// changes fill the reply's fields; nothing is sent before the agent sends.
// Delegated listeners: the ticket page is swapped by htmx.
(function () {
  "use strict";

  function input() { return document.getElementById("macro-search"); }
  function listbox() { return document.getElementById("macro-options"); }
  function options() {
    var box = listbox();
    return box ? Array.prototype.slice.call(box.querySelectorAll("[role=option]")) : [];
  }
  function visible() { return options().filter(function (o) { return !o.hidden; }); }

  function setActive(option) {
    var field = input();
    options().forEach(function (o) {
      var on = o === option;
      o.setAttribute("aria-selected", on ? "true" : "false");
      o.classList.toggle("active", on);
    });
    if (option) {
      field.setAttribute("aria-activedescendant", option.id);
      option.scrollIntoView({ block: "nearest" });
    } else {
      field.removeAttribute("aria-activedescendant");
    }
  }

  function active() {
    return options().filter(function (o) { return o.getAttribute("aria-selected") === "true" && !o.hidden; })[0];
  }

  function open(show) {
    var box = listbox(), field = input();
    if (!box || !field) return;
    box.hidden = !show;
    field.setAttribute("aria-expanded", show ? "true" : "false");
    if (!show) setActive(null);
  }

  function filter() {
    var q = input().value.trim().toLowerCase();
    var shown = 0;
    options().forEach(function (o) {
      var match = !q || o.textContent.toLowerCase().indexOf(q) !== -1;
      o.hidden = !match;
      if (match) shown += 1;
    });
    var empty = listbox().querySelector("[data-macro-empty]");
    if (empty) empty.hidden = shown > 0;
    open(true);
    var list = visible();
    // An exact name first: typing the whole name and Enter picks that macro.
    var exact = list.filter(function (o) { return o.textContent.trim().toLowerCase() === q; })[0];
    setActive(exact || list[0] || null);
  }

  function say(text, isError) {
    var status = document.getElementById("macro-status");
    if (!status) return;
    status.textContent = text;
    status.classList.toggle("text-danger", !!isError);
  }

  function extraField(form, name) {
    var field = form.querySelector("[name=" + name + "]");
    if (field) return field;
    var tpl = document.getElementById("reply-extra-" + name);
    var holder = document.getElementById("reply-extras");
    if (!tpl || !holder) return null;
    holder.appendChild(tpl.content.cloneNode(true));
    tpl.remove();
    return form.querySelector("[name=" + name + "]");
  }

  function apply(form, data) {
    var body = form.querySelector("textarea[name=body]");
    if (body) {
      var draft = body.value.replace(/\s+$/, "");
      body.value = draft ? draft + "\n\n" + data.text : data.text;
    }
    var changes = data.changes || {};
    if (changes.status) {
      var status = form.querySelector("select[name=status]");
      if (status && status.querySelector("option[value='" + changes.status + "']")) status.value = changes.status;
    }
    if (changes.priority) {
      var priority = extraField(form, "priority");
      if (priority) priority.value = changes.priority;
    }
    if (changes.group) {
      var group = extraField(form, "group");
      if (group) group.value = String(changes.group.id);
    }
    if (changes.add_tags) {
      var tags = extraField(form, "add_tags");
      if (tags) {
        var words = tags.value.split(/[\s,]+/).filter(Boolean);
        changes.add_tags.forEach(function (t) { if (words.indexOf(t) === -1) words.push(t); });
        tags.value = words.join(" ");
      }
    }
    var macro = form.querySelector("input[name=macro]");
    if (macro) macro.value = data.macro.id;
    say([data.summary].concat(data.warnings || []).join(" "), false);
    if (body) {
      body.focus();
      body.setSelectionRange(body.value.length, body.value.length);
    }
  }

  function pick(option) {
    var field = input();
    var form = field && field.form;
    if (!option || !form) return;
    open(false);
    field.value = "";
    var token = form.querySelector("input[name=csrfmiddlewaretoken]");
    fetch(option.dataset.url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": token ? token.value : "", "Accept": "application/json" },
    }).then(function (r) {
      return r.json().then(function (data) { return { ok: r.ok, data: data }; });
    }).then(function (res) {
      if (!res.ok) { say(res.data.error || "", true); return; }
      apply(form, res.data);
    }).catch(function () {
      say(listbox().dataset.failed || "The macro could not be loaded; try again.", true);
    });
  }

  document.addEventListener("input", function (e) {
    if (e.target && e.target.id === "macro-search") filter();
  });
  document.addEventListener("focusin", function (e) {
    if (e.target && e.target.id === "macro-search" && e.target.value) filter();
  });
  document.addEventListener("focusout", function (e) {
    if (e.target && e.target.id === "macro-search") setTimeout(function () { open(false); }, 150);
  });
  document.addEventListener("keydown", function (e) {
    if (!e.target || e.target.id !== "macro-search") return;
    var list = visible(), current = active(), i = list.indexOf(current);
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      if (listbox().hidden) { filter(); return; }
      if (!list.length) return;
      i = e.key === "ArrowDown" ? Math.min(i + 1, list.length - 1) : Math.max(i - 1, 0);
      setActive(list[i]);
    } else if (e.key === "Enter") {
      e.preventDefault();  // never submits the reply
      if (current) pick(current);
    } else if (e.key === "Escape") {
      if (!listbox().hidden) { e.preventDefault(); open(false); }
    }
  });
  // mousedown, not click: the input keeps focus until the pick.
  document.addEventListener("mousedown", function (e) {
    var option = e.target.closest && e.target.closest("#macro-options [role=option]");
    if (option) { e.preventDefault(); pick(option); }
  });

  // A properties change swaps the whole ticket page: the reply being written
  // (text, status on send, a macro's changes) is carried over, not lost.
  var draft = null;
  document.addEventListener("htmx:beforeSwap", function (e) {
    var form = document.getElementById("reply-form");
    if (!form || !e.detail.target || !e.detail.target.contains(form)) { draft = null; return; }
    draft = {};
    ["body", "status", "priority", "group", "add_tags", "macro", "internal"].forEach(function (name) {
      var field = name === "internal" ? form.querySelector("input[name=internal]:checked") : form.querySelector("[name=" + name + "]");
      if (field) draft[name] = field.id === "kind-internal" ? "on" : field.value;
    });
    var status = document.getElementById("macro-status");
    draft.said = status ? status.textContent : "";
  });
  document.addEventListener("htmx:afterSwap", function () {
    var form = document.getElementById("reply-form");
    if (!draft || !form) { draft = null; return; }
    var d = draft;
    draft = null;
    Object.keys(d).forEach(function (name) {
      if (name === "said" || !d[name]) return;
      if (name === "internal") {
        var radio = document.getElementById(d[name] === "on" ? "kind-internal" : "kind-public");
        if (radio) radio.checked = true;
        return;
      }
      var field = ["priority", "group", "add_tags"].indexOf(name) !== -1 ? extraField(form, name) : form.querySelector("[name=" + name + "]");
      if (field) field.value = d[name];
    });
    if (d.said) say(d.said, false);
  });
})();
