/**
 * Errors meant for the user: bad input, a missing file, a run that cannot go on.
 * The CLI prints them as one line (no stack) and exits with `exitCode`; anything
 * else is a bug and keeps its stack.
 */
export class UserError extends Error {
  readonly file?: string;
  readonly pointer?: string;
  readonly exitCode: number;

  constructor(message: string, opts: { file?: string; pointer?: string; exitCode?: number } = {}) {
    super(message);
    this.name = 'UserError';
    this.file = opts.file;
    this.pointer = opts.pointer;
    this.exitCode = opts.exitCode ?? 2;
  }

  /** One line: `file: /pointer: message`. */
  format(): string {
    const where = [this.file, this.pointer].filter((s) => s !== undefined && s !== '').join(': ');
    return printable(where ? `${where}: ${this.message}` : this.message);
  }
}

/**
 * Text safe for a terminal line: control bytes (newline, ESC, DEL, C1) become `\xNN` escapes, so a
 * file or profile name cannot break the one-line error format or send escape sequences.
 */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

export function isUserError(e: unknown): e is UserError {
  return e instanceof UserError;
}
