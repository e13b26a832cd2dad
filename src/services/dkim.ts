// A domain's DKIM keys (RFC 6376): adding one, which signs at once or waits until DNS has it.
import { generateDkimKey, newSelector } from '../dns/dkim.ts';
import type { DkimKey, Domain } from '../store/index.ts';
import { type ServiceDeps, ServiceError } from './index.ts';
import { updateDomain } from './domains.ts';

export const MAX_KEYS_PER_DOMAIN = 10;
/** A selector is one DNS label (RFC 6376 §3.1). */
export const SELECTOR = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Adds a generated key: it signs at once when its algorithm has no signing key yet, else it waits
 * (pending) until verify finds it in DNS, so a rotation never signs with an unpublished key. At most
 * MAX_KEYS_PER_DOMAIN (`limit_exceeded`), each selector once (`conflict`).
 */
export async function addKey(
  deps: Pick<ServiceDeps, 'store'>,
  domainName: string,
  algorithm: DkimKey['algorithm'],
  selector?: string,
): Promise<{ domain: Domain; key: DkimKey }> {
  const key = await generateDkimKey(algorithm, selector ?? newSelector(algorithm));
  const domain = await updateDomain(deps, domainName, (d) => {
    if (d.dkim.length >= MAX_KEYS_PER_DOMAIN)
      throw new ServiceError(
        'limit_exceeded',
        `a domain holds at most ${MAX_KEYS_PER_DOMAIN} DKIM keys; delete one first`,
      );
    if (d.dkim.some((k) => k.selector === key.selector))
      throw new ServiceError('conflict', `selector ${key.selector} is in use`, 'selector');
    key.active = !d.dkim.some((k) => k.active && k.algorithm === algorithm);
    d.dkim.push(key);
  });
  return { domain, key };
}

/** Deletes the key with this selector (signing stops with it). */
export const removeKey = (deps: Pick<ServiceDeps, 'store'>, domainName: string, selector: string): Promise<Domain> =>
  updateDomain(deps, domainName, (d) => {
    d.dkim = d.dkim.filter((k) => k.selector !== selector);
  });
