// Small helpers for building the page's elements, shared by its panels.



/** @param {string} id */
export const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/**
 * @param {string} className
 * @param {string} [text]
 */
export function span(className, text = "") {
  const s = document.createElement("span");
  s.className = className;
  s.textContent = text;
  return s;
}

/**
 * @param {string} text
 * @param {string} className
 */
export function button(text, className) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = className;
  b.textContent = text;
  return b;
}

export function initials(name) {
  const letters = name.split(/\s+/).filter(Boolean).map((w) => w[0]);
  return (letters.slice(0, 2).join("") || "?").toUpperCase();
}

/** @param {number} ms */
export function formatDuration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const pad = (n) => String(n).padStart(2, "0");
  const hms = s >= 3600 ? [Math.floor(s / 3600), Math.floor(s / 60) % 60, s % 60] : [Math.floor(s / 60), s % 60];
  return hms.map(pad).join(":");
}

/**
 * The first control of a container that is shown and enabled.
 *
 * @param {HTMLElement} root
 * @returns {HTMLElement | null}
 */
export function firstControl(root) {
  return /** @type {HTMLElement | null} */ ([...root.querySelectorAll("button, input, select")]
    .find((e) => !(/** @type {any} */ (e).disabled) && !e.closest("[hidden]")) || null);
}
