/* Pitlane staff pages: dialogs, the photo lightbox, copying the customer link.
   CSP-safe: no inline handlers, no eval. Every page works without this file. */
(function () {
  "use strict";

  // Where focus goes back to: what opened the dialog, or what posted a change.
  // A snapshot of ids, as the page body is replaced after every change.
  var returnFocus = null;
  var afterChange = null; // a snapshot waiting for the page body to come back

  function byId(id) {
    return id ? document.getElementById(id) : null;
  }

  function firstField(dialog) {
    return (
      dialog.querySelector("[autofocus]") ||
      dialog.querySelector(".errorlist ~ input, .errorlist ~ textarea, [aria-invalid=true]") ||
      dialog.querySelector("input:not([type=hidden]):not([readonly]), textarea, select") ||
      // A question without fields (remove? replace?): start on the safe answer.
      dialog.querySelector(".form-actions a, .form-actions button")
    );
  }

  function idOf(el) {
    return el ? el.id || "" : "";
  }

  function openItems() {
    return Array.prototype.map.call(
      document.querySelectorAll("#checkin article.item.state-open[id]"),
      idOf
    );
  }

  function snapshot(el) {
    if (!el || !el.closest) return null;
    var opener = el.id ? el : el.querySelector && el.querySelector("[type=submit][id]");
    return {
      opener: idOf(opener),
      item: idOf(el.closest("article.item[id]")),
      row: idOf(el.closest("tr[id]")),
      section: idOf(el.closest("section[id]")),
      openItems: openItems(),
      body: document.getElementById("appointment-body"),
    };
  }

  function focusOn(target) {
    if (!target || !target.isConnected) return false;
    if (!target.matches("a[href], button, input, select, textarea, [tabindex]")) {
      target.setAttribute("tabindex", "-1");
    }
    target.focus();
    return document.activeElement === target;
  }

  function isOpenItem(el) {
    return Boolean(el && el.classList.contains("state-open"));
  }

  // After a change: the control that made it, if it is still there (a switch, an edit);
  // else, for a check-in item now handled, the next open item, else the first one, else
  // the check-in section; for a removed row, its section. Never <body>.
  function focusAfterChange(before) {
    if (focusOn(byId(before.opener))) return;
    if (before.item) {
      var later = before.openItems.slice(before.openItems.indexOf(before.item) + 1);
      var next = later.map(byId).filter(isOpenItem)[0];
      if (focusOn(next || document.querySelector("#checkin article.item.state-open"))) return;
      if (focusOn(byId("checkin"))) return;
    }
    focusOn(byId(before.row)) ||
      focusOn(byId(before.section)) ||
      focusOn(document.querySelector("main h1"));
  }

  function restoreFocus() {
    if (!returnFocus) return true;
    var target = byId(returnFocus.opener) || byId(returnFocus.item) || byId(returnFocus.row);
    if (focusOn(target)) {
      returnFocus = null;
      return true;
    }
    return false;
  }

  function openDialog(dialog) {
    if (!dialog || dialog.open) return;
    dialog.addEventListener("close", function () {
      dialog.remove();
      if (afterChange) return; // focus waits for the page body to come back
      if (!restoreFocus() && returnFocus) {
        focusAfterChange(returnFocus);
        returnFocus = null;
      }
    });
    dialog.showModal();
    var field = firstField(dialog);
    if (field) field.focus();
  }

  function closeDialogs() {
    document.querySelectorAll("#dialog-host dialog[open]").forEach(function (dialog) {
      dialog.close();
    });
  }

  var lastPost = null; // a change posted from the page itself (not from a dialog)

  // A dialog partial arrives: open it as a modal (focus stays inside, Escape closes).
  document.addEventListener("htmx:beforeRequest", function (event) {
    var target = event.detail.target;
    var elt = event.detail.elt;
    if (target && target.id === "dialog-host") returnFocus = snapshot(elt);
    var verb = event.detail.requestConfig && event.detail.requestConfig.verb;
    if (verb === "post" && elt.closest && elt.closest("#appointment-body")) lastPost = snapshot(elt);
  });
  // Opened once htmx has settled the partial, not when it is swapped in: htmx wires up the
  // dialog's form only then, and a form confirmed before that would post as a plain page.
  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail.target;
    if (target && target.id === "dialog-host") openDialog(target.querySelector("dialog"));
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    // A form came back with errors: focus the first field that needs attention.
    var form = event.detail.elt;
    if (form && form.matches && form.matches(".dialog-form")) {
      var fresh = document.querySelector("#dialog-host dialog[open] .dialog-form");
      var invalid = fresh && fresh.querySelector("[aria-invalid=true]");
      if (invalid) invalid.focus();
    }
  });

  // The server changed something: close the dialog; the page reloads its body itself,
  // and focus goes somewhere sensible once it has.
  document.body.addEventListener("appointmentChanged", function () {
    var dialogOpen = document.querySelector("#dialog-host dialog[open]");
    afterChange = (dialogOpen && returnFocus) || lastPost || snapshot(document.activeElement);
    if (afterChange) {
      // As the page is now, just before its body is replaced.
      afterChange.body = document.getElementById("appointment-body");
      afterChange.openItems = openItems();
    }
    returnFocus = null;
    lastPost = null;
    closeDialogs();
  });

  document.addEventListener("htmx:afterSettle", function () {
    if (!afterChange) return;
    var body = document.getElementById("appointment-body");
    if (afterChange.body && body === afterChange.body) return; // not the page body yet
    var before = afterChange;
    afterChange = null;
    focusAfterChange(before);
  });

  document.addEventListener("click", function (event) {
    // Close links: a page link without JavaScript, closing the dialog with it.
    var close = event.target.closest("[data-close-dialog]");
    if (close) {
      var dialog = close.closest("dialog");
      if (dialog) {
        event.preventDefault();
        dialog.close();
        return;
      }
    }

    // Photos open large in the lightbox; without JavaScript the link opens the photo.
    var photo = event.target.closest("a[data-lightbox]");
    if (photo) {
      var box = document.getElementById("lightbox");
      if (box && box.showModal) {
        event.preventDefault();
        var img = box.querySelector("img");
        var thumb = photo.querySelector("img");
        img.src = photo.href;
        img.alt = thumb ? thumb.alt : "";
        box.setAttribute("aria-label", img.alt);
        box._opener = photo;
        box.showModal();
        box.querySelector("button").focus();
      }
      return;
    }

    // A click on the backdrop of the lightbox closes it.
    if (event.target.id === "lightbox") event.target.close();

    var copy = event.target.closest("[data-copy]");
    if (copy) copyField(copy);
  });

  var lightbox = document.getElementById("lightbox");
  if (lightbox) {
    lightbox.addEventListener("close", function () {
      lightbox.querySelector("img").removeAttribute("src");
      if (lightbox._opener && lightbox._opener.isConnected) lightbox._opener.focus();
    });
  }

  function copyField(button) {
    var field = document.getElementById(button.getAttribute("data-copy"));
    var status = button.closest("section").querySelector(".copy-status");
    if (!field) return;
    var done = function () {
      if (status) status.textContent = button.getAttribute("data-copied") || "Link copied.";
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, function () {
        field.select();
      });
    } else {
      field.focus();
      field.select();
      if (document.execCommand && document.execCommand("copy")) done();
    }
  }

  function enhance(root) {
    root.querySelectorAll("[data-copy][hidden]").forEach(function (button) {
      button.hidden = false;
    });
    root.querySelectorAll("[data-autosubmit-button]").forEach(function (button) {
      button.hidden = true;
    });
  }

  // Tab and Shift+Tab go round inside an open dialog, never out of it.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Tab") return;
    var dialog = document.querySelector("dialog[open]");
    if (!dialog) return;
    var focusable = Array.prototype.filter.call(
      dialog.querySelectorAll(
        "a[href], button:not([disabled]), input:not([disabled]):not([type=hidden]), select:not([disabled]), textarea:not([disabled]), video[controls], [tabindex]:not([tabindex='-1'])"
      ),
      function (el) {
        return el.offsetParent !== null || el === document.activeElement;
      }
    );
    if (!focusable.length) return;
    var first = focusable[0];
    var last = focusable[focusable.length - 1];
    var inside = dialog.contains(document.activeElement);
    if (event.shiftKey && (document.activeElement === first || !inside)) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && (document.activeElement === last || !inside)) {
      event.preventDefault();
      first.focus();
    }
  });

  document.addEventListener("change", function (event) {
    if (event.target.matches("select[data-autosubmit]")) event.target.form.requestSubmit();
  });

  // When htmx cannot reach the server or it answers with an error, say so.
  function problem() {
    var box = document.getElementById("messages");
    if (!box) return;
    var p = document.createElement("p");
    p.className = "message message-error";
    p.textContent = document.body.getAttribute("data-problem") || "Something went wrong.";
    box.replaceChildren(p);
  }
  document.addEventListener("htmx:responseError", problem);
  document.addEventListener("htmx:sendError", function (event) {
    // The list's quiet polling may miss a beat; only actions report trouble.
    if (!event.detail.elt.matches("[hx-trigger^='every']")) problem();
  });

  // The reply's SMS count as it is typed (notifications/gsm.py is the rule; this
  // only shows it). GSM-7 counts 160 a message, 153 each when split; anything
  // outside it turns the whole text into UCS-2: 70, 67 each when split.
  var GSM7 =
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  var GSM7_EXTENSION = "^{}\\[~]|€\f";
  function smsCount(text) {
    var septets = 0;
    var gsm = true;
    for (var ch of text) {
      if (GSM7.indexOf(ch) >= 0) septets += 1;
      else if (GSM7_EXTENSION.indexOf(ch) >= 0) septets += 2;
      else gsm = false;
    }
    var length = gsm ? septets : Array.from(text).length;
    var single = gsm ? 160 : 70;
    var part = gsm ? 153 : 67;
    return { chars: length, segments: length <= single ? 1 : Math.ceil(length / part) };
  }
  function showCount(field) {
    var out = document.getElementById(field.getAttribute("data-sms-counter"));
    if (!out) return;
    var form = field.form;
    var sms = form && form.querySelector("input[name=channel][value=sms]");
    if (sms && !sms.checked) {
      out.textContent = "";
      return;
    }
    var n = smsCount(field.value);
    var segments = n.segments === 1 ? out.dataset.one : out.dataset.many.replace("%(count)s", n.segments);
    out.textContent = out.dataset.chars.replace("%(count)s", n.chars) + " · " + segments;
  }
  document.addEventListener("input", function (event) {
    if (event.target.matches("[data-sms-counter]")) showCount(event.target);
  });
  document.addEventListener("change", function (event) {
    if (event.target.name === "channel" && event.target.form) {
      var field = event.target.form.querySelector("[data-sms-counter]");
      if (field) showCount(field);
    }
  });
  // A quick reply fills the answer in place; without JavaScript its link reloads the
  // page with the answer prefilled.
  document.addEventListener("click", function (event) {
    var quick = event.target.closest("[data-quick-reply]");
    if (!quick) return;
    var field = document.getElementById("reply-body");
    if (!field) return;
    event.preventDefault();
    field.value = quick.getAttribute("data-quick-reply");
    field.focus();
    showCount(field);
  });

  enhance(document);
  document.querySelectorAll("[data-sms-counter]").forEach(showCount);
  document.addEventListener("htmx:load", function (event) {
    enhance(event.detail.elt);
  });
  // A call was logged: close the dialog; the To-call list reloads itself on the same event.
  document.body.addEventListener("callsChanged", closeDialogs);
  // The call dialog's note templates: a click puts the text into the note.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-note-template]");
    if (!button) return;
    var note = button.form && button.form.querySelector("textarea[name=note]");
    if (note) {
      note.value = button.getAttribute("data-note-template");
      note.focus();
    }
  });
})();
