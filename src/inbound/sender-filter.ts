// Sender allow/deny lists per domain and per mailbox (the mailbox's own list, when on, overrides its
// domain's). Checked at RCPT, so refused mail never reaches DATA and nothing bounces.
import type { Account, Domain, SenderFilter } from '../store/index.ts';

/** `*` matches any run of characters; `@example.com` and `example.com` match that domain and its subdomains. */
export function patternMatches(pattern: string, sender: string): boolean {
  const p = pattern.trim().toLowerCase();
  const s = sender.toLowerCase();
  if (p.includes('*')) {
    const re = new RegExp(
      `^${p
        .split('*')
        .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*')}$`,
    );
    return re.test(s);
  }
  if (p.includes('@') && !p.startsWith('@')) return s === p;
  const domain = p.replace(/^@/, '');
  const senderDomain = s.slice(s.lastIndexOf('@') + 1);
  return senderDomain === domain || senderDomain.endsWith(`.${domain}`);
}

/** Does this filter let `sender` in? (The null sender of bounces is judged like any other address: "".) */
export function filterAllows(filter: SenderFilter | undefined, sender: string): boolean {
  if (!filter || filter.mode === 'off') return true;
  const matching = (type: 'allow' | 'deny') =>
    filter.rules.some((r) => r.type === type && patternMatches(r.pattern, sender));
  if (matching('allow')) return true;
  if (filter.mode === 'allowlist') return false;
  return !matching('deny');
}

export function senderAllowed(account: Account, domain: Domain | undefined, sender: string): boolean {
  const own = account.settings.senderFilter;
  return own && own.mode !== 'off' ? filterAllows(own, sender) : filterAllows(domain?.senderFilter, sender);
}
