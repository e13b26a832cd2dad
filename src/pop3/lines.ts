// Splits client input into CRLF (or bare LF) terminated lines, bounded in length.

export class LineTooLong extends Error {}

export class LineReader {
  private chunks: Buffer[] = [];
  private size = 0;
  private readonly maxLineBytes: number;

  constructor(maxLineBytes: number) {
    this.maxLineBytes = maxLineBytes;
  }

  get buffered(): number {
    return this.size;
  }

  feed(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  /** The next complete line without its terminator, or null; throws LineTooLong past the limit. */
  next(): string | null {
    if (this.size === 0) return null;
    const data = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.size);
    const lf = data.indexOf(0x0a);
    if (lf < 0 || lf > this.maxLineBytes) {
      if (lf > this.maxLineBytes || data.length > this.maxLineBytes) throw new LineTooLong('Line too long');
      this.chunks = [data];
      return null;
    }
    const end = lf > 0 && data[lf - 1] === 0x0d ? lf - 1 : lf;
    const rest = data.subarray(lf + 1);
    this.chunks = rest.length ? [rest] : [];
    this.size = rest.length;
    return data.toString('utf8', 0, end);
  }

  /** Drops buffered input (what a client pipelined after STLS arrived in clear). */
  reset(): void {
    this.chunks = [];
    this.size = 0;
  }
}
