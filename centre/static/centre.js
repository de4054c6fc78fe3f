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

  function draw(data) {
    fill("units", data.units.map((u) => line(
      u.name + " " + u.closure.text + "｜" + u.on_time.text + "｜" + u.satisfaction.text,
      u.total + " 件，超时 " + u.overdue)));
    fill("categories", data.categories.map((c) => line(c.name + " " + c.count)));
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

  setInterval(refresh, EVERY_MS);
})();
