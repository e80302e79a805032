// Every htmx request carries the session's CSRF token (the server refuses a POST without it).
document.addEventListener("htmx:configRequest", (event) => {
  const token = document.body.dataset.csrf;
  if (token) event.detail.headers["X-CSRF-Token"] = token;
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
