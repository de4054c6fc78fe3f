// The screen refreshes itself: every few seconds it asks for the same data the page was drawn from and redraws the
// numbers and the lists. Text only (textContent): a resident's words never become markup.
"use strict";
(function () {
  const body = document.body;
  const api = body.dataset.api + "?period=" + encodeURIComponent(body.dataset.period);
  const EVERY_MS = 5000;

  function row(t) {
    const li = document.createElement("li");
    if (t.urgent) li.className = "urgent";
    const link = document.createElement("a");
    link.href = body.dataset.tickets + t.id;
    const head = document.createElement("b");
    head.textContent = t.mark + " " + t.id;
    link.append(head);
    li.append(link, " " + t.category + "｜" + t.grid + "｜" + t.place);
    const words = document.createElement("small");
    words.textContent = t.text;
    li.append(words);
    return li;
  }

  function line(text, small) {
    const li = document.createElement("li");
    li.textContent = text;
    if (small) {
      const note = document.createElement("small");
      note.textContent = small;
      li.append(note);
    }
    return li;
  }

  function fill(id, items) {
    const list = document.getElementById(id);
    if (!items.length) items.push(Object.assign(line(list.dataset.empty), { className: "empty" }));
    list.replaceChildren(...items);
  }

  const SVGNS = "http://www.w3.org/2000/svg";
  // Categories over time: one colour each, in the order the data ranks them (其他 last, grey).
  const COLOURS = ["#4fc3f7", "#ffb74d", "#81c784", "#ba68c8", "#f06292", "#90a4ae"];
  // Rates where up is worse; for the other rates up is better; counts are neither.
  const WORSE_UP = new Set(["reopen"]);

  function svg(tag, attrs) {
    const node = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    return node;
  }

  function trend(data) {
    if (!data.previous) return;
    for (const node of document.querySelectorAll("[data-trend]")) {
      const key = node.dataset.trend;
      const now = data.numbers[key], before = data.previous[key];
      if (before === undefined) continue;
      const rate = typeof now === "object";
      const a = rate ? now.value : now, b = rate ? before.value : before;
      let arrow = "", mood = "";
      if (a !== null && b !== null && a !== b) {
        arrow = a > b ? "▲ " : "▼ ";
        if (rate) mood = (a > b) !== WORSE_UP.has(key) ? "good" : "bad";
      }
      node.textContent = arrow + "上期 " + (rate ? before.text : before);
      node.className = mood;
    }
  }

  function daily(data) {
    const chart = document.getElementById("daily");
    if (!chart || !data.daily) return;
    const { days, series } = data.daily;
    const W = 560, H = 220, left = 28, bottom = 22, top = 8;
    const totals = days.map((_, i) => series.reduce((sum, s) => sum + s.counts[i], 0));
    const most = Math.max(1, ...totals);
    const step = (W - left) / days.length, bar = step * 0.7;
    const nodes = [svg("line", { x1: left, y1: H - bottom, x2: W, y2: H - bottom, class: "axis" })];
    const label = svg("text", { x: left - 4, y: top + 10, class: "tick", "text-anchor": "end" });
    label.textContent = most;
    nodes.push(label);
    days.forEach((day, i) => {
      let y = H - bottom;
      const x = left + i * step + (step - bar) / 2;
      series.forEach((s, k) => {
        const h = (s.counts[i] / most) * (H - bottom - top);
        if (h <= 0) return;
        y -= h;
        const rect = svg("rect", { x, y, width: bar, height: h, fill: COLOURS[k % COLOURS.length] });
        const tip = svg("title", {});
        tip.textContent = day + " " + s.name + " " + s.counts[i] + " 件";
        rect.append(tip);
        nodes.push(rect);
      });
      if (i % 2 === days.length % 2 || i === days.length - 1) {
        const tick = svg("text", { x: x + bar / 2, y: H - 6, class: "tick", "text-anchor": "middle" });
        tick.textContent = day;
        nodes.push(tick);
      }
    });
    chart.replaceChildren(...nodes);
    const legend = document.getElementById("daily-legend");
    legend.replaceChildren(...series.map((s, k) => {
      const item = document.createElement("span");
      const swatch = document.createElement("i");
      swatch.style.background = COLOURS[k % COLOURS.length];
      item.append(swatch, s.name + " " + s.counts.reduce((a, b) => a + b, 0));
      return item;
    }));
    if (!series.length) legend.textContent = "近 14 天还没有工单";
  }

  function draw(data) {
    fill("units", data.units.map((u) => line(
      u.name + " " + u.closure.text + "｜" + u.on_time.text + "｜" + u.satisfaction.text,
      u.total + " 件，超时 " + u.overdue)));
    fill("categories", data.categories.map((c) => line(c.name + " " + c.count)));
    if (data.workers) {
      fill("workers", data.workers.map((w) => line(
        w.name + "（" + w.grid + "） 办结 " + w.closed + "｜按期 " + w.on_time.text + "｜巡查 " + w.patrol,
        "经手 " + w.handled + " 件，满意率 " + w.satisfaction.text)));
    }
    if (data.hotspots) {
      fill("hotspots", data.hotspots.map((h) => line(
        h.grid + (h.place ? "｜" + h.place : "") + "：" + h.category + " " + h.count + " 次")));
    }
    trend(data);
    daily(data);
    document.getElementById("updated").textContent = data.updated;
    for (const node of document.querySelectorAll("[data-key]")) {
      const value = data.numbers[node.dataset.key];
      node.textContent = typeof value === "object" ? value.text : value;
    }
    for (const key of ["overdue", "awaiting", "reported_up"]) {
      const list = document.getElementById("list-" + key);
      const items = data[key].map(row);
      if (!items.length) {
        const empty = document.createElement("li");
        empty.className = "empty";
        empty.textContent = list.dataset.empty;
        items.push(empty);
      }
      list.replaceChildren(...items);
      document.querySelector('[data-count="' + key + '"]').textContent = data[key].length;
    }
  }

  async function refresh() {
    try {
      const response = await fetch(api, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (response.status === 401) {
        window.location = (await response.json()).login;
        return;
      }
      if (response.ok) draw(await response.json());
    } catch (error) {
      // The network blinked: the next round tries again; the page keeps what it shows.
    }
  }

  refresh();
  setInterval(refresh, EVERY_MS);
})();
