// 一证通办 counter page: the holder's grant code (pasted, scanned, or a picture of its QR)
// -> POST /v1/services/{code}/fill with the counter's credential -> each licence's
// verdict, the filled form with provenance, the missing licences named.
// The credential stays in sessionStorage (gone when the tab closes), never in the URL.
"use strict";

const I18N = {
  zh: {
    title: "一证通办 · 窗口", credential: "窗口凭据", service: "办理事项",
    counter_id: "本窗口编号（持证人授权时选择）",
    tab_paste: "粘贴", tab_scan: "扫码", tab_upload: "上传图片", fill: "核验并填表",
    start_camera: "打开摄像头", licences: "证照核验", form: "表单",
    footer: "SealTrust · 电子证照与电子印章信任服务",
    TOTAL_PASSED: "核验通过", TOTAL_FAILED: "核验失败", INDETERMINATE: "无法确定",
    missing: "缺少证照：", filled: "已填写 {n} 项，来自 {m} 本已核验证照",
    empty: "（未填写，请人工录入）", from: "来自 {t} {l} 的 {f}",
    need_credential: "请先输入窗口凭据", need_service: "请先选择办理事项",
    no_camera: "无法打开摄像头，请粘贴或上传图片。", scanning: "正在扫描…",
    no_qr: "图片中未找到二维码", error: "请求失败",
  },
  en: {
    title: "One-licence service · Counter", credential: "Counter credential", service: "Service",
    counter_id: "This counter's id (the holder grants to it)",
    tab_paste: "Paste", tab_scan: "Scan", tab_upload: "Upload", fill: "Verify and fill",
    start_camera: "Open camera", licences: "Licences verified", form: "Form",
    footer: "SealTrust · trust service for electronic licences and seals",
    TOTAL_PASSED: "Valid", TOTAL_FAILED: "Invalid", INDETERMINATE: "Cannot decide",
    missing: "Missing licences: ", filled: "{n} fields filled from {m} verified licences",
    empty: "(not filled: enter by hand)", from: "from {t} {l}, field {f}",
    need_credential: "Enter the counter credential first", need_service: "Choose the service first",
    no_camera: "Camera unavailable: paste the code or upload a picture.", scanning: "Scanning…",
    no_qr: "No QR code found in the picture", error: "Request failed",
  },
};
let lastResult = null;

const pick = (names) => (names && (names[lang] || names.zh || names.en)) || "";

const PANES = ["paste", "scan", "upload"];
const redraw = () => { if (lastResult) render(lastResult); };

// The client id is the credential's middle part (st_<id>_<secret>): what the holder's app grants to.
function showCounterId() {
  const parts = $("credential").value.trim().split("_");
  $("counter-id").textContent = parts.length >= 3 && parts[0] === "st" ? parts[1] : "";
}

function status(text, isError) {
  $("result").classList.remove("hidden");
  $("status").textContent = text;
  $("status").classList.toggle("error", Boolean(isError));
}

function typeName(result, code) {
  const names = (result.type_names || {})[code];
  return names ? `${pick(names)} (${code})` : code;
}

function render(result) {
  lastResult = result;
  if (result.error) { status(`${result.error.code}: ${result.error.message}`, true); return; }
  const used = new Set(Object.values(result.provenance || {}).map((p) => p.licence_id).filter(Boolean));
  status(t("filled").replace("{n}", Object.keys(result.form).length).replace("{m}", used.size), false);
  const list = $("licences");
  list.replaceChildren();
  (result.licences || []).forEach((lic) => {
    const li = document.createElement("li");
    li.dataset.licence = lic.licence_id;
    li.dataset.indication = lic.indication;
    const name = document.createElement("span");
    name.textContent = `${typeName(result, lic.type)} · ${lic.licence_id}`;
    const badge = document.createElement("span");
    badge.className = "badge " + lic.indication;
    badge.textContent = t(lic.indication) + (lic.sub_indication ? ` · ${lic.sub_indication}` : "");
    li.append(name, badge);
    list.append(li);
  });
  const missing = $("missing");
  missing.classList.toggle("hidden", !(result.missing || []).length);
  missing.dataset.missing = (result.missing || []).join(",");
  missing.textContent = t("missing") + (result.missing || []).map((c) => typeName(result, c)).join(lang === "zh" ? "、" : ", ");
  const body = $("form").tBodies[0];
  body.replaceChildren();
  const fields = Object.keys(result.labels || {}).length ? Object.keys(result.labels) : Object.keys(result.form);
  fields.forEach((field) => {
    const tr = document.createElement("tr");
    tr.dataset.field = field;
    const label = document.createElement("td");
    label.className = "label";
    label.textContent = pick((result.labels || {})[field]) || field;
    const value = document.createElement("td");
    const has = Object.prototype.hasOwnProperty.call(result.form, field);
    value.className = "value" + (has ? "" : " empty");
    value.textContent = has ? String(result.form[field]) : t("empty");
    const p = (result.provenance || {})[field];
    if (has && p && p.licence_id) {
      const src = document.createElement("span");
      src.className = "source";
      src.textContent = t("from").replace("{t}", p.type).replace("{l}", p.licence_id).replace("{f}", p.field || "");
      value.append(src);
    }
    tr.append(label, value);
    body.append(tr);
  });
  $("result").scrollIntoView({ block: "start" });
}

async function fill(code) {
  const credential = $("credential").value.trim();
  const service = $("service").value.trim();
  if (!credential) { status(t("need_credential"), true); return; }
  if (!service) { status(t("need_service"), true); return; }
  sessionStorage.setItem("counter.credential", credential);
  sessionStorage.setItem("counter.service", service);
  try {
    const response = await fetch(`/v1/services/${encodeURIComponent(service)}/fill`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${credential}` },
      body: JSON.stringify({ grant: code.trim() }),
    });
    const data = await response.json();
    render(response.ok ? data : { error: data.error || { code: String(response.status), message: t("error") } });
  } catch (e) {
    status(t("error"), true);
  }
}

async function fillImage() {
  const file = $("image").files[0];
  if (!file) return;
  const text = await decodeImage(file);
  if (!text) { status(t("no_qr"), true); return; }
  $("grant").value = text;
  await fill(text);
}

async function loadServices() {
  // The service list, when the deployment serves it (GET /v1/services); typing a code works anyway.
  try {
    const response = await fetch("/v1/services");
    if (!response.ok) return;
    const data = await response.json();
    const items = Array.isArray(data) ? data : (data.items || []);
    $("services").replaceChildren(...items.map((s) => {
      const option = document.createElement("option");
      option.value = s.code;
      option.textContent = pick(s.name);
      return option;
    }));
  } catch (e) { /* offline list: typing the code is enough */ }
}

document.addEventListener("DOMContentLoaded", () => {
  startPage(PANES, redraw);
  $("credential").value = sessionStorage.getItem("counter.credential") || "";
  $("credential").addEventListener("input", showCounterId);
  showCounterId();
  $("service").value = new URLSearchParams(location.search).get("service") || sessionStorage.getItem("counter.service") || "";
  $("fill-text").addEventListener("click", () => { const c = $("grant").value; if (c.trim()) fill(c); });
  $("fill-image").addEventListener("click", fillImage);
  $("start-camera").addEventListener("click", () => startCamera(async (text) => { $("grant").value = text; await fill(text); }));
  loadServices();
});
