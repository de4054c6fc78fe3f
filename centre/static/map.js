// The screen's map: the unit's grids drawn from their imported outlines (no tiles, nothing from the internet),
// coloured by their open and overdue tickets, and the open tickets as points. The outlines come once (and again
// after a grid import); every few seconds only the load and the points. Text only (textContent).
"use strict";
(function () {
  const body = document.body;
  const SVGNS = "http://www.w3.org/2000/svg";
  const W = 1000, H = 600, PAD = 24;
  const EVERY_MS = 5000;
  // Names are written on the grids only while they fit: a district's hundreds of grids would be a smear.
  const LABELS_UP_TO = 40;
  const map = document.getElementById("map");
  const note = document.getElementById("map-note");
  let version = "";
  let grids = [];
  let byCode = new Map();
  let project = null;
  let selected = null;
  let last = { load: {}, points: [] };

  function el(tag, attrs) {
    const node = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    return node;
  }

  function projection(items) {
    const corners = items.flatMap((g) => (g.polygon.length ? g.polygon : g.centre ? [g.centre] : []));
    if (!corners.length) return null;
    const lngs = corners.map((c) => c[0]), lats = corners.map((c) => c[1]);
    const west = Math.min(...lngs), east = Math.max(...lngs), south = Math.min(...lats), north = Math.max(...lats);
    // A degree of longitude is shorter than one of latitude away from the equator.
    const squeeze = Math.cos(((south + north) / 2) * Math.PI / 180);
    const spanX = Math.max((east - west) * squeeze, 1e-4), spanY = Math.max(north - south, 1e-4);
    const scale = Math.min((W - 2 * PAD) / spanX, (H - 2 * PAD) / spanY);
    const dx = (W - spanX * scale) / 2, dy = (H - spanY * scale) / 2;
    return (lng, lat) => [dx + (lng - west) * squeeze * scale, dy + (north - lat) * scale];
  }

  // The box a grid is drawn in: its label goes in the middle, and only if it fits.
  function box(g) {
    const corners = (g.polygon.length ? g.polygon : [g.centre]).map((c) => project(c[0], c[1]));
    const xs = corners.map((c) => c[0]), ys = corners.map((c) => c[1]);
    const [left, right, top, bottom] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    return { x: (left + right) / 2, y: (top + bottom) / 2, width: right - left || 36 };
  }

  function loadClass(code) {
    const [open, late] = last.load[code] || [0, 0];
    if (late) return "late";
    if (!open) return "idle";
    return open >= 6 ? "busy busy3" : open >= 3 ? "busy busy2" : "busy";
  }

  function describe(g) {
    const [open, late] = last.load[g.code] || [0, 0];
    return g.name + "：在办 " + open + " 件" + (late ? "，超时 " + late + " 件" : "");
  }

  function drawGrids() {
    project = projection(grids);
    const layer = el("g", { id: "grid-layer" });
    if (!project) {
      map.replaceChildren();
      note.hidden = false;
      note.textContent = "网格还没有边界和坐标：导入网格时填上 polygon（或 lat、lng）列，这里就能看到地图。";
      return;
    }
    for (const g of grids) {
      const shape = g.polygon.length
        ? el("path", { d: "M" + g.polygon.map((c) => project(c[0], c[1]).map((v) => v.toFixed(1)).join(",")).join("L") + "Z" })
        : el("circle", { cx: project(...g.centre)[0], cy: project(...g.centre)[1], r: 18 });
      const item = el("g", { class: "grid", "data-code": g.code, tabindex: "0", role: "button" });
      item.append(shape);
      const tip = el("title");
      item.append(tip);
      if (grids.length <= LABELS_UP_TO && g.centre) {
        const { x, y, width } = box(g);
        const label = el("text", { x, y, "text-anchor": "middle", "dominant-baseline": "middle", class: "label" });
        label.textContent = g.name;
        label.dataset.room = width;
        item.append(label);
      }
      item.addEventListener("click", () => select(g.code));
      item.addEventListener("keydown", (e) => {
        if (e.key === "Enter" || e.key === " ") {
          e.preventDefault();
          select(g.code);
        }
      });
      layer.append(item);
    }
    map.replaceChildren(layer, el("g", { id: "point-layer" }));
    // Measured once drawn: a name wider than its grid gives way to the code (the tooltip and the panel name it).
    for (const label of map.querySelectorAll("text.label")) {
      if (label.getComputedTextLength() > Number(label.dataset.room) * 0.85) {
        label.textContent = label.closest("g.grid").dataset.code;
      }
    }
    note.hidden = true;
  }

  function drawLoad() {
    for (const item of map.querySelectorAll("g.grid")) {
      const g = byCode.get(item.dataset.code);
      const said = describe(g);
      item.setAttribute("class", "grid " + loadClass(g.code) + (g.code === selected ? " selected" : ""));
      item.setAttribute("aria-label", said);
      item.querySelector("title").textContent = said + (g.worker ? "（网格员 " + g.worker + "）" : "");
    }
    const layer = map.querySelector("#point-layer");
    if (!layer || !project) return;
    // Urgent points last: drawn on top.
    const points = [...last.points].sort((a, b) => a.urgent - b.urgent);
    layer.replaceChildren(...points.map((p) => {
      const [x, y] = project(p.lng, p.lat);
      const link = el("a", { href: body.dataset.tickets + p.id, "data-ticket": p.id });
      const kind = ["point", p.urgent ? "urgent" : "", p.late ? "late" : "", p.exact ? "" : "near"].join(" ").trim();
      const dot = el("circle", { cx: x.toFixed(1), cy: y.toFixed(1), r: p.urgent ? 9 : 6, class: kind });
      const tip = el("title");
      tip.textContent = p.id + " " + p.category + (p.place ? "｜" + p.place : "") + (p.late ? "（超时）" : "") +
        (p.exact ? "" : "（按网格位置）");
      dot.append(tip);
      link.append(dot);
      return link;
    }));
    if (selected) panel(selected);
  }

  function panel(code) {
    const g = byCode.get(code);
    if (!g) return;
    const [open, late] = last.load[code] || [0, 0];
    document.getElementById("grid-title").textContent = g.name + (g.community ? "（" + g.community + "）" : "");
    document.getElementById("grid-facts").textContent =
      "网格员：" + (g.worker || "未配置") + "｜在办 " + open + " 件｜超时 " + late + " 件";
    const items = last.points.filter((p) => p.grid === code).map((p) => {
      const li = document.createElement("li");
      if (p.urgent) li.className = "urgent";
      const link = document.createElement("a");
      link.href = body.dataset.tickets + p.id;
      link.textContent = p.id + " " + p.category + (p.late ? "（超时）" : "");
      li.append(link);
      if (p.place) {
        const where = document.createElement("small");
        where.textContent = p.place;
        li.append(where);
      }
      return li;
    });
    if (!items.length && open) {
      const li = document.createElement("li");
      li.className = "empty";
      li.textContent = "在办工单较多，地图只标出最新的一部分";
      items.push(li);
    }
    document.getElementById("grid-tickets").replaceChildren(...items);
  }

  function select(code) {
    selected = code;
    drawLoad();
  }

  async function refresh() {
    try {
      const response = await fetch(body.dataset.map + "?version=" + encodeURIComponent(version), {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (!response.ok) return; // a 401 is centre.js's to handle: it goes to the sign-in page
      const data = await response.json();
      last = data;
      if (data.grids) {
        grids = data.grids;
        byCode = new Map(grids.map((g) => [g.code, g]));
        version = data.version;
        drawGrids();
        if (data.more) {
          note.hidden = false;
          note.textContent = "网格太多，地图只画出前 " + grids.length + " 个；请登录下级单位的账号看全。";
        }
      }
      drawLoad();
    } catch (error) {
      // The network blinked: the next round tries again; the map keeps what it shows.
    }
  }

  refresh();
  setInterval(refresh, EVERY_MS);
})();
