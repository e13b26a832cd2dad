// Terminal output of the long-running operator commands (import, export, spam train): a progress
// line rewritten in place on a terminal, plain lines every few seconds otherwise (logs, pipes), and
// the failures they end with turned into a message and an exit code.
import { ApiCallError, ApiUnreachableError } from './api.ts';
import { bytes } from './format.ts';

export interface ProgressOptions {
  /** Messages expected in all (shown as "n/total"), when known up front. */
  total?: number;
  /** Where it goes; default process.stdout. */
  out?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Plain-line interval (ms); default 5 s. */
  intervalMs?: number;
}

export class Progress {
  readonly counts = { copied: 0, skipped: 0, failed: 0 };
  total: number | undefined;
  #bytes = 0;
  #stage = '';
  #started = Date.now();
  #lastDraw = 0;
  readonly #out: NodeJS.WritableStream & { isTTY?: boolean };
  readonly #tty: boolean;
  readonly #intervalMs: number;
  readonly #verb: string;
  readonly #skipped: string;

  /** `verb`: what "copied" means in the line ("copied", "exported", "trained"); `skipped` likewise. */
  constructor(verb: string, options: ProgressOptions & { skipped?: string } = {}) {
    this.#verb = verb;
    this.#skipped = options.skipped ?? 'already there';
    this.total = options.total;
    this.#out = options.out ?? process.stdout;
    this.#tty = this.#out.isTTY === true;
    this.#intervalMs = options.intervalMs ?? 5000;
  }

  /** The folder or path being worked on; plain output gets a line when it changes. */
  stage(name: string): void {
    if (this.#stage && !this.#tty) this.#line();
    this.#stage = name;
    this.#draw(true);
  }

  add(what: keyof Progress['counts'], size = 0): void {
    this.counts[what]++;
    this.#bytes += size;
    this.#draw(false);
  }

  /** A message that must be seen now (a skipped file, a refused message), without breaking the bar. */
  note(text: string): void {
    if (this.#tty) this.#out.write('\r\x1b[K');
    this.#out.write(`${text}\n`);
    this.#draw(true);
  }

  /** The final line. */
  done(): void {
    this.#stage = 'done';
    if (this.#tty) this.#out.write(`\r\x1b[K${this.#text()}\n`);
    else this.#line();
  }

  #text(): string {
    const seconds = Math.max((Date.now() - this.#started) / 1000, 0.001);
    const handled = this.counts.copied + this.counts.skipped + this.counts.failed;
    const of = this.total === undefined ? `${handled}` : `${handled}/${this.total}`;
    const rate = `${(this.counts.copied / seconds).toFixed(1)} msg/s, ${bytes(Math.round(this.#bytes / seconds))}/s`;
    const failed = this.counts.failed ? `, ${this.counts.failed} failed` : '';
    return `${this.#stage}: ${of} messages (${this.counts.copied} ${this.#verb}, ${this.counts.skipped} ${this.#skipped}${failed}), ${rate}`;
  }

  #line(): void {
    this.#out.write(`${this.#text()}\n`);
    this.#lastDraw = Date.now();
  }

  #draw(force: boolean): void {
    const now = Date.now();
    if (this.#tty) {
      if (force || now - this.#lastDraw >= 100) {
        this.#out.write(`\r\x1b[K${this.#text()}`);
        this.#lastDraw = now;
      }
    } else if (now - this.#lastDraw >= this.#intervalMs) this.#line();
  }
}

/** A command line the operator must correct. */
export class UsageError extends Error {}

/** The admin commands' exit codes (see admin.ts) for a failure, with its message on stderr. */
export function reportFailure(err: unknown, usage: string): number {
  if (err instanceof UsageError) {
    process.stderr.write(`wrenmail: ${err.message}\n\n${usage}\n`);
    return 64; // EX_USAGE
  }
  if (err instanceof ApiCallError) {
    process.stderr.write(`wrenmail: ${err.message} (${err.code})\n`);
    return err.status === 401 || err.status === 403 ? 77 : 1;
  }
  if (err instanceof ApiUnreachableError) {
    process.stderr.write(`wrenmail: ${err.message}\n`);
    return 69; // EX_UNAVAILABLE
  }
  const e = err as { responseText?: string; authenticationFailed?: boolean; code?: string; message?: string };
  if (e.authenticationFailed) {
    process.stderr.write(`wrenmail: IMAP login refused${e.responseText ? `: ${e.responseText}` : ''}\n`);
    return 77;
  }
  process.stderr.write(
    `wrenmail: ${e.responseText ?? e.message ?? String(err)}${e.code && !e.responseText ? ` (${e.code})` : ''}\n`,
  );
  return 1;
}
