/**
 * The lead's dashboard (/projects/{id}/dashboard) end to end, run from local-server.test.ts on the
 * server it started (one wrangler for all the e2e tests): work goes through the API first (round-1
 * edits by two annotators, reviews with one rejection, the rework, round-2 merges made final), then
 * the page is opened in a browser that may reach nothing but loopback, and each chart is checked
 * against the API's own figures through the attributes the page sets once Chart.js has drawn
 * (`data-state="drawn"`, `data-points`, `data-sum`). Then those two reports are made to answer 404
 * (as on a server without them): their sections must say "not available" and the rest still draw.
 */
import { rmSync } from "node:fs";
import { expect } from "vitest";
import { devToken } from "../../scripts/token.ts";
import { synthesizeScene } from "../../worker/imaging/synthetic.ts";
import { openIsolatedBrowser } from "./browser.ts";

export const DASHBOARD_SCREENSHOT = "/tmp/groundwork-dashboard.png";

const PROJECT = "demo";

interface Lease {
  task_id: string;
  lease_token: string;
  round: number;
  start: { texts: { segment_id: number; text: string }[]; caption?: { inline: string } };
  submission?: { id: string; subject: string };
}

interface Report {
  rounds: { round: number; tasks: Record<string, number>; consolidated: number; time: { submissions: number; histogram: { count: number }[] } }[];
  per_day: { day: string; submitted: number; accepted: number; rejected: number }[];
  burndown: { day: string; remaining: number }[];
  finals: number;
}

interface Annotator { subject: string; round: number; edit_rate_mean: number | null }
interface Dataset { final_captions: number; words: { histogram: { upper: number | null; count: number }[] }; top_nouns: { noun: string; count: number }[] }

export async function dashboardScenario(base: string, lead: string): Promise<void> {
  rmSync(DASHBOARD_SCREENSHOT, { force: true });
  async function call<T = any>(token: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; data: T }> {
    const r = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    return { status: r.status, data: (text ? JSON.parse(text) : null) as T };
  }
  const claim = async (token: string, round: number, kind: "edit" | "review") => {
    const r = await call<Lease>(token, "POST", `/v1/projects/${PROJECT}/tasks/next`, { round, kind });
    expect([200, 204], JSON.stringify(r.data)).toContain(r.status);
    return r.status === 200 ? r.data : null;
  };
  const submit = async (token: string, lease: Lease, body: Record<string, unknown>) => {
    const r = await call<{ id: string }>(token, "POST", `/v1/tasks/${lease.task_id}/submissions`, { lease_token: lease.lease_token, ...body }, { "idempotency-key": crypto.randomUUID() });
    expect(r.status, JSON.stringify(r.data)).toBe(201);
    return r.data.id;
  };
  const regions = (lease: Lease, edit: boolean) =>
    lease.start.texts.map((t, i) => (edit && i === 0 ? { segment_id: t.segment_id, action: "edited", text: `${t.text} It is seen from a low angle.` } : { segment_id: t.segment_id, action: "accepted", text: t.text }));

  const annotators = await Promise.all([1, 2, 3].map((i) => devToken("annotator", [PROJECT], `e2e-dash-annotator-${i}`)));
  const reviewer = await devToken("reviewer", [PROJECT], "e2e-dash-reviewer");
  const submitters = new Set<string>();

  // Round 1: a few edit tasks (the earlier test may have taken them all), the first annotator editing a region.
  for (let i = 0; i < 4; i++) {
    const who = i % 2;
    const lease = await claim(annotators[who], 1, "edit");
    if (!lease) continue;
    await submit(annotators[who], lease, { regions: regions(lease, who === 0), active_seconds: 20 + 40 * i });
    submitters.add(`e2e-dash-annotator-${who + 1}`);
  }

  // Every submission awaiting review is reviewed; one is rejected, and its rework is done and accepted.
  const rejected: string[] = [];
  const reviewAll = async (round: number) => {
    for (let n = 0; n < 100; n++) {
      const lease = await claim(reviewer, round, "review");
      if (!lease) return;
      const sub = lease.submission!;
      submitters.add(sub.subject);
      const reject = round === 1 && rejected.length === 0;
      const r = await call(reviewer, "POST", `/v1/submissions/${sub.id}/reviews`, reject ? { decision: "reject", reason: "The main object is not described." } : { decision: "accept" }, {
        "idempotency-key": crypto.randomUUID(),
      });
      expect(r.status, JSON.stringify(r.data)).toBe(201);
      if (reject) rejected.push(sub.subject);
    }
    throw new Error("more than 100 review tasks");
  };
  await reviewAll(1);
  expect(rejected, "a round-1 submission rejected").toHaveLength(1);
  // Reopened for someone other than its author.
  const reworker = annotators.findIndex((_, i) => `e2e-dash-annotator-${i + 1}` !== rejected[0]);
  let rework: Lease | null = null;
  for (const until = Date.now() + 15_000; !rework && Date.now() < until; ) {
    rework = await claim(annotators[reworker], 1, "edit");
    if (!rework) await new Promise((r) => setTimeout(r, 500));
  }
  expect(rework, "the rejected work reopened").not.toBeNull();
  await submit(annotators[reworker], rework!, { regions: regions(rework!, true), active_seconds: 75 });
  submitters.add(`e2e-dash-annotator-${reworker + 1}`);
  await reviewAll(1);

  // Round 2: the merge drafts come through the queue (the mock VLM); two of them edited, accepted, and so final.
  let finals = 0;
  const deadline = Date.now() + 90_000;
  while (finals < 2 && Date.now() < deadline) {
    const lease = await claim(annotators[2], 2, "edit");
    if (!lease) {
      await new Promise((r) => setTimeout(r, 500));
      continue;
    }
    expect(lease.start.caption, "a round-2 lease starts from a merged caption").toBeDefined();
    await submit(annotators[2], lease, { inline: `${lease.start.caption!.inline} A small dog sleeps beside the bench.`, active_seconds: 150 });
    submitters.add("e2e-dash-annotator-3");
    await reviewAll(2);
    finals++;
  }
  expect(finals, "round-2 captions made final").toBe(2);

  // What the API says, to hold the page's charts against.
  const report = (await call<Report>(lead, "GET", `/v1/projects/${PROJECT}/report`)).data;
  expect(report.finals).toBeGreaterThanOrEqual(2);
  const people = await call<{ items: Annotator[]; next_cursor: string | null }>(lead, "GET", `/v1/projects/${PROJECT}/report/annotators?limit=200`);
  expect(people.status).toBe(200);
  const dataset = await call<Dataset>(lead, "GET", `/v1/projects/${PROJECT}/report/dataset`);
  expect(dataset.status).toBe(200);

  const browser = await openIsolatedBrowser();
  const { page } = browser;
  try {
    await page.goto(`${base}/projects/${PROJECT}/dashboard#token=${lead}`);
    await page.locator('body[data-state="ready"]').waitFor({ state: "attached", timeout: 30_000 });
    // The token left the address bar once stored.
    expect(page.url()).toBe(`${base}/projects/${PROJECT}/dashboard`);
    expect(await page.locator("#message").textContent()).toBe("");

    const figure = async (id: string) => {
      const el = page.locator(`#chart-${id}`);
      return { state: await el.getAttribute("data-state"), points: Number(await el.getAttribute("data-points")), sum: Number(await el.getAttribute("data-sum")) };
    };
    const sum = (xs: number[]) => xs.reduce((s, x) => s + x, 0);

    const stages = (r: Report["rounds"][number]) => [r.tasks.created, r.tasks.claimed, r.tasks.submitted, r.tasks.accepted, r.tasks.rejected, r.consolidated];
    const funnelRounds = report.rounds.filter((r) => stages(r).some((v) => v > 0));
    expect(funnelRounds.map((r) => r.round)).toEqual([1, 2]);
    expect(await figure("funnel")).toEqual({ state: "drawn", points: 6 * funnelRounds.length, sum: sum(funnelRounds.flatMap(stages)) });

    expect(report.per_day.length).toBeGreaterThan(0);
    expect(await figure("throughput")).toEqual({ state: "drawn", points: 3 * report.per_day.length, sum: sum(report.per_day.flatMap((d) => [d.submitted, d.accepted, d.rejected])) });
    expect(await figure("burndown")).toEqual({ state: "drawn", points: report.burndown.length, sum: sum(report.burndown.map((d) => d.remaining)) });
    expect(await page.locator("#eta").textContent()).toMatch(/^ETA: /);

    const timed = report.rounds.filter((r) => r.time.submissions > 0);
    expect(timed.length).toBe(2);
    expect(await figure("time")).toEqual({ state: "drawn", points: sum(timed.map((r) => r.time.histogram.length)), sum: sum(timed.map((r) => r.time.submissions)) });

    const rows = page.locator("#annotators tbody tr");
    const items = people.data.items;
    expect(people.data.next_cursor).toBeNull();
    expect(await rows.count()).toBe(items.length);
    const shown = new Set(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-subject"))));
    // A row for everyone who submitted work, as the API lists them.
    for (const s of submitters) {
      expect(shown.has(s), `a row for ${s}`).toBe(true);
      expect(items.some((a) => a.subject === s)).toBe(true);
    }
    const rates = items.filter((a) => typeof a.edit_rate_mean === "number");
    expect(rates.length).toBeGreaterThan(0);
    expect(await figure("edit-effort")).toEqual({ state: "drawn", points: 10, sum: rates.length });

    const ds = dataset.data;
    expect(ds.final_captions).toBeGreaterThanOrEqual(2);
    expect(await figure("words")).toEqual({ state: "drawn", points: ds.words.histogram.length, sum: sum(ds.words.histogram.map((b) => b.count)) });
    const nouns = ds.top_nouns.slice(0, 30);
    expect(nouns.length).toBeGreaterThan(0);
    expect(await figure("nouns")).toEqual({ state: "drawn", points: nouns.length, sum: sum(nouns.map((n) => n.count)) });
    // The demo has no overlap sample (one annotator per image): the matrix says so rather than drawing nothing silently.
    expect(await page.locator("#agreement").innerText()).toContain("Agreement: not computed yet");
    expect(await page.locator("#agreement-matrix").getAttribute("data-state")).toBe("empty");

    await page.screenshot({ path: DASHBOARD_SCREENSHOT, fullPage: true });

    // A reload signs in from sessionStorage; signing out and pasting the token into the box works too.
    await page.reload();
    await page.locator('body[data-state="ready"]').waitFor({ state: "attached", timeout: 30_000 });
    expect((await figure("funnel")).state).toBe("drawn");
    await page.locator("#signout").click();
    await page.locator("#signin").waitFor({ state: "visible" });
    expect(await page.locator("#board").isVisible()).toBe(false);
    await page.locator("#token-input").fill(lead);
    await page.locator("#token-go").click();
    await page.locator('body[data-state="ready"]').waitFor({ state: "attached", timeout: 30_000 });
    expect((await figure("burndown")).state).toBe("drawn");

    // The page asked the API for its data with the token, and loaded its chart library from this origin.
    const urls = browser.requested;
    expect(browser.blocked, "requests to other origins").toEqual([]);
    expect(urls.every((u) => u.startsWith(`${base}/`)), urls.join("\n")).toBe(true);
    expect(urls).toContain(`${base}/dashboard/chart.js/chart.umd.js`);
    expect(urls.filter((u) => u === `${base}/v1/projects/${PROJECT}/report`)).toHaveLength(3);
    expect(browser.errors).toEqual([]);

    // A server without the per-person and dataset reports (they answer 404): those sections say so, the rest is drawn.
    const missing = { status: 404, contentType: "application/problem+json", body: JSON.stringify({ type: "about:blank", title: "Not Found", status: 404 }) };
    await page.route(/\/report\/(annotators|dataset)(\?|$)/, (route) => route.fulfill(missing));
    await page.locator("#refresh").click();
    await page.locator('body[data-state="ready"]').waitFor({ state: "attached", timeout: 30_000 });
    expect(await page.locator("#message").textContent()).toBe("");
    expect(await page.locator("#annotators-note").textContent()).toContain("not available");
    expect(await page.locator("#annotators").isVisible()).toBe(false);
    expect(await rows.count()).toBe(0);
    expect(await page.locator("#dataset-summary").textContent()).toContain("not available");
    for (const id of ["edit-effort", "words", "nouns"]) expect((await figure(id)).state, id).toBe("unavailable");
    for (const id of ["funnel", "throughput", "burndown", "time"]) expect((await figure(id)).state, id).toBe("drawn");
    // The browser logs each 404 it was answered; nothing else went wrong.
    expect(browser.errors.filter((e) => !/status of 404/.test(e))).toEqual([]);
  } finally {
    await browser.close();
  }

  // An overlap sample: two annotators of one image, both accepted, so the agreement matrix has a cell to draw.
  const overlap = "dash-overlap";
  expect((await call(lead, "POST", "/v1/projects", { id: overlap, name: "Overlap", settings: { redundancy: { round1: 2 } } })).status).toBe(201);
  const scene = synthesizeScene(7);
  const form = new FormData();
  form.set("image", new Blob([scene.image], { type: "image/png" }), scene.fileName);
  form.set("panoptic", new Blob([scene.panoptic], { type: "image/png" }), "panoptic.png");
  form.set("segments_info", JSON.stringify(scene.segmentsInfo));
  expect((await fetch(`${base}/v1/projects/${overlap}/images`, { method: "POST", headers: { authorization: `Bearer ${lead}` }, body: form })).status).toBe(201);
  const overlapReviewer = await devToken("reviewer", [overlap], "e2e-dash-overlap-reviewer");
  for (const [i, name] of ["e2e-dash-overlap-1", "e2e-dash-overlap-2"].entries()) {
    const token = await devToken("annotator", [overlap], name);
    const lease = (await call<Lease>(token, "POST", `/v1/projects/${overlap}/tasks/next`, { round: 1, kind: "edit" })).data;
    await call(token, "POST", `/v1/tasks/${lease.task_id}/submissions`, { lease_token: lease.lease_token, regions: regions(lease, i === 1) }, { "idempotency-key": crypto.randomUUID() });
    const task = (await call<Lease>(overlapReviewer, "POST", `/v1/projects/${overlap}/tasks/next`, { round: 1, kind: "review" })).data;
    expect((await call(overlapReviewer, "POST", `/v1/submissions/${task.submission!.id}/reviews`, { decision: "accept" }, { "idempotency-key": crypto.randomUUID() })).status).toBe(201);
  }
  const agreement = (await call<{ images: number; matrix: unknown[] }>(lead, "GET", `/v1/projects/${overlap}/report/agreement`)).data;
  expect(agreement.images).toBe(1);
  const second = await openIsolatedBrowser();
  try {
    await second.page.goto(`${base}/projects/${overlap}/dashboard#token=${lead}`);
    await second.page.locator('body[data-state="ready"]').waitFor({ state: "attached", timeout: 30_000 });
    const matrix = second.page.locator("#agreement-matrix");
    expect(await matrix.getAttribute("data-state")).toBe("drawn");
    expect(await matrix.getAttribute("data-cells")).toBe(String(agreement.matrix.length));
    expect(await second.page.locator("#agreement-summary").textContent()).toContain("1 images of the overlap sample");
    expect(second.errors).toEqual([]);
  } finally {
    await second.close();
  }

  // Without a token the report is refused, so the page's data is only for leads.
  expect((await fetch(`${base}/v1/projects/${PROJECT}/report`)).status).toBe(401);
  const annotatorReport = await call(annotators[0], "GET", `/v1/projects/${PROJECT}/report`);
  expect(annotatorReport.status).toBe(403);
}
