// 亮证核验 page: camera scan, pasted text or uploaded image -> POST /v1/qr/verify;
// a PDF or OFD licence file -> POST /v1/verify/file (the verification report).
// No framework, no build step: it must load fast on any phone.
"use strict";

const I18N = {
  zh: {
    title: "亮证核验", tab_scan: "扫码", tab_paste: "粘贴", tab_upload: "上传图片",
    start_camera: "打开摄像头", verify: "核验", checks: "核验项",
    offline: "离线核验（仅用已下载的信任列表和状态列表）",
    footer: "SealTrust · 电子证照与电子印章信任服务",
    TOTAL_PASSED: "核验通过", TOTAL_FAILED: "核验失败", INDETERMINATE: "无法确定",
    expires_in: "剩余有效时间", expired: "已过期", seconds: "秒",
    lists_age: "信任列表 {t} 秒前更新，状态列表 {s} 秒前更新",
    no_camera: "无法打开摄像头，请粘贴或上传图片。", scanning: "正在扫描…",
    error: "请求失败", licence_id: "证照编号", type: "证照类型", issuer: "发证机关",
    holder_name: "持证人", holder_id_last4: "证件号码", valid_from: "有效期自", valid_until: "有效期至",
    kind: "码类型", licence_type: "证照类型", grant: "授权用证", presentation: "亮证码（动态）",
    document: "证照码（印在证照上）", long_term: "长期", online_status: "证照状态：在线实时查询",
    grant_to: "授权给 {v}：{f}", message: "说明",
    tab_file: "证照文件", file_hint: "PDF 或 OFD 电子证照，核验签章、证书链、时间戳和证照状态",
    signer: "签署者", format: "文件格式", signatures: "签名数",
  },
  en: {
    title: "Licence verification", tab_scan: "Scan", tab_paste: "Paste", tab_upload: "Upload",
    start_camera: "Open camera", verify: "Verify", checks: "Checks",
    offline: "Offline check (downloaded trust and status lists only)",
    footer: "SealTrust · trust service for electronic licences and seals",
    TOTAL_PASSED: "Valid", TOTAL_FAILED: "Invalid", INDETERMINATE: "Cannot decide",
    expires_in: "Expires in", expired: "Expired", seconds: "s",
    lists_age: "Trust list updated {t} s ago, status list {s} s ago",
    no_camera: "Camera unavailable: paste the text or upload a picture.", scanning: "Scanning…",
    error: "Request failed", licence_id: "Licence id", type: "Type", issuer: "Issuer",
    holder_name: "Holder", holder_id_last4: "ID number", valid_from: "Valid from", valid_until: "Valid until",
    kind: "Code", licence_type: "Licence type", grant: "Authorised use", presentation: "presentation code (live)",
    document: "document code (printed)", long_term: "no end date", online_status: "Licence status: checked live",
    grant_to: "granted to {v}: {f}", message: "Detail",
    tab_file: "Licence file", file_hint: "A PDF or OFD licence: seal, certificate chain, time-stamp and licence status are checked",
    signer: "Signed by", format: "File format", signatures: "Signatures",
  },
};
let countdownTimer = null;
let lastResult = null;

const PANES = ["scan", "paste", "upload", "file"];
const redraw = () => { if (lastResult) render(lastResult); };

// The masked claims worth showing a counter, in reading order (never the raw jti or index).
function claimRows(c) {
  if (!c) return [];
  if (c.file_report) {  // a licence file's report: what it carries, not masked claims
    return [["licence_id", c.licence_id], ["format", c.format], ["signatures", c.signatures],
            ["signer", c.signer]].filter(([, v]) => v !== null && v !== undefined && v !== "");
  }
  const rows = [
    ["holder_name", c.holder_name],
    ["holder_id_last4", c.holder_id_last4 ? "**************" + c.holder_id_last4 : null],
    ["licence_type", c.licence_type], ["licence_id", c.licence_id], ["issuer", c.issuer],
    ["valid_from", c.valid_from], ["valid_until", c.valid_until || t("long_term")],
    ["kind", t(c.kind)],
  ];
  if (c.grant) rows.push(["grant", t("grant_to").replace("{v}", c.grant.verifier_id).replace("{f}", c.grant.scope.join(", "))]);
  return rows.filter(([, v]) => v !== null && v !== undefined && v !== "");
}

function render(result) {
  lastResult = result;
  $("result").classList.remove("hidden");
  const verdict = $("verdict");
  verdict.className = "verdict " + result.indication;
  verdict.textContent = t(result.indication);
  verdict.dataset.indication = result.indication;
  $("verdict-detail").textContent = [result.sub_indication, lang === "zh" ? result.message_zh : result.message_en]
    .filter(Boolean).join(" · ");
  const claims = $("claims");
  claims.replaceChildren();
  claimRows(result.claims).forEach(([key, value]) => {
    const dt = document.createElement("dt"); dt.textContent = t(key);
    const dd = document.createElement("dd"); dd.textContent = value; dd.dataset.claim = key;
    claims.append(dt, dd);
  });
  const checks = $("checks");
  checks.replaceChildren();
  (result.checks || []).forEach((c) => {
    const li = document.createElement("li");
    li.className = c.passed ? "pass" : "fail";
    li.textContent = `${c.passed ? "✓" : "✗"} ${c.name}${c.detail ? " — " + c.detail : ""}`;
    checks.append(li);
  });
  const lists = result.lists || {};
  $("freshness").textContent = lists.status_list_age_s !== null && lists.status_list_age_s !== undefined
    ? t("lists_age").replace("{t}", Math.round(lists.trust_list_age_s)).replace("{s}", Math.round(lists.status_list_age_s))
    : (result.online ? t("online_status") : "");
  if (countdownTimer) clearInterval(countdownTimer);
  // A countdown only means something for the live presentation code (60 s), not the printed one.
  const live = result.claims && result.claims.kind === "presentation";
  const exp = live && result.expires_at ? Date.parse(result.expires_at) : NaN;
  const tick = () => {
    if (Number.isNaN(exp)) { $("countdown").textContent = ""; return; }
    const left = Math.floor((exp - Date.now()) / 1000);
    $("countdown").textContent = left > 0 ? `${t("expires_in")}: ${left} ${t("seconds")}` : t("expired");
  };
  tick();
  countdownTimer = setInterval(tick, 1000);
  $("result").scrollIntoView({ block: "start" });
}

async function post(body, isForm) {
  const offline = $("offline").checked ? "?offline=true" : "";
  const url = (isForm ? "/v1/qr/verify-image" : "/v1/qr/verify") + offline;
  const response = await fetch(url, isForm
    ? { method: "POST", body }
    : { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const data = await response.json();
  if (!response.ok) {
    render({ indication: "TOTAL_FAILED", sub_indication: data.error ? data.error.code : "FORMAT_FAILURE",
             message_zh: data.error ? data.error.message : t("error"),
             message_en: data.error ? data.error.message : t("error"), checks: [] });
    return;
  }
  render(data);
}

// The verification report of a PDF or OFD file, in the shape render() shows.
function fromReport(report) {
  const sigs = report.signatures || [];
  const checks = [];
  sigs.forEach((s) => (s.checks || []).forEach((c) => checks.push({
    name: (sigs.length > 1 ? s.field + ": " : "") + c.name,
    passed: c.indication === "TOTAL_PASSED", detail: c.detail })));
  const first = sigs.find((s) => s.licence && s.licence.id) || sigs[0] || {};
  return {
    indication: report.indication, sub_indication: report.sub_indication,
    message_zh: report.summary ? report.summary.zh : "", message_en: report.summary ? report.summary.en : "",
    checks, online: true,
    claims: { file_report: true, licence_id: first.licence ? first.licence.id : null,
              format: report.file.parser === "ofd" ? "OFD" : (report.file.parser === "none" ? "?" : "PDF"),
              signatures: String(sigs.length), signer: first.signer || null },
  };
}

async function verifyFile() {
  const file = $("licence-file").files[0];
  if (!file) return;
  const form = new FormData();
  form.append("file", file, file.name);
  const response = await fetch("/v1/verify/file", { method: "POST", body: form });
  const data = await response.json();
  if (!response.ok) {
    render({ indication: "TOTAL_FAILED", sub_indication: data.error ? data.error.code : "FORMAT_FAILURE",
             message_zh: data.error ? data.error.message : t("error"),
             message_en: data.error ? data.error.message : t("error"), checks: [] });
    return;
  }
  render(fromReport(data));
}

async function verifyText() {
  const token = $("token").value.trim();
  if (token) await post({ token }, false);
}

async function verifyImage(blob) {
  const form = new FormData();
  form.append("image", blob, "qr.png");
  await post(form, true);
}

document.addEventListener("DOMContentLoaded", () => {
  startPage(PANES, redraw);
  $("verify-text").addEventListener("click", verifyText);
  $("verify-image").addEventListener("click", () => { const f = $("image").files[0]; if (f) verifyImage(f); });
  $("start-camera").addEventListener("click", () => startCamera(async (text) => { $("token").value = text; await verifyText(); }));
  $("verify-file").addEventListener("click", verifyFile);
  const fromUrl = new URLSearchParams(location.search).get("t") || decodeURIComponent(location.hash.slice(1));
  if (fromUrl) { showTab("paste", PANES); $("token").value = fromUrl; verifyText(); }
});
