// The notice under the header: what went wrong, and what to do about it.

import { bus } from "./bus.js";
import { $ } from "./dom.js";

/** The notice's elements. */
const el = {
  notice: $("notice"),
  noticeTitle: $("notice-title"),
  noticeText: $("notice-text"),
  noticeDismiss: $("notice-dismiss"),
};

/**
 * @param {string} title
 * @param {string} text
 * @param {"error" | "info"} [kind]
 */
export function showNotice(title, text, kind = "error") {
  el.noticeTitle.textContent = title;
  el.noticeText.textContent = text;
  el.notice.dataset.kind = kind;
  el.notice.hidden = false;
}

export function hideNotice() {
  el.notice.hidden = true;
}

/**
 * Shows a failed request that the SetAPIError listener did not.
 *
 * @param {any} err a CtiBusError
 */
export function requestFailed(err) {
  if (err.code === "api") {
    return;
  }
  if (err.code === "timeout") {
    showNotice("No answer", "The bus did not answer in time. Check the log, then try again.");
  } else {
    showNotice("Not sent", err.message);
  }
}

/**
 * Shows every SetAPIError the bus sends, and lets the user dismiss it.
 */
export function startNotices() {
  bus.on("*/Error/SetAPIError", (ev) => {
    const d = (ev.message && ev.message.data) || {};
    showNotice(d.errorType || "Error", d.msg || d.errorMessage || "The bus refused the request.");
  });

  el.noticeDismiss.addEventListener("click", hideNotice);
}
