// glancelab dashboard: bars, statuses that follow the image live, uploads with progress,
// a lab command's output. No build step; the page's CSP allows only this file.
"use strict";

const csrf = () => (document.querySelector('meta[name="csrf"]') || {}).content || "";
const fill = (template, values) => template.replace(/\{(\w+)\}/g, (_, k) => values[k]);

// Quota bars: widths from data-percent (no inline style under the CSP).
for (const bar of document.querySelectorAll(".bar span[data-percent]")) {
  bar.style.width = bar.dataset.percent + "%";
}

// Statuses that move by themselves (queued, saving, importing...): asked again each second.
const MOVING = ["queued", "saving", "uploading", "importing"];
async function follow() {
  const cells = [...document.querySelectorAll("[data-follow]")];
  if (!cells.length) return;
  const ids = [...new Set(cells.map(c => c.dataset.follow))];
  try {
    const answer = await fetch("/images/status?ids=" + ids.join(","), {headers: {Accept: "application/json"}});
    if (answer.ok) {
      const found = await answer.json();
      for (const cell of cells) {
        const image = found[cell.dataset.follow];
        if (!image) continue;
        cell.textContent = image.status;
        cell.className = "status status-" + image.status;
        if (!MOVING.includes(image.status)) delete cell.dataset.follow;
      }
    }
  } catch (e) { /* the next round tries again */ }
  setTimeout(follow, 1000);
}
setTimeout(follow, 1000);

// Creating an image: the image first, then its data straight from the file (streamed by
// the browser, with progress), then its status until it settles.
const create = document.getElementById("create-image");
if (create) {
  create.addEventListener("submit", async event => {
    const source = create.querySelector('input[name="source"]:checked').value;
    if (source === "web-download") return;  // an ordinary form post
    event.preventDefault();
    const file = document.getElementById("file").files[0];
    const error = document.getElementById("create-error");
    const progress = document.getElementById("progress");
    const text = document.getElementById("progress-text");
    if (!file) { error.textContent = "?"; return; }
    const made = await fetch("/images", {method: "POST", body: new URLSearchParams(new FormData(create)),
                                         headers: {Accept: "application/json"}});
    const image = await made.json();
    if (!made.ok) { error.textContent = image.message; return; }
    progress.hidden = false;
    const request = new XMLHttpRequest();
    request.open("PUT", `/images/${image.id}/data/${source}`);
    request.setRequestHeader("X-CSRF-Token", csrf());
    request.setRequestHeader("Content-Type", "application/octet-stream");
    request.upload.onprogress = e => {
      if (!e.lengthComputable) return;
      const percent = Math.floor(100 * e.loaded / e.total);
      progress.value = percent;
      text.textContent = fill(text.dataset.uploading, {percent});
    };
    request.onload = () => {
      if (request.status >= 300) {
        try { error.textContent = JSON.parse(request.responseText).message; } catch (e) { error.textContent = request.status; }
        return;
      }
      progress.value = 100;
      window.location = `/images/${image.id}`;
    };
    request.onerror = () => { error.textContent = "network error"; };
    request.send(file);
  });
}

// A lab command started from its page: its output, until it ends.
const output = document.getElementById("lab-output");
async function labProgress() {
  const answer = await fetch(`/labs/${output.dataset.lab}?progress=1`, {headers: {Accept: "application/json"}});
  if (answer.ok) {
    const run = await answer.json();
    output.textContent = run.output;
    output.scrollTop = output.scrollHeight;
    if (!run.running) { if (output.dataset.running) window.location.reload(); return; }
  }
  setTimeout(labProgress, 1000);
}
if (output && output.dataset.running) setTimeout(labProgress, 500);
