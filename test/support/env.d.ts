import type { D1Migration } from "cloudflare:test";
import type { Env as GroundworkEnv } from "../../worker/env.ts";

declare global {
  namespace Cloudflare {
    interface Env extends GroundworkEnv {
      TEST_MIGRATIONS: D1Migration[];
      SAMPLE: { available: boolean; reason?: string; files: Record<string, string> };
      JWT_SECRET: string;
      URL_SIGNING_SECRET: string;
      JWT_JWKS: string;
      TEST_IDP_PRIVATE_JWKS: string;
      TEST_JWKS_URL: string;
      /** Base URL (ending in /v1, tenant "default") of the mock VLM started by vitest.config.ts. */
      MOCK_VLM_URL: string;
      /** The fuzz test's seed and length (test/fuzz/api-fuzz.test.ts); empty for a random seed and the CI length. */
      FUZZ_SEED: string;
      FUZZ_REQUESTS: string;
    }
  }
}
