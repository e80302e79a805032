// Shared by the simulator's pages: the control API, DOM helpers, message bodies, polling.
"use strict";

const Sim = (() => {
  async function api(method, path, body) {
    const response = await fetch(path, {
      method,
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const detail = typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail || data);
      throw new Error(detail || `HTTP ${response.status}`);
    }
    return data;
  }

  // el("div", {class: "x", onclick: fn}, "text", child, ...) — text is never parsed as HTML.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key === "class") node.className = value;
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  let toastTimer = null;
  function toast(text, isError = true) {
    const box = document.getElementById("toast");
    box.textContent = text;
    box.className = isError ? "toast error" : "toast";
    box.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => (box.hidden = true), 4000);
  }

  // Run an action, show its error (the control API's detail) instead of throwing.
  async function attempt(action) {
    try {
      return await action();
    } catch (error) {
      toast(error.message);
      return undefined;
    }
  }

  function fmtTime(ts) {
    const d = new Date(ts * 1000);
    const pad = (n) => String(n).padStart(2, "0");
    return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  }

  function fmtWait(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    if (seconds < 60) return `${seconds} 秒`;
    if (seconds < 3600) return `${Math.floor(seconds / 60)} 分 ${seconds % 60} 秒`;
    return `${Math.floor(seconds / 3600)} 小时 ${Math.floor((seconds % 3600) / 60)} 分`;
  }

  function media(body, label) {
    if (body && body.media_id) return el("span", { class: "media-tag" }, `[${label}] `, body.filename || "");
    return el("span", { class: "media-tag" }, `[${label}]`);
  }

  // A menu as WeChat shows it: head, clickable lines, tail. `onClick(itemId)` sends a click.
  function menu(body, onClick) {
    const box = el("div", { class: "menu" });
    if (body.head_content) box.append(el("div", { class: "menu-head" }, body.head_content));
    const lines = el("div", { class: "menu-list" });
    for (const item of body.list || []) {
      const part = item[item.type] || {};
      if (item.type === "click") {
        lines.append(
          el(
            "button",
            {
              type: "button",
              class: "menu-item",
              "data-menu-id": part.id,
              disabled: !onClick,
              onclick: onClick ? () => onClick(part.id) : undefined,
            },
            part.content,
          ),
        );
      } else if (item.type === "view") {
        lines.append(el("a", { class: "menu-item", href: part.url, target: "_blank", rel: "noopener noreferrer" }, part.content));
      } else if (item.type === "miniprogram") {
        lines.append(
          el("button", { type: "button", class: "menu-item", onclick: () => toast("模拟器里不能打开小程序：" + (part.pagepath || ""), false) }, part.content),
        );
      } else if (item.type === "text") {
        lines.append(el(part.no_newline === 1 ? "span" : "div", { class: "menu-text" }, part.content));
      }
    }
    box.append(lines);
    if (body.tail_content) box.append(el("div", { class: "menu-tail" }, body.tail_content));
    return box;
  }

  // The body of any message type, as a node.
  function body(msgtype, content, options = {}) {
    content = content || {};
    switch (msgtype) {
      case "text":
        return el("div", { class: "text" }, content.content || "");
      case "image":
        return content.media_id
          ? el("img", { class: "picture", src: `/_sim/ui/media/${encodeURIComponent(content.media_id)}`, alt: "图片" })
          : media(content, "图片");
      case "voice":
        return media(content, "语音");
      case "video":
        return media(content, "视频");
      case "file":
        return media(content, "文件");
      case "msgmenu":
        return menu(content, options.onMenuClick);
      case "link":
        return el(
          "div",
          { class: "card-msg" },
          el("a", { href: content.url, target: "_blank", rel: "noopener noreferrer" }, content.title || content.url),
          el("div", { class: "muted small" }, content.desc || ""),
        );
      case "miniprogram":
        return el("div", { class: "card-msg" }, el("strong", {}, content.title || "小程序"), el("div", { class: "muted small" }, "小程序"));
      case "location":
        return el("div", { class: "card-msg" }, el("strong", {}, content.name || "位置"), el("div", { class: "muted small" }, content.address || ""));
      default:
        return el("div", { class: "text muted" }, `[${msgtype}]`);
    }
  }

  function initial(name) {
    return (name || "?").trim().slice(0, 1) || "?";
  }

  // Scroll to the bottom after a re-render when the reader was already near it.
  function rerender(container, nodes) {
    const atBottom = container.scrollHeight - container.scrollTop - container.clientHeight < 80;
    container.replaceChildren(...nodes);
    if (atBottom || container.dataset.fresh === "1") container.scrollTop = container.scrollHeight;
    container.dataset.fresh = "0";
  }

  // Call `load(since)` about every second; it returns the version it saw (or undefined).
  function poll(load) {
    let since = null;
    let busy = false;
    const tick = async () => {
      if (busy) return;
      busy = true;
      try {
        const version = await load(since);
        if (version !== undefined) since = version;
      } catch (error) {
        since = null; // try a full load next time
      } finally {
        busy = false;
      }
    };
    tick();
    setInterval(tick, 1000);
    return { refresh: () => { since = null; return tick(); } };
  }

  function setQuery(values) {
    const url = new URL(window.location.href);
    for (const [key, value] of Object.entries(values)) {
      if (value) url.searchParams.set(key, value);
      else url.searchParams.delete(key);
    }
    history.replaceState(null, "", url);
  }

  const query = (name) => new URL(window.location.href).searchParams.get(name) || "";

  return { api, el, toast, attempt, fmtTime, fmtWait, body, initial, rerender, poll, setQuery, query };
})();
