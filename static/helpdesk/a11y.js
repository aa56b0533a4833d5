// Keyboard focus survives htmx swaps. htmx and app.js put focus back on an
// element with an id; when a swap (a periodic refresh, a saved property)
// replaces a focused element without one, such as a view link, a sort header
// or a pager link, focus its equivalent in the new content instead of
// dropping the keyboard user at the top of the page.
(function () {
  "use strict";

  var FOCUSABLE = "a[href], button, input, select, textarea, [tabindex]";
  var kept = null;

  function candidates(root, tag) {
    return Array.prototype.filter.call(root.querySelectorAll(FOCUSABLE), function (el) { return el.tagName === tag; });
  }

  document.addEventListener("htmx:beforeSwap", function (e) {
    var el = document.activeElement, target = e.detail.target;
    if (!el || el === document.body || el.id || !target || !target.contains(el)) return;
    kept = {
      target: target, targetId: target.id, tag: el.tagName, href: el.getAttribute("href"),
      name: el.getAttribute("name"), value: el.value, index: candidates(target, el.tagName).indexOf(el),
    };
  });

  document.addEventListener("htmx:afterSettle", function () {
    var k = kept;
    kept = null;
    var active = document.activeElement;
    if (!k || (active && active !== document.body)) return;
    var root = k.target.isConnected ? k.target : (k.targetId && document.getElementById(k.targetId));
    if (!root) return;
    var all = candidates(root, k.tag);
    var same = all.filter(function (el) {
      return k.href !== null ? el.getAttribute("href") === k.href : (el.getAttribute("name") === k.name && el.value === k.value);
    });
    var el = same[0] || all[Math.min(k.index, all.length - 1)];
    if (el) el.focus({ preventScroll: true });
  });
})();
