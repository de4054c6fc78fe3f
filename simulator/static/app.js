// 网格通 simulator page: polls the JSON endpoints documented in simulator/server.py every 500 ms.
// All text from the app is put in with textContent, never as HTML.
"use strict";

const POLL_MS = 500;
const state = {
  directory: null,
  resident: "",
  newcomer: "o-new-" + Math.random().toString(36).slice(2, 10),
  chat: "",
  member: "",
  memberChosen: false,
  drawn: {}, // element id -> JSON last drawn, so an unchanged chat is not redrawn (and keeps its scroll)
};

const $ = (id) => document.getElementById(id);

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

async function getJSON(url) {
  const response = await fetch(url, { cache: "no-store" });
  if (!response.ok) throw new Error(url + " → HTTP " + response.status);
  return response.json();
}

async function postJSON(url, body) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(url + " → HTTP " + response.status);
  return response.json();
}

function memberName(userid) {
  const member = (state.directory.members || []).find((m) => m.id === userid);
  return member ? member.name || userid : userid;
}

// ---- drawing -----------------------------------------------------------------------------------------------

function drawMessage(entry, names) {
  const box = el("div", "msg " + entry.who);
  box.dataset.seq = entry.seq;
  const who = entry.who === "me" ? names.me : entry.who === "bot" ? names.bot : "";
  const meta = [who, entry.time, entry.ms !== undefined ? entry.ms + " ms" : ""].filter(Boolean).join(" · ");
  if (entry.who !== "system") box.appendChild(el("div", "meta", meta));
  box.appendChild(el("div", "bubble", entry.text));
  return box;
}

function isWeb(url) {
  try {
    return ["http:", "https:"].includes(new URL(url).protocol);
  } catch (e) {
    return false;
  }
}

function link(url, text) {
  // A card's link row (照片: the ticket's photo page) opens in a new tab, as WeCom opens it in its own browser.
  const a = el("a", "", text);
  a.href = url;
  a.target = "_blank";
  a.rel = "noopener";
  return a;
}

function drawCard(card) {
  const box = el("div", "card");
  box.dataset.task = card.task_id;
  if (card.source) box.appendChild(el("div", "source", card.source));
  box.appendChild(el("div", "title", card.title));
  if (card.desc) box.appendChild(el("div", "desc", card.desc));
  if (card.emphasis) box.appendChild(el("div", "emphasis", card.emphasis));
  if (card.fields && card.fields.length) {
    const list = el("dl");
    for (const f of card.fields) {
      list.appendChild(el("dt", "", f.key));
      const value = el("dd", "");
      value.appendChild(f.url && isWeb(f.url) ? link(f.url, f.value) : document.createTextNode(f.value));
      list.appendChild(value);
    }
    box.appendChild(list);
  }
  if (card.note) box.appendChild(el("div", "note", card.note));
  if (card.buttons && card.buttons.length) {
    const row = el("div", "buttons");
    for (const b of card.buttons) {
      const button = el("button", b.style === 2 ? "secondary" : "", b.text);
      button.type = "button";
      button.dataset.key = b.key;
      button.addEventListener("click", () => clickCard(card, b, button));
      row.appendChild(button);
    }
    box.appendChild(row);
  } else if (card.done) {
    box.appendChild(el("div", "done", card.done));
  }
  return box;
}

function drawChat(id, entries, names, emptyText) {
  const json = JSON.stringify(entries);
  if (state.drawn[id] === json) return;
  state.drawn[id] = json;
  const pane = $(id);
  const atBottom = pane.scrollHeight - pane.scrollTop - pane.clientHeight < 40;
  pane.replaceChildren();
  if (!entries.length) pane.appendChild(el("div", "empty", emptyText));
  for (const entry of entries) {
    pane.appendChild(entry.card ? drawCard(entry.card) : drawMessage(entry, names(entry)));
  }
  if (atBottom || entries.length <= 1) pane.scrollTop = pane.scrollHeight;
}

// ---- the three panes ---------------------------------------------------------------------------------------

function residentLabel(p) {
  const name = p.name || "居民";
  return p.address ? `${name}（${p.address}）` : `${name}（未登记地址）`;
}

function fillPickers() {
  const d = state.directory;
  const residents = $("resident-picker");
  for (const p of d.residents) residents.appendChild(new Option(residentLabel(p), p.id));
  residents.appendChild(new Option("新居民（没有地址）", state.newcomer));
  state.resident = residents.value;
  residents.addEventListener("change", () => {
    state.resident = residents.value;
    state.drawn["resident-chat"] = null;
    pollResident();
    if (!$("phone").hidden) openPhone();
  });
  $("centre-who").textContent = `${d.supervisor.name}（${d.supervisor.id}）`;
  const members = $("member-picker");
  members.addEventListener("change", () => {
    state.member = members.value;
    state.memberChosen = true;
  });
}

function fillMembers() {
  // The chat's own worker first; the others are there to see the bot refuse them.
  const d = state.directory;
  const chat = d.chats.find((c) => c.chat_id === state.chat);
  const members = $("member-picker");
  members.replaceChildren();
  const own = chat && chat.worker ? d.members.find((m) => m.id === chat.worker) : null;
  if (own) members.appendChild(new Option(`${own.name}（${own.grid ? "本网格" : own.post || "本群"}）`, own.id));
  for (const m of d.members) {
    if (own && m.id === own.id) continue;
    const where = m.grid ? `${m.grid}网格员` : m.id === "visitor" ? "不在名册" : m.post || "指挥中心";
    members.appendChild(new Option(`${m.name}（${where}）`, m.id));
  }
  if (!state.memberChosen || !members.querySelector(`option[value="${CSS.escape(state.member)}"]`)) {
    state.member = members.value;
    state.memberChosen = false;
  }
  members.value = state.member;
}

async function pollResident() {
  const openid = state.resident;
  const data = await getJSON("/sim/oa?openid=" + encodeURIComponent(openid));
  if (openid !== state.resident) return;
  drawChat("resident-chat", data.entries, () => ({ me: "我", bot: "网格通" }),
    "发一条消息试试，如：3号楼楼道灯坏了好几天了");
}

async function pollCentre() {
  const data = await getJSON("/sim/oa?openid=" + encodeURIComponent(state.directory.supervisor.id));
  drawChat("centre-chat", data.entries, () => ({ me: "我", bot: "网格通" }),
    "点下面的按钮看统计、超时工单或某个网格的情况");
}

async function pollGroups() {
  const data = await getJSON("/sim/chats");
  const tabs = $("chat-tabs");
  if (!state.chat && data.chats.length) {
    state.chat = data.chats[0].chat_id;
    fillMembers();
  }
  const json = JSON.stringify([data.chats, state.chat]);
  if (state.drawn["chat-tabs"] !== json) {
    state.drawn["chat-tabs"] = json;
    tabs.replaceChildren();
    for (const c of data.chats) {
      const tab = el("button", c.chat_id === state.chat ? "on" : "", c.name);
      tab.type = "button";
      tab.dataset.chat = c.chat_id;
      tab.title = c.chat_id;
      if (c.count) tab.appendChild(el("span", "badge", String(c.count)));
      tab.addEventListener("click", () => {
        state.chat = c.chat_id;
        state.drawn["group-chat"] = null;
        state.drawn["chat-tabs"] = null;
        fillMembers();
        pollGroups();
      });
      tabs.appendChild(tab);
    }
  }
  if (!state.chat) return;
  const chat = state.chat;
  const entries = (await getJSON("/sim/chat?chat_id=" + encodeURIComponent(chat))).entries;
  if (chat !== state.chat) return;
  drawChat("group-chat", entries, (e) => ({ me: memberName(e.sender), bot: "网格通" }),
    "新工单会以卡片出现在这里。点卡片上的按钮接单、办结，或 @网格通 发命令。");
}

async function pollStatus() {
  const s = await getJSON("/sim/status");
  const mark = (id, up, upText, downText) => {
    const node = $(id);
    node.className = "dot " + (up === null || up === undefined ? "" : up ? "up" : "down");
    node.title = up ? upText : downText;
  };
  state.appUrl = s.app_url;
  $("centre-screen").href = s.app_url + "/centre/";  // the screen is 网格通's own page, not the simulator's
  mark("status-app", s.app, "网格通在运行：" + s.app_url, "连不上网格通 " + s.app_url + "：刚启动的话稍等几秒，否则先运行 make run");
  // One gateway per bot: the default bot's and each street's own (make run starts them all).
  const missing = Object.keys(s.bots || {}).filter((bot) => !s.bots[bot]);
  const bots = Object.keys(s.bots || {}).length;
  mark("status-gateway", s.gateway, "企业微信网关已连接（" + bots + " 个机器人）",
    "网关没有连上：" + missing.join("、") + "，先运行 python -m bot.gateway");
}

// ---- the resident's phone: the page /m/ as the selected resident --------------------------------------------

function openPhone() {
  // The stand-in's authorize page (this origin) reads whose WeChat the phone is, and asks nothing, as WeChat
  // does for snsapi_base; ?reset=1 makes the page sign in again as that resident.
  document.cookie = "sim_wechat_user=" + encodeURIComponent(state.resident) + "; path=/; SameSite=Lax";
  $("phone-frame").src = state.appUrl + "/m/?reset=1";
}

function togglePhone() {
  const phone = $("phone");
  phone.hidden = !phone.hidden;
  $("phone-toggle").setAttribute("aria-pressed", String(!phone.hidden));
  if (!phone.hidden) openPhone();
}

// ---- sending -----------------------------------------------------------------------------------------------

async function sendOA(openid, text, form, safe) {
  const button = form.querySelector("button");
  button.disabled = true;
  try {
    await postJSON("/sim/oa/say", { openid, text, safe });
  } finally {
    button.disabled = false;
  }
}

async function sendResident(text) {
  if (!text) return;
  await sendOA(state.resident, text, $("resident-form"), $("safe-mode").checked);
  await pollResident();
}

async function sendCentre(text) {
  if (!text) return;
  await sendOA(state.directory.supervisor.id, text, $("centre-form"), $("safe-mode").checked);
  await pollCentre();
}

async function sendGroup(text) {
  if (!text || !state.chat) return;
  await postJSON("/sim/chat/say", { chat_id: state.chat, userid: state.member, text });
  await pollGroups();
}

async function clickCard(card, button, node) {
  node.disabled = true;
  try {
    await postJSON("/sim/chat/click", {
      chat_id: state.chat, userid: state.member, event_key: button.key, task_id: card.task_id,
    });
  } finally {
    node.disabled = false;
  }
  await pollGroups();
}

function wire(formId, inputId, chipsId, send) {
  $(formId).addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $(inputId);
    const text = input.value.trim();
    input.value = "";
    send(text).catch(report);
  });
  $(chipsId).addEventListener("click", (event) => {
    const text = event.target.dataset && event.target.dataset.text;
    if (text) send(text).catch(report);
  });
}

function report(error) {
  console.error(error);
}

function loop(poll) {
  const tick = () => poll().catch(report).finally(() => setTimeout(tick, POLL_MS));
  tick();
}

async function main() {
  state.directory = await getJSON("/sim/directory");
  fillPickers();
  wire("resident-form", "resident-input", "resident-chips", sendResident);
  $("phone-toggle").addEventListener("click", () => pollStatus().then(togglePhone).catch(report));
  wire("group-form", "group-input", "group-chips", sendGroup);
  wire("centre-form", "centre-input", "centre-chips", sendCentre);
  for (const button of $("switch").querySelectorAll("button")) {
    button.addEventListener("click", () => {
      for (const b of $("switch").querySelectorAll("button")) b.classList.toggle("on", b === button);
      for (const pane of document.querySelectorAll(".pane")) {
        pane.classList.toggle("on", pane.id === "pane-" + button.dataset.pane);
      }
    });
  }
  loop(pollResident);
  loop(pollCentre);
  loop(pollGroups);
  loop(() => pollStatus().then(() => new Promise((r) => setTimeout(r, 2000))));
}

main().catch(report);
