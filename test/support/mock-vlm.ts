import { env } from "cloudflare:test";

/** A tenant of the shared loopback mock VLM: its own mode and counters, so test files do not interfere. */
export function mockTenant(name: string) {
  const base = new URL(env.MOCK_VLM_URL);
  const origin = base.origin;
  const q = `?tenant=${encodeURIComponent(name)}`;
  return {
    baseUrl: `${origin}/t/${name}/v1`,
    async control(body: Record<string, unknown>) {
      const r = await fetch(`${origin}/__control${q}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      if (!r.ok) throw new Error(`mock control failed: ${r.status}`);
    },
    async reset() {
      await fetch(`${origin}/__reset${q}`, { method: "POST" });
    },
    async stats(): Promise<{ requests: number; byMode: Record<string, number>; last: { body: any; prompt: string; system: string } | null }> {
      return (await fetch(`${origin}/__stats${q}`)).json();
    },
  };
}
