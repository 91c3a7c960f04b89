import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { BASE } from "../support/api.ts";

// What a browser makes of the page, and the static assets it loads (SELF bypasses the asset router),
// are test/e2e's; here, that the page names nothing off this origin.
describe("/docs", () => {
  it("is served with a policy that keeps it on this origin, and links only to this origin", async () => {
    const res = await SELF.fetch(`${BASE}/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/html");
    const policy = res.headers.get("content-security-policy") ?? "";
    for (const directive of ["default-src 'self'", "script-src 'self'", "connect-src 'self'"]) expect(policy).toContain(directive);
    const html = await res.text();
    const links = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    expect(links).toEqual(expect.arrayContaining(["/docs/swagger-ui/swagger-ui-bundle.js", "/docs/swagger-ui/swagger-ui.css", "/docs/init.js", "/openapi.json"]));
    for (const link of links) expect(link, link).toMatch(/^\/(?!\/)/);
  });

  it("starts Swagger UI on this origin's document, without the online validator", async () => {
    const res = await SELF.fetch(`${BASE}/docs/init.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("javascript");
    const script = await res.text();
    expect(script).toContain('url: "/openapi.json"');
    expect(script).toContain("validatorUrl: null");
    expect(script).not.toMatch(/https?:\/\//);
  });
});
