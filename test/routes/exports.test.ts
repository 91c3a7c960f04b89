import { beforeAll, describe, expect, it } from "vitest";
import { call, createProject, tokenFor } from "../support/api.ts";

let lead: string;

beforeAll(async () => {
  lead = await tokenFor("lead", [], "exp-lead");
  await createProject(lead, { id: "exp-p" });
});

describe("export requests", () => {
  it("refuses bad formats, filters and job ids with precise problems", async () => {
    const format = await call("POST", "/v1/projects/exp-p/exports", { token: lead, json: { format: "coco" } });
    expect(format.status).toBe(400);
    expect(format.data.errors[0].path).toBe("body.format");
    const extra = await call("POST", "/v1/projects/exp-p/exports", { token: lead, json: { format: "pancap", colour: "red" } });
    expect(extra.status).toBe(400);
    const since = await call("GET", "/v1/projects/exp-p/exports/pancap?since=yesterday", { token: lead });
    expect(since.status).toBe(400);
    expect(since.data.errors[0].path).toBe("query.since");
    const status = await call("GET", "/v1/projects/exp-p/exports/t2i?status=maybe", { token: lead });
    expect(status.data.errors[0].path).toBe("query.status");
    expect((await call("GET", "/v1/projects/exp-p/exports/jobs/nope", { token: lead })).status).toBe(400);
    expect((await call("GET", "/v1/projects/exp-p/exports/jobs/exp_00000000000000000000000000", { token: lead })).status).toBe(404);
    expect((await call("GET", "/v1/projects/nowhere/exports/pancap", { token: lead })).status).toBe(404);
  });

  it("an empty project exports zero lines, and a job over it finishes with an empty file", { timeout: 30_000 }, async () => {
    const r = await call("GET", "/v1/projects/exp-p/exports/llava", { token: lead });
    expect(r.status).toBe(200);
    expect(await r.res.text()).toBe("");
    const job = await call("POST", "/v1/projects/exp-p/exports", { token: lead, json: { format: "t2i" } });
    expect(job.status).toBe(202);
    let done;
    for (let i = 0; i < 100 && !done; i++) {
      const g = await call("GET", `/v1/projects/exp-p/exports/jobs/${job.data.id}`, { token: lead });
      if (g.data.status === "done") done = g.data;
      else await new Promise((ok) => setTimeout(ok, 100));
    }
    expect(done).toMatchObject({ images: 0, bytes: 0 });
    expect(done.sha256).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"); // sha256 of nothing
    const file = await call("GET", done.download.url);
    expect(file.status).toBe(200);
    expect(await file.res.text()).toBe("");
  });
});
