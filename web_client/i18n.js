// The language mechanism: t(), the language switch, data-i18n filling, dates in the
// user's language. The strings themselves are data, one flat table per language in
// strings/<lang>.js; t(key, vars) looks a key up in the current language (falling back to
// English, then the key itself) and fills {name} placeholders from vars.

import en from "./strings/en.js";
import kk from "./strings/kk.js";
import ru from "./strings/ru.js";

const STORAGE_KEY = "qashyq.lang";
export const LANGUAGES = ["kk", "ru", "en"];
export const LANGUAGE_NAMES = { kk: "Қазақша", ru: "Русский", en: "English" };

const DICTIONARIES = { kk, ru, en };

/** The procedural roles the interface can name, in the order the clerk's form lists them. */
export const ROLE_NAMES = Object.keys(en)
  .filter((key) => key.startsWith("role."))
  .map((key) => key.slice("role.".length));

// The page's one piece of language state: the language shown and who re-renders on a switch.
const active = { language: initialLanguage(), listeners: new Set() };

function initialLanguage() {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (LANGUAGES.includes(saved)) return saved;
  } catch {
    // Storage can be disabled; fall through to the browser's language.
  }
  const nav = (navigator.language || "en").slice(0, 2).toLowerCase();
  return LANGUAGES.includes(nav) ? nav : "ru";
}

/** Whether the user picked a language at some point (remembered in localStorage). */
export function hasSavedLanguage() {
  try {
    return LANGUAGES.includes(localStorage.getItem(STORAGE_KEY));
  } catch {
    return false;
  }
}

/** The language the page is shown in now. */
export function getLanguage() {
  return active.language;
}

/** Switch the language; `remember` keeps the choice in localStorage. */
export function setLanguage(lang, remember = true) {
  if (!LANGUAGES.includes(lang)) return;
  if (remember) {
    try {
      localStorage.setItem(STORAGE_KEY, lang);
    } catch {
      // Not fatal: the choice just is not remembered.
    }
  }
  if (lang === active.language) return;
  active.language = lang;
  document.documentElement.lang = lang;
  applyI18n(document);
  for (const cb of active.listeners) cb(lang);
}

/** Call `cb(lang)` after every switch (to re-render what applyI18n cannot); returns an unsubscribe. */
export function onLanguageChange(cb) {
  active.listeners.add(cb);
  return () => active.listeners.delete(cb);
}

/** The text of `key` in the current language, with {name} placeholders filled from `vars`. */
export function t(key, vars = {}) {
  const text = DICTIONARIES[active.language][key] ?? DICTIONARIES.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
}

/** A procedural role's name; an unknown role shows as the server spells it. */
export function roleName(role) {
  const key = `role.${role}`;
  return t(key) === key ? String(role) : t(key);
}

/** An audit timeline event's name; an unknown kind shows as the server spells it. */
export function eventName(kind) {
  const key = `event.${kind}`;
  return t(key) === key ? String(kind) : t(key);
}

/** Fill elements marked with data-i18n (text), data-i18n-placeholder, -aria, -title. */
export function applyI18n(root) {
  document.documentElement.lang = active.language;
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) {
    el.placeholder = t(el.dataset.i18nPlaceholder);
  }
  for (const el of root.querySelectorAll("[data-i18n-aria]")) {
    el.setAttribute("aria-label", t(el.dataset.i18nAria));
  }
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
}

/** Turn a <select> into the language switcher. */
export function bindLanguageSelect(select, onUserChange) {
  select.replaceChildren(
    ...LANGUAGES.map((lang) => new Option(LANGUAGE_NAMES[lang], lang, false, lang === active.language)),
  );
  select.value = active.language;
  select.addEventListener("change", () => {
    setLanguage(select.value, true);
    if (onUserChange) onUserChange(select.value);
  });
  onLanguageChange((lang) => {
    select.value = lang;
  });
}

const KK_MONTHS = ["қаңтар", "ақпан", "наурыз", "сәуір", "мамыр", "маусым", "шілде", "тамыз",
  "қыркүйек", "қазан", "қараша", "желтоқсан"];

/**
 * Date and time in the user's time zone, in the current language. Kazakh is formatted by
 * hand: some browsers ship no Kazakh date data and would print "2026 M11 24".
 */
export function formatDateTime(iso, { date = true, seconds = false } = {}) {
  const when = iso instanceof Date ? iso : new Date(iso);
  if (Number.isNaN(when.getTime())) return String(iso ?? "");
  const pad = (n) => String(n).padStart(2, "0");
  const time = `${pad(when.getHours())}:${pad(when.getMinutes())}` +
    (seconds ? `:${pad(when.getSeconds())}` : "");
  if (!date) return time;
  if (active.language === "kk") {
    return `${when.getFullYear()} ж. ${when.getDate()} ${KK_MONTHS[when.getMonth()]}, ${time}`;
  }
  const locale = active.language === "ru" ? "ru-RU" : "en-GB";
  try {
    const day = new Intl.DateTimeFormat(locale, { day: "numeric", month: "long", year: "numeric" })
      .format(when);
    return `${day}, ${time}`;
  } catch {
    return `${when.toLocaleDateString()}, ${time}`;
  }
}

/** The time of day only (hh:mm, or hh:mm:ss with `seconds`). */
export function formatTime(iso, seconds = false) {
  return formatDateTime(iso, { date: false, seconds });
}
