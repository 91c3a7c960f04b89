import { env } from "cloudflare:test";
import { importJWK, SignJWT, UnsecuredJWT } from "jose";
import { describe, expect, it, vi } from "vitest";
import { verifyBearer } from "../../worker/auth/token.ts";
import { call, createProject, tokenFor } from "../support/api.ts";

const claims = (extra: Record<string, unknown> = {}) => ({ role: "lead", projects: ["auth-p"], ...extra });

async function hs256(secret: string, opts: { exp?: string | number; aud?: string; iss?: string; payload?: Record<string, unknown> } = {}) {
  return new SignJWT(opts.payload ?? claims())
    .setProtectedHeader({ alg: "HS256" })
    .setSubject("someone")
    .setIssuer(opts.iss ?? env.JWT_ISSUER)
    .setAudience(opts.aud ?? env.JWT_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(opts.exp ?? "10m")
    .sign(new TextEncoder().encode(secret));
}

async function idpToken(kid: "rsa-1" | "ec-1", payload: Record<string, unknown> = claims()) {
  const jwk = JSON.parse(env.TEST_IDP_PRIVATE_JWKS).keys.find((k: { kid: string }) => k.kid === kid);
  const alg = kid === "rsa-1" ? "RS256" : "ES256";
  return new SignJWT(payload)
    .setProtectedHeader({ alg, kid })
    .setSubject("idp-user")
    .setIssuer(env.JWT_ISSUER)
    .setAudience(env.JWT_AUDIENCE)
    .setExpirationTime("10m")
    .sign(await importJWK(jwk, alg));
}

describe("authentication", () => {
  it("401 without a token, with a malformed header, and with garbage", async () => {
    for (const headers of [{}, { authorization: "Basic abc" }, { authorization: "Bearer not.a.jwt" }] as Record<string, string>[]) {
      const r = await call("GET", "/v1/projects", { headers });
      expect(r.status).toBe(401);
      expect(r.res.headers.get("www-authenticate")).toContain("Bearer");
      expect(r.data.type).toMatch(/unauthorized$/);
    }
  });

  it("refuses alg none", async () => {
    const none = new UnsecuredJWT(claims()).setSubject("x").setIssuer(env.JWT_ISSUER).setAudience(env.JWT_AUDIENCE).setExpirationTime("10m").encode();
    const r = await call("GET", "/v1/projects", { token: none });
    expect(r.status).toBe(401);
    expect(r.data.detail).toContain('alg "none"');
  });

  it("refuses a token signed with the wrong key", async () => {
    const r = await call("GET", "/v1/projects", { token: await hs256("another-secret-that-is-long-enough-0000") });
    expect(r.status).toBe(401);
    expect(r.data.detail).toContain("signature");
  });

  it("refuses an expired token", async () => {
    const r = await call("GET", "/v1/projects", { token: await hs256(env.JWT_SECRET, { exp: Math.floor(Date.now() / 1000) - 60 }) });
    expect(r.status).toBe(401);
    expect(r.data.detail).toContain("expired");
  });

  it("refuses the wrong audience and the wrong issuer", async () => {
    const aud = await call("GET", "/v1/projects", { token: await hs256(env.JWT_SECRET, { aud: "someone-else" }) });
    expect(aud.status).toBe(401);
    expect(aud.data.detail).toContain('"aud"');
    const iss = await call("GET", "/v1/projects", { token: await hs256(env.JWT_SECRET, { iss: "evil" }) });
    expect(iss.status).toBe(401);
    expect(iss.data.detail).toContain('"iss"');
  });

  it("a token remembered as verified is still refused once it expires", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      const token = await tokenFor("admin", [], "short-lived", { ttlSeconds: 60 });
      expect((await call("GET", "/v1/projects", { token })).status).toBe(200);
      expect((await call("GET", "/v1/projects", { token })).status).toBe(200);
      vi.setSystemTime(Date.now() + 70_000); // past exp and the 5 s clock tolerance
      const late = await call("GET", "/v1/projects", { token });
      expect(late.status).toBe(401);
      expect(late.data.detail).toContain("expired");
    } finally {
      vi.useRealTimers();
    }
  });

  it("refuses an unknown role", async () => {
    const r = await call("GET", "/v1/projects", { token: await hs256(env.JWT_SECRET, { payload: { role: "root", projects: [] } }) });
    expect(r.status).toBe(401);
    expect(r.data.detail).toContain("role");
  });

  it("accepts RS256 and ES256 tokens from the identity provider's JWKS", async () => {
    for (const kid of ["rsa-1", "ec-1"] as const) {
      const r = await call("GET", "/v1/projects", { token: await idpToken(kid) });
      expect(r.status).toBe(200);
    }
  });

  it("verifies RS256 and ES256 tokens against a JWKS URL, and refuses an unknown key id", async () => {
    const viaUrl = { ...env, JWT_JWKS: undefined, JWT_JWKS_URL: env.TEST_JWKS_URL };
    for (const kid of ["rsa-1", "ec-1"] as const) {
      const p = await verifyBearer(await idpToken(kid), viaUrl);
      expect(p).toEqual({ subject: "idp-user", role: "lead", projects: ["auth-p"] });
    }
    const jwk = JSON.parse(env.TEST_IDP_PRIVATE_JWKS).keys[0];
    const unknownKid = await new SignJWT(claims())
      .setProtectedHeader({ alg: "RS256", kid: "rotated-away" })
      .setSubject("x").setIssuer(env.JWT_ISSUER).setAudience(env.JWT_AUDIENCE).setExpirationTime("10m")
      .sign(await importJWK(jwk, "RS256"));
    await expect(verifyBearer(unknownKid, viaUrl)).rejects.toMatchObject({ kind: "unauthorized" });
    // without any IdP keys configured, asymmetric tokens are refused outright
    await expect(verifyBearer(await idpToken("ec-1"), { ...env, JWT_JWKS: undefined, JWT_JWKS_URL: undefined })).rejects.toMatchObject({
      kind: "unauthorized",
      detail: expect.stringContaining("no identity provider keys"),
    });
  });

  it("does not accept an HS256 token whose secret is the IdP's public key (algorithm confusion)", async () => {
    const r = await call("GET", "/v1/projects", { token: await hs256(env.JWT_JWKS) });
    expect(r.status).toBe(401);
  });
});

describe("authorization", () => {
  it("403 for another project's id, 403 for an annotator on a lead endpoint", async () => {
    const lead = await tokenFor("lead", [], "auth-lead");
    await createProject(lead, { id: "auth-p" });
    await createProject(await tokenFor("lead", [], "other-lead"), { id: "auth-q" });

    const annotator = await tokenFor("annotator", ["auth-p"]);
    expect((await call("GET", "/v1/projects/auth-p", { token: annotator })).status).toBe(200);
    const foreign = await call("GET", "/v1/projects/auth-q", { token: annotator });
    expect(foreign.status).toBe(403);
    expect(foreign.data.detail).toContain("auth-q");

    const leadOnly = await call("PATCH", "/v1/projects/auth-p", { token: annotator, json: { name: "mine now" } });
    expect(leadOnly.status).toBe(403);
    expect(leadOnly.data.detail).toContain('role "annotator"');
    const create = await call("POST", "/v1/projects", { token: annotator, json: { name: "nope" } });
    expect(create.status).toBe(403);

    // the creating lead keeps access without the project in its token; another lead does not
    expect((await call("PATCH", "/v1/projects/auth-p", { token: lead, json: { name: "renamed" } })).status).toBe(200);
    expect((await call("GET", "/v1/projects/auth-p", { token: await tokenFor("lead", [], "stranger") })).status).toBe(403);
    expect((await call("GET", "/v1/projects/auth-q", { token: await tokenFor("admin") })).status).toBe(200);
  });
});

describe("edges", () => {
  it("healthz, openapi and docs need no token; unknown routes are problem+json 404", async () => {
    expect((await call("GET", "/healthz")).data.status).toBe("ok");
    // The probe through the claims' group commit (alone here: the test pool cannot share batches across requests).
    const batched = await call("GET", "/healthz?via=group-commit");
    expect(batched.data.status).toBe("ok");
    expect(batched.res.headers.get("server-timing")).toContain('d1;desc="1 statements in 1 calls"');
    expect((await call("GET", "/healthz?via=elsewhere")).status).toBe(400);
    const doc = await call("GET", "/openapi.json");
    expect(doc.data.openapi).toBe("3.1.0");
    expect(Object.keys(doc.data.paths)).toEqual(
      expect.arrayContaining(["/v1/projects", "/v1/projects/{projectId}", "/v1/projects/{projectId}/images", "/v1/images/{imageId}", "/v1/images/{imageId}/files/{kind}", "/healthz"]),
    );
    expect(doc.data.components.schemas.Problem).toBeDefined();
    const docs = await call("GET", "/docs");
    expect(docs.status).toBe(200);
    expect(await docs.res.text()).toContain("/openapi.json");
    const missing = await call("GET", "/v1/nothing-here", { token: await tokenFor("admin") });
    expect(missing.status).toBe(404);
    expect(missing.res.headers.get("content-type")).toContain("application/problem+json");
  });

  it("CORS: allowed origins get the header, others never do; preflight is answered", async () => {
    const allowed = await call("OPTIONS", "/v1/projects", {
      headers: { origin: "http://localhost:5173", "access-control-request-method": "POST", "access-control-request-headers": "authorization,content-type" },
    });
    expect(allowed.status).toBe(204);
    expect(allowed.res.headers.get("access-control-allow-origin")).toBe("http://localhost:5173");
    expect(allowed.res.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("authorization");
    const denied = await call("OPTIONS", "/v1/projects", { headers: { origin: "https://evil.example", "access-control-request-method": "POST" } });
    expect(denied.res.headers.get("access-control-allow-origin")).toBeNull();
    expect(denied.res.headers.get("access-control-allow-credentials")).toBeNull();
    const get = await call("GET", "/healthz", { headers: { origin: "https://evil.example" } });
    expect(get.res.headers.get("access-control-allow-origin")).toBeNull();
  });
});
