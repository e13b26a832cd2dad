// Raw HTTP/1.1 replies read off a keep-alive socket: the benches' clients write their requests by hand, so no
// client library's work is timed. Replies are framed by Content-Length (the servers under test send no chunked
// reply); `reply` gets each complete one's status line and header, in order.
import type { Socket } from 'node:net';

export function onReplies(socket: Socket, reply: (head: string) => void): void {
  let pending: Buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    for (;;) {
      const end = pending.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = pending.toString('latin1', 0, end);
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      if (pending.length < end + 4 + length) return;
      pending = pending.subarray(end + 4 + length);
      reply(head);
    }
  });
}
