/* Pitlane staff pages: dialogs, the photo lightbox, copying the customer link.
   CSP-safe: no inline handlers, no eval. Every page works without this file. */
(function () {
  "use strict";

  var returnFocus = null; // {id, fallback} of what opened the dialog
  var focusAfterRefresh = null;

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

  function remember(opener) {
    if (!opener) return;
    var item = opener.closest("[tabindex='-1'][id]");
    returnFocus = { id: opener.id || "", fallback: item ? item.id : "" };
  }

  function restoreFocus() {
    if (!returnFocus) return true;
    var target = byId(returnFocus.id) || byId(returnFocus.fallback);
    if (target && target.isConnected) {
      target.focus();
      returnFocus = null;
      return true;
    }
    return false;
  }

  function openDialog(dialog) {
    if (!dialog || dialog.open) return;
    dialog.addEventListener("close", function () {
      dialog.remove();
      if (!restoreFocus()) focusAfterRefresh = returnFocus;
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

  // A dialog partial arrives: open it as a modal (focus stays inside, Escape closes).
  document.addEventListener("htmx:beforeRequest", function (event) {
    var target = event.detail.target;
    if (target && target.id === "dialog-host") remember(event.detail.elt);
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (target && target.id === "dialog-host") openDialog(target.querySelector("dialog"));
    // A form came back with errors: focus the first field that needs attention.
    var form = event.detail.elt;
    if (form && form.matches && form.matches(".dialog-form")) {
      var fresh = document.querySelector("#dialog-host dialog[open] .dialog-form");
      var invalid = fresh && fresh.querySelector("[aria-invalid=true]");
      if (invalid) invalid.focus();
    }
  });

  // The server changed something: close the dialog; the page reloads its body itself.
  document.body.addEventListener("appointmentChanged", function () {
    closeDialogs();
  });

  document.addEventListener("htmx:afterSettle", function () {
    if (!focusAfterRefresh) return;
    returnFocus = focusAfterRefresh;
    if (restoreFocus()) {
      focusAfterRefresh = null;
    } else {
      var heading = document.querySelector("main h1");
      if (heading) {
        heading.setAttribute("tabindex", "-1");
        heading.focus();
      }
      focusAfterRefresh = null;
      returnFocus = null;
    }
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

  enhance(document);
  document.addEventListener("htmx:load", function (event) {
    enhance(event.detail.elt);
  });
})();
