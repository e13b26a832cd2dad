// Free-mail providers and the domains their own servers send and sign from. A user of one writes
// through it: its servers hand the mail on (their names are in the Received trace) and, today, sign it
// (DKIM d=). Ratware writes a free-mail address in From and sends from anywhere.

interface Provider {
  /** The addresses' domains: a name, or a pattern for a family of country domains (yahoo.co.uk). */
  addresses: (string | RegExp)[];
  /** Where its mail comes from: the servers' names and the signing domains, each with its subdomains. */
  servers: string[];
}

const MICROSOFT = ['hotmail.com', 'outlook.com', 'live.com', 'msn.com'];
const YAHOO = ['yahoo.com', 'yahoo.net', 'yahoodns.net', 'ymail.com', 'rocketmail.com', 'yahoo.co.jp'];

const PROVIDERS: Provider[] = [
  { addresses: ['gmail.com', 'googlemail.com'], servers: ['google.com', 'gmail.com', 'googlemail.com'] },
  { addresses: [/^(?:yahoo|ymail|rocketmail)\.(?:com?\.)?[a-z]{2,3}$/], servers: YAHOO },
  { addresses: [/^(?:hotmail|outlook|live)\.(?:com?\.)?[a-z]{2,3}$/, 'msn.com'], servers: MICROSOFT },
  // AOL's mail has gone out through Yahoo's servers since 2017.
  { addresses: ['aol.com', 'aim.com'], servers: ['aol.com', 'aol.net', 'aim.com', ...YAHOO] },
  { addresses: [/^gmx\.[a-z]{2,3}$/, 'mail.com'], servers: ['gmx.net', 'gmx.com', 'gmx.de', 'mail.com'] },
  { addresses: [/^yandex\.[a-z]{2,3}$/, 'ya.ru'], servers: ['yandex.ru', 'yandex.net', 'yandex.com', 'ya.ru'] },
  { addresses: ['mail.ru', 'inbox.ru', 'list.ru', 'bk.ru'], servers: ['mail.ru'] },
  { addresses: ['icloud.com', 'me.com', 'mac.com'], servers: ['icloud.com', 'me.com', 'mac.com', 'apple.com'] },
  {
    addresses: ['protonmail.com', 'proton.me', 'pm.me'],
    servers: ['protonmail.ch', 'protonmail.com', 'proton.me', 'pm.me'],
  },
  { addresses: ['zoho.com', 'zohomail.com'], servers: ['zoho.com', 'zohomail.com'] },
  { addresses: ['excite.com'], servers: ['excite.com'] },
  { addresses: ['lycos.com'], servers: ['lycos.com'] },
  { addresses: ['juno.com', 'netzero.net'], servers: ['juno.com', 'netzero.net', 'untd.com'] },
  { addresses: ['netscape.net', 'netscape.com'], servers: ['netscape.net', 'netscape.com', 'aol.com'] },
  { addresses: ['email.com', 'usa.com'], servers: ['mail.com', 'email.com', 'usa.com', 'gmx.net', 'gmx.com'] },
  { addresses: ['web.de'], servers: ['web.de'] },
  { addresses: ['t-online.de'], servers: ['t-online.de'] },
  { addresses: ['libero.it'], servers: ['libero.it', 'iol.it'] },
  { addresses: ['wanadoo.fr', 'orange.fr'], servers: ['wanadoo.fr', 'orange.fr'] },
  { addresses: ['laposte.net'], servers: ['laposte.net'] },
  { addresses: ['rambler.ru'], servers: ['rambler.ru'] },
  { addresses: ['seznam.cz', 'email.cz'], servers: ['seznam.cz'] },
  { addresses: ['wp.pl', 'o2.pl', 'interia.pl'], servers: ['wp.pl', 'o2.pl', 'interia.pl'] },
  { addresses: ['163.com', '126.com', 'yeah.net'], servers: ['163.com', '126.com', 'yeah.net', 'netease.com'] },
  { addresses: ['sina.com', 'sina.cn'], servers: ['sina.com', 'sina.cn', 'sina.com.cn'] },
  { addresses: ['sohu.com'], servers: ['sohu.com'] },
  { addresses: ['qq.com', 'foxmail.com'], servers: ['qq.com', 'foxmail.com'] },
  { addresses: ['uol.com.br', 'bol.com.br'], servers: ['uol.com.br', 'bol.com.br'] },
  { addresses: ['rediffmail.com'], servers: ['rediffmail.com', 'rediff.com'] },
];

/** The domains a free-mail address's mail comes from (its own domain among them); null for other domains. */
export function freeMailServers(domain: string): string[] | null {
  const d = domain.toLowerCase();
  for (const p of PROVIDERS)
    if (p.addresses.some((a) => (typeof a === 'string' ? a === d : a.test(d))))
      return p.servers.includes(d) ? p.servers : [...p.servers, d];
  return null;
}

/** The host is one of the domains or under one. */
export const underAny = (host: string, domains: string[]): boolean => {
  const h = host.toLowerCase().replace(/\.$/, '');
  return domains.some((d) => h === d || h.endsWith(`.${d}`));
};
