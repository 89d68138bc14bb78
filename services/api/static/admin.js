"use strict";
// The admin page: calls /api/admin/* from the same origin. Signed in either with a pasted admin
// token (kept in sessionStorage, sent as a bearer token) or, after an OIDC sign-in, with the
// API's cookie session, whose writes carry the session's CSRF token (docs/operations.md).

const TOKEN_KEY = "scoreboard-admin-token";
// Admin routes share a per-user rate limit (60/min by default) with the admin's own writes, so
// the page polls gently: pending work every 5 s, the audit tail every third time, never while hidden.
const REFRESH_MS = 5000;
const AUDIT_EVERY = 3;
const SIGNIN_MESSAGES = {
  not_admin: "Signed in, but that account does not hold the scoreboard:admin role.",
  denied: "The identity provider did not sign you in.",
  state_mismatch: "That sign-in link was not started from this browser, or was already used: sign in again.",
  refused: "The identity provider's answer could not be verified: sign in again.",
  unavailable: "The identity provider could not be reached: try again shortly.",
};
const state = { token: null, csrf: null, user: null, auditCursor: null, moderation: {}, timer: null, ticks: 0 };

const $ = (id) => document.getElementById(id);

function notify(text, kind = "ok") {
  const notice = $("notice");
  notice.textContent = text;
  notice.className = kind;
}

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || "HTTP " + status);
    this.status = status;
    this.code = body && body.code;
    this.reason = body && body.details && body.details.reason;
  }
}

async function api(method, path, body) {
  const headers = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  if (state.token) headers.authorization = "Bearer " + state.token;
  else if (state.csrf && method !== "GET") headers["x-csrf-token"] = state.csrf;
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
    cache: "no-store",
  });
  const text = await response.text();
  let parsed = null;
  try { parsed = text ? JSON.parse(text) : null; } catch (error) { parsed = null; }
  if (response.status === 401) {
    signedOut("Your sign-in has ended: sign in again.");
    throw new ApiError(401, parsed);
  }
  if (!response.ok) throw new ApiError(response.status, parsed);
  return parsed;
}

function reasonOf(input) {
  const reason = $(input).value.trim();
  if (!reason) {
    $(input).focus();
    throw new Error("Say why (the reason goes to the audit log).");
  }
  return $(input).value;
}

// Every button runs through here: one message for success or failure, never an unhandled error.
function act(what, work) {
  return work().then(
    (message) => { if (message) notify(message, "ok"); },
    (error) => { if (!(error instanceof ApiError && error.status === 401)) notify(what + ": " + error.message, "error"); },
  );
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "" : String(text);
  if (className) td.className = className;
  return td;
}

function button(label, action, handler) {
  const element = document.createElement("button");
  element.type = "button";
  element.textContent = label;
  element.dataset.action = action;
  element.addEventListener("click", handler);
  return element;
}

// A table row that names its item (data-id): `fill` tells by it whether a list changed.
function itemRow(item) {
  const row = document.createElement("tr");
  row.dataset.id = item.id;
  return row;
}

// A row's last cell: a button per verb ({label: verb}), each running `decideOn(verb)`.
function actionsCell(verbs, decideOn) {
  const actions = document.createElement("td");
  for (const [label, verb] of Object.entries(verbs)) {
    actions.append(button(label, verb, () => act(label, () => decideOn(verb))));
  }
  return actions;
}

// POST /api/admin/<things>/{id}/<verb> with the reason typed in `reasonField`, emptied once the
// server has agreed (a refusal leaves it for the admin to correct).
async function postDecision(things, id, verb, reasonField) {
  const path = "/api/admin/" + things + "/" + encodeURIComponent(id) + "/" + verb;
  await api("POST", path, { reason: reasonOf(reasonField) });
  $(reasonField).value = "";
}

function when(value) {
  if (!value) return "";
  const date = typeof value === "number" ? new Date(value) : new Date(String(value));
  return isNaN(date) ? String(value) : date.toLocaleString();
}

// ---- sign-in ---------------------------------------------------------------------------------

function claimsOf(jwt) {
  try {
    const payload = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(payload));
  } catch (error) {
    return null;
  }
}

function signedOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  Object.assign(state, { token: null, csrf: null, user: null });
  clearInterval(state.timer);
  $("console").hidden = true;
  $("sign-in").hidden = false;
  $("sign-out").hidden = true;
  $("who").textContent = "signed out";
  if (message) notify(message, "error");
}

async function signedIn(user) {
  state.user = user;
  $("who").textContent = "signed in as " + user.name + " (" + user.userId + ")";
  $("sign-in").hidden = true;
  $("sign-out").hidden = false;
  $("console").hidden = false;
  // Signing out may happen between these steps: no request of this session goes out after it.
  await loadFlags();
  if (state.user !== user) return;
  await Promise.all([detectModeration(), loadBoards()]);
  if (state.user !== user) return;
  await Promise.all([loadPending(), loadReviews(), loadAudit()]);
  if (state.user !== user) return;
  clearInterval(state.timer);
  state.timer = setInterval(() => { refresh().catch(() => {}); }, REFRESH_MS);
}

async function useToken(token) {
  state.token = token;
  try {
    await api("GET", "/api/admin/flags");  // proves the token is an admin's before keeping it
  } catch (error) {
    state.token = null;
    if (error instanceof ApiError && error.reason === "not_admin") throw new Error("that token is not an admin's");
    if (error instanceof ApiError && error.status === 401) throw new Error("that token was refused (expired or not valid)");
    throw error;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  const claims = claimsOf(token) || {};
  await signedIn({ name: claims.name || "admin", userId: claims.sub || "?" });
}

async function signOut() {
  if (state.csrf) await api("POST", "/admin/logout");
  signedOut("");
  notify("Signed out.");
}

async function start() {
  const signin = new URLSearchParams(location.search).get("signin");
  if (signin) history.replaceState(null, "", "/admin");  // the message shows once
  const session = await api("GET", "/admin/session");
  $("sso").hidden = !session.oidc;
  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (session.signedIn) {
    state.csrf = session.csrfToken;
    await signedIn(session.user);
  } else if (saved) {
    await useToken(saved).catch(() => signedOut("Your saved token no longer works: paste a fresh one."));
  } else {
    signedOut("");
  }
  if (signin) notify(SIGNIN_MESSAGES[signin] || "Sign-in failed.", "error");
}

// ---- flags -----------------------------------------------------------------------------------

function showFlags(flags) {
  $("flag-increments").checked = flags.increments;
  $("flag-realtime").checked = flags.realtime;
  $("flag-user-limit").value = flags.rate_limit_user_per_min === null ? "" : flags.rate_limit_user_per_min;
  $("flag-ip-limit").value = flags.rate_limit_ip_per_min === null ? "" : flags.rate_limit_ip_per_min;
  $("flags-version").textContent = "version " + flags.version;
}

async function loadFlags() {
  showFlags(await api("GET", "/api/admin/flags"));
}

function limitOf(input) {
  const value = $(input).value.trim();
  return value === "" ? null : Number(value);
}

async function applyFlags() {
  const body = {
    increments: $("flag-increments").checked,
    realtime: $("flag-realtime").checked,
    rate_limit_user_per_min: limitOf("flag-user-limit"),
    rate_limit_ip_per_min: limitOf("flag-ip-limit"),
    reason: reasonOf("flags-reason"),
  };
  const flags = await api("PUT", "/api/admin/flags", body);
  showFlags(flags);
  $("flags-reason").value = "";
  await loadAudit();
  return "Flags applied (version " + flags.version + "); every process follows within 2 s.";
}

// ---- moderation: adjustments, reviews, bans ------------------------------------------------

// The moderation routes may be missing on an older server: their panels then say so.
async function detectModeration() {
  const probes = { adjustments: "/api/admin/adjustments?status=pending", reviews: "/api/admin/reviews?status=open" };
  for (const [name, path] of Object.entries(probes)) {
    try {
      await api("GET", path);
      state.moderation[name] = true;
    } catch (error) {
      state.moderation[name] = !(error instanceof ApiError && (error.status === 404 || error.status === 405));
    }
  }
  state.moderation.bans = state.moderation.adjustments || state.moderation.reviews;
  for (const name of ["adjustments", "reviews", "bans"]) {
    const panel = $(name + "-panel");
    const message = panel.querySelector(".unavailable");
    panel.classList.toggle("disabled", !state.moderation[name]);
    message.hidden = state.moderation[name];
    message.textContent = "This server does not offer " + name + " yet (its /api/admin/ routes answer 404).";
  }
}

async function loadBoards() {
  const boards = await api("GET", "/api/leaderboards");
  $("adjust-board").replaceChildren(...boards.map((board) => new Option(board.title + " (" + board.id + ")", board.id)));
}

function emptyRow(columns, text) {
  const row = document.createElement("tr");
  const td = cell(text, "quiet");
  td.colSpan = columns;
  row.append(td);
  return row;
}

// Rows for `items`, or one saying there are none; returns whether the ids shown changed.
function fill(tbody, items, columns, empty, rowOf) {
  const before = [...tbody.querySelectorAll("tr[data-id]")].map((row) => row.dataset.id).join();
  tbody.replaceChildren(...(items.length ? items.map(rowOf) : [emptyRow(columns, empty)]));
  return before !== items.map((item) => String(item.id)).join();
}

function itemsOf(body) {
  return Array.isArray(body) ? body : (body && body.items) || [];
}

async function loadPending() {
  if (!state.moderation.adjustments) return false;
  const items = itemsOf(await api("GET", "/api/admin/adjustments?status=pending"));
  return fill($("pending"), items, 7, "Nothing pending.", (item) => {
    const row = itemRow(item);
    const mine = state.user && item.proposedBy === state.user.userId;
    row.append(
      cell(when(item.proposedAt)),
      cell(mine ? "you" : item.proposedBy, "id"),
      cell(item.userId, "id"),
      cell(item.board + (item.window ? " / " + item.window : "")),
      cell(item.delta > 0 ? "+" + item.delta : item.delta, "num"),
      cell(item.reason),
    );
    row.append(actionsCell({ Approve: "approve", Reject: "reject" }, (verb) => decide(item.id, verb)));
    return row;
  });
}

async function propose() {
  const body = {
    userId: $("adjust-user").value.trim(),
    board: $("adjust-board").value,
    delta: Number($("adjust-delta").value),
    reason: reasonOf("adjust-reason"),
  };
  const windowId = $("adjust-window").value.trim();
  if (windowId) body.window = windowId;
  const adjustment = await api("POST", "/api/admin/adjustments", body);
  $("adjust-reason").value = "";
  await Promise.all([loadPending(), loadAudit()]);
  return "Proposed: another admin must approve it (" + adjustment.id + ").";
}

async function decide(id, verb) {
  await postDecision("adjustments", id, verb, "review-reason");
  await Promise.all([loadPending(), loadAudit()]);
  return verb === "approve" ? "Approved and applied." : "Rejected.";
}

async function loadReviews() {
  if (!state.moderation.reviews) return false;
  const items = itemsOf(await api("GET", "/api/admin/reviews?status=open"));
  return fill($("reviews"), items, 5, "No open review.", (item) => {
    const row = itemRow(item);
    const observed = item.observed === undefined ? "" : JSON.stringify(item.observed);
    const who = item.displayName ? item.displayName + " (" + item.userId + ")" : item.userId;
    row.append(cell(when(item.openedAt)), cell(who, "id"), cell(item.rule), cell(observed));
    row.append(actionsCell({ Clear: "clear", Ban: "ban" }, (verb) => resolveReview(item.id, verb)));
    return row;
  });
}

async function resolveReview(id, verb) {
  await postDecision("reviews", id, verb, "reviews-reason");
  await Promise.all([loadReviews(), loadAudit()]);
  return verb === "ban" ? "Banned; the review is closed." : "Cleared; the user is shown again.";
}

async function banOrUnban(verb) {
  await postDecision("users", $("ban-user").value.trim(), verb, "ban-reason");
  await loadAudit();
  return verb === "ban" ? "Banned: gone from every board within 2 s." : "Unbanned: back on the boards within 2 s.";
}

// ---- audit -----------------------------------------------------------------------------------

function auditRow(item) {
  const row = itemRow(item);
  row.title = JSON.stringify({ before: item.before, after: item.after, requestId: item.requestId });
  row.append(cell(when(item.at)), cell(item.actor, "id"), cell(item.action), cell(item.target, "id"), cell(item.reason));
  return row;
}

async function loadAudit(older = false) {
  const query = "?limit=20" + (older && state.auditCursor ? "&cursor=" + encodeURIComponent(state.auditCursor) : "");
  const page = await api("GET", "/api/admin/audit" + query);
  const rows = page.items.map(auditRow);
  if (older) $("audit").append(...rows);
  else $("audit").replaceChildren(...(rows.length ? rows : [emptyRow(5, "Nothing audited yet.")]));
  state.auditCursor = page.nextCursor;
  $("audit-more").hidden = !page.nextCursor;
}

async function refresh() {
  if (!state.user || document.visibilityState === "hidden") return;
  state.ticks += 1;
  const [pendingChanged, reviewsChanged] = await Promise.all([loadPending(), loadReviews()]);
  // Another admin acted (or the clock says so): the audit tail shows it, unless older pages are open.
  const due = pendingChanged || reviewsChanged || state.ticks % AUDIT_EVERY === 0;
  if (due && $("audit").rows.length <= 20) await loadAudit();
}

// ---- wiring ----------------------------------------------------------------------------------

function onSubmit(id, what, work) {
  $(id).addEventListener("submit", (event) => {
    event.preventDefault();
    act(what, () => work(event));
  });
}

document.addEventListener("DOMContentLoaded", () => {
  onSubmit("token-form", "Sign-in", async () => {
    await useToken($("token").value.trim());
    $("token").value = "";
    return "Signed in.";
  });
  onSubmit("flags-form", "Flags", applyFlags);
  onSubmit("propose-form", "Propose", propose);
  onSubmit("ban-form", "Ban", (event) => banOrUnban(event.submitter ? event.submitter.dataset.verb : "ban"));
  $("flags-reload").addEventListener("click", () => act("Flags", async () => { await loadFlags(); }));
  $("audit-reload").addEventListener("click", () => act("Audit", () => loadAudit()));
  $("audit-more").addEventListener("click", () => act("Audit", () => loadAudit(true)));
  $("sign-out").addEventListener("click", () => act("Sign out", signOut));
  start().catch((error) => notify("The page could not start: " + error.message, "error"));
});
