// Every htmx request carries the session's CSRF token (the server refuses a POST without it).
document.addEventListener("htmx:configRequest", (event) => {
  const token = document.body.dataset.csrf;
  if (token) event.detail.headers["X-CSRF-Token"] = token;
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
