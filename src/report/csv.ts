/** CSV text of table rows with a fixed column order (RFC 4180 quoting via csv-stringify). */
import { stringify } from 'csv-stringify/sync';

export type Cell = string | number | boolean | null | undefined;

/** A cell as CSV text: numbers rounded to 6 decimals, NaN / null / undefined empty. */
export function formatCell(v: Cell): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return Number.isNaN(v) ? '' : v > 0 ? 'inf' : '-inf';
    const r = Math.round(v * 1e6) / 1e6;
    return String(Object.is(r, -0) ? 0 : r);
  }
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return v;
}

/**
 * A text cell a spreadsheet would run as a formula (starting with =, +, -, @, or a tab / carriage
 * return before one) gets a leading apostrophe (OWASP's CSV-injection rule). Numbers never pass here.
 */
export function neutraliseFormula(text: string): string {
  return /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
}

/** CSV with a header line of `columns`, then one line per row (LF line ends); text cells neutralised, numbers as they are. */
export function toCsv<R extends object>(rows: readonly R[], columns: readonly (keyof R & string)[]): string {
  const body = rows.map((r) =>
    columns.map((c) => {
      const v = (r as Record<string, Cell>)[c];
      return typeof v === 'string' ? neutraliseFormula(v) : formatCell(v);
    }),
  );
  return stringify([[...columns] as string[], ...body], { record_delimiter: '\n' });
}
