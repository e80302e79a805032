// The customer page: a WeChat chat with one kf account, driven through the control API.
"use strict";

(() => {
  const { api, el, attempt, toast } = Sim;
  const $ = (id) => document.getElementById(id);
  const state = { corps: [], customer: Sim.query("customer"), account: Sim.query("account"), chat: null };

  const corpOf = (customerId) =>
    state.corps.find((corp) => corp.customers.some((c) => c.external_userid === customerId));

  function fillSelect(select, options, selected) {
    const wanted = JSON.stringify(options);
    if (select.dataset.options !== wanted) {
      select.dataset.options = wanted;
      select.replaceChildren(...options.map(([value, label]) => el("option", { value }, label)));
    }
    if (options.some(([value]) => value === selected)) select.value = selected;
    return select.value;
  }

  function renderDirectory() {
    const customers = state.corps.flatMap((corp) =>
      corp.customers.map((c) => [c.external_userid, state.corps.length > 1 ? `${c.nickname}（${corp.name}）` : c.nickname]),
    );
    state.customer = fillSelect($("customer"), customers, state.customer);
    const corp = corpOf(state.customer);
    const accounts = corp ? corp.accounts.map((a) => [a.open_kfid, a.name]) : [];
    state.account = fillSelect($("account"), accounts, state.account);
    Sim.setQuery({ customer: state.customer, account: state.account });
  }

  const directory = Sim.poll(async (since) => {
    const data = await api("GET", `/_sim/ui/directory${since === null ? "" : `?since=${since}`}`);
    if (!data.unchanged) {
      state.corps = data.corps;
      renderDirectory();
    }
    return data.version;
  });

  // -- the chat --------------------------------------------------------------------

  function timeLabel(message, previous) {
    if (!previous || message.time - previous.time > 300) return el("div", { class: "time" }, Sim.fmtTime(message.time));
    return null;
  }

  function bubbleRow(message, chat) {
    if (message.recalled) {
      return el("div", { class: "note" }, message.side === "me" ? "你撤回了一条消息" : `"${chat.account.name}" 撤回了一条消息`);
    }
    const mine = message.side === "me";
    const who = mine ? chat.customer.nickname : chat.account.name;
    const onMenuClick = mine ? undefined : (itemId) => clickMenu(message.id, itemId);
    const titles = [message.source, message.code_kind].filter(Boolean).join(" · ");
    return el(
      "div",
      { class: `row ${mine ? "mine" : "theirs"}`, "data-msgid": message.id, title: titles || undefined },
      el("div", { class: "avatar" }, Sim.initial(who)),
      el(
        "div",
        { class: "bubble-wrap" },
        message.sender ? el("div", { class: "sender" }, message.sender) : null,
        el("div", { class: `bubble ${message.msgtype}` }, Sim.body(message.msgtype, message.body, { onMenuClick })),
      ),
    );
  }

  function renderChat(chat) {
    state.chat = chat;
    $("chat-title").textContent = chat.account.name;
    $("session-state").textContent = `会话状态：${chat.session.state_name}${chat.session.servicer_name ? `（${chat.session.servicer_name}）` : ""}`;
    const nodes = [];
    chat.messages.forEach((message, i) => {
      nodes.push(timeLabel(message, chat.messages[i - 1]), bubbleRow(message, chat));
    });
    if (!nodes.length) nodes.push(el("p", { class: "empty" }, "还没有消息。点「进入会话」，或直接发一条消息。"));
    Sim.rerender($("messages"), nodes.filter(Boolean));
  }

  const chat = Sim.poll(async (since) => {
    if (!state.customer || !state.account) return undefined;
    const params = new URLSearchParams({ customer: state.customer, account: state.account });
    if (since !== null) params.set("since", since);
    const data = await api("GET", `/_sim/ui/chat?${params}`);
    if (!data.unchanged) renderChat(data);
    return data.version;
  });

  function switched() {
    state.chat = null;
    $("messages").dataset.fresh = "1";
    chat.refresh();
  }

  // -- what the customer does --------------------------------------------------------

  const path = (suffix) => `/_sim/api/customers/${encodeURIComponent(state.customer)}/${suffix}`;

  function ready() {
    if (!state.customer || !state.account) {
      toast("先选择客户和客服账号");
      return false;
    }
    return true;
  }

  async function send(msgtype, content) {
    if (!ready()) return;
    const done = await attempt(() => api("POST", path("messages"), { open_kfid: state.account, msgtype, [msgtype]: content }));
    if (done) {
      $("messages").dataset.fresh = "1";
      chat.refresh();
    }
  }

  async function clickMenu(menuMsgid, itemId) {
    await attempt(() => api("POST", path("click"), { open_kfid: state.account, menu_msgid: menuMsgid, item_id: itemId }));
    $("messages").dataset.fresh = "1";
    chat.refresh();
  }

  $("customer").addEventListener("change", (event) => {
    state.customer = event.target.value;
    renderDirectory();
    switched();
  });
  $("account").addEventListener("change", (event) => {
    state.account = event.target.value;
    Sim.setQuery({ account: state.account });
    switched();
  });

  $("new-customer").addEventListener("submit", async (event) => {
    event.preventDefault();
    const corp = corpOf(state.customer) || state.corps[0];
    if (!corp) return toast("模拟器里还没有企业");
    const nickname = $("new-nickname").value.trim();
    const made = await attempt(() => api("POST", `/_sim/api/corps/${corp.corpid}/customers`, { nickname }));
    if (made) {
      $("new-nickname").value = "";
      state.customer = made.external_userid;
      await directory.refresh();
      switched();
      toast(`已创建客户 ${made.nickname}`, false);
    }
  });

  $("enter").addEventListener("click", async () => {
    if (!ready()) return;
    const body = { open_kfid: state.account, scene: $("scene").value.trim(), scene_param: $("scene-param").value.trim() };
    if (await attempt(() => api("POST", path("enter"), body))) {
      toast("已进入会话", false);
      chat.refresh();
    }
  });

  $("composer").addEventListener("submit", async (event) => {
    event.preventDefault();
    const content = $("text").value;
    if (!content.trim()) return;
    $("text").value = "";
    await send("text", { content });
    $("text").focus();
  });

  $("pick-image").addEventListener("click", () => $("image-file").click());
  $("image-file").addEventListener("change", (event) => {
    const file = event.target.files[0];
    event.target.value = "";
    if (!file) return;
    const reader = new FileReader();
    reader.onload = () => {
      const data = String(reader.result).split(",", 2)[1];
      send("image", { data_base64: data, filename: file.name, content_type: file.type || "image/png" });
    };
    reader.readAsDataURL(file);
  });

  $("recall").addEventListener("click", async () => {
    if (!ready() || !state.chat) return;
    const last = state.chat.messages.filter((m) => m.side === "me" && !m.recalled).pop();
    if (!last) return toast("没有可以撤回的消息");
    if (await attempt(() => api("POST", path("recall"), { open_kfid: state.account, msgid: last.id }))) chat.refresh();
  });
})();
