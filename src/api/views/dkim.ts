import { z } from 'zod';
import { dkimRecordValue, dkimStatus } from '../../dns/dkim.ts';
import type { DkimKey, Domain } from '../../store/index.ts';
import { iso, timestamp } from '../schemas.ts';

export const dkimKeySchema = z.object({
  id: z.string(),
  selector: z.string(),
  algorithm: z.enum(['rsa-sha256', 'ed25519-sha256']),
  public_key: z.string().describe('base64, the DNS p= value'),
  status: z.enum(['active', 'pending', 'retiring']),
  dns: z.object({ type: z.literal('TXT'), name: z.string(), value: z.string() }),
  created_at: timestamp,
});

/** The private key never leaves the store. */
export function dkimView(domain: Domain, key: DkimKey): z.infer<typeof dkimKeySchema> {
  return {
    id: `dkim_${key.selector}`,
    selector: key.selector,
    algorithm: key.algorithm,
    public_key: key.publicKey,
    status: dkimStatus(key, domain.dkim),
    dns: { type: 'TXT', name: `${key.selector}._domainkey.${domain.name}`, value: dkimRecordValue(key) },
    created_at: iso(key.createdAt),
  };
}
