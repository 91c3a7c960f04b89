import { describe, expect, it } from "vitest";
import { call } from "../support/api.ts";

/** The pages the Worker serves load nothing but this origin, and their scripts and styles are its own. */
describe("served pages", () => {
  for (const [page, script, style] of [
    ["/studies/stu_01jd5v6w7x8y9z0a1b2c3d4e5f/vote", "/studies/vote.js", "/studies/vote.css"],
    ["/projects/demo/dashboard", "/dashboard/dashboard.js", "/dashboard/dashboard.css"],
  ]) {
    it(`${page} is HTML under a policy that allows only this origin, with its script and styles`, async () => {
      const r = await call("GET", page);
      expect(r.status).toBe(200);
      expect(r.res.headers.get("content-type")).toContain("text/html");
      const policy = r.res.headers.get("content-security-policy") ?? "";
      expect(policy).toContain("default-src 'self'");
      expect(policy).toContain("script-src 'self'");
      expect(policy).toContain("connect-src 'self'");
      expect(policy).not.toMatch(/https?:/);
      const html = await r.res.text();
      expect(html).toContain(`src="${script}"`);
      expect(html).not.toMatch(/<script>(?!<\/script>)/); // no inline script: the policy would refuse it
      const js = await call("GET", script);
      expect(js.res.headers.get("content-type")).toContain("text/javascript");
      expect(await js.res.text()).not.toMatch(/https?:\/\/(?!127\.0\.0\.1)/);
      expect((await call("GET", style)).res.headers.get("content-type")).toContain("text/css");
    });
  }
});
