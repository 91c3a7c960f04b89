import { sql } from "drizzle-orm";
import { images, type ImageRow, type StudyRow } from "../../schema/tables.ts";
import type { DraftQueueMessage } from "../env.ts";
import { seededRandom } from "../domain/random.ts";
import { runBatch, type Db } from "../store/db.ts";
import { getProject } from "../store/projects.ts";
import { describeRequestRows, getStudy, imagesWithSources } from "../store/studies.ts";
import { claim, describeClaimFor } from "./draft.ts";

/** Images per queue message: each costs one claim statement per source (the free plan allows 50 statements). */
const PAGE = 40;

export const vlmSources = (study: Pick<StudyRow, "design">) => study.design.sources.filter((s) => s.startsWith("vlm:"));

/**
 * The images a study's model captions are asked for: those with every other source (of the
 * split), sampled from the seed when the study samples. Sorted, so paging by offset is stable.
 */
export async function describeSelection(db: Db, study: StudyRow): Promise<string[]> {
  const others = study.design.sources.filter((s) => !s.startsWith("vlm:"));
  const all = await imagesWithSources(db, study, others, study.design.selection.split);
  const n = study.design.selection.sample;
  if (n === null || n >= all.length) return all;
  const random = seededRandom(study.seed);
  const pool = [...all];
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(random() * (pool.length - i));
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  return pool.slice(0, n).sort();
}

/**
 * One page of a study's model captions: for each image and `vlm:` source the describe draft's
 * key is recorded, and a draft not already made or in the making is claimed and queued (the draft
 * machinery's single flight, retries and dead letters). The next page goes as its own message.
 */
export async function describePage(db: Db, queue: Queue<DraftQueueMessage>, studyId: string, offset: number): Promise<{ requested: number; more: boolean }> {
  const study = await getStudy(db, studyId);
  if (!study || study.status !== "draft") return { requested: 0, more: false };
  const project = await getProject(db, study.projectId);
  if (!project) return { requested: 0, more: false };
  const selection = await describeSelection(db, study);
  const ids = selection.slice(offset, offset + PAGE);
  const rows: ImageRow[] = ids.length
    ? await db.select().from(images).where(sql`${images.id} IN (SELECT value FROM json_each(${JSON.stringify(ids)}))`).all()
    : [];
  const requests: { studyId: string; source: string; imageId: string; draftKey: string }[] = [];
  const messages: MessageSendRequest<DraftQueueMessage>[] = [];
  for (const source of vlmSources(study)) {
    const vlm = study.design.vlm[source.slice(4)];
    for (const image of rows) {
      const c = await describeClaimFor(image, vlm, project.settings.render);
      requests.push({ studyId, source, imageId: image.id, draftKey: c.key });
      // A draft already made or in the making is not claimed again (a failed one is).
      const token = await claim(db, c, true);
      if (token) messages.push({ body: { kind: "draft", key: c.key, token, jobId: null } });
    }
  }
  if (requests.length) await runBatch(db.$client, describeRequestRows(db, requests));
  for (let i = 0; i < messages.length; i += 100) await queue.sendBatch(messages.slice(i, i + 100));
  const more = offset + PAGE < selection.length;
  if (more) await queue.send({ kind: "describe", studyId, offset: offset + PAGE });
  return { requested: messages.length, more };
}
