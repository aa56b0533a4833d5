// Trigger admin: edit conditions as rows of field / operator / value, and
// actions as rows of an action type and its parameters, instead of typing JSON.
// The JSON textareas stay the source of truth (the server validates them); the
// rows rewrite them on every change. Without JavaScript the JSON is edited.
(function () {
  "use strict";
  // Labels in the admin's language: /i18n/js/ (Django's JavaScript catalog) defines
  // gettext and interpolate; without it the English text stands.
  var gettext = window.gettext || function (text) { return text; };
  var interpolate = window.interpolate || function (fmt, args) {
    var i = 0;
    return fmt.replace(/%s/g, function () { return String(args[i++]); });
  };

  function option(select, value, label) {
    var o = document.createElement("option"); o.value = value; o.textContent = label || value; select.appendChild(o);
    return o;
  }
  function labelFor(control, text, className) {
    var l = document.createElement("label"); l.htmlFor = control.id; l.textContent = text;
    if (className) l.className = className;
    return l;
  }
  function button(text, onclick) {
    var b = document.createElement("button"); b.type = "button"; b.className = "button"; b.textContent = text;
    b.onclick = onclick;
    return b;
  }
  // The editor goes above its textarea, both in one column next to the field's label.
  function mount(textarea, className) {
    var column = document.createElement("div");
    column.className = "trigger-editor-column";
    textarea.parentNode.insertBefore(column, textarea);
    var editor = document.createElement("div");
    editor.className = "trigger-editor " + className;
    column.appendChild(editor);
    column.appendChild(textarea);
    return editor;
  }

  function initConditions(ref) {
    var textarea = document.getElementById("id_conditions");
    if (!textarea) return;
    var data;
    try { data = JSON.parse(textarea.value || "{}"); } catch (e) { return; }  // leave broken JSON to the server
    data.all = data.all || []; data.any = data.any || [];
    var noValue = ["is_set", "is_not_set", "changed"];
    var listValue = ["in", "not_in"];

    var editor = mount(textarea, "trigger-conditions");
    textarea.rows = 4;

    function valueText(cond) {
      if (cond.value === undefined || cond.value === null) return "";
      return Array.isArray(cond.value) ? cond.value.join(", ") : String(cond.value);
    }
    function parseValue(text, operator) {
      if (listValue.indexOf(operator) >= 0) return text.split(",").map(function (s) { return s.trim(); }).filter(Boolean);
      if (text === "true") return true;
      if (text === "false") return false;
      if (text !== "" && !isNaN(Number(text)) && ["gt", "lt"].indexOf(operator) >= 0) return Number(text);
      return text;
    }
    function sync() { textarea.value = JSON.stringify(data, null, 2); }

    function render() {
      editor.innerHTML = "";
      ["all", "any"].forEach(function (group) {
        var box = document.createElement("fieldset");
        box.className = "module aligned";
        var legend = document.createElement("h3");
        legend.textContent = group === "all" ? gettext("All of these conditions") : gettext("Any of these conditions");
        box.appendChild(legend);
        data[group].forEach(function (cond, i) {
          var row = document.createElement("div");
          row.className = "form-row trigger-row trigger-condition";
          var id = "cond-" + group + "-" + i;
          var field = document.createElement("select"); field.id = id + "-field";
          var fl = labelFor(field, gettext("Field"));
          Object.keys(ref.fields).forEach(function (f) { option(field, f); });
          if (!(cond.field in ref.fields)) option(field, cond.field);
          field.value = cond.field;
          var op = document.createElement("select"); op.id = id + "-operator";
          var ol = labelFor(op, gettext("Operator"));
          (ref.fields[cond.field] || [cond.operator]).forEach(function (o) { option(op, o); });
          op.value = cond.operator;
          var val = document.createElement("input"); val.id = id + "-value"; val.value = valueText(cond);
          val.placeholder = gettext("value (lists: a, b)");
          var vl = labelFor(val, gettext("Value"));
          val.disabled = noValue.indexOf(cond.operator) >= 0;
          var remove = button(gettext("Remove"), function () { data[group].splice(i, 1); sync(); render(); });
          field.onchange = function () { cond.field = field.value; cond.operator = (ref.fields[field.value] || ["is"])[0]; sync(); render(); };
          op.onchange = function () {
            cond.operator = op.value;
            if (noValue.indexOf(op.value) >= 0) delete cond.value; else cond.value = parseValue(val.value, op.value);
            sync(); render();
          };
          val.oninput = function () { cond.value = parseValue(val.value, cond.operator); sync(); };
          [fl, field, ol, op, vl, val, remove].forEach(function (n) { row.appendChild(n); row.appendChild(document.createTextNode(" ")); });
          box.appendChild(row);
        });
        box.appendChild(button(group === "all" ? gettext("Add an “all” condition") : gettext("Add an “any” condition"), function () {
          data[group].push({ field: "type", operator: "is", value: "" }); sync(); render();
        }));
        editor.appendChild(box);
      });
    }
    render();
  }

  // Actions: [{"type": ..., parameters...}]. ref.action_params gives each type's
  // parameters ({name, kind, label, choices, required, blank, placeholder});
  // ref.choices the values a "choice" parameter may take, as [value, label].
  // Keys that are not parameters of the action's type are kept as they are.
  function initActions(ref) {
    var textarea = document.getElementById("id_actions");
    if (!textarea || !ref.action_params) return;
    var params = ref.action_params, choices = ref.choices || {}, labels = ref.action_labels || {};
    var data = parse(textarea.value);
    var editor = mount(textarea, "trigger-actions");
    textarea.rows = 6;

    function parse(text) {
      try { var value = JSON.parse(text || "[]"); } catch (e) { return null; }
      return Array.isArray(value) ? value : null;
    }
    function sync() { textarea.value = JSON.stringify(data, null, 2); }
    function isAction(action) { return action !== null && typeof action === "object" && !Array.isArray(action); }
    function specsOf(type) { return params.hasOwnProperty(type) ? params[type] : []; }
    function names(specs) { return specs.map(function (p) { return p.name; }); }
    function choiceValues(spec) { return (choices[spec.choices] || []).map(function (c) { return c[0]; }); }

    // A new type: drop the old type's parameters the new one doesn't have, give
    // required choices a valid value, keep every other key (and "type" first).
    function retype(action, type) {
      var keep = names(specsOf(type)), dropped = names(specsOf(action.type)).filter(function (n) { return keep.indexOf(n) < 0; });
      var result = { type: type };
      Object.keys(action).forEach(function (key) {
        if (key !== "type" && dropped.indexOf(key) < 0) result[key] = action[key];
      });
      specsOf(type).forEach(function (spec) {
        var has = result[spec.name] !== undefined;
        if (spec.kind === "choice" && has && choiceValues(spec).indexOf(String(result[spec.name])) < 0) {
          delete result[spec.name]; has = false;
        }
        if (!has && spec.required) {
          if (spec.kind === "choice") { if (choiceValues(spec).length) result[spec.name] = choiceValues(spec)[0]; }
          else result[spec.name] = spec.kind === "tags" ? [] : "";
        }
      });
      return result;
    }

    function paramControl(action, spec, id) {
      var current = action[spec.name], control, wrap = document.createElement("span");
      wrap.className = "trigger-param trigger-param-" + spec.kind;
      if (spec.kind === "choice") {
        control = document.createElement("select");
        var values = choiceValues(spec), unknown = null;
        if (current === undefined || !spec.required) option(control, "", spec.required ? gettext("— choose —") : (spec.blank || "—"));
        (choices[spec.choices] || []).forEach(function (c) { option(control, c[0], c[1]); });
        if (current !== undefined && values.indexOf(String(current)) < 0) {
          unknown = String(current);
          option(control, unknown, interpolate(gettext("%s (not in the list)"), [unknown]));
        }
        control.value = current === undefined ? "" : String(current);
        control.onchange = function () {
          if (control.value === "") delete action[spec.name];
          else if (control.value !== unknown) action[spec.name] = control.value;
          else action[spec.name] = current;  // the value as it was (e.g. a number)
          sync();
        };
      } else if (spec.kind === "bool") {
        control = document.createElement("input"); control.type = "checkbox";
        control.checked = current === true;
        control.onchange = function () { if (control.checked) action[spec.name] = true; else delete action[spec.name]; sync(); };
      } else {
        control = document.createElement("input");
        control.type = spec.kind === "url" ? "url" : "text";
        if (spec.kind === "tags") control.value = Array.isArray(current) ? current.join(", ") : (current === undefined ? "" : String(current));
        else control.value = current === undefined || current === null ? "" : String(current);
        control.oninput = function () {
          var text = control.value;
          if (spec.kind === "tags") action[spec.name] = text.split(",").map(function (s) { return s.trim(); }).filter(Boolean);
          else if (text === "" && !spec.required) delete action[spec.name];
          else action[spec.name] = text;
          sync();
        };
      }
      control.id = id;
      if (spec.placeholder && control.type !== "checkbox") control.placeholder = spec.placeholder;
      if (spec.kind === "bool") { wrap.appendChild(control); wrap.appendChild(labelFor(control, spec.label, "vCheckboxLabel")); }
      else { wrap.appendChild(labelFor(control, spec.label)); wrap.appendChild(control); }
      return wrap;
    }

    function actionRow(action, i) {
      var row = document.createElement("div");
      row.className = "form-row trigger-row trigger-action";
      var id = "action-" + i;
      var number = document.createElement("span"); number.className = "trigger-action-number"; number.textContent = (i + 1) + ".";
      row.appendChild(number);
      var remove = button(gettext("Remove"), function () {
        data.splice(i, 1); sync(); render();
        var next = editor.querySelector("#action-" + Math.min(i, data.length - 1) + "-type") || editor.querySelector(".trigger-add-action");
        if (next) next.focus();
      });
      remove.setAttribute("aria-label", interpolate(gettext("Remove action %s"), [i + 1]));
      if (!isAction(action)) {
        var odd = document.createElement("code"); odd.textContent = gettext("Not an action: ") + JSON.stringify(action);
        row.appendChild(odd); row.appendChild(remove);
        return row;
      }
      var type = document.createElement("select"); type.id = id + "-type";
      var typeWrap = document.createElement("span"); typeWrap.className = "trigger-param trigger-param-type";
      typeWrap.appendChild(labelFor(type, gettext("Action"))); typeWrap.appendChild(type);
      if (!params.hasOwnProperty(action.type)) option(type, action.type === undefined ? "" : String(action.type), action.type ? action.type + " (unknown)" : "— choose an action —");
      Object.keys(params).forEach(function (t) { option(type, t, labels[t] ? labels[t] + " (" + t + ")" : t); });
      type.value = action.type === undefined ? "" : String(action.type);
      type.onchange = function () {
        if (!params.hasOwnProperty(type.value)) return;
        data[i] = retype(action, type.value); sync(); render();
        editor.querySelector("#" + type.id).focus();
      };
      row.appendChild(typeWrap);
      specsOf(action.type).forEach(function (spec) { row.appendChild(paramControl(action, spec, id + "-" + spec.name)); });
      row.appendChild(remove);
      var known = ["type"].concat(names(specsOf(action.type))), extra = {};
      Object.keys(action).forEach(function (key) { if (known.indexOf(key) < 0) extra[key] = action[key]; });
      if (Object.keys(extra).length) {
        var note = document.createElement("div"); note.className = "help trigger-extra";
        note.textContent = gettext("Also kept as they are (edit them in the JSON): ") + JSON.stringify(extra);
        row.appendChild(note);
      }
      return row;
    }

    function render() {
      editor.innerHTML = "";
      var box = document.createElement("fieldset");
      box.className = "module aligned";
      var legend = document.createElement("h3");
      legend.textContent = gettext("Actions, run in this order");
      box.appendChild(legend);
      if (data === null) {
        var broken = document.createElement("p"); broken.className = "help";
        broken.textContent = gettext("The JSON below is not a list of actions; correct it there and the rows come back.");
        box.appendChild(broken);
      } else {
        data.forEach(function (action, i) { box.appendChild(actionRow(action, i)); });
        var add = button(gettext("Add an action"), function () {
          data.push({ type: "" }); sync(); render();
          editor.querySelector("#action-" + (data.length - 1) + "-type").focus();
        });
        add.className += " trigger-add-action";
        box.appendChild(add);
      }
      editor.appendChild(box);
    }
    // Typing in the JSON redraws the rows (as soon as it parses).
    textarea.addEventListener("input", function () {
      var parsed = parse(textarea.value);
      if (parsed !== null || data !== null) { data = parsed; render(); }
    });
    render();
  }

  function init() {
    var refNode = document.getElementById("trigger-reference");
    if (!refNode) return;
    var ref = JSON.parse(refNode.textContent);
    initConditions(ref);
    initActions(ref);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
})();
