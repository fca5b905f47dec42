/**
 * Progress of long work: a bar with ETA on a terminal, plain log lines otherwise (CI, pipes,
 * --json). Writes to stderr so stdout stays machine-readable.
 */
export interface Progress {
  /** Advance to `done` of `total`, with a short status (loss, Dice). */
  update(done: number, status?: string): void;
  /** A line that must stay visible (epoch summaries, warnings). */
  log(line: string): void;
  finish(status?: string): void;
}

export interface ProgressOptions {
  label: string;
  total: number;
  /** Force plain lines (e.g. --json); default: plain unless stderr is a TTY. */
  plain?: boolean;
  stream?: NodeJS.WriteStream;
  /** Plain mode: minimum seconds between lines. */
  plainIntervalSeconds?: number;
  /** Show nothing (bar, lines or the closing line) until this many seconds have passed, so work that is usually quick stays silent. */
  delaySeconds?: number;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}` : `${m}:${String(sec).padStart(2, '0')}`;
}

export function createProgress(opts: ProgressOptions): Progress {
  const stream = opts.stream ?? process.stderr;
  const plain = opts.plain ?? !stream.isTTY;
  const t0 = Date.now();
  let lastPlain = 0;
  let drawn = false;
  let shown = false;
  const interval = (opts.plainIntervalSeconds ?? 10) * 1000;
  const delay = (opts.delaySeconds ?? 0) * 1000;

  const eta = (done: number) => {
    const elapsed = (Date.now() - t0) / 1000;
    return done > 0 ? (elapsed / done) * (opts.total - done) : NaN;
  };
  const clear = () => {
    if (drawn) stream.write('\r\x1b[K');
    drawn = false;
  };
  return {
    update(done, status = '') {
      if (Date.now() - t0 < delay) return;
      shown = true;
      if (plain) {
        const now = Date.now();
        if (now - lastPlain < interval && done < opts.total) return;
        lastPlain = now;
        stream.write(`${opts.label}: ${done}/${opts.total} eta ${formatDuration(eta(done))} ${status}\n`);
        return;
      }
      const width = 24;
      const filled = Math.round((width * Math.min(done, opts.total)) / Math.max(1, opts.total));
      const bar = `${'#'.repeat(filled)}${'.'.repeat(width - filled)}`;
      const cols = stream.columns ?? 100;
      const text = `${opts.label} [${bar}] ${done}/${opts.total} eta ${formatDuration(eta(done))} ${status}`;
      stream.write(`\r\x1b[K${text.slice(0, cols - 1)}`);
      drawn = true;
    },
    log(line) {
      clear();
      stream.write(`${line}\n`);
    },
    finish(status = '') {
      clear();
      if (delay > 0 && !shown) return;
      const secs = (Date.now() - t0) / 1000;
      stream.write(`${opts.label}: done in ${formatDuration(secs)} ${status}\n`);
    },
  };
}

/** A progress whose total is known only from its first update (a folder's files, counted by its loader); started then. */
export function lazyProgress(opts: Omit<ProgressOptions, 'total'>): { update(done: number, total: number): void; finish(status?: string): void } {
  let progress: Progress | undefined;
  return {
    update(done, total) {
      progress ??= createProgress({ ...opts, total });
      progress.update(done);
    },
    finish(status) {
      progress?.finish(status);
    },
  };
}
