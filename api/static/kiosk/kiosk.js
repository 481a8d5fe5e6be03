// The kiosk page: idle QR hand-off → read-only enterprise page → back to idle.
// No build step, no framework. Secrets: the kiosk credential is typed in once by an
// administrator and kept in this browser's localStorage; access tokens live in memory only.
// Server text is always inserted with textContent, never as HTML.
"use strict";

(() => {
  const STORE_CREDENTIAL = "entpage.kiosk.credential";
  const STORE_LANG = "entpage.kiosk.lang";
  const POLL_MS = 1500;
  const TICK_MS = 250;
  const SHANGHAI = "Asia/Shanghai";

  const state = {
    lang: localStorage.getItem(STORE_LANG) === "zh-Hant" ? "zh-Hant" : "zh-Hans",
    kioskToken: null,
    kioskTokenExpiresAt: 0,
    kiosk: null,
    handoff: null,
    idleTimers: [],
    session: null, // {token, uscc, expiresAt, ttlMs, maxUntil, lastExtend}
    page: null,
    etag: null,
    liveNotices: [],
    freshIds: new Set(), // notices that arrived live during this session keep their 新 flag
    source: null,
    lastEventId: null,
    tick: null,
    reopenTimer: null,
  };

  const $ = (id) => document.getElementById(id);
  const strings = () => window.KIOSK_I18N[state.lang];
  const t = (key) => strings()[key] ?? window.KIOSK_I18N["zh-Hans"][key] ?? key;

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function show(screen) {
    for (const id of ["screen-setup", "screen-idle", "screen-session"]) {
      $(id).hidden = id !== screen;
    }
    document.body.dataset.screen = screen.replace("screen-", "");
  }

  function toast(text, ms = 5000) {
    const box = $("toast");
    box.textContent = text;
    box.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { box.hidden = true; }, ms);
  }

  // ------------------------------------------------------------------ i18n

  function applyI18n() {
    document.documentElement.lang = state.lang;
    for (const node of document.querySelectorAll("[data-i18n]")) {
      node.textContent = t(node.dataset.i18n);
    }
    $("lang-toggle").textContent = t("switch");
    if (state.page) renderPage();
  }

  $("lang-toggle").addEventListener("click", () => {
    state.lang = state.lang === "zh-Hans" ? "zh-Hant" : "zh-Hans";
    localStorage.setItem(STORE_LANG, state.lang);
    applyI18n();
  });

  // ------------------------------------------------------------------ HTTP

  async function api(method, path, { token, body, headers } = {}) {
    const init = { method, headers: { ...(headers || {}) }, cache: "no-store" };
    if (token) init.headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const resp = await fetch(path, init);
    let data = null;
    const type = resp.headers.get("content-type") || "";
    if (resp.status !== 204 && resp.status !== 304 && type.includes("json")) {
      data = await resp.json();
    }
    return { status: resp.status, data, headers: resp.headers };
  }

  // ------------------------------------------------------------------ kiosk login

  async function kioskLogin() {
    const credential = localStorage.getItem(STORE_CREDENTIAL);
    if (!credential) return false;
    const resp = await api("POST", "/v1/kiosk/login", { body: { credential } });
    if (resp.status !== 200) {
      if (resp.status === 401) localStorage.removeItem(STORE_CREDENTIAL);
      return false;
    }
    state.kioskToken = resp.data.access_token;
    state.kioskTokenExpiresAt = Date.now() + resp.data.expires_in * 1000;
    state.kiosk = resp.data.kiosk;
    $("kiosk-place").textContent = `${state.kiosk.name} · ${state.kiosk.location}`;
    return true;
  }

  async function kioskToken() {
    if (!state.kioskToken || Date.now() > state.kioskTokenExpiresAt - 60000) {
      if (!(await kioskLogin())) return null;
    }
    return state.kioskToken;
  }

  $("setup-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = $("setup-credential").value.trim();
    $("setup-error").textContent = "";
    localStorage.setItem(STORE_CREDENTIAL, value);
    if (await kioskLogin()) {
      $("setup-credential").value = "";
      startIdle();
    } else {
      $("setup-error").textContent = t("setup.invalid");
    }
  });

  // ------------------------------------------------------------------ idle: QR hand-off

  function clearIdleTimers() {
    for (const timer of state.idleTimers) clearTimeout(timer);
    state.idleTimers = [];
  }

  function later(fn, ms) {
    state.idleTimers.push(setTimeout(fn, ms));
  }

  function startIdle(messageKey) {
    clearIdleTimers();
    show("screen-idle");
    $("idle-message").textContent = messageKey ? t(messageKey) : "";
    if (messageKey) later(() => { $("idle-message").textContent = ""; }, 15000);
    newHandoff();
  }

  async function newHandoff() {
    clearIdleTimers();
    $("qr").removeAttribute("src");
    $("qr-loading").hidden = false;
    let resp;
    try {
      const token = await kioskToken();
      if (!token) { showSetup(); return; }
      resp = await api("POST", "/v1/kiosk/handoffs", { token });
    } catch (error) {
      $("idle-message").textContent = t("idle.offline");
      later(newHandoff, 3000);
      return;
    }
    if (resp.status === 401) { state.kioskToken = null; later(newHandoff, 500); return; }
    if (resp.status !== 201) { later(newHandoff, 5000); return; }
    const handoff = resp.data;
    state.handoff = { nonce: handoff.nonce, expiresAt: Date.now() + handoff.expires_in * 1000 };
    $("qr").src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(handoff.qr_svg);
    $("qr").dataset.nonce = handoff.nonce;
    $("qr-loading").hidden = true;
    updateQrCountdown();
    later(pollHandoff, POLL_MS);
  }

  function updateQrCountdown() {
    if (!state.handoff) return;
    const left = Math.max(0, Math.ceil((state.handoff.expiresAt - Date.now()) / 1000));
    $("qr-countdown").textContent = String(left);
  }

  async function pollHandoff() {
    const handoff = state.handoff;
    if (!handoff || state.session) return;
    updateQrCountdown();
    if (Date.now() >= handoff.expiresAt) { newHandoff(); return; }
    let resp;
    try {
      resp = await api("GET", `/v1/kiosk/handoffs/${encodeURIComponent(handoff.nonce)}`,
                       { token: await kioskToken() });
    } catch (error) {
      later(pollHandoff, POLL_MS * 2);
      return;
    }
    if (state.handoff !== handoff) return;
    if (resp.status === 200 && resp.data.status === "approved") {
      state.handoff = null;
      clearIdleTimers();
      startSession(resp.data);
      return;
    }
    if (resp.status === 404) { newHandoff(); return; }
    if (resp.status === 401) state.kioskToken = null;
    later(pollHandoff, POLL_MS);
  }

  // ------------------------------------------------------------------ session

  function startSession(grant) {
    const ttlMs = grant.expires_in * 1000;
    state.session = {
      token: grant.access_token,
      uscc: grant.uscc,
      ttlMs,
      expiresAt: Date.now() + ttlMs,
      maxUntil: grant.session_max_until * 1000,
      lastExtend: Date.now(),
    };
    state.page = null;
    state.etag = null;
    state.liveNotices = [];
    state.freshIds = new Set();
    state.lastEventId = null;
    $("ent-name").textContent = grant.enterprise ? grant.enterprise.name : grant.uscc;
    $("ent-uscc").textContent = grant.uscc;
    show("screen-session");
    loadPage();
    openStream();
    clearInterval(state.tick);
    state.tick = setInterval(tick, TICK_MS);
    tick();
  }

  function warnWindowMs() {
    return Math.min(30000, Math.max(3000, state.session.ttlMs / 3));
  }

  function tick() {
    const session = state.session;
    if (!session) return;
    const left = session.expiresAt - Date.now();
    $("session-countdown").textContent = String(Math.max(0, Math.ceil(left / 1000)));
    if (left <= 0) { endSession("idle.timedout"); return; }
    const overlay = $("timeout-overlay");
    if (left <= warnWindowMs()) {
      overlay.hidden = false;
      $("timeout-seconds").textContent = String(Math.max(0, Math.ceil(left / 1000)));
    } else {
      overlay.hidden = true;
    }
  }

  async function extendSession() {
    const session = state.session;
    if (!session || session.extending) return;
    if (Date.now() >= session.maxUntil - 1000) return;
    session.extending = true;
    try {
      const resp = await api("POST", "/v1/kiosk/session/extend", { token: session.token });
      if (state.session !== session) return;
      if (resp.status === 200) {
        session.token = resp.data.access_token;
        session.ttlMs = resp.data.expires_in * 1000;
        session.expiresAt = Date.now() + session.ttlMs;
        session.lastExtend = Date.now();
        openStream(); // the old token was revoked: reconnect with the new one
        tick();
      } else if (resp.status === 401) {
        endSession("idle.timedout");
      }
    } catch (error) {
      // Offline for a moment: the countdown continues; the next touch tries again.
    } finally {
      session.extending = false;
    }
  }

  function onActivity() {
    const session = state.session;
    if (!session) return;
    const sinceExtend = Date.now() - session.lastExtend;
    const left = session.expiresAt - Date.now();
    // Extending on every touch would be noise: at most every third of the session's TTL,
    // and always when the countdown is already showing.
    if (sinceExtend >= Math.min(20000, session.ttlMs / 3) || left <= warnWindowMs()) {
      extendSession();
    }
  }

  for (const type of ["pointerdown", "keydown", "wheel", "touchstart"]) {
    document.addEventListener(type, onActivity, { passive: true });
  }
  $("timeout-stay").addEventListener("click", () => extendSession());

  $("finish").addEventListener("click", () => endSession("idle.ended"));

  function endSession(messageKey) {
    const session = state.session;
    state.session = null;
    clearInterval(state.tick);
    closeStream();
    $("timeout-overlay").hidden = true;
    if (session) {
      // Best effort: the token is also short-lived, so a lost request is not a leak.
      fetch("/v1/kiosk/session/end", {
        method: "POST", keepalive: true, headers: { Authorization: `Bearer ${session.token}` },
      }).catch(() => {});
    }
    state.page = null;
    state.etag = null;
    state.liveNotices = [];
    state.freshIds = new Set();
    for (const id of ["ent-name", "ent-uscc", "badges", "facts", "tags", "notices", "pending",
                      "reminders", "policies", "notices-unread"]) {
      $(id).replaceChildren();
    }
    startIdle(messageKey);
  }

  // ------------------------------------------------------------------ page

  async function loadPage() {
    const session = state.session;
    if (!session) return;
    const headers = state.etag ? { "If-None-Match": state.etag } : {};
    let resp;
    try {
      resp = await api("GET", `/v1/enterprises/${encodeURIComponent(session.uscc)}/page`,
                       { token: session.token, headers });
    } catch (error) {
      return;
    }
    if (state.session !== session) return;
    if (resp.status === 401) { endSession("idle.timedout"); return; }
    if (resp.status === 304 || resp.status !== 200) return;
    state.page = resp.data;
    state.etag = resp.headers.get("ETag");
    // Notices that arrived live and are now part of the page need no separate entry.
    const onPage = new Set(state.page.notices.items.map((n) => n.id));
    state.liveNotices = state.liveNotices.filter((n) => !onPage.has(n.id));
    renderPage();
  }

  function formatDate(iso) {
    if (!iso) return "";
    const date = new Date(iso.length === 10 ? `${iso}T00:00:00+08:00` : iso);
    return new Intl.DateTimeFormat("zh-CN", {
      timeZone: SHANGHAI, year: "numeric", month: "2-digit", day: "2-digit",
    }).format(date);
  }

  function renderBadges(badges) {
    const box = $("badges");
    box.replaceChildren();
    for (const key of ["notices_unread", "action_required", "in_progress", "reminders_urgent",
                       "policies_open"]) {
      const tile = el("div", "badge");
      tile.dataset.badge = key;
      const value = badges[key] ?? 0;
      if (value > 0 && key !== "in_progress" && key !== "policies_open") tile.classList.add("hot");
      tile.append(el("div", "badge-value", value), el("div", "badge-label", t(`badge.${key}`)));
      box.append(tile);
    }
  }

  function fact(label, value) {
    if (value === null || value === undefined || value === "") return [];
    return [el("dt", null, label), el("dd", null, value)];
  }

  function industryText(industry) {
    const label = String(industry.label || "");
    return label.includes(industry.code) ? label : `${industry.code} ${label}`.trim();
  }

  function renderProfile(ent) {
    const capital = ent.registered_capital_yuan
      ? `${(ent.registered_capital_yuan / 10000).toLocaleString("zh-CN")} ${t("capital.wan")}` : "";
    $("facts").replaceChildren(
      ...fact(t("fact.legal"), ent.legal_representative),
      ...fact(t("fact.industry"), ent.industry ? industryText(ent.industry) : ""),
      ...fact(t("fact.zone"), t(`zone.${ent.zone}`)),
      ...fact(t("fact.size"), ent.size ? t(`size.${ent.size}`) : ""),
      ...fact(t("fact.capital"), capital),
      ...fact(t("fact.established"), formatDate(ent.established_on)),
      ...fact(t("fact.status"), t(`status.${ent.status}`)),
      ...fact(t("fact.credit"), ent.credit_level),
    );
    $("tags").replaceChildren(...(ent.tags || []).map((tag) => el("span", "tag", tag)));
  }

  function emptyItem(key) {
    return el("li", "empty", t(key));
  }

  function noticeItem(notice, isNew) {
    const li = el("li", "item notice");
    li.dataset.noticeId = String(notice.id);
    const head = el("div", "item-head");
    if (isNew) head.append(el("span", "flag new", t("notice.new")));
    if (notice.priority === "urgent") head.append(el("span", "flag urgent", t("notice.urgent")));
    if (notice.kind === "warning") head.append(el("span", "flag warning", t("notice.warning")));
    if (notice.read === false) head.append(el("span", "flag unread", t("notice.unread")));
    head.append(el("span", "item-title", notice.title));
    li.append(head);
    if (notice.excerpt) li.append(el("div", "item-body", notice.excerpt));
    const meta = [notice.department, formatDate(notice.published_at)].filter(Boolean).join(" · ");
    if (meta) li.append(el("div", "item-meta", meta));
    return li;
  }

  function renderNotices(section) {
    const list = $("notices");
    const items = [
      ...state.liveNotices.map((n) => noticeItem(n, true)),
      ...section.items.map((n) => noticeItem(n, state.freshIds.has(n.id))),
    ].slice(0, 6);
    list.replaceChildren(...(items.length ? items : [emptyItem("empty.notices")]));
    $("notices-unread").textContent = section.unread ? `${t("notice.unread")} ${section.unread}` : "";
  }

  function renderPending(pending) {
    const rows = [];
    for (const m of pending.action_required) {
      const li = el("li", "item");
      const head = el("div", "item-head");
      head.append(el("span", "flag urgent", t("pending.action")), el("span", "item-title", m.title));
      li.append(head);
      const meta = [m.progress_label, m.due_on ? `${t("policy.until")} ${formatDate(m.due_on)}` : ""];
      li.append(el("div", "item-meta", meta.filter(Boolean).join(" · ")));
      rows.push(li);
    }
    for (const m of pending.in_progress) {
      const li = el("li", "item");
      const head = el("div", "item-head");
      head.append(el("span", "flag info", m.state_label), el("span", "item-title", m.title));
      li.append(head);
      const bar = el("div", "progress");
      const fill = el("div", "progress-fill");
      fill.style.width = `${Math.max(0, Math.min(100, m.progress ?? 0))}%`;
      bar.append(fill);
      li.append(bar, el("div", "item-meta", `${t("pending.progress")} ${m.progress ?? 0}%`));
      rows.push(li);
    }
    $("pending").replaceChildren(...(rows.length ? rows : [emptyItem("empty.pending")]));
  }

  function renderReminders(reminders) {
    const rows = reminders.map((r) => {
      const li = el("li", `item reminder ${r.severity}`);
      const head = el("div", "item-head");
      const when = r.days_left < 0 ? t("reminder.overdue")
        : `${t("reminder.left")} ${r.days_left} ${t("unit.days")}`;
      head.append(el("span", `flag ${r.severity}`, when), el("span", "item-title", r.title));
      li.append(head, el("div", "item-meta", formatDate(r.due_on)));
      return li;
    });
    $("reminders").replaceChildren(...(rows.length ? rows : [emptyItem("empty.reminders")]));
  }

  function renderPolicies(section) {
    const hant = state.lang === "zh-Hant";
    const rows = (section.items || []).slice(0, 5).map((p) => {
      const li = el("li", "item policy");
      const head = el("div", "item-head");
      head.append(el("span", `flag ${p.window === "open" ? "open" : "info"}`, t(`policy.${p.window}`)),
                  el("span", "item-title", (hant && p.title_hant) || p.title));
      li.append(head);
      const summary = (hant && p.benefit_summary_hant) || p.benefit_summary;
      if (summary) li.append(el("div", "item-body", summary));
      const meta = [p.department, p.closes_on ? `${t("policy.until")} ${formatDate(p.closes_on)}` : ""];
      li.append(el("div", "item-meta", meta.filter(Boolean).join(" · ")));
      return li;
    });
    $("policies").replaceChildren(...(rows.length ? rows : [emptyItem("empty.policies")]));
  }

  function renderPage() {
    const page = state.page;
    if (!page) return;
    $("ent-name").textContent = page.enterprise.name;
    $("ent-uscc").textContent = page.enterprise.uscc;
    renderBadges(page.badges);
    renderProfile(page.enterprise);
    renderNotices(page.notices);
    renderPending(page.pending);
    renderReminders(page.reminders);
    renderPolicies(page.policies);
  }

  // ------------------------------------------------------------------ live stream

  function setLive(on) {
    $("live-state").textContent = t(on ? "live.on" : "live.off");
    $("live-state").classList.toggle("on", on);
    document.body.dataset.live = on ? "on" : "off";
  }

  function closeStream() {
    clearTimeout(state.reopenTimer);
    if (state.source) {
      state.source.close();
      state.source = null;
    }
    setLive(false);
  }

  function openStream() {
    const session = state.session;
    closeStream();
    if (!session) return;
    let url = `/v1/stream?access_token=${encodeURIComponent(session.token)}`;
    if (state.lastEventId) url += `&last_event_id=${encodeURIComponent(state.lastEventId)}`;
    const source = new EventSource(url);
    state.source = source;
    const remember = (event) => { if (event.lastEventId) state.lastEventId = event.lastEventId; };
    source.onopen = () => setLive(true);
    source.onerror = () => {
      setLive(false);
      if (source.readyState === EventSource.CLOSED && state.source === source) {
        // Refused (e.g. the token was just replaced): reopen with the current token.
        state.reopenTimer = setTimeout(openStream, 2000);
      }
    };
    source.addEventListener("notice", (event) => {
      remember(event);
      const notice = JSON.parse(event.data);
      if (!state.session || notice.uscc !== state.session.uscc) return;
      state.freshIds.add(notice.id);
      if (!state.liveNotices.some((n) => n.id === notice.id)) {
        state.liveNotices.unshift({ ...notice, read: false });
      }
      if (state.page) renderNotices(state.page.notices);
      toast(`${t("notice.arrived")}${notice.title}`);
    });
    source.addEventListener("badges", (event) => {
      remember(event);
      const data = JSON.parse(event.data);
      if (!state.page || !state.session || data.uscc !== state.session.uscc) return;
      state.page.badges = data.badges;
      renderBadges(data.badges);
      if (data.etag !== state.etag) loadPage();
    });
    source.addEventListener("resync", (event) => { remember(event); loadPage(); });
    for (const type of ["token-expired", "session-ended"]) {
      source.addEventListener(type, () => {
        source.close();
        if (state.source === source) state.source = null;
        setLive(false);
        if (type === "session-ended") endSession("idle.timedout");
      });
    }
  }

  // ------------------------------------------------------------------ start

  function showSetup() {
    show("screen-setup");
    $("setup-credential").focus();
  }

  async function boot() {
    applyI18n();
    setLive(false);
    if (!localStorage.getItem(STORE_CREDENTIAL)) { showSetup(); return; }
    try {
      if (!(await kioskLogin())) { showSetup(); return; }
    } catch (error) {
      setTimeout(boot, 3000);
      return;
    }
    startIdle();
  }

  setInterval(updateQrCountdown, 1000);
  boot();
})();
