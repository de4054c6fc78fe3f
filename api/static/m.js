// The resident's page /m/ (随手拍): sign in through the Official Account's web authorize page, report a problem
// with photos and a map pin, follow one's tickets and rate them, all through /api/v1. Everything the API says is
// written with textContent (never as HTML); nothing is fetched from outside our own server.
"use strict";
(function () {
  const body = document.body;
  const API = body.dataset.api;
  const SVGNS = "http://www.w3.org/2000/svg";
  const KEYS = {
    token: "wgt.m.token",
    state: "wgt.m.state",
    after: "wgt.m.after",
    retried: "wgt.m.retried",
    draft: "wgt.m.draft",
  };
  const MAX_PHOTOS = 9;
  const MAX_PHOTO_BYTES = 10 * 1024 * 1024;
  const SUGGEST_MS = 600;
  const W = 1000, H = 750, PAD = 30;
  const NETWORK = "网络不好，没有连上。请稍后再试。";

  const $ = (id) => document.getElementById(id);

  // sessionStorage may refuse (private mode on some phones): the page then just signs in each time.
  const store = {
    get(key) { try { return sessionStorage.getItem(key); } catch (e) { return null; } },
    set(key, value) { try { sessionStorage.setItem(key, value); } catch (e) { /* not kept */ } },
    remove(key) { try { sessionStorage.removeItem(key); } catch (e) { /* nothing kept */ } },
  };

  function randomHex(bytes) {
    const a = new Uint8Array(bytes);
    crypto.getRandomValues(a);
    return Array.from(a, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // An element with attributes and children; strings become text nodes, so API text is never markup.
  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function svg(tag, attrs) {
    const node = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    return node;
  }

  // ---- times, in China's time whatever the phone's zone ----------------------------------------------------------

  function parseTime(text) {
    if (!text) return null;
    const zoned = /(Z|[+-]\d\d:?\d\d)$/.test(text) ? text : text + "Z";
    const when = new Date(zoned);
    return isNaN(when.getTime()) ? null : when;
  }

  function showTime(text, withTime) {
    const when = parseTime(text);
    if (!when) return "";
    const cst = new Date(when.getTime() + 8 * 3600 * 1000);
    const now = new Date(Date.now() + 8 * 3600 * 1000);
    const pad = (n) => String(n).padStart(2, "0");
    const year = cst.getUTCFullYear() !== now.getUTCFullYear() ? cst.getUTCFullYear() + "年" : "";
    const day = year + (cst.getUTCMonth() + 1) + "月" + cst.getUTCDate() + "日";
    return withTime === false ? day : day + " " + pad(cst.getUTCHours()) + ":" + pad(cst.getUTCMinutes());
  }

  // ---- signing in ------------------------------------------------------------------------------------------------

  function signIn() {
    const state = randomHex(12);
    store.set(KEYS.state, state);
    const after = location.hash;
    if (after && after !== "#/new") store.set(KEYS.after, after);
    // WeChat wants the parameters in this order, and the fragment.
    const url = body.dataset.oauthUrl +
      "?appid=" + encodeURIComponent(body.dataset.appid) +
      "&redirect_uri=" + encodeURIComponent(body.dataset.redirectUri) +
      "&response_type=code&scope=snsapi_base" +
      "&state=" + encodeURIComponent(state) + "#wechat_redirect";
    location.replace(url);
  }

  function fatal(text) {
    showView("view-fatal");
    $("fatal-text").textContent = text;
  }

  // A 401: sign in again, once. If the fresh sign-in is refused too, say so instead of going round in circles.
  let leaving = false;
  function signedOut(answer) {
    const result = { ok: false, status: 401, body: answer, message: "正在重新登录…", signedOut: true };
    if (leaving) return result; // two calls refused at once: one trip to WeChat
    store.remove(KEYS.token);
    if (store.get(KEYS.retried)) {
      fatal((answer && answer.message) || "登录已失效，请重新进入。");
    } else {
      store.set(KEYS.retried, "1");
      saveDraft();
      leaving = true;
      signIn();
    }
    return result;
  }

  async function call(method, path, data, options) {
    const opts = options || {};
    const headers = { Accept: "application/json" };
    const token = store.get(KEYS.token);
    if (token && !opts.anonymous) headers.Authorization = "Bearer " + token;
    if (opts.key) headers["Idempotency-Key"] = opts.key;
    if (data !== undefined) headers["Content-Type"] = "application/json";
    let res;
    try {
      res = await fetch(API + path, {
        method,
        headers,
        body: data === undefined ? undefined : JSON.stringify(data),
        credentials: "same-origin",
        cache: "no-store",
      });
    } catch (e) {
      return { ok: false, status: 0, network: true, body: null, message: NETWORK };
    }
    let answer = null;
    try { answer = await res.json(); } catch (e) { answer = null; }
    if (res.status === 401 && !opts.anonymous) return signedOut(answer);
    // Any other answer means the token was taken: a later 401 may sign in again.
    if (!opts.anonymous) store.remove(KEYS.retried);
    const message = (answer && answer.message) || "出了点问题（" + res.status + "），请稍后再试。";
    return { ok: res.ok, status: res.status, network: res.status >= 500, body: answer, message };
  }

  async function start() {
    $("again").addEventListener("click", () => {
      for (const key of [KEYS.token, KEYS.state, KEYS.retried]) store.remove(key);
    });
    const query = new URLSearchParams(location.search);
    const code = query.get("code");
    if (query.get("reset") === "1") {
      // Opened afresh for another WeChat user (the simulator's phone frame): forget who was signed in here.
      for (const key of [KEYS.token, KEYS.state, KEYS.retried, KEYS.after]) store.remove(key);
      history.replaceState(null, "", location.pathname + location.hash);
      signIn();
      return;
    }
    if (code !== null) {
      const expected = store.get(KEYS.state);
      // A browser keeps "#wechat_redirect" across the authorize page's redirect: only our own routes come back.
      const after = store.get(KEYS.after) || (location.hash.startsWith("#/") ? location.hash : "");
      store.remove(KEYS.state);
      store.remove(KEYS.after);
      // The code is good once: off the address, out of the history and of any link shared from here.
      history.replaceState(null, "", location.pathname + after);
      if (!expected || query.get("state") !== expected) {
        fatal("登录校验没有通过（可能打开了旧的链接）。请点下面重新进入。");
        return;
      }
      const answer = await call("POST", "/session/web", { code }, { anonymous: true });
      if (!answer.ok || !answer.body || !answer.body.token) {
        fatal(answer.message || "登录没有成功，请重新进入。");
        return;
      }
      store.set(KEYS.token, answer.body.token);
    } else if (!store.get(KEYS.token)) {
      signIn();
      return;
    }
    window.addEventListener("hashchange", route);
    // Tapping the tab one is on shows it afresh (what a pull to refresh would do).
    for (const tab of [$("tab-new"), $("tab-mine")]) {
      tab.addEventListener("click", () => { if (location.hash === tab.getAttribute("href")) route(); });
    }
    route();
  }

  // ---- views -----------------------------------------------------------------------------------------------------

  let pendingFlash = null;

  function showView(id) {
    for (const view of document.querySelectorAll(".view")) view.hidden = view.id !== id;
    $("tab-new").classList.toggle("on", id === "view-new");
    $("tab-mine").classList.toggle("on", id === "view-mine" || id === "view-ticket");
    $("tab-new").setAttribute("aria-current", id === "view-new" ? "page" : "false");
    $("tab-mine").setAttribute("aria-current", id === "view-mine" ? "page" : "false");
  }

  function flash(text) {
    const node = $("flash");
    node.textContent = text || "";
    node.hidden = !text;
  }

  function route() {
    flash(pendingFlash);
    pendingFlash = null;
    window.scrollTo(0, 0);
    const hash = location.hash || "#/new";
    const ticket = /^#\/t\/(\d+)$/.exec(hash);
    if (ticket) showTicket(Number(ticket[1]));
    else if (hash === "#/mine") showMine();
    else showNew();
  }

  function note(id, text, good) {
    const node = $(id);
    node.textContent = text || "";
    node.hidden = !text;
    node.classList.toggle("good", Boolean(good));
  }

  // ---- 反映问题 --------------------------------------------------------------------------------------------------

  let newReady = false;
  let suggestTimer = null;
  let suggestSeq = 0;
  let sendKey = null;
  let sending = false;
  let pin = null; // {lat, lng}
  const photos = []; // {file, url, id, state: "up" | "ok" | "bad", li, bar, status, xhr}

  function showNew() {
    showView("view-new");
    if (newReady) return;
    newReady = true;
    let draft = null;
    try { draft = JSON.parse(store.get(KEYS.draft) || "null"); } catch (e) { draft = null; }
    if (draft) {
      $("text").value = draft.text || "";
      $("address").value = draft.address || "";
      store.remove(KEYS.draft);
    }
    $("text").addEventListener("input", () => { saveDraftSoon(); suggestSoon(SUGGEST_MS); });
    $("address").addEventListener("input", () => { saveDraftSoon(); suggestSoon(SUGGEST_MS); });
    $("photos").addEventListener("change", choosePhotos);
    $("map").addEventListener("click", tapMap);
    $("locate").addEventListener("click", locate);
    $("zoom-in").addEventListener("click", () => zoomBy(2));
    $("zoom-out").addEventListener("click", () => zoomBy(0.5));
    $("report").addEventListener("submit", submit);
    loadMap();
    if ($("text").value.trim()) suggestSoon(0);
  }

  function saveDraft() {
    const text = $("text").value, address = $("address").value;
    if (text || address) store.set(KEYS.draft, JSON.stringify({ text, address }));
  }

  let draftTimer = null;
  function saveDraftSoon() {
    clearTimeout(draftTimer);
    draftTimer = setTimeout(saveDraft, 400);
  }

  function suggestSoon(ms) {
    clearTimeout(suggestTimer);
    suggestTimer = setTimeout(suggest, ms);
  }

  async function suggest() {
    const text = $("text").value.trim();
    const seq = ++suggestSeq;
    if (!text) {
      $("suggest").textContent = "";
      note("warning", "");
      return;
    }
    const query = new URLSearchParams({ text: text.slice(0, 2000) });
    const address = $("address").value.trim();
    if (address) query.set("address", address.slice(0, 120));
    if (pin) { query.set("lat", pin.lat.toFixed(6)); query.set("lng", pin.lng.toFixed(6)); }
    const answer = await call("GET", "/suggest?" + query.toString());
    if (seq !== suggestSeq || answer.signedOut) return; // the resident typed on: a newer guess is coming
    const guess = answer.body;
    const out = $("suggest");
    out.classList.remove("found");
    if (!answer.ok || !guess) {
      out.textContent = answer.network ? "" : answer.message;
      return;
    }
    if (guess.grid) {
      out.textContent = "将由 " + guess.grid.name + " 办理" + (guess.category_name ? " · " + guess.category_name : "");
      out.classList.add("found");
    } else {
      out.textContent = guess.hint || "";
    }
    note("warning", guess.urgent ? guess.warning || "情况紧急请直接拨打110、119或120。" : "");
  }

  // ---- photos ----

  function choosePhotos(event) {
    const input = event.target;
    const chosen = Array.from(input.files || []);
    input.value = ""; // the same photo may be chosen again after removing it
    const room = MAX_PHOTOS - photos.length;
    note("send-note", chosen.length > room ? "最多 9 张照片，多出的没有加上。" : "");
    for (const file of chosen.slice(0, Math.max(room, 0))) addPhoto(file);
    pickState();
  }

  function pickState() {
    const full = photos.length >= MAX_PHOTOS;
    $("photos").disabled = full;
    $("pick-label").classList.toggle("disabled", full);
    $("pick-text").textContent = full ? "已选满 9 张" : photos.length ? "再加照片" : "拍照 / 选照片";
  }

  function addPhoto(file) {
    const entry = { file, url: URL.createObjectURL(file), id: null, state: "up", xhr: null };
    entry.bar = h("progress", { max: "100", value: "0" });
    entry.status = h("span", { class: "photo-status" }, "准备上传");
    const remove = h("button", { type: "button", class: "remove" }, "删除");
    remove.addEventListener("click", () => removePhoto(entry));
    entry.retry = h("button", { type: "button", class: "retry", hidden: true }, "重试");
    entry.retry.addEventListener("click", () => upload(entry));
    entry.li = h("li", { class: "thumb" }, h("img", { src: entry.url, alt: "选中的照片" }), entry.bar, entry.status,
      h("span", { class: "thumb-buttons" }, entry.retry, remove));
    $("thumbs").append(entry.li);
    photos.push(entry);
    if (file.size > MAX_PHOTO_BYTES) {
      failPhoto(entry, "照片太大（超过 10 MB），请换一张。", false);
      return;
    }
    upload(entry);
  }

  function failPhoto(entry, text, canRetry) {
    entry.state = "bad";
    entry.li.classList.add("bad");
    entry.bar.hidden = true;
    entry.status.textContent = text;
    entry.retry.hidden = !canRetry;
  }

  function upload(entry) {
    const token = store.get(KEYS.token);
    const form = new FormData();
    form.append("photo", entry.file, entry.file.name || "photo.jpg");
    const xhr = new XMLHttpRequest();
    entry.xhr = xhr;
    entry.state = "up";
    entry.li.classList.remove("bad", "ok");
    entry.bar.hidden = false;
    entry.bar.value = 0;
    entry.retry.hidden = true;
    entry.status.textContent = "上传中…";
    xhr.open("POST", API + "/photos");
    if (token) xhr.setRequestHeader("Authorization", "Bearer " + token);
    xhr.setRequestHeader("Idempotency-Key", randomHex(16));
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) entry.bar.value = Math.round((e.loaded / e.total) * 100);
    });
    xhr.addEventListener("load", () => {
      let answer = null;
      try { answer = JSON.parse(xhr.responseText); } catch (e) { answer = null; }
      if (xhr.status === 401) { signedOut(answer); return; }
      store.remove(KEYS.retried);
      if (xhr.status === 201 && answer && answer.id) {
        entry.id = answer.id;
        entry.state = "ok";
        entry.li.classList.add("ok");
        entry.bar.hidden = true;
        entry.status.textContent = "已上传";
        return;
      }
      const text = (answer && answer.message) || "没传上（" + xhr.status + "）。";
      failPhoto(entry, text, xhr.status >= 500 || xhr.status === 429);
    });
    xhr.addEventListener("error", () => failPhoto(entry, "网络不好，没传上。", true));
    xhr.addEventListener("timeout", () => failPhoto(entry, "上传太慢，没传上。", true));
    xhr.timeout = 120000;
    xhr.send(form);
  }

  function removePhoto(entry) {
    if (entry.xhr && entry.state === "up") entry.xhr.abort();
    URL.revokeObjectURL(entry.url);
    entry.li.remove();
    photos.splice(photos.indexOf(entry), 1);
    pickState();
  }

  // ---- the map ----
  // The grids near the resident drawn from their outlines in a world of W x H units; the SVG's viewBox is the part
  // shown (放大 / 缩小 around the pin). Names and the pin keep their size on the screen at every zoom.

  const MAX_ZOOM = 8;
  const LABEL_PX = 15;
  let grids = [];
  let project = null;
  let unproject = null;
  let bounds = null;
  let zoom = 1;
  let focus = [W / 2, H / 2];

  async function loadMap(lat, lng) {
    const query = lat === undefined ? "" : "?lat=" + lat.toFixed(6) + "&lng=" + lng.toFixed(6);
    const answer = await call("GET", "/map" + query);
    if (answer.signedOut) return;
    if (!answer.ok || !answer.body) {
      $("where").textContent = "地图没有打开：" + answer.message;
      return;
    }
    drawMap(answer.body.grids || [], answer.body.center);
  }

  function drawMap(items, center) {
    const map = $("map");
    map.replaceChildren();
    grids = items.filter((g) => g.outline && g.outline.length >= 3);
    $("map-empty").hidden = grids.length > 0;
    $("zoom").hidden = !grids.length;
    if (!grids.length) { project = unproject = bounds = null; return; }
    const lngs = grids.flatMap((g) => g.outline.map((p) => p[0]));
    const lats = grids.flatMap((g) => g.outline.map((p) => p[1]));
    const west = Math.min(...lngs), east = Math.max(...lngs), south = Math.min(...lats), north = Math.max(...lats);
    bounds = { west, east, south, north };
    // Plain equirectangular: a degree of longitude is shorter than one of latitude by cos(latitude).
    const squeeze = Math.cos(((south + north) / 2) * Math.PI / 180);
    const spanX = Math.max((east - west) * squeeze, 1e-5), spanY = Math.max(north - south, 1e-5);
    const scale = Math.min((W - 2 * PAD) / spanX, (H - 2 * PAD) / spanY);
    const dx = (W - spanX * scale) / 2, dy = (H - spanY * scale) / 2;
    project = (lng, lat) => [dx + (lng - west) * squeeze * scale, dy + (north - lat) * scale];
    unproject = (x, y) => [west + (x - dx) / (squeeze * scale), north - (y - dy) / scale];
    const shapes = svg("g", { class: "grids" });
    for (const g of grids) {
      const corners = g.outline.map((p) => project(p[0], p[1]));
      const xs = corners.map((c) => c[0]), ys = corners.map((c) => c[1]);
      g.box = { left: Math.min(...xs), right: Math.max(...xs), top: Math.min(...ys), bottom: Math.max(...ys) };
      const group = svg("g", { class: "grid", "data-code": g.code });
      const shape = svg("polygon", {
        points: corners.map((c) => c[0].toFixed(1) + "," + c[1].toFixed(1)).join(" "),
        "data-code": g.code,
      });
      const title = svg("title");
      title.textContent = g.name;
      shape.append(title);
      group.append(shape);
      shapes.append(group);
    }
    map.append(shapes, svg("g", { class: "labels" }));
    // Around the resident's own grid (the API's centre), close enough to read its neighbours' names.
    focus = center ? project(center.lng, center.lat) : [W / 2, H / 2];
    zoom = grids.length > 4 ? 2 : 1;
    setView();
  }

  function setView() {
    const w = W / zoom, h = H / zoom;
    const x = Math.min(Math.max(focus[0] - w / 2, 0), W - w);
    const y = Math.min(Math.max(focus[1] - h / 2, 0), H - h);
    focus = [x + w / 2, y + h / 2];
    $("map").setAttribute("viewBox", [x, y, w, h].map((n) => n.toFixed(1)).join(" "));
    $("zoom-in").disabled = zoom >= MAX_ZOOM;
    $("zoom-out").disabled = zoom <= 1;
    drawLabels();
    drawPin();
  }

  function zoomBy(factor) {
    zoom = Math.min(Math.max(zoom * factor, 1), MAX_ZOOM);
    if (pin && project) focus = project(pin.lng, pin.lat);
    setView();
  }

  // Map units per CSS pixel at the present zoom.
  function unitsPerPx() {
    return W / zoom / ($("map").clientWidth || 360);
  }

  // Each grid's name where it fits, else its short form (第1网格), else nothing (the name shows when tapped); a
  // label that would overlap one already written is left off.
  function drawLabels() {
    const layer = $("map").querySelector(".labels");
    if (!layer) return;
    layer.replaceChildren();
    const size = LABEL_PX * unitsPerPx();
    const taken = [];
    for (const g of grids) {
      const short = (/第?\d+网格$/.exec(g.name) || [g.name])[0];
      const width = (g.box.right - g.box.left) * 0.92;
      const text = [g.name, short].find((t) => t.length * size <= width);
      if (!text) continue;
      const x = (g.box.left + g.box.right) / 2, y = (g.box.top + g.box.bottom) / 2;
      const room = { left: x - (text.length * size) / 2, right: x + (text.length * size) / 2,
        top: y - size * 0.7, bottom: y + size * 0.7 };
      if (taken.some((o) => o.left < room.right && room.left < o.right && o.top < room.bottom && room.top < o.bottom)) {
        continue;
      }
      taken.push(room);
      const label = svg("text", {
        x: x.toFixed(1),
        y: y.toFixed(1),
        "font-size": size.toFixed(1),
        "text-anchor": "middle",
        "dominant-baseline": "middle",
        "data-code": g.code,
      });
      label.textContent = text;
      layer.append(label);
    }
  }

  function inside(point, outline) {
    const [x, y] = point;
    let hit = false;
    for (let i = 0, j = outline.length - 1; i < outline.length; j = i++) {
      const [xi, yi] = outline[i], [xj, yj] = outline[j];
      if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) hit = !hit;
    }
    return hit;
  }

  function gridAt(lat, lng) {
    return grids.find((g) => inside([lng, lat], g.outline)) || null;
  }

  function tapMap(event) {
    if (!unproject) return;
    const map = $("map");
    const matrix = map.getScreenCTM();
    if (!matrix) return;
    const point = map.createSVGPoint();
    point.x = event.clientX;
    point.y = event.clientY;
    const at = point.matrixTransform(matrix.inverse());
    const [lng, lat] = unproject(at.x, at.y);
    setPin(lat, lng);
  }

  function setPin(lat, lng) {
    pin = { lat, lng };
    drawPin();
    const grid = gridAt(lat, lng);
    $("where").textContent = grid ? "位置在 " + grid.name : "这里不在已知网格里，请在下面写明地址。";
    for (const node of $("map").querySelectorAll("g.grid")) {
      node.classList.toggle("chosen", Boolean(grid) && node.dataset.code === grid.code);
    }
    if ($("text").value.trim()) suggestSoon(0);
  }

  function drawPin() {
    const map = $("map");
    const old = map.querySelector(".pin");
    if (old) old.remove();
    if (!pin || !project) return;
    const [x, y] = project(pin.lng, pin.lat);
    // Drawn 66 units tall: about 36 pixels on the screen at any zoom.
    const k = (36 / 66) * unitsPerPx();
    const group = svg("g", {
      class: "pin",
      transform: "translate(" + x.toFixed(1) + "," + y.toFixed(1) + ") scale(" + k.toFixed(3) + ")",
    });
    group.append(svg("path", { d: "M0,0 C-9,-20 -22,-30 -22,-44 A22,22 0 1 1 22,-44 C22,-30 9,-20 0,0 Z" }));
    group.append(svg("circle", { cx: "0", cy: "-44", r: "8" }));
    map.append(group);
  }

  function locate() {
    const where = $("where");
    if (!navigator.geolocation) {
      where.textContent = "这个手机不能定位，请在地图上点出事的地方。";
      return;
    }
    where.textContent = "正在定位…";
    navigator.geolocation.getCurrentPosition(
      async (position) => {
        const lat = position.coords.latitude, lng = position.coords.longitude;
        const far = !bounds || lat < bounds.south || lat > bounds.north || lng < bounds.west || lng > bounds.east;
        if (far) await loadMap(lat, lng);
        setPin(lat, lng);
        if (project) { focus = project(lng, lat); setView(); }
      },
      (error) => {
        where.textContent = error && error.code === 1
          ? "没有允许定位。请在地图上点出事的地方。"
          : "没能定位，请在地图上点出事的地方。";
      },
      { enableHighAccuracy: true, timeout: 10000, maximumAge: 60000 },
    );
  }

  // ---- sending ----

  async function submit(event) {
    event.preventDefault();
    if (sending) return;
    const text = $("text").value.trim();
    if (!text) {
      note("send-note", "请先写一下遇到了什么问题。");
      $("text").focus();
      return;
    }
    if (photos.some((p) => p.state === "up")) {
      note("send-note", "照片还在上传，请稍等一下再提交。");
      return;
    }
    if (photos.some((p) => p.state === "bad")) {
      note("send-note", "有照片没传上：请点“重试”，或把它删除。");
      return;
    }
    const payload = { text, photos: photos.map((p) => p.id) };
    const address = $("address").value.trim();
    if (address) payload.address = address;
    if (pin) { payload.lat = Number(pin.lat.toFixed(6)); payload.lng = Number(pin.lng.toFixed(6)); }
    // One key per submission: a retry after a lost answer is the same submission, never a second ticket.
    sendKey = sendKey || randomHex(16);
    sending = true;
    const button = $("send");
    button.disabled = true;
    button.textContent = "正在提交…";
    note("send-note", "");
    const answer = await call("POST", "/tickets", payload, { key: sendKey });
    sending = false;
    button.disabled = false;
    button.textContent = "提交";
    if (answer.signedOut) return;
    if (answer.network) {
      note("send-note", answer.message + " 再点“提交”重试，不会重复提交。");
      return;
    }
    sendKey = null;
    if (!answer.ok || !answer.body || !answer.body.ticket) {
      note("send-note", answer.message);
      return;
    }
    clearForm();
    pendingFlash = answer.body.message;
    location.hash = "#/t/" + answer.body.ticket.id;
  }

  function clearForm() {
    $("text").value = "";
    $("address").value = "";
    $("suggest").textContent = "";
    note("warning", "");
    for (const entry of photos.slice()) removePhoto(entry);
    pin = null;
    drawPin();
    for (const node of $("map").querySelectorAll("g.grid.chosen")) node.classList.remove("chosen");
    $("where").textContent = "还没有选位置。";
    clearTimeout(draftTimer);
    store.remove(KEYS.draft);
  }

  // ---- 我的工单 --------------------------------------------------------------------------------------------------

  let mineReady = false;
  let nextBefore = null;

  function showMine() {
    showView("view-mine");
    if (!mineReady) {
      mineReady = true;
      $("more").addEventListener("click", () => loadTickets(nextBefore));
    }
    $("tickets").replaceChildren();
    loadTickets(null);
  }

  async function loadTickets(before) {
    const more = $("more");
    more.hidden = true;
    note("tickets-note", before ? "" : "加载中…");
    const answer = await call("GET", "/tickets" + (before ? "?before=" + before : ""));
    if (answer.signedOut) return;
    if (!answer.ok || !answer.body) {
      note("tickets-note", answer.message);
      if (before) more.hidden = false;
      return;
    }
    const page = answer.body;
    note("tickets-note", !before && !page.items.length ? "还没有反映过问题。到“反映问题”说一说吧。" : "");
    for (const t of page.items) {
      const link = h("a", { href: "#/t/" + t.id },
        h("span", { class: "t-head" }, h("b", {}, t.label), t.to_rate ? h("span", { class: "badge rate" }, "待评价") : null),
        h("span", { class: "t-meta" },
          h("span", { class: "badge status-" + t.status }, t.status_name),
          " " + showTime(t.created_at, false) + " · " + t.id + "号"),
        h("span", { class: "t-text" }, t.text));
      $("tickets").append(h("li", { "data-ticket": String(t.id) }, link));
    }
    nextBefore = page.next;
    more.hidden = !page.next;
  }

  // ---- one ticket ------------------------------------------------------------------------------------------------

  let ticketReady = false;
  let current = null;
  const actKeys = {};

  function showTicket(id) {
    showView("view-ticket");
    if (!ticketReady) {
      ticketReady = true;
      for (const button of document.querySelectorAll("#rate [data-score]")) {
        button.addEventListener("click", () => act("rating", { score: Number(button.dataset.score),
          note: $("rate-note").value.trim().slice(0, 250) }));
      }
      $("urge").addEventListener("click", () => act("urge"));
      $("cancel").addEventListener("click", () => {
        if (window.confirm("确定撤销这个工单吗？撤销后就不再办理了。")) act("cancel");
      });
    }
    current = id;
    note("act-note", "");
    $("rate-note").value = "";
    loadTicket(id);
  }

  async function loadTicket(id) {
    $("ticket").hidden = true;
    note("ticket-missing", "");
    const answer = await call("GET", "/tickets/" + id);
    if (answer.signedOut || current !== id) return;
    if (!answer.ok || !answer.body) {
      note("ticket-missing", answer.status === 404 ? answer.message || "没有找到这个工单。" : answer.message);
      return;
    }
    renderTicket(answer.body);
  }

  function renderTicket(t) {
    $("ticket").hidden = false;
    $("t-number").textContent = t.id + "号";
    $("t-label").textContent = t.label;
    const status = $("t-status");
    status.textContent = t.status_name;
    status.className = "badge status-" + t.status;
    $("t-urgent").hidden = !t.urgent;
    $("t-progress").textContent = t.progress;
    $("t-text").textContent = t.text;
    $("t-address").textContent = t.address || (t.lat !== null ? "地图上选的位置" : "未写明");
    $("t-handler").textContent = t.handler || "等待派单";
    $("t-due").textContent = t.due_at ? showTime(t.due_at) + " 前办好" : "—";
    $("t-date").textContent = showTime(t.created_at) + (t.reporters > 1 ? "（共 " + t.reporters + " 人反映）" : "");
    const gallery = $("t-photos");
    gallery.replaceChildren();
    for (const p of t.photos || []) {
      // Ours are shown here; a worker's 办结照片 lives at WeCom's address, which this page may not load: a link.
      const ours = p.url.startsWith("/");
      gallery.append(h("figure", {},
        ours ? h("img", { src: p.url, alt: p.after ? "办结后的照片" : "反映时的照片" })
          : h("a", { href: /^https?:\/\//.test(p.url) ? p.url : "#", target: "_blank", rel: "noopener noreferrer" },
            "查看办结照片"),
        h("figcaption", {}, p.after ? "办结后" : "反映时")));
    }
    const timeline = $("t-timeline");
    timeline.replaceChildren();
    for (const e of (t.timeline || []).slice().reverse()) {
      timeline.append(h("li", {},
        h("time", {}, showTime(e.at)),
        h("b", {}, e.what),
        e.note ? h("span", { class: "t-note" }, e.note) : null));
    }
    $("rate").hidden = !t.can.rate;
    $("urge").hidden = !t.can.urge;
    $("cancel").hidden = !t.can.cancel;
  }

  async function act(verb, payload) {
    const id = current;
    const slot = id + ":" + verb;
    actKeys[slot] = actKeys[slot] || randomHex(16);
    const buttons = document.querySelectorAll("#ticket button");
    for (const b of buttons) b.disabled = true;
    note("act-note", "正在提交…");
    const answer = await call("POST", "/tickets/" + id + "/" + verb, payload || undefined, { key: actKeys[slot] });
    for (const b of buttons) b.disabled = false;
    if (answer.signedOut) return;
    if (answer.network) {
      note("act-note", answer.message + " 再点一次会重试，不会重复提交。");
      return;
    }
    delete actKeys[slot];
    note("act-note", answer.message, answer.ok);
    if (current !== id) return;
    if (answer.body && answer.body.ticket) renderTicket(answer.body.ticket);
    else loadTicket(id);
    $("act-note").scrollIntoView({ block: "nearest" });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
