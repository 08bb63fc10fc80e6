/* sigma web UI: small progressive enhancements. Every page works without this file. */
(function () {
  "use strict";

  // Confirm dialogs for destructive buttons (data-confirm on the form, or on the button that
  // submits it); without JS the server shows a confirmation page.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var button = event.submitter;
    var message = (button && button.getAttribute && button.getAttribute("data-confirm")) ||
      (form.getAttribute && form.getAttribute("data-confirm"));
    if (!message) return;
    if (!window.confirm(message)) { event.preventDefault(); return; }
    if (!form.querySelector("input[name=confirmed]")) {
      var input = document.createElement("input");
      input.type = "hidden"; input.name = "confirmed"; input.value = "yes";
      form.appendChild(input);
    }
  });

  // Filter forms: changing a select applies it (and goes back to page 1).
  document.querySelectorAll("form[data-autosubmit] select").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });

  // "Verify" stays disabled until six digits are typed.
  document.querySelectorAll("input[data-six-digits]").forEach(function (input) {
    var button = document.getElementById(input.getAttribute("data-six-digits"));
    if (!button) return;
    function sync() {
      input.value = input.value.replace(/\D/g, "").slice(0, 6);
      button.disabled = input.value.length !== 6;
    }
    input.addEventListener("input", sync);
    sync();
  });

  // Change password: the two new passwords must match.
  document.querySelectorAll("form[data-password-form]").forEach(function (form) {
    var confirm = form.querySelector("#confirm_password");
    var fresh = form.querySelector("#new_password");
    function check() {
      confirm.setCustomValidity(confirm.value && confirm.value !== fresh.value ? "Passwords do not match" : "");
    }
    confirm.addEventListener("input", check);
    fresh.addEventListener("input", check);
  });

  // VPS form: dynamic IP rows; pasting a list splits it into rows; Enter adds a row.
  var rows = document.getElementById("ip-rows");
  var template = document.getElementById("ip-row-template");
  var addButton = document.getElementById("add-ip");
  if (rows && template && addButton) {
    var IP = /^[0-9A-Fa-f:.[\]]*$/;

    function validate(input) {
      var ok = IP.test(input.value.trim());
      input.classList.toggle("invalid", !ok);
      input.setCustomValidity(ok ? "" : "Only digits, dots, colons and hex letters");
    }

    function addRow(value, afterRow) {
      var row = template.content.firstElementChild.cloneNode(true);
      var input = row.querySelector("input");
      input.value = value || "";
      if (afterRow && afterRow.nextSibling) rows.insertBefore(row, afterRow.nextSibling);
      else rows.appendChild(row);
      wire(row);
      return row;
    }

    function wire(row) {
      var input = row.querySelector("input");
      var remove = row.querySelector(".remove-ip");
      if (remove) {
        remove.hidden = false;
        remove.addEventListener("click", function () {
          if (rows.querySelectorAll(".ip-row").length > 1) row.remove();
          else { input.value = ""; validate(input); }
        });
      }
      input.addEventListener("input", function () { validate(input); });
      input.addEventListener("keydown", function (event) {
        if (event.key === "Enter") {
          event.preventDefault();
          addRow("", row).querySelector("input").focus();
        }
      });
      input.addEventListener("paste", function (event) {
        var text = (event.clipboardData || window.clipboardData).getData("text");
        if (!/[,\n\r;\s]/.test(text.trim())) return;
        event.preventDefault();
        var parts = text.split(/[,\n\r;\s]+/).map(function (s) { return s.trim(); }).filter(Boolean);
        if (!parts.length) return;
        input.value = parts[0];
        validate(input);
        var last = row;
        for (var i = 1; i < parts.length; i++) {
          var target = last.nextElementSibling;
          var targetInput = target && target.querySelector("input");
          if (targetInput && !targetInput.value) { targetInput.value = parts[i]; last = target; }
          else last = addRow(parts[i], last);
          validate(last.querySelector("input"));
        }
      });
    }

    rows.querySelectorAll(".ip-row").forEach(wire);
    addButton.hidden = false;
    addButton.addEventListener("click", function () { addRow("").querySelector("input").focus(); });
  }
  // VPS picker (ticket form): suggestions from /vps/options while typing; the server
  // resolves whatever is typed (hostname, id or prefix), so the field works without this.
  document.querySelectorAll("input[data-vps-picker]").forEach(function (input) {
    var list = document.getElementById(input.getAttribute("list"));
    var timer = null;
    var last = "";
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var q = input.value.trim();
        if (!q || q === last) return;
        last = q;
        fetch("/vps/options?q=" + encodeURIComponent(q), { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.json() : []; })
          .then(function (items) {
            list.replaceChildren();
            items.forEach(function (v) {
              var option = document.createElement("option");
              option.value = v.hostname;
              option.label = v.alias ? v.hostname + " (" + v.alias + ")" : v.hostname;
              list.appendChild(option);
            });
          })
          .catch(function () {});
      }, 150);
    });
  });

  // Phone menu (a checkbox and its label in base.html, no JS needed): Escape closes it and
  // gives the focus back to its button.
  var navToggle = document.getElementById("nav-toggle");
  if (navToggle) {
    document.addEventListener("keydown", function (event) {
      if (event.key !== "Escape" || !navToggle.checked) return;
      navToggle.checked = false;
      navToggle.focus();
    });
  }

  // VPS list: "select all on this page" ticks every row; the bar counts the selection.
  // Without JS, that box alone sends scope=page and the server takes every row of the page.
  document.querySelectorAll("input[data-select-all]").forEach(function (all) {
    var boxes = Array.prototype.slice.call(document.querySelectorAll("input[data-row-select]"));
    var counter = document.getElementById("bulk-count");
    function sync() {
      var n = boxes.filter(function (b) { return b.checked; }).length;
      all.checked = n > 0 && n === boxes.length;
      all.indeterminate = n > 0 && n < boxes.length;
      if (counter) counter.textContent = n === 1 ? "1 VPS selected:" : n + " VPS selected:";
    }
    all.addEventListener("change", function () {
      boxes.forEach(function (b) { b.checked = all.checked; });
      sync();
    });
    boxes.forEach(function (b) { b.addEventListener("change", sync); });
    sync();
  });

  // Dashboard: the attention counts are updated in place every minute. A signed-out or
  // expired session (401, or a redirect to the login page) stops the polling.
  var strip = document.querySelector("[data-attention-url]");
  if (strip && window.fetch) {
    var url = strip.getAttribute("data-attention-url");
    var timer = null;
    var stop = function () { if (timer) { clearInterval(timer); timer = null; } };
    var update = function (items) {
      items.forEach(function (item) {
        var link = strip.querySelector('[data-attention="' + item.kind + '"]');
        if (!link) return;
        link.querySelector(".attention-count").textContent = String(item.count);
        link.classList.toggle("is-zero", item.count === 0);
        link.setAttribute("href", item.href);
      });
    };
    var poll = function () {
      if (document.hidden) return;
      fetch(url, { credentials: "same-origin", redirect: "manual", headers: { Accept: "application/json" } })
        .then(function (r) {
          if (r.status === 401 || r.status === 403 || r.type === "opaqueredirect" || r.redirected) {
            stop();
            return null;
          }
          return r.ok ? r.json() : null;
        })
        .then(function (body) { if (body && body.items) update(body.items); })
        .catch(function () {});
    };
    timer = setInterval(poll, 60000);
    strip.sigmaPoll = poll;  // for the browser tests
  }
})();
