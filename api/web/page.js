// What the SealTrust pages share, loaded before each page's own script (no build step):
// the language (?lang=zh|en wins, for links and kiosks; else the browser's), the lookup of
// the page's I18N table (each page defines its own), the language switch, the tabs, and
// reading a QR code from a picture or the camera.
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

// A picture's QR text, read by the service (zxing-cpp), or null.
async function decodeImage(blob) {
  const form = new FormData();
  form.append("image", blob, "qr.png");
  const response = await fetch("/v1/qr/decode-image", { method: "POST", body: form });
  if (!response.ok) return null;
  const data = await response.json();
  return data.text || null;
}

let scanTimer = null;

// The back camera in #video, scanned every 0.8 s (the browser's BarcodeDetector, else a
// frame sent to decodeImage) until a QR code is read: then the camera stops and
// onText(text) runs. Without a camera, #camera-hint says so.
async function startCamera(onText) {
  const video = $("video");
  try {
    video.srcObject = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
    await video.play();
  } catch (e) {
    $("camera-hint").textContent = t("no_camera");
    return;
  }
  $("camera-hint").textContent = t("scanning");
  const detector = "BarcodeDetector" in window ? new window.BarcodeDetector({ formats: ["qr_code"] }) : null;
  const canvas = document.createElement("canvas");
  scanTimer = setInterval(async () => {
    if (!video.videoWidth) return;
    let text = null;
    if (detector) {
      const codes = await detector.detect(video);
      text = codes.length ? codes[0].rawValue : null;
    } else {
      canvas.width = video.videoWidth; canvas.height = video.videoHeight;
      canvas.getContext("2d").drawImage(video, 0, 0);
      const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
      text = blob ? await decodeImage(blob) : null;
    }
    if (text) { stopScan(); await onText(text); }
  }, 800);
}

function stopScan() {
  if (scanTimer) clearInterval(scanTimer);
  const video = $("video");
  if (video.srcObject) video.srcObject.getTracks().forEach((track) => track.stop());
}
