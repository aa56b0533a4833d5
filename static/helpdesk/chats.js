// The agent chat dashboard (/agent/chats/): one socket to /ws/agent/chat/
// (docs/live-chat.md), offers with a sound and a flashing title, chats side
// by side. Nothing is lost on a dropped socket: every (re)connect resumes each
// chat from the last sequence number seen, and unacknowledged messages are
// sent again with the same client_id (the server stores them once).
(function () {
  "use strict";

  var gettext = window.gettext || function (text) { return text; };
  var interpolate = window.interpolate || function (fmt, args) {
    var i = 0;
    return fmt.replace(/%s/g, function () { return String(args[i++]); });
  };

  var desk = document.getElementById("chat-desk");
  if (!desk || !window.WebSocket) return;

  var TYPING_EVERY = 3000;   // a typing "on" at most this often while typing
  var TYPING_IDLE = 4000;    // then "off" after this long without a key
  var THEIR_TYPING_TTL = 8000;  // a lost "off" frame does not leave the indicator on
  var READ_EVERY = 800;

  var ws = null, delay = 1000, reconnectTimer = null;
  var chats = {};   // public id -> chat state
  var offers = {};  // public id -> {el, deadline, timer}
  var baseTitle = document.title;
  var me = desk.dataset.me || "";
  var presenceAsked = null;

  // --- small helpers ---------------------------------------------------------

  function send(frame) {
    if (ws && ws.readyState === WebSocket.OPEN) { ws.send(JSON.stringify(frame)); return true; }
    return false;
  }

  function newClientId() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    return Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 12);
  }

  function toast(text, kind) {
    var box = document.getElementById("messages");
    if (!box) return;
    var div = document.createElement("div");
    div.className = "alert alert-" + (kind || "info") + " shadow-sm toast-message";
    div.setAttribute("role", kind === "danger" ? "alert" : "status");
    div.textContent = text;
    box.appendChild(div);
    setTimeout(function () { div.remove(); }, 6000);
  }

  function timeOf(iso) {
    var d = iso ? new Date(iso) : new Date();
    if (isNaN(d.getTime())) d = new Date();
    return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function setConnection(state) {
    var el = document.getElementById("chat-connection");
    if (!el) return;
    el.dataset.state = state;
    el.className = "badge " + (state === "connected" ? "bg-green-lt" : state === "refused" ? "bg-red-lt" : "bg-yellow-lt");
    el.textContent = state === "connected" ? gettext("Connected")
      : state === "refused" ? gettext("Not allowed: sign in again")
      : gettext("Reconnecting…");
  }

  // --- sound and title -------------------------------------------------------

  var audio = null;
  function soundOn() {
    var box = document.getElementById("chat-sound");
    return !box || box.checked;
  }
  // Browsers start audio only after the page was used: the context is made
  // (or resumed) on the agent's first click or key.
  function unlockAudio() {
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    try {
      if (!audio) audio = new Ctx();
      if (audio.state === "suspended") audio.resume();
    } catch (err) { audio = null; }
  }
  document.addEventListener("pointerdown", unlockAudio, { once: true });
  document.addEventListener("keydown", unlockAudio, { once: true });

  function beep() {
    if (!soundOn()) return;
    unlockAudio();
    var region = document.getElementById("chat-offers");
    if (region) region.dataset.beeps = String(Number(region.dataset.beeps || 0) + 1);
    if (!audio) return;
    try {
      var t = audio.currentTime;
      [[880, 0], [1175, 0.18]].forEach(function (tone) {
        var osc = audio.createOscillator(), gain = audio.createGain();
        osc.type = "sine";
        osc.frequency.value = tone[0];
        gain.gain.setValueAtTime(0.0001, t + tone[1]);
        gain.gain.exponentialRampToValueAtTime(0.25, t + tone[1] + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, t + tone[1] + 0.16);
        osc.connect(gain).connect(audio.destination);
        osc.start(t + tone[1]);
        osc.stop(t + tone[1] + 0.18);
      });
    } catch (err) { /* no sound: the card and the title still say it */ }
  }

  var sound = document.getElementById("chat-sound");
  if (sound) {
    sound.checked = window.localStorage.getItem("helpdesk.chat.sound") !== "off";
    sound.addEventListener("change", function () {
      window.localStorage.setItem("helpdesk.chat.sound", sound.checked ? "on" : "off");
    });
  }

  var flashTimer = null, flashOn = false;
  function totalUnread() {
    return Object.keys(chats).reduce(function (n, id) { return n + (chats[id].unread || 0); }, 0);
  }
  function updateTitle() {
    var pending = Object.keys(offers).length, unread = totalUnread();
    var badge = document.getElementById("chats-badge");
    if (badge) {
      var n = pending + Object.keys(chats).filter(function (id) { return chats[id].unread > 0; }).length;
      badge.hidden = !n;
      badge.dataset.count = String(n);
      if (badge.firstChild) badge.firstChild.nodeValue = String(n);
    }
    if (pending) {
      if (!flashTimer) {
        flashTimer = setInterval(function () {
          flashOn = !flashOn;
          var n = Object.keys(offers).length;
          document.title = flashOn ? interpolate(gettext("(%s) New chat"), [n]) : baseTitle;
        }, 1000);
        flashOn = true;
        document.title = interpolate(gettext("(%s) New chat"), [pending]);
      }
      return;
    }
    if (flashTimer) { clearInterval(flashTimer); flashTimer = null; }
    document.title = unread ? "(" + unread + ") " + baseTitle : baseTitle;
  }

  // --- offers ----------------------------------------------------------------

  function showOffer(offer) {
    var region = document.getElementById("chat-offers"), tpl = document.getElementById("offer-template");
    if (!region || !tpl || offers[offer.chat]) return;
    if (chats[offer.chat]) {
      if (!chats[offer.chat].closed) return;
      removeColumn(offer.chat);  // transferred away earlier, offered back now: a fresh column on accept
    }
    var el = tpl.content.firstElementChild.cloneNode(true);
    el.dataset.offer = offer.chat;
    el.setAttribute("aria-label", interpolate(gettext("New chat from %s"), [offer.visitor || gettext("a visitor")]));
    el.querySelector("[data-offer-visitor]").textContent = offer.visitor || gettext("Visitor");
    var page = el.querySelector("[data-offer-page]");
    page.textContent = [offer.page_title, offer.page_url].filter(Boolean).join(" · ") +
      (offer.language ? " · " + offer.language.toUpperCase() : "");
    page.title = offer.page_url || "";
    el.querySelector("[data-offer-question]").textContent = offer.question || "";
    var accept = el.querySelector("[data-offer-accept]"), decline = el.querySelector("[data-offer-decline]");
    var who = offer.visitor || gettext("Visitor");
    accept.setAttribute("aria-label", interpolate(gettext("Accept chat from %s"), [who]));
    decline.setAttribute("aria-label", interpolate(gettext("Decline chat from %s"), [who]));
    accept.addEventListener("click", function () {
      if (!send({ type: "accept", chat: offer.chat })) { toast(gettext("Not connected: try again in a moment."), "warning"); return; }
      accept.disabled = decline.disabled = true;
      accept.textContent = gettext("Accepting…");
    });
    decline.addEventListener("click", function () {
      send({ type: "decline", chat: offer.chat });
      dropOffer(offer.chat);
    });
    var entry = { el: el, deadline: Date.now() + (Number(offer.expires_in) || 30) * 1000, timer: null };
    var countdown = el.querySelector("[data-offer-countdown]");
    function tick() {
      var left = Math.max(0, Math.round((entry.deadline - Date.now()) / 1000));
      countdown.textContent = left ? interpolate(gettext("%s s left"), [left]) : gettext("Expired");
      if (!left) { accept.disabled = true; clearInterval(entry.timer); }
    }
    tick();
    entry.timer = setInterval(tick, 1000);
    offers[offer.chat] = entry;
    region.appendChild(el);
    beep();
    updateTitle();
  }

  function dropOffer(id) {
    var entry = offers[id];
    if (!entry) return;
    clearInterval(entry.timer);
    entry.el.remove();
    delete offers[id];
    updateTitle();
  }

  // --- columns ---------------------------------------------------------------

  function columnOf(id) { return document.getElementById("chat-" + id); }
  function tabOf(id) { return document.querySelector("[data-chat-tab='" + id + "']"); }

  function syncEmpty() {
    var any = !!document.querySelector("#chat-columns [data-chat]");
    var empty = document.getElementById("chat-empty"), tabs = document.getElementById("chat-tabs");
    if (empty) empty.hidden = any;
    if (tabs) tabs.hidden = !any;
    if (any && !document.querySelector("#chat-columns .chat-col.is-current")) {
      var first = document.querySelector("#chat-columns [data-chat]");
      if (first) makeCurrent(first.dataset.chat, false);
    }
  }

  function adopt(col, lastSeq) {
    var id = col.dataset.chat;
    if (chats[id]) return chats[id];
    var chat = {
      id: id, el: col, lastSeq: lastSeq || 0, seen: {}, pending: {}, pendingOrder: [], unread: 0,
      readSent: 0, readTimer: null, typingOnAt: 0, typingIdle: null, theirTyping: null,
      visitorReadSeq: 0, closed: false, watching: col.hasAttribute("data-watching"),
    };
    chats[id] = chat;
    if (col.dataset.status === "ended") closeChat(chat, gettext("This chat has ended."));
    observe(col);
    return chat;
  }

  function fetchColumn(id, then) {
    var url = desk.dataset.columnUrl.replace("00000000-0000-0000-0000-000000000000", id);
    fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html || columnOf(id)) { if (then) then(columnOf(id)); return; }
        var doc = new DOMParser().parseFromString(html, "text/html");
        var tab = doc.querySelector("[data-chat-tab]"), col = doc.querySelector("[data-chat]");
        if (!col) return;
        var list = document.getElementById("chat-tab-list");
        if (tab && list) list.appendChild(document.adoptNode(tab));
        var columns = document.getElementById("chat-columns");
        columns.insertBefore(document.adoptNode(col), document.getElementById("chat-empty"));
        var chat = adopt(col, 0);
        syncEmpty();
        send({ type: "resume", chat: id, last_seq: chat.lastSeq });
        if (then) then(col);
      })
      .catch(function () { setTimeout(function () { fetchColumn(id, then); }, 2000); });
  }

  function watch(id) {
    if (columnOf(id)) { makeCurrent(id, true); return; }
    fetchColumn(id, function (col) {
      if (col) makeCurrent(id, true);
      else toast(gettext("That chat has ended or is no longer yours to see."), "warning");
    });
  }

  function closeChat(chat, text) {
    chat.closed = true;
    var col = chat.el;
    col.classList.add("is-closed");
    col.dataset.status = "ended";
    var box = col.querySelector("[data-chat-closed]");
    if (box) { box.hidden = false; box.querySelector("[data-chat-closed-text]").textContent = text; }
    col.querySelectorAll("[data-chat-form] textarea, [data-chat-form] button, [data-chat-form] select, [data-chat-form] input, [data-chat-transfer], [data-chat-end]")
      .forEach(function (el) { el.disabled = true; });
    // Nothing more to write or do here: the room goes to the conversation.
    col.querySelector("[data-chat-form]").hidden = true;
    col.querySelector(".chat-actions").hidden = true;
    var log = col.querySelector("[data-chat-log]");
    log.scrollTop = log.scrollHeight;
    showTheirTyping(chat, null, false);
  }

  function removeColumn(id) {
    var chat = chats[id];
    if (chat) { clearTimeout(chat.readTimer); delete chats[id]; }
    var col = columnOf(id), tab = tabOf(id);
    if (col) { if (observer) observer.unobserve(col); col.remove(); }
    if (tab) tab.remove();
    syncEmpty();
    updateTitle();
  }

  function makeCurrent(id, focus) {
    document.querySelectorAll("#chat-columns .chat-col").forEach(function (c) {
      c.classList.toggle("is-current", c.dataset.chat === id);
    });
    document.querySelectorAll("#chat-tab-list [data-chat-tab] .nav-link").forEach(function (a) {
      var on = a.parentNode.dataset.chatTab === id;
      a.classList.toggle("active", on);
      if (on) a.setAttribute("aria-current", "true"); else a.removeAttribute("aria-current");
    });
    var col = columnOf(id);
    if (col && focus) {
      col.scrollIntoView({ block: "nearest", inline: "nearest" });
      var body = col.querySelector("[data-chat-body]");
      if (body && !body.disabled) body.focus();
    }
    if (chats[id]) markSeen(chats[id]);
  }

  // --- visibility and read state ----------------------------------------------

  var onScreen = {};
  var observer = window.IntersectionObserver ? new IntersectionObserver(function (entries) {
    entries.forEach(function (e) {
      onScreen[e.target.dataset.chat] = e.intersectionRatio > 0.5;
      if (chats[e.target.dataset.chat]) markSeen(chats[e.target.dataset.chat]);
    });
  }, { threshold: [0, 0.5, 1] }) : null;
  function observe(col) { if (observer) observer.observe(col); }

  function isVisible(chat) {
    if (document.visibilityState !== "visible" || !chat.el.isConnected) return false;
    if (window.getComputedStyle(chat.el).display === "none") return false;
    return observer ? !!onScreen[chat.id] : true;
  }

  function setUnread(chat, n) {
    chat.unread = n;
    [chat.el, tabOf(chat.id)].forEach(function (root) {
      var badge = root && root.querySelector("[data-unread]");
      if (!badge) return;
      badge.hidden = !n;
      badge.querySelector("[data-count]").textContent = String(n);
    });
    updateTitle();
  }

  function markSeen(chat) {
    if (!isVisible(chat)) return;
    if (chat.unread) setUnread(chat, 0);
    if (chat.lastSeq > chat.readSent && !chat.readTimer && !chat.watching) {  // a watcher's reading is not the agent's
      chat.readTimer = setTimeout(function () {
        chat.readTimer = null;
        if (isVisible(chat) && chat.lastSeq > chat.readSent && send({ type: "read", chat: chat.id, seq: chat.lastSeq })) {
          chat.readSent = chat.lastSeq;
        }
      }, READ_EVERY);
    }
  }

  function markAllSeen() {
    Object.keys(chats).forEach(function (id) { markSeen(chats[id]); });
  }
  document.addEventListener("visibilitychange", markAllSeen);
  window.addEventListener("focus", markAllSeen);

  // --- the conversation --------------------------------------------------------

  function lineFor(frame) {
    var li = document.createElement("li");
    var kind = frame.author === "system" ? "system" : frame.internal ? "note" : frame.author === "visitor" ? "visitor" : "agent";
    li.className = "chat-line chat-line-" + kind;
    if (frame.seq) li.dataset.seq = String(frame.seq);
    if (frame.client_id) li.dataset.clientId = frame.client_id;
    if (kind === "system") {
      li.textContent = frame.body || "";
      return li;
    }
    var meta = document.createElement("div");
    meta.className = "chat-meta";
    var who = document.createElement("strong");
    who.textContent = frame.name || (kind === "visitor" ? gettext("Visitor") : gettext("Agent"));
    meta.appendChild(who);
    if (kind === "note") {
      var badge = document.createElement("span");
      badge.className = "badge bg-yellow text-yellow-fg";
      badge.textContent = gettext("Internal");
      meta.appendChild(badge);
    }
    var at = document.createElement("time");
    at.dateTime = frame.at || new Date().toISOString();
    at.textContent = timeOf(frame.at);
    meta.appendChild(at);
    li.appendChild(meta);
    var text = document.createElement("div");
    text.className = "chat-text";
    var files = frame.attachments || [];
    // A file's line: its body is the file's name, which the link already says.
    text.textContent = files.length === 1 && frame.body === files[0].name ? "" : frame.body || "";
    files.forEach(function (a) {
      var link = document.createElement("a");
      link.href = a.url;
      link.target = "_blank";
      link.rel = "noopener";
      link.className = "d-block small";
      link.textContent = a.name + (a.size ? " (" + Math.ceil(a.size / 1024) + " KB)" : "");
      text.appendChild(link);
    });
    li.appendChild(text);
    if (kind === "agent") {
      var state = document.createElement("div");
      state.className = "chat-state";
      li.appendChild(state);
    }
    return li;
  }

  function setLineState(li, text) {
    var state = li.querySelector(".chat-state");
    if (state) state.textContent = text;
  }

  function linesOf(chat) { return chat.el.querySelector("[data-chat-lines]"); }

  function placeBySeq(lines, li, seq) {
    var after = null;
    lines.querySelectorAll("[data-seq]").forEach(function (el) {
      if (!after && Number(el.dataset.seq) > seq) after = el;
    });
    if (!after) after = lines.querySelector(".is-pending");  // unsent lines stay last
    lines.insertBefore(li, after);
  }

  // Keeps the conversation scrolled to the newest line unless the agent scrolled up to read.
  function keepingBottom(chat, change) {
    var log = chat.el.querySelector("[data-chat-log]");
    var atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    change();
    if (atBottom) log.scrollTop = log.scrollHeight;
  }

  function advance(chat, seq) {
    chat.seen[seq] = true;
    while (chat.seen[chat.lastSeq + 1]) chat.lastSeq += 1;
  }

  function onMessage(frame) {
    var chat = chats[frame.chat];
    if (!chat || !frame.seq || chat.seen[frame.seq]) return;  // a replayed or doubled frame
    keepingBottom(chat, function () {
      var lines = linesOf(chat);
      var li = frame.client_id && chat.pending[frame.client_id] ? chat.pending[frame.client_id].el : null;
      if (!li && frame.client_id) li = lines.querySelector("[data-client-id='" + CSS.escape(frame.client_id) + "']");
      if (li) {  // our own line, sent from this page: it now has its place
        settle(chat, frame.client_id, frame.seq);
      } else {
        li = lineFor(frame);
        placeBySeq(lines, li, frame.seq);
      }
      advance(chat, frame.seq);
      if (frame.author === "agent" && !frame.internal) setLineState(li, chat.visitorReadSeq >= frame.seq ? gettext("Read") : gettext("Delivered"));
    });
    if (frame.author === "visitor") {
      showTheirTyping(chat, null, false);
      if (frame.seq > (chat.countFrom || 0) && !isVisible(chat)) setUnread(chat, chat.unread + 1);
    }
    markSeen(chat);
  }

  function settle(chat, clientId, seq) {
    var p = chat.pending[clientId];
    var lines = linesOf(chat);
    var li = p ? p.el : lines.querySelector("[data-client-id='" + CSS.escape(clientId) + "']");
    if (p) {
      delete chat.pending[clientId];
      chat.pendingOrder = chat.pendingOrder.filter(function (c) { return c !== clientId; });
    }
    if (!li) return;
    li.classList.remove("is-pending");
    if (!li.dataset.seq) {
      li.dataset.seq = String(seq);
      li.remove();
      placeBySeq(lines, li, seq);
    }
    if (!li.classList.contains("chat-line-note")) setLineState(li, chat.visitorReadSeq >= seq ? gettext("Read") : gettext("Delivered"));
  }

  function onAck(frame) {
    var chat = chats[frame.chat];
    if (!chat || !frame.client_id) return;
    keepingBottom(chat, function () { settle(chat, frame.client_id, frame.seq); });
    if (frame.seq) advance(chat, frame.seq);
  }

  function onRead(frame) {
    var chat = chats[frame.chat];
    if (!chat) return;
    chat.visitorReadSeq = Math.max(chat.visitorReadSeq, frame.seq || 0);
    chat.el.querySelectorAll(".chat-line-agent[data-seq]").forEach(function (li) {
      if (Number(li.dataset.seq) <= chat.visitorReadSeq) setLineState(li, gettext("Read"));
    });
  }

  function showTheirTyping(chat, name, on) {
    var el = chat.el.querySelector("[data-chat-typing]");
    clearTimeout(chat.theirTyping);
    if (!el) return;
    el.textContent = on ? interpolate(gettext("%s is typing…"), [name || chat.el.dataset.visitor]) : "";
    if (on) chat.theirTyping = setTimeout(function () { el.textContent = ""; }, THEIR_TYPING_TTL);
  }

  function onTyping(frame) {
    var chat = chats[frame.chat];
    // The visitor's typing only (another agent's, e.g. a supervisor's, would read as the visitor's).
    if (!chat || (frame.author ? frame.author !== "visitor" : frame.name === me)) return;
    showTheirTyping(chat, frame.name, !!frame.on);
  }

  function onRating(frame) {
    var chat = chats[frame.chat];
    var box = chat && chat.el.querySelector("[data-chat-rating]");
    if (!box) return;
    var text = interpolate(gettext("The visitor rated the chat %s of 5."), [frame.score]);
    box.textContent = frame.comment ? text + " “" + frame.comment + "”" : text;
    box.hidden = false;
  }

  function onState(frame) {
    var chat = chats[frame.chat];
    if (!chat) return;
    if (frame.status === "ended" && !chat.closed) closeChat(chat, gettext("This chat has ended."));
  }

  // --- sending -------------------------------------------------------------------

  function sendPending(chat, clientId) {
    var p = chat.pending[clientId];
    if (!p) return;
    var sent = send({ type: "message", chat: chat.id, client_id: clientId, body: p.body, internal: p.internal });
    setLineState(p.el, sent ? gettext("Sending…") : gettext("Waiting for the connection…"));
  }

  function submit(form) {
    var col = form.closest("[data-chat]"), chat = col && chats[col.dataset.chat];
    if (!chat || chat.closed) return;
    var body = form.querySelector("[data-chat-body]");
    var text = body.value.replace(/\s+$/, "");
    if (!text.trim()) return;
    var internal = form.querySelector("[data-chat-internal]").checked;
    var clientId = newClientId();
    var li = lineFor({ author: "agent", internal: internal, name: me, body: text, client_id: clientId });
    li.classList.add("is-pending");
    chat.pending[clientId] = { body: text, internal: internal, el: li };
    chat.pendingOrder.push(clientId);
    linesOf(chat).appendChild(li);
    sendPending(chat, clientId);
    var log = col.querySelector("[data-chat-log]");
    log.scrollTop = log.scrollHeight;
    body.value = "";
    stopTyping(chat);
  }

  function stopTyping(chat) {
    clearTimeout(chat.typingIdle);
    if (chat.typingOnAt) send({ type: "typing", chat: chat.id, on: false });
    chat.typingOnAt = 0;
  }

  function typed(chat, internal) {
    if (internal) return;  // a note being written is nothing the visitor should see
    var now = Date.now();
    if (now - chat.typingOnAt > TYPING_EVERY && send({ type: "typing", chat: chat.id, on: true })) chat.typingOnAt = now;
    clearTimeout(chat.typingIdle);
    chat.typingIdle = setTimeout(function () { stopTyping(chat); }, TYPING_IDLE);
  }

  function insertAtCursor(body, text) {
    var start = body.selectionStart, end = body.selectionEnd;
    var before = body.value.slice(0, start), after = body.value.slice(end);
    if (before && !/\s$/.test(before)) text = " " + text;
    if (after && !/^\s/.test(after)) text += " ";
    body.setRangeText(text, start, end, "end");
    body.focus();
    body.dispatchEvent(new Event("input", { bubbles: true }));
  }

  function say(col, text, isError) {
    var status = col.querySelector("[data-chat-status]");
    if (!status) return;
    status.textContent = text;
    status.classList.toggle("text-danger", !!isError);
  }

  // --- canned replies and articles -------------------------------------------------

  function canned(select) {
    var col = select.closest("[data-chat]");
    var id = select.value;
    if (!id) return;
    var url = col.dataset.macroUrl.replace(/\/0\/preview\/$/, "/" + encodeURIComponent(id) + "/preview/");
    fetch(url, { method: "POST", credentials: "same-origin",
                 headers: { "X-CSRFToken": desk.dataset.csrf, "Accept": "application/json" } })
      .then(function (r) { return r.json().then(function (data) { return { ok: r.ok, data: data }; }); })
      .then(function (res) {
        select.value = "";
        if (!res.ok) { say(col, res.data.error || gettext("The canned reply could not be loaded."), true); return; }
        insertAtCursor(col.querySelector("[data-chat-body]"), res.data.text);
        say(col, interpolate(gettext("“%s” inserted: check it, then send."), [res.data.macro.name]), false);
      })
      .catch(function () { select.value = ""; say(col, gettext("The canned reply could not be loaded."), true); });
  }

  // --- a file to the visitor ------------------------------------------------------------

  function sendFile(input) {
    var col = input.closest("[data-chat]");
    var file = input.files && input.files[0];
    input.value = "";
    if (!file || !col) return;
    var limit = Number(desk.dataset.maxAttachment) || 10 * 1048576;
    var tooLarge = interpolate(gettext("%s is too large: the limit is %s KB."), [file.name, Math.floor(limit / 1024)]);
    if (file.size > limit) { say(col, tooLarge, true); return; }
    var form = new FormData();
    form.append("file", file);
    form.append("client_id", newClientId());
    say(col, interpolate(gettext("Sending %s…"), [file.name]), false);
    fetch(input.dataset.url, { method: "POST", body: form, credentials: "same-origin",
                               headers: { "X-CSRFToken": desk.dataset.csrf, "Accept": "application/json" } })
      .then(function (r) {
        if (r.status === 413) return { ok: false, data: { file: [tooLarge] } };
        return r.json().then(function (data) { return { ok: r.ok, data: data }; });
      })
      .then(function (res) {
        if (!res.ok) { say(col, (res.data.file || [gettext("The file could not be sent.")]).join(" "), true); return; }
        say(col, "", false);
        onMessage(res.data);  // the socket brings it too: the seq keeps it once
      })
      .catch(function () { say(col, gettext("The file could not be sent."), true); });
  }

  document.addEventListener("change", function (e) {
    if (e.target.matches && e.target.matches("[data-chat-file]")) sendFile(e.target);
  });

  var kbTimer = null;
  function searchArticles(col) {
    var q = col.querySelector("[data-chat-kb-q]").value.trim();
    var results = col.querySelector("[data-chat-kb-results]");
    var url = col.dataset.kbUrl + (q ? "?q=" + encodeURIComponent(q) : "");
    // Only the latest search of this column shows: an earlier one answering late is dropped.
    var asked = col.kbAsked = (col.kbAsked || 0) + 1;
    fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.text(); })
      .then(function (html) {
        if (asked !== col.kbAsked) return;
        // Our own server's partial (escaped by its templates); parsed, not eval'd.
        var doc = new DOMParser().parseFromString(html, "text/html");
        results.replaceChildren.apply(results, Array.prototype.slice.call(doc.body.childNodes).map(function (n) { return document.adoptNode(n); }));
      })
      .catch(function () { if (asked === col.kbAsked) results.textContent = gettext("The search did not answer; try again."); });
  }

  // --- transfer -------------------------------------------------------------------

  var transferFor = null;
  function openTransfer(col) {
    var dialog = document.getElementById("transfer-dialog");
    if (!dialog) return;
    transferFor = col.dataset.chat;
    dialog.querySelector("form").reset();
    document.getElementById("transfer-error").textContent = "";
    document.getElementById("transfer-title").textContent = interpolate(gettext("Transfer chat with %s"), [col.dataset.visitor]);
    dialog.showModal();
  }

  function submitTransfer(e) {
    e.preventDefault();
    var form = e.target, error = document.getElementById("transfer-error");
    var pick = function (name) { var v = form.elements[name].value; return v ? Number(v) : null; };
    var to = { to_agent: pick("to_agent"), to_group: pick("to_group"), to_tier: pick("to_tier") };
    var chosen = Object.keys(to).filter(function (k) { return to[k] !== null; });
    if (chosen.length !== 1) {
      error.textContent = gettext("Choose one: an agent, a group or a tier.");
      (form.elements[chosen.length ? chosen[1] : "to_agent"]).focus();
      return;
    }
    var frame = { type: "transfer", chat: transferFor, note: form.elements.note.value.trim() };
    Object.keys(to).forEach(function (k) { frame[k] = to[k]; });
    if (!send(frame)) { error.textContent = gettext("Not connected: try again in a moment."); return; }
    var col = columnOf(transferFor);
    if (col) say(col, gettext("Transferring…"), false);
    document.getElementById("transfer-dialog").close();
  }

  // --- the socket --------------------------------------------------------------------

  function onHello(frame) {
    delay = 1000;
    setConnection("connected");
    setPresence(frame.presence);
    var listed = {};
    (frame.chats || []).forEach(function (c) {
      listed[c.chat] = true;
      var col = columnOf(c.chat);
      if (!col) {
        fetchColumn(c.chat);
        return;
      }
      var chat = adopt(col, 0);
      // What the server counts as unread arrives with the replay: counted once, here.
      chat.countFrom = Math.max(chat.countFrom || 0, Number(c.last_seq) || 0);
      if (c.unread && !isVisible(chat)) setUnread(chat, Math.max(chat.unread, Number(c.unread)));
    });
    // Columns the server no longer counts as ours: ended or moved while we were away. Watched ones resume.
    Object.keys(chats).forEach(function (id) {
      if (chats[id].watching) listed[id] = true;
      else if (!listed[id] && !chats[id].closed) closeChat(chats[id], gettext("This chat is no longer assigned to you."));
    });
    Object.keys(listed).forEach(function (id) {
      var chat = chats[id];
      if (!chat) return;  // its column is on its way (fetchColumn resumes it)
      send({ type: "resume", chat: id, last_seq: chat.lastSeq });
      chat.pendingOrder.forEach(function (clientId) { sendPending(chat, clientId); });
    });
    var offered = {};
    (frame.offers || []).forEach(function (o) { offered[o.chat] = true; showOffer(o); });
    Object.keys(offers).forEach(function (id) { if (!offered[id]) dropOffer(id); });
    updateTitle();
  }

  function setPresence(status) {
    var select = document.getElementById("presence");
    if (select && status && select.value !== status) select.value = status;
  }

  var REASONS = {
    timeout: gettext("The chat offer timed out and went to the next agent."),
    declined: gettext("Chat declined."),
    taken: gettext("Another agent took the chat."),
    ended: gettext("The visitor left before the chat was accepted."),
  };

  function handle(frame) {
    switch (frame.type) {
      case "hello": onHello(frame); break;
      case "offer": showOffer(frame); break;
      case "offer_withdrawn":
        if (offers[frame.chat] && frame.reason !== "declined") toast(REASONS[frame.reason] || REASONS.taken, "info");
        dropOffer(frame.chat);
        break;
      case "chat_assigned": {
        var accepted = !!offers[frame.chat];  // else it was transferred to us
        dropOffer(frame.chat);
        // A closed column, or one we were watching: the chat's own column (reply box, actions) replaces it.
        if (chats[frame.chat] && (chats[frame.chat].closed || chats[frame.chat].watching)) removeColumn(frame.chat);
        if (!columnOf(frame.chat)) {
          fetchColumn(frame.chat, function (col) { if (col && accepted) makeCurrent(frame.chat, true); });
          if (!accepted) toast(interpolate(gettext("Chat with %s transferred to you."), [frame.visitor || gettext("a visitor")]), "info");
        }
        break;
      }
      case "chat_removed": {
        var chat = chats[frame.chat];
        if (chat && !chat.closed) {
          closeChat(chat, frame.reason === "ended" ? gettext("This chat has ended.")
            : frame.reason === "transferred" ? gettext("Transferred: the chat is with another agent now.")
            : gettext("This chat is no longer assigned to you."));
        }
        break;
      }
      case "message": onMessage(frame); break;
      case "rating": onRating(frame); break;
      case "ack": onAck(frame); break;
      case "read": onRead(frame); break;
      case "typing": onTyping(frame); break;
      case "state": onState(frame); break;
      case "presence":
        setPresence(frame.status);
        if (presenceAsked && presenceAsked === frame.status) {
          var option = document.querySelector("#presence option[value='" + frame.status + "']");
          toast(interpolate(gettext("You are now %s."), [option ? option.textContent.replace(/^[●◐○]\s*/, "").toLowerCase() : frame.status]), "success");
        }
        presenceAsked = null;
        break;
      case "error": {
        var col = frame.chat && columnOf(frame.chat);
        var text = frame.detail || frame.code || gettext("The server refused that.");
        if (frame.code === "ended" && col && chats[frame.chat]) closeChat(chats[frame.chat], gettext("This chat has ended."));
        if (col) say(col, text, true); else toast(text, "danger");
        break;
      }
    }
  }

  function connect() {
    clearTimeout(reconnectTimer);
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    try { ws = new WebSocket(scheme + window.location.host + desk.dataset.socket); } catch (err) { retry(); return; }
    ws.onmessage = function (e) {
      var frame;
      try { frame = JSON.parse(e.data); } catch (err) { return; }
      if (frame && typeof frame.type === "string") handle(frame);
    };
    ws.onclose = function (e) {
      ws = null;
      if (e.code === 4403) { setConnection("refused"); return; }
      setConnection("reconnecting");
      retry();
    };
  }

  function retry() {
    // Backoff with jitter: a restarted server is not met by every agent at once.
    var wait = delay * (0.8 + Math.random() * 0.4);
    delay = Math.min(delay * 2, 30000);
    reconnectTimer = setTimeout(connect, wait);
  }

  // --- page events -------------------------------------------------------------------

  document.addEventListener("submit", function (e) {
    if (e.target.matches("[data-chat-form]")) { e.preventDefault(); submit(e.target); }
    else if (e.target.id === "transfer-form") submitTransfer(e);
  });

  document.addEventListener("keydown", function (e) {
    if (e.target.matches && e.target.matches("[data-chat-body]") && e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submit(e.target.form);
    }
  });

  document.addEventListener("input", function (e) {
    var t = e.target;
    if (t.matches("[data-chat-body]")) {
      var col = t.closest("[data-chat]"), chat = chats[col.dataset.chat];
      if (chat && e.isTrusted) typed(chat, col.querySelector("[data-chat-internal]").checked);
    } else if (t.matches("[data-chat-kb-q]")) {
      clearTimeout(kbTimer);
      var kbCol = t.closest("[data-chat]");
      kbTimer = setTimeout(function () { searchArticles(kbCol); }, 400);
    }
  });

  document.addEventListener("change", function (e) {
    var t = e.target;
    if (t.matches("[data-chat-canned]")) canned(t);
    else if (t.matches("[data-chat-internal]")) {
      var form = t.closest("[data-chat-form]"), label = form.querySelector("[data-chat-body-label]");
      form.classList.toggle("is-internal", t.checked);
      label.textContent = t.checked ? label.dataset.note : label.dataset.reply;
      var col = t.closest("[data-chat]");
      if (t.checked && chats[col.dataset.chat]) stopTyping(chats[col.dataset.chat]);
    }
  });

  document.addEventListener("focusin", function (e) {
    var col = e.target.closest && e.target.closest("#chat-columns [data-chat]");
    if (col && !col.classList.contains("is-current")) makeCurrent(col.dataset.chat, false);
  });

  document.addEventListener("click", function (e) {
    var t = e.target.closest ? e.target : null;
    if (!t) return;
    var tab = t.closest("[data-chat-tab] a");
    if (tab) { e.preventDefault(); makeCurrent(tab.parentNode.dataset.chatTab, true); return; }
    var col = t.closest("[data-chat]");
    if (t.closest("[data-chat-end]") && col) {
      if (send({ type: "end", chat: col.dataset.chat })) say(col, gettext("Ending…"), false);
      else toast(gettext("Not connected: try again in a moment."), "warning");
    } else if (t.closest("[data-chat-transfer]") && col) {
      openTransfer(col);
    } else if (t.closest("[data-chat-close]") && col) {
      send({ type: "leave", chat: col.dataset.chat });  // its frames stop coming to this page
      removeColumn(col.dataset.chat);
    } else if (t.closest("[data-chat-kb-toggle]") && col) {
      var button = t.closest("[data-chat-kb-toggle]"), panel = col.querySelector("[data-chat-kb]");
      panel.hidden = !panel.hidden;
      button.setAttribute("aria-expanded", panel.hidden ? "false" : "true");
      if (!panel.hidden) { searchArticles(col); panel.querySelector("[data-chat-kb-q]").focus(); }
    } else if (t.closest("[data-kb-insert]") && col) {
      var link = t.closest("[data-kb-insert]");
      e.preventDefault();
      insertAtCursor(col.querySelector("[data-chat-body]"), link.dataset.title + ": " + link.dataset.url);
      // The panel folds away so the conversation gets its room back.
      col.querySelector("[data-chat-kb]").hidden = true;
      col.querySelector("[data-chat-kb-toggle]").setAttribute("aria-expanded", "false");
    } else if (t.closest("[data-chat-watch]")) {
      watch(t.closest("[data-chat-watch]").dataset.chatWatch);
    } else if (t.closest("[data-chat-attach]") && col) {
      col.querySelector("[data-chat-file]").click();
    } else if (t.closest("[data-transfer-cancel]")) {
      document.getElementById("transfer-dialog").close();
    }
  });

  // The presence switch goes over the socket when it is up (the server then
  // offers waiting chats at once), else through the page's form as elsewhere.
  document.addEventListener("htmx:beforeRequest", function (e) {
    var elt = e.detail && e.detail.elt;
    if (!elt || elt.id !== "chat-presence-form") return;
    var status = document.getElementById("presence").value;
    if (send({ type: "presence", status: status })) { presenceAsked = status; e.preventDefault(); }
  });

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("#chat-columns [data-chat]").forEach(function (col) { adopt(col, 0); });
    syncEmpty();
    setConnection("connecting");
    connect();
  });
})();
