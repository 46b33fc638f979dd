// rlcoach web: theme toggle, upload without a reload, upload status polling. No inline script
// (the CSP forbids it); everything hangs off data attributes.
(function () {
  "use strict";
  var root = document.documentElement;
  var saved = null;
  try { saved = localStorage.getItem("theme"); } catch (e) { saved = null; }
  if (saved === "light" || saved === "dark") { root.setAttribute("data-theme", saved); }

  var toggle = document.getElementById("theme-toggle");
  if (toggle) {
    toggle.addEventListener("click", function () {
      var next = root.getAttribute("data-theme") === "light" ? "dark" : "light";
      root.setAttribute("data-theme", next);
      try { localStorage.setItem("theme", next); } catch (e) { /* private mode */ }
    });
  }

  function statusRow(list, s) {
    var li = document.querySelector('[data-upload="' + s.upload_id + '"]');
    if (!li) {
      li = document.createElement("li");
      li.setAttribute("data-upload", s.upload_id);
      list.appendChild(li);
    }
    li.textContent = "";
    var name = document.createElement("span");
    name.textContent = (s.file_name || "replay") + " — ";
    var state = document.createElement("span");
    state.className = "status-" + s.state;
    state.textContent = s.state + (s.error ? ": " + s.error : "");
    li.appendChild(name);
    li.appendChild(state);
    if (s.state === "done" && s.replay_id) {
      var a = document.createElement("a");
      a.href = "/replays/" + encodeURIComponent(s.replay_id);
      a.textContent = " open";
      li.appendChild(a);
    }
  }

  function refusedRow(list, r) {
    var li = document.createElement("li");
    li.className = "status-failed";
    li.textContent = (r.file_name || "file") + " — " + r.error;
    list.appendChild(li);
  }

  function poll(list) {
    var ids = [];
    list.querySelectorAll("[data-upload]").forEach(function (li) {
      var st = li.querySelector("[class^=status-]");
      if (!st || (st.className !== "status-done" && st.className !== "status-failed")) {
        ids.push("id=" + encodeURIComponent(li.getAttribute("data-upload")));
      }
    });
    if (ids.length === 0) { return; }
    fetch("/upload/status?" + ids.join("&"), { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(function (all) {
        all.forEach(function (s) { statusRow(list, s); });
        setTimeout(function () { poll(list); }, 1000);
      })
      .catch(function () { setTimeout(function () { poll(list); }, 3000); });
  }

  var list = document.getElementById("upload-status");
  if (list && list.querySelector("[data-upload]")) { poll(list); }

  var form = document.getElementById("upload-form");
  if (form && list && window.fetch && window.FormData) {
    var drop = form.querySelector(".drop");
    var input = form.querySelector("input[type=file]");
    if (drop && input) {
      ["dragenter", "dragover"].forEach(function (t) {
        drop.addEventListener(t, function (e) { e.preventDefault(); drop.classList.add("over"); });
      });
      ["dragleave", "drop"].forEach(function (t) {
        drop.addEventListener(t, function (e) { e.preventDefault(); drop.classList.remove("over"); });
      });
      drop.addEventListener("drop", function (e) {
        if (e.dataTransfer && e.dataTransfer.files) { input.files = e.dataTransfer.files; }
      });
    }
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var button = form.querySelector("button[type=submit]");
      if (button) { button.disabled = true; }
      fetch(form.action, {
        method: "POST", body: new FormData(form), credentials: "same-origin",
        headers: { "Accept": "application/json" }
      })
        .then(function (r) { return r.json(); })
        .then(function (res) {
          (res.accepted || []).forEach(function (s) { statusRow(list, s); });
          (res.refused || []).forEach(function (r) { refusedRow(list, r); });
          if (res.error) { refusedRow(list, { file_name: "", error: res.error }); }
          form.reset();
          poll(list);
        })
        .catch(function () { refusedRow(list, { file_name: "", error: "the upload did not go through" }); })
        .then(function () { if (button) { button.disabled = false; } });
    });
  }

  // Forms that must not be sent twice (a double click on Upgrade): the button is disabled once
  // the form is on its way.
  document.querySelectorAll("form[data-once]").forEach(function (f) {
    f.addEventListener("submit", function () {
      var b = f.querySelector("button[type=submit]");
      if (b) { setTimeout(function () { b.disabled = true; }, 0); }
    });
  });

  // After a checkout: ask for the plan every 2 s (for up to a minute) and reload once Pro is on.
  var wait = document.querySelector("[data-wait-pro]");
  if (wait && window.fetch) {
    var tries = 0;
    var check = function () {
      tries += 1;
      fetch(wait.getAttribute("data-wait-pro"), { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : {}; })
        .then(function (p) {
          if (p.tier === "pro") { window.location.reload(); return; }
          if (tries < 30) { setTimeout(check, 2000); }
        })
        .catch(function () { if (tries < 30) { setTimeout(check, 4000); } });
    };
    setTimeout(check, 1500);
  }
})();
