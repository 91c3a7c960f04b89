/**
 * End to end, the way the README says: `npm start` brings up the local server with the seeded demo,
 * then the bulk CLI ingests the real COCO-panoptic sample over HTTP.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { devToken } from "../../scripts/token.ts";
import { synthesizeScene } from "../../worker/imaging/synthetic.ts";
import { chromiumMissing, openIsolatedBrowser } from "./browser.ts";
import { DASHBOARD_SCREENSHOT, dashboardScenario } from "./dashboard.ts";

const ROOT = resolve(import.meta.dirname, "..", "..");
const SAMPLE = process.env.GROUNDWORK_SAMPLE_DIR ?? resolve(ROOT, "..", "shared", "data", "coco-panoptic-sample");
const PORT = 18787 + Math.floor(Math.random() * 1000);
const BASE = `http://127.0.0.1:${PORT}`;
const NODE = process.execPath;
// CI installs Chromium (.ci/run), so there a missing browser fails the test; elsewhere it may skip.
const BROWSER_SKIP = process.env.CI ? null : chromiumMissing();

let server: ChildProcess;
let output = "";
let stateDir: string;
let lead = "";

function waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  return new Promise((resolvePromise, reject) => {
    const started = Date.now();
    const timer = setInterval(() => {
      const m = output.match(pattern);
      if (m) {
        clearInterval(timer);
        resolvePromise(m);
      } else if (server.exitCode !== null || Date.now() - started > timeoutMs) {
        clearInterval(timer);
        reject(new Error(`npm start did not print ${pattern} (exit ${server.exitCode}); output:\n${output.slice(-4000)}`));
      }
    }, 200);
  });
}

/** A JSON (or form, or NDJSON) request to the local server with the lead token; throws unless the status is `expect`. */
async function api<T = any>(method: string, path: string, expect: number, body?: unknown, type = "application/json"): Promise<T> {
  const headers: Record<string, string> = { authorization: `Bearer ${lead}` };
  if (body !== undefined && !(body instanceof FormData)) headers["content-type"] = type;
  const payload = body === undefined || body instanceof FormData || typeof body === "string" ? (body as BodyInit | undefined) : JSON.stringify(body);
  const r = await fetch(`${BASE}${path}`, { method, headers, body: payload });
  const text = await r.text();
  if (r.status !== expect) throw new Error(`${method} ${path}: ${r.status} (wanted ${expect}) ${text.slice(0, 2000)}`);
  return (text ? JSON.parse(text) : null) as T;
}

function cli(args: string[]) {
  const r = spawnSync(NODE, ["scripts/ingest-coco.ts", ...args], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
  return { code: r.status, out: r.stdout + r.stderr };
}

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), "groundwork-e2e-"));
  // npm is on PATH next to the Node running the tests (the pinned one, under `npm test`).
  server = spawn("npm", ["start"], {
    cwd: ROOT,
    env: { ...process.env, PORT: String(PORT), GROUNDWORK_STATE_DIR: stateDir, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  server.stdout!.on("data", (d) => (output += d));
  server.stderr!.on("data", (d) => (output += d));
  const m = await waitFor(/LEAD_TOKEN=(\S+)/, 180_000);
  lead = m[1];
});

afterAll(async () => {
  if (server?.pid && server.exitCode === null) {
    process.kill(-server.pid, "SIGTERM");
    await new Promise((r) => setTimeout(r, 1500));
    try {
      process.kill(-server.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

describe("the local server started as the README says", () => {
  it("prints the docs URL and tokens, serves docs, and has the seeded demo", async () => {
    expect(output).toContain(`${BASE}/docs`);
    expect(output).toMatch(/ANNOTATOR_TOKEN=\S+/);
    expect((await fetch(`${BASE}/healthz`)).status).toBe(200);
    expect((await fetch(`${BASE}/docs`)).headers.get("content-type")).toContain("text/html");
    const images = await fetch(`${BASE}/v1/projects/demo/images`, { headers: { authorization: `Bearer ${lead}` } });
    expect(images.status).toBe(200);
    const body = (await images.json()) as { items: { id: string; segment_count: number }[] };
    expect(body.items.length).toBeGreaterThanOrEqual(3);
    for (const item of body.items) expect(item.segment_count).toBeGreaterThan(1);
    // The demo study is open and its voting page is served; the printed link carries a voter token.
    const study = /Study:\s+(stu_\w+) \(open\); vote at (\S+)#token=(\S+)/.exec(output);
    expect(study, output).not.toBeNull();
    expect((await fetch(study![2])).headers.get("content-type")).toContain("text/html");
    const ballot = await fetch(`${BASE}/v1/studies/${study![1]}/ballots/next`, { method: "POST", headers: { authorization: `Bearer ${study![3]}` } });
    expect(ballot.status).toBe(200);
  });

  it.skipIf(BROWSER_SKIP !== null)(
    `the docs page lists the API's operations in a browser that may reach nothing but loopback${BROWSER_SKIP ? ` (skipped: ${BROWSER_SKIP})` : ""}`,
    async () => {
      const doc = (await (await fetch(`${BASE}/openapi.json`)).json()) as { paths: Record<string, Record<string, { summary?: string }>> };
      const operations = Object.entries(doc.paths).flatMap(([path, item]) => Object.values(item).map((op) => ({ path, summary: op.summary ?? "" })));
      expect(operations.length).toBeGreaterThan(20);
      const browser = await openIsolatedBrowser();
      try {
        await browser.page.goto(`${BASE}/docs`);
        const rows = browser.page.locator(".opblock-summary-path");
        await rows.nth(operations.length - 1).waitFor({ timeout: 30_000 });
        // Swagger UI breaks long paths with zero-width spaces in the text; data-path holds the path as is.
        const paths = await rows.evaluateAll((els) => els.map((e) => e.getAttribute("data-path")));
        expect(paths.sort()).toEqual(operations.map((o) => o.path).sort());
        const text = await browser.page.locator("#swagger-ui").innerText();
        const picked = operations.filter((op) => /tasks\/next$|me\/tasks$|submissions$|exports\/\{format\}$/.test(op.path));
        expect(picked.length).toBeGreaterThanOrEqual(4);
        for (const o of picked) expect(text).toContain(o.summary);
        expect(browser.blocked, "requests to other origins").toEqual([]);
        expect(browser.requested.some((u) => u.endsWith("/docs/swagger-ui/swagger-ui-bundle.js"))).toBe(true);
        expect(browser.errors).toEqual([]);
      } finally {
        await browser.close();
      }
    },
  );

  it.skipIf(BROWSER_SKIP !== null)(
    `a participant votes through the study page in a browser (invite link, keys, a reason, a reload), and the results count every vote${BROWSER_SKIP ? ` (skipped: ${BROWSER_SKIP})` : ""}`,
    async () => {
      // A project of its own: four synthetic scenes, two caption sets a voter can tell apart.
      const project = "e2e-vote-page";
      await api("POST", "/v1/projects", 201, { id: project, name: "voting page e2e" });
      const seeds = [101, 102, 103, 104];
      for (const seed of seeds) {
        const scene = synthesizeScene(seed);
        const form = new FormData();
        form.set("image", new Blob([scene.image], { type: "image/png" }), scene.fileName);
        form.set("panoptic", new Blob([scene.panoptic], { type: "image/png" }), "panoptic.png");
        form.set("segments_info", JSON.stringify(scene.segmentsInfo));
        form.set("external_id", `scene-${seed}`);
        await api("POST", `/v1/projects/${project}/images`, 201, form);
      }
      const captionSet = (word: string) => seeds.map((seed) => JSON.stringify({ external_id: `scene-${seed}`, text: `${word} caption ${seed}` })).join("\n") + "\n";
      for (const [name, word] of [["a", "Alpha"], ["b", "Beta"]]) {
        const set = await api<{ lines: number }>("PUT", `/v1/projects/${project}/caption-sets/${name}`, 200, captionSet(word), "application/x-ndjson");
        expect(set.lines).toBe(seeds.length);
      }
      const study = await api<{ id: string }>("POST", `/v1/projects/${project}/studies`, 201, {
        name: "Alpha or Beta",
        question: "Which caption is better?",
        design: { sources: ["import:a", "import:b"], votesPerPair: 1, allowTies: true, reasons: ["hallucination"], seed: 7 },
      });
      const opened = await api<{ status: string; plan: { pairs: number; gold_pairs: number } }>("POST", `/v1/studies/${study.id}/open`, 200);
      expect(opened.status).toBe("open");
      expect(opened.plan).toMatchObject({ pairs: seeds.length, gold_pairs: 0 });
      const invite = await api<{ id: string; link: string }>("POST", `/v1/studies/${study.id}/invites`, 201, { participant_param: "PROLIFIC_PID", completion_code: "C0DE1234" });
      expect(invite.link.startsWith(`/studies/${study.id}/vote?invite=${invite.id}`)).toBe(true);

      const browser = await openIsolatedBrowser();
      const { page } = browser;
      try {
        await page.goto(`${BASE}${invite.link}&PROLIFIC_PID=participant-1`);
        const ballot = page.locator("#ballot");
        const done = page.locator("#done");
        const progress: string[] = [];
        const seen: string[] = [];
        const sides: string[] = [];
        let ticked = false;
        let reloaded = false;
        for (let round = 0; ; round++) {
          expect(round, "more ballots than pairs").toBeLessThanOrEqual(seeds.length);
          // The first ballot, or the one after the last vote: wait until the page shows a ballot not yet voted on (or is done).
          await page.waitForFunction(
            (last) => {
              // Runs in the page (this project's TypeScript has no DOM types).
              const doc = (globalThis as unknown as { document: { getElementById(id: string): { hidden: boolean; textContent: string | null } } }).document;
              const el = (id: string) => doc.getElementById(id);
              return !el("done").hidden || (!el("ballot").hidden && el("text-A").textContent + "|" + el("text-B").textContent !== last);
            },
            seen.at(-1) ?? "",
            { timeout: 30_000 },
          );
          if (await done.isVisible()) break;
          expect(await page.locator("#message").textContent()).toBe("");
          const a = (await page.locator("#text-A").textContent()) ?? "";
          const b = (await page.locator("#text-B").textContent()) ?? "";
          expect([a, b].sort()).toEqual([expect.stringMatching(/^Alpha caption \d+$/), expect.stringMatching(/^Beta caption \d+$/)]);
          expect(a.slice(a.indexOf("caption"))).toBe(b.slice(b.indexOf("caption")));
          seen.push(`${a}|${b}`);
          progress.push((await page.locator("#progress").textContent()) ?? "");
          const alphaOnLeft = a.startsWith("Alpha");
          sides.push(alphaOnLeft ? "A" : "B");
          if (!ticked) {
            // The reason goes against the Beta caption, wherever it is shown.
            const box = page.locator(`input[name="reason-${alphaOnLeft ? "B" : "A"}"][value="hallucination"]`);
            await box.check();
            ticked = true;
          }
          await page.keyboard.press(alphaOnLeft ? "1" : "2");
          if (!reloaded) {
            // After the first vote, reload: the token is in sessionStorage, so the same participant carries on with the next ballot.
            await page.locator("#progress").filter({ hasText: /^Ballot 2$/ }).waitFor({ timeout: 30_000 });
            await page.reload();
            await ballot.waitFor({ state: "visible", timeout: 30_000 });
            expect(await page.locator("#progress").textContent()).toBe("Ballot 2");
            reloaded = true;
          }
        }
        expect(await ballot.isVisible()).toBe(false);
        expect(await page.locator("#completion").isVisible()).toBe(true);
        expect(await page.locator("#completion-code").textContent()).toBe("C0DE1234");
        expect(await page.locator("#progress").textContent()).toBe(`${seeds.length} votes`);
        expect(progress).toEqual(seeds.map((_, i) => `Ballot ${i + 1}`));
        expect(new Set(seen.map((s) => s.replace(/^\D+|\|.*$/g, ""))).size).toBe(seeds.length);
        // Counterbalanced: the participant saw the Alpha caption on each side in half of the ballots, so pressed both "1" and "2".
        expect(sides.filter((side) => side === "A")).toHaveLength(seeds.length / 2);
        expect(await page.locator("#message").textContent()).toBe("");
        // One participant joined once (the reload reused the token), and every ballot showed its image.
        expect(browser.requested.filter((u) => u.endsWith(`/v1/studies/${study.id}/participants`))).toHaveLength(1);
        expect(browser.requested.filter((u) => u.includes("/files/image")).length).toBeGreaterThanOrEqual(seeds.length);
        expect(browser.blocked, "requests to other origins").toEqual([]);
        expect(browser.errors).toEqual([]);
      } finally {
        await browser.close();
      }

      type Results = {
        pairs: { a: string; b: string; wins: number; ties: number; losses: number }[];
        coverage: { pairs_planned: number; pairs_with_k_votes: number };
        voters_table: { voter: string; votes: number }[];
        reasons: { source: string; code: string; count: number }[];
      };
      const results = await api<Results>("GET", `/v1/studies/${study.id}/results?resamples=100`, 200);
      expect(results.pairs).toHaveLength(1);
      expect(results.pairs[0]).toMatchObject({ a: "import:a", b: "import:b", wins: seeds.length, ties: 0, losses: 0 });
      expect(results.coverage).toMatchObject({ pairs_planned: seeds.length, pairs_with_k_votes: seeds.length });
      expect(results.voters_table.map((v) => ({ voter: v.voter, votes: v.votes }))).toEqual([{ voter: `participant:${invite.id}:participant-1`, votes: seeds.length }]);
      expect(results.reasons).toContainEqual({ source: "import:b", code: "hallucination", count: 1 });
      expect(results.reasons.filter((r) => r.source === "import:a")).toEqual([]);
    },
  );

  it("claims and submits arriving together share D1 batches in the real runtime; no task is leased twice, none submitted twice", async () => {
    // Requests share a batch only where the runtime wakes each in its own context, which the
    // worker tests' pool turns off: this is the one place the cross-request path runs under test.
    const tokens = await Promise.all(Array.from({ length: 40 }, (_, i) => devToken("annotator", ["demo"], `e2e-claimer-${i}`)));
    const answers = await Promise.all(
      tokens.map(async (token) => {
        const r = await fetch(`${BASE}/v1/projects/demo/tasks/next`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify({ round: 1, kind: "edit" }),
        });
        const batch = Number(/batch of (\d+)/.exec(r.headers.get("server-timing") ?? "")?.[1]);
        type Lease = { task_id: string; lease_token: string; image: { id: string }; start: { texts: { segment_id: number; text: string }[] } };
        return { status: r.status, batch, token, lease: r.status === 200 ? ((await r.json()) as Lease) : null };
      }),
    );
    expect(answers.every((a) => a.status === 200 || a.status === 204)).toBe(true);
    expect(answers.every((a) => a.batch >= 1)).toBe(true);
    expect(Math.max(...answers.map((a) => a.batch))).toBeGreaterThan(1);
    const leases = answers.flatMap((a) => (a.lease ? [{ ...a.lease, bearer: a.token }] : []));
    expect(leases.length).toBeGreaterThan(0);
    expect(new Set(leases.map((l) => l.task_id)).size).toBe(leases.length);

    // Their submits, all at once (group-committed too), then all retried at once: each recorded once, a retry answers the same.
    const submitAll = () =>
      Promise.all(
        leases.map(async (l) => {
          const r = await fetch(`${BASE}/v1/tasks/${l.task_id}/submissions`, {
            method: "POST",
            headers: { authorization: `Bearer ${l.bearer}`, "content-type": "application/json", "idempotency-key": `e2e-submit-${l.task_id}` },
            body: JSON.stringify({ lease_token: l.lease_token, regions: l.start.texts.map((t) => ({ segment_id: t.segment_id, action: "accepted", text: t.text })) }),
          });
          return { status: r.status, id: ((await r.json()) as { id: string }).id };
        }),
      );
    const first = await submitAll();
    expect(first.map((s) => s.status)).toEqual(leases.map(() => 201));
    expect(new Set(first.map((s) => s.id)).size).toBe(leases.length);
    const again = await submitAll();
    expect(again).toEqual(first);
  });

  it.skipIf(BROWSER_SKIP !== null)(
    `the lead's dashboard draws every chart from the API's figures, after work through the API, in a browser that may reach nothing but loopback${BROWSER_SKIP ? ` (skipped: ${BROWSER_SKIP})` : ""}`,
    async () => {
      // After the claims above, so it reviews their submissions too; a screenshot is left at DASHBOARD_SCREENSHOT.
      await dashboardScenario(BASE, lead);
      expect(existsSync(DASHBOARD_SCREENSHOT)).toBe(true);
    },
  );

  describe.skipIf(!existsSync(join(SAMPLE, "panoptic_examples.json")))(
    `bulk CLI on the COCO-panoptic sample${existsSync(join(SAMPLE, "panoptic_examples.json")) ? "" : ` (skipped: no sample at ${SAMPLE})`}`,
    () => {
      const sampleArgs = (json = join(SAMPLE, "panoptic_examples.json"), project = "demo") => [
        "--images", join(SAMPLE, "images"),
        "--panoptic", join(SAMPLE, "panoptic"),
        "--json", json,
        "--api", BASE,
        "--token", lead,
        "--project", project,
      ];

      it("ingests both sample images, then resumes by skipping them", async () => {
        const first = cli(sampleArgs());
        expect(first.code, first.out).toBe(0);
        expect(first.out).toMatch(/created\D+2/i);

        const list = await fetch(`${BASE}/v1/projects/demo/images?limit=200`, { headers: { authorization: `Bearer ${lead}` } });
        const items = ((await list.json()) as { items: { external_id: string | null; id: string }[] }).items;
        const coco = items.filter((i) => i.external_id === "142238" || i.external_id === "439180");
        expect(coco).toHaveLength(2);
        const detail = (await (await fetch(`${BASE}/v1/images/${coco[0].id}`, { headers: { authorization: `Bearer ${lead}` } })).json()) as { segments: unknown[] };
        expect(detail.segments.length).toBeGreaterThan(10);

        const second = cli(sampleArgs());
        expect(second.code, second.out).toBe(0);
        expect(second.out).toMatch(/skipped\D+2/i);
      });

      it("reports a rejected image and exits non-zero", async () => {
        const examples = JSON.parse(readFileSync(join(SAMPLE, "panoptic_examples.json"), "utf8"));
        examples.annotations[0].segments_info[0].area += 1;
        const dir = mkdtempSync(join(tmpdir(), "groundwork-bad-"));
        const json = join(dir, "bad.json");
        writeFileSync(json, JSON.stringify(examples));
        const create = await fetch(`${BASE}/v1/projects`, {
          method: "POST",
          headers: { authorization: `Bearer ${lead}`, "content-type": "application/json" },
          body: JSON.stringify({ id: "e2e-bad", name: "bad sample" }),
        });
        expect(create.status).toBe(201);
        const r = cli(sampleArgs(json, "e2e-bad"));
        rmSync(dir, { recursive: true, force: true });
        expect(r.code, r.out).toBe(1);
        expect(r.out).toContain(String(examples.annotations[0].segments_info[0].id));
        expect(r.out).toMatch(/area/);
      });
    },
  );
});
