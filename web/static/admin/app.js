// The operator's view: signs in as an app of the apps file granted admin,
// then polls GET /api/admin/snapshot once a second and shows it.
//
// The credential lives in this module's memory only: it is read from the
// form, which is cleared at once, and sent only in the Authorization
// header, never in a URL, the page, or the browser's storage. Reloading
// the page forgets it.

import { $ } from "../page/dom.js";
import { render } from "./view.js";

/** How often the page asks for a snapshot, in milliseconds. */
const POLL_MS = 1000;

const el = {
  status: $("admin-status"),
  signOut: $("admin-signout"),
  login: $("admin-login"),
  form: /** @type {HTMLFormElement} */ ($("login-form")),
  name: /** @type {HTMLInputElement} */ ($("app-name")),
  secret: /** @type {HTMLInputElement} */ ($("app-secret")),
  jwt: /** @type {HTMLInputElement} */ ($("app-jwt")),
  view: $("admin-view"),
  notice: $("notice"),
  noticeTitle: $("notice-title"),
  noticeText: $("notice-text"),
};

/** The Authorization header's value while signed in, or "". */
let authorization = "";
/** The timer of the next poll. */
let timer = 0;
/** Bumped at each sign-in and sign-out, so that a late answer is ignored. */
let generation = 0;

/**
 * @param {"open" | "connecting" | "closed"} status
 * @param {string} text
 */
function setStatus(status, text) {
  el.status.dataset.status = status;
  el.status.textContent = text;
}

/**
 * @param {string} title
 * @param {string} text
 */
function showNotice(title, text) {
  el.noticeTitle.textContent = title;
  el.noticeText.textContent = text;
  el.notice.hidden = false;
}

/** HTTP Basic of name and secret, in UTF-8 as RFC 7617 allows. */
function basic(name, secret) {
  const bytes = new TextEncoder().encode(`${name}:${secret}`);
  return "Basic " + btoa(String.fromCharCode(...bytes));
}

/** @param {string} [why] */
function signOut(why) {
  authorization = "";
  generation++;
  clearTimeout(timer);
  el.view.hidden = true;
  el.login.hidden = false;
  el.signOut.hidden = true;
  setStatus("closed", "Signed out");
  if (why) {
    showNotice("Refused", why);
  }
}

async function poll() {
  const mine = generation;
  let resp;
  try {
    resp = await fetch("api/admin/snapshot", {
      headers: { Authorization: authorization },
      cache: "no-store",
      credentials: "omit",
    });
  } catch {
    if (mine === generation) {
      setStatus("connecting", "Unreachable; retrying…");
      timer = setTimeout(poll, POLL_MS);
    }
    return;
  }
  const body = await resp.json().catch(() => ({}));
  if (mine !== generation) {
    return;
  }
  if (resp.status === 401 || resp.status === 403) {
    signOut(body.message || `The server refused the credential (${resp.status}).`);
    return;
  }
  if (!resp.ok) {
    setStatus("connecting", `Error ${resp.status}; retrying…`);
    showNotice(body.error || `HTTP ${resp.status}`, body.message || "The server could not answer.");
    timer = setTimeout(poll, POLL_MS);
    return;
  }
  el.notice.hidden = true;
  el.login.hidden = true;
  el.view.hidden = false;
  el.signOut.hidden = false;
  setStatus("open", "Live");
  render(body);
  timer = setTimeout(poll, POLL_MS);
}

el.form.addEventListener("submit", (ev) => {
  ev.preventDefault();
  const name = el.name.value.trim();
  const jwt = el.jwt.value.trim();
  authorization = jwt ? `Bearer ${jwt}` : basic(name, el.secret.value);
  el.secret.value = "";
  el.jwt.value = "";
  generation++;
  clearTimeout(timer);
  setStatus("connecting", "Signing in…");
  poll();
});

el.signOut.addEventListener("click", () => signOut());
