/**
 * The rules every command-line argument is checked by, before any work starts: pure functions
 * of the raw flag values (what yargs parsed), each throwing a one-line UserError that names the
 * flag and what was given. Budgets follow the profile schema's rule (src/profile/budget.ts).
 */
import { UserError } from '../errors.js';
import { budgetProblem } from '../profile/budget.js';
import type { DetectorProfile } from '../profile/types.js';
import { FIXED_FAMILIES, type FixedFamily } from '../runs/types.js';
import { parseShard } from '../experiments/plan.js';

/** What yargs hands over for a flag: a string, a number (NaN for "abc" on a number flag), true for a bare flag, or a list. */
export type RawValue = string | number | boolean | readonly (string | number | boolean)[] | undefined;

const fail = (flag: string, message: string): never => {
  throw new UserError(`--${flag}: ${message}`);
};

/** A value as the user typed it, for messages (quoted, control characters escaped). */
export function shown(raw: RawValue): string {
  if (raw === undefined || raw === true || raw === '') return 'nothing';
  if (Array.isArray(raw)) return raw.map((r) => shown(r as RawValue)).join(' ');
  return JSON.stringify(String(raw));
}

/** One value of a flag that takes one: a flag given twice is refused, not silently the last. */
function single(flag: string, raw: RawValue): string | number | boolean | undefined {
  if (!Array.isArray(raw)) return raw as string | number | boolean | undefined;
  if (raw.length === 1) return raw[0];
  return fail(flag, `given ${raw.length} times (${shown(raw)}); give it once`);
}

/** A finite number. `typed` is the text when yargs parsed the flag as a number and got NaN. */
export function parseNumber(flag: string, raw: RawValue, typed?: string): number {
  const v = single(flag, raw);
  if (typeof v === 'number') {
    if (Number.isFinite(v)) return v;
    return fail(flag, `expected a number, got ${typed !== undefined ? JSON.stringify(typed) : String(v)}`);
  }
  const text = typeof v === 'string' ? v.trim() : '';
  const n = text === '' ? NaN : Number(text);
  if (!Number.isFinite(n)) return fail(flag, `expected a number, got ${shown(v)}`);
  return n;
}

/** An integer in [min, max]; "positive integer" is min 1. */
export function parseInteger(flag: string, raw: RawValue, min: number, max = Number.MAX_SAFE_INTEGER, typed?: string): number {
  const n = parseNumber(flag, raw, typed);
  if (!Number.isInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? (min === 1 ? 'a positive integer' : `an integer >= ${min}`) : `an integer in [${min}, ${max}]`;
    return fail(flag, `expected ${range}, got ${n}`);
  }
  return n;
}

/** The optional form: undefined stays undefined. */
export function optionalInteger(flag: string, raw: RawValue, min: number, max?: number): number | undefined {
  return raw === undefined ? undefined : parseInteger(flag, raw, min, max);
}

/**
 * A list flag: the one syntax everywhere is items separated by commas, spaces or both
 * (`--budgets 0.25,0.5`, `--budgets 0.25 0.5`, `--budgets "0.25, 0.5"`). Empty is refused.
 */
export function parseList(flag: string, raw: RawValue): string[] {
  const parts = (Array.isArray(raw) ? raw : [raw])
    .filter((r) => r !== undefined && r !== true)
    .flatMap((r) => String(r).split(/[\s,]+/))
    .filter((s) => s !== '');
  if (parts.length === 0) return fail(flag, `expected a list separated by commas or spaces, got ${shown(raw)}`);
  return parts;
}

export function parseNumberList(flag: string, raw: RawValue): number[] {
  const items = parseList(flag, raw);
  return items.map((s) => {
    const n = Number(s);
    if (Number.isFinite(n)) return n;
    return fail(flag, items.length === 1 ? `expected a number, got ${JSON.stringify(s)}` : `expected numbers separated by commas or spaces, got ${JSON.stringify(s)} in ${shown(raw)}`);
  });
}

export function parseIntegerList(flag: string, raw: RawValue, min = 0): number[] {
  return parseNumberList(flag, raw).map((n) =>
    Number.isInteger(n) && n >= min ? n : fail(flag, `expected integers >= ${min} separated by commas or spaces, got ${n}`),
  );
}

/** Budgets of a profile's kind, each by the profile schema's rule. */
export function checkBudgets(flag: string, budgets: readonly number[], profile: Pick<DetectorProfile, 'name' | 'budget' | 'modes' | 'nativeBits'>): number[] {
  for (const b of budgets) {
    const problem = budgetProblem(profile, b);
    if (problem) fail(flag, `${problem} (profile ${profile.name})`);
  }
  return [...budgets];
}

/** `--families`: fixed layout families from FIXED_FAMILIES, or `none`; duplicates dropped, in FIXED_FAMILIES order. */
export function parseFamilies(raw: RawValue): FixedFamily[] {
  const items = parseList('families', raw);
  if (items.length === 1 && items[0] === 'none') return [];
  for (const f of items) {
    if (!(FIXED_FAMILIES as readonly string[]).includes(f)) fail('families', `expected ${FIXED_FAMILIES.join(', ')} or none, got ${JSON.stringify(f)}`);
  }
  return FIXED_FAMILIES.filter((f) => items.includes(f));
}

/** `--tolerance`: τ of the design decision, a Dice difference in [0, 1]. */
export function parseTolerance(raw: RawValue): number {
  const t = parseNumber('tolerance', raw);
  if (!(t >= 0 && t <= 1)) fail('tolerance', `expected a Dice difference in [0, 1], got ${t}`);
  return t;
}

/** `--shard i/n`, 1-based on the command line; returned 0-based as the plan uses it. */
export function parseShardFlag(raw: RawValue): { index: number; count: number } {
  const v = single('shard', raw);
  try {
    if (typeof v === 'string') return parseShard(v);
  } catch {
    // the plan's parser says what is wrong; the flag's message below names the flag and the text
  }
  return fail('shard', `expected i/n with 1 <= i <= n (e.g. 2/4), got ${shown(v)}`);
}

/**
 * Flags a command declares (they share one builder) but does not use: refused with one line
 * rather than silently ignored. `train` is one training at the profile's budget and seed.
 */
export const FLAGS_NOT_FOR: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  train: {
    budgets: 'train runs at the profile budget; use sweep for several budgets',
    seeds: 'train is one training (its seed is --seed); use study or sweep for several seeds',
    families: 'train runs the learned layout only; use study or sweep for the fixed families',
  },
};

export function refuseInapplicable(command: string, given: Readonly<Record<string, unknown>>): void {
  for (const [flag, why] of Object.entries(FLAGS_NOT_FOR[command] ?? {})) {
    if (given[flag] !== undefined) throw new UserError(`--${flag} does not apply to ${command}: ${why}`);
  }
}

/** Edit distance (insert, delete, substitute), for did-you-mean suggestions. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/** The closest candidate within a third of the word's length (at least 2 edits), or undefined. */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  let best: { c: string; d: number } | undefined;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (!best || d < best.d) best = { c, d };
  }
  return best && best.d <= Math.max(2, Math.floor(word.length / 3)) ? best.c : undefined;
}

/**
 * yargs' "Unknown argument(s): a, b" with a did-you-mean for the first unknown flag; other
 * messages unchanged. `known`: the option names of the command that failed.
 */
export function withSuggestion(message: string, known: readonly string[]): string {
  const m = /^Unknown arguments?: (.+)$/.exec(message);
  if (!m) return message;
  const first = m[1]!.split(', ')[0]!;
  const guess = nearest(first, known.filter((k) => k.length > 1));
  return guess ? `${message} (did you mean --${guess}?)` : message;
}

/**
 * Text safe for a terminal: control characters (newline, ESC, …) in file or profile names are
 * shown escaped, so a name cannot move the cursor or recolour the screen.
 */
export function terminalSafe(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => (c === '\n' ? '\\n' : c === '\t' ? '\\t' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
}

/** An error as one JSON line, what `--json` prints on stdout instead of the `ctquant: …` line. */
export function errorJson(e: { message: string; file?: string; pointer?: string; exitCode: number }): string {
  const error: Record<string, unknown> = { message: e.message, exitCode: e.exitCode };
  if (e.file !== undefined) error.file = e.file;
  if (e.pointer !== undefined) error.pointer = e.pointer;
  return JSON.stringify({ error });
}

/** Whether the raw command line asks for JSON (read before parsing, so parse errors are JSON too). */
export function wantsJson(argv: readonly string[]): boolean {
  return argv.some((a) => a === '--json' || a === '--json=true');
}

/**
 * The text a number flag was given, from the raw command line (`--epochs abc`, `--epochs=abc`),
 * to name it when yargs parsed it to NaN.
 */
export function rawFlagText(argv: readonly string[], flag: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === `--${flag}`) return argv[i + 1];
    if (a.startsWith(`--${flag}=`)) return a.slice(flag.length + 3);
  }
  return undefined;
}

/**
 * A number flag that yargs parsed to NaN, named with the text given; called on every parse
 * (src/cli/main.ts), so every command's number flags say which flag and what was typed.
 */
export function refuseNaN(parsed: Readonly<Record<string, unknown>>, argv: readonly string[]): void {
  for (const [key, v] of Object.entries(parsed)) {
    if (key === '_' || key === '$0' || /[A-Z]/.test(key)) continue;
    const values = Array.isArray(v) ? v : [v];
    if (values.some((x) => typeof x === 'number' && Number.isNaN(x))) {
      fail(key, `expected a number, got ${JSON.stringify(rawFlagText(argv, key) ?? 'nothing')}`);
    }
  }
}

/** A profile's name as a folder name: letters, digits, `.`, `_`, `-` kept, anything else `_`; never `..` or hidden. */
export function safeFolderName(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_').slice(0, 80);
  return cleaned === '' ? 'profile' : cleaned;
}

/**
 * `--hu-from-display low,high`: the HU window display images were exported with (grey 0 = low HU,
 * top grey = high HU), for detector-space mode only; low < high, both within [−2000, 4000] HU.
 */
export function parseHuWindow(flag: string, text: string, profile: { detector?: unknown; name: string }): { lowHu: number; highHu: number } {
  if (!profile.detector) throw new UserError(`--${flag} applies to detector-space profiles only (${profile.name} has no detector section)`);
  const values = parseNumberList(flag, text);
  const [low, high] = values;
  if (values.length !== 2 || low === undefined || high === undefined || !(low < high) || low < -2000 || high > 4000)
    throw new UserError(`--${flag}: expected low,high HU with -2000 <= low < high <= 4000, got "${text}"`);
  return { lowHu: low, highHu: high };
}
