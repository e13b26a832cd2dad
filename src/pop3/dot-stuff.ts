// A message as a POP3 multi-line response (RFC 1939 3): lines starting with "." get another ".",
// bare LF becomes CRLF, and the end is CRLF "." CRLF. Works chunk by chunk so RETR can stream; TOP
// stops after the header, the empty line and the asked number of body lines.

export class DotStuffer {
  /** True once TOP's line limit is reached: send nothing more of the message. */
  done = false;
  private lineStart = true;
  private prevCR = false;
  private lineEmpty = true;
  private inBody = false;
  private bodyLinesLeft: number;

  /** bodyLines: lines of the body to send after the header (TOP), Infinity for the whole message. */
  constructor(bodyLines = Infinity) {
    this.bodyLinesLeft = bodyLines;
  }

  push(chunk: Buffer): Buffer {
    if (this.done) return Buffer.alloc(0);
    // Each input byte becomes at most two output bytes ("." → "..", LF → CRLF).
    const out = Buffer.allocUnsafe(chunk.length * 2);
    let o = 0;
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i]!;
      if (this.lineStart && byte === 0x2e) out[o++] = 0x2e;
      if (byte === 0x0a) {
        if (!this.prevCR) out[o++] = 0x0d;
        out[o++] = 0x0a;
        this.lineStart = true;
        this.prevCR = false;
        if (this.endOfLine()) {
          this.done = true;
          break;
        }
        continue;
      }
      out[o++] = byte;
      if (byte !== 0x0d) this.lineEmpty = false;
      this.lineStart = false;
      this.prevCR = byte === 0x0d;
    }
    return out.subarray(0, o);
  }

  /** The terminator: completes an unfinished last line, then ".". */
  end(): Buffer {
    return Buffer.from(this.lineStart ? '.\r\n' : '\r\n.\r\n');
  }

  /** A line ended; true when TOP has sent all it should. */
  private endOfLine(): boolean {
    const empty = this.lineEmpty;
    this.lineEmpty = true;
    if (!this.inBody) {
      if (!empty) return false;
      this.inBody = true;
      return this.bodyLinesLeft === 0;
    }
    return --this.bodyLinesLeft <= 0;
  }
}
