// Webhook signatures, each keyed the way its verifiers key it:
// - ours, `X-Wrenmail-Signature: sha256=<hex HMAC of the raw body>`, keyed with the secret string
//   exactly as shown to the user (`whsec_…`), as the Sendmux overview's snippet does
//   (`createHmac("sha256", secret).update(body)`);
// - the Standard Webhooks trio (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64
//   HMAC of "id.timestamp.body">`), keyed with the base64-decoded part after `whsec_`, as the
//   Standard Webhooks libraries do.
import { createHmac, randomBytes } from 'node:crypto';

export const newWebhookSecret = (): string => `whsec_${randomBytes(24).toString('base64')}`;

const secretKey = (secret: string): Buffer => Buffer.from(secret.replace(/^whsec_/, ''), 'base64');

export function signatureHeaders(
  secret: string,
  messageId: string,
  timestampSeconds: number,
  body: string,
): Record<string, string> {
  const standard = createHmac('sha256', secretKey(secret))
    .update(`${messageId}.${timestampSeconds}.${body}`)
    .digest('base64');
  return {
    'X-Wrenmail-Signature': `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`,
    'webhook-id': messageId,
    'webhook-timestamp': String(timestampSeconds),
    'webhook-signature': `v1,${standard}`,
  };
}
