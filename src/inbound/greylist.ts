// The greylisting stage (RFC 6647): suspect mail, scoring below Junk but not clean, is refused for a while the
// first time its server offers it; a mail server retries, most spam-sending software does not. Mail for Junk
// is not delayed: it is filed at once, where a message junked wrongly can be found. The records: store/greylist.ts.
import type { AuthVerdict } from '../dns/auth-verdict.ts';
import { metrics } from '../metrics/registry.ts';
import { sendingNetwork } from '../security/net.ts';
import type { Greylist, GreylistPolicy } from '../store/greylist.ts';
import type { Classification } from './classify.ts';
import { DeliveryRefused } from './deliver.ts';
import type { InboundMessage } from './message.ts';

export interface GreylistOptions {
  list: Greylist;
  policy: GreylistPolicy;
}

/** Throws a 451 4.7.1 refusal when the message is greylisted; returns when it may be delivered. */
export async function greylist(
  msg: InboundMessage,
  auth: AuthVerdict,
  spam: Classification,
  options: GreylistOptions | undefined,
): Promise<void> {
  if (!options || spam.verdict !== 'ham' || spam.score < options.policy.score) return;
  // Where SPF passed, the sender's domain stands for the client: a provider retries from other addresses of its
  // pool, often other networks (RFC 6647 §4.2). Otherwise the client's /24 or /64.
  const spfDomain = auth.spf.result === 'pass' ? auth.spf.domain : null;
  const origin = spfDomain ? `spf:${spfDomain.toLowerCase()}` : sendingNetwork(msg.client.ip);
  const checked = await options.list.check({ origin, mailFrom: msg.mailFrom, rcptTo: msg.rcptTo }, options.policy);
  metrics.greylisted(checked.outcome);
  if (checked.outcome === 'deferred')
    throw new DeliveryRefused({
      code: 451,
      enhanced: '4.7.1',
      text: `Greylisted: please try again in ${Math.ceil(checked.retryInMs / 1000)} seconds`,
    });
}
