// What the spamtest test compares (RFC 5235): the inbound classify stage's verdict on a scale a script
// can read without knowing Wren's points.

/** The classify stage's verdict on the message; absent when nothing classified it (local submission). */
export interface SpamStatus {
  score: number;
  /** The score from which mail goes to Junk (spam.junk_score). */
  junkScore: number;
  /** The verdict was Junk (by score, or DMARC quarantine whatever the score). */
  junk: boolean;
}

/**
 * RFC 5235 §3.2: "0" when the message was not tested, "1" when it was and is clear, up to "10" for certain
 * spam. Junk is 10; the points between 0 and the Junk threshold spread over 2–9, so a script can act on
 * mail that came close ("ge 8") without moving Wren's own threshold. With :percent (§3.3) the same as
 * 0–100, Junk at 100; an untested message is "0" there too (§3.3's example tells them
 * apart with the plain test).
 */
export function spamtestValue(spam: SpamStatus | null, percent: boolean): string {
  if (!spam) return '0';
  if (spam.junk) return percent ? '100' : '10';
  // Below the threshold: under 100% and under 10, however close.
  const share = Math.min(1, Math.max(0, spam.score / spam.junkScore));
  if (percent) return String(Math.min(99, Math.floor(share * 100)));
  return String(share === 0 ? 1 : Math.min(9, 1 + Math.ceil(share * 8)));
}
