// The Drover board's pages: load the current path's fragment (rendered and escaped by the
// server) from the API, refresh it every 2 s and on each board event unless paused, and send
// actions as POSTs with the CSRF header. No dependencies.
(function () {
  "use strict";
  var api = document.querySelector('meta[name="drover-api"]').getAttribute("content");
  var main = document.getElementById("board");
  var flash = document.getElementById("flash");
  var toggle = document.getElementById("live");
  var status = document.getElementById("live-status");
  var paused = window.localStorage.getItem("drover-board-paused") === "1";
  var last = null;
  var busy = false;

  function fragmentUrl() {
    var path = location.pathname;
    var query = location.search;
    if (path === "/" || path === "") {
      path = "/overview";
    } else if (path === "/tasks") {
      var id = new URLSearchParams(query).get("id") || "";
      path = "/tasks/" + encodeURIComponent(id.trim());
      query = "";
    }
    return api + "/ui" + path + query;
  }

  function toLogin() {
    location.href = "/_board/login?next=" + encodeURIComponent(location.pathname + location.search);
  }

  // Someone typing into a form of the page: a refresh would throw their input away.
  function editing() {
    var active = document.activeElement;
    return active && main.contains(active) && /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName);
  }

  function refresh(force) {
    if (busy || (force !== true && editing())) return Promise.resolve();
    busy = true;
    return fetch(fragmentUrl(), { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (response.status === 401) { toLogin(); return null; }
        return response.text();
      })
      .then(function (html) {
        if (html !== null && html !== last) {
          last = html;
          main.innerHTML = html;
        }
        status.textContent = paused ? "paused" : "updated " + new Date().toLocaleTimeString();
      })
      .catch(function (error) { status.textContent = "cannot reach the board: " + error; })
      .then(function () { busy = false; });
  }

  function show(message, ok) {
    flash.textContent = message;
    flash.className = ok ? "ok" : "error";
  }

  // A form's fields as a JSON body: number fields (and fields marked data-number) as numbers,
  // an empty one as null; "rate.starts" and "rate.per_ms" as {"rate": {"starts", "per_ms"}},
  // the whole group null when one of its numbers is empty.
  function formBody(form) {
    var body = {};
    Array.prototype.forEach.call(form.elements, function (field) {
      if (!field.name) return;
      var numeric = field.type === "number" || field.hasAttribute("data-number");
      var value = numeric ? (field.value.trim() === "" ? null : Number(field.value)) : field.value;
      var dot = field.name.indexOf(".");
      if (dot < 0) { body[field.name] = value; return; }
      var group = field.name.slice(0, dot);
      if (body[group] === null) return;
      if (value === null) { body[group] = null; return; }
      body[group] = body[group] || {};
      body[group][field.name.slice(dot + 1)] = value;
    });
    return body;
  }

  main.addEventListener("submit", function (event) {
    var form = event.target.closest("form[data-post]");
    if (!form) return;
    event.preventDefault();
    var confirmText = form.getAttribute("data-confirm");
    if (confirmText && !window.confirm(confirmText)) return;
    var body = formBody(form);
    fetch(api + form.getAttribute("data-post"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-Drover-Csrf": "1", "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body)
    })
      .then(function (response) {
        if (response.status === 401) { toLogin(); return; }
        return response.json().then(function (answer) {
          show(answer.message || answer.error || response.statusText, response.ok);
          // An action after which the page has nothing to show (a deleted task) names where to go.
          var then = form.getAttribute("data-then");
          if (response.ok && then) { location.href = then; }
        });
      })
      .catch(function (error) { show("the action failed: " + error, false); })
      .then(function () {
        if (document.activeElement && main.contains(document.activeElement)) document.activeElement.blur();
        return refresh(true);
      });
  });

  function showLive() {
    toggle.textContent = paused ? "Resume live updates" : "Pause live updates";
    toggle.setAttribute("aria-pressed", paused ? "true" : "false");
  }
  toggle.addEventListener("click", function () {
    paused = !paused;
    window.localStorage.setItem("drover-board-paused", paused ? "1" : "0");
    showLive();
    if (!paused) refresh(); else status.textContent = "paused";
  });
  showLive();

  document.getElementById("find").addEventListener("submit", function (event) {
    event.preventDefault();
    var id = event.target.elements.id.value.trim();
    if (id) location.href = "/tasks?id=" + encodeURIComponent(id);
  });

  window.setInterval(function () {
    if (!paused && !document.hidden) refresh();
  }, 2000);
  if (window.EventSource) {
    var events = new EventSource(api + "/events");
    events.addEventListener("board", function () { if (!paused) refresh(); });
  }
  refresh();
})();
