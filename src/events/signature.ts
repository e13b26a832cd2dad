// Webhook signatures: ours (`X-Wrenmail-Signature: sha256=<hex HMAC of the body>`) and the Standard
// Webhooks trio (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC of
// "id.timestamp.body">`), both keyed with the decoded `whsec_` secret, so existing verifiers work.
import { createHmac, randomBytes } from 'node:crypto';

export const newWebhookSecret = (): string => `whsec_${randomBytes(24).toString('base64')}`;

const secretKey = (secret: string): Buffer => Buffer.from(secret.replace(/^whsec_/, ''), 'base64');

export function signatureHeaders(secret: string, messageId: string, timestampSeconds: number, body: string): Record<string, string> {
  const key = secretKey(secret);
  const standard = createHmac('sha256', key).update(`${messageId}.${timestampSeconds}.${body}`).digest('base64');
  return {
    'X-Wrenmail-Signature': `sha256=${createHmac('sha256', key).update(body).digest('hex')}`,
    'webhook-id': messageId,
    'webhook-timestamp': String(timestampSeconds),
    'webhook-signature': `v1,${standard}`,
  };
}
