// The servicer page: the WeCom app of one servicer, driven through the control API.
"use strict";

(() => {
  const { api, el, attempt, toast } = Sim;
  const $ = (id) => document.getElementById(id);
  const state = {
    corpid: Sim.query("corpid"),
    userid: Sim.query("userid"),
    account: Sim.query("account"),
    customer: Sim.query("customer"),
    me: null,
    session: null,
    clockOffset: 0, // simulator clock minus this browser's clock, in seconds
  };

  const serverNow = () => Date.now() / 1000 + state.clockOffset;

  // -- who am I ----------------------------------------------------------------------

  Sim.poll(async (since) => {
    const data = await api("GET", `/_sim/ui/directory${since === null ? "" : `?since=${since}`}`);
    if (data.unchanged) return data.version;
    const options = data.corps.flatMap((corp) =>
      corp.members.map((m) => [`${corp.corpid}|${m.userid}`, data.corps.length > 1 ? `${m.name}（${corp.name}）` : `${m.name}（${m.userid}）`]),
    );
    const select = $("servicer");
    const wanted = JSON.stringify(options);
    if (select.dataset.options !== wanted) {
      select.dataset.options = wanted;
      select.replaceChildren(...options.map(([value, label]) => el("option", { value }, label)));
    }
    const current = `${state.corpid}|${state.userid}`;
    if (options.some(([value]) => value === current)) select.value = current;
    else if (options.length) chooseServicer(options[0][0]);
    return data.version;
  });

  function chooseServicer(value) {
    [state.corpid, state.userid] = value.split("|");
    $("servicer").value = value;
    Sim.setQuery({ corpid: state.corpid, userid: state.userid });
    lists.refresh();
    conversation.refresh();
  }

  // -- my lists --------------------------------------------------------------------------

  function sessionItem(summary, extra) {
    const selected = summary.open_kfid === state.account && summary.external_userid === state.customer;
    return el(
      "li",
      {
        class: selected ? "selected" : "",
        "data-customer": summary.external_userid,
        onclick: () => openSession(summary.open_kfid, summary.external_userid),
      },
      el("div", { class: "avatar small" }, Sim.initial(summary.nickname)),
      el(
        "div",
        { class: "summary" },
        el("div", { class: "line" }, el("strong", {}, summary.nickname), el("span", { class: "muted small" }, extra)),
        el("div", { class: "muted small ellipsis" }, summary.preview || summary.account_name),
      ),
    );
  }

  function renderList(id, items, extra) {
    $(`${id}-count`).textContent = items.length;
    const nodes = items.map((s) => sessionItem(s, extra(s)));
    if (!nodes.length) nodes.push(el("li", { class: "none muted small" }, "无"));
    $(id).replaceChildren(...nodes);
  }

  function waitText(summary) {
    return el("span", { class: "wait", "data-since": summary.waiting_since }, `等待 ${Sim.fmtWait(serverNow() - summary.waiting_since)}`);
  }

  const lists = Sim.poll(async (since) => {
    if (!state.userid) return undefined;
    const params = new URLSearchParams({ corpid: state.corpid, userid: state.userid });
    if (since !== null) params.set("since", since);
    const data = await api("GET", `/_sim/ui/servicer?${params}`);
    if (data.unchanged) return data.version;
    state.clockOffset = data.now - Date.now() / 1000;
    state.me = data.me;
    $("corp-name").textContent = `${data.corp_name} · ${data.accounts.map((a) => a.name).join("、") || "不在任何客服账号的接待人员中"}`;
    $("my-status").textContent = data.me.status_name;
    $("my-status").className = `badge ${data.me.receiving ? "on" : "off"}`;
    $("toggle-reception").textContent = data.me.receiving ? "停止接待" : "开始接待";
    renderList("mine", data.mine, (s) => (s.last_at ? Sim.fmtTime(s.last_at) : ""));
    renderList("pool", data.pool, waitText);
    renderList("served", data.served, (s) => s.state_name + (s.servicer_name ? `·${s.servicer_name}` : ""));
    return data.version;
  });

  setInterval(() => {
    for (const node of document.querySelectorAll(".wait[data-since]")) {
      node.textContent = `等待 ${Sim.fmtWait(serverNow() - Number(node.dataset.since))}`;
    }
  }, 1000);

  // -- one conversation ----------------------------------------------------------------------

  function timelineNode(message, view) {
    if (message.kind === "note") return el("div", { class: "note" }, `${Sim.fmtTime(message.time)} ${message.text}`);
    if (message.recalled) return el("div", { class: "note" }, `${message.sender} 撤回了一条消息`);
    const right = message.kind !== "customer";
    return el(
      "div",
      { class: `row ${right ? "mine" : "theirs"} ${message.kind}`, "data-msgid": message.id },
      el("div", { class: "avatar" }, message.kind === "api" ? "A" : Sim.initial(message.sender)),
      el(
        "div",
        { class: "bubble-wrap" },
        el("div", { class: "sender" }, `${message.sender} · ${Sim.fmtTime(message.time)}`),
        el("div", { class: `bubble ${message.msgtype}` }, Sim.body(message.msgtype, message.body)),
      ),
    );
  }

  function renderConversation(view) {
    state.session = view.session;
    const s = view.session;
    const mine = s.state === 3 && s.servicer_userid === state.userid;
    $("conv-title").textContent = `${view.customer.nickname} · ${view.account.name}`;
    $("conv-state").textContent = s.state_name + (s.servicer_name ? `（${s.servicer_name}）` : "");
    $("conv-state").className = `badge state-${s.state}`;
    $("take").hidden = s.state !== 2;
    $("transfer-box").hidden = !mine;
    $("end").hidden = !mine;
    $("retake").hidden = !(s.state === 4 || (s.state === 3 && !mine));
    $("reply").disabled = $("reply-send").disabled = !mine;
    $("reply").placeholder = mine ? "输入回复，回车发送" : "接入会话后可以回复";
    const others = view.servicers.filter((x) => x.userid !== state.userid);
    const select = $("transfer-to");
    const wanted = JSON.stringify(others);
    if (select.dataset.options !== wanted) {
      select.dataset.options = wanted;
      select.replaceChildren(...others.map((x) => el("option", { value: x.userid }, `${x.name}（${x.status_name}）`)));
    }
    const nodes = view.messages.map((m) => timelineNode(m, view));
    if (!nodes.length) nodes.push(el("p", { class: "empty" }, "还没有消息"));
    Sim.rerender($("timeline"), nodes);
  }

  const conversation = Sim.poll(async (since) => {
    if (!state.account || !state.customer) return undefined;
    const params = new URLSearchParams({ account: state.account, customer: state.customer });
    if (since !== null) params.set("since", since);
    const data = await api("GET", `/_sim/ui/session?${params}`);
    if (!data.unchanged) renderConversation(data);
    return data.version;
  });

  function openSession(account, customer) {
    state.account = account;
    state.customer = customer;
    Sim.setQuery({ account, customer });
    $("timeline").dataset.fresh = "1";
    lists.refresh();
    conversation.refresh();
  }

  // -- what the servicer does ------------------------------------------------------------------

  const sessionPath = (action) =>
    `/_sim/api/accounts/${encodeURIComponent(state.account)}/sessions/${encodeURIComponent(state.customer)}/${action}`;

  async function act(action, body, done) {
    if (!state.account || !state.customer) return toast("先选择一个会话");
    if (await attempt(() => api("POST", sessionPath(action), { servicer_userid: state.userid, ...body }))) {
      if (done) toast(done, false);
      $("timeline").dataset.fresh = "1";
      lists.refresh();
      conversation.refresh();
    }
  }

  $("servicer").addEventListener("change", (event) => chooseServicer(event.target.value));
  $("take").addEventListener("click", () => act("take", {}, "已接入会话"));
  $("end").addEventListener("click", () => act("end", {}, "会话已结束"));
  $("retake").addEventListener("click", () => act("retake", {}, "已重新接入"));
  $("transfer").addEventListener("click", () => {
    const to = $("transfer-to").value;
    if (!to) return toast("没有可以转接的其他客服");
    act("transfer", { to_servicer_userid: to }, "已转接");
  });

  $("reply-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const content = $("reply").value;
    if (!content.trim()) return;
    $("reply").value = "";
    await act("reply", { msgtype: "text", text: { content } });
    $("reply").focus();
  });

  $("toggle-reception").addEventListener("click", async () => {
    if (!state.me) return;
    const status = state.me.receiving ? 2 : 1;
    const path = `/_sim/api/corps/${encodeURIComponent(state.corpid)}/members/${encodeURIComponent(state.userid)}/reception`;
    if (await attempt(() => api("POST", path, { status }))) lists.refresh();
  });

})();
