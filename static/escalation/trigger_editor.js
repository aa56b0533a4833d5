// Trigger admin: edit conditions as rows of field / operator / value instead of
// typing JSON. The JSON textarea stays the source of truth (the server validates
// it); the rows rewrite it on every change. Without JavaScript the JSON is edited.
(function () {
  "use strict";
  function init() {
    var textarea = document.getElementById("id_conditions");
    var refNode = document.getElementById("trigger-reference");
    if (!textarea || !refNode) return;
    var ref = JSON.parse(refNode.textContent);
    var data;
    try { data = JSON.parse(textarea.value || "{}"); } catch (e) { return; }  // leave broken JSON to the server
    data.all = data.all || []; data.any = data.any || [];
    var noValue = ["is_set", "is_not_set", "changed"];
    var listValue = ["in", "not_in"];

    var editor = document.createElement("div");
    editor.className = "trigger-editor";
    editor.style.cssText = "flex-basis:100%;width:100%;margin-bottom:.5rem";
    textarea.parentNode.insertBefore(editor, textarea);
    textarea.rows = 4;

    function option(select, value, label) {
      var o = document.createElement("option"); o.value = value; o.textContent = label || value; select.appendChild(o);
    }
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
        legend.textContent = group === "all" ? "All of these conditions" : "Any of these conditions";
        box.appendChild(legend);
        data[group].forEach(function (cond, i) {
          var row = document.createElement("div");
          row.className = "form-row trigger-condition";
          row.style.cssText = "display:flex;flex-wrap:wrap;align-items:center;gap:.4rem";
          var id = "cond-" + group + "-" + i;
          var field = document.createElement("select"); field.id = id + "-field";
          var fl = document.createElement("label"); fl.htmlFor = field.id; fl.textContent = "Field";
          Object.keys(ref.fields).forEach(function (f) { option(field, f); });
          if (!(cond.field in ref.fields)) option(field, cond.field);
          field.value = cond.field;
          var op = document.createElement("select"); op.id = id + "-operator";
          var ol = document.createElement("label"); ol.htmlFor = op.id; ol.textContent = "Operator";
          (ref.fields[cond.field] || [cond.operator]).forEach(function (o) { option(op, o); });
          op.value = cond.operator;
          var val = document.createElement("input"); val.id = id + "-value"; val.value = valueText(cond);
          val.placeholder = "value (lists: a, b)";
          var vl = document.createElement("label"); vl.htmlFor = val.id; vl.textContent = "Value";
          val.disabled = noValue.indexOf(cond.operator) >= 0;
          var remove = document.createElement("button"); remove.type = "button"; remove.textContent = "Remove";
          remove.className = "button";
          field.onchange = function () { cond.field = field.value; cond.operator = (ref.fields[field.value] || ["is"])[0]; sync(); render(); };
          op.onchange = function () {
            cond.operator = op.value;
            if (noValue.indexOf(op.value) >= 0) delete cond.value; else cond.value = parseValue(val.value, op.value);
            sync(); render();
          };
          val.oninput = function () { cond.value = parseValue(val.value, cond.operator); sync(); };
          remove.onclick = function () { data[group].splice(i, 1); sync(); render(); };
          [fl, field, ol, op, vl, val, remove].forEach(function (n) { row.appendChild(n); row.appendChild(document.createTextNode(" ")); });
          box.appendChild(row);
        });
        var add = document.createElement("button");
        add.type = "button"; add.className = "button";
        add.textContent = group === "all" ? "Add an “all” condition" : "Add an “any” condition";
        add.onclick = function () { data[group].push({ field: "type", operator: "is", value: "" }); sync(); render(); };
        box.appendChild(add);
        editor.appendChild(box);
      });
    }
    render();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
})();
