/* Progressive enhancement of the "Add photos or videos" form (portal/_attachments.html).
   Each chosen file goes on its own, one after the other, with a progress bar, and a
   Retry button if it fails for a reason that can pass (the connection, the server, a
   remark that was full): through Django, or straight to the bucket with a presigned
   POST when the form says data-upload="s3". A file refused for what it is (its type,
   its size) gets no Retry: sending it again would be refused again. No inline code,
   no eval (CSP). Without this script the form posts as a plain form. */
(function () {
  "use strict";
  if (!window.fetch || !window.FormData || !window.Promise) return;
  var rows = 0;

  function text(form, key, name) {
    return (form.getAttribute("data-msg-" + key) || "").replace("{name}", name || "");
  }

  // Why a file did not arrive, and whether trying again can help.
  function problem(message, retry) {
    return { problem: message, retry: retry };
  }

  // The list of the remark's files says how many it holds and may hold.
  function remarkIsFull(form) {
    var list = document.getElementById(form.getAttribute("data-list"));
    if (!list) return false;
    return Number(list.getAttribute("data-kept")) >= Number(list.getAttribute("data-max-files"));
  }

  function enhance(root) {
    var forms = root.querySelectorAll ? Array.prototype.slice.call(root.querySelectorAll("form[data-upload]")) : [];
    if (root.matches && root.matches("form[data-upload]")) forms.push(root);
    forms.forEach(function (form) {
      if (form.uploadQueue) return;
      form.uploadQueue = [];
      form.setAttribute("data-upload-ready", "");
      var submit = form.querySelector("[data-upload-submit]");
      if (submit) submit.hidden = true;
    });
  }

  function post(url, data, bar) {
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      xhr.open("POST", url);
      if (url.charAt(0) === "/") xhr.setRequestHeader("Accept", "application/json"); // ours, not the store
      if (bar) xhr.upload.addEventListener("progress", function (event) {
        if (event.lengthComputable) bar.value = Math.min(99, Math.round(100 * event.loaded / event.total));
      });
      xhr.onload = function () { resolve(xhr); };
      xhr.onerror = xhr.onabort = xhr.ontimeout = function () { reject(null); };
      xhr.send(data);
    });
  }

  function answer(job) {
    return function (xhr) {
      var body = {};
      try { body = JSON.parse(xhr.responseText); } catch (e) { /* not JSON: a proxy or the store */ }
      if (xhr.status >= 200 && xhr.status < 300) return body;
      // Refused for the file itself (422), a retry gets the same answer; unless the
      // remark was full, and a file may have been removed since.
      var passing = xhr.status >= 500 || xhr.status === 429 || (xhr.status === 422 && remarkIsFull(job.form));
      throw problem(body.error || text(job.form, "failed"), passing);
    };
  }

  function dropped(job) {
    return function (error) { throw error || problem(text(job.form, "network"), true); };
  }

  function fields(values) {
    var data = new FormData();
    Object.keys(values).forEach(function (key) { data.append(key, values[key]); });
    return data;
  }

  function viaDjango(job) {
    var data = fields({});
    data.append("files", job.file, job.file.name);
    return post(job.form.getAttribute("action"), data, job.bar).then(answer(job), dropped(job));
  }

  function viaS3(job) {
    var form = job.form;
    var ask = fields({ name: job.file.name, size: job.file.size, type: job.file.type });
    return post(form.getAttribute("data-presign-url"), ask).then(answer(job), dropped(job)).then(function (presigned) {
      if (!presigned.url) return presigned; // this file arrived before
      var data = new FormData();
      Object.keys(presigned.fields).forEach(function (key) { data.append(key, presigned.fields[key]); });
      data.append("file", job.file);
      return post(presigned.url, data, job.bar).then(function (xhr) {
        if (xhr.status < 200 || xhr.status >= 300) throw problem(text(form, "failed"), true);
        return post(presigned.complete_url, fields({})).then(answer(job), dropped(job));
      }, dropped(job));
    });
  }

  function tooLarge(job) {
    var kind = /^video\//.test(job.file.type) ? "video" : /^image\//.test(job.file.type) ? "photo" : "";
    var limit = kind && Number(job.form.getAttribute("data-max-" + kind + "-bytes"));
    return limit && job.file.size > limit ? text(job.form, kind + "-too-large", job.file.name) : "";
  }

  function refreshList(form) {
    return fetch(form.getAttribute("data-list-url"), { headers: { "HX-Request": "true" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error(response.statusText);
        return response.text();
      })
      .then(function (html) {
        var old = document.getElementById(form.getAttribute("data-list"));
        var holder = document.createElement("div");
        holder.innerHTML = html;
        var fresh = holder.querySelector("#" + form.getAttribute("data-list"));
        if (!old || !fresh) return;
        old.replaceWith(fresh);
        if (window.htmx) window.htmx.process(fresh);
      });
  }

  function show(job, state, message) {
    job.row.setAttribute("data-state", state);
    job.status.textContent = message;
  }

  function next(form) {
    if (form.uploadBusy || !form.uploadQueue.length) return;
    var job = form.uploadQueue.shift();
    form.uploadBusy = true;
    show(job, "uploading", text(form, "uploading"));
    var refusal = tooLarge(job);
    var sending = refusal ? Promise.reject(problem(refusal, false)) : form.getAttribute("data-upload") === "s3" ? viaS3(job) : viaDjango(job);
    sending.then(function () {
      job.bar.value = 100;
      show(job, "done", text(form, "done"));
      return refreshList(form).then(function () { job.row.remove(); }, function () { /* the list catches up on reload */ });
    }, function (error) {
      var known = error && error.problem ? error : problem(text(form, "failed"), true);
      show(job, "failed", known.problem);
      job.retry.hidden = !known.retry;
    }).then(function () {
      form.uploadBusy = false;
      next(form);
    });
  }

  function enqueue(job) {
    job.bar.value = 0;
    show(job, "waiting", text(job.form, "waiting"));
    job.form.uploadQueue.push(job);
    next(job.form);
  }

  function add(form, file) {
    var row = form.querySelector("template[data-upload-row]").content.firstElementChild.cloneNode(true);
    var job = {
      form: form, file: file, row: row,
      bar: row.querySelector("progress"),
      status: row.querySelector(".upload-row-status"),
      retry: row.querySelector(".upload-retry")
    };
    var label = row.querySelector(".upload-row-name");
    rows += 1;
    job.bar.id = "upload-progress-" + rows;
    label.htmlFor = job.bar.id;
    label.textContent = file.name;
    job.retry.setAttribute("aria-label", text(form, "retry", file.name));
    job.retry.addEventListener("click", function () {
      job.retry.hidden = true;
      enqueue(job);
    });
    form.querySelector(".upload-queue").appendChild(row);
    enqueue(job);
  }

  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches("input[data-upload-input]") || !input.form || !input.form.uploadQueue) return;
    Array.prototype.slice.call(input.files).forEach(function (file) { add(input.form, file); });
    input.value = "";
  });
  document.addEventListener("submit", function (event) {
    if (event.target.uploadQueue) event.preventDefault();
  });
  document.addEventListener("htmx:load", function (event) { enhance(event.target); });
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", function () { enhance(document); });
  else enhance(document);
})();
