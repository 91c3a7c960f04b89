import { Sha256 } from "../domain/sha256.ts";

/**
 * R2 wants every part of a multipart upload but the last to be the same size, at least 5 MiB.
 * The smallest allowed size keeps the carry (below) small.
 */
export const PART_BYTES = 5 * 1024 * 1024;

const CONTENT_TYPE = "application/x-ndjson; charset=utf-8";

/** Parts uploading while the next pages are made: R2 writes overlap the work, two parts of memory. */
const UPLOADS_IN_FLIGHT = 2;

/** What a later queue message needs to go on writing the file; kept in the export job's row. */
export interface FileCheckpoint {
  uploadId: string | null;
  /** ETags of the whole parts uploaded, part n at index n − 1. */
  parts: string[];
  /**
   * The bytes after the last whole part (fewer than PART_BYTES) wait in their own R2 object until
   * the next message fills the part; a fresh key per checkpoint, so a failed attempt cannot
   * overwrite the one its checkpoint names.
   */
  carryKey: string | null;
  bytes: number;
  hashState: string;
}

/**
 * An export file written across queue messages: bytes are hashed as they come (a SHA-256 whose
 * state is saved in the checkpoint) and uploaded in whole parts; what does not fill a part is
 * carried to the next message through R2. Memory holds at most one part and one page.
 */
export class ExportFileWriter {
  private readonly bucket: R2Bucket;
  private readonly key: string;
  private readonly hash: Sha256;
  private uploadId: string | null;
  private readonly parts: string[];
  private total: number;
  private carry: Uint8Array[] = [];
  private carryLength = 0;
  private readonly inFlight = new Set<Promise<void>>();
  private failure: unknown = null;

  private constructor(bucket: R2Bucket, key: string, hash: Sha256, uploadId: string | null, parts: string[], total: number) {
    this.bucket = bucket;
    this.key = key;
    this.hash = hash;
    this.uploadId = uploadId;
    this.parts = parts;
    this.total = total;
  }

  /** A fresh file, or the one a checkpoint describes (its carried bytes read back from R2). */
  static async open(bucket: R2Bucket, key: string, from: FileCheckpoint | null): Promise<ExportFileWriter> {
    if (!from) return new ExportFileWriter(bucket, key, new Sha256(), null, [], 0);
    const w = new ExportFileWriter(bucket, key, Sha256.restore(from.hashState), from.uploadId, [...from.parts], from.bytes);
    const expected = from.bytes - from.parts.length * PART_BYTES;
    if (from.carryKey) {
      const object = await bucket.get(from.carryKey);
      // Missing: a newer checkpoint has replaced this one (and removed its carry) meanwhile.
      if (!object) throw new Error(`the carried bytes of the export (${from.carryKey}) are gone; the job has moved past this checkpoint`);
      const bytes = new Uint8Array(await object.arrayBuffer());
      if (bytes.byteLength !== expected) throw new Error(`the carried bytes of the export hold ${bytes.byteLength} bytes, the checkpoint says ${expected}`);
      w.carry = [bytes];
      w.carryLength = bytes.byteLength;
    } else if (expected !== 0) {
      throw new Error(`the export checkpoint has ${expected} carried bytes but no object holding them`);
    }
    return w;
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (bytes.byteLength === 0) return;
    this.hash.update(bytes);
    this.total += bytes.byteLength;
    this.carry.push(bytes);
    this.carryLength += bytes.byteLength;
    while (this.carryLength >= PART_BYTES) await this.startPart(this.take(PART_BYTES));
  }

  /** Saves the carried bytes under a fresh key and returns the checkpoint that names them. */
  async checkpoint(label: string): Promise<FileCheckpoint> {
    await this.settle();
    let carryKey: string | null = null;
    if (this.carryLength > 0) {
      carryKey = `${this.key}.carry/${label}-${crypto.randomUUID()}`;
      await this.bucket.put(carryKey, this.takeAll());
    }
    return { uploadId: this.uploadId, parts: [...this.parts], carryKey, bytes: this.total, hashState: this.hash.save() };
  }

  /** Writes the last part and completes the file; returns its size and sha256. */
  async finish(): Promise<{ bytes: number; sha256: string }> {
    await this.settle();
    const sha256 = this.hash.hex();
    if (this.parts.length === 0) {
      // Smaller than one part: a plain object (no multipart upload was started).
      await this.bucket.put(this.key, this.takeAll(), { httpMetadata: { contentType: CONTENT_TYPE } });
      return { bytes: this.total, sha256 };
    }
    const upload = this.upload();
    const parts: R2UploadedPart[] = this.parts.map((etag, k) => ({ partNumber: k + 1, etag }));
    try {
      if (this.carryLength > 0) parts.push(await upload.uploadPart(parts.length + 1, this.takeAll()));
      await upload.complete(parts);
    } catch (err) {
      // An attempt that completed the upload and died before its checkpoint leaves the file whole.
      const done = await this.bucket.head(this.key);
      if (!done || done.size !== this.total) throw err;
    }
    return { bytes: this.total, sha256 };
  }

  /** Gives up on a file: its upload and its carried bytes (best effort; both expire in R2 anyway). */
  static async discard(bucket: R2Bucket, key: string, from: Pick<FileCheckpoint, "uploadId" | "carryKey">): Promise<void> {
    if (from.uploadId) await bucket.resumeMultipartUpload(key, from.uploadId).abort().catch(() => undefined);
    if (from.carryKey) await bucket.delete(from.carryKey).catch(() => undefined);
  }

  private upload(): R2MultipartUpload {
    return this.bucket.resumeMultipartUpload(this.key, this.uploadId!);
  }

  /** Starts uploading the next part; waits only while UPLOADS_IN_FLIGHT are under way. */
  private async startPart(part: Uint8Array): Promise<void> {
    if (!this.uploadId) this.uploadId = (await this.bucket.createMultipartUpload(this.key, { httpMetadata: { contentType: CONTENT_TYPE } })).uploadId;
    while (this.inFlight.size >= UPLOADS_IN_FLIGHT) await Promise.race(this.inFlight);
    this.rethrow();
    const index = this.parts.length;
    this.parts.push("");
    const done: Promise<void> = this.upload()
      .uploadPart(index + 1, part)
      .then((uploaded) => {
        this.parts[index] = uploaded.etag;
      })
      .catch((err: unknown) => {
        this.failure ??= err;
      })
      .finally(() => this.inFlight.delete(done));
    this.inFlight.add(done);
  }

  /** Every part under way uploaded, or the first failure thrown. */
  private async settle(): Promise<void> {
    await Promise.all(this.inFlight);
    this.rethrow();
  }

  private rethrow(): void {
    if (this.failure !== null) throw this.failure;
  }

  /** The first `n` carried bytes, as one array; the rest stays carried. */
  private take(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      const head = this.carry[0];
      const used = Math.min(head.byteLength, n - at);
      out.set(head.subarray(0, used), at);
      at += used;
      if (used === head.byteLength) this.carry.shift();
      else this.carry[0] = head.subarray(used);
    }
    this.carryLength -= n;
    return out;
  }

  private takeAll(): Uint8Array {
    return this.carryLength === 0 ? new Uint8Array(0) : this.take(this.carryLength);
  }
}
