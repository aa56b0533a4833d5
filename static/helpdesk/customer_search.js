// The "on behalf" customer search: a combobox over the htmx-loaded listbox.
// Arrow keys move, Enter picks, Escape closes; a click picks too.
(function () {
  "use strict";
  var input = document.getElementById("customer-search");
  if (!input) return;
  var results = document.getElementById("customer-results");
  var hidden = document.getElementById("id_requester");
  var picked = document.getElementById("picked-customer");
  var finder = document.getElementById("customer-finder");

  function options() { return Array.from(results.querySelectorAll("[role=option]")); }
  function active() { return results.querySelector("[role=option][aria-selected=true]"); }
  function highlight(opt) {
    options().forEach(function (o) { o.setAttribute("aria-selected", o === opt ? "true" : "false"); o.classList.toggle("active", o === opt); });
    if (opt) { input.setAttribute("aria-activedescendant", opt.id); opt.scrollIntoView({block: "nearest"}); }
    else input.removeAttribute("aria-activedescendant");
  }
  function choose(opt) {
    hidden.value = opt.dataset.customer;
    document.getElementById("picked-customer-name").textContent = opt.dataset.label;
    picked.classList.remove("d-none");
    finder.classList.add("d-none");
    results.innerHTML = "";
    input.setAttribute("aria-expanded", "false");
    document.getElementById("change-customer").focus();
  }
  input.addEventListener("keydown", function (e) {
    var opts = options(), i = opts.indexOf(active());
    if (e.key === "ArrowDown" && opts.length) { e.preventDefault(); highlight(opts[Math.min(i + 1, opts.length - 1)]); }
    else if (e.key === "ArrowUp" && opts.length) { e.preventDefault(); highlight(opts[Math.max(i - 1, 0)]); }
    else if (e.key === "Enter") { e.preventDefault(); if (active()) choose(active()); else if (opts.length === 1) choose(opts[0]); }
    else if (e.key === "Escape") { results.innerHTML = ""; input.setAttribute("aria-expanded", "false"); }
  });
  results.addEventListener("click", function (e) {
    var opt = e.target.closest("[role=option]");
    if (opt) choose(opt);
  });
  document.addEventListener("htmx:afterSwap", function (e) {
    if (e.target !== results) return;
    input.setAttribute("aria-expanded", options().length ? "true" : "false");
    highlight(null);
  });
  document.getElementById("change-customer").addEventListener("click", function () {
    hidden.value = "";
    picked.classList.add("d-none");
    finder.classList.remove("d-none");
    input.focus();
  });
})();
