import { synthesizeScene } from "../../worker/imaging/synthetic.ts";
import { call } from "./api.ts";

/** Ingests the synthetic scene for `seed` into a project through the API; returns the image JSON. */
export async function ingestScene(token: string, projectId: string, seed: number) {
  const scene = synthesizeScene(seed);
  const fd = new FormData();
  fd.set("image", new Blob([scene.image], { type: "image/png" }), scene.fileName);
  fd.set("panoptic", new Blob([scene.panoptic], { type: "image/png" }), "panoptic.png");
  fd.set("segments_info", JSON.stringify(scene.segmentsInfo));
  fd.set("external_id", `scene-${seed}`);
  const r = await call("POST", `/v1/projects/${projectId}/images`, { token, body: fd });
  if (r.status !== 201 && r.status !== 200) throw new Error(`ingest failed: ${r.status} ${JSON.stringify(r.data)}`);
  return r.data;
}

export async function until<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 20_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
