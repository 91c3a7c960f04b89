import { env, SELF } from "cloudflare:test";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { accessOf } from "../../worker/auth/access-matrix.ts";
import { synthesizeScene } from "../../worker/imaging/synthetic.ts";
import { BASE } from "../support/api.ts";
import { CELLS, seedWorld, type Cell, type World } from "../support/world.ts";
import { MALFORMED, operationsOf, requestViolation, responseViolation, type Operation, type RequestParts } from "./contract.ts";
import { mutate, NASTY_STRINGS, valid, type Schema } from "./schema-arbitrary.ts";

/**
 * The API fuzzed from its own OpenAPI document: every operation in turn, with no token and with
 * each kind of principal, valid inputs drawn from its schemas and hostile ones (wrong types,
 * missing and extra fields, numbers past their bounds, oversize strings, Unicode edge cases, NUL
 * bytes, malformed ids, path traversal, wrong and missing content types, malformed JSON, huge
 * headers), on a seeded world so operations get past their 404s. Every response must be below
 * 500, documented for its operation, of a documented content type and schema, problem+json when
 * an error; a request that breaks the schema must be refused; a request that keeps to it, from
 * someone allowed, must not be refused as invalid (400/415): the schema would have said so.
 *
 * Reproducible: FUZZ_SEED=<seed> replays a run (request i is drawn from seed + i), FUZZ_SEED=random
 * draws a new one; FUZZ_REQUESTS sets its length (CI: 1,500 from a fixed seed;
 * `FUZZ_SEED=random FUZZ_REQUESTS=25000 npx vitest run --project worker test/fuzz` for a long local run).
 */
// CI replays one fixed run, so a red build is always reproducible; FUZZ_SEED=random explores.
const SEED = env.FUZZ_SEED === "random" ? Math.floor(Math.random() * 2 ** 31) : Number(env.FUZZ_SEED || 20261202);
const REQUESTS = Number(env.FUZZ_REQUESTS || 1500);

/**
 * Text whose content a JSON Schema cannot describe: an NDJSON upload's lines, and the multipart
 * ingest's JSON-in-a-field and image bytes. A schema-valid request may be refused for these, as
 * long as the problem names only them.
 */
const TEXT_READ_BY_SERVER: Record<string, RegExp> = {
  "PUT /v1/projects/{projectId}/caption-sets/{name}": /^(body\b|line \d+$)/,
  "POST /v1/projects/{projectId}/images": /^body\.(segments_info|image|panoptic)\b/,
};

let world: World;
let ops: Operation[] = [];

beforeAll(async () => {
  world = await seedWorld("fz");
  ops = operationsOf(await (await SELF.fetch(`${BASE}/openapi.json`)).json());
}, 120_000);

/** The world's object for a path parameter of an operation (what the access test uses too). */
function worldValue(op: Operation, name: string): string {
  const w = world;
  const values: Record<string, string> = {
    projectId: w.projectA,
    imageId: op.path.endsWith("/caption") ? w.finalImage : op.path.includes("/regions/") ? w.region.image : w.imageA,
    kind: "image",
    round: "1",
    jobId: op.path.includes("/exports/") ? w.exportJob : w.draftJob,
    taskId: w.held.heartbeat.task_id,
    submissionId: w.submission,
    segmentId: String(w.region.segment),
    format: "pancap",
    file: "manifest",
    name: w.captionSet,
    studyId: /\/studies\/\{studyId\}$/.test(op.path) ? w.studyDraft : w.studyOpen,
    ballotId: w.ballot.id,
  };
  return values[name] ?? "x";
}

type Mode = "valid" | "mutated" | "protocol";
interface Drawn {
  mode: Mode;
  cell: Cell;
  path: Record<string, string>;
  query: Record<string, string>;
  headers: Record<string, string>;
  /** The body as a value, before serialising. */
  body: unknown;
  bodyType: string | null;
  protocol: "none" | "malformed-json" | "wrong-type" | "no-type" | "no-body" | "huge-header" | "bad-token" | "unknown-query" | "traversal";
}

const asParam = (v: unknown): string => (typeof v === "string" ? v : typeof v === "object" ? JSON.stringify(v) : String(v));
const wellFormed = (v: string) => v.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "\ufffd");
/** Header values are bytes: keep them to visible Latin-1 so fetch() will send them. */
const asHeader = (v: unknown): string => asParam(v).replace(/[^\x20-\x7e]/g, "?").slice(0, 20_000);

function drawFor(op: Operation): fc.Arbitrary<Drawn> {
  const mode = fc.constantFrom<Mode>("valid", "valid", "valid", "mutated", "mutated", "protocol");
  const cell = fc.constantFrom(...CELLS);
  const paramArbs = op.params.map((p) => {
    const good = valid(p.schema);
    const chosen =
      p.in === "path"
        ? fc.oneof({ weight: 6, arbitrary: fc.constant(worldValue(op, p.name)) }, { weight: 2, arbitrary: good }, { weight: 1, arbitrary: fc.constantFrom(...NASTY_STRINGS) })
        : good;
    const present = p.required || p.in === "path" ? fc.constant(true) : fc.boolean();
    return fc.record({ p: fc.constant(p), present, value: chosen, bad: mutate(p.schema, undefined) });
  });
  const bodyType = op.body ? fc.constantFrom(...Object.keys(op.body.content)) : fc.constant(null);
  return fc.record({ mode, cell, params: fc.tuple(...paramArbs), bodyType, protocol: fc.constantFrom<Drawn["protocol"]>("malformed-json", "wrong-type", "no-type", "no-body", "huge-header", "bad-token", "unknown-query", "traversal") }).chain((d) => {
    const schema: Schema | null = d.bodyType && op.body ? op.body.content[d.bodyType] : null;
    const body = schema ? valid(schema) : fc.constant(undefined);
    return body.chain((b) =>
      (d.mode === "mutated" && schema ? fc.oneof(mutate(schema, b), fc.constant(b)) : fc.constant(b)).chain((mb) =>
        fc.integer({ min: 0, max: Math.max(0, d.params.length - 1) }).map((mutateAt) => {
          const path: Record<string, string> = {};
          const query: Record<string, string> = {};
          const headers: Record<string, string> = {};
          d.params.forEach((x, i) => {
            const broken = d.mode === "mutated" && i === mutateAt && mb === b;
            if (!x.present && !broken) return;
            const value = broken ? x.bad : x.value;
            if (x.p.in === "path") path[x.p.name] = asParam(value);
            else if (x.p.in === "query") query[x.p.name] = asParam(value);
            else headers[x.p.name.toLowerCase()] = asHeader(value);
          });
          return { mode: d.mode, cell: d.cell, path, query, headers, body: mb, bodyType: d.bodyType, protocol: d.mode === "protocol" ? d.protocol : "none" } satisfies Drawn;
        }),
      ),
    );
  });
}

/** The drawn request as bytes on the wire, and what it carried as the contract sees it. */
function build(op: Operation, d: Drawn): { url: string; init: RequestInit; parts: RequestParts } {
  const path = { ...d.path };
  if (d.protocol === "traversal" && op.params.some((p) => p.in === "path")) {
    const name = op.params.find((p) => p.in === "path")!.name;
    path[name] = "..%2F..%2Fwrangler.toml";
  }
  // A path value of only dots would be a dot segment, which URL parsing removes: the request would
  // be another operation's.
  // Lone surrogates cannot be percent-encoded: a client's URL library sends U+FFFD instead.
  const segment = (v: string) => wellFormed(/^\.*$/.test(v) ? `x${v}` : v);
  for (const k of Object.keys(path)) path[k] = segment(path[k]);
  const url = op.path.replace(/\{(\w+)\}/g, (_, n: string) => encodeURIComponent(path[n] ?? "x").replace(/\./g, "%2E"));
  const query = { ...d.query };
  if (d.protocol === "unknown-query") query["x-unknown"] = "42";
  const headers: Record<string, string> = { ...d.headers };
  if (d.cell !== "anonymous") headers.authorization = `Bearer ${world.tokens[d.cell]}`;
  if (d.protocol === "bad-token") headers.authorization = "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOnt9fQ.bad";
  if (d.protocol === "huge-header") headers["x-padding"] = "p".repeat(16_000);

  let body: BodyInit | undefined;
  let parsed: unknown = d.body;
  let type = d.bodyType;
  if (d.bodyType && d.body !== undefined) {
    if (d.bodyType === "multipart/form-data") {
      const fd = new FormData();
      const scene = synthesizeScene(7);
      const record = (d.body && typeof d.body === "object" ? d.body : {}) as Record<string, unknown>;
      parsed = {};
      for (const [k, v] of Object.entries(record)) {
        const file = (op.body!.content[d.bodyType].properties?.[k] as Schema | undefined)?.format === "binary";
        if (file && typeof v === "string") {
          fd.set(k, new Blob([k === "image" ? scene.image : k === "panoptic" ? scene.panoptic : new TextEncoder().encode(v)], { type: "image/png" }), `${k}.png`);
        } else fd.set(k, asParam(v));
        (parsed as Record<string, unknown>)[k] = typeof v === "string" ? v : asParam(v);
      }
      body = fd;
      type = null; // fetch sets multipart/form-data with its boundary
    } else if (d.bodyType === "application/json") {
      body = JSON.stringify(d.body);
    } else {
      body = asParam(d.body);
      parsed = body;
    }
  }
  let contentType: string | null = d.bodyType;
  if (d.protocol === "malformed-json" && d.bodyType === "application/json") {
    body = `{"truncated": ${JSON.stringify(d.body ?? {}).slice(0, 7)}`;
    parsed = MALFORMED;
  }
  if (d.protocol === "wrong-type" && body !== undefined) {
    body = typeof body === "string" ? body : JSON.stringify(d.body);
    type = contentType = "text/plain";
  }
  if (d.protocol === "no-type" && body !== undefined) {
    body = new Blob([typeof body === "string" ? body : JSON.stringify(d.body)]);
    type = contentType = null;
  }
  if (d.protocol === "no-body") {
    body = undefined;
    parsed = undefined;
  }
  if (type) headers["content-type"] = type;
  const qs = Object.keys(query).length ? `?${new URLSearchParams(query)}` : "";
  return {
    url: `${BASE}${url}${qs}`,
    init: { method: op.method, headers, body },
    parts: { path: Object.fromEntries(Object.entries(path).map(([k, v]) => [k, v])), query, headers, contentType: body === undefined ? null : contentType, body: body === undefined ? undefined : parsed },
  };
}

interface Finding {
  index: number;
  op: string;
  cell: Cell;
  mode: string;
  status: number;
  problem: string;
}

describe("the API, fuzzed from its OpenAPI document", () => {
  it("answers every request below 500, as documented, refusing exactly the requests its schema refuses", async () => {
    console.log(`fuzz: seed ${SEED}, ${REQUESTS} requests over ${ops.length} operations (replay with FUZZ_SEED=${SEED})`);
    const findings: Finding[] = [];
    const statuses = new Map<number, number>();
    let acceptedValid = 0;
    for (let i = 0; i < REQUESTS; i++) {
      const op = ops[i % ops.length];
      const [drawn] = fc.sample(drawFor(op), { seed: SEED + i, numRuns: 1 });
      const { url, init, parts } = build(op, drawn);
      const violation = requestViolation(op, parts);
      const res = await SELF.fetch(url, init);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      const note = (problem: string) => findings.push({ index: i, op: op.key, cell: drawn.cell, mode: `${drawn.mode}/${drawn.protocol}`, status: res.status, problem });
      if (res.status >= 500) note(`a ${res.status}: ${await res.clone().text()}`);
      const wrong = await responseViolation(op, res.clone());
      if (wrong) note(wrong);
      if (violation && res.status < 400) note(`accepted a request that breaks the schema (${violation})`);
      const allowed = drawn.protocol !== "bad-token" && accessOf(op.key)[drawn.cell] === "allow";
      if (!violation && allowed && (res.status === 400 || res.status === 415)) {
        const problem = await res.clone().json<{ detail?: string; errors?: { path: string }[] }>().catch(() => ({ detail: "", errors: [] }));
        const readByServer = TEXT_READ_BY_SERVER[op.key];
        const excused = res.status === 400 && readByServer && (problem.errors ?? []).length > 0 && problem.errors!.every((e) => readByServer.test(e.path));
        if (!excused) note(`refused a schema-valid request: ${problem.detail}`);
      }
      if (!violation && res.status < 300) acceptedValid++;
      await res.body?.cancel();
    }
    const summary = [...statuses].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}×${n}`).join(" ");
    console.log(`fuzz: ${REQUESTS} requests, ${findings.length} findings; statuses ${summary}; ${acceptedValid} valid requests accepted`);
    const distinct = new Map<string, Finding>();
    for (const f of findings) distinct.set(`${f.op} ${f.problem.slice(0, 60)}`, f);
    expect([...distinct.values()].map((f) => `#${f.index} ${f.op} as ${f.cell} (${f.mode}) → ${f.status}: ${f.problem}`).slice(0, 60)).toEqual([]);
  }, 900_000);
});
