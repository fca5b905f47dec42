/** Aligned plain-text table for terminal output (numbers right-aligned). */
export function formatTable(header: string[], rows: (string | number)[][]): string {
  const cells = rows.map((r) => r.map((c) => String(c)));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[], numeric: boolean[]) =>
    r.map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  const numericCols = header.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === 'number'));
  return [line(header, numericCols), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map((r) => line(r, numericCols))].join('\n');
}

/** Writes a JSON document to stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** UTC time stamp for default output folder names, e.g. 20261126-183012. */
export function timestamp(date = new Date()): string {
  return date.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
}
