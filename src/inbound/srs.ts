import { createHmac } from 'node:crypto';

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** Day number modulo 1024 in two base32 characters, as the SRS timestamp. */
const timestamp = (now: number): string => {
  const day = Math.floor(now / 86_400_000) % 1024;
  return BASE32[day >> 5]! + BASE32[day & 31]!;
};

/**
 * Sender Rewriting Scheme (SRS0) for forwarded mail: the envelope sender becomes an address of the
 * forwarding domain, so the destination's SPF check passes for us instead of failing for the
 * original sender. The hash stops others from using the rewritten form to relay through us.
 */
export function srsRewrite(sender: string, forwardingDomain: string, secret: string, now = Date.now()): string {
  if (!sender) return sender; // the null sender stays null: bounces never get bounces
  const at = sender.lastIndexOf('@');
  if (at < 0) return sender;
  const local = sender.slice(0, at);
  const domain = sender.slice(at + 1);
  const tt = timestamp(now);
  const hash = createHmac('sha256', secret).update(`${tt}${domain}${local}`.toLowerCase()).digest('base64').replace(/[+/=]/g, '').slice(0, 4);
  return `SRS0=${hash}=${tt}=${domain}=${local}@${forwardingDomain}`;
}
