/**
 * Progress display for long ingests. The formatting and the when-to-redraw decisions are pure
 * functions; ProgressReporter only wires them to a stream and a clock.
 */

export interface IngestCounts {
  /** 201: a new image. */
  created: number;
  /** 200: the server already had these bytes (e.g. a race with resume, or no external_id match). */
  present: number;
  /** Not uploaded: the project already lists the external_id. */
  skipped: number;
  /** A 4xx answer about the image itself, or a local problem (missing file, malformed annotation). */
  rejected: number;
  /** Server errors or network failures that outlasted the retries. */
  failed: number;
}

export function emptyCounts(): IngestCounts {
  return { created: 0, present: 0, skipped: 0, rejected: 0, failed: 0 };
}

export function doneOf(c: IngestCounts): number {
  return c.created + c.present + c.skipped + c.rejected + c.failed;
}

export interface ProgressStats {
  done: number;
  total: number;
  /** 0..1; 1 for an empty run so the bar reads as complete. */
  fraction: number;
  /** Images per second over this run's uploads, or null before there is anything to measure. */
  rate: number | null;
  /** Seconds left at the current rate, or null while the rate is unknown. */
  etaSeconds: number | null;
}

/**
 * Skipped images (and annotations rejected while planning) are resolved instantly at the start, so
 * they count towards `done` but not the rate: otherwise a resumed run would promise an ETA it
 * cannot keep. `doneAtStart` is that instant part; it defaults to the skipped count.
 */
export function progressStats(counts: IngestCounts, total: number, elapsedMs: number, doneAtStart = counts.skipped): ProgressStats {
  const done = doneOf(counts);
  const worked = done - doneAtStart;
  const rate = worked > 0 && elapsedMs > 0 ? worked / (elapsedMs / 1000) : null;
  const remaining = Math.max(0, total - done);
  return {
    done,
    total,
    fraction: total === 0 ? 1 : Math.min(1, done / total),
    rate,
    etaSeconds: remaining === 0 ? 0 : rate === null ? null : remaining / rate,
  };
}

/** "05:04", "1:02:03"; "--:--" when unknown. */
export function formatClock(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds) || seconds < 0) return "--:--";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const mm = String(m).padStart(2, "0");
  const ss = String(sec).padStart(2, "0");
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

/** Short runs in seconds with a decimal (a 2-image run is not "00:01"); long ones as a clock. */
export function formatElapsed(ms: number): string {
  return ms < 60_000 ? `${(ms / 1000).toFixed(1)} s` : formatClock(ms / 1000);
}

export function formatRate(rate: number | null): string {
  return rate === null ? "-- img/s" : `${rate.toFixed(1)} img/s`;
}

export function renderBar(fraction: number, width = 20): string {
  const filled = Math.max(0, Math.min(width, Math.floor(fraction * width)));
  return "[" + "#".repeat(filled) + "-".repeat(width - filled) + "]";
}

/** `[#####---------------] 1234/5000 24.7%  12.3 img/s  ETA 05:04  ok 1200 skip 30 rejected 4` */
export function formatProgressLine(counts: IngestCounts, total: number, elapsedMs: number, barWidth = 20, doneAtStart = counts.skipped): string {
  const st = progressStats(counts, total, elapsedMs, doneAtStart);
  const failed = counts.failed > 0 ? ` failed ${counts.failed}` : "";
  return (
    `${renderBar(st.fraction, barWidth)} ${st.done}/${total} ${(st.fraction * 100).toFixed(1)}%  ` +
    `${formatRate(st.rate)}  ETA ${formatClock(st.etaSeconds)}  ` +
    `ok ${counts.created + counts.present} skip ${counts.skipped} rejected ${counts.rejected}${failed}`
  );
}

export const TTY_REDRAW_MS = 100;
export const PLAIN_INTERVAL_MS = 2000;
export const PLAIN_STEP = 0.05;

export interface LastDraw {
  at: number;
  done: number;
}

/**
 * A terminal can take ~10 redraws a second; a log file (CI, a pipe) wants a line every couple of
 * seconds or whenever another 5% is done, whichever comes first.
 */
export function shouldDraw(tty: boolean, now: number, done: number, total: number, last: LastDraw | null): boolean {
  if (last === null) return true;
  const since = now - last.at;
  if (tty) return since >= TTY_REDRAW_MS;
  if (since >= PLAIN_INTERVAL_MS) return true;
  const step = (d: number) => (total === 0 ? 0 : Math.floor(d / total / PLAIN_STEP + 1e-9));
  return step(done) > step(last.done);
}

/** Fits a line to the terminal: a wrapped line would break the `\r` redraw into a scroll. */
export function fitLine(line: string, columns: number | undefined): string {
  if (!columns || columns <= 1 || line.length < columns) return line;
  return line.slice(0, columns - 1);
}

export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export class ProgressReporter {
  private readonly stream: ProgressStream;
  private readonly total: number;
  private readonly now: () => number;
  private readonly startedAt: number;
  private readonly tty: boolean;
  private readonly doneAtStart: number;
  private last: LastDraw | null = null;
  private lineOpen = false;
  private latest: IngestCounts | null = null;

  /** `initial`: what is already settled before the first upload (skips, local rejections). */
  constructor(stream: ProgressStream, total: number, initial: IngestCounts, now: () => number = Date.now) {
    this.stream = stream;
    this.doneAtStart = doneOf(initial);
    this.total = total;
    this.now = now;
    this.startedAt = now();
    this.tty = stream.isTTY === true;
  }

  update(counts: IngestCounts): void {
    this.latest = counts;
    const now = this.now();
    if (!shouldDraw(this.tty, now, doneOf(counts), this.total, this.last)) return;
    this.draw(counts, now);
  }

  /** A message between progress lines (e.g. a retry), without garbling the redrawn line. */
  log(message: string): void {
    this.clear();
    this.stream.write(message + "\n");
    if (this.tty && this.latest) this.draw(this.latest, this.now());
  }

  /** Always one last line, whatever the throttle says, ending the redrawn line with a newline. */
  finish(counts: IngestCounts): void {
    this.latest = counts;
    // In a log, a repeat of the line just printed says nothing new.
    const unchanged = !this.tty && this.last !== null && this.last.done === doneOf(counts);
    if (!unchanged) this.draw(counts, this.now());
    if (this.tty) this.stream.write("\n");
    this.lineOpen = false;
  }

  private draw(counts: IngestCounts, now: number): void {
    const line = formatProgressLine(counts, this.total, now - this.startedAt, 20, this.doneAtStart);
    if (this.tty) {
      this.stream.write("\r" + fitLine(line, this.stream.columns) + "\x1b[K");
      this.lineOpen = true;
    } else {
      this.stream.write(line + "\n");
    }
    this.last = { at: now, done: doneOf(counts) };
  }

  private clear(): void {
    if (this.tty && this.lineOpen) this.stream.write("\r\x1b[K");
    this.lineOpen = false;
  }
}
