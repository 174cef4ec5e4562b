// stockloop's inventory-health dashboard: one page, hash routes, drawn from the JSON API.
//
// Every section is a function of (route, filters) that fetches /api/... and
// returns HTML; the route and the filters live in the URL hash
// (#/risk?warehouse=W1&category=yarn), so a link reproduces the view. Charts
// are plain HTML/CSS bars and a CSS grid: a few hundred lines of our own
// instead of a 200 KB charting library, and nothing to fetch from a CDN.
// Every drawn number carries data-value with the API's number, which the
// browser test compares with the API.
"use strict";

const REFRESH_MS = 10000;
const FILTERS = ["warehouse", "category", "abc"];
const BUCKETS = ["0-30", "30-90", "90-180", "180+"];
const SEVERITIES = ["critical", "warning", "info"];
const REQUEST_STATES = ["proposed", "pending_approval", "approved"];
const view = document.getElementById("view");
const status = document.getElementById("status");
const notice = document.getElementById("notice");
const filterForm = document.getElementById("filters");
const you = document.getElementById("you");

// ---- formatting -------------------------------------------------------------

function esc(value) {
  return String(value === null || value === undefined ? "" : value).replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c],
  );
}

function money(value) {
  if (value === null || value === undefined) return "-";
  return Number(value).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

function qty(value) {
  if (value === null || value === undefined) return "-";
  return Number(value).toLocaleString("en-US", { maximumFractionDigits: 3 });
}

function pct(share) {
  return (100 * Number(share || 0)).toFixed(1) + " %";
}

function day(text) {
  return text ? String(text).slice(0, 10) : "-";
}

function when(text) {
  return text ? String(text).slice(0, 16).replace("T", " ") : "-";
}

function ageDays(since, asOf) {
  if (!since || !asOf) return null;
  return (Date.parse(asOf) - Date.parse(since)) / 86400000;
}

function bucketOf(days) {
  if (days === null) return "-";
  if (days < 30) return "0-30";
  if (days < 90) return "30-90";
  if (days < 180) return "90-180";
  return "180+";
}

// A number as the page shows it, with the API's value for tests and tooltips.
function figure(text, value, attrs) {
  const raw = value === null || value === undefined ? "" : value;
  return `<span ${attrs || ""} data-value="${esc(raw)}">${esc(text)}</span>`;
}

// ---- the URL: route and filters -------------------------------------------

function currentRoute() {
  const hash = location.hash.replace(/^#/, "") || "/overview";
  const [path, search] = hash.split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { name: parts[0] || "overview", arg: parts[1], params: new URLSearchParams(search || "") };
}

function filtersOf(params) {
  const chosen = {};
  for (const name of FILTERS) {
    if (params.get(name)) chosen[name] = params.get(name);
  }
  return chosen;
}

function query(values) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(values)) {
    if (value !== undefined && value !== null && value !== "") params.set(name, value);
  }
  const text = params.toString();
  return text ? "?" + text : "";
}

// A link to a section with the current filters, some replaced or added.
function link(section, extra) {
  return "#/" + section + query({ ...filtersOf(currentRoute().params), ...(extra || {}) });
}

function materialLink(id) {
  return "#/material/" + encodeURIComponent(id) + query(filtersOf(currentRoute().params));
}

// ---- the API ----------------------------------------------------------------

class Busy extends Error {}

async function api(path, params) {
  const response = await fetch(path + query(params || {}), { headers: { Accept: "application/json" } });
  const body = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
  if (response.status === 503) throw new Busy(body.error || "worker busy");
  if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
  return body;
}

// ---- charts: bars, stacked bars, the risk map ------------------------------

// Horizontal bars: rows of {label, value, href, attrs}, scaled to the largest.
function bars(rows, format, title) {
  const top = Math.max(...rows.map((r) => Math.abs(r.value || 0)), 0) || 1;
  const body = rows
    .map(
      (r) => `<a class="bar-row" href="${esc(r.href)}" title="${esc(r.label)}: ${esc(format(r.value))}">
      <span class="bar-label">${esc(r.label)}</span>
      <span class="bar-track"><span class="bar ${esc(r.kind || "")}" style="width:${(100 * Math.abs(r.value || 0)) / top}%"></span></span>
      ${figure(format(r.value), r.value, `class="bar-value" ${r.attrs || ""}`)}</a>`,
    )
    .join("");
  return `<section class="chart"><h3>${esc(title)}</h3>${body || '<p class="muted">nothing in these filters</p>'}</section>`;
}

// Stacked bars by age bucket: rows of {label, href, parts[4], total}.
function stacked(rows, format, title) {
  const top = Math.max(...rows.map((r) => r.total), 0) || 1;
  const legend = BUCKETS.map((b, i) => `<span class="key age-${i}"></span>${b} days`).join(" ");
  const body = rows
    .map((r) => {
      const segments = r.parts
        .map(
          (v, i) =>
            `<span class="seg age-${i}" style="width:${(100 * v) / top}%" title="${esc(BUCKETS[i])} days: ${esc(format(v))}"></span>`,
        )
        .join("");
      const cells = r.parts.map((v) => `<td class="num">${esc(format(v))}</td>`).join("");
      return `<tr><th><a href="${esc(r.href)}">${esc(r.label)}</a></th>
        <td class="stack-cell"><a class="stack" href="${esc(r.href)}">${segments}</a></td>${cells}
        <td class="num">${figure(format(r.total), r.total)}</td></tr>`;
    })
    .join("");
  return `<section class="chart wide"><h3>${esc(title)}</h3><p class="legend">${legend}</p>
    <table class="grid"><thead><tr><th></th><th></th>${BUCKETS.map((b) => `<th class="num">${b}</th>`).join("")}
    <th class="num">total</th></tr></thead><tbody>${body}</tbody></table></section>`;
}

function ageParts(report, what) {
  return report.age.map((a) => a[what]);
}

function riskMap(summary) {
  const cells = summary.risk_map;
  const warehouses = [...new Set(cells.map((c) => c.warehouse))].sort();
  const categories = [...new Set(cells.map((c) => c.category))].sort();
  if (!cells.length) return '<p class="muted">No stock in these filters.</p>';
  const top = Math.max(...cells.map((c) => c.value_at_risk), 0) || 1;
  const byKey = new Map(cells.map((c) => [c.warehouse + "\u0000" + c.category, c]));
  let html = `<div class="risk-map" style="grid-template-columns: 9em repeat(${categories.length}, minmax(7em, 13em))">`;
  html += '<div class="corner">warehouse \\ category</div>';
  html += categories.map((c) => `<div class="col-head"><a href="${esc(link("materials", { category: c }))}">${esc(c)}</a></div>`).join("");
  for (const w of warehouses) {
    html += `<div class="row-head"><a href="${esc(link("materials", { warehouse: w }))}">${esc(w)}</a></div>`;
    for (const c of categories) {
      const cell = byKey.get(w + "\u0000" + c);
      if (!cell) {
        html += '<div class="cell empty"></div>';
        continue;
      }
      const severity = cell.worst_severity || "";
      // Area proportional to value at risk: the side grows with its square root.
      const side = cell.value_at_risk > 0 ? 30 + 70 * Math.sqrt(cell.value_at_risk / top) : 0;
      html += `<a class="cell sev-${esc(severity || "none")}" href="${esc(link("materials", { warehouse: w, category: c }))}"
        data-cell data-warehouse="${esc(w)}" data-category="${esc(c)}" data-severity="${esc(severity)}"
        data-value="${esc(cell.value_at_risk)}" title="${esc(w)} / ${esc(c)}: ${esc(severity || "no open alert")}, value at risk ${esc(money(cell.value_at_risk))}">
        <span class="blob" style="width:${side}%;height:${side}%"></span>
        <span class="cell-text"><b>${esc(money(cell.value_at_risk))}</b><br>${esc(cell.stock_items)} stock item(s)</span></a>`;
    }
  }
  html += "</div>";
  const legend = SEVERITIES.map((s) => `<span class="key sev-${s}"></span>${s}`).join(" ");
  return `${html}<p class="legend">${legend} <span class="key sev-none"></span>no open alert;
    square area: value at risk; click a cell for its materials.</p>`;
}

// How a figure moved: an arrow from the 30 days before, coloured by whether that is good.
function trend(name, now, before, format, higherIsBetter) {
  if (now === null || now === undefined || before === null || before === undefined) {
    return `<span class="trend" data-trend="${esc(name)}" data-value="">no figure for the 30 days before</span>`;
  }
  const change = now - before;
  const arrow = Math.abs(change) < 1e-9 ? "=" : change > 0 ? "\u25b2" : "\u25bc";
  const good = Math.abs(change) < 1e-9 ? "" : (change > 0) === higherIsBetter ? "good" : "bad";
  return `<span class="trend ${good}" data-trend="${esc(name)}" data-value="${esc(before)}"
    title="the 30 days before: ${esc(format(before))}">${arrow} from ${esc(format(before))}</span>`;
}

function turns(value) {
  return value === null || value === undefined ? "-" : Number(value).toFixed(2);
}

function share(value) {
  return value === null || value === undefined ? "-" : pct(value);
}

// The flow figures of some stock (a summary's totals or a warehouse): turnover, fill rate,
// stock-out rate, days of supply looking back; each against the 30 days before.
function flowCards(t, href) {
  const turnover = t.turnover;
  const cards = ["30d", "90d", "365d"].map((w) =>
    kpi(`turnover_${w}`, `Turnover, ${w.replace("d", " days")}`, turns(turnover[w].turns), turnover[w].turns, href,
      `${esc(turns(turnover[w].annualised))} a year; issued ${esc(money(turnover[w].issued_value))} at cost, ` +
        `held ${esc(money(turnover[w].average_value))} on average` +
        (w === "30d" ? `<br>${trend("turnover_30d", turnover[w].turns, turnover.previous_30d.turns, turns, true)}` : "")),
  );
  cards.push(
    kpi("fill_rate", "Fill rate, 30 days", share(t.fill_rate.last_30d), t.fill_rate.last_30d, href,
      `demand value served from the shelf<br>${trend("fill_rate", t.fill_rate.last_30d, t.fill_rate.previous_30d, share, true)}`),
    kpi("stockout_rate", "Stock-out rate, 30 days", share(t.stockout_rate.last_30d), t.stockout_rate.last_30d, href,
      `${esc(t.stockout_rate.out_days)} of ${esc(t.stockout_rate.stock_days)} stock-days out<br>` +
        trend("stockout_rate", t.stockout_rate.last_30d, t.stockout_rate.previous_30d, share, false)),
  );
  return cards;
}

// ---- sections ---------------------------------------------------------------

function kpi(name, label, text, value, href, note) {
  return `<a class="kpi" href="${esc(href)}"><span class="kpi-label">${esc(label)}</span>
    ${figure(text, value, `class="kpi-value" data-kpi="${esc(name)}"`)}
    <span class="kpi-note">${note || ""}</span></a>`;
}

async function overview(route) {
  const filters = filtersOf(route.params);
  const summary = await api("/api/summary", filters);
  const t = summary.totals;
  const alerts = t.open_alerts;
  const requests = t.requests;
  const cards = [
    kpi("value_on_hand", "Inventory value", money(t.value_on_hand), t.value_on_hand, link("materials")),
    kpi("quantity_on_hand", "Quantity on hand", qty(t.quantity_on_hand), t.quantity_on_hand, link("materials")),
    kpi("stock_items", "Stock items", t.stock_items, t.stock_items, link("materials"), "material x warehouse"),
    kpi("dead_stock_value", "Dead stock", money(t.dead_stock.value), t.dead_stock.value, link("age"),
      `${esc(pct(t.dead_stock.share))} of value, ${esc(t.dead_stock.items)} item(s)`),
    kpi("days_of_supply", "Days of supply", t.days_of_supply === null ? "-" : qty(t.days_of_supply),
      t.days_of_supply, link("capital"),
      `value over a day's forecast demand; looking back, ${esc(qty(t.supply_days.last_30d))} days<br>` +
        trend("supply_days", t.supply_days.last_30d, t.supply_days.previous_30d, qty, false)),
    kpi("value_at_risk", "Value at risk", money(t.value_at_risk), t.value_at_risk, link("alerts")),
  ];
  const severityCards = SEVERITIES.map((s) =>
    kpi(`alerts_${s}`, `Open ${s} alerts`, alerts[s], alerts[s], link("materials", { severity: s }),
      `<span class="key sev-${s}"></span>`),
  );
  const requestCards = REQUEST_STATES.map((s) =>
    kpi(`requests_${s}`, `Requests ${s.replace("_", " ")}`, requests[s], requests[s], link("requests", { status: s })),
  );
  const ageRows = t.age.map((a, i) => ({
    label: a.bucket + " days",
    value: a.value,
    href: link("age"),
    kind: `age-${i}`,
    attrs: `data-age-bucket="${esc(a.bucket)}"`,
  }));
  const byWarehouse = summary.by_warehouse.map((w) => ({
    label: w.warehouse,
    value: w.value_on_hand,
    href: link("materials", { warehouse: w.warehouse }),
  }));
  const byCategory = [...summary.by_category]
    .sort((a, b) => b.value_on_hand - a.value_on_hand)
    .map((c) => ({ label: c.category, value: c.value_on_hand, href: link("materials", { category: c.category }) }));
  const atRisk = summary.by_warehouse.map((w) => ({
    label: w.warehouse,
    value: w.value_at_risk,
    href: link("alerts", { warehouse: w.warehouse }),
    kind: "risk",
  }));
  return `<h2>Overview</h2>
    <div class="kpis">${cards.join("")}</div>
    <div class="kpis flow">${flowCards(t, link("materials")).join("")}</div>
    <div class="kpis">${severityCards.join("")}${requestCards.join("")}
      ${kpi("requested_amount", "Requested amount", money(requests.amount), requests.amount, link("requests"))}</div>
    <div class="charts">${bars(ageRows, money, "Value by age (days since receipt)")}
      ${bars(byWarehouse, money, "Value by warehouse")}
      ${bars(byCategory, money, "Value by category")}
      ${bars(atRisk, money, "Value at risk by warehouse")}</div>
    <p class="muted small">Turnover: issues at FIFO cost over the average value on hand at each day's close
      (a year: 365 x issued over value-days). Fill rate: issued value over issued plus the value the shelf
      lacked. Stock-out rate: stock-days with a short issue or closed empty while demand was expected.
      Arrows compare with the 30 days before; all over closed days, in event time.</p>`;
}

async function age(route) {
  const summary = await api("/api/summary", filtersOf(route.params));
  const rows = (groups, dimension, what) =>
    groups.map((g) => ({
      label: g[dimension],
      href: link("materials", { [dimension]: g[dimension] }),
      parts: ageParts(g, what),
      total: what === "value" ? g.value_on_hand : ageParts(g, what).reduce((a, b) => a + b, 0),
    }));
  return `<h2>Age</h2>
    <p class="muted small">From the FIFO batches on the shelf, measured at each material's own event time.</p>
    <div class="charts">
    ${stacked(rows(summary.by_category, "category", "value"), money, "Value by category")}
    ${stacked(rows(summary.by_warehouse, "warehouse", "value"), money, "Value by warehouse")}
    ${stacked(rows(summary.by_category, "category", "quantity"), qty, "Quantity by category")}
    ${stacked(rows(summary.by_warehouse, "warehouse", "quantity"), qty, "Quantity by warehouse")}</div>`;
}

async function risk(route) {
  const summary = await api("/api/summary", filtersOf(route.params));
  return `<h2>Risk map</h2><p class="muted small">Warehouses x categories: colour is the worst open
    alert, the square's area the value at risk.</p>${riskMap(summary)}`;
}

async function capital(route) {
  const summary = await api("/api/summary", filtersOf(route.params));
  const rows = (groups, dimension) =>
    [...groups]
      .sort((a, b) => b.value_on_hand - a.value_on_hand)
      .map((g) => ({
        label: g[dimension] === "-" ? "(none)" : g[dimension],
        value: g.value_on_hand,
        href: link("materials", { [dimension]: g[dimension] }),
      }));
  const dead = [...summary.by_category]
    .filter((g) => g.dead_stock.value > 0)
    .sort((a, b) => b.dead_stock.value - a.dead_stock.value)
    .map((g) => ({ label: g.category, value: g.dead_stock.value, href: link("materials", { category: g.category }), kind: "dead" }));
  const ages = summary.totals.age.map((a, i) => ({ label: a.bucket + " days", value: a.value, href: link("age"), kind: `age-${i}` }));
  return `<h2>Capital tied up</h2><div class="charts">
    ${bars(rows(summary.by_category, "category"), money, "Value by category")}
    ${bars(ages, money, "Value by age bucket")}
    ${bars(rows(summary.by_abc, "abc"), money, "Value by ABC class")}
    ${bars(dead, money, "Dead stock by category (not issued for 90 days)")}
    ${bars(rows(summary.by_warehouse, "warehouse"), money, "Value by warehouse")}</div>`;
}

function pager(section, page, pages, extra) {
  if (pages <= 1) return "";
  const to = (n) => esc(link(section, { ...extra, page: n }));
  return `<p class="pager">${page > 1 ? `<a href="${to(page - 1)}">previous</a>` : ""}
    page ${page} of ${pages} ${page < pages ? `<a href="${to(page + 1)}">next</a>` : ""}</p>`;
}

function filterNote(route, extra) {
  const chosen = { ...filtersOf(route.params), ...extra };
  const words = Object.entries(chosen).map(([k, v]) => `${k} ${v}`);
  return words.length ? `<p class="muted">Filtered by ${esc(words.join(", "))}.</p>` : "";
}

async function materials(route) {
  const severity = route.params.get("severity") || "";
  const page = Number(route.params.get("page") || 1);
  const list = await api("/api/materials", { ...filtersOf(route.params), severity, page, per_page: 50 });
  const rows = list.items
    .map(
      (m) => `<tr data-material-row="${esc(m.material_id)}">
      <td><a href="${esc(materialLink(m.material_id))}">${esc(m.material_id)}</a></td><td>${esc(m.name)}</td>
      <td>${esc(m.category)}</td><td>${esc(m.abc_class)}</td><td>${esc(m.warehouses.join(", "))}</td>
      <td class="num">${esc(money(m.value_on_hand))}</td><td class="num">${esc(qty(m.quantity_on_hand))}</td>
      <td class="num">${esc(money(m.value_at_risk))}</td>
      <td>${m.worst_severity ? `<span class="key sev-${esc(m.worst_severity)}"></span>${esc(m.worst_severity)}` : ""}</td>
      <td class="num">${esc(money(m.dead_stock.value))}</td>
      <td class="num">${esc(m.days_of_supply === null ? "-" : qty(m.days_of_supply))}</td></tr>`,
    )
    .join("");
  return `<h2>Materials</h2>${filterNote(route, severity ? { severity } : {})}
    <p class="muted small">${esc(list.total)} material(s), highest value at risk first.</p>
    <table class="grid list"><thead><tr><th>material</th><th>name</th><th>category</th><th>ABC</th>
    <th>warehouses</th><th class="num">value</th><th class="num">quantity</th><th class="num">value at risk</th>
    <th>worst alert</th><th class="num">dead stock</th><th class="num">days of supply</th></tr></thead>
    <tbody>${rows}</tbody></table>${pager("materials", page, list.pages, severity ? { severity } : {})}`;
}

function alertValues(values) {
  return Object.entries(values || {})
    .filter(([name]) => name !== "value_at_risk")
    .map(([name, v]) => `${esc(name.replace(/_/g, " "))} <b>${esc(v === null ? "-" : qty(Math.round(v * 1000) / 1000))}</b>`)
    .join(", ");
}

function alertRow(a, withMaterial) {
  const state = [a.silenced ? "silenced" : "", a.inhibited ? "inhibited" : ""].filter(Boolean).join(", ");
  const acked = a.acknowledged_by
    ? `<span class="acked" data-acknowledged-by="${esc(a.acknowledged_by)}">ack ${esc(a.acknowledged_by)}</span>`
    : `<button type="button" data-action="acknowledge">Acknowledge</button>`;
  const silence = a.silenced ? "" : `<button type="button" data-action="silence">Silence</button>`;
  return `<tr data-alert-key="${esc(a.key)}" data-material="${esc(a.material_id)}">
    <td><span class="key sev-${esc(a.severity)}"></span>${esc(a.severity)}</td>
    ${withMaterial ? `<td><a href="${esc(materialLink(a.material_id))}">${esc(a.material_id)}</a><br><span class="muted small">${esc(a.name || "")}</span></td>` : ""}
    <td>${esc(a.warehouse_id)}</td><td>${esc(a.rule_id)}</td>
    <td class="num">${figure(money(a.value_at_risk), a.value_at_risk)}</td>
    <td class="why">${alertValues(a.values)}</td><td>${esc(when(a.active_since))}</td>
    <td>${esc(state)}</td><td class="actions">${acked} ${silence}</td></tr>`;
}

function alertTable(rows, withMaterial) {
  return `<table class="grid list alerts"><thead><tr><th>severity</th>${withMaterial ? "<th>material</th>" : ""}
    <th>warehouse</th><th>rule</th><th class="num">value at risk</th><th>why (the numbers that made it fire)</th>
    <th>since</th><th>muted</th><th></th></tr></thead><tbody>${rows.map((a) => alertRow(a, withMaterial)).join("")}</tbody></table>`;
}

async function alerts(route) {
  const severity = route.params.get("severity") || "";
  const page = Number(route.params.get("page") || 1);
  const list = await api("/api/alerts", { ...filtersOf(route.params), severity, page, per_page: 50 });
  const choices = ["", ...SEVERITIES]
    .map((s) => `<a class="chip ${s === severity ? "on" : ""}" href="${esc(link("alerts", { severity: s }))}">${s || "all"}</a>`)
    .join(" ");
  return `<h2>Open alerts</h2><p>${choices}</p>
    <p class="muted small">${esc(list.total)} open alert(s), highest value at risk first. Acknowledging stops
    repeats until the severity changes; a silence mutes this alert (material, warehouse, rule) for the chosen time.</p>
    ${alertTable(list.items, true)}${pager("alerts", page, list.pages, severity ? { severity } : {})}`;
}

async function requestsSection(route) {
  const wanted = route.params.get("status") || "";
  const page = Number(route.params.get("page") || 1);
  const list = await api("/api/requests", { ...filtersOf(route.params), status: wanted, page, per_page: 50 });
  const choices = ["", ...REQUEST_STATES]
    .map((s) => `<a class="chip ${s === wanted ? "on" : ""}" href="${esc(link("requests", { status: s }))}">${s ? `${s.replace("_", " ")} (${list.by_status[s] || 0})` : "all"}</a>`)
    .join(" ");
  const rows = list.items
    .map(
      (r) => `<tr><td>${esc(r.status.replace("_", " "))}</td><td><a href="${esc(materialLink(r.material_id))}">${esc(r.material_id)}</a></td>
      <td>${esc(r.warehouse_id)}</td><td class="num">${esc(qty(r.quantity))}</td><td class="num">${esc(money(r.amount))}</td>
      <td>${esc(day(r.needed_by))}</td><td>${esc(r.approver || "")}</td><td class="why">${esc(r.explanation)}</td></tr>`,
    )
    .join("");
  return `<h2>Open purchase requests</h2><p>${choices}</p>
    <table class="grid list"><thead><tr><th>state</th><th>material</th><th>warehouse</th><th class="num">quantity</th>
    <th class="num">amount</th><th>needed by</th><th>approver</th><th>why</th></tr></thead><tbody>${rows}</tbody></table>
    ${pager("requests", page, list.pages, wanted ? { status: wanted } : {})}`;
}

// ---- one material -----------------------------------------------------------

const POLICY = [
  ["safety_stock", "safety stock (SS)", qty],
  ["reorder_point", "reorder point (ROP)", qty],
  ["order_up_to", "order-up-to", qty],
  ["lead_time_days", "lead time, days", qty],
  ["sigma_lead_time_days", "lead time sigma, days", qty],
  ["daily_demand", "forecast demand / day", qty],
  ["sigma_daily_demand", "forecast error sigma / day", qty],
  ["sigma_lead_time_demand", "demand sigma over lead time", qty],
  ["service_level", "service level", (v) => pct(v)],
  ["z", "z", qty],
  ["days_of_cover", "days of cover", qty],
];

// On hand and available against SS, ROP and order-up-to on one scale.
function position(stock, policy) {
  const marks = [
    ["SS", policy.safety_stock],
    ["ROP", policy.reorder_point],
    ["order-up-to", policy.order_up_to],
  ];
  const top = Math.max(stock.on_hand, stock.available, ...marks.map((m) => m[1]), 1);
  const at = (v) => Math.max(0, Math.min(100, (100 * v) / top));
  return `<div class="position" title="on hand ${esc(qty(stock.on_hand))}, available ${esc(qty(stock.available))}">
    <span class="pos-bar" style="width:${at(stock.on_hand)}%"></span>
    <span class="pos-available" style="width:${at(stock.available)}%"></span>
    ${marks.map(([name, v], i) => `<span class="mark" style="left:${at(v)}%"><span style="bottom:calc(100% + ${1.2 * i}em)">${esc(name)} ${esc(qty(v))}</span></span>`).join("")}
  </div><p class="legend"><span class="key pos-on-hand"></span>on hand <span class="key pos-avail"></span>available (on hand - committed)</p>`;
}

// ---- a stock's charts: inline SVG, one day per step ---------------------------

const CHART_W = 720;
const CHART_H = 190;
const LEFT = 64;
const BOTTOM = 22;

function scale(lo, hi, days) {
  const span = hi - lo || 1;
  const step = (CHART_W - LEFT - 8) / Math.max(days, 1);
  return {
    step,
    x: (i) => LEFT + (i + 0.5) * step,
    y: (v) => 8 + (CHART_H - BOTTOM - 8) * (1 - (v - lo) / span),
  };
}

function axes(s, lo, hi, days, first) {
  const label = (i) => day(new Date(Date.parse(first) + i * 86400000).toISOString());
  const ticks = [0, Math.floor(days / 2), days - 1].filter((i, n, all) => i >= 0 && all.indexOf(i) === n);
  return `<line class="axis" x1="${LEFT}" x2="${CHART_W - 8}" y1="${s.y(lo)}" y2="${s.y(lo)}"></line>
    <text class="tick" x="${LEFT - 4}" y="${s.y(hi) + 4}" text-anchor="end">${esc(qty(Math.round(hi * 10) / 10))}</text>
    <text class="tick" x="${LEFT - 4}" y="${s.y(lo) + 4}" text-anchor="end">${esc(qty(Math.round(lo * 10) / 10))}</text>
    ${ticks
      .map((i, n) => {
        const anchor = n === 0 ? "start" : i === days - 1 ? "end" : "middle";
        return `<text class="tick" x="${s.x(i)}" y="${CHART_H - 6}" text-anchor="${anchor}">${esc(label(i))}</text>`;
      })
      .join("")}`;
}

// Demand per day (bars; today's still open) and the forecast ahead with its one-sigma band.
function demandSvg(chart) {
  const history = chart.history;
  const ahead = chart.ahead;
  const days = history.length + ahead.length;
  const hi = Math.max(1, ...history.map((d) => d.demand), ...ahead.map((d) => d.high));
  const s = scale(0, hi, days);
  const width = Math.max(1, s.step - 1);
  const bars = history
    .map((d, i) => `<rect class="demand${d.open ? " open" : ""}" x="${s.x(i) - width / 2}" y="${s.y(d.demand)}"
      width="${width}" height="${s.y(0) - s.y(d.demand)}" data-demand-day="${esc(d.day)}" data-value="${esc(d.demand)}">
      <title>${esc(d.day)}: ${esc(qty(d.demand))}${d.open ? " so far" : ""}</title></rect>`)
    .join("");
  const at = (i) => s.x(history.length + i);
  const band = ahead.length
    ? `<polygon class="band" points="${ahead.map((d, i) => `${at(i)},${s.y(d.high)}`).join(" ")} ${ahead
        .map((d, i) => `${at(i)},${s.y(d.low)}`)
        .reverse()
        .join(" ")}"></polygon>`
    : "";
  const line = `<polyline class="forecast" points="${ahead.map((d, i) => `${at(i)},${s.y(d.forecast)}`).join(" ")}"></polyline>`;
  const first = history.length ? history[0].day : chart.as_of;
  return `<svg class="chart-svg" viewBox="0 0 ${CHART_W} ${CHART_H}" role="img" data-chart="demand"
    aria-label="demand per day and forecast">${axes(s, 0, hi, days, first)}${band}${bars}${line}</svg>
    <p class="legend"><span class="key demand"></span>demand per day (last ${esc(history.length)} days, today so far)
    <span class="key forecast"></span>forecast <span class="key band"></span>one sigma of its daily error (${esc(qty(chart.sigma_daily_demand))})</p>`;
}

// Stock on hand projected day by day against safety stock and reorder point.
function projectionSvg(chart) {
  const ahead = chart.ahead;
  if (!ahead.length) return "";
  const marks = [
    ["ss", "SS", chart.safety_stock],
    ["rop", "ROP", chart.reorder_point],
  ].filter((m) => m[2] !== null && m[2] !== undefined);
  const values = ahead.map((d) => d.stock);
  const lo = Math.min(0, ...values);
  const hi = Math.max(1, ...values, ...marks.map((m) => m[2]));
  const s = scale(lo, hi, ahead.length);
  const lines = marks
    .map(([kind, name, v], n) => `<line class="mark-${kind}" x1="${LEFT}" x2="${CHART_W - 8}" y1="${s.y(v)}" y2="${s.y(v)}"></line>
      <text class="tick" x="${n ? CHART_W - 10 : LEFT + 4}" y="${s.y(v) - 3}" text-anchor="${n ? "end" : "start"}">${esc(name)} ${esc(qty(v))}</text>`)
    .join("");
  const zero = lo < 0 ? `<line class="zero" x1="${LEFT}" x2="${CHART_W - 8}" y1="${s.y(0)}" y2="${s.y(0)}"></line>` : "";
  const points = ahead
    .map((d, i) => `<circle class="stock-point" cx="${s.x(i)}" cy="${s.y(d.stock)}" r="2" data-stock-day="${esc(d.day)}"
      data-value="${esc(d.stock)}"><title>${esc(d.day)}: ${esc(qty(d.stock))}</title></circle>`)
    .join("");
  const line = `<polyline class="projected" points="${ahead.map((d, i) => `${s.x(i)},${s.y(d.stock)}`).join(" ")}"></polyline>`;
  return `<svg class="chart-svg" viewBox="0 0 ${CHART_W} ${CHART_H}" role="img" data-chart="projection"
    aria-label="projected stock">${axes(s, lo, hi, ahead.length, ahead[0].day)}${zero}${lines}${line}${points}</svg>
    <p class="legend"><span class="key projected"></span>projected on hand at each day's close (forecast or orders due,
    whichever is larger, less; supply at its ETA, more)${chart.projected_stockout_date ? `; out on <b>${esc(day(chart.projected_stockout_date))}</b>` : "; no stock-out in the horizon"}</p>`;
}

function flowTable(h) {
  if (!h || !h.turnover) return "";
  const row = (label, now, before, format) =>
    `<tr><th>${esc(label)}</th><td class="num">${esc(format(now))}</td><td class="num">${esc(format(before))}</td></tr>`;
  return `<table class="grid kv flow-table"><thead><tr><th></th><th class="num">last 30 days</th>
    <th class="num">the 30 before</th></tr></thead><tbody>
    ${row("turnover", h.turnover["30d"].turns, h.turnover.previous_30d.turns, turns)}
    ${row("fill rate", h.fill_rate.last_30d, h.fill_rate.previous_30d, share)}
    ${row("stock-out rate", h.stockout_rate.last_30d, h.stockout_rate.previous_30d, share)}
    ${row("days of supply (looking back)", h.supply_days.last_30d, h.supply_days.previous_30d, qty)}
    <tr><th>turnover, 90 / 365 days</th><td class="num" colspan="2">${esc(turns(h.turnover["90d"].turns))} /
      ${esc(turns(h.turnover["365d"].turns))} (${esc(turns(h.turnover["365d"].annualised))} a year)</td></tr>
    </tbody></table>`;
}

function warehouseBlock(id, stock, asOf, health, chart) {
  const p = stock.policy;
  const policy = p
    ? `<table class="grid kv">${POLICY.map(
        ([name, label, format]) =>
          `<tr><th>${esc(label)}</th><td class="num">${figure(p[name] === null || p[name] === undefined ? "-" : format(p[name]), p[name], `data-policy="${esc(name)}" data-warehouse="${esc(id)}"`)}</td></tr>`,
      ).join("")}
      <tr><th>demand class / method</th><td>${esc(p.demand_class)} / ${esc(p.forecast_method)}</td></tr>
      <tr><th>supplier</th><td>${esc(p.supplier_id || "-")}</td></tr>
      <tr><th>projected stock-out</th><td>${esc(p.projected_stockout_date ? day(p.projected_stockout_date) : "none in the horizon")}</td></tr>
      <tr><th>as of</th><td>${esc(day(p.as_of))}</td></tr></table>${position(stock, p)}`
    : '<p class="muted">No policy yet (it is planned at the first day boundary).</p>';
  const batches = stock.batches
    .map((b) => {
      const days = ageDays(b.received_at, asOf);
      return `<tr><td>${esc(b.batch_id || "-")}</td><td>${esc(day(b.received_at))}</td>
        <td class="num">${esc(days === null ? "-" : Math.floor(days))}</td><td>${esc(bucketOf(days))}</td>
        <td class="num">${esc(qty(b.quantity))}</td><td class="num">${esc(money(b.unit_cost))}</td>
        <td class="num">${esc(money(b.quantity * b.unit_cost))}</td></tr>`;
    })
    .join("");
  const supply = Object.entries(stock.supply_lines || {})
    .map(([key, l]) => `<tr><td>${esc(key)}</td><td>${esc(l.supplier_id)}</td><td class="num">${esc(qty(l.quantity - l.received_quantity))}</td><td>${esc(day(l.eta))}</td></tr>`)
    .join("");
  const forecaster = stock.demand && stock.demand.forecaster;
  const error = forecaster && forecaster.error;
  const openDays = Object.entries((stock.demand && stock.demand.open_days) || {})
    .sort()
    .map(([d, q]) => `${esc(d)}: <b>${esc(qty(q))}</b>`)
    .join(", ");
  const band = p ? `${qty(p.daily_demand)} +/- ${qty(p.sigma_daily_demand)} per day` : "-";
  const mae = error && error.n ? qty(error.sum_abs / error.n) : "-";
  const bias = error && error.n ? qty(error.sum_err / error.n) : "-";
  return `<section class="warehouse" data-stock="${esc(id)}"><h3>Warehouse ${esc(id)}</h3>
    <div class="columns"><div>
    <table class="grid kv">
      <tr><th>on hand</th><td class="num">${figure(qty(stock.on_hand), stock.on_hand)}</td></tr>
      <tr><th>committed (open orders)</th><td class="num">${esc(qty(stock.committed))}</td></tr>
      <tr><th>in transit</th><td class="num">${esc(qty(stock.in_transit))}</td></tr>
      <tr><th>available</th><td class="num">${esc(qty(stock.available))}</td></tr>
      <tr><th>value on hand</th><td class="num">${esc(money(stock.inventory_value))}</td></tr>
      <tr><th>dead stock</th><td class="num">${esc(health ? money(health.dead_stock.value) : "-")}</td></tr>
      <tr><th>value at risk</th><td class="num">${esc(health ? money(health.value_at_risk) : "-")}</td></tr>
      <tr><th>last issue / receipt</th><td>${esc(day(stock.last_issue_at))} / ${esc(day(stock.last_receipt_at))}</td></tr>
    </table>
    <h4>Demand</h4><table class="grid kv">
      <tr><th>forecast (band: one sigma)</th><td>${esc(band)}</td></tr>
      <tr><th>one-step error: days, MAE, bias</th><td>${esc(error ? error.n : 0)}, ${esc(mae)}, ${esc(bias)}</td></tr>
      <tr><th>days still open</th><td>${openDays || "-"}</td></tr>
      <tr><th>late demand</th><td>${esc(qty(stock.demand ? stock.demand.late_quantity : 0))}</td></tr>
    </table></div>
    <div><h4>Policy</h4>${policy}<h4>Flow</h4>${flowTable(health)}</div></div>
    ${chart ? `<h4>Demand: history and forecast</h4>${demandSvg(chart)}<h4>Projected stock</h4>${projectionSvg(chart)}` : ""}
    <h4>Batches on the shelf (FIFO)</h4><table class="grid list"><thead><tr><th>batch</th><th>received</th>
      <th class="num">age, days</th><th>bucket</th><th class="num">quantity</th><th class="num">unit cost</th>
      <th class="num">value</th></tr></thead><tbody>${batches || '<tr><td colspan="7" class="muted">none</td></tr>'}</tbody></table>
    ${supply ? `<h4>In transit</h4><table class="grid list"><thead><tr><th>line</th><th>supplier</th><th class="num">open</th><th>ETA</th></tr></thead><tbody>${supply}</tbody></table>` : ""}
  </section>`;
}

// The last alerts that closed, newest first (the full story is on stockloop.alerts).
function closedAlerts(rows) {
  if (!rows.length) return '<p class="muted">none closed lately</p>';
  const body = rows
    .map((c) => `<tr data-closed-alert="${esc(c.rule_id)}"><td><span class="key sev-${esc(c.severity)}"></span>${esc(c.severity)}</td>
      <td>${esc(c.warehouse_id)}</td><td>${esc(c.rule_id)}</td><td>${esc(when(c.raised_at))}</td><td>${esc(when(c.resolved_at))}</td>
      <td>${esc(c.reason.replace(/_/g, " "))}</td><td class="num">${esc(c.value_at_risk === undefined || c.value_at_risk === null ? "-" : money(c.value_at_risk))}</td></tr>`)
    .join("");
  return `<table class="grid list"><thead><tr><th>severity</th><th>warehouse</th><th>rule</th><th>raised</th>
    <th>resolved</th><th>why resolved</th><th class="num">value at risk</th></tr></thead><tbody>${body}</tbody></table>`;
}

async function material(route) {
  const m = await api("/api/materials/" + encodeURIComponent(route.arg));
  const state = m.state;
  const h = m.health;
  const stocks = Object.entries(state.warehouses)
    .sort()
    .map(([id, stock]) => warehouseBlock(id, stock, m.as_of, m.warehouses[id], (m.charts || {})[id]))
    .join("");
  const requests = m.requests
    .map((r) => `<tr><td>${esc(r.status.replace("_", " "))}</td><td>${esc(r.warehouse_id)}</td><td class="num">${esc(qty(r.quantity))}</td>
      <td class="num">${esc(money(r.amount))}</td><td>${esc(day(r.needed_by))}</td><td class="why">${esc(r.explanation)}</td></tr>`)
    .join("");
  const leadTimes = Object.entries(state.lead_times || {})
    .map(([supplier, lt]) => `${esc(supplier)}: ${esc(lt.count)} receipt(s), mean ${esc(qty(lt.mean))} days`)
    .join("; ");
  return `<p><a href="${esc(link("materials"))}">&larr; materials</a></p>
    <h2>${esc(m.material_id)} <span class="muted">${esc(m.name || "")}</span></h2>
    <p>category <b>${esc(m.category)}</b>, ABC <b>${esc(m.abc_class)}</b>, as of ${esc(when(m.as_of))};
      value ${figure(money(h.value_on_hand), h.value_on_hand, 'data-material-kpi="value_on_hand"')},
      value at risk <b>${esc(money(h.value_at_risk))}</b>${leadTimes ? `; lead times: ${leadTimes}` : ""}</p>
    <h3>Open alerts</h3>${m.alerts.length ? alertTable(m.alerts, false) : '<p class="muted">none</p>'}
    <h3>Alert history</h3>${closedAlerts(m.closed_alerts || [])}
    <h3>Open purchase requests</h3>${requests ? `<table class="grid list"><thead><tr><th>state</th><th>warehouse</th>
      <th class="num">quantity</th><th class="num">amount</th><th>needed by</th><th>why</th></tr></thead><tbody>${requests}</tbody></table>` : '<p class="muted">none</p>'}
    ${stocks}
    <p class="muted small">Each stock keeps its last 60 days of demand and flow (older days as 30-day sums);
      the material keeps its last 5 closed alerts: every transition of every alert is on stockloop.alerts.</p>`;
}

// ---- alert actions ----------------------------------------------------------

async function act(button) {
  const row = button.closest("[data-alert-key]");
  const by = you.value.trim();
  if (!by) {
    you.focus();
    tell("Type your name (You) first: the action records who took it.", true);
    return;
  }
  localStorage.setItem("stockloop-you", by);
  const params = {
    action: button.dataset.action,
    alert_key: row.dataset.alertKey,
    by,
    hours: document.getElementById("silence-hours").value,
  };
  button.disabled = true;
  try {
    const response = await fetch(
      "/dashboard/actions/" + encodeURIComponent(row.dataset.material) + query(params),
      { method: "POST", headers: { "X-Stockloop-Dashboard": "1" } },
    );
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
    tell(`${body.done}; the worker applies it in a moment.`);
    setTimeout(refresh, 1500);
  } catch (error) {
    button.disabled = false;
    tell(`Not done: ${error.message}`, true);
  }
}

// ---- the loop ---------------------------------------------------------------

const SECTIONS = { overview, age, risk, capital, alerts, requests: requestsSection, materials, material };
let rendering = false;

function say(text, bad) {
  status.textContent = text;
  status.className = bad ? "status bad" : "status";
}

// What became of the last button pressed; stays until the next one.
function tell(text, bad) {
  notice.textContent = text;
  notice.className = bad ? "notice bad" : "notice";
}

async function options() {
  // The choices come from the unfiltered summary, so a filter never hides the others.
  const summary = await api("/api/summary");
  const chosen = filtersOf(currentRoute().params);
  for (const [name, groups, key] of [
    ["warehouse", summary.by_warehouse, "warehouse"],
    ["category", summary.by_category, "category"],
  ]) {
    const select = filterForm.elements[name];
    const values = groups.map((g) => g[key]);
    if (chosen[name] && !values.includes(chosen[name])) values.push(chosen[name]);
    select.innerHTML = '<option value="">all</option>' + values.map((v) => `<option>${esc(v)}</option>`).join("");
    select.value = chosen[name] || "";
  }
  filterForm.elements.abc.value = chosen.abc || "";
}

async function refresh() {
  if (rendering) return;
  rendering = true;
  const route = currentRoute();
  const section = SECTIONS[route.name] || overview;
  for (const a of document.querySelectorAll("nav a")) {
    a.classList.toggle("on", a.dataset.route === route.name);
    a.href = link(a.dataset.route);
  }
  try {
    await options();
    view.innerHTML = await section(route);
    view.dataset.section = SECTIONS[route.name] ? route.name : "overview";
    say(`updated ${new Date().toLocaleTimeString()}`);
  } catch (error) {
    say(error instanceof Busy ? `${error.message} (the last view stays)` : `error: ${error.message}`, true);
  } finally {
    rendering = false;
  }
}

filterForm.addEventListener("change", (event) => {
  if (!FILTERS.includes(event.target.name)) return;
  const route = currentRoute();
  const params = Object.fromEntries(route.params);
  params[event.target.name] = event.target.value;
  delete params.page;
  const section = route.name === "material" ? "materials" : route.name;
  location.hash = "#/" + section + query(params);
});
document.getElementById("clear").addEventListener("click", () => {
  const route = currentRoute();
  location.hash = "#/" + (route.name === "material" ? "materials" : route.name);
});
view.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-action]");
  if (button) act(button);
});
you.value = localStorage.getItem("stockloop-you") || "";
window.addEventListener("hashchange", refresh);
setInterval(refresh, REFRESH_MS);
refresh();
