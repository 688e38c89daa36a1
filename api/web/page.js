// What the SealTrust pages share, loaded before each page's own script (no build step):
// the language (?lang=zh|en wins, for links and kiosks; else the browser's), the lookup of
// the page's I18N table (each page defines its own), the language switch and the tabs.
"use strict";

const wantedLang = new URLSearchParams(location.search).get("lang") || navigator.language || "zh";
let lang = wantedLang.startsWith("zh") ? "zh" : "en";

const $ = (id) => document.getElementById(id);
const t = (key) => (I18N[lang][key] !== undefined ? I18N[lang][key] : key);

// Every [data-i18n] element and the title in the current language; redraw() repaints
// what the page drew from data (a result shown before the switch).
function applyLanguage(redraw) {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  $("lang").textContent = lang === "zh" ? "EN" : "中文";
  document.title = t("title");
  redraw();
}

function showTab(name, panes) {
  document.querySelectorAll(".tabs button").forEach((b) => b.classList.toggle("active", b.dataset.tab === name));
  panes.forEach((p) => $("pane-" + p).classList.toggle("hidden", p !== name));
}

// Labels in the current language, the language button and the tab buttons wired.
function startPage(panes, redraw) {
  applyLanguage(redraw);
  $("lang").addEventListener("click", () => { lang = lang === "zh" ? "en" : "zh"; applyLanguage(redraw); });
  document.querySelectorAll(".tabs button").forEach((b) => b.addEventListener("click", () => showTab(b.dataset.tab, panes)));
}
