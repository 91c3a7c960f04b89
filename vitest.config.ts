import { generateKeyPairSync } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join, resolve } from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { writeDocsAssets } from "./scripts/docs-assets.ts";
import { startMockVlm } from "./scripts/mock-vlm.ts";

const root = import.meta.dirname;

/**
 * Tests run inside workerd, which cannot read the host file system, so the shared COCO-panoptic
 * sample is read here (in Node) and handed to the tests as a binding. When it is absent the binding
 * says why, and the tests that need it skip with that reason.
 */
function readSample(): { available: boolean; reason?: string; files: Record<string, string> } {
  const dir = process.env.GROUNDWORK_SAMPLE_DIR ?? resolve(root, "..", "shared", "data", "coco-panoptic-sample");
  if (!existsSync(join(dir, "panoptic_examples.json"))) {
    return { available: false, reason: `COCO-panoptic sample not found at ${dir}`, files: {} };
  }
  const files: Record<string, string> = {};
  for (const sub of ["images", "panoptic"]) {
    for (const name of readdirSync(join(dir, sub))) {
      files[`${sub}/${name}`] = readFileSync(join(dir, sub, name)).toString("base64");
    }
  }
  for (const name of ["panoptic_examples.json", "panoptic_coco_categories.json"]) {
    files[name] = readFileSync(join(dir, name)).toString("base64");
  }
  return { available: true, files };
}

/** An identity provider's keys for the tests: public JWKS for the Worker, private keys for the tests. */
function identityProviderKeys() {
  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const pub = (k: typeof rsa, kid: string, alg: string) => ({ ...k.publicKey.export({ format: "jwk" }), kid, alg, use: "sig" });
  const priv = (k: typeof rsa, kid: string, alg: string) => ({ ...k.privateKey.export({ format: "jwk" }), kid, alg });
  return {
    jwks: JSON.stringify({ keys: [pub(rsa, "rsa-1", "RS256"), pub(ec, "ec-1", "ES256")] }),
    privateJwks: JSON.stringify({ keys: [priv(rsa, "rsa-1", "RS256"), priv(ec, "ec-1", "ES256")] }),
  };
}

/** The identity provider's JWKS endpoint, on loopback, for the JWKS-URL path of token verification. */
async function serveJwks(jwks: string): Promise<string> {
  const server = createServer((req, res) => {
    if (req.url === "/.well-known/jwks.json") res.writeHead(200, { "content-type": "application/json" }).end(jwks);
    else res.writeHead(404).end();
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  server.unref();
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
}

export default defineConfig(async () => {
  // The [assets] folder wrangler.toml names must exist before the pool reads that file (clean clones too).
  writeDocsAssets();
  const idp = identityProviderKeys();
  const jwksUrl = await serveJwks(idp.jwks);
  // An OpenAI-compatible mock VLM on loopback (unref'd); test files isolate themselves by tenant.
  const mockVlm = await startMockVlm();
  const migrations = await readD1Migrations(join(root, "migrations"));
  return {
    test: {
      projects: [
        {
          plugins: [
            cloudflareTest({
              wrangler: { configPath: "./wrangler.toml" },
              miniflare: {
                bindings: {
                  TEST_MIGRATIONS: migrations,
                  SAMPLE: readSample(),
                  JWT_SECRET: "test-secret-at-least-32-bytes-long-0123456789",
                  URL_SIGNING_SECRET: "test-url-signing-secret-0123456789abcdef",
                  MAX_UPLOAD_BYTES: "2097152",
                  // Fast retries so the retry and dead-letter paths run in seconds.
                  DRAFT_RETRY_BASE_MS: "200",
                  DRAFT_MAX_ATTEMPTS: "3",
                  JWT_JWKS: idp.jwks,
                  TEST_IDP_PRIVATE_JWKS: idp.privateJwks,
                  TEST_JWKS_URL: jwksUrl,
                  MOCK_VLM_URL: mockVlm.url,
                  // D1's statements per invocation: the paid plan's 1,000, or the free plan's 50 with GROUNDWORK_D1_LIMIT=50.
                  D1_STATEMENT_LIMIT: process.env.GROUNDWORK_D1_LIMIT ?? "1000",
                  FUZZ_SEED: process.env.FUZZ_SEED ?? "",
                  FUZZ_REQUESTS: process.env.FUZZ_REQUESTS ?? "",
                },
              },
            }),
          ],
          test: {
            name: "worker",
            include: ["test/**/*.test.ts"],
            exclude: ["test/e2e/**"],
            setupFiles: ["test/support/apply-migrations.ts"],
          },
        },
        {
          test: {
            name: "e2e",
            include: ["test/e2e/**/*.test.ts"],
            environment: "node",
            testTimeout: 240_000,
            hookTimeout: 240_000,
          },
        },
      ],
    },
  };
});
