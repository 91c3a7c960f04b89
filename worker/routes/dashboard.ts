import { router } from "../http/router.ts";

/**
 * A project lead's dashboard at /projects/{projectId}/dashboard: the stage funnel, throughput per
 * day, burn-down with its ETA, time per task, the annotators (a table and their edit effort), the
 * dataset's words per caption and most frequent nouns. Served like the voting page: plain HTML, a
 * stylesheet and a script of this origin, and Chart.js from this Worker's static assets (copied
 * from the chart.js package by scripts/docs-assets.ts), so nothing comes from a CDN and it works
 * offline. It calls only the public API, with the lead's token: `#token=…` in the link (kept out
 * of server logs, then in sessionStorage) or pasted into the box.
 *
 * Each chart is a <figure id="chart-…"> whose `data-state` ends as `drawn` (with `data-points`,
 * the number of bars or points Chart.js drew, counted after it rendered, and `data-sum`, the total
 * they stand for), `empty` (no data yet), `unavailable` (the endpoint answered 404) or `error`;
 * <body data-state="ready"> once every section has settled, so a test or a screenshot knows when.
 */
export const dashboardRoutes = router();

/** Where scripts/docs-assets.ts puts the chart.js package's UMD build ([assets] serves it before the Worker). */
const CHART_JS = "/dashboard/chart.js/chart.umd.js";

const POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const chart = (id: string, title: string, note = "") =>
  `<figure id="chart-${id}" class="chart" data-state="loading"><figcaption>${title}</figcaption><div class="plot"><canvas aria-label="${title}" role="img"></canvas></div><p class="note">${note}</p></figure>`;

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8" />
  <meta name="viewport" content="width=device-width, initial-scale=1" />
  <meta name="referrer" content="no-referrer" />
  <title>Project dashboard</title>
  <link rel="stylesheet" href="/dashboard/dashboard.css" />
</head>
<body data-state="loading">
  <header>
    <h1>Project <span id="project"></span></h1>
    <p id="generated"></p>
    <button id="refresh" type="button" hidden>Refresh</button>
    <button id="signout" type="button" hidden>Sign out</button>
  </header>
  <section id="signin" hidden>
    <p>Paste a lead token for this project.</p>
    <input id="token-input" type="password" autocomplete="off" aria-label="Lead token" />
    <button id="token-go" type="button">Sign in</button>
  </section>
  <p id="message" role="alert"></p>
  <main id="board" hidden>
    <section id="summary" class="tiles" aria-label="Summary"></section>
    <section class="card">
      <h2>Progress</h2>
      <div class="grid">
        ${chart("funnel", "Stage funnel (edit tasks per round)")}
        ${chart("throughput", "Throughput per day")}
        ${chart("burndown", "Burn-down: edit work not yet accepted")}
        ${chart("time", "Time per task")}
      </div>
      <p id="eta"></p>
      <p id="in-progress"></p>
    </section>
    <section class="card" id="people">
      <h2>Annotators</h2>
      <p id="annotators-note" class="note"></p>
      <div class="table-wrap">
        <table id="annotators">
          <thead><tr><th>Subject</th><th>Round</th><th>Tasks</th><th>Accepted</th><th>Rejected</th><th>Acceptance</th><th>Mean time</th><th>Edit rate</th><th>Unchanged</th><th>Reviews</th><th>Flags</th><th>Last active</th></tr></thead>
          <tbody></tbody>
        </table>
      </div>
      <div class="grid">${chart("edit-effort", "Edit effort: annotators by mean edit rate")}</div>
    </section>
    <section class="card" id="dataset">
      <h2>Dataset</h2>
      <p id="dataset-summary"></p>
      <div class="grid">
        ${chart("words", "Words per final caption")}
        ${chart("nouns", "Most frequent nouns in final captions")}
      </div>
    </section>
    <section class="card" id="agreement">
      <h2>Agreement</h2>
      <p id="agreement-summary">Agreement: not computed yet.</p>
      <table id="agreement-matrix" class="heat" data-state="loading"></table>
    </section>
    <section class="card" id="vlm-ledger">
      <h2>VLM ledger</h2>
      <div class="table-wrap">
        <table id="vlm">
          <thead><tr><th>Provider</th><th>Model</th><th>Prompt</th><th>Calls</th><th>Failures</th><th>Retries</th><th>Dead letters</th><th>Tokens in</th><th>Tokens out</th><th>Cost</th></tr></thead>
          <tbody></tbody>
        </table>
      </div>
    </section>
  </main>
  <script src="${CHART_JS}"></script>
  <script src="/dashboard/dashboard.js"></script>
</body>
</html>`;

const CSS = `*{box-sizing:border-box}body{margin:0;font:15px/1.45 system-ui,sans-serif;color:#1b1b1b;background:#f4f4f1}
header{display:flex;align-items:baseline;gap:1rem;padding:.75rem 1.25rem;background:#fff;border-bottom:1px solid #ddd}
h1{font-size:1.3rem;margin:0}#generated{color:#666;margin:0;flex:1}h2{font-size:1.1rem;margin:0 0 .5rem}
button{font:inherit;padding:.3rem .8rem;border-radius:5px;border:1px solid #999;background:#fff;cursor:pointer}button:hover{background:#eef}
#signin{max-width:560px;margin:2rem auto;background:#fff;border:1px solid #ccc;border-radius:6px;padding:1rem}#signin input{width:100%;padding:.4rem;margin:.25rem 0 .5rem}
#message{color:#a00;margin:.5rem 1.25rem}main{padding:0 1.25rem 2rem;max-width:1400px;margin:0 auto}
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:.75rem;margin:.75rem 0}
.tile{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.5rem .75rem}.tile b{display:block;font-size:1.35rem}.tile span{color:#555;font-size:.85rem}
.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.75rem 1rem;margin:.75rem 0}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:1rem}
.chart{margin:0;min-width:0}.chart figcaption{font-weight:600;font-size:.9rem;margin-bottom:.25rem}.plot{position:relative;height:260px}
table.heat{border-collapse:collapse;margin-top:.5rem}table.heat th,table.heat td{border:1px solid #ddd;padding:.25rem .5rem;font-size:.85rem;text-align:center;min-width:3.5rem}
.chart[data-state=empty] .plot,.chart[data-state=unavailable] .plot,.chart[data-state=error] .plot{display:none}
.note{color:#666;font-size:.85rem;margin:.25rem 0}.table-wrap{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.85rem;font-variant-numeric:tabular-nums}th,td{padding:.25rem .5rem;border-bottom:1px solid #eee;text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left}thead th{background:#f7f7f5;position:sticky;top:0}.flag{color:#a35b00;font-weight:600}
#eta{font-weight:600}@media (max-width:900px){.grid{grid-template-columns:1fr}}`;

const SCRIPT = String.raw`(() => {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const projectId = decodeURIComponent(location.pathname.split("/")[2] || "");
  const STORE = "groundwork-dashboard-token";
  const hash = new URLSearchParams(location.hash.slice(1));
  let token = hash.get("token") || sessionStorage.getItem(STORE);
  const charts = new Map();
  const COLORS = ["#3b6fb6", "#e07b39", "#3a9a5b", "#c0392b", "#8e6bbf", "#7f8c8d"];
  const fmt = (n, digits) => (n === null || n === undefined ? "–" : Number(n).toLocaleString("en", { maximumFractionDigits: digits === undefined ? 1 : digits }));
  const pct = (x) => (x === null || x === undefined ? "–" : Math.round(x * 100) + "%");
  const secs = (s) => (s === null || s === undefined ? "–" : s < 90 ? fmt(s, 0) + " s" : s < 5400 ? fmt(s / 60) + " min" : fmt(s / 3600) + " h");

  $("project").textContent = projectId;
  function say(text) { $("message").textContent = text || ""; }

  class HttpError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  async function api(path) {
    const res = await fetch("/v1/projects/" + encodeURIComponent(projectId) + path, { headers: { authorization: "Bearer " + token, accept: "application/json" } });
    const data = await res.json().catch(() => null);
    if (!res.ok) throw new HttpError(res.status, (data && (data.detail || data.title)) || "HTTP " + res.status);
    return data;
  }

  /** A section's data, or null when its endpoint answers 404 (a server without it): the section then says "not available". */
  async function optional(path) {
    try {
      return await api(path);
    } catch (err) {
      if (err.status === 404) return null;
      throw err;
    }
  }

  async function allAnnotators() {
    const items = [];
    let cursor = null;
    for (let page = 0; page < 50; page++) {
      const body = await optional("/report/annotators?limit=200" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : ""));
      if (body === null) return null;
      items.push(...body.items);
      cursor = body.next_cursor;
      if (!cursor) break;
    }
    return items;
  }

  function settle(id, state, note) {
    const el = $("chart-" + id);
    if (charts.has(id)) { charts.get(id).destroy(); charts.delete(id); }
    el.dataset.state = state;
    el.dataset.points = "0";
    el.dataset.sum = "0";
    el.querySelector(".note").textContent = note || "";
  }

  /**
   * Draws one chart; once Chart.js has rendered it, the figure's data-points is the number of
   * elements (bars, points) it drew and data-sum the total of their values.
   */
  function draw(id, config, note) {
    settle(id, "loading", note);
    const el = $("chart-" + id);
    const sum = config.data.datasets.reduce((s, d) => s + d.data.reduce((a, v) => a + (Number(v) || 0), 0), 0);
    const counter = {
      id: "groundwork-points",
      afterRender(c) {
        let n = 0;
        c.data.datasets.forEach((_, i) => { if (c.isDatasetVisible(i)) n += c.getDatasetMeta(i).data.length; });
        el.dataset.points = String(n);
        el.dataset.sum = String(sum);
        el.dataset.state = "drawn";
      },
    };
    config.plugins = [counter];
    config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false }, config.options || {});
    charts.set(id, new Chart(el.querySelector("canvas"), config));
  }

  const anyValue = (datasets) => datasets.some((d) => d.data.some((v) => Number(v) > 0));
  const bars = (label, data, i) => ({ label, data, backgroundColor: COLORS[i % COLORS.length], borderColor: COLORS[i % COLORS.length] });
  const line = (label, data, i) => ({ label, data, borderColor: COLORS[i % COLORS.length], backgroundColor: COLORS[i % COLORS.length], pointRadius: 3, tension: 0.15 });
  const axes = (x, y) => ({ x: { title: { display: !!x, text: x } }, y: { beginAtZero: true, title: { display: !!y, text: y }, ticks: { precision: 0 } } });

  function tiles(report) {
    const rate = report.rounds.map((r) => "R" + r.round + " " + pct(r.rejection_rate)).join(" · ");
    const items = [
      ["Images", fmt(report.images, 0)], ["Segments", fmt(report.segments, 0)], ["Final captions", fmt(report.finals, 0)],
      ["Stale captions", fmt(report.stale, 0)], ["Remaining edit work", fmt(report.eta.remaining, 0)], ["Rejection rate", rate],
    ];
    $("summary").replaceChildren(...items.map(([label, value]) => {
      const t = document.createElement("div");
      t.className = "tile";
      const b = document.createElement("b");
      b.textContent = value;
      const s = document.createElement("span");
      s.textContent = label;
      t.append(b, s);
      return t;
    }));
  }

  function funnel(report) {
    const stages = [["created", (r) => r.tasks.created], ["claimed", (r) => r.tasks.claimed], ["submitted", (r) => r.tasks.submitted],
      ["accepted", (r) => r.tasks.accepted], ["rejected", (r) => r.tasks.rejected], ["consolidated", (r) => r.consolidated]];
    const datasets = report.rounds.map((r, i) => bars("Round " + r.round, stages.map(([, f]) => f(r)), i)).filter((d) => d.data.some((v) => v > 0));
    if (!anyValue(datasets)) return settle("funnel", "empty", "No tasks yet.");
    draw("funnel", { type: "bar", data: { labels: stages.map(([s]) => s), datasets }, options: { scales: axes("", "tasks") } });
    const wip = report.rounds.filter((r) => Object.values(r.in_progress).some((v) => v > 0)).map((r) => {
      const w = r.in_progress;
      return "Round " + r.round + ": " + w.open + " open, " + w.held + " held for drafts, " + w.leased + " leased, " + w.awaiting_review + " awaiting review (" + w.review_leased + " being reviewed).";
    });
    $("in-progress").textContent = wip.length ? "In progress. " + wip.join(" ") : "Nothing in progress.";
  }

  function throughput(report) {
    const days = report.per_day;
    const datasets = [["submitted", "submitted"], ["accepted", "accepted"], ["rejected", "rejected"]].map(([label, k], i) =>
      (days.length > 7 ? line : bars)(label, days.map((d) => d[k]), i));
    if (!days.length || !anyValue(datasets)) return settle("throughput", "empty", "No submissions yet.");
    draw("throughput", { type: days.length > 7 ? "line" : "bar", data: { labels: days.map((d) => d.day), datasets }, options: { scales: axes("day", "edit tasks") } });
  }

  function burndown(report) {
    const e = report.eta;
    $("eta").textContent = e.remaining === 0 ? "ETA: no edit work remaining."
      : e.days === null ? "ETA: " + fmt(e.remaining, 0) + " edit tasks remaining; nothing accepted in the last " + e.window_days + " days, so no estimate."
      : "ETA: " + fmt(e.remaining, 0) + " edit tasks remaining at " + fmt(e.accepted_per_day, 2) + " accepted per day (last " + e.window_days + " days): about " + fmt(e.days) + " days, around " + e.date + ".";
    const pts = report.burndown;
    if (!pts.length) return settle("burndown", "empty", "No days with activity yet.");
    draw("burndown", { type: "line", data: { labels: pts.map((d) => d.day), datasets: [Object.assign(line("remaining", pts.map((d) => d.remaining), 0), { fill: false })] }, options: { scales: axes("day", "edit tasks remaining") } }, "");
  }

  function bucketLabel(upper, previous) {
    if (upper === null) return "> " + secs(previous);
    return "≤ " + secs(upper);
  }

  function timeChart(report) {
    const rounds = report.rounds.filter((r) => r.time.submissions > 0);
    if (!rounds.length) return settle("time", "empty", "No submissions yet.");
    const hist = rounds[0].time.histogram;
    const labels = hist.map((b, i) => bucketLabel(b.upper_seconds, i ? hist[i - 1].upper_seconds : 0));
    const datasets = rounds.map((r, i) => bars("Round " + r.round, r.time.histogram.map((b) => b.count), i));
    const note = rounds.map((r) => "Round " + r.round + ": " + r.time.submissions + " submissions, mean " + secs(r.time.mean_seconds) + ", median ≤ " + secs(r.time.median_at_most_seconds)).join("; ");
    draw("time", { type: "bar", data: { labels, datasets }, options: { scales: axes("time from claim to submit", "submissions") } }, note);
  }

  function cell(tr, text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    tr.append(td);
  }

  function annotatorTable(items) {
    const body = $("annotators").querySelector("tbody");
    if (items === null) {
      body.replaceChildren();
      $("annotators").hidden = true;
      $("annotators-note").textContent = "Annotator statistics: not available (this server has no /report/annotators).";
      return;
    }
    $("annotators").hidden = false;
    $("annotators-note").textContent = items.length ? items.length + " rows (one per person and round)." : "No one has worked on this project yet.";
    const rows = [...items].sort((a, b) => a.round - b.round || b.tasks - a.tasks || String(a.subject).localeCompare(String(b.subject), "en", { numeric: true }));
    body.replaceChildren(...rows.map((a) => {
      const tr = document.createElement("tr");
      tr.dataset.subject = a.subject;
      tr.dataset.round = String(a.round);
      cell(tr, a.subject);
      cell(tr, String(a.round));
      cell(tr, fmt(a.tasks, 0));
      cell(tr, fmt(a.accepted, 0));
      cell(tr, fmt(a.rejected, 0));
      cell(tr, pct(a.acceptance_rate));
      cell(tr, secs(a.mean_seconds));
      cell(tr, pct(a.edit_rate_mean));
      cell(tr, pct(a.unchanged_share));
      cell(tr, fmt(a.reviews, 0));
      cell(tr, a.rubber_stamp ? "rubber stamp?" : "", "flag");
      cell(tr, a.last_active_at ? new Date(a.last_active_at).toISOString().slice(0, 16).replace("T", " ") : "–");
      return tr;
    }));
  }

  function editEffort(items) {
    if (items === null) return settle("edit-effort", "unavailable", "Not available (this server has no /report/annotators).");
    const rates = items.map((a) => a.edit_rate_mean).filter((x) => typeof x === "number" && isFinite(x));
    if (!rates.length) return settle("edit-effort", "empty", "No submissions with an edit rate yet.");
    const counts = new Array(10).fill(0);
    for (const r of rates) counts[Math.min(9, Math.max(0, Math.floor(r * 10)))]++;
    const labels = counts.map((_, i) => (i * 10) + "–" + (i === 9 ? "100+" : (i + 1) * 10) + "%");
    draw("edit-effort", { type: "bar", data: { labels, datasets: [bars("annotators (person × round)", counts, 1)] }, options: { scales: axes("mean edit rate (share of the draft's words changed)", "annotators") } },
      rates.length + " of " + items.length + " rows have an edit rate; mean " + pct(rates.reduce((s, r) => s + r, 0) / rates.length) + ".");
  }

  function dataset(ds) {
    if (ds === null) {
      $("dataset-summary").textContent = "Dataset statistics: not available (this server has no /report/dataset).";
      settle("words", "unavailable", "Not available.");
      settle("nouns", "unavailable", "Not available.");
      return;
    }
    const p = ds.paper || {};
    const cov = ds.coverage || {};
    const beside = (x) => (x ? " (COCONut-PanCap: " + fmt(x) + ")" : "");
    $("dataset-summary").textContent = fmt(ds.final_captions, 0) + " final captions" + beside(p.samples) + "; " + fmt(ds.words && ds.words.mean) + " words per caption on average" + beside(p.words) +
      "; " + fmt(ds.masks_per_image) + " masks per image" + beside(p.masks) + "; " + fmt(ds.grounded_masks_per_caption) + " grounded masks per caption" +
      (cov.segments_mean === null || cov.segments_mean === undefined ? "" : "; captions ground " + pct(cov.segments_mean) + " of an image's segments and " + pct(cov.area_mean) + " of its labelled area on average") + ".";
    const hist = (ds.words && ds.words.histogram) || [];
    const wordData = [bars("final captions", hist.map((b) => b.count), 0)];
    if (!hist.length || !anyValue(wordData)) settle("words", "empty", "No final captions yet.");
    else draw("words", { type: "bar", data: { labels: hist.map((b, i) => (b.upper === null ? "> " + (i ? hist[i - 1].upper : 0) : "≤ " + b.upper)), datasets: wordData }, options: { scales: axes("words", "captions") } });
    const nouns = (ds.top_nouns || []).slice(0, 30);
    if (!nouns.length) return settle("nouns", "empty", "No nouns counted yet.");
    // Fig. 4 of COCONut-PanCap: the most frequent nouns as bars, most frequent first.
    $("chart-nouns").querySelector(".plot").style.height = Math.max(220, 40 + 18 * nouns.length) + "px";
    draw("nouns", {
      type: "bar",
      data: { labels: nouns.map((n) => n.noun), datasets: [bars("occurrences", nouns.map((n) => n.count), 2)] },
      options: { indexAxis: "y", plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: "occurrences" } }, y: { ticks: { autoSkip: false } } } },
    });
  }

  function vlmTable(report) {
    const body = $("vlm").querySelector("tbody");
    if (!report.vlm.length) {
      const tr = document.createElement("tr");
      cell(tr, "No VLM calls yet.");
      body.replaceChildren(tr);
      return;
    }
    body.replaceChildren(...report.vlm.map((v) => {
      const tr = document.createElement("tr");
      for (const x of [v.provider, v.model, v.prompt || "–", fmt(v.calls, 0), fmt(v.failures, 0), fmt(v.retries, 0), fmt(v.dead_letters, 0), fmt(v.tokens_in, 0), fmt(v.tokens_out, 0), v.cost === null ? "no price set" : "$" + v.cost.toFixed(4)]) cell(tr, x);
      return tr;
    }));
  }

  function signIn(message) {
    token = null;
    sessionStorage.removeItem(STORE);
    $("board").hidden = true;
    $("refresh").hidden = true;
    $("signout").hidden = true;
    $("signin").hidden = false;
    say(message);
    document.body.dataset.state = "signin";
  }

  /**
   * The member × member matrix as a heat map: a cell per pair, shaded by mean Cohen's κ (white 0 or
   * below, deep blue 1), with κ, raw agreement and images in its text. data-cells counts the
   * pairs drawn (for a test, as data-points does for the charts).
   */
  function agreementMatrix(r) {
    const table = $("agreement-matrix");
    table.textContent = "";
    if (r === null || r.images === 0) {
      $("agreement-summary").textContent = r === null ? "Agreement: not available." : "Agreement: not computed yet (no image of the overlap sample has consolidated).";
      table.dataset.state = r === null ? "unavailable" : "empty";
      table.dataset.cells = "0";
      return;
    }
    const fmt = (x) => (x === null ? "n/a" : x.toFixed(2));
    $("agreement-summary").textContent =
      r.images + " images of the overlap sample; Krippendorff's α (actions) " + fmt(r.alpha_mean) +
      "; things: ROUGE-L " + fmt(r.thing.rouge_l) + ", BLEU-4 " + fmt(r.thing.bleu4) + ", CIDEr-D " + fmt(r.thing.cider_d) +
      "; stuff: ROUGE-L " + fmt(r.stuff.rouge_l) + ", BLEU-4 " + fmt(r.stuff.bleu4) + ", CIDEr-D " + fmt(r.stuff.cider_d) + ".";
    const cell = new Map(r.matrix.flatMap((m) => [[m.a + "|" + m.b, m], [m.b + "|" + m.a, m]]));
    const head = table.insertRow();
    head.insertCell().textContent = "";
    for (const b of r.members) {
      const th = document.createElement("th");
      th.textContent = b;
      head.append(th);
    }
    let cells = 0;
    for (const a of r.members) {
      const row = table.insertRow();
      const th = document.createElement("th");
      th.textContent = a;
      row.append(th);
      for (const b of r.members) {
        const td = row.insertCell();
        const m = a === b ? null : cell.get(a + "|" + b);
        if (!m) continue;
        const k = m.kappa_mean === null ? 0 : Math.max(0, Math.min(1, m.kappa_mean));
        td.style.backgroundColor = "rgba(37, 99, 235, " + (0.08 + 0.8 * k).toFixed(2) + ")";
        td.style.color = k > 0.55 ? "#fff" : "#111";
        td.title = a + " × " + b + ": κ " + fmt(m.kappa_mean) + ", raw agreement " + fmt(m.raw_agreement) + ", " + m.images + " images";
        td.textContent = fmt(m.kappa_mean);
        if (a < b) cells++;
      }
    }
    table.dataset.state = "drawn";
    table.dataset.cells = String(cells);
  }

  async function load() {
    document.body.dataset.state = "loading";
    say("");
    try {
      // The report first: its answer tells whether the token is good for this project at all.
      const report = await api("/report");
      $("signin").hidden = true;
      $("board").hidden = false;
      $("refresh").hidden = false;
      $("signout").hidden = false;
      $("generated").textContent = "as of " + report.generated_at.replace("T", " ").slice(0, 19) + " UTC";
      tiles(report);
      funnel(report);
      throughput(report);
      burndown(report);
      timeChart(report);
      vlmTable(report);
      const [people, ds, agree] = await Promise.all([allAnnotators(), optional("/report/dataset"), optional("/report/agreement")]);
      annotatorTable(people);
      editEffort(people);
      dataset(ds);
      agreementMatrix(agree);
      document.body.dataset.state = "ready";
    } catch (err) {
      if (err.status === 401) return signIn("The token was refused (" + err.message + "): paste a current lead token.");
      if (err.status === 403) return signIn("This token may not read this project's reports (" + err.message + "): paste a lead token for " + projectId + ".");
      for (const id of ["funnel", "throughput", "burndown", "time", "edit-effort", "words", "nouns"]) if ($("chart-" + id).dataset.state === "loading") settle(id, "error", "");
      say(err.status === 404 ? "Project " + projectId + " was not found." : String(err.message || err));
      document.body.dataset.state = "error";
    }
  }

  $("token-go").addEventListener("click", () => {
    const t = $("token-input").value.trim();
    if (!t) return;
    token = t;
    $("token-input").value = "";
    sessionStorage.setItem(STORE, token);
    load();
  });
  $("token-input").addEventListener("keydown", (e) => { if (e.key === "Enter") $("token-go").click(); });
  $("refresh").addEventListener("click", () => load());
  $("signout").addEventListener("click", () => signIn(""));

  if (typeof Chart === "undefined") {
    say("The charting library did not load.");
    document.body.dataset.state = "error";
    return;
  }
  Chart.defaults.font.family = "system-ui, sans-serif";
  if (hash.get("token")) {
    sessionStorage.setItem(STORE, token);
    // The token leaves the address bar (and so history and screenshots) once it is stored.
    history.replaceState(null, "", location.pathname + location.search);
  }
  if (token) load();
  else signIn("");
})();
`;

dashboardRoutes.get("/projects/:projectId/dashboard", (c) => c.html(PAGE, 200, { "Content-Security-Policy": POLICY, "Cache-Control": "no-store" }));
dashboardRoutes.get("/dashboard/dashboard.js", (c) => c.body(SCRIPT, 200, { "Content-Type": "text/javascript; charset=utf-8", "Cache-Control": "public, max-age=300" }));
dashboardRoutes.get("/dashboard/dashboard.css", (c) => c.body(CSS, 200, { "Content-Type": "text/css; charset=utf-8", "Cache-Control": "public, max-age=300" }));
