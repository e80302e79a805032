// Every htmx request carries the session's CSRF token (the server refuses a POST without it).
document.addEventListener("htmx:configRequest", (event) => {
  const token = document.body.dataset.csrf;
  if (token) event.detail.headers["X-CSRF-Token"] = token;
});
// No inline script anywhere (the Content-Security-Policy allows only these files): a form with
// data-confirm asks first, a select with data-autosubmit submits its form, a link with data-back
// goes back (its href is where it goes when there is no page to go back to).
document.addEventListener("submit", (event) => {
  const message = event.target.dataset ? event.target.dataset.confirm : undefined;
  if (message && !window.confirm(message)) event.preventDefault();
});
document.addEventListener("change", (event) => {
  if (event.target.matches("select[data-autosubmit]") && event.target.form) event.target.form.submit();
});
document.addEventListener("click", (event) => {
  const back = event.target.closest("[data-back]");
  if (back && window.history.length > 1) {
    event.preventDefault();
    window.history.back();
  }
});
// settings: a button with data-copy="#input" copies that input's value (the callback URL, the
// contact link); execCommand is the fallback where the Clipboard API needs HTTPS.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const input = document.querySelector(button.dataset.copy);
  if (!input) return;
  const done = () => { button.textContent = button.dataset.copied || button.textContent; };
  input.select();
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(input.value).then(done, () => { document.execCommand("copy"); done(); });
  } else {
    document.execCommand("copy");
    done();
  }
});

// Live updates (workbench): one event stream per page; each `changed` makes the page's live
// fragments (hx-trigger "kefu:changed from:body") re-read themselves. EventSource reconnects
// by itself when the server ends the stream.
document.addEventListener("DOMContentLoaded", () => {
  if (!document.querySelector(".live") || !window.EventSource) return;
  const stream = new EventSource("/console/events");
  stream.addEventListener("changed", () => {
    if (window.htmx) window.htmx.trigger(document.body, "kefu:changed");
  });
});

// Conversation page: like a chat window, the transcript opens at its latest line, and a live
// refresh (which replaces it every few seconds) keeps the reader's place: at the latest line if
// they were there, else where they had scrolled to — not back at the first line.
const transcriptBox = () => document.querySelector("#conversation-live .transcript");
const atLatestLine = (box) => box.scrollHeight - box.scrollTop - box.clientHeight < 24;
let transcriptPlace = null;
document.addEventListener("DOMContentLoaded", () => {
  const box = transcriptBox();
  if (box) box.scrollTop = box.scrollHeight;
});
document.addEventListener("htmx:beforeSwap", () => {
  const box = transcriptBox();
  transcriptPlace = box ? { top: box.scrollTop, latest: atLatestLine(box) } : null;
});
document.addEventListener("htmx:afterSwap", () => {
  const box = transcriptBox();
  if (!box || !transcriptPlace) return;
  box.scrollTop = transcriptPlace.latest ? box.scrollHeight : transcriptPlace.top;
  transcriptPlace = null;
});
