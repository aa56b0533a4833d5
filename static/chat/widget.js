/* Helpdesk live-chat widget (issue 18; the contract is docs/live-chat.md).
   Served at /widget.js by channels_inbox.views.widget_js, which defines
   HELPDESK_CHAT_CONFIG ({base, css, strings, default_language}) just before this
   code and wraps both in one function. Plain JavaScript, no dependencies; the UI
   lives in a Shadow DOM so the host page's CSS and ours never meet. */
(function (CONFIG) {
  "use strict";
  if (window.__helpdeskChat) return;  // the tag pasted twice
  window.__helpdeskChat = true;

  var script = document.currentScript;
  var data = (script && script.dataset) || {};
  var BASE = CONFIG.base;
  var API = BASE + "/chat/api/";
  var WS_BASE = BASE.replace(/^http/, "ws");
  var SAME_ORIGIN = BASE === window.location.origin;
  var STORE_KEY = "helpdeskChat:" + BASE;
  var TYPING_IDLE_MS = 3000;
  var MAX_BODY = 5000;

  // --- strings --------------------------------------------------------------
  function pickLanguage() {
    var wanted = [data.language, document.documentElement.lang].concat(navigator.languages || [],
      [navigator.language, CONFIG.default_language]);
    for (var i = 0; i < wanted.length; i++) {
      var code = (wanted[i] || "").toLowerCase().split("-")[0];
      if (CONFIG.strings[code]) return code;
    }
    return "en";
  }
  var LANG = pickLanguage();
  var STRINGS = CONFIG.strings[LANG];
  function t(key, values) {
    var text = STRINGS[key] || CONFIG.strings.en[key] || key;
    return text.replace(/%\((\w+)\)s/g, function (_m, name) {
      return values && values[name] != null ? String(values[name]) : "";
    });
  }

  // --- storage: the chat survives a reload or a page navigation --------------
  // localStorage keeps the credential and what is not yet delivered (shared by
  // the site's tabs); sessionStorage keeps this tab's copy of the conversation.
  function load(storage, fallback) {
    try { return JSON.parse(window[storage].getItem(STORE_KEY)) || fallback; } catch (e) { return fallback; }
  }
  function store(storage, value) {
    try {
      if (value == null) window[storage].removeItem(STORE_KEY);
      else window[storage].setItem(STORE_KEY, JSON.stringify(value));
    } catch (e) { /* storage blocked or full: the chat still works for this page */ }
  }
  var chat = load("localStorage", null);  // {token, chat, ticket, status, agent, email, outbox, rated, unread}
  if (chat && (typeof chat.token !== "string" || !chat.chat)) chat = null;
  if (chat && !Array.isArray(chat.outbox)) chat.outbox = [];
  var history = load("sessionStorage", null);  // {chat, lastSeq, readSeq, open, entries: [frame…]}
  var wasOpen = !!(history && history.open);
  if (!chat || !history || history.chat !== chat.chat) history = null;
  var isOpen = false;
  var entries = {};  // seq -> message frame
  var lastSeq = 0, readSeq = 0;
  if (history) {
    lastSeq = history.lastSeq || 0;
    readSeq = history.readSeq || 0;
    (history.entries || []).forEach(function (frame) { entries[frame.seq] = frame; });
  }
  function saveChat() { store("localStorage", chat); }
  function saveHistory() {
    if (!chat) { store("sessionStorage", {open: isOpen}); return; }
    var seqs = Object.keys(entries).map(Number).sort(function (a, b) { return a - b; }).slice(-200);
    store("sessionStorage", {chat: chat.chat, lastSeq: lastSeq, readSeq: readSeq, open: isOpen,
      entries: seqs.map(function (s) { return entries[s]; })});
  }

  // --- DOM helpers -------------------------------------------------------------
  var uid = 0;
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      var value = attrs[name];
      if (value == null || value === false) return;
      if (name === "text") node.textContent = value;
      else if (name.slice(0, 2) === "on") node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : value);
    });
    (children || []).forEach(function (child) {
      if (child != null) node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }
  function id(name) { uid += 1; return "hc-" + name + "-" + uid; }
  function show(node, visible) { node.hidden = !visible; }
  function field(label, control, hint) {
    control.id = control.id || id("field");
    var error = el("p", {"class": "field-error", id: control.id + "-error", hidden: true});
    return {
      row: el("div", {"class": "field"}, [el("label", {"for": control.id, text: label}), control, hint || null, error]),
      control: control,
      error: error,
    };
  }
  function setError(f, message) {
    f.error.textContent = message || "";
    show(f.error, !!message);
    if (message) {
      f.control.setAttribute("aria-invalid", "true");
      f.control.setAttribute("aria-describedby", f.error.id);
    } else {
      f.control.removeAttribute("aria-invalid");
      f.control.removeAttribute("aria-describedby");
    }
  }
  function newClientId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  function safeUrl(url) {
    try {
      var parsed = new URL(url, BASE);
      return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
    } catch (e) { return null; }
  }
  function humanSize(bytes) {
    if (bytes >= 1048576) return (Math.round(bytes / 104857.6) / 10) + " MB";
    if (bytes >= 1024) return Math.round(bytes / 1024) + " KB";
    return bytes + " B";
  }
  function csrfToken() {
    if (!SAME_ORIGIN) return null;
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : null;
  }

  // --- HTTP ----------------------------------------------------------------------
  // Credentials go along only to our own origin (the portal session recognizes
  // a signed-in customer); other sites' pages talk to us anonymously.
  function request(method, path, body) {
    var headers = {"Accept": "application/json"};
    var token = csrfToken();
    if (token && method !== "GET") headers["X-CSRFToken"] = token;
    if (body && !(body instanceof FormData)) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(body);
    }
    return fetch(API + path, {method: method, headers: headers, body: body, credentials: "same-origin"})
      .then(function (response) {
        return response.text().then(function (text) {
          var json = null;
          try { json = text ? JSON.parse(text) : null; } catch (e) { /* not JSON: a proxy's page */ }
          return {status: response.status, ok: response.ok, json: json};
        });
      });
  }
  function firstError(json) {
    if (!json) return "";
    if (typeof json.detail === "string") return json.detail;
    for (var key in json) {
      if (Array.isArray(json[key]) && json[key].length) return String(json[key][0]);
    }
    return "";
  }

  // --- the UI ------------------------------------------------------------------
  var host = el("div", {"data-helpdesk-chat": ""});
  // The host page's rules reach the host element only: reset it (through the
  // CSSOM, which a strict Content-Security-Policy allows) and nothing inherits.
  host.style.setProperty("all", "initial", "important");
  var root = host.attachShadow({mode: "open"});
  if (root.adoptedStyleSheets && window.CSSStyleSheet && CSSStyleSheet.prototype.replaceSync) {
    var sheet = new CSSStyleSheet();
    sheet.replaceSync(CONFIG.css);
    root.adoptedStyleSheets = [sheet];
  } else {
    root.appendChild(el("style", {text: CONFIG.css}));
  }

  var badge = el("span", {"class": "badge", hidden: true});
  var launcher = el("button", {"class": "launcher", type: "button", "aria-expanded": "false"}, [
    svgIcon(),
    el("span", {"class": "launcher-label", text: data.label || t("launcher")}),
    badge,
  ]);
  var title = el("h2", {"class": "title", id: id("title"), text: t("support")});
  var subtitle = el("p", {"class": "subtitle", role: "status"});
  var closeButton = el("button", {"class": "close", type: "button", "aria-label": t("close"), text: "×"});
  var body = el("div", {"class": "body"});
  var panel = el("section", {"class": "panel", id: id("panel"), role: "dialog", "aria-labelledby": title.id,
    hidden: true}, [
    el("div", {"class": "header"}, [el("div", {"class": "heading"}, [title, subtitle]), closeButton]),
    body,
  ]);
  launcher.setAttribute("aria-controls", panel.id);
  root.appendChild(launcher);
  root.appendChild(panel);

  function svgIcon() {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("d", "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z");
    svg.appendChild(path);
    return svg;
  }

  // The form before a chat.
  var config = null;
  var nameField = field(t("name"), el("input", {type: "text", name: "name", autocomplete: "name", maxlength: "150"}));
  var emailField = field(t("email"), el("input", {type: "email", name: "email", autocomplete: "email",
    maxlength: "254"}));
  var questionField = field(t("question"), el("textarea", {name: "message", rows: "3", maxlength: String(MAX_BODY)}));
  var greeting = el("p", {"class": "greeting"});
  var offlineUpFront = el("p", {"class": "notice", hidden: true, text: t("offline_up_front")});
  var signedIn = el("p", {"class": "signed-in", hidden: true});
  // A live region that stays in the page; filled when there is something to suggest.
  var suggestions = el("div", {"class": "suggestions", "aria-live": "polite"});
  var formError = el("p", {"class": "form-error", role: "alert"});
  var startButton = el("button", {type: "submit", "class": "primary", text: t("start")});
  var startForm = el("form", {"class": "start", novalidate: true}, [
    greeting, offlineUpFront, signedIn, nameField.row, emailField.row, questionField.row, suggestions,
    formError, startButton,
  ]);

  // The conversation.
  var messageList = el("ol", {"class": "message-list"});
  var logBox = el("div", {"class": "messages", role: "log", "aria-label": t("conversation")}, [messageList]);
  var typingLine = el("p", {"class": "typing", "aria-live": "polite"});
  var composerInput = el("textarea", {id: id("message"), rows: "2", maxlength: String(MAX_BODY)});
  var fileInput = el("input", {type: "file", id: id("file"), "class": "file-input"});
  var composerError = el("p", {"class": "form-error", role: "alert"});
  var composer = el("form", {"class": "composer", novalidate: true}, [
    el("label", {"for": composerInput.id, "class": "visually-hidden", text: t("message")}),
    composerInput,
    el("div", {"class": "composer-actions"}, [
      el("span", {"class": "attach"}, [fileInput, el("label", {"for": fileInput.id, text: t("attach")})]),
      el("button", {type: "button", "class": "secondary end", text: t("end"), onclick: endChat}),
      el("button", {type: "submit", "class": "primary", text: t("send")}),
    ]),
    composerError,
  ]);

  // After the chat: rating, transcript, a new chat.
  var ratingName = id("rating");
  var stars = [1, 2, 3, 4, 5].map(function (score) {
    var input = el("input", {type: "radio", name: ratingName, value: String(score), id: id("star")});
    return el("span", {"class": "star"}, [input, el("label", {"for": input.id, title: score === 1 ? t("stars_1")
      : t("stars_n", {count: score})}, [
      el("span", {"aria-hidden": "true", text: "★"}),
      el("span", {"class": "visually-hidden", text: score === 1 ? t("stars_1") : t("stars_n", {count: score})}),
    ])]);
  });
  var commentField = field(t("comment"), el("textarea", {name: "comment", rows: "2", maxlength: "2000"}));
  var ratingError = el("p", {"class": "form-error", role: "alert"});
  var ratingForm = el("form", {"class": "rating", novalidate: true}, [
    el("fieldset", {}, [el("legend", {text: t("rate")}), el("div", {"class": "stars"}, stars)]),
    commentField.row, ratingError, el("button", {type: "submit", "class": "primary", text: t("send_rating")}),
  ]);
  var ratingDone = el("p", {"class": "notice", role: "status", tabindex: "-1", hidden: true, text: t("rated")});
  var transcriptLink = el("a", {"class": "button-link", target: "_blank", rel: "noopener",
    text: t("download_transcript")});
  var transcriptStatus = el("p", {"class": "small", role: "status"});
  // The server's own system line says the chat ended: the box is named so, not titled again.
  var endedBox = el("div", {"class": "ended", role: "group", "aria-label": t("ended"), tabindex: "-1"}, [
    ratingForm, ratingDone,
    el("div", {"class": "transcript"}, [transcriptLink,
      el("button", {type: "button", "class": "secondary", text: t("email_transcript"), onclick: emailTranscript})]),
    transcriptStatus,
    el("button", {type: "button", "class": "secondary", text: t("new_chat"), onclick: newChat}),
  ]);
  var offlineBox = el("div", {"class": "offline", role: "status"});
  var conversation = el("div", {"class": "conversation"}, [logBox, typingLine, composer, endedBox, offlineBox]);
  body.appendChild(startForm);
  body.appendChild(conversation);

  // --- open / close -------------------------------------------------------
  function open(quietly) {
    isOpen = true;
    show(panel, true);
    host.classList.add("open");
    launcher.setAttribute("aria-expanded", "true");
    if (chat) { chat.unread = 0; saveChat(); }
    renderBadge();
    if (!config) loadConfig();
    if (!quietly) focusFirst();
    saveHistory();
    sendRead();
  }
  function close() {
    isOpen = false;
    show(panel, false);
    host.classList.remove("open");
    launcher.setAttribute("aria-expanded", "false");
    saveHistory();
    launcher.focus();
  }
  function focusFirst() {
    var target = !chat ? [nameField.control, emailField.control, questionField.control].filter(function (c) {
      return !c.closest(".field").hidden;
    })[0] : (chat.status === "waiting" || chat.status === "active") ? composerInput : closeButton;
    if (target) target.focus();
  }
  launcher.addEventListener("click", function () { if (isOpen) close(); else open(false); });
  closeButton.addEventListener("click", close);
  root.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && isOpen) { event.preventDefault(); close(); }
  });
  function renderBadge() {
    var count = chat ? chat.unread || 0 : 0;
    badge.textContent = "";
    if (count) {
      badge.appendChild(document.createTextNode(String(count)));
      badge.appendChild(el("span", {"class": "visually-hidden", text: " " + t("unread")}));
    }
    show(badge, count > 0);
  }

  // --- before the chat: config, suggestions, start -------------------------
  function loadConfig() {
    var query = "?page_url=" + encodeURIComponent(location.href) + "&language=" + LANG;
    return request("GET", "config/" + query).then(function (answer) {
      config = answer.ok && answer.json ? answer.json : {online: true};
      renderForm();
    }, function () {
      config = {online: true};
      renderForm();
    });
  }
  function renderForm() {
    var online = config.online !== false;
    greeting.textContent = config.greeting || "";
    show(greeting, online && !!config.greeting);
    show(offlineUpFront, !online);
    startButton.textContent = online ? t("start") : t("send_question");
    var visitor = config.visitor;  // the portal session's customer, when signed in
    var known = !!(visitor && visitor.email);
    show(signedIn, known);
    if (known) signedIn.textContent = t("signed_in_as", {name: visitor.name || visitor.email, email: visitor.email});
    show(nameField.row, !known);
    show(emailField.row, !known);
    if (!chat) render();
    var focused = root.activeElement;
    if (isOpen && focused && focused.closest(".field") && focused.closest(".field").hidden) focusFirst();
  }

  var suggestTimer = null, suggestSerial = 0;
  questionField.control.addEventListener("input", function () {
    clearTimeout(suggestTimer);
    suggestTimer = setTimeout(suggest, 350);
  });
  // A snippet is HTML (escaped text, the matched words in <mark>): parsed in an inert
  // document and copied as text and <mark> only, never as markup.
  function highlighted(html) {
    var out = el("p", {"class": "snippet"});
    var parsed = new DOMParser().parseFromString("<body>" + html, "text/html");
    (function copy(node, into) {
      Array.prototype.forEach.call(node.childNodes, function (child) {
        if (child.nodeType === 3) into.appendChild(document.createTextNode(child.nodeValue));
        else if (child.nodeType === 1 && child.tagName === "MARK") copy(child, into.appendChild(el("mark")));
        else if (child.nodeType === 1) copy(child, into);
      });
    })(parsed.body, out);
    return out;
  }
  function suggest() {
    var q = questionField.control.value.trim();
    var serial = ++suggestSerial;
    if (q.length < 3) { renderSuggestions([]); return; }
    request("GET", "suggest/?q=" + encodeURIComponent(q) + "&language=" + LANG).then(function (answer) {
      if (serial !== suggestSerial) return;  // an older answer arriving late
      renderSuggestions(answer.ok && answer.json ? answer.json.results || [] : []);
    }, function () { /* suggestions are a help, not a step */ });
  }
  function renderSuggestions(results) {
    var list = el("ul", {"class": "suggestion-list"});
    results.slice(0, 5).forEach(function (item) {
      var href = safeUrl(item.url);
      if (!href) return;
      list.appendChild(el("li", {}, [
        el("a", {href: href, target: "_blank", rel: "noopener"}, [item.title || href,
          el("span", {"class": "visually-hidden", text: " " + t("opens_new_tab")})]),
        item.snippet ? highlighted(item.snippet) : null,
      ]));
    });
    suggestions.textContent = "";
    if (list.children.length) {
      suggestions.appendChild(el("p", {"class": "suggestions-title", text: t("suggestions")}));
      suggestions.appendChild(list);
    }
  }

  startForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var known = nameField.row.hidden;  // the portal session says who
    var values = {
      name: nameField.control.value.trim(), email: emailField.control.value.trim(),
      message: questionField.control.value.trim(),
    };
    var problems = 0;
    [nameField, emailField, questionField].forEach(function (f) { setError(f, ""); });
    formError.textContent = "";
    if (!known && !values.name) { setError(nameField, t("required")); problems++; }
    if (!known && !values.email) { setError(emailField, t("required")); problems++; }
    else if (!known && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(values.email)) {
      setError(emailField, t("invalid_email")); problems++;
    }
    if (!values.message) { setError(questionField, t("required")); problems++; }
    if (problems) { focusInvalid(); return; }
    startButton.disabled = true;
    startButton.textContent = t("starting");
    var payload = {message: values.message, page_url: location.href, page_title: document.title, language: LANG};
    if (!known) { payload.name = values.name; payload.email = values.email; }
    request("POST", "start/", payload).then(function (answer) {
      if (answer.status === 201 && answer.json && answer.json.token) {
        begin(answer.json, values);
        return;
      }
      if (answer.status === 400 && answer.json) {
        var fields = {name: nameField, email: emailField, message: questionField};
        var other = [];
        Object.keys(answer.json).forEach(function (key) {
          var text = [].concat(answer.json[key]).join(" ");
          if (fields[key] && !fields[key].row.hidden) setError(fields[key], text); else other.push(text);
        });
        formError.textContent = other.join(" ");
        focusInvalid();
      } else {
        formError.textContent = answer.status === 429 ? t("too_many_requests") : firstError(answer.json) || t("network_error");
      }
    }, function () {
      formError.textContent = t("network_error");
    }).then(function () {
      startButton.disabled = false;
      startButton.textContent = config && config.online === false ? t("send_question") : t("start");
    });
  });
  function focusInvalid() {
    var bad = startForm.querySelector("[aria-invalid=true]");
    if (bad) bad.focus();
  }

  function begin(started, values) {
    chat = {token: started.token, chat: started.chat, ticket: started.ticket, status: started.status,
      socket: started.socket, agent: null, email: values.email || (config && config.visitor && config.visitor.email) || "",
      question: values.message, outbox: [], unread: 0, rated: false};
    entries = {};
    lastSeq = 0;
    readSeq = 0;
    saveChat();
    saveHistory();
    questionField.control.value = "";
    renderSuggestions([]);
    render();
    if (chat.status !== "offline") connect();
    focusFirst();
  }

  function newChat(focus) {
    disconnect();
    chat = null;
    entries = {};
    lastSeq = readSeq = 0;
    saveChat();
    saveHistory();
    messageList.textContent = "";
    config = null;
    render();
    loadConfig();
    if (focus !== false) focusFirst();
  }

  // --- rendering the chat ----------------------------------------------------
  function render() {
    show(startForm, !chat);
    show(conversation, !!chat);
    if (!chat) {
      title.textContent = (config && config.group) || t("support");
      subtitle.textContent = config ? (config.online === false ? t("offline_short") : t("online")) : "";
      typingLine.textContent = "";
      return;
    }
    var live = chat.status === "waiting" || chat.status === "active";
    show(composer, live);
    show(endedBox, chat.status === "ended");
    show(offlineBox, chat.status === "offline");
    title.textContent = chat.agent || (config && config.group) || t("support");
    subtitle.textContent = chat.status === "waiting" ? t("waiting") : chat.status === "active" ? t("online") : "";
    if (!live) typingLine.textContent = "";
    if (chat.status === "ended") {
      transcriptLink.href = API + encodeURIComponent(chat.token) + "/transcript/";
      show(ratingForm, !chat.rated);
      show(ratingDone, !!chat.rated);
    }
    if (chat.status === "offline") {
      offlineBox.textContent = "";
      offlineBox.appendChild(el("p", {"class": "notice", text: t("offline_reply", {email: chat.email})}));
      offlineBox.appendChild(el("p", {"class": "ticket", text: t("ticket_number", {ticket: chat.ticket})}));
      offlineBox.appendChild(el("button", {type: "button", "class": "secondary", text: t("new_chat"), onclick: newChat}));
      if (!Object.keys(entries).length && chat.question) {
        renderEntry({seq: 1, author: "visitor", body: chat.question, client_id: null, attachments: []});
      }
    }
  }

  function renderEntry(frame) {
    var key = frame.seq ? "s" + frame.seq : "c" + frame.client_id;
    var existing = (frame.client_id && messageList.querySelector('[data-client-id="' + cssEscape(frame.client_id) + '"]'))
      || (frame.seq && messageList.querySelector('[data-seq="' + frame.seq + '"]'));
    var author = frame.author === "agent" || frame.author === "system" ? frame.author : "visitor";
    var item = el("li", {"class": "msg msg-" + author, "data-key": key});
    if (frame.seq) item.setAttribute("data-seq", String(frame.seq));
    if (frame.client_id) item.setAttribute("data-client-id", frame.client_id);
    if (author === "system") {
      item.appendChild(el("span", {text: frame.body}));
    } else {
      item.appendChild(el("span", {"class": "who", text: author === "agent" ? frame.name || t("agent") : t("you")}));
      var bubble = el("div", {"class": "bubble"});
      var files = frame.attachments || [];
      // A file's message has the file's name for a body: the link says it once.
      var onlyName = files.some(function (file) { return file.name === frame.body; });
      if (frame.body && !onlyName) bubble.appendChild(el("p", {"class": "text", text: frame.body}));
      files.forEach(function (file) {
        var href = safeUrl(file.url);
        bubble.appendChild(el("p", {"class": "file"}, [href ? el("a", {href: href, target: "_blank", rel: "noopener",
          text: file.name}) : file.name, " (" + humanSize(file.size || 0) + ")"]));
      });
      item.appendChild(bubble);
      if (author === "visitor") item.appendChild(el("span", {"class": "state"}));
    }
    if (existing) messageList.replaceChild(item, existing);
    else insertInOrder(item, frame.seq);
    updateState(item);
    logBox.scrollTop = logBox.scrollHeight;
  }
  function cssEscape(value) { return String(value).replace(/["\\]/g, "\\$&"); }
  function insertInOrder(item, seq) {
    if (seq) {
      // Before the first entry with a larger seq, or before the unsent ones.
      var children = messageList.children;
      for (var i = 0; i < children.length; i++) {
        var other = Number(children[i].getAttribute("data-seq") || 0);
        if (!other || other > seq) { messageList.insertBefore(item, children[i]); return; }
      }
    }
    messageList.appendChild(item);
  }
  function updateState(item) {
    var state = item.querySelector(".state");
    if (!state) return;
    var seq = Number(item.getAttribute("data-seq") || 0);
    var text = !seq ? t("sending") : seq <= readSeq ? t("read") : t("delivered");
    state.textContent = text;
    item.setAttribute("data-state", !seq ? "sending" : seq <= readSeq ? "read" : "delivered");
  }
  function renderAll() {
    messageList.textContent = "";
    Object.keys(entries).map(Number).sort(function (a, b) { return a - b; }).forEach(function (seq) {
      renderEntry(entries[seq]);
    });
    (chat && chat.outbox || []).forEach(function (pending) {
      renderEntry({client_id: pending.client_id, author: "visitor", body: pending.body, attachments: []});
    });
  }

  // --- the socket --------------------------------------------------------------
  var socket = null, retries = 0, retryTimer = null, flushed = false;
  function connect() {
    clearTimeout(retryTimer);
    if (!chat || socket || (chat.status !== "waiting" && chat.status !== "active")) return;
    var path = chat.socket || ("/ws/chat/" + encodeURIComponent(chat.token) + "/");
    flushed = false;
    try {
      socket = new WebSocket(WS_BASE + path);
    } catch (e) {
      scheduleReconnect();
      return;
    }
    var mine = socket;
    if (chat.status === "waiting" && !Object.keys(entries).length) subtitle.textContent = t("connecting");
    mine.onopen = function () {
      retries = 0;
      sendFrame({type: "resume", last_seq: lastSeq});
      render();
    };
    mine.onmessage = function (event) {
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      if (frame && typeof frame.type === "string") handle(frame);
    };
    mine.onclose = function (event) {
      if (socket !== mine) return;
      socket = null;
      setTypingShown(null);
      if (event.code === 4403 || event.code === 4404) {  // the token no longer opens a chat
        var gone = t("chat_gone");
        newChat(false);
        formError.textContent = gone;
        return;
      }
      if (chat && (chat.status === "waiting" || chat.status === "active")) scheduleReconnect();
    };
  }
  function scheduleReconnect() {
    clearTimeout(retryTimer);
    subtitle.textContent = t("reconnecting");
    // Exponential backoff with jitter (0.5 s … 15 s): a restarted server is not stampeded.
    var delay = Math.min(15000, 500 * Math.pow(2, retries)) * (0.7 + Math.random() * 0.6);
    retries = Math.min(retries + 1, 10);
    retryTimer = setTimeout(connect, delay);
  }
  function disconnect() {
    clearTimeout(retryTimer);
    if (socket) { var s = socket; socket = null; s.close(1000); }
  }
  function sendFrame(frame) {
    if (!socket || socket.readyState !== WebSocket.OPEN) return false;
    socket.send(JSON.stringify(frame));
    return true;
  }
  window.addEventListener("online", function () { if (!socket) { retries = 0; connect(); } });

  function flushOutbox() {
    // Unacknowledged messages go again with the same client_id: the server stores each once.
    flushed = true;
    (chat.outbox || []).forEach(function (pending) {
      sendFrame({type: "message", client_id: pending.client_id, body: pending.body});
    });
  }

  function handle(frame) {
    if (!chat) return;
    if (frame.type === "message") receive(frame);
    else if (frame.type === "ack") acknowledge(frame.client_id, frame.seq);
    else if (frame.type === "read") {
      readSeq = Math.max(readSeq, Number(frame.seq) || 0);
      saveHistory();
      Array.prototype.forEach.call(messageList.querySelectorAll(".msg-visitor"), updateState);
    } else if (frame.type === "typing") {
      setTypingShown(frame.on ? frame.name || t("agent") : null);
    } else if (frame.type === "state") {
      chat.status = frame.status || chat.status;
      chat.agent = frame.agent || null;
      if (frame.ticket) chat.ticket = frame.ticket;
      saveChat();
      render();
      if (chat.status === "waiting" || chat.status === "active") {
        if (!flushed) flushOutbox();
      } else {
        disconnect();
        // The composer (and the focused End button) is gone: say where the visitor is now.
        var focused = root.activeElement;
        if (isOpen && (!focused || focused.closest(".composer"))) (chat.status === "ended" ? endedBox : closeButton).focus();
      }
    } else if (frame.type === "error") {
      composerError.textContent = t("error_" + frame.code) !== "error_" + frame.code ? t("error_" + frame.code)
        : frame.detail || t("error_bad_frame");
    }
  }
  function receive(frame) {
    var seq = Number(frame.seq) || 0;
    if (!seq || entries[seq]) return;  // a replay of what this page already shows
    entries[seq] = {seq: seq, client_id: frame.client_id || null, author: frame.author, name: frame.name,
      body: frame.body || "", at: frame.at, attachments: frame.attachments || []};
    lastSeq = Math.max(lastSeq, seq);
    if (frame.client_id) acknowledge(frame.client_id, seq, true);
    if (frame.author === "agent") {
      setTypingShown(null);
      if (!isOpen || document.hidden) { chat.unread = (chat.unread || 0) + 1; saveChat(); renderBadge(); }
    }
    saveHistory();
    renderEntry(entries[seq]);
    sendRead();
  }
  function acknowledge(clientId, seq, quiet) {
    // The server sends this socket no copy of its own line: the ack makes it an entry (its other tabs get the line).
    var own = chat.outbox.filter(function (p) { return p.client_id === clientId; })[0];
    if (own && seq && !entries[seq]) {
      entries[seq] = {seq: seq, client_id: clientId, author: "visitor", name: "", body: own.body,
        at: new Date().toISOString(), attachments: []};
      lastSeq = Math.max(lastSeq, seq);
      saveHistory();
    }
    var before = chat.outbox.length;
    chat.outbox = chat.outbox.filter(function (p) { return p.client_id !== clientId; });
    if (chat.outbox.length !== before) saveChat();
    if (quiet) return;
    var item = messageList.querySelector('[data-client-id="' + cssEscape(clientId) + '"]');
    if (item && seq && !item.getAttribute("data-seq")) {
      item.setAttribute("data-seq", String(seq));
      updateState(item);
    }
  }

  var readSent = 0;
  function sendRead() {
    if (!chat || !isOpen || document.hidden) return;
    var seen = 0;
    Object.keys(entries).forEach(function (s) { if (entries[s].author !== "visitor") seen = Math.max(seen, Number(s)); });
    if (seen > readSent && sendFrame({type: "read", seq: seen})) readSent = seen;
  }
  document.addEventListener("visibilitychange", function () {
    if (document.hidden) return;
    if (isOpen && chat && chat.unread) { chat.unread = 0; saveChat(); renderBadge(); }
    sendRead();
    if (!socket && chat) { retries = 0; connect(); }
  });

  var typingHide = null;
  function setTypingShown(name) {
    clearTimeout(typingHide);
    typingLine.textContent = name ? t("typing", {name: name}) : "";
    // A lost "off" frame does not leave the line up forever.
    if (name) typingHide = setTimeout(function () { typingLine.textContent = ""; }, 15000);
  }

  // --- sending -----------------------------------------------------------------
  var typingOn = false, typingTimer = null;
  function typing(on) {
    clearTimeout(typingTimer);
    if (on) typingTimer = setTimeout(function () { typing(false); }, TYPING_IDLE_MS);
    if (on !== typingOn) { typingOn = on; sendFrame({type: "typing", on: on}); }
  }
  composerInput.addEventListener("input", function () { typing(composerInput.value.length > 0); });
  composerInput.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      composer.requestSubmit ? composer.requestSubmit() : submitMessage();
    }
  });
  composer.addEventListener("submit", function (event) { event.preventDefault(); submitMessage(); });
  function submitMessage() {
    var text = composerInput.value.trim();
    composerError.textContent = "";
    if (!text || !chat) return;
    if (text.length > MAX_BODY) { composerError.textContent = t("error_too_large"); return; }
    var pending = {client_id: newClientId(), body: text};
    chat.outbox.push(pending);
    saveChat();
    composerInput.value = "";
    typing(false);
    renderEntry({client_id: pending.client_id, author: "visitor", body: text, attachments: []});
    if (flushed) sendFrame({type: "message", client_id: pending.client_id, body: text});
    if (!socket) connect();
  }

  fileInput.addEventListener("change", function () {
    var file = fileInput.files && fileInput.files[0];
    composerError.textContent = "";
    if (!file || !chat) return;
    var limit = (config && config.max_attachment_bytes) || 10 * 1048576;
    if (file.size > limit) {
      composerError.textContent = t("file_too_large", {name: file.name, limit: humanSize(limit)});
      fileInput.value = "";
      return;
    }
    var clientId = newClientId();
    var form = new FormData();
    form.append("file", file);
    form.append("client_id", clientId);
    typingLine.textContent = t("uploading", {name: file.name});
    request("POST", encodeURIComponent(chat.token) + "/attachments/", form).then(function (answer) {
      typingLine.textContent = "";
      if (answer.status === 201 && answer.json) receive(answer.json);
      else composerError.textContent = answer.status === 413 ? t("file_too_large", {name: file.name,
        limit: humanSize(limit)}) : t("upload_failed", {reason: firstError(answer.json) || answer.status});
    }, function () {
      typingLine.textContent = "";
      composerError.textContent = t("network_error");
    });
    fileInput.value = "";
  });

  function endChat() {
    if (!sendFrame({type: "end"})) composerError.textContent = t("reconnecting");
  }

  ratingForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var picked = ratingForm.querySelector("input[type=radio]:checked");
    ratingError.textContent = "";
    if (!picked) { ratingError.textContent = t("required"); return; }
    request("POST", encodeURIComponent(chat.token) + "/rating/", {score: Number(picked.value),
      comment: commentField.control.value.trim()}).then(function (answer) {
      if (!answer.ok) { ratingError.textContent = firstError(answer.json) || t("rating_failed"); return; }
      chat.rated = true;
      saveChat();
      render();
      ratingDone.focus();
    }, function () { ratingError.textContent = t("network_error"); });
  });

  function emailTranscript() {
    transcriptStatus.textContent = "";
    request("POST", encodeURIComponent(chat.token) + "/transcript/email/", {}).then(function (answer) {
      transcriptStatus.textContent = answer.ok ? t("transcript_sent") : firstError(answer.json) || t("transcript_failed");
    }, function () { transcriptStatus.textContent = t("network_error"); });
  }

  // --- start ---------------------------------------------------------------------
  function mount() {
    document.body.appendChild(host);
    render();
    if (chat) {
      renderAll();
      renderBadge();
      connect();
    }
    // The panel stays open across the site's pages; focus is not taken on load.
    if (wasOpen) open(true);
  }
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})(HELPDESK_CHAT_CONFIG);
