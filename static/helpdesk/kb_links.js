// Ticket page: "Insert link" in the Suggested articles panel puts the
// article's title and public address into the reply at the cursor (at the
// end when the agent has not been in the reply yet). Delegated listeners:
// the panel is loaded and swapped by htmx.
(function () {
  "use strict";

  var cursorKnown = false;
  document.addEventListener("focusout", function (e) {
    if (e.target && e.target.matches && e.target.matches("#reply-form textarea[name=body]")) cursorKnown = true;
  });
  document.addEventListener("htmx:afterSwap", function (e) {
    if (e.detail.target && e.detail.target.id === "ticket-main") cursorKnown = false;
  });

  function insert(body, text) {
    var start = cursorKnown ? body.selectionStart : body.value.length;
    var end = cursorKnown ? body.selectionEnd : body.value.length;
    var before = body.value.slice(0, start), after = body.value.slice(end);
    if (before && !/\s$/.test(before)) text = (/[.!?:]$/.test(before) ? " " : "\n") + text;
    if (after && !/^\s/.test(after)) text += " ";
    body.setRangeText(text, start, end, "end");
    body.dispatchEvent(new Event("input", { bubbles: true }));
    body.focus();
  }

  document.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest("[data-kb-insert]");
    if (!button) return;
    var body = document.querySelector("#reply-form textarea[name=body]");
    if (!body) return;
    e.preventDefault();
    insert(body, button.dataset.title + ": " + button.dataset.url);
    cursorKnown = true;
  });
})();
